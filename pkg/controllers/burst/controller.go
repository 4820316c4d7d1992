// Package burst is burst-then-settle (docs/virtual-nodes.md): a pod that
// opts in and that kube-scheduler finds no node for is bound to the virtual
// node (Azure Container Instances) at once, and a placeholder pod with its
// requests and placement makes karpenter core launch VM capacity for it as
// for any pending pod. When the placeholder runs on a Ready VM, the burst
// pod is evicted (its PodDisruptionBudget decides when) and the
// placeholder removed, so the owner's replacement lands on the VM; the
// virtual node's taint keeps the replacement off ACI.
package burst

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/patrickmn/go-cache"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"
	controllerruntime "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/karpenter/pkg/events"
	"sigs.k8s.io/karpenter/pkg/operator/injection"

	"github.com/azkarpenter/azkarpenter/pkg/providers/containerinstance"
)

// Options configure the controller.
type Options struct {
	// VirtualNodeName is the Node pods burst to.
	VirtualNodeName string
	// PlaceholderImage is the placeholders' pause image.
	PlaceholderImage string
	// Prices, when set, price the time burst pods spent on ACI.
	Prices PriceSource
}

const (
	// refusedTTL is how long a workload whose pod the virtual node could
	// not run is kept off it: its replacement would meet the same refusal.
	refusedTTL = 10 * time.Minute
	// recheck is when a pod refused for the virtual node's state is looked
	// at again if no node event comes first.
	recheck = time.Minute
	// refusalEventTTL makes a refusal one event per pod and reason.
	refusalEventTTL = time.Hour
)

// Controller bursts opted-in pods to the virtual node and settles them on
// VMs.
type Controller struct {
	kubeClient client.Client
	recorder   events.Recorder
	clock      clock.Clock
	opts       Options
	// evictions backs off per pod while its PDB refuses.
	evictions *flowcontrol.Backoff
	// refusedOwners are workloads whose pods ACI could not run lately.
	refusedOwners *cache.Cache
	// counted are the pods and refusals the refusal counter has counted.
	counted *cache.Cache
	// assumed are pods bound to the virtual node that the cache may not
	// show yet: they count against its allocatable.
	assumed   sync.Map // types.UID → *corev1.Pod
	classOnce sync.Mutex
	classOK   bool
}

// NewController returns the controller.
func NewController(kubeClient client.Client, recorder events.Recorder, clk clock.Clock, opts Options) *Controller {
	if opts.VirtualNodeName == "" {
		opts.VirtualNodeName = DefaultVirtualNodeName
	}
	if opts.PlaceholderImage == "" {
		opts.PlaceholderImage = DefaultPlaceholderImage
	}
	return &Controller{
		kubeClient: kubeClient, recorder: recorder, clock: clk, opts: opts,
		evictions:     flowcontrol.NewBackOffWithJitter(5*time.Second, 5*time.Minute, 0.2),
		refusedOwners: cache.New(refusedTTL, time.Minute),
		counted:       cache.New(refusalEventTTL, time.Minute),
	}
}

// Name of the controller.
func (c *Controller) Name() string { return "burst" }

// Reconcile handles one opted-in pod: burst it, settle it, or tidy up.
func (c *Controller) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	ctx = injection.WithControllerName(ctx, c.Name())
	pod := &corev1.Pod{}
	if err := c.kubeClient.Get(ctx, req.NamespacedName, pod); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !OptedIn(pod) || IsPlaceholder(pod) {
		return reconcile.Result{}, nil
	}
	ctx = log.IntoContext(ctx, log.FromContext(ctx).WithValues("Pod", klogRef(pod)))
	switch {
	case !pod.DeletionTimestamp.IsZero() || terminal(pod):
		c.evictions.Reset(string(pod.UID))
		return reconcile.Result{}, c.deletePlaceholder(ctx, pod)
	case pod.Spec.NodeName == "":
		return c.burst(ctx, pod)
	case pod.Spec.NodeName == c.opts.VirtualNodeName:
		return c.settle(ctx, pod)
	default:
		// On a VM: kube-scheduler placed it first, or it never burst.
		return reconcile.Result{}, c.deletePlaceholder(ctx, pod)
	}
}

// burst binds an unschedulable pod to the virtual node, after creating its
// placeholder, or says why it does not.
func (c *Controller) burst(ctx context.Context, pod *corev1.Pod) (reconcile.Result, error) {
	if !unschedulable(pod) {
		return reconcile.Result{}, nil
	}
	if refusals := podRefusals(pod); len(refusals) > 0 {
		c.refuse(ctx, pod, refusals...)
		return reconcile.Result{}, nil
	}
	if o := metav1.GetControllerOf(pod); o != nil {
		if why, ok := c.refusedOwners.Get(string(o.UID)); ok {
			c.refuse(ctx, pod, Refusal{Code: RefusedRecentlyRefused, Field: "node/" + c.opts.VirtualNodeName,
				Message: fmt.Sprintf("the virtual node could not run another pod of %s %s lately (%s); its pods wait for VMs", o.Kind, o.Name, why)})
			return reconcile.Result{RequeueAfter: refusedTTL}, nil
		}
	}
	node, onNode, err := c.virtualNode(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	if r := nodeRefusal(node, c.opts.VirtualNodeName, pod, onNode); r != nil {
		c.refuse(ctx, pod, *r)
		return reconcile.Result{RequeueAfter: recheck}, nil
	}
	if err := c.ensurePlaceholder(ctx, pod); err != nil {
		return reconcile.Result{}, err
	}
	now := c.clock.Now()
	binding := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID,
			Annotations: map[string]string{AnnotationBurstedAt: now.UTC().Format(time.RFC3339Nano)}},
		Target: corev1.ObjectReference{Kind: "Node", Name: c.opts.VirtualNodeName},
	}
	if err := c.kubeClient.SubResource("binding").Create(ctx, pod, binding); err != nil {
		if errors.IsConflict(err) || errors.IsNotFound(err) {
			// Scheduled elsewhere meanwhile, or gone: the next event tidies up.
			return reconcile.Result{RequeueAfter: time.Second}, nil
		}
		return reconcile.Result{}, fmt.Errorf("binding pod to the virtual node: %w", err)
	}
	pod.Spec.NodeName = c.opts.VirtualNodeName
	c.assumed.Store(pod.UID, pod)
	bursted.Inc(nil)
	r := containerinstance.GroupResources(pod)
	c.recorder.Publish(events.Event{InvolvedObject: pod, Type: corev1.EventTypeNormal, Reason: ReasonBursted,
		Message: fmt.Sprintf("No node has room; running on virtual node %s (Azure Container Instances, %.1f vCPU / %.1f GB) while VM capacity is launched for placeholder %s",
			c.opts.VirtualNodeName, r.CPU, r.MemoryGB, PlaceholderName(pod)),
		DedupeValues: []string{string(pod.UID)}})
	log.FromContext(ctx).Info("bursted pod to the virtual node", "node", c.opts.VirtualNodeName, "placeholder", PlaceholderName(pod), "vcpu", r.CPU, "memoryGB", r.MemoryGB)
	return reconcile.Result{}, nil
}

// refuse tells once per pod and reason why it stays waiting for a VM.
func (c *Controller) refuse(ctx context.Context, pod *corev1.Pod, refusals ...Refusal) {
	for _, r := range refusals {
		evt := events.Event{InvolvedObject: pod, Type: corev1.EventTypeWarning, Reason: ReasonBurstRefused,
			Message:       "Not bursting to Azure Container Instances, waiting for a VM: " + r.String(),
			DedupeValues:  []string{string(pod.UID), r.Code, r.Field},
			DedupeTimeout: refusalEventTTL,
		}
		c.recorder.Publish(evt)
	}
	if c.firstRefusal(pod, refusals) {
		for _, r := range refusals {
			refused.Inc(map[string]string{"reason": r.Code})
		}
		log.FromContext(ctx).V(1).Info("not bursting pod", "reasons", refusalStrings(refusals))
	}
}

// firstRefusal reports whether these refusals are new for the pod, so the
// counter counts each once per pod.
func (c *Controller) firstRefusal(pod *corev1.Pod, refusals []Refusal) bool {
	key := string(pod.UID) + "/" + strings.Join(refusalStrings(refusals), "|")
	return c.counted.Add(key, true, cache.DefaultExpiration) == nil
}

func refusalStrings(rs []Refusal) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Code + " " + r.Field
	}
	return out
}

// virtualNode returns the virtual node (nil when missing) and the pods
// bound to it, including those bound here that the cache lags behind.
func (c *Controller) virtualNode(ctx context.Context) (*corev1.Node, []*corev1.Pod, error) {
	node := &corev1.Node{}
	if err := c.kubeClient.Get(ctx, types.NamespacedName{Name: c.opts.VirtualNodeName}, node); err != nil {
		if errors.IsNotFound(err) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	list := &corev1.PodList{}
	if err := c.kubeClient.List(ctx, list, client.MatchingFields{"spec.nodeName": c.opts.VirtualNodeName}); err != nil {
		return nil, nil, err
	}
	seen := map[types.UID]bool{}
	var pods []*corev1.Pod
	for i := range list.Items {
		p := &list.Items[i]
		seen[p.UID] = true
		if !terminal(p) {
			pods = append(pods, p)
		}
	}
	c.assumed.Range(func(k, v any) bool {
		if p := v.(*corev1.Pod); seen[p.UID] {
			c.assumed.Delete(k)
		} else {
			pods = append(pods, p)
		}
		return true
	})
	return node, pods, nil
}

// settle moves a pod on the virtual node to its VM capacity when the
// placeholder runs there, or at once when the virtual node cannot run it.
func (c *Controller) settle(ctx context.Context, pod *corev1.Pod) (reconcile.Result, error) {
	owner := metav1.GetControllerOf(pod)
	if owner == nil {
		// Orphaned (its owner deleted with --cascade=orphan): no one would
		// replace it, so it stays where it runs and needs no VM.
		if err := c.deletePlaceholder(ctx, pod); err != nil {
			return reconcile.Result{}, err
		}
		log.FromContext(ctx).Info("burst pod has no owner any more; left on the virtual node, placeholder removed")
		return reconcile.Result{}, nil
	}
	if stuckOnVirtualNode(pod) {
		c.refusedOwners.Set(string(owner.UID), pod.Status.Reason+": "+pod.Status.Message, refusedTTL)
		return c.evict(ctx, pod, "aci_refused", fmt.Sprintf("the virtual node could not run it (%s: %s); its replacement waits for a VM", pod.Status.Reason, pod.Status.Message))
	}
	ph := &corev1.Pod{}
	if err := c.kubeClient.Get(ctx, types.NamespacedName{Namespace: pod.Namespace, Name: PlaceholderName(pod)}, ph); err != nil {
		if !errors.IsNotFound(err) {
			return reconcile.Result{}, err
		}
		// Preempted by real work, evicted by consolidation, or never made
		// (a crash after the binding): karpenter must size VMs for it again.
		return reconcile.Result{}, c.ensurePlaceholder(ctx, pod)
	}
	if ph.Spec.NodeName == "" || ph.Spec.NodeName == c.opts.VirtualNodeName || ph.Status.Phase != corev1.PodRunning {
		return reconcile.Result{}, nil // its events bring the pod back
	}
	node := &corev1.Node{}
	if err := c.kubeClient.Get(ctx, types.NamespacedName{Name: ph.Spec.NodeName}, node); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !nodeReady(node) {
		return reconcile.Result{RequeueAfter: 10 * time.Second}, nil
	}
	return c.evict(ctx, pod, "vm_ready", fmt.Sprintf("its VM capacity runs on node %s; the replacement goes there", node.Name))
}

// evict evicts a burst pod through the Eviction API (its PDB decides) and
// removes the placeholder once the eviction is accepted.
func (c *Controller) evict(ctx context.Context, pod *corev1.Pod, reason, why string) (reconcile.Result, error) {
	key := string(pod.UID)
	if c.evictions.IsInBackOffSinceUpdate(key, c.clock.Now()) {
		return reconcile.Result{RequeueAfter: c.evictions.Get(key)}, nil
	}
	eviction := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace},
		DeleteOptions: &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}}}
	if err := c.kubeClient.SubResource("eviction").Create(ctx, pod, eviction); err != nil {
		switch {
		case errors.IsNotFound(err):
			return reconcile.Result{}, nil
		case errors.IsTooManyRequests(err):
			c.evictions.Next(key, c.clock.Now())
			wait := c.evictions.Get(key)
			settleBlocked.Inc(nil)
			c.recorder.Publish(events.Event{InvolvedObject: pod, Type: corev1.EventTypeWarning, Reason: ReasonSettleBlockedByPDB,
				Message:      fmt.Sprintf("Cannot move to a VM yet, %s: %s; retrying in %s", why, errorMessage(err), wait.Round(time.Second)),
				DedupeValues: []string{string(pod.UID)}})
			log.FromContext(ctx).Info("settling blocked by a PodDisruptionBudget", "retry-in", wait, "error", errorMessage(err))
			return reconcile.Result{RequeueAfter: wait}, nil
		default:
			return reconcile.Result{}, fmt.Errorf("evicting burst pod: %w", err)
		}
	}
	c.evictions.Reset(key)
	if err := c.deletePlaceholder(ctx, pod); err != nil {
		return reconcile.Result{}, err
	}
	seconds := c.onACI(pod)
	settled.Inc(map[string]string{"reason": reason})
	burstSeconds.Observe(seconds, map[string]string{"reason": reason})
	cost := ""
	if c.opts.Prices != nil {
		if prices, ok := c.opts.Prices.ContainerPrices(); ok {
			r := containerinstance.GroupResources(pod)
			if dollars, ok := prices.Cost(r.CPU, r.MemoryGB, seconds, false); ok {
				aciCost.Add(dollars, nil)
				cost = fmt.Sprintf(", about $%.5f on ACI", dollars)
			}
		}
	}
	c.recorder.Publish(events.Event{InvolvedObject: pod, Type: corev1.EventTypeNormal, Reason: ReasonSettled,
		Message:      fmt.Sprintf("Evicted from virtual node %s after %.0fs%s: %s", c.opts.VirtualNodeName, seconds, cost, why),
		DedupeValues: []string{string(pod.UID)}})
	log.FromContext(ctx).Info("settled burst pod", "reason", reason, "seconds-on-aci", seconds)
	return reconcile.Result{}, nil
}

// onACI is how long the pod has been on the virtual node.
func (c *Controller) onACI(pod *corev1.Pod) float64 {
	at, err := time.Parse(time.RFC3339Nano, pod.Annotations[AnnotationBurstedAt])
	if err != nil {
		return 0
	}
	return max(0, c.clock.Since(at).Seconds())
}

// ensurePlaceholder creates the pod's placeholder (and its PriorityClass)
// unless it exists.
func (c *Controller) ensurePlaceholder(ctx context.Context, pod *corev1.Pod) error {
	if err := c.ensurePriorityClass(ctx); err != nil {
		return err
	}
	ph := Placeholder(pod, c.opts.PlaceholderImage)
	if err := c.kubeClient.Create(ctx, ph); err != nil && !errors.IsAlreadyExists(err) {
		return fmt.Errorf("creating placeholder %s: %w", ph.Name, err)
	}
	return nil
}

func (c *Controller) ensurePriorityClass(ctx context.Context) error {
	c.classOnce.Lock()
	defer c.classOnce.Unlock()
	if c.classOK {
		return nil
	}
	// Create, not read: the chart makes the class, and the controller
	// needs no watch on PriorityClasses for a one-time check.
	if err := c.kubeClient.Create(ctx, PriorityClass()); err != nil && !errors.IsAlreadyExists(err) {
		return fmt.Errorf("PriorityClass %s: %w", PriorityClassName, err)
	}
	c.classOK = true
	return nil
}

// deletePlaceholder deletes the pod's placeholder at once (grace 0) if
// the cache shows one: most opted-in pods run on VMs and have none.
func (c *Controller) deletePlaceholder(ctx context.Context, pod *corev1.Pod) error {
	ph := &corev1.Pod{}
	if err := c.kubeClient.Get(ctx, types.NamespacedName{Namespace: pod.Namespace, Name: PlaceholderName(pod)}, ph); err != nil {
		return client.IgnoreNotFound(err)
	}
	err := c.kubeClient.Delete(ctx, ph, client.GracePeriodSeconds(0), client.Preconditions{UID: &ph.UID})
	if err != nil && !errors.IsNotFound(err) && !errors.IsConflict(err) {
		return fmt.Errorf("deleting placeholder %s: %w", ph.Name, err)
	}
	return nil
}

func errorMessage(err error) string {
	if s, ok := err.(errors.APIStatus); ok {
		return s.Status().Message
	}
	return err.Error()
}

func klogRef(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

// Register watches pods (opted-in pods, and placeholders for their burst
// pod) and nodes (the virtual node's state for pods waiting on it; a VM
// turning Ready for the placeholders on it).
func (c *Controller) Register(_ context.Context, m manager.Manager) error {
	return controllerruntime.NewControllerManagedBy(m).
		Named(c.Name()).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(podRequests)).
		Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(c.nodeRequests)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 1}).
		Complete(c)
}

// podRequests maps a pod event to the burst pod it concerns.
func podRequests(_ context.Context, o client.Object) []reconcile.Request {
	pod := o.(*corev1.Pod)
	if IsPlaceholder(pod) {
		if owner := metav1.GetControllerOf(pod); owner != nil && owner.Kind == "Pod" {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: pod.Namespace, Name: owner.Name}}}
		}
		return nil
	}
	if OptedIn(pod) {
		return []reconcile.Request{{NamespacedName: client.ObjectKeyFromObject(pod)}}
	}
	return nil
}

// nodeRequests maps the virtual node's events to the opted-in pods waiting
// for a node, and a VM's to the burst pods whose placeholders run on it.
func (c *Controller) nodeRequests(ctx context.Context, o client.Object) []reconcile.Request {
	node := o.(*corev1.Node)
	list := &corev1.PodList{}
	var out []reconcile.Request
	if node.Name == c.opts.VirtualNodeName {
		if err := c.kubeClient.List(ctx, list, client.MatchingFields{"spec.nodeName": ""}); err != nil {
			log.FromContext(ctx).Error(err, "listing pending pods")
			return nil
		}
		for i := range list.Items {
			if p := &list.Items[i]; OptedIn(p) && unschedulable(p) {
				out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(p)})
			}
		}
		return out
	}
	if !nodeReady(node) {
		return nil
	}
	if err := c.kubeClient.List(ctx, list, client.MatchingFields{"spec.nodeName": node.Name}, client.HasLabels{LabelPlaceholderFor}); err != nil {
		log.FromContext(ctx).Error(err, "listing placeholders", "Node", node.Name)
		return nil
	}
	for i := range list.Items {
		out = append(out, podRequests(ctx, &list.Items[i])...)
	}
	return out
}
