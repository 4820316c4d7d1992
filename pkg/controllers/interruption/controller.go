// Package interruption acts on Azure spot eviction notices. Azure gives a
// spot VM at least 30 seconds (often under 10) between the Preempt scheduled
// event and the eviction; AKS's node-problem-detector shows it as a node
// condition (PreemptionScheduled on recent nodes, VMEventScheduled on older
// ones; see notice.go). Waiting for the VM to vanish wastes that notice, so
// the controller marks the spot offering unavailable (the replacement must
// not land in the same pool), records the eviction deadline as the
// NodeClaim's termination time (pods get the notice's time to stop, no
// more), and deletes the NodeClaim at once: karpenter core cordons and
// drains the node and provisions the replacement while the VM still runs.
package interruption

import (
	"context"
	"fmt"
	"time"

	opmetrics "github.com/awslabs/operatorpkg/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/clock"
	controllerruntime "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/events"
	"sigs.k8s.io/karpenter/pkg/operator/injection"
	nodeutils "sigs.k8s.io/karpenter/pkg/utils/node"

	"github.com/azkarpenter/azkarpenter/pkg/providers/offerings"
)

var (
	actions = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
		Namespace: "azkarpenter", Subsystem: "interruption", Name: "actions_total",
		Help: "Spot eviction notices acted on, by action (delete_nodeclaim, already_deleting) and the node condition that carried the notice (PreemptionScheduled, VMEventScheduled).",
	}, []string{"action", "signal"})
	noticeLeadTime = opmetrics.NewPrometheusHistogram(crmetrics.Registry, prometheus.HistogramOpts{
		Namespace: "azkarpenter", Subsystem: "interruption", Name: "notice_lead_time_seconds",
		Help:    "Time from acting on a spot eviction notice to its deadline (NotBefore), for notices that carry one; negative when the deadline had passed.",
		Buckets: []float64{-30, -10, 0, 5, 10, 20, 30, 45, 60, 120, 300},
	}, []string{"signal"})
)

// Controller reacts to spot eviction notices on nodes.
type Controller struct {
	kubeClient  client.Client
	recorder    events.Recorder
	unavailable *offerings.Cache
	clock       clock.Clock
}

// NewController returns the controller.
func NewController(kubeClient client.Client, recorder events.Recorder, unavailable *offerings.Cache) *Controller {
	return &Controller{kubeClient: kubeClient, recorder: recorder, unavailable: unavailable, clock: clock.RealClock{}}
}

// WithClock sets the clock deadlines are measured against (tests).
func (c *Controller) WithClock(clk clock.Clock) *Controller {
	c.clock = clk
	return c
}

// Name of the controller.
func (c *Controller) Name() string { return "interruption.spot" }

// Preempted reports whether the node carries an eviction notice.
func Preempted(node *corev1.Node) bool {
	_, ok := NoticeOf(node)
	return ok
}

// Reconcile handles one node.
func (c *Controller) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	ctx = injection.WithControllerName(ctx, c.Name())
	node := &corev1.Node{}
	if err := c.kubeClient.Get(ctx, req.NamespacedName, node); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	notice, ok := NoticeOf(node)
	if !ok {
		return reconcile.Result{}, nil
	}
	nodeClaim, err := nodeutils.NodeClaimForNode(ctx, c.kubeClient, node)
	if err != nil {
		if nodeutils.IsNodeClaimNotFoundError(err) {
			return reconcile.Result{}, nil // not a node karpenter manages
		}
		return reconcile.Result{}, err
	}
	logger := log.FromContext(ctx).WithValues("Node", node.Name, "NodeClaim", nodeClaim.Name, "signal", notice.Signal)
	if !nodeClaim.DeletionTimestamp.IsZero() {
		actions.Inc(map[string]string{"action": "already_deleting", "signal": string(notice.Signal)})
		return reconcile.Result{}, nil
	}
	instanceType := node.Labels[corev1.LabelInstanceTypeStable]
	zone := node.Labels[corev1.LabelTopologyZone]
	if instanceType != "" && zone != "" {
		c.unavailable.MarkUnavailable(ctx, ReasonSpotEvictionIncoming, instanceType, zone, karpv1.CapacityTypeSpot, offerings.DefaultTTL)
	}
	deadline := "no deadline given"
	if !notice.Deadline.IsZero() {
		deadline = "evicted from " + notice.Deadline.Format(time.RFC3339)
		noticeLeadTime.Observe(notice.Deadline.Sub(c.clock.Now()).Seconds(), map[string]string{"signal": string(notice.Signal)})
		// Pods get until the deadline to stop, not their full grace period:
		// core's termination clamps grace periods to this time.
		if err := c.annotateTerminationTime(ctx, nodeClaim, notice.Deadline); err != nil {
			return reconcile.Result{}, err
		}
	}
	c.recorder.Publish(events.Event{
		InvolvedObject: node,
		Type:           corev1.EventTypeWarning,
		Reason:         "SpotInterrupted",
		Message:        fmt.Sprintf("Azure scheduled a spot eviction of %s (%s in %s, %s; %s); replacing the node before it is evicted", node.Name, instanceType, zone, notice.Signal, deadline),
		DedupeValues:   []string{node.Name},
	})
	if err := c.kubeClient.Delete(ctx, nodeClaim); err != nil && !errors.IsNotFound(err) {
		return reconcile.Result{}, err
	}
	actions.Inc(map[string]string{"action": "delete_nodeclaim", "signal": string(notice.Signal)})
	logger.Info("deleted NodeClaim of a node with a spot eviction notice", "instance-type", instanceType, "zone", zone, "deadline", deadline, "message", notice.Message)
	return reconcile.Result{}, nil
}

// annotateTerminationTime records the eviction deadline as the time by
// which core must have terminated the NodeClaim, unless an earlier time is
// recorded already.
func (c *Controller) annotateTerminationTime(ctx context.Context, nodeClaim *karpv1.NodeClaim, deadline time.Time) error {
	if have, ok := nodeClaim.Annotations[karpv1.NodeClaimTerminationTimestampAnnotationKey]; ok {
		if t, err := time.Parse(time.RFC3339, have); err == nil && !t.After(deadline) {
			return nil
		}
	}
	stored := nodeClaim.DeepCopy()
	nodeClaim.Annotations = lo.Assign(nodeClaim.Annotations, map[string]string{karpv1.NodeClaimTerminationTimestampAnnotationKey: deadline.UTC().Format(time.RFC3339)})
	if err := c.kubeClient.Patch(ctx, nodeClaim, client.MergeFromWithOptions(stored, client.MergeFromWithOptimisticLock{})); err != nil {
		return client.IgnoreNotFound(err)
	}
	return nil
}

// Register adds the controller to the manager; only nodes whose eviction
// notice appears are reconciled.
func (c *Controller) Register(_ context.Context, m manager.Manager) error {
	return controllerruntime.NewControllerManagedBy(m).
		Named(c.Name()).
		For(&corev1.Node{}, builder.WithPredicates(predicate.Funcs{
			CreateFunc:  func(e event.CreateEvent) bool { return Preempted(e.Object.(*corev1.Node)) },
			UpdateFunc:  func(e event.UpdateEvent) bool { return Preempted(e.ObjectNew.(*corev1.Node)) },
			DeleteFunc:  func(event.DeleteEvent) bool { return false },
			GenericFunc: func(event.GenericEvent) bool { return false },
		})).
		Complete(c)
}
