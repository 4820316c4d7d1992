package network_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/network"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

const (
	rg  = testutil.ResourceGroup
	sub = testutil.SubscriptionID
)

type world struct {
	t       *testing.T
	ctx     context.Context
	clients *azure.Clients
	clock   *clocktesting.FakeClock
}

func newWorld(t *testing.T) *world {
	t.Helper()
	_, cfg := testutil.StartAzureSim(t, nil)
	clients, err := azure.NewClients(cfg, sub)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return &world{t: t, ctx: ctx, clients: clients, clock: clocktesting.NewFakeClock(time.Now())}
}

func (w *world) aks(n testutil.AKSNetwork) testutil.AKSNetworkIDs {
	w.t.Helper()
	n.Location, n.ResourceGroup, n.Number = testutil.Region, rg, "12345678"
	ids, err := testutil.CreateAKSNetwork(w.ctx, w.clients, n)
	if err != nil {
		w.t.Fatal(err)
	}
	return ids
}

// vnet creates a VNet with subnet "nodes"; rgName "" puts it in the node
// resource group.
func (w *world) vnet(rgName, name, prefix, nsg, rt string) string {
	w.t.Helper()
	if rgName == "" {
		rgName = rg
	}
	id, err := testutil.CreateVNet(w.ctx, w.clients, testutil.Region, rgName, name, prefix+"/16", "nodes", prefix+"/24", nsg, rt)
	if err != nil {
		w.t.Fatal(err)
	}
	return id
}

func (w *world) provider(setup cluster.NetworkSetup, edit func(*network.Options)) *network.DefaultProvider {
	opts := network.Options{SubscriptionID: sub, NodeResourceGroup: rg, Setup: setup, Clock: w.clock}
	if edit != nil {
		edit(&opts)
	}
	return network.NewDefaultProviderFromClients(opts, w.clients.Network)
}

func configReason(t *testing.T, err error) string {
	t.Helper()
	var ce *network.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("want a ConfigError, got %v", err)
	}
	return ce.Reason
}

// On AKS's default cluster (outbound type loadBalancer, AKS's VNet with the
// NSG on its subnet), NICs join the kubernetes load balancer's outbound
// and inbound pools and carry no NSG of their own; a kubernetes-internal
// load balancer created later is joined once the discovery refreshes;
// IPv6 and IP-based pools and other load balancers are left alone.
func TestInterfaceOnAKSDefaultCluster(t *testing.T) {
	w := newWorld(t)
	ids := w.aks(testutil.AKSNetwork{LoadBalancer: true})
	subnet := w.vnet("", "aks-vnet-12345678", "10.224.0.0", ids.SecurityGroup, "")
	p := w.provider(cluster.NetworkSetupAzureCNIOverlay, nil)
	got, err := p.Interface(w.ctx, subnet)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.BackendPoolIDs, []string{ids.OutboundPool, ids.InboundPool}) || got.SecurityGroupID != "" || got.IPForwarding || got.PodIPConfigurations {
		t.Fatalf("overlay NIC on the default cluster: %+v, want pools %v and no NSG", got, ids.Pools())
	}

	// cloud-provider-azure adds the internal load balancer for a first
	// internal Service, and an IPv6 and an IP-based pool; another load
	// balancer of the user's is not the cluster's.
	internal := w.aks(testutil.AKSNetwork{InternalLoadBalancer: true})
	lbs := w.clients.Network.NewLoadBalancersClient()
	put := func(name string, pools []*armnetwork.BackendAddressPool) {
		poller, err := lbs.BeginCreateOrUpdate(w.ctx, rg, name, armnetwork.LoadBalancer{Location: to.Ptr(testutil.Region), Properties: &armnetwork.LoadBalancerPropertiesFormat{BackendAddressPools: pools}}, nil)
		if err == nil {
			_, err = poller.PollUntilDone(w.ctx, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	put("kubernetes", []*armnetwork.BackendAddressPool{{Name: to.Ptr("aksOutboundBackendPool")}, {Name: to.Ptr("kubernetes")}, {Name: to.Ptr("kubernetes-ipv6")},
		{Name: to.Ptr("nodeips"), Properties: &armnetwork.BackendAddressPoolPropertiesFormat{LoadBalancerBackendAddresses: []*armnetwork.LoadBalancerBackendAddress{
			{Name: to.Ptr("a"), Properties: &armnetwork.LoadBalancerBackendAddressPropertiesFormat{IPAddress: to.Ptr("10.224.0.4")}}}}}})
	put("users-own", []*armnetwork.BackendAddressPool{{Name: to.Ptr("web")}})
	if got, _ := p.Interface(w.ctx, subnet); len(got.BackendPoolIDs) != 2 {
		t.Fatalf("the discovery was read again before its refresh: %v", got.BackendPoolIDs)
	}
	w.clock.Step(network.DefaultRefresh)
	got, err = p.Interface(w.ctx, subnet)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ids.OutboundPool, ids.InboundPool, internal.InternalPool}
	slices.Sort(want)
	if !slices.Equal(got.BackendPoolIDs, want) {
		t.Fatalf("pools after the refresh %v, want %v", got.BackendPoolIDs, want)
	}
}

// In a VNet of the user's, NICs carry the AKS NSG; without one, the
// provider says what is missing, and the options override both.
func TestInterfaceSecurityGroup(t *testing.T) {
	w := newWorld(t)
	users := w.vnet("users-rg", "users-vnet", "10.10.0.0", "", "")
	noNSG := w.provider(cluster.NetworkSetupAzureCNIOverlay, nil)
	_, err := noNSG.Interface(w.ctx, users)
	if configReason(t, err) != "SecurityGroupNotFound" || !strings.Contains(err.Error(), "--network-security-group-id") {
		t.Fatalf("no AKS NSG: %v", err)
	}
	if got, err := w.provider(cluster.NetworkSetupAzureCNIOverlay, func(o *network.Options) { o.SecurityGroupID = network.None }).Interface(w.ctx, users); err != nil || got.SecurityGroupID != "" {
		t.Fatalf("NSG none: %+v %v", got, err)
	}
	ids := w.aks(testutil.AKSNetwork{})
	w.clock.Step(network.DefaultRefresh)
	got, err := noNSG.Interface(w.ctx, users)
	if err != nil || !strings.EqualFold(got.SecurityGroupID, ids.SecurityGroup) || len(got.BackendPoolIDs) != 0 {
		t.Fatalf("user VNet: %+v %v, want NSG %s and no pools (no load balancer: outbound type not loadBalancer)", got, err, ids.SecurityGroup)
	}
	res, err := noNSG.NodeResources(w.ctx, users)
	// No route table outside kubenet: the nodes' configuration still names
	// AKS's, as aks-node-controller requires one.
	if err != nil || res.SecurityGroupName != "aks-agentpool-12345678-nsg" || res.SecurityGroupResourceGroup != rg ||
		res.RouteTableName != "aks-agentpool-12345678-routetable" || res.RouteTableResourceGroup != rg {
		t.Fatalf("node resources %+v %v", res, err)
	}
	// A second NSG named like AKS's is a contradiction the user settles.
	poller, err := w.clients.Network.NewSecurityGroupsClient().BeginCreateOrUpdate(w.ctx, rg, "aks-agentpool-87654321-nsg", armnetwork.SecurityGroup{Location: to.Ptr(testutil.Region)}, nil)
	if err == nil {
		_, err = poller.PollUntilDone(w.ctx, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	w.clock.Step(network.DefaultRefresh)
	if _, err := noNSG.Interface(w.ctx, users); configReason(t, err) != "SecurityGroupAmbiguous" {
		t.Fatalf("two AKS NSGs: %v", err)
	}
	pinned := w.provider(cluster.NetworkSetupAzureCNIOverlay, func(o *network.Options) {
		o.SecurityGroupID = ids.SecurityGroup
		o.BackendPoolIDs = []string{network.None}
	})
	if got, err := pinned.Interface(w.ctx, users); err != nil || got.SecurityGroupID != ids.SecurityGroup || len(got.BackendPoolIDs) != 0 {
		t.Fatalf("pinned NSG, no pools: %+v %v", got, err)
	}
}

// The NSG and route table every node's cloud configuration names come
// from the options, else AKS's NSG in the node resource group, else the
// subnet's NSG; what cannot be found is a ConfigError naming the option
// that settles it, and what was found is still returned.
func TestNodeResources(t *testing.T) {
	w := newWorld(t)
	users := w.vnet("users-rg", "users-vnet", "10.10.0.0", "", "")
	p := w.provider(cluster.NetworkSetupAzureCNIOverlay, nil)
	res, err := p.NodeResources(w.ctx, users)
	if configReason(t, err) != "SecurityGroupNotFound" || !strings.Contains(err.Error(), "--network-security-group-id") || res.SecurityGroupName != "" {
		t.Fatalf("no NSG anywhere: %+v %v", res, err)
	}
	// NICs without an NSG of their own still need the cluster's named.
	if _, err := w.provider(cluster.NetworkSetupAzureCNIOverlay, func(o *network.Options) { o.SecurityGroupID = network.None }).NodeResources(w.ctx, users); configReason(t, err) != "SecurityGroupNotFound" {
		t.Fatalf("NSG none and none found: %v", err)
	}

	// A subnet of the user's with its own NSG, not named as AKS names it:
	// its NSG is named, and the route table must be given.
	nsgs := w.clients.Network.NewSecurityGroupsClient()
	poller, err := nsgs.BeginCreateOrUpdate(w.ctx, "users-rg", "users-nsg", armnetwork.SecurityGroup{Location: to.Ptr(testutil.Region)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	usersNSG, err := poller.PollUntilDone(w.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	withNSG := w.vnet("users-rg", "users-vnet-2", "10.11.0.0", *usersNSG.ID, "")
	res, err = p.NodeResources(w.ctx, withNSG)
	if configReason(t, err) != "RouteTableUnknown" || !strings.Contains(err.Error(), "--route-table-id") ||
		res.SecurityGroupName != "users-nsg" || res.SecurityGroupResourceGroup != "users-rg" {
		t.Fatalf("subnet NSG, no route table: %+v %v", res, err)
	}
	rt := "/subscriptions/" + sub + "/resourceGroups/users-rg/providers/Microsoft.Network/routeTables/users-rt"
	res, err = w.provider(cluster.NetworkSetupAzureCNIOverlay, func(o *network.Options) { o.RouteTableID = rt }).NodeResources(w.ctx, withNSG)
	if err != nil || res.RouteTableName != "users-rt" || res.SecurityGroupName != "users-nsg" {
		t.Fatalf("route table option: %+v %v", res, err)
	}

	// AKS's NSG in the node resource group comes before the subnet's, and
	// the option before both.
	ids := w.aks(testutil.AKSNetwork{})
	w.clock.Step(network.DefaultRefresh)
	if res, err = p.NodeResources(w.ctx, withNSG); err != nil || res.SecurityGroupName != "aks-agentpool-12345678-nsg" || res.RouteTableName != "aks-agentpool-12345678-routetable" {
		t.Fatalf("AKS NSG: %+v %v", res, err)
	}
	res, err = w.provider(cluster.NetworkSetupAzureCNIOverlay, func(o *network.Options) { o.SecurityGroupID = *usersNSG.ID; o.RouteTableID = rt }).NodeResources(w.ctx, withNSG)
	if err != nil || res.SecurityGroupName != "users-nsg" || res.RouteTableName != "users-rt" {
		t.Fatalf("options over AKS's %s: %+v %v", ids.SecurityGroup, res, err)
	}
}

// kubenet NICs forward IP, and their subnet must be associated with a
// route table: the one the options name, when they name one.
func TestInterfaceKubenetRouteTable(t *testing.T) {
	w := newWorld(t)
	ids := w.aks(testutil.AKSNetwork{LoadBalancer: true, RouteTable: true})
	bare := w.vnet("", "aks-vnet-12345678", "10.224.0.0", ids.SecurityGroup, "")
	p := w.provider(cluster.NetworkSetupKubenet, nil)
	_, err := p.Interface(w.ctx, bare)
	if configReason(t, err) != "RouteTableNotAssociated" || !strings.Contains(err.Error(), ids.RouteTable) {
		t.Fatalf("kubenet subnet without a route table: %v", err)
	}
	// Overlay has no use for one.
	if _, err := w.provider(cluster.NetworkSetupAzureCNIOverlay, nil).Interface(w.ctx, bare); err != nil {
		t.Fatal(err)
	}
	routed := w.vnet("", "aks-vnet-routed", "10.225.0.0", ids.SecurityGroup, ids.RouteTable)
	got, err := p.Interface(w.ctx, routed)
	if err != nil || !got.IPForwarding || got.PodIPConfigurations || len(got.BackendPoolIDs) != 2 {
		t.Fatalf("kubenet NIC: %+v %v", got, err)
	}
	res, err := p.NodeResources(w.ctx, routed)
	if err != nil || res.RouteTableName != "aks-agentpool-12345678-routetable" || res.RouteTableResourceGroup != rg {
		t.Fatalf("node resources %+v %v", res, err)
	}
	other := "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Network/routeTables/other"
	if _, err := w.provider(cluster.NetworkSetupKubenet, func(o *network.Options) { o.RouteTableID = other }).Interface(w.ctx, routed); configReason(t, err) != "RouteTableMismatch" {
		t.Fatalf("route table other than the option's: %v", err)
	}
	// The association fixed, the provider follows within a fifth of the
	// refresh period.
	poller, err := w.clients.Network.NewSubnetsClient().BeginCreateOrUpdate(w.ctx, rg, "aks-vnet-12345678", "nodes", armnetwork.Subnet{Properties: &armnetwork.SubnetPropertiesFormat{
		AddressPrefix: to.Ptr("10.224.0.0/24"), NetworkSecurityGroup: &armnetwork.SecurityGroup{ID: to.Ptr(ids.SecurityGroup)}, RouteTable: &armnetwork.RouteTable{ID: to.Ptr(ids.RouteTable)}}}, nil)
	if err == nil {
		_, err = poller.PollUntilDone(w.ctx, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	w.clock.Step(network.DefaultRefresh / 5)
	if _, err := p.Interface(w.ctx, bare); err != nil {
		t.Fatalf("after the association: %v", err)
	}
}

// Node subnet setups give NICs a secondary IP configuration per pod, and
// a node takes max pods + 1 addresses; the setups table and AKS's default
// max pods agree with the launch path's.
func TestSetupsTable(t *testing.T) {
	for _, s := range cluster.NetworkSetups {
		row, ok := network.SetupOf(s)
		if !ok {
			t.Fatalf("setup %s has no row", s)
		}
		if got, ok := cluster.NetworkSetupOf(row.Plugin, row.PluginMode, row.Dataplane); !ok || got != s {
			t.Fatalf("row %s's flags classify as %s", s, got)
		}
		want := int64(1)
		if s == cluster.NetworkSetupAzureCNINodeSubnet || s == cluster.NetworkSetupAzureCNICiliumNodeSubnet {
			want = 31
		}
		if got := network.AddressesPerNode(s, 30); got != want {
			t.Fatalf("%s: %d addresses per node at 30 pods, want %d", s, got, want)
		}
	}
}
