package plan_test

import (
	"context"
	"fmt"
	"math/rand"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/cloudprovider/fake"
	coretest "sigs.k8s.io/karpenter/pkg/test"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/plan"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instancetype"
)

// BenchmarkScheduling runs karpenter core's scheduler (Scheduler.Solve, no
// API I/O) on the pod mix of core's own scheduling_benchmark_test.go (build
// tag test_performance): fifths of generic, zonal topology spread, hostname
// topology spread, zonal self-affinity and hostname anti-affinity pods, each
// requesting 100m–1.5 CPU and 100Mi–4Gi. It runs the same pods against core's
// 400 fake instance types and against ours built from azuresim's whole
// eastus catalog, in the same run, so the ratio of their pods/sec says what
// our catalog costs the scheduler:
//
//	go test -run '^$' -bench BenchmarkScheduling -count 6 ./pkg/plan/ | tee new.txt
//	benchstat -col /types new.txt
//
// Each iteration builds a fresh scheduler (untimed) and solves once; core's
// benchmark reuses one scheduler, whose second Solve starts from the first's
// NodeClaims.
func BenchmarkScheduling(b *testing.B) {
	catalogs := []struct {
		name  string
		types func(b *testing.B) ([]*cloudprovider.InstanceType, *karpv1.NodePool)
	}{
		{"core-fake-400", coreFakeTypes},
		{"azure-eastus-all", eastusAllTypes},
		{"azure-eastus", eastusTypes},
	}
	for _, n := range []int{1000, 5000, 10000} {
		for _, c := range catalogs {
			b.Run(fmt.Sprintf("types=%s/pods=%d", c.name, n), func(b *testing.B) {
				its, np := c.types(b)
				benchmarkSolve(b, np, its, diversePods(n))
			})
		}
	}
}

func benchmarkSolve(b *testing.B, np *karpv1.NodePool, its []*cloudprovider.InstanceType, pods []*corev1.Pod) {
	ctx, err := plan.CoreContext(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	var solving, cpu time.Duration
	nodes := 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		s, err := plan.NewScheduler(ctx, nil, []*karpv1.NodePool{np}, map[string][]*cloudprovider.InstanceType{np.Name: its}, pods, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start, cpuStart := time.Now(), processCPU()
		results, err := s.Solve(ctx, pods)
		solving += time.Since(start)
		cpu += processCPU() - cpuStart
		if err != nil {
			b.Fatal(err)
		}
		if len(results.PodErrors) > 0 {
			for p, err := range results.PodErrors {
				b.Fatalf("%d of %d pods did not schedule, e.g. %s: %v", len(results.PodErrors), len(pods), p.Name, err)
			}
		}
		nodes = len(results.NewNodeClaims)
	}
	b.ReportMetric(float64(len(pods))*float64(b.N)/solving.Seconds(), "pods/sec")
	// On a shared machine wall time includes waiting for a CPU; the CPU time
	// the process spent is steadier under load.
	b.ReportMetric(float64(len(pods))*float64(b.N)/cpu.Seconds(), "pods/cpu-sec")
	b.ReportMetric(float64(nodes), "nodeclaims")
	offered := 0
	for _, it := range its {
		if len(it.Offerings.Available()) > 0 {
			offered++
		}
	}
	b.ReportMetric(float64(offered), "instancetypes")
}

// processCPU is the CPU time (user and system) the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchNodePool is the NodePool of core's benchmark: no requirements and
// limits that never bind.
func benchNodePool(group, kind, name string) *karpv1.NodePool {
	np := &karpv1.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: karpv1.NodePoolSpec{
			Limits: karpv1.Limits{corev1.ResourceCPU: resource.MustParse("10000000"), corev1.ResourceMemory: resource.MustParse("10000000Gi")},
			Template: karpv1.NodeClaimTemplate{Spec: karpv1.NodeClaimTemplateSpec{
				NodeClassRef: &karpv1.NodeClassReference{Group: group, Kind: kind, Name: name},
				Requirements: []karpv1.NodeSelectorRequirementWithMinValues{},
			}},
		},
	}
	np.StatusConditions().SetTrue(karpv1.ConditionTypeValidationSucceeded)
	np.StatusConditions().SetTrue(karpv1.ConditionTypeNodeClassReady)
	return np
}

func coreFakeTypes(*testing.B) ([]*cloudprovider.InstanceType, *karpv1.NodePool) {
	return fake.InstanceTypes(400), benchNodePool("karpenter.test.sh", "TestNodeClass", "default")
}

// eastusAllTypes is every size the NodeClass can launch (the provider's
// List), as GetInstanceTypes returned them before NodePools were offered
// fewer sizes.
func eastusAllTypes(b *testing.B) ([]*cloudprovider.InstanceType, *karpv1.NodePool) {
	b.Helper()
	return eastusCatalog(b), benchNodePool("karpenter.azure.com", "AKSNodeClass", "default")
}

// eastusTypes is what GetInstanceTypes returns for the NodePool: dominated
// and outsized sizes without available offerings.
func eastusTypes(b *testing.B) ([]*cloudprovider.InstanceType, *karpv1.NodePool) {
	b.Helper()
	np := benchNodePool("karpenter.azure.com", "AKSNodeClass", "default")
	return instancetype.ForNodePool(eastusCatalog(b), &v1beta1.AKSNodeClass{}, np), np
}

// podRand draws the pod mix; diversePods reseeds it with core's seed, so
// every catalog is given the very same pods.
var podRand *rand.Rand

func diversePods(count int) []*corev1.Pod {
	podRand = rand.New(rand.NewSource(42)) // benchmark data, not security
	var pods []*corev1.Pod
	fifth := count / 5
	pods = append(pods, genericPods(fifth)...)
	pods = append(pods, spreadPods(fifth, corev1.LabelTopologyZone)...)
	pods = append(pods, spreadPods(fifth, corev1.LabelHostname)...)
	pods = append(pods, affinityPods(fifth, corev1.LabelTopologyZone)...)
	pods = append(pods, antiAffinityPods(fifth, corev1.LabelHostname)...)
	return append(pods, genericPods(count-len(pods))...)
}

func requests() corev1.ResourceRequirements {
	cpu := []int{100, 250, 500, 1000, 1500}
	mem := []int{100, 256, 512, 1024, 2048, 4096}
	return corev1.ResourceRequirements{Requests: corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(fmt.Sprintf("%dm", cpu[podRand.Intn(len(cpu))])),
		corev1.ResourceMemory: resource.MustParse(fmt.Sprintf("%dMi", mem[podRand.Intn(len(mem))])),
	}}
}

func labelValue() string {
	values := []string{"a", "b", "c", "d", "e", "f", "g"}
	return values[podRand.Intn(len(values))]
}

func genericPods(n int) []*corev1.Pod {
	var pods []*corev1.Pod
	for range n {
		pods = append(pods, coretest.Pod(coretest.PodOptions{
			ObjectMeta:           metav1.ObjectMeta{Labels: map[string]string{"my-label": labelValue()}, UID: uuid.NewUUID()},
			ResourceRequirements: requests(),
		}))
	}
	return pods
}

func spreadPods(n int, key string) []*corev1.Pod {
	var pods []*corev1.Pod
	for range n {
		pods = append(pods, coretest.Pod(coretest.PodOptions{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"my-label": labelValue()}, UID: uuid.NewUUID()},
			TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
				MaxSkew: 1, TopologyKey: key, WhenUnsatisfiable: corev1.DoNotSchedule,
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"my-label": labelValue()}},
			}},
			ResourceRequirements: requests(),
		}))
	}
	return pods
}

func affinityPods(n int, key string) []*corev1.Pod {
	var pods []*corev1.Pod
	for range n {
		// Self-affinity, as core's benchmark: affinity to another pod's
		// domain could leave pods unschedulable.
		labels := map[string]string{"my-affininity": labelValue()}
		pods = append(pods, coretest.Pod(coretest.PodOptions{
			ObjectMeta:           metav1.ObjectMeta{Labels: labels, UID: uuid.NewUUID()},
			PodRequirements:      []corev1.PodAffinityTerm{{LabelSelector: &metav1.LabelSelector{MatchLabels: labels}, TopologyKey: key}},
			ResourceRequirements: requests(),
		}))
	}
	return pods
}

func antiAffinityPods(n int, key string) []*corev1.Pod {
	labels := map[string]string{"app": "nginx"}
	var pods []*corev1.Pod
	for range n {
		pods = append(pods, coretest.Pod(coretest.PodOptions{
			ObjectMeta:           metav1.ObjectMeta{Labels: labels, UID: uuid.NewUUID()},
			PodAntiRequirements:  []corev1.PodAffinityTerm{{LabelSelector: &metav1.LabelSelector{MatchLabels: labels}, TopologyKey: key}},
			ResourceRequirements: requests(),
		}))
	}
	return pods
}
