// Package garbagecollection deletes the VMs and NICs this cluster owns (by
// tag) that no NodeClaim claims: leftovers of a controller crash between a
// PUT and recording the NodeClaim, of a NodeClaim deleted while its VM was
// being created, or of a NIC whose VM creation failed.
package garbagecollection

import (
	"context"
	"strings"
	"time"

	opmetrics "github.com/awslabs/operatorpkg/metrics"
	"github.com/awslabs/operatorpkg/reconciler"
	"github.com/awslabs/operatorpkg/singleton"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/clock"
	controllerruntime "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/operator/injection"

	"github.com/azkarpenter/azkarpenter/pkg/providers/instance"
)

const (
	// Period between sweeps.
	Period = time.Minute
	// GracePeriod protects resources being created: a VM appears in ARM
	// before core records its NodeClaim's providerID, and ARM lists lag.
	GracePeriod = 5 * time.Minute
	// ClaimGonePeriod is the grace of a VM whose NodeClaim tag names a
	// NodeClaim that no longer exists. A NodeClaim exists before its VM is
	// created, so such a VM lost its claim: typically core's liveness check
	// deleted a claim whose launch outlived the launch timeout, and a claim
	// without a providerID never gets a Delete call. The short grace covers
	// only the lag of the controller's NodeClaim cache.
	ClaimGonePeriod = 30 * time.Second
)

var collected = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
	Namespace: "azkarpenter", Subsystem: "garbagecollection", Name: "deleted_total",
	Help: "Orphaned Azure resources deleted, by kind (vm, nic).",
}, []string{"kind"})

// Controller sweeps orphaned VMs and NICs.
type Controller struct {
	kubeClient client.Client
	instances  instance.Provider
	clock      clock.Clock
}

// NewController returns the controller.
func NewController(kubeClient client.Client, instances instance.Provider, clk clock.Clock) *Controller {
	return &Controller{kubeClient: kubeClient, instances: instances, clock: clk}
}

// Name of the controller.
func (c *Controller) Name() string { return "instance.garbagecollection" }

// Reconcile runs one sweep.
func (c *Controller) Reconcile(ctx context.Context) (reconciler.Result, error) {
	ctx = injection.WithControllerName(ctx, c.Name())
	// List Azure first: a NodeClaim created after the NodeClaim list would
	// otherwise make its brand-new VM look orphaned (the grace period covers
	// the rest).
	vms, err := c.instances.List(ctx)
	if err != nil {
		return reconciler.Result{}, err
	}
	nics, err := c.instances.ListNICs(ctx)
	if err != nil {
		return reconciler.Result{}, err
	}
	nodeClaims := &karpv1.NodeClaimList{}
	if err := c.kubeClient.List(ctx, nodeClaims); err != nil {
		return reconciler.Result{}, err
	}
	claimed := sets.New[string]()
	providerIDs := sets.New[string]()
	for _, nc := range nodeClaims.Items {
		claimed.Insert(nc.Name)
		// ARM IDs are case-insensitive, and a NodeClaim recorded by an
		// earlier version carries the resource group in its configured case
		// (instance.SameProviderID).
		providerIDs.Insert(strings.ToLower(nc.Status.ProviderID))
	}
	now := c.clock.Now()
	liveVMs := sets.New[string]()
	for _, vm := range vms {
		liveVMs.Insert(strings.ToLower(vm.ID))
		if claimed.Has(vm.NodeClaim) || providerIDs.Has(strings.ToLower(vm.ProviderID)) {
			continue
		}
		grace := GracePeriod
		if vm.NodeClaim != "" {
			grace = ClaimGonePeriod
		}
		if young(vm.CreationTime, now, grace) {
			continue
		}
		if err := c.instances.Delete(ctx, vm.Name); err != nil && !instance.IsNotFound(err) {
			log.FromContext(ctx).Error(err, "deleting orphaned VM", "vm", vm.Name)
			continue
		}
		collected.Inc(map[string]string{"kind": "vm"})
		log.FromContext(ctx).Info("deleted VM no NodeClaim claims", "vm", vm.Name, "nodeclaim-tag", vm.NodeClaim, "created", vm.CreationTime)
	}
	for _, nic := range nics {
		attached := nic.VMID != "" && liveVMs.Has(strings.ToLower(nic.VMID))
		if attached || claimed.Has(nic.NodeClaim) || young(nic.CreationTime, now, GracePeriod) {
			continue
		}
		if err := c.instances.DeleteNIC(ctx, nic.Name); err != nil && !instance.IsNotFound(err) {
			log.FromContext(ctx).Error(err, "deleting orphaned NIC", "nic", nic.Name)
			continue
		}
		collected.Inc(map[string]string{"kind": "nic"})
		log.FromContext(ctx).Info("deleted NIC no VM or NodeClaim uses", "nic", nic.Name, "nodeclaim-tag", nic.NodeClaim)
	}
	return reconciler.Result{RequeueAfter: Period}, nil
}

// young reports whether a resource is within the grace period. A resource of
// unknown age (no timeCreated, no creation tag: not made by this provider's
// create path) is never collected: deleting real capacity is worse than
// keeping a leftover.
func young(created, now time.Time, grace time.Duration) bool {
	return created.IsZero() || now.Sub(created) < grace
}

// Register adds the controller to the manager.
func (c *Controller) Register(_ context.Context, m manager.Manager) error {
	return controllerruntime.NewControllerManagedBy(m).
		Named(c.Name()).
		WatchesRawSource(singleton.Source()).
		Complete(singleton.AsReconciler(c))
}
