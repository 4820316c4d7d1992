// Package nodeclass keeps AKSNodeClass status: the node images, the
// Kubernetes version nodes get, whether the subnet can take more nodes, and
// whether any VM size can serve the class. karpenter core launches nodes for
// a NodePool only while its NodeClass is Ready.
package nodeclass

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/samber/lo"
	"k8s.io/apimachinery/pkg/api/equality"
	controllerruntime "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
	"sigs.k8s.io/karpenter/pkg/operator/injection"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/instancetype"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	"github.com/azkarpenter/azkarpenter/pkg/providers/subnet"
)

// resync re-evaluates every NodeClass: subnets fill and versions change
// without the NodeClass changing.
const resync = 5 * time.Minute

// StatusController reconciles AKSNodeClass status.
type StatusController struct {
	kubeClient      client.Client
	images          imagefamily.Provider
	instanceTypes   instancetype.Provider
	subnets         subnet.Provider
	cluster         cluster.Provider
	defaultSubnetID string
	subnetMarks     *subnet.FullMarks
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
	return &StatusController{kubeClient: kubeClient, images: images, instanceTypes: instanceTypes, subnets: subnets, cluster: clusterInputs, defaultSubnetID: defaultSubnetID}
}

// Name of the controller.
func (c *StatusController) Name() string { return "nodeclass.status" }

// Reconcile updates one NodeClass's status.
func (c *StatusController) Reconcile(ctx context.Context, nc *v1beta1.AKSNodeClass) (reconcile.Result, error) {
	ctx = injection.WithControllerName(ctx, c.Name())
	if !nc.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	stored := nc.DeepCopy()
	conditions := nc.StatusConditions()
	requeue := resync

	if v, err := c.cluster.KubernetesVersion(ctx); err != nil || v == "" {
		conditions.SetFalse(v1beta1.ConditionTypeKubernetesVersionReady, "KubernetesVersionUnknown", fmt.Sprintf("reading the cluster's Kubernetes version: %v", err))
		requeue = time.Minute
	} else {
		nc.Status.KubernetesVersion = lo.ToPtr(v)
		conditions.SetTrue(v1beta1.ConditionTypeKubernetesVersionReady)
	}

	// What a node is told about the cluster: without it no node can join, so
	// the NodeClass is not Ready and no VM is created.
	if _, err := c.cluster.Inputs(ctx); err != nil {
		reason := "BootstrapInputsUnavailable"
		if ie := (*cluster.InputError)(nil); errors.As(err, &ie) {
			reason = ie.Reason
		}
		conditions.SetFalse(v1beta1.ConditionTypeBootstrapReady, reason, err.Error())
		requeue = time.Minute
	} else {
		conditions.SetTrue(v1beta1.ConditionTypeBootstrapReady)
	}

	if images, err := c.images.List(ctx, nc); err != nil || len(images) == 0 {
		msg := "no node image exists for this image family"
		if err != nil {
			msg = err.Error()
		}
		nc.Status.Images = nil
		conditions.SetFalse(v1beta1.ConditionTypeImagesReady, "ImagesNotFound", msg)
	} else {
		nc.Status.Images = images
		conditions.SetTrue(v1beta1.ConditionTypeImagesReady)
	}

	subnetID := lo.FromPtrOr(nc.Spec.VNETSubnetID, c.defaultSubnetID)
	switch sn, err := c.subnets.Get(ctx, subnetID); {
	case errors.Is(err, subnet.ErrNotFound):
		conditions.SetFalse(v1beta1.ConditionTypeSubnetReady, "SubnetNotFound", fmt.Sprintf("subnet %s does not exist", subnetID))
	case err != nil:
		conditions.SetFalse(v1beta1.ConditionTypeSubnetReady, "SubnetCheckFailed", fmt.Sprintf("reading subnet %s: %v", subnetID, err))
		requeue = time.Minute
	case c.subnetMarks != nil && c.subnetMarks.Full(subnetID):
		conditions.SetFalse(v1beta1.ConditionTypeSubnetReady, "SubnetFull", fmt.Sprintf("Azure refused a network interface in subnet %s for lack of free IP addresses (SubnetIsFull); nodes wait until addresses are freed or the subnet grows", subnetID))
		requeue = time.Minute
	case sn.AvailableIPs <= 0:
		conditions.SetFalse(v1beta1.ConditionTypeSubnetReady, "SubnetFull", fmt.Sprintf("subnet %s has no free IP addresses; nodes cannot get a network interface", subnetID))
		requeue = time.Minute
	default:
		conditions.SetTrue(v1beta1.ConditionTypeSubnetReady)
	}

	if its, err := c.instanceTypes.List(ctx, nc); err != nil {
		conditions.SetFalse(v1beta1.ConditionTypeValidationSucceeded, "InstanceTypesUnavailable", fmt.Sprintf("listing VM sizes: %v", err))
		requeue = time.Minute
	} else if len(its) == 0 {
		conditions.SetFalse(v1beta1.ConditionTypeValidationSucceeded, "NoInstanceTypes", "no VM size in the region satisfies this AKSNodeClass; `azkarpenter explain -f <this file>` lists each size with the reason it was left out")
	} else {
		conditions.SetTrue(v1beta1.ConditionTypeValidationSucceeded)
	}

	if !equality.Semantic.DeepEqual(stored.Status, nc.Status) {
		if err := c.kubeClient.Status().Patch(ctx, nc, client.MergeFromWithOptions(stored, client.MergeFromWithOptimisticLock{})); err != nil {
			return reconcile.Result{}, client.IgnoreNotFound(err)
		}
	}
	return reconcile.Result{RequeueAfter: requeue}, nil
}

// Register adds the controller to the manager.
func (c *StatusController) Register(_ context.Context, m manager.Manager) error {
	b := controllerruntime.NewControllerManagedBy(m).
		Named(c.Name()).
		For(&v1beta1.AKSNodeClass{})
	if c.subnetMarks != nil {
		// A subnet refused an address: every NodeClass is re-evaluated (a
		// cluster has few, and most share the cluster's subnet).
		b = b.WatchesRawSource(source.Channel(c.subnetMarks.Events(), handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
			var list v1beta1.AKSNodeClassList
			if err := m.GetClient().List(ctx, &list); err != nil {
				return nil
			}
			return lo.Map(list.Items, func(nc v1beta1.AKSNodeClass, _ int) reconcile.Request {
				return reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&nc)}
			})
		})))
	}
	return b.Complete(reconcile.AsReconciler(m.GetClient(), c))
}
