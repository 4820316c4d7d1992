package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize/convex/lp"
	corev1 "k8s.io/api/core/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	kscheduling "sigs.k8s.io/karpenter/pkg/scheduling"
	"sigs.k8s.io/karpenter/pkg/utils/resources"
)

// Bound is the LP relaxation of the workload's cost: the cheapest fractional
// cover of its total requests by the offerings its NodePools allow, which no
// real fleet can beat.
//
// Pods fall into components: two pods are in one component when some
// offering could hold either (same NodePools, labels and tolerations lead to
// the same offerings). No node can serve pods of two components, so the sum
// of the components' LPs is still a lower bound, and a tighter one than a
// single LP over everything when, say, Windows and Linux pods share a plan.
// Each component's LP is
//
//	minimise Σ price_i·x_i  subject to  Σ r_i·x_i ≥ R  for r in cpu, memory (GiB), pod slots, GPUs;  x ≥ 0
//
// over its allowed offerings' allocatable (rows for GPUs only when requested).
type Bound struct {
	PerHour    float64          `json:"pricePerHour"`
	Components []BoundComponent `json:"components"`
}

// BoundComponent is one LP.
type BoundComponent struct {
	Pods      int     `json:"pods"`
	CPU       float64 `json:"cpu"`
	MemoryGiB float64 `json:"memoryGiB"`
	GPUs      float64 `json:"gpus,omitempty"`
	PerHour   float64 `json:"pricePerHour"`
	// Offerings is how many offerings the LP chose from.
	Offerings int `json:"offerings"`
	// Cover is the LP's solution: fractional counts of offerings.
	Cover []CoverItem `json:"cover"`
	// Infeasible says why no cover exists (no allowed offering has a
	// resource the pods request); the component adds nothing to the bound.
	Infeasible string `json:"infeasible,omitempty"`
}

// CoverItem is a fractional number of nodes of one offering.
type CoverItem struct {
	InstanceType string  `json:"instanceType"`
	Zone         string  `json:"zone"`
	CapacityType string  `json:"capacityType"`
	Count        float64 `json:"count"`
}

// offeringVector is an offering as the LP sees it.
type offeringVector struct {
	instanceType, zone, capacityType string
	price                            float64
	cpu, memGiB, pods, gpus          float64
}

const gpuResources = "nvidia.com/gpu,amd.com/gpu"

func gpuCount(rl corev1.ResourceList) float64 {
	n := 0.0
	for _, name := range []corev1.ResourceName{"nvidia.com/gpu", "amd.com/gpu"} {
		if q, ok := rl[name]; ok {
			n += q.AsApproximateFloat64()
		}
	}
	return n
}

// LowerBound computes the bound of the input's pods over the NodePools'
// instance types (as GetInstanceTypes offers them: available offerings only).
func LowerBound(in *Input, byPool map[string][]*cloudprovider.InstanceType) (Bound, error) {
	// Pods with the same scheduling-relevant spec share their offerings.
	type group struct {
		pods      []*corev1.Pod
		offerings map[string]bool
	}
	groups := map[string]*group{}
	var order []string
	for _, p := range in.Pods {
		key := podShape(p)
		g, ok := groups[key]
		if !ok {
			g = &group{}
			groups[key] = g
			order = append(order, key)
		}
		g.pods = append(g.pods, p)
	}
	vectors := map[string]offeringVector{}
	for _, key := range order {
		g := groups[key]
		g.offerings = allowedOfferings(g.pods[0], in.NodePools, byPool, vectors)
	}
	// Union groups that share an offering.
	parent := make([]int, len(order))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		if parent[i] != i {
			parent[i] = find(parent[i])
		}
		return parent[i]
	}
	owner := map[string]int{}
	for i, key := range order {
		for o := range groups[key].offerings {
			if j, ok := owner[o]; ok {
				parent[find(i)] = find(j)
			} else {
				owner[o] = i
			}
		}
	}
	components := map[int][]int{}
	var roots []int
	for i := range order {
		r := find(i)
		if _, ok := components[r]; !ok {
			roots = append(roots, r)
		}
		components[r] = append(components[r], i)
	}
	var b Bound
	for _, r := range roots {
		var pods []*corev1.Pod
		offers := map[string]bool{}
		for _, i := range components[r] {
			g := groups[order[i]]
			pods = append(pods, g.pods...)
			for o := range g.offerings {
				offers[o] = true
			}
		}
		c, err := solveComponent(pods, offers, vectors)
		if err != nil {
			return Bound{}, err
		}
		b.PerHour += c.PerHour
		b.Components = append(b.Components, c)
	}
	b.PerHour = round(b.PerHour, 6)
	return b, nil
}

// podShape keys pods by what decides where they may run.
func podShape(p *corev1.Pod) string {
	key, _ := json.Marshal([]any{p.Spec.NodeSelector, p.Spec.Affinity, p.Spec.Tolerations, resources.RequestsForPods(p)})
	return string(key)
}

// allowedOfferings are the offerings (instance type/zone/capacity type)
// some NodePool could launch for the pod, recorded in vectors.
func allowedOfferings(p *corev1.Pod, nodePools []*karpv1.NodePool, byPool map[string][]*cloudprovider.InstanceType, vectors map[string]offeringVector) map[string]bool {
	out := map[string]bool{}
	podReqs := kscheduling.NewStrictPodRequirements(p)
	requests := resources.RequestsForPods(p)
	for _, np := range nodePools {
		if kscheduling.Taints(np.Spec.Template.Spec.Taints).ToleratesPod(p) != nil {
			continue
		}
		reqs := kscheduling.NewNodeSelectorRequirementsWithMinValues(np.Spec.Template.Spec.Requirements...)
		reqs.Add(kscheduling.NewLabelRequirements(np.Spec.Template.Labels).Values()...)
		if reqs.Compatible(podReqs, kscheduling.AllowUndefinedWellKnownLabels) != nil {
			continue
		}
		reqs.Add(podReqs.Values()...)
		for _, it := range byPool[np.Name] {
			if !podFits(it, reqs, requests) {
				continue
			}
			alloc := it.Allocatable()
			for _, o := range it.Offerings.Available() {
				if !reqs.IsCompatible(o.Requirements, kscheduling.AllowUndefinedWellKnownLabels) {
					continue
				}
				// The same size under two NodeClasses is two offerings: a
				// Windows node is priced with its licence, a Linux one not.
				id := nodeClassOf(np) + "/" + it.Name + "/" + o.Zone() + "/" + o.CapacityType()
				out[id] = true
				if _, ok := vectors[id]; !ok {
					vectors[id] = offeringVector{
						instanceType: it.Name, zone: o.Zone(), capacityType: o.CapacityType(), price: o.Price,
						cpu: alloc.Cpu().AsApproximateFloat64(), memGiB: alloc.Memory().AsApproximateFloat64() / (1 << 30),
						pods: alloc.Pods().AsApproximateFloat64(), gpus: gpuCount(alloc),
					}
				}
			}
		}
	}
	return out
}

func solveComponent(pods []*corev1.Pod, offers map[string]bool, vectors map[string]offeringVector) (BoundComponent, error) {
	total := resources.RequestsForPods(pods...)
	c := BoundComponent{
		Pods: len(pods), CPU: round(total.Cpu().AsApproximateFloat64(), 3),
		MemoryGiB: round(total.Memory().AsApproximateFloat64()/(1<<30), 3), GPUs: gpuCount(total),
		Offerings: len(offers),
	}
	if len(offers) == 0 {
		c.Infeasible = "no NodePool allows an offering these pods fit"
		return c, nil
	}
	ids := make([]string, 0, len(offers))
	for id := range offers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	type row struct {
		name  string
		need  float64
		value func(offeringVector) float64
	}
	rows := []row{
		{"cpu", total.Cpu().AsApproximateFloat64(), func(v offeringVector) float64 { return v.cpu }},
		{"memory", total.Memory().AsApproximateFloat64() / (1 << 30), func(v offeringVector) float64 { return v.memGiB }},
		{"pods", float64(len(pods)), func(v offeringVector) float64 { return v.pods }},
	}
	if c.GPUs > 0 {
		rows = append(rows, row{gpuResources, c.GPUs, func(v offeringVector) float64 { return v.gpus }})
	}
	kept := rows[:0]
	for _, r := range rows {
		if r.need > 0 {
			kept = append(kept, r)
		}
	}
	rows = kept
	for _, r := range rows {
		supplied := false
		for _, id := range ids {
			if r.value(vectors[id]) > 0 {
				supplied = true
				break
			}
		}
		if !supplied {
			c.Infeasible = fmt.Sprintf("no allowed offering has %s", r.name)
			return c, nil
		}
	}
	// Standard form for gonum's simplex: A·x = b, x ≥ 0, with a surplus
	// variable per row (Σ r_i·x_i − s = R).
	m, n := len(rows), len(ids)+len(rows)
	a := mat.NewDense(m, n, nil)
	cost := make([]float64, n)
	b := make([]float64, m)
	for j, id := range ids {
		v := vectors[id]
		cost[j] = v.price
		for i, r := range rows {
			a.Set(i, j, r.value(v))
		}
	}
	for i, r := range rows {
		a.Set(i, len(ids)+i, -1)
		b[i] = r.need
	}
	opt, x, err := lp.Simplex(cost, a, b, 1e-10, nil)
	if err != nil {
		if errors.Is(err, lp.ErrInfeasible) {
			c.Infeasible = "the LP has no feasible cover"
			return c, nil
		}
		return c, fmt.Errorf("LP lower bound: %w", err)
	}
	c.PerHour = round(opt, 6)
	for j, id := range ids {
		if x[j] > 1e-9 {
			v := vectors[id]
			c.Cover = append(c.Cover, CoverItem{InstanceType: v.instanceType, Zone: v.zone, CapacityType: v.capacityType, Count: round(x[j], 4)})
		}
	}
	return c, nil
}

func nodeClassOf(np *karpv1.NodePool) string {
	if ref := np.Spec.Template.Spec.NodeClassRef; ref != nil {
		return ref.Name
	}
	return ""
}
