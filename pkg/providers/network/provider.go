// Package network decides a node's network interface as AKS builds it in
// this cluster: the network setup (Azure CNI overlay or node subnet, with
// or without the Cilium dataplane, kubenet, bring your own CNI; setups.go),
// read from the cluster at start-up (resolve.go); the load balancer backend
// pools the NIC joins (loadbalancer.go), the AKS NSG it carries in a VNet
// that is not AKS's (securitygroup.go), and the route table kubenet needs
// on the node subnet (routetable.go), read from the node resource group
// through the Azure SDK and overridable by options. What is missing or
// contradictory is a ConfigError naming it, which keeps AKSNodeClasses not
// Ready (condition NetworkReady) before any VM is created.
package network

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"k8s.io/utils/clock"

	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
)

// None, as an override, turns a discovered resource off: no backend pools,
// no NSG on NICs.
const None = "none"

// Options configure the DefaultProvider.
type Options struct {
	SubscriptionID    string
	NodeResourceGroup string
	// Setup is the cluster's network setup (Resolve).
	Setup cluster.NetworkSetup
	// BackendPoolIDs, when non-nil, are the load balancer backend pools
	// every NIC joins instead of the discovered ones ([None] for none).
	BackendPoolIDs []string
	// SecurityGroupID, when set, is the NSG of NICs in a VNet that is not
	// AKS's instead of the discovered one (None for none).
	SecurityGroupID string
	// RouteTableID, when set, is the route table kubenet node subnets must
	// be associated with; empty accepts the one a subnet has.
	RouteTableID string
	// Refresh is how long discovered resources are reused (default
	// DefaultRefresh); a subnet's associations are read again after a
	// fifth of it, so a fixed association is seen within a minute.
	Refresh time.Duration
	Clock   clock.Clock
}

// DefaultRefresh is how long the load balancers, NSGs and route tables of
// the node resource group are reused: a `kubernetes-internal` load balancer
// cloud-provider-azure creates for a first internal Service is joined by
// NICs created after at most this long (cloud-provider-azure adds earlier
// nodes itself when it reconciles the Service).
const DefaultRefresh = 5 * time.Minute

// Interface is what a node's NIC gets in this cluster.
type Interface struct {
	Setup cluster.NetworkSetup
	// PodIPConfigurations: one secondary IP configuration per pod.
	PodIPConfigurations bool
	IPForwarding        bool
	// BackendPoolIDs are the load balancer backend pools the primary IP
	// configuration joins.
	BackendPoolIDs []string
	// SecurityGroupID is the NSG on the NIC ("" for none: AKS's VNet has
	// it on the subnet).
	SecurityGroupID string
}

// Resources are the cluster's network resources a node's cloud
// configuration names.
type Resources = cluster.NetworkResources

// Provider decides nodes' NICs.
type Provider interface {
	// Interface is what the NIC of a node in subnetID gets, or a
	// ConfigError naming what is missing or contradictory.
	Interface(ctx context.Context, subnetID string) (*Interface, error)
	// NodeResources are the route table and NSG nodes in subnetID are told
	// of (their cloud configuration's routeTableName, securityGroupName).
	NodeResources(ctx context.Context, subnetID string) (Resources, error)
}

// ConfigError is a network resource that is missing, contradictory or
// unreadable for lack of rights: nodes cannot be built until it is fixed.
// Reason is a CamelCase condition reason.
type ConfigError struct {
	Reason  string
	Message string
}

func (e *ConfigError) Error() string { return e.Message }

// IsConfigError reports whether err is (or wraps) a ConfigError.
func IsConfigError(err error) bool {
	var ce *ConfigError
	return errors.As(err, &ce)
}

// LoadBalancersAPI, SecurityGroupsAPI, RouteTablesAPI and SubnetsAPI are
// the subsets of the armnetwork clients the provider uses.
type (
	LoadBalancersAPI interface {
		NewListPager(resourceGroupName string, options *armnetwork.LoadBalancersClientListOptions) *runtime.Pager[armnetwork.LoadBalancersClientListResponse]
	}
	SecurityGroupsAPI interface {
		NewListPager(resourceGroupName string, options *armnetwork.SecurityGroupsClientListOptions) *runtime.Pager[armnetwork.SecurityGroupsClientListResponse]
	}
	RouteTablesAPI interface {
		NewListPager(resourceGroupName string, options *armnetwork.RouteTablesClientListOptions) *runtime.Pager[armnetwork.RouteTablesClientListResponse]
	}
	SubnetsAPI interface {
		Get(ctx context.Context, resourceGroupName string, virtualNetworkName string, subnetName string, options *armnetwork.SubnetsClientGetOptions) (armnetwork.SubnetsClientGetResponse, error)
	}
)

// DefaultProvider reads the node resource group's network resources and
// the node subnets through the SDK, caching them.
type DefaultProvider struct {
	opts    Options
	lbs     LoadBalancersAPI
	nsgs    SecurityGroupsAPI
	rts     RouteTablesAPI
	subnets SubnetsAPI

	pools       *cached[[]string]
	securityGrp *cached[[]string]
	routeTables *cached[[]string]
	mu          sync.Mutex
	subnetInfo  map[string]*cached[subnetAssociations]
}

var _ Provider = (*DefaultProvider)(nil)

// NewDefaultProvider returns a provider.
func NewDefaultProvider(opts Options, lbs LoadBalancersAPI, nsgs SecurityGroupsAPI, rts RouteTablesAPI, subnets SubnetsAPI) *DefaultProvider {
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultRefresh
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	p := &DefaultProvider{opts: opts, lbs: lbs, nsgs: nsgs, rts: rts, subnets: subnets, subnetInfo: map[string]*cached[subnetAssociations]{}}
	p.pools = newCached(opts.Clock, opts.Refresh, p.listBackendPools)
	p.securityGrp = newCached(opts.Clock, opts.Refresh, p.listSecurityGroups)
	p.routeTables = newCached(opts.Clock, opts.Refresh, p.listRouteTables)
	return p
}

// NewDefaultProviderFromClients is NewDefaultProvider with the clients of
// an armnetwork client factory.
func NewDefaultProviderFromClients(opts Options, f *armnetwork.ClientFactory) *DefaultProvider {
	return NewDefaultProvider(opts, f.NewLoadBalancersClient(), f.NewSecurityGroupsClient(), f.NewRouteTablesClient(), f.NewSubnetsClient())
}

// Interface implements Provider.
func (p *DefaultProvider) Interface(ctx context.Context, subnetID string) (*Interface, error) {
	setup, ok := SetupOf(p.opts.Setup)
	if !ok {
		return nil, &ConfigError{Reason: "NetworkSetupUnsupported", Message: fmt.Sprintf("network setup %q is not one azkarpenter builds; supported: %s", p.opts.Setup, SupportedSetups())}
	}
	sn, err := p.subnet(ctx, subnetID)
	if err != nil {
		return nil, err
	}
	out := &Interface{Setup: setup.Setup, PodIPConfigurations: setup.PodIPConfigurations, IPForwarding: setup.IPForwarding}
	if out.BackendPoolIDs, err = p.backendPools(ctx); err != nil {
		return nil, err
	}
	if out.SecurityGroupID, err = p.interfaceSecurityGroup(ctx, sn); err != nil {
		return nil, err
	}
	if setup.RouteTable {
		if _, err := p.routeTable(ctx, sn); err != nil {
			return nil, err
		}
	}
	observeInterface(out)
	return out, nil
}

// NodeResources implements Provider. What is found is returned even when
// something else is not; what is missing is a ConfigError, which the
// NodeClass's NetworkReady condition shows: every AKS node's azure.json
// names both (aks-node-controller's Validate requires the route table), so
// no node can be launched without them.
func (p *DefaultProvider) NodeResources(ctx context.Context, subnetID string) (Resources, error) {
	var out Resources
	sn, err := p.subnet(ctx, subnetID)
	if err != nil {
		return out, err
	}
	var errs []error
	if nsg, err := p.clusterSecurityGroup(ctx, sn); err != nil {
		errs = append(errs, err)
	} else if nsg != "" {
		out.SecurityGroupName, out.SecurityGroupResourceGroup = resourceName(nsg)
	} else {
		errs = append(errs, &ConfigError{Reason: "SecurityGroupNotFound", Message: fmt.Sprintf(
			"nodes' cloud configuration names the cluster's network security group (azure.json securityGroupName, where cloud-provider-azure writes LoadBalancer Service rules), and none was found: "+
				"node resource group %s holds none named aks-agentpool-<number>-nsg and subnet %s has none; set --network-security-group-id (chart: networking.networkSecurityGroupID) to the cluster's NSG",
			p.opts.NodeResourceGroup, sn.id)})
	}
	if rt := p.subnetRouteTable(ctx, sn); rt != "" {
		out.RouteTableName, out.RouteTableResourceGroup = resourceName(rt)
	} else if aksSecurityGroupName.MatchString(out.SecurityGroupName) {
		// Outside kubenet AKS creates no route table, yet every node's
		// configuration names one: aks-node-controller's Validate requires
		// cluster_network_config.route_table (Azure/AgentBaker
		// aks-node-controller/pkg/nodeconfigutils/utils.go), and AKS node
		// auto-provisioning writes aks-agentpool-<cluster ID>-routetable
		// whatever the plugin. cloud-provider-azure programs routes into it
		// only for kubenet, so naming the absent table is harmless.
		out.RouteTableName = strings.TrimSuffix(strings.ToLower(out.SecurityGroupName), "-nsg") + "-routetable"
		out.RouteTableResourceGroup = out.SecurityGroupResourceGroup
	} else if out.SecurityGroupName != "" {
		errs = append(errs, &ConfigError{Reason: "RouteTableUnknown", Message: fmt.Sprintf(
			"nodes' cloud configuration names the cluster's route table (aks-node-controller requires it), and none was found: subnet %s has none, node resource group %s holds no single one, "+
				"and the NSG %s is not named as AKS names it (aks-agentpool-<number>-nsg, whose route table is aks-agentpool-<number>-routetable); set --route-table-id (chart: networking.routeTableID)",
			sn.id, p.opts.NodeResourceGroup, out.SecurityGroupName)})
	}
	return out, errors.Join(errs...)
}

// clusterSecurityGroup is the NSG nodes' cloud configuration names: the
// override, else AKS's in the node resource group, else the subnet's (a
// cluster in a VNet of the user's whose NSG is on the subnet); "" when
// there is none.
func (p *DefaultProvider) clusterSecurityGroup(ctx context.Context, sn subnetAssociations) (string, error) {
	if p.opts.SecurityGroupID != "" && p.opts.SecurityGroupID != None {
		return p.opts.SecurityGroupID, nil
	}
	nsg, err := p.aksSecurityGroup(ctx)
	if err != nil || nsg != "" {
		return nsg, err
	}
	return sn.securityGroup, nil
}

// subnetRouteTable is the route table nodes of sn route through: the
// subnet's, else the override, else AKS's in the node resource group.
func (p *DefaultProvider) subnetRouteTable(ctx context.Context, sn subnetAssociations) string {
	if sn.routeTable != "" {
		return sn.routeTable
	}
	if p.opts.RouteTableID != "" {
		return p.opts.RouteTableID
	}
	rts, err := p.routeTables.get(ctx)
	if err != nil || len(rts) != 1 {
		return ""
	}
	return rts[0]
}

// resourceName splits a resource ID into its name and resource group.
func resourceName(id string) (name, resourceGroup string) {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "resourceGroups") {
			resourceGroup = parts[i+1]
		}
	}
	return parts[len(parts)-1], resourceGroup
}

// azureError turns an ARM error into a ConfigError when it is about rights
// or existence, which a retry does not fix; anything else is returned as is.
func azureError(err error, what, action, scope string) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch {
	case re.StatusCode == http.StatusForbidden:
		return &ConfigError{Reason: "NetworkUnreadable", Message: fmt.Sprintf("%s: the controller's identity lacks %s on %s (%s)", what, action, scope, re.ErrorCode)}
	case re.StatusCode == http.StatusNotFound && re.ErrorCode == "ResourceGroupNotFound":
		return &ConfigError{Reason: "NetworkUnreadable", Message: fmt.Sprintf("%s: resource group %s does not exist", what, scope)}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// cached is a value read at most once per ttl; a failed read keeps
// serving the last good value (logged by the caller's error path only when
// there is none), so a passing ARM failure stops no launch.
type cached[T any] struct {
	mu      sync.Mutex
	clock   clock.Clock
	ttl     time.Duration
	read    func(context.Context) (T, error)
	value   T
	ok      bool
	fetched time.Time
}

func newCached[T any](clk clock.Clock, ttl time.Duration, read func(context.Context) (T, error)) *cached[T] {
	return &cached[T]{clock: clk, ttl: ttl, read: read}
}

func (c *cached[T]) get(ctx context.Context) (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ok && c.clock.Since(c.fetched) < c.ttl {
		return c.value, nil
	}
	v, err := c.read(ctx)
	if err != nil {
		if c.ok && !IsConfigError(err) {
			return c.value, nil
		}
		return v, err
	}
	c.value, c.ok, c.fetched = v, true, c.clock.Now()
	return v, nil
}

func equalID(a, b string) bool { return a != "" && strings.EqualFold(a, b) }
