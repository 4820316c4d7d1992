// Package termination keeps an AKSNodeClass from being deleted while
// NodeClaims use it. Without it, deleting a class under running nodes leaves
// them with no spec to be judged against: drift checks quietly report "not
// drifted" and nodes can no longer be replaced. The status controller adds
// the finalizer; this controller removes it once the last NodeClaim of the
// class is gone, and says which it waits for.
package termination

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	controllerruntime "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/events"
	"sigs.k8s.io/karpenter/pkg/operator/injection"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/controllers/nodeclass/hash"
)

// ReasonWaitingOnNodeClaimTermination is the event reason while deletion waits.
const ReasonWaitingOnNodeClaimTermination = "WaitingOnNodeClaimTermination"

// Controller removes the termination finalizer.
type Controller struct {
	kubeClient client.Client
	recorder   events.Recorder
}

// NewController returns the controller.
func NewController(kubeClient client.Client, recorder events.Recorder) *Controller {
	return &Controller{kubeClient: kubeClient, recorder: recorder}
}

// Name of the controller.
func (c *Controller) Name() string { return "nodeclass.termination" }

// Reconcile lets a deleted AKSNodeClass go once no NodeClaim uses it.
func (c *Controller) Reconcile(ctx context.Context, nc *v1beta1.AKSNodeClass) (reconcile.Result, error) {
	ctx = injection.WithControllerName(ctx, c.Name())
	if nc.DeletionTimestamp.IsZero() || !controllerutil.ContainsFinalizer(nc, v1beta1.TerminationFinalizer) {
		return reconcile.Result{}, nil
	}
	claims := &karpv1.NodeClaimList{}
	if err := c.kubeClient.List(ctx, claims, hash.ForNodeClass(nc.Name)); err != nil {
		return reconcile.Result{}, err
	}
	if n := len(claims.Items); n > 0 {
		names := lo.Map(claims.Items, func(c karpv1.NodeClaim, _ int) string { return c.Name })
		shown := names
		if len(shown) > 5 {
			shown = append(shown[:5:5], fmt.Sprintf("and %d more", n-5))
		}
		c.recorder.Publish(events.Event{
			InvolvedObject: nc,
			Type:           corev1.EventTypeNormal,
			Reason:         ReasonWaitingOnNodeClaimTermination,
			Message:        fmt.Sprintf("Waiting on NodeClaim termination for %s; delete the NodePools that use this AKSNodeClass, or their NodeClaims", strings.Join(shown, ", ")),
			DedupeValues:   []string{string(nc.UID)},
		})
		// NodeClaim deletions requeue the class at once (see Register); this
		// is the backstop.
		return reconcile.Result{RequeueAfter: time.Minute}, nil
	}
	stored := nc.DeepCopy()
	controllerutil.RemoveFinalizer(nc, v1beta1.TerminationFinalizer)
	if err := c.kubeClient.Patch(ctx, nc, client.MergeFromWithOptions(stored, client.MergeFromWithOptimisticLock{})); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	log.FromContext(ctx).Info("AKSNodeClass has no NodeClaims left; deletion proceeds", "AKSNodeClass", nc.Name)
	return reconcile.Result{}, nil
}

// Register adds the controller to the manager; a deleted NodeClaim
// requeues the AKSNodeClass it used.
func (c *Controller) Register(_ context.Context, m manager.Manager) error {
	return controllerruntime.NewControllerManagedBy(m).
		Named(c.Name()).
		For(&v1beta1.AKSNodeClass{}).
		Watches(&karpv1.NodeClaim{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			claim := o.(*karpv1.NodeClaim)
			if claim.Spec.NodeClassRef == nil || claim.Spec.NodeClassRef.Kind != "AKSNodeClass" {
				return nil
			}
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: claim.Spec.NodeClassRef.Name}}}
		}), builder.WithPredicates(predicate.Funcs{
			CreateFunc:  func(event.CreateEvent) bool { return false },
			UpdateFunc:  func(event.UpdateEvent) bool { return false },
			DeleteFunc:  func(event.DeleteEvent) bool { return true },
			GenericFunc: func(event.GenericEvent) bool { return false },
		})).
		Complete(reconcile.AsReconciler(m.GetClient(), c))
}
