// Package refresh keeps the provider caches fresh: the VM size catalog every
// 12 hours, vCPU quota every few minutes and node image versions every hour
// (configurable). Prices refresh themselves (pkg/providers/pricing runs as a manager
// runnable).
package refresh

import (
	"context"
	"time"

	"github.com/awslabs/operatorpkg/reconciler"
	"github.com/awslabs/operatorpkg/singleton"
	controllerruntime "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/karpenter/pkg/operator/injection"
)

// Refresher is a cache that can be refreshed.
type Refresher interface {
	Refresh(ctx context.Context) error
}

// Controller refreshes one cache on a period. On failure it retries sooner,
// and the cache keeps serving its previous contents.
type Controller struct {
	name        string
	target      Refresher
	period      time.Duration
	retryPeriod time.Duration
}

// NewController returns a controller named name that refreshes target every
// period, or after retryPeriod when a refresh fails.
func NewController(name string, target Refresher, period, retryPeriod time.Duration) *Controller {
	return &Controller{name: name, target: target, period: period, retryPeriod: retryPeriod}
}

// Name implements the singleton reconciler.
func (c *Controller) Name() string { return c.name }

// Reconcile refreshes the cache once.
func (c *Controller) Reconcile(ctx context.Context) (reconciler.Result, error) {
	ctx = injection.WithControllerName(ctx, c.name)
	if err := c.target.Refresh(ctx); err != nil {
		log.FromContext(ctx).Error(err, "refresh failed; serving the previous data", "retry-in", c.retryPeriod.String())
		return reconciler.Result{RequeueAfter: c.retryPeriod}, nil
	}
	return reconciler.Result{RequeueAfter: c.period}, nil
}

// Register adds the controller to the manager.
func (c *Controller) Register(_ context.Context, m manager.Manager) error {
	return controllerruntime.NewControllerManagedBy(m).
		Named(c.name).
		WatchesRawSource(singleton.Source()).
		Complete(singleton.AsReconciler(c))
}
