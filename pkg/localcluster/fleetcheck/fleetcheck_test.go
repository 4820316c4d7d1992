package fleetcheck

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/utils/resources"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
)

// The monitor reads a fake client here: these tests feed it each kind of
// violation and check that it is reported, with the object and the figures,
// and that a healthy fleet reports none. The e2e suites run it against the
// real local cluster.

const settle = 15 * time.Second

// fleet is a cluster's objects and the simulator's VMs, as the monitor sees
// them.
type fleet struct {
	objects []client.Object
	vms     []azuresim.VMState
}

func resourceList(cpu, memory string, pods int64) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse(cpu),
		corev1.ResourceMemory:           resource.MustParse(memory),
		corev1.ResourcePods:             *resource.NewQuantity(pods, resource.DecimalSI),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
}

// node adds a NodeClaim of pool, its VM and its Node, each with capacity
// and allocatable as promised; it returns the Node and the NodeClaim to
// change.
func (f *fleet) node(name, pool string) (*corev1.Node, *karpv1.NodeClaim) {
	providerID := "azure:///subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/" + name
	capacity, allocatable := resourceList("2", "8Gi", 30), resourceList("1900m", "5Gi", 30)
	claim := &karpv1.NodeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{karpv1.NodePoolLabelKey: pool}},
		Status:     karpv1.NodeClaimStatus{ProviderID: providerID, Capacity: capacity.DeepCopy(), Allocatable: allocatable.DeepCopy()},
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{karpv1.NodePoolLabelKey: pool, corev1.LabelInstanceTypeStable: "Standard_D2s_v5"}},
		Spec:       corev1.NodeSpec{ProviderID: providerID},
		Status:     corev1.NodeStatus{Capacity: capacity.DeepCopy(), Allocatable: allocatable.DeepCopy()},
	}
	f.objects = append(f.objects, claim, node)
	f.vms = append(f.vms, azuresim.VMState{Name: name, ProvisioningState: "Succeeded", Tags: map[string]string{tagNodeClaim: name}})
	return node, claim
}

// pool adds a NodePool whose status.resources are the sum of n nodes of
// node's size.
func (f *fleet) pool(name string, n int64) *karpv1.NodePool {
	sum := corev1.ResourceList{}
	for range n {
		for k, v := range resourceList("2", "8Gi", 30) {
			q := sum[k]
			q.Add(v)
			sum[k] = q
		}
	}
	sum[resources.Node] = *resource.NewQuantity(n, resource.DecimalSI)
	p := &karpv1.NodePool{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: karpv1.NodePoolStatus{Resources: sum}}
	f.objects = append(f.objects, p)
	return p
}

func (f *fleet) pod(name, node, cpu string) {
	f.objects = append(f.objects, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)},
		}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	})
}

// monitor builds a monitor on the fleet, with a fake clock at a fixed start.
func (f *fleet) monitor(opts Options) (*Monitor, *clocktesting.FakeClock) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	opts.Clock, opts.Settle = clk, settle
	opts.VMs = func(context.Context) ([]azuresim.VMState, error) { return f.vms, nil }
	reader := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(f.objects...).Build()
	return newMonitor(opts, reader), clk
}

// healthy is two nodes of pool "default", one with a pod that fits.
func healthy() *fleet {
	f := &fleet{}
	f.node("aks-default-a", "default")
	f.node("aks-default-b", "default")
	f.pool("default", 2)
	f.pod("web-1", "aks-default-a", "1")
	return f
}

// sampleSettled samples, lets the fleet hold still past the settle time and
// samples again, so every invariant, the NodePool sums included, applies.
func sampleSettled(m *Monitor, clk *clocktesting.FakeClock) {
	m.Sample(context.Background())
	clk.Step(settle)
	m.Sample(context.Background())
}

func expectViolation(t *testing.T, m *Monitor, invariant, object string, detail ...string) {
	t.Helper()
	vs := m.Violations()
	if len(vs) != 1 {
		t.Fatalf("want one %s violation, got %d: %v", invariant, len(vs), vs)
	}
	v := vs[0]
	if v.Invariant != invariant || v.Object != object {
		t.Fatalf("want %s on %s, got %s", invariant, object, v)
	}
	for _, d := range detail {
		if !strings.Contains(v.Detail, d) {
			t.Errorf("detail %q does not say %q", v.Detail, d)
		}
	}
	if err := m.Err(); err == nil || !strings.Contains(err.Error(), invariant) {
		t.Errorf("Err() = %v, want the %s violation", err, invariant)
	}
}

func TestHealthyFleetHasNoViolation(t *testing.T) {
	m, clk := healthy().monitor(Options{})
	sampleSettled(m, clk)
	if err := m.Err(); err != nil {
		t.Fatal(err)
	}
	checked := m.Checked()
	if checked.Samples != 2 || checked.NodeSamples != 4 || checked.MaxNodes != 2 || checked.MaxBoundPods != 1 || checked.PoolChecks != 1 {
		t.Fatalf("checked %+v: want 2 samples of 2 nodes and 1 pod, the pool compared once", checked)
	}
}

func TestNodeCapacityNotTheVMs(t *testing.T) {
	f := healthy()
	node, _ := f.node("aks-default-c", "default")
	// The node reports a D4's CPUs where its NodeClaim promised a D2's.
	node.Status.Capacity[corev1.ResourceCPU] = resource.MustParse("4")
	m, _ := f.monitor(Options{})
	m.Sample(context.Background())
	expectViolation(t, m, InvariantNodeIsVM, "Node aks-default-c (NodeClaim aks-default-c, Standard_D2s_v5)", "capacity cpu 4, promised 2")
}

func TestNodeAllocatableNotTheVMs(t *testing.T) {
	f := &fleet{}
	_, claim := f.node("aks-default-a", "default")
	claim.Status.Allocatable[corev1.ResourceMemory] = resource.MustParse("6Gi")
	m, _ := f.monitor(Options{})
	m.Sample(context.Background())
	expectViolation(t, m, InvariantNodeIsVM, "Node aks-default-a (NodeClaim aks-default-a, Standard_D2s_v5)", "allocatable memory 5Gi, promised 6Gi")
}

func TestRealMachineNodeIsLeftOut(t *testing.T) {
	f := &fleet{}
	node, _ := f.node("aks-real-a", "default")
	node.Status.Capacity[corev1.ResourceCPU] = resource.MustParse("64")
	m, _ := f.monitor(Options{RealMachine: func(n *corev1.Node) bool { return n.Name == "aks-real-a" }})
	m.Sample(context.Background())
	if err := m.Err(); err != nil {
		t.Fatalf("a real machine's node is not its VM, and must not be held to it: %v", err)
	}
}

func TestOvercommit(t *testing.T) {
	f := healthy()
	// 1 + 1.5 CPU on a node with 1.9 allocatable.
	f.pod("web-2", "aks-default-a", "1500m")
	m, _ := f.monitor(Options{})
	m.Sample(context.Background())
	expectViolation(t, m, InvariantNoOvercommit, "Node aks-default-a (Standard_D2s_v5)", "2 pods request cpu 2500m, allocatable is 1900m")
}

func TestFinishedPodsDoNotCount(t *testing.T) {
	f := healthy()
	f.pod("job-1", "aks-default-a", "1500m")
	f.objects[len(f.objects)-1].(*corev1.Pod).Status.Phase = corev1.PodSucceeded
	m, _ := f.monitor(Options{})
	m.Sample(context.Background())
	if err := m.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestNodePoolResourcesNotAddingUp(t *testing.T) {
	f := &fleet{}
	f.node("aks-default-a", "default")
	f.node("aks-default-b", "default")
	// The pool claims three nodes' worth; it has two.
	f.pool("default", 3)
	m, clk := f.monitor(Options{})
	m.Sample(context.Background())
	clk.Step(settle - time.Second)
	m.Sample(context.Background())
	if err := m.Err(); err != nil {
		t.Fatalf("reported before the fleet settled, while core's counter may still catch up: %v", err)
	}
	clk.Step(time.Second)
	m.Sample(context.Background())
	vs := m.Violations()
	if len(vs) != 5 {
		t.Fatalf("want a violation for each of cpu, memory, pods, ephemeral-storage and nodes, got %v", vs)
	}
	for _, v := range vs {
		if v.Invariant != InvariantNodePoolResources || v.Object != "NodePool default" {
			t.Errorf("unexpected violation %s", v)
		}
	}
	if !strings.Contains(vs[0].Detail, "cpu 6, its 2 nodes have 4") || !strings.Contains(vs[4].Detail, "nodes 3, it has 2") {
		t.Errorf("details do not give the figures: %v", vs)
	}
}

// Core's counter waits while any NodeClaim has no provider ID (its cluster
// state is unsynced): stale resources are no violation then, in any pool,
// and the settle time starts once every NodeClaim is launched.
func TestNodePoolResourcesWaitForEveryLaunch(t *testing.T) {
	f := &fleet{}
	f.node("aks-default-a", "default")
	f.node("aks-default-b", "default")
	f.pool("default", 1) // stale: one node's worth
	// A NodeClaim of another pool whose launch has not returned.
	f.objects = append(f.objects, &karpv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{Name: "aks-batch-x", Labels: map[string]string{karpv1.NodePoolLabelKey: "batch"}}})
	m, clk := f.monitor(Options{})
	sampleSettled(m, clk)
	clk.Step(settle)
	m.Sample(context.Background())
	if err := m.Err(); err != nil {
		t.Fatalf("reported while a NodeClaim is unlaunched and core's counter waits: %v", err)
	}

	// The launch returns: the pool's sum must now settle before it counts.
	claim := &karpv1.NodeClaim{}
	if err := m.reader.Get(context.Background(), client.ObjectKey{Name: "aks-batch-x"}, claim); err != nil {
		t.Fatal(err)
	}
	claim.Status.ProviderID = "azure:///subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/aks-batch-x"
	if err := m.reader.(client.Client).Update(context.Background(), claim); err != nil {
		t.Fatal(err)
	}
	m.Sample(context.Background())
	clk.Step(settle - time.Second)
	m.Sample(context.Background())
	if err := m.Err(); err != nil {
		t.Fatalf("reported before the sum was steady for the settle time after the last launch: %v", err)
	}
	clk.Step(time.Second)
	m.Sample(context.Background())
	if err := m.Err(); err == nil || !strings.Contains(err.Error(), "NodePool default") {
		t.Fatalf("Err() = %v, want the stale NodePool default once every NodeClaim is launched", err)
	}
}

func TestNodePoolResourcesLeaveOutDeletingNodes(t *testing.T) {
	f := &fleet{}
	f.node("aks-default-a", "default")
	node, _ := f.node("aks-default-b", "default")
	node.Spec.Taints = []corev1.Taint{{Key: karpv1.DisruptedTaintKey, Effect: corev1.TaintEffectNoSchedule}}
	f.pool("default", 1)
	m, clk := f.monitor(Options{})
	sampleSettled(m, clk)
	if err := m.Err(); err != nil {
		t.Fatalf("core's counter leaves out a disrupted node, and so must the check: %v", err)
	}
}

func TestTwoVMsForOneNodeClaim(t *testing.T) {
	f := healthy()
	f.vms = append(f.vms, azuresim.VMState{Name: "aks-default-a2", ProvisioningState: "Creating", Tags: map[string]string{tagNodeClaim: "aks-default-a"}})
	m, _ := f.monitor(Options{})
	m.Sample(context.Background())
	expectViolation(t, m, InvariantOneVMPerNodeClaim, "NodeClaim aks-default-a", "2 VMs: aks-default-a (Succeeded), aks-default-a2 (Creating)")
}

func TestViolationReportedOnce(t *testing.T) {
	f := healthy()
	f.pod("web-2", "aks-default-a", "1500m")
	m, _ := f.monitor(Options{})
	for range 3 {
		m.Sample(context.Background())
	}
	if n := len(m.Violations()); n != 1 {
		t.Fatalf("the same violation at 3 samples is one violation, got %d", n)
	}
	if m.Checked().Samples != 3 {
		t.Fatalf("samples %d", m.Checked().Samples)
	}
}
