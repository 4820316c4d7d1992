// Package tags applies an AKSNodeClass's tags to the VMs and NICs of its
// running nodes in place. Tags are not part of the drift hash: changing them
// must not replace nodes. Each NodeClaim records the hash of the tags its
// resources carry (v1beta1.AnnotationInPlaceUpdateHash); when the class's
// tags change, the claims whose hash differs are updated.
package tags

import (
	"context"
	"time"

	opmetrics "github.com/awslabs/operatorpkg/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/samber/lo"
	"k8s.io/apimachinery/pkg/types"
	controllerruntime "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/operator/injection"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/controllers/nodeclass/hash"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instance"
)

var updates = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
	Namespace: "azkarpenter", Subsystem: "nodeclaim", Name: "tag_updates_total",
	Help: "NodeClaims whose VM and NIC tags were brought in line with their AKSNodeClass in place, by result (updated, vm_gone, error).",
}, []string{"result"})

// Controller updates tags in place.
type Controller struct {
	kubeClient client.Client
	instances  instance.Provider
}

// NewController returns the controller.
func NewController(kubeClient client.Client, instances instance.Provider) *Controller {
	return &Controller{kubeClient: kubeClient, instances: instances}
}

// Name of the controller.
func (c *Controller) Name() string { return "nodeclaim.tags" }

// Reconcile brings one NodeClaim's VM and NIC tags in line with its class.
func (c *Controller) Reconcile(ctx context.Context, claim *karpv1.NodeClaim) (reconcile.Result, error) {
	ctx = injection.WithControllerName(ctx, c.Name())
	if claim.Spec.NodeClassRef == nil || claim.Spec.NodeClassRef.Kind != "AKSNodeClass" || !claim.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	nc := &v1beta1.AKSNodeClass{}
	if err := c.kubeClient.Get(ctx, types.NamespacedName{Name: claim.Spec.NodeClassRef.Name}, nc); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	goal := nc.InPlaceUpdateHash()
	if claim.Annotations[v1beta1.AnnotationInPlaceUpdateHash] == goal {
		return reconcile.Result{}, nil
	}
	if claim.Status.ProviderID == "" {
		// Not launched yet: Create tags the VM with the class's tags then.
		return reconcile.Result{RequeueAfter: time.Minute}, nil
	}
	_, _, vmName, err := instance.ParseProviderID(claim.Status.ProviderID)
	if err != nil {
		return reconcile.Result{}, nil //nolint:nilerr // not one of our VMs; nothing to tag
	}
	if err := c.instances.UpdateTags(ctx, vmName, nc.Spec.Tags); err != nil {
		if instance.IsNotFound(err) {
			updates.Inc(map[string]string{"result": "vm_gone"})
			return reconcile.Result{}, nil
		}
		updates.Inc(map[string]string{"result": "error"})
		return reconcile.Result{}, err
	}
	stored := claim.DeepCopy()
	claim.Annotations = lo.Assign(claim.Annotations, map[string]string{v1beta1.AnnotationInPlaceUpdateHash: goal})
	if err := c.kubeClient.Patch(ctx, claim, client.MergeFrom(stored)); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	updates.Inc(map[string]string{"result": "updated"})
	log.FromContext(ctx).Info("updated the tags of a node's VM and NIC in place", "NodeClaim", claim.Name, "AKSNodeClass", nc.Name)
	return reconcile.Result{}, nil
}

// Register adds the controller to the manager: NodeClaims are reconciled
// when launched, and all of a class's NodeClaims when its tags change.
func (c *Controller) Register(_ context.Context, m manager.Manager) error {
	return controllerruntime.NewControllerManagedBy(m).
		Named(c.Name()).
		For(&karpv1.NodeClaim{}, builder.WithPredicates(predicate.Funcs{
			CreateFunc: func(event.CreateEvent) bool { return true },
			UpdateFunc: func(e event.UpdateEvent) bool {
				return e.ObjectOld.(*karpv1.NodeClaim).Status.ProviderID != e.ObjectNew.(*karpv1.NodeClaim).Status.ProviderID
			},
			DeleteFunc:  func(event.DeleteEvent) bool { return false },
			GenericFunc: func(event.GenericEvent) bool { return false },
		})).
		Watches(&v1beta1.AKSNodeClass{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			claims := &karpv1.NodeClaimList{}
			if err := c.kubeClient.List(ctx, claims, hash.ForNodeClass(o.GetName())); err != nil {
				return nil
			}
			return lo.Map(claims.Items, func(c karpv1.NodeClaim, _ int) reconcile.Request {
				return reconcile.Request{NamespacedName: types.NamespacedName{Name: c.Name}}
			})
		}), builder.WithPredicates(predicate.Funcs{
			CreateFunc: func(event.CreateEvent) bool { return false },
			UpdateFunc: func(e event.UpdateEvent) bool {
				return e.ObjectOld.(*v1beta1.AKSNodeClass).InPlaceUpdateHash() != e.ObjectNew.(*v1beta1.AKSNodeClass).InPlaceUpdateHash()
			},
			DeleteFunc:  func(event.DeleteEvent) bool { return false },
			GenericFunc: func(event.GenericEvent) bool { return false },
		})).
		Complete(reconcile.AsReconciler(m.GetClient(), c))
}
