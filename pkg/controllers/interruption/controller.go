// Package interruption acts on Azure spot eviction notices. Azure gives a
// spot VM at least 30 seconds (often under 10) between the Preempt scheduled
// event and the eviction; the node shows it as condition PreemptionScheduled.
// Waiting for the VM to vanish wastes that notice, so the controller marks
// the spot offering unavailable (the replacement must not land in the same
// pool) and deletes the NodeClaim at once: karpenter core cordons and drains
// the node and provisions the replacement while the VM still runs.
package interruption

import (
	"context"
	"fmt"

	opmetrics "github.com/awslabs/operatorpkg/metrics"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/errors"
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

// ConditionPreemptionScheduled is the node condition AKS sets when Azure
// schedules a spot eviction.
const ConditionPreemptionScheduled corev1.NodeConditionType = "PreemptionScheduled"

var actions = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
	Namespace: "azkarpenter", Subsystem: "interruption", Name: "actions_total",
	Help: "Spot eviction notices acted on, by action (delete_nodeclaim, already_deleting).",
}, []string{"action"})

// Controller reacts to PreemptionScheduled on nodes.
type Controller struct {
	kubeClient  client.Client
	recorder    events.Recorder
	unavailable *offerings.Cache
}

// NewController returns the controller.
func NewController(kubeClient client.Client, recorder events.Recorder, unavailable *offerings.Cache) *Controller {
	return &Controller{kubeClient: kubeClient, recorder: recorder, unavailable: unavailable}
}

// Name of the controller.
func (c *Controller) Name() string { return "interruption.spot" }

// Preempted reports whether the node carries an eviction notice.
func Preempted(node *corev1.Node) bool {
	for _, cond := range node.Status.Conditions {
		if cond.Type == ConditionPreemptionScheduled && cond.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// Reconcile handles one node.
func (c *Controller) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	ctx = injection.WithControllerName(ctx, c.Name())
	node := &corev1.Node{}
	if err := c.kubeClient.Get(ctx, req.NamespacedName, node); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !Preempted(node) {
		return reconcile.Result{}, nil
	}
	nodeClaim, err := nodeutils.NodeClaimForNode(ctx, c.kubeClient, node)
	if err != nil {
		if nodeutils.IsNodeClaimNotFoundError(err) {
			return reconcile.Result{}, nil // not a node karpenter manages
		}
		return reconcile.Result{}, err
	}
	logger := log.FromContext(ctx).WithValues("Node", node.Name, "NodeClaim", nodeClaim.Name)
	if !nodeClaim.DeletionTimestamp.IsZero() {
		actions.Inc(map[string]string{"action": "already_deleting"})
		return reconcile.Result{}, nil
	}
	instanceType := node.Labels[corev1.LabelInstanceTypeStable]
	zone := node.Labels[corev1.LabelTopologyZone]
	if instanceType != "" && zone != "" {
		c.unavailable.MarkUnavailable(ctx, "SpotEvictionIncoming", instanceType, zone, karpv1.CapacityTypeSpot, offerings.DefaultTTL)
	}
	c.recorder.Publish(events.Event{
		InvolvedObject: node,
		Type:           corev1.EventTypeWarning,
		Reason:         "SpotInterrupted",
		Message:        fmt.Sprintf("Azure scheduled a spot eviction of %s (%s in %s); replacing the node before it is evicted", node.Name, instanceType, zone),
		DedupeValues:   []string{node.Name},
	})
	if err := c.kubeClient.Delete(ctx, nodeClaim); err != nil && !errors.IsNotFound(err) {
		return reconcile.Result{}, err
	}
	actions.Inc(map[string]string{"action": "delete_nodeclaim"})
	logger.Info("deleted NodeClaim of a node with a spot eviction notice", "instance-type", instanceType, "zone", zone)
	return reconcile.Result{}, nil
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
