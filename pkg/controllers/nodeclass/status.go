// Package nodeclass keeps AKSNodeClass status: the node images, the
// Kubernetes version nodes get, whether the subnet can take more nodes, and
// whether any VM size can serve the class. karpenter core launches nodes for
// a NodePool only while its NodeClass is Ready.
package nodeclass

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/awslabs/operatorpkg/status"
	"github.com/samber/lo"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	controllerruntime "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
	"sigs.k8s.io/karpenter/pkg/operator/injection"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/hostgroup"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instancetype"
	"github.com/azkarpenter/azkarpenter/pkg/providers/network"
	"github.com/azkarpenter/azkarpenter/pkg/providers/refusals"
	"github.com/azkarpenter/azkarpenter/pkg/providers/subnet"
)

// resync re-evaluates every NodeClass: subnets fill and versions change
// without the NodeClass changing.
const resync = 5 * time.Minute

// StatusController reconciles AKSNodeClass status.
type StatusController struct {
	// imagesChanged wakes every NodeClass when node image versions change,
	// so their status, and through it karpenter core's drift check of their
	// NodeClaims, follows at once rather than at the next resync.
	imagesChanged   chan event.TypedGenericEvent[*v1beta1.AKSNodeClass]
	kubeClient      client.Client
	images          imagefamily.Provider
	instanceTypes   instancetype.Provider
	subnets         subnet.Provider
	cluster         cluster.Provider
	defaultSubnetID string
	subnetMarks     *subnet.FullMarks
	refusals        *refusals.Marks
	hostGroups      hostgroup.Provider
	location        string
	// network decides nodes' NICs (nil: no network checks); setup and
	// defaultMaxPods say how many subnet addresses a node takes.
	network        network.Provider
	setup          cluster.NetworkSetup
	defaultMaxPods int32
}

// WithHostGroups makes the controller read the dedicated host group of a
// NodeClass that names one, and say what keeps it from taking nodes of the
// cluster's location.
func (c *StatusController) WithHostGroups(h hostgroup.Provider, location string) *StatusController {
	c.hostGroups, c.location = h, location
	return c
}

// WithRefusals makes the controller show what Azure refused because of a
// NodeClass's settings as its conditions, and re-evaluate every NodeClass
// at once when Azure refuses something.
func (c *StatusController) WithRefusals(m *refusals.Marks) *StatusController {
	c.refusals = m
	return c
}

// WithNetwork makes the controller check the cluster's network for each
// NodeClass's subnet (condition NetworkReady) and count a subnet full when
// it has fewer free addresses than a node of the setup takes (max pods + 1
// for Azure CNI node subnet setups).
func (c *StatusController) WithNetwork(p network.Provider, setup cluster.NetworkSetup, defaultMaxPods int32) *StatusController {
	c.network, c.setup, c.defaultMaxPods = p, setup, defaultMaxPods
	return c
}

// WithSubnetMarks makes the controller treat a subnet that just refused a
// network interface as full, and re-evaluate every NodeClass at once when
// one does.
func (c *StatusController) WithSubnetMarks(m *subnet.FullMarks) *StatusController {
	c.subnetMarks = m
	return c
}

// NewStatusController returns the controller.
func NewStatusController(kubeClient client.Client, images imagefamily.Provider, instanceTypes instancetype.Provider, subnets subnet.Provider, clusterInputs cluster.Provider, defaultSubnetID string) *StatusController {
	return &StatusController{kubeClient: kubeClient, images: images, instanceTypes: instanceTypes, subnets: subnets, cluster: clusterInputs, defaultSubnetID: defaultSubnetID,
		imagesChanged: make(chan event.TypedGenericEvent[*v1beta1.AKSNodeClass], 1)}
}

// ImagesChanged asks for every NodeClass to be reconciled; it never blocks
// (a pending request already covers this one).
func (c *StatusController) ImagesChanged() {
	select {
	case c.imagesChanged <- event.TypedGenericEvent[*v1beta1.AKSNodeClass]{Object: &v1beta1.AKSNodeClass{}}:
	default:
	}
}

// Name of the controller.
func (c *StatusController) Name() string { return "nodeclass.status" }

// Reconcile updates one NodeClass's status: each step below sets one
// condition (or a few that share a reading) and says whether what it read
// may change soon, in which case the NodeClass is looked at again in a
// minute rather than at the next resync.
func (c *StatusController) Reconcile(ctx context.Context, nc *v1beta1.AKSNodeClass) (reconcile.Result, error) {
	ctx = injection.WithControllerName(ctx, c.Name())
	if !nc.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	// The class may not go while NodeClaims use it (package termination).
	if !controllerutil.ContainsFinalizer(nc, v1beta1.TerminationFinalizer) {
		stored := nc.DeepCopy()
		controllerutil.AddFinalizer(nc, v1beta1.TerminationFinalizer)
		if err := c.kubeClient.Patch(ctx, nc, client.MergeFrom(stored)); err != nil {
			return reconcile.Result{}, client.IgnoreNotFound(err)
		}
	}
	stored := nc.DeepCopy()
	conditions := nc.StatusConditions()
	// Written by an earlier version; left alone it would read as a stale
	// condition beside SubnetsReady forever.
	if err := conditions.Clear(v1beta1.ConditionTypeSubnetReadyV0); err != nil {
		return reconcile.Result{}, err
	}

	subnetID := lo.FromPtrOr(nc.Spec.VNETSubnetID, c.defaultSubnetID)
	retrySoon := false
	for _, step := range []func() bool{
		func() bool { return c.kubernetesVersionReady(ctx, nc) },
		func() bool { return c.bootstrapReady(ctx, nc) },
		func() bool { return c.imagesReady(ctx, nc) },
		func() bool { return c.subnetsReady(ctx, nc, subnetID) },
		func() bool { return c.networkCondition(ctx, conditions, subnetID) },
		func() bool { return c.localDNSReady(ctx, nc) },
		func() bool { return c.spotOfferings(ctx, nc) != nil },
		func() bool { return c.validationSucceeded(ctx, nc) },
		// Last: what Azure refused overrides what the checks concluded.
		func() bool { return c.applyRefusals(nc) },
	} {
		// Every step runs: each condition is kept current on its own.
		retrySoon = step() || retrySoon
	}
	requeue := resync
	if retrySoon {
		requeue = time.Minute
	}

	if !equality.Semantic.DeepEqual(stored.Status, nc.Status) {
		if err := c.kubeClient.Status().Patch(ctx, nc, client.MergeFromWithOptions(stored, client.MergeFromWithOptimisticLock{})); err != nil {
			return reconcile.Result{}, client.IgnoreNotFound(err)
		}
	}
	return reconcile.Result{RequeueAfter: requeue}, nil
}

// spotOfferings sets SpotOfferingsAvailable: with a spot.maxPrice below the
// listed spot price of every size the NodeClass can use, no spot node can
// be launched, and the condition says so, and what to change, before any
// VM is asked for.
func (c *StatusController) spotOfferings(ctx context.Context, nc *v1beta1.AKSNodeClass) error {
	conditions := nc.StatusConditions()
	limit := nc.SpotMaxPrice()
	if limit < 0 {
		conditions.SetTrue(v1beta1.ConditionTypeSpotOfferingsAvailable)
		return nil
	}
	decisions, err := c.instanceTypes.Explain(ctx, nc)
	if err != nil {
		conditions.SetUnknownWithReason(v1beta1.ConditionTypeSpotOfferingsAvailable, "InstanceTypesUnavailable", fmt.Sprintf("listing VM sizes: %v", err))
		return err
	}
	var cheapest *instancetype.Decision
	for i := range decisions {
		d := &decisions[i]
		if !d.Included {
			continue
		}
		if d.SpotPrice > 0 {
			conditions.SetTrue(v1beta1.ConditionTypeSpotOfferingsAvailable)
			return nil
		}
		if d.SpotPriceAboveCap > 0 && (cheapest == nil || d.SpotPriceAboveCap < cheapest.SpotPriceAboveCap) {
			cheapest = d
		}
	}
	if cheapest == nil {
		conditions.SetFalse(v1beta1.ConditionTypeSpotOfferingsAvailable, "NoSpotPrices", "no VM size this AKSNodeClass can use has a spot price in the region; spot NodePools get no nodes from it")
		return nil
	}
	conditions.SetFalse(v1beta1.ConditionTypeSpotOfferingsAvailable, "SpotMaxPriceBelowSpotPrices",
		fmt.Sprintf("spot.maxPrice %s USD/hour is below the spot price of every VM size this AKSNodeClass can use (the lowest is %s at %s USD/hour), so no spot node can be launched; raise spot.maxPrice or set it to -1 (up to the on-demand price)",
			strconv.FormatFloat(limit, 'f', -1, 64), cheapest.Name, strconv.FormatFloat(cheapest.SpotPriceAboveCap, 'f', -1, 64)))
	return nil
}

// hostGroup reads the NodeClass's dedicated host group and returns the
// reason and message of what keeps it from taking the NodeClass's nodes
// ("" when nothing does, or the NodeClass names no group).
func (c *StatusController) hostGroup(ctx context.Context, nc *v1beta1.AKSNodeClass) (string, string, error) {
	id := lo.FromPtr(nc.Spec.DedicatedHostGroupID)
	if id == "" || c.hostGroups == nil {
		return "", "", nil
	}
	g, err := c.hostGroups.Get(ctx, id)
	switch {
	case errors.Is(err, hostgroup.ErrNotFound):
		return "DedicatedHostGroupNotFound", fmt.Sprintf("dedicated host group %s does not exist; create it or correct dedicatedHostGroupID", id), nil
	case err != nil:
		return "DedicatedHostGroupCheckFailed", fmt.Sprintf("reading dedicated host group %s: %v", id, err), err
	case c.location != "" && !strings.EqualFold(g.Location, c.location):
		return "DedicatedHostGroupInAnotherRegion", fmt.Sprintf("dedicated host group %s is in %s; the cluster's nodes are in %s, and a VM can only use a host group of its own region", id, g.Location, c.location), nil
	case !g.AutomaticPlacement:
		return "DedicatedHostGroupWithoutAutomaticPlacement", fmt.Sprintf("dedicated host group %s does not place VMs automatically; enable supportAutomaticPlacement on it", id), nil
	case len(g.Hosts) == 0:
		return "DedicatedHostGroupHasNoHosts", fmt.Sprintf("dedicated host group %s has no hosts; add hosts of the VM series the nodes should run", id), nil
	}
	return "", "", nil
}

// noSizeOnHostGroup says why no size serves a NodeClass with a host group:
// the reasons the sizes its hosts run were left out (their zone, most
// often: a host group in a zone where those sizes are not offered).
func (c *StatusController) noSizeOnHostGroup(ctx context.Context, nc *v1beta1.AKSNodeClass) (string, string) {
	id := lo.FromPtr(nc.Spec.DedicatedHostGroupID)
	decisions, err := c.instanceTypes.Explain(ctx, nc)
	if err == nil {
		for _, d := range decisions {
			for _, r := range d.Reasons {
				if strings.Contains(r, "host group is in zone") {
					return "DedicatedHostGroupZoneUnusable", fmt.Sprintf("no VM size can run on dedicated host group %s: %s (%s); use a host group in a zone where the sizes its hosts run are offered", id, r, d.Name)
				}
			}
		}
	}
	return "NoInstanceTypesOnDedicatedHostGroup", fmt.Sprintf("no VM size satisfies this AKSNodeClass on the hosts of dedicated host group %s (their series, with the rest of the NodeClass); `azkarpenter explain -f <this file>` lists each size with the reason it was left out", id)
}

// windowsInputs are what Windows nodes need beyond Linux ones: the
// cluster's address ranges (their Azure CNI configuration and kube-proxy
// take them, Set-AzureCNIConfig in AKS's Windows CSE package), and no HTTP
// proxy, which AKS does not support on Windows node pools.
func windowsInputs(nc *v1beta1.AKSNodeClass, in *cluster.Inputs) (reason, message string) {
	if !nc.IsWindows() {
		return "", ""
	}
	if in.HTTPProxy != nil {
		return "HTTPProxyUnsupportedOnWindows", "the cluster's nodes use an HTTP proxy (--node-http-proxy), which AKS supports on Linux nodes only; use a Linux image family"
	}
	switch in.NetworkSetup() {
	case cluster.NetworkSetupAzureCNIOverlay, cluster.NetworkSetupAzureCNINodeSubnet:
	default:
		// AKS's Windows node pools run Azure CNI (overlay or node subnet);
		// the Windows setup installs and configures nothing else.
		return "WindowsNetworkSetupUnsupported", fmt.Sprintf("Windows nodes run Azure CNI, overlay or node subnet; the cluster's network setup is %s", in.NetworkSetup())
	}
	var missing []string
	for _, r := range []struct{ value, flag string }{{in.ServiceCIDR, "--service-cidr"}, {in.PodCIDR, "--pod-cidr"}, {in.VNetCIDR, "--vnet-cidr"}} {
		if r.value == "" {
			missing = append(missing, r.flag)
		}
	}
	if len(missing) > 0 {
		return "WindowsNetworkRangesUnknown", fmt.Sprintf("Windows nodes' Azure CNI and kube-proxy need the cluster's address ranges; set %s", strings.Join(missing, ", "))
	}
	return "", ""
}

// networkCondition sets NetworkReady: whether a NIC can be decided for a
// node in subnetID (load balancer pools, NSG, route table) and its cloud
// configuration names the cluster's NSG and route table, or what is
// missing or contradictory.
func (c *StatusController) networkCondition(ctx context.Context, conditions status.ConditionSet, subnetID string) (retrySoon bool) {
	if c.network == nil {
		conditions.SetTrue(v1beta1.ConditionTypeNetworkReady)
		return false
	}
	_, err := c.network.Interface(ctx, subnetID)
	if err == nil {
		// The NSG and route table every node's cloud configuration names.
		_, err = c.network.NodeResources(ctx, subnetID)
	}
	var ce *network.ConfigError
	switch {
	case err == nil:
		conditions.SetTrue(v1beta1.ConditionTypeNetworkReady)
		return false
	case errors.As(err, &ce):
		conditions.SetFalse(v1beta1.ConditionTypeNetworkReady, ce.Reason, ce.Message)
	default:
		conditions.SetFalse(v1beta1.ConditionTypeNetworkReady, "NetworkCheckFailed", err.Error())
	}
	return true
}

// LocalDNSMinKubernetesMinor is the first Kubernetes 1.x minor on which
// localDNS mode Preferred turns LocalDNS on (as AKS intends for 1.36).
const LocalDNSMinKubernetesMinor = 36

// localDNSState resolves spec.localDNS.mode: Required and Disabled say so;
// Preferred turns LocalDNS on only where it is known to work (a recent
// enough Kubernetes, a CNI the node image configures, no NodeLocal DNSCache
// already running) and, once on, keeps it on so nodes do not flip.
func (c *StatusController) localDNSState(ctx context.Context, nc *v1beta1.AKSNodeClass) (v1beta1.LocalDNSState, error) {
	if nc.Spec.LocalDNS == nil {
		return v1beta1.LocalDNSStateDisabled, nil
	}
	switch nc.Spec.LocalDNS.Mode {
	case v1beta1.LocalDNSModeRequired:
		return v1beta1.LocalDNSStateEnabled, nil
	case v1beta1.LocalDNSModePreferred:
	default:
		return v1beta1.LocalDNSStateDisabled, nil
	}
	if nc.IsLocalDNSEnabled() {
		return v1beta1.LocalDNSStateEnabled, nil
	}
	in, err := c.cluster.Inputs(ctx)
	if in == nil {
		return "", err
	}
	if imagefamily.KubernetesMinor(in.KubernetesVersion) < LocalDNSMinKubernetesMinor || in.NetworkPlugin == "none" {
		return v1beta1.LocalDNSStateDisabled, nil
	}
	ds := &appsv1.DaemonSet{}
	switch err := c.kubeClient.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "node-local-dns"}, ds); {
	case err == nil:
		return v1beta1.LocalDNSStateDisabled, nil
	case !apierrors.IsNotFound(err):
		return "", err
	}
	return v1beta1.LocalDNSStateEnabled, nil
}

// Register adds the controller to the manager.
func (c *StatusController) Register(_ context.Context, m manager.Manager) error {
	kubeClient := m.GetClient()
	// A change outside the NodeClass (a newer node image, a subnet that
	// refused an address) re-evaluates every NodeClass: a cluster has few.
	all := func(ctx context.Context, why string) []reconcile.Request {
		var list v1beta1.AKSNodeClassList
		if err := kubeClient.List(ctx, &list); err != nil {
			log.FromContext(ctx).Error(err, "listing AKSNodeClasses after "+why+"; they update at the next resync")
			return nil
		}
		return lo.Map(list.Items, func(nc v1beta1.AKSNodeClass, _ int) reconcile.Request {
			return reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&nc)}
		})
	}
	b := controllerruntime.NewControllerManagedBy(m).
		Named(c.Name()).
		For(&v1beta1.AKSNodeClass{}).
		WatchesRawSource(source.Channel(c.imagesChanged, handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, _ *v1beta1.AKSNodeClass) []reconcile.Request {
			return all(ctx, "a node image change")
		})))
	if c.subnetMarks != nil {
		b = b.WatchesRawSource(source.Channel(c.subnetMarks.Events(), handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
			return all(ctx, "a subnet refused an address")
		})))
	}
	if c.refusals != nil {
		b = b.WatchesRawSource(source.Channel(c.refusals.Events(), handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
			return all(ctx, "Azure refused a NodeClass's launch")
		})))
	}
	return b.Complete(reconcile.AsReconciler(kubeClient, c))
}
