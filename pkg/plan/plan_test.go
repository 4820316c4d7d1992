package plan_test

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/scheduling"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/plan"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

// instanceType is a hand-made size offered on demand in one zone, with no
// overhead (allocatable = capacity).
func instanceType(name string, cpu int, memGiB int, price float64) *cloudprovider.InstanceType {
	return &cloudprovider.InstanceType{
		Name: name,
		Requirements: scheduling.NewRequirements(
			scheduling.NewRequirement(corev1.LabelInstanceTypeStable, corev1.NodeSelectorOpIn, name),
			scheduling.NewRequirement(corev1.LabelTopologyZone, corev1.NodeSelectorOpIn, "z1"),
			scheduling.NewRequirement(karpv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, karpv1.CapacityTypeOnDemand),
		),
		Offerings: cloudprovider.Offerings{{
			Requirements: scheduling.NewLabelRequirements(map[string]string{corev1.LabelTopologyZone: "z1", karpv1.CapacityTypeLabelKey: karpv1.CapacityTypeOnDemand}),
			Price:        price, Available: true,
		}},
		Capacity: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(fmt.Sprint(cpu)), corev1.ResourceMemory: resource.MustParse(fmt.Sprintf("%dGi", memGiB)),
			corev1.ResourcePods: resource.MustParse("110"),
		},
		Overhead: &cloudprovider.InstanceTypeOverhead{},
	}
}

func pods(n int, cpu, mem string, selector map[string]string) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range n {
		out = append(out, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%s%s-%d", cpu, mem, i), Namespace: "default"},
			Spec: corev1.PodSpec{NodeSelector: selector, Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem),
			}}}}},
		})
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

// The bound worked out by hand: 10 pods of 1 CPU and 1GiB over A (4 CPU,
// 16GiB, $0.40) and B (8 CPU, 8GiB, $0.60). CPU costs 0.1/core on A and
// 0.075 on B; 1.25 B cover 10 cores and 10GiB: $0.75.
func TestLowerBound(t *testing.T) {
	np := &karpv1.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "np"}}
	in := &plan.Input{Pods: pods(10, "1", "1Gi", nil), NodePools: []*karpv1.NodePool{np}}
	byPool := map[string][]*cloudprovider.InstanceType{"np": {instanceType("A", 4, 16, 0.40), instanceType("B", 8, 8, 0.60)}}
	b, err := plan.LowerBound(in, byPool)
	if err != nil {
		t.Fatal(err)
	}
	if !near(b.PerHour, 0.75) || len(b.Components) != 1 || len(b.Components[0].Cover) != 1 || b.Components[0].Cover[0].InstanceType != "B" || !near(b.Components[0].Cover[0].Count, 1.25) {
		t.Fatalf("bound %+v, want 1.25 × B = $0.75", b)
	}

	// Memory-heavy pods make A the cheaper cover: 10 × (1 CPU, 6GiB) needs
	// 60GiB: 3.75 A = $1.50 (cpu 15 ≥ 10), against 7.5 B = $4.50.
	in.Pods = pods(10, "1", "6Gi", nil)
	if b, _ = plan.LowerBound(in, byPool); !near(b.PerHour, 1.5) {
		t.Fatalf("bound %+v, want $1.50", b)
	}

	// Pods that select a size form a component of their own.
	in.Pods = append(pods(4, "1", "1Gi", map[string]string{corev1.LabelInstanceTypeStable: "A"}), pods(8, "1", "1Gi", map[string]string{corev1.LabelInstanceTypeStable: "B"})...)
	b, err = plan.LowerBound(in, byPool)
	if err != nil {
		t.Fatal(err)
	}
	// 4 cores on A: 1 × $0.40; 8 cores on B: 1 × $0.60.
	if len(b.Components) != 2 || !near(b.PerHour, 1.0) {
		t.Fatalf("bound %+v, want two components at $1.00", b)
	}

	// The same size under two NodeClasses (Linux and Windows prices) is two
	// offerings: Linux pods are bounded by the Linux price.
	linux := &karpv1.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "linux"}, Spec: karpv1.NodePoolSpec{Template: karpv1.NodeClaimTemplate{
		ObjectMeta: karpv1.ObjectMeta{Labels: map[string]string{"os": "linux"}},
		Spec:       karpv1.NodeClaimTemplateSpec{NodeClassRef: &karpv1.NodeClassReference{Name: "ubuntu"}}}}}
	windows := &karpv1.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "windows"}, Spec: karpv1.NodePoolSpec{Template: karpv1.NodeClaimTemplate{
		ObjectMeta: karpv1.ObjectMeta{Labels: map[string]string{"os": "windows"}},
		Spec:       karpv1.NodeClaimTemplateSpec{NodeClassRef: &karpv1.NodeClassReference{Name: "windows"}}}}}
	two := &plan.Input{NodePools: []*karpv1.NodePool{windows, linux},
		Pods: append(pods(8, "1", "1Gi", map[string]string{"os": "linux"}), pods(8, "1", "1Gi", map[string]string{"os": "windows"})...)}
	b, err = plan.LowerBound(two, map[string][]*cloudprovider.InstanceType{"linux": {instanceType("B", 8, 8, 0.60)}, "windows": {instanceType("B", 8, 8, 1.00)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Components) != 2 || !near(b.PerHour, 1.6) {
		t.Fatalf("bound %+v, want one B at $0.60 for Linux and one at $1.00 for Windows", b)
	}

	// GPUs count when requested: a GPU pod with no GPU offering makes an
	// infeasible component, which is reported and adds nothing.
	gpu := pods(1, "1", "1Gi", nil)
	gpu[0].Spec.Containers[0].Resources.Requests["nvidia.com/gpu"] = resource.MustParse("1")
	in.Pods = gpu
	if b, _ = plan.LowerBound(in, byPool); b.PerHour != 0 || b.Components[0].Infeasible == "" {
		t.Fatalf("bound %+v, want an infeasible component", b)
	}
}

// Solve runs core's scheduler on the examples' workload against eastus in
// azuresim: every pod placed, and the price at least the bound.
func TestSolveExamples(t *testing.T) {
	root, err := testutil.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	in, err := plan.ReadFiles(filepath.Join(root, "examples"))
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Pods) != 64 || len(in.NodePools) != 4 || len(in.NodeClasses) != 4 {
		t.Fatalf("read %d pods, %d NodePools, %d NodeClasses from examples/; want 64, 4, 4", len(in.Pods), len(in.NodePools), len(in.NodeClasses))
	}
	c := testCatalog(t)
	r, err := plan.Solve(context.Background(), in, c.InstanceTypes, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r.Summary())
	if r.ScheduledPods() != 64 || len(r.Unschedulable) > 0 {
		t.Fatalf("placed %d of 64 pods: %+v", r.ScheduledPods(), r.Unschedulable)
	}
	if r.LowerBound.PerHour <= 0 || r.PerHour < r.LowerBound.PerHour-1e-9 {
		t.Errorf("price $%.4f/h against bound $%.4f/h: a plan cannot beat its lower bound", r.PerHour, r.LowerBound.PerHour)
	}
	if r.Baseline.InstanceType != plan.BaselineSize || r.Baseline.Nodes == 0 || r.Baseline.NodePrice <= 0 {
		t.Errorf("baseline %+v", r.Baseline)
	}
	for _, nc := range r.NodeClaims {
		if nc.PricePerHour <= 0 || nc.Zone == "" || nc.CapacityType == "" || nc.Options == 0 {
			t.Errorf("incomplete NodeClaim %+v", nc)
		}
		if nc.NodePool == "spot" && nc.CapacityType != karpv1.CapacityTypeSpot {
			t.Errorf("the spot NodePool's NodeClaim is %s", nc.CapacityType)
		}
	}
}

type staticTypes []*cloudprovider.InstanceType

func (s staticTypes) List(context.Context, *v1beta1.AKSNodeClass) ([]*cloudprovider.InstanceType, error) {
	return s, nil
}
func (s staticTypes) ForNodePool(context.Context, *v1beta1.AKSNodeClass, *karpv1.NodePool) ([]*cloudprovider.InstanceType, error) {
	return s, nil
}

// First-fit decreasing by hand: 1.5, 1.5, 1.5, 0.5 ×4 CPU on 2-CPU nodes
// fill three nodes to 2.0 and open a fourth; a 3-CPU pod and a Windows pod
// fit no node of the pool.
func TestFixedPoolBaseline(t *testing.T) {
	ds2 := instanceType(plan.BaselineSize, 2, 4, 0.146)
	ds2.Requirements.Add(scheduling.NewRequirement(corev1.LabelOSStable, corev1.NodeSelectorOpIn, "linux"))
	ps := append(pods(4, "500m", "100Mi", nil), pods(3, "1500m", "1Gi", nil)...)
	ps = append(ps, pods(1, "3", "1Gi", nil)...)
	ps = append(ps, pods(1, "100m", "100Mi", map[string]string{corev1.LabelOSStable: "windows"})...)
	b, err := plan.FixedPoolBaseline(context.Background(), ps, staticTypes{ds2})
	if err != nil {
		t.Fatal(err)
	}
	if b.Nodes != 4 || b.Unplaced != 2 || !near(b.PerHour, 4*0.146) {
		t.Fatalf("baseline %+v, want 4 nodes ($0.584/h) and 2 unplaced pods", b)
	}
}
