package framework

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
)

// Tag keys the provider writes on every VM (pkg/providers/instance).
const (
	TagNodePool  = "karpenter.sh_nodepool"
	TagNodeClaim = "karpenter.sh_nodeclaim"
)

// Pod returns a pause pod requesting cpu and memory, pinned to a NodePool
// through the e2e/nodepool label ("" pins nothing).
func Pod(namespace, name, nodePool, cpu, memory string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: lo.ToPtr[int64](0),
			Containers: []corev1.Container{{
				Name: "app", Image: PauseImage,
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory),
				}},
			}},
		},
	}
	if nodePool != "" {
		p.Spec.NodeSelector = map[string]string{"e2e/nodepool": nodePool}
	}
	return p
}

// Pods lists the live pods of a namespace.
func Pods(ctx context.Context, c client.Client, namespace string, labels ...client.ListOption) ([]corev1.Pod, error) {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, append(labels, client.InNamespace(namespace))...); err != nil {
		return nil, err
	}
	return lo.Filter(pods.Items, func(p corev1.Pod, _ int) bool { return p.DeletionTimestamp.IsZero() }), nil
}

// NodeOf returns the Node a pod runs on.
func NodeOf(ctx context.Context, c client.Client, pod *corev1.Pod) (*corev1.Node, error) {
	var n corev1.Node
	if pod.Spec.NodeName == "" {
		return nil, fmt.Errorf("pod %s/%s is not bound", pod.Namespace, pod.Name)
	}
	return &n, c.Get(ctx, client.ObjectKey{Name: pod.Spec.NodeName}, &n)
}

// PoolNodes lists the Nodes and NodeClaims of a NodePool.
func PoolNodes(ctx context.Context, c client.Client, nodePool string) ([]corev1.Node, []karpv1.NodeClaim, error) {
	var nl corev1.NodeList
	if err := c.List(ctx, &nl, client.MatchingLabels{karpv1.NodePoolLabelKey: nodePool}); err != nil {
		return nil, nil, err
	}
	var cl karpv1.NodeClaimList
	if err := c.List(ctx, &cl, client.MatchingLabels{karpv1.NodePoolLabelKey: nodePool}); err != nil {
		return nil, nil, err
	}
	return nl.Items, cl.Items, nil
}

// VMsOf returns the simulator's VMs of a NodePool (by ownership tag).
func (e *Environment) VMsOf(ctx context.Context, nodePool string) ([]azuresim.VMState, error) {
	st, err := e.Sim.State(ctx)
	if err != nil {
		return nil, err
	}
	return lo.Filter(st.VMs, func(vm azuresim.VMState, _ int) bool { return vm.Tags[TagNodePool] == nodePool }), nil
}

// VMOfNode returns the simulator's VM behind a Node (by providerID).
func (e *Environment) VMOfNode(ctx context.Context, node *corev1.Node) (azuresim.VMState, error) {
	st, err := e.Sim.State(ctx)
	if err != nil {
		return azuresim.VMState{}, err
	}
	for _, vm := range st.VMs {
		if strings.EqualFold("azure://"+vm.ID, node.Spec.ProviderID) {
			return vm, nil
		}
	}
	return azuresim.VMState{}, fmt.Errorf("no VM in azuresim for node %s (%s)", node.Name, node.Spec.ProviderID)
}

// WaitPodsRunning waits until the namespace has want pods, all Running.
func (e *Environment) WaitPodsRunning(ctx context.Context, namespace string, want int, timeout time.Duration) error {
	return e.Eventually(ctx, timeout, fmt.Sprintf("%d pods Running in %s", want, namespace), func(ctx context.Context) (bool, error) {
		running, total, err := PodsRunning(ctx, e.Client, namespace)
		return total == want && running == total, err
	})
}

// Consistently checks cond every second for d and fails on the first
// sample where it does not hold (or the environment fails).
func (e *Environment) Consistently(ctx context.Context, d time.Duration, what string, cond func(context.Context) (bool, error)) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		ok, err := cond(ctx)
		if err != nil {
			return fmt.Errorf("checking that %s: %w", what, err)
		}
		if !ok {
			return fmt.Errorf("it stopped being true that %s", what)
		}
		if ferr := e.Failed(); ferr != nil {
			return fmt.Errorf("while checking that %s: %w", what, ferr)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return nil
}

// ConsistentlyNoNewNodeClaims checks every second for d that the NodePool
// makes no NodeClaim beyond those it has when the check starts, naming any
// that appears.
func (e *Environment) ConsistentlyNoNewNodeClaims(ctx context.Context, d time.Duration, nodePool string) error {
	names := func(ctx context.Context) (sets.Set[string], error) {
		_, claims, err := PoolNodes(ctx, e.Client, nodePool)
		return sets.New(lo.Map(claims, func(c karpv1.NodeClaim, _ int) string { return c.Name })...), err
	}
	before, err := names(ctx)
	if err != nil {
		return err
	}
	return e.Consistently(ctx, d, "NodePool "+nodePool+" makes no new NodeClaim", func(ctx context.Context) (bool, error) {
		now, err := names(ctx)
		if err != nil {
			return false, err
		}
		if fresh := now.Difference(before); fresh.Len() > 0 {
			return false, fmt.Errorf("new NodeClaims of NodePool %s: %v", nodePool, sets.List(fresh))
		}
		return true, nil
	})
}

// Cleanup deletes the objects and waits until their NodePools have no
// NodeClaim, Node or VM left, so one spec's fleet never spoils the next.
// Workloads go first, then NodePools, and AKSNodeClasses only once their
// nodes are gone (an AKSNodeClass has no finalizer yet to wait for them).
func (e *Environment) Cleanup(ctx context.Context, objs ...client.Object) error {
	var pools []string
	var classes []client.Object
	for _, o := range objs {
		switch o.(type) {
		case *karpv1.NodePool:
			pools = append(pools, o.GetName())
			continue
		case *v1beta1.AKSNodeClass:
			classes = append(classes, o)
			continue
		}
		if err := client.IgnoreNotFound(e.Client.Delete(ctx, o, client.PropagationPolicy(metav1.DeletePropagationBackground))); err != nil {
			return err
		}
	}
	for _, o := range objs {
		if _, ok := o.(*karpv1.NodePool); ok {
			if err := client.IgnoreNotFound(e.Client.Delete(ctx, o)); err != nil {
				return err
			}
		}
	}
	if err := e.Eventually(ctx, 4*time.Minute, fmt.Sprintf("NodePools %v without nodes or VMs", pools), func(ctx context.Context) (bool, error) {
		for _, p := range pools {
			nodes, claims, err := PoolNodes(ctx, e.Client, p)
			if err != nil || len(nodes)+len(claims) > 0 {
				return false, err
			}
			vms, err := e.VMsOf(ctx, p)
			if err != nil || len(vms) > 0 {
				return false, err
			}
		}
		return true, nil
	}); err != nil {
		return err
	}
	for _, o := range classes {
		if err := client.IgnoreNotFound(e.Client.Delete(ctx, o)); err != nil {
			return err
		}
	}
	return nil
}

// Taint returns a NoSchedule taint.
func Taint(key, value string) corev1.Taint {
	return corev1.Taint{Key: key, Value: value, Effect: corev1.TaintEffectNoSchedule}
}
