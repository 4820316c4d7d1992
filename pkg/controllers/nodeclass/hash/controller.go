// Package hash keeps the drift hash annotations of AKSNodeClasses and
// migrates NodeClaims across hash versions. A NodeClaim records the hash of
// the spec it was launched from; when the hash's definition changes (a new
// field, a new default, or a NodeClaim made by AKS node auto-provisioning,
// whose hash covers a different struct), comparing old and new hashes would
// drift every node. So when an AKSNodeClass's hash version differs from the
// current one, its NodeClaims are re-stamped with the current hash — except
// those already drifted, which stay drifted — and then compare normally.
package hash

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/samber/lo"
	"k8s.io/apimachinery/pkg/runtime/schema"
	controllerruntime "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/operator/injection"

	"github.com/azkarpenter/azkarpenter/pkg/apis"
	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
)

// Controller reconciles the hash annotations.
type Controller struct {
	kubeClient client.Client
}

// NewController returns the controller.
func NewController(kubeClient client.Client) *Controller {
	return &Controller{kubeClient: kubeClient}
}

// Name of the controller.
func (c *Controller) Name() string { return "nodeclass.hash" }

// Reconcile stamps one AKSNodeClass and, on a version change, its NodeClaims.
func (c *Controller) Reconcile(ctx context.Context, nc *v1beta1.AKSNodeClass) (reconcile.Result, error) {
	ctx = injection.WithControllerName(ctx, c.Name())
	if !nc.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	if nc.Annotations[v1beta1.AnnotationNodeClassHashVersion] != v1beta1.AKSNodeClassHashVersion {
		if err := c.migrate(ctx, nc); err != nil {
			return reconcile.Result{}, err
		}
	}
	stored := nc.DeepCopy()
	nc.Annotations = lo.Assign(nc.Annotations, map[string]string{
		v1beta1.AnnotationNodeClassHash:        nc.Hash(),
		v1beta1.AnnotationNodeClassHashVersion: v1beta1.AKSNodeClassHashVersion,
	})
	if !maps.Equal(stored.Annotations, nc.Annotations) {
		if err := c.kubeClient.Patch(ctx, nc, client.MergeFrom(stored)); err != nil {
			return reconcile.Result{}, client.IgnoreNotFound(err)
		}
	}
	return reconcile.Result{}, nil
}

// migrate re-stamps the class's NodeClaims whose hash version is not the
// current one; a NodeClaim already found drifted keeps its old hash.
func (c *Controller) migrate(ctx context.Context, nc *v1beta1.AKSNodeClass) error {
	claims := &karpv1.NodeClaimList{}
	if err := c.kubeClient.List(ctx, claims, ForNodeClass(nc.Name)); err != nil {
		return err
	}
	var errs []error
	migrated := 0
	for i := range claims.Items {
		claim := &claims.Items[i]
		if claim.Annotations[v1beta1.AnnotationNodeClassHashVersion] == v1beta1.AKSNodeClassHashVersion {
			continue
		}
		stored := claim.DeepCopy()
		claim.Annotations = lo.Assign(claim.Annotations, map[string]string{v1beta1.AnnotationNodeClassHashVersion: v1beta1.AKSNodeClassHashVersion})
		if !claim.StatusConditions().Get(karpv1.ConditionTypeDrifted).IsTrue() {
			claim.Annotations[v1beta1.AnnotationNodeClassHash] = nc.Hash()
		}
		if err := c.kubeClient.Patch(ctx, claim, client.MergeFrom(stored)); client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("NodeClaim %s: %w", claim.Name, err))
			continue
		}
		migrated++
	}
	if migrated > 0 {
		log.FromContext(ctx).Info("re-stamped NodeClaims with the current drift hash version", "AKSNodeClass", nc.Name, "count", migrated, "version", v1beta1.AKSNodeClassHashVersion)
	}
	return errors.Join(errs...)
}

// ForNodeClass selects the NodeClaims of an AKSNodeClass by the label
// karpenter core puts on every NodeClaim it makes.
func ForNodeClass(name string) client.ListOption {
	return client.MatchingLabels{karpv1.NodeClassLabelKey(schema.GroupKind{Group: apis.Group, Kind: "AKSNodeClass"}): name}
}

// Register adds the controller to the manager.
func (c *Controller) Register(_ context.Context, m manager.Manager) error {
	return controllerruntime.NewControllerManagedBy(m).
		Named(c.Name()).
		For(&v1beta1.AKSNodeClass{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: 10}).
		Complete(reconcile.AsReconciler(m.GetClient(), c))
}
