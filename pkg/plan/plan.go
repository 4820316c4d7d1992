package plan

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/controllers/provisioning/scheduling"
	kscheduling "sigs.k8s.io/karpenter/pkg/scheduling"
	"sigs.k8s.io/karpenter/pkg/utils/resources"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
)

// InstanceTypes is the part of the instance-type provider a plan uses.
type InstanceTypes interface {
	List(ctx context.Context, nc *v1beta1.AKSNodeClass) ([]*cloudprovider.InstanceType, error)
	ForNodePool(ctx context.Context, nc *v1beta1.AKSNodeClass, np *karpv1.NodePool) ([]*cloudprovider.InstanceType, error)
}

// NodeClaim is a node the plan would launch.
type NodeClaim struct {
	NodePool     string  `json:"nodePool"`
	InstanceType string  `json:"instanceType"`
	Zone         string  `json:"zone"`
	CapacityType string  `json:"capacityType"`
	PricePerHour float64 `json:"pricePerHour"`
	Pods         int     `json:"pods"`
	// CPU (cores) and MemoryGiB are the requests of its pods.
	CPU       float64 `json:"cpu"`
	MemoryGiB float64 `json:"memoryGiB"`
	// Options is how many instance types the scheduler left the NodeClaim;
	// the cheapest available offering among them is the one launched.
	Options int `json:"options"`
}

// Unschedulable groups the pods the plan cannot place by reason.
type Unschedulable struct {
	Reason   string   `json:"reason"`
	Pods     int      `json:"pods"`
	Examples []string `json:"examples"`
}

// Result is a plan.
type Result struct {
	Pods          int             `json:"pods"`
	NodeClaims    []NodeClaim     `json:"nodeClaims"`
	PerHour       float64         `json:"pricePerHour"`
	LowerBound    Bound           `json:"lowerBound"`
	Baseline      Baseline        `json:"baseline"`
	Unschedulable []Unschedulable `json:"unschedulable,omitempty"`
	// SolveSeconds is the time karpenter core's Scheduler.Solve took.
	SolveSeconds float64 `json:"solveSeconds"`
	// Workloads are each workload's VM cost beside its ACI cost
	// (WorkloadCosts), set by the caller.
	Workloads []WorkloadCost `json:"workloads,omitempty"`

	vmShares map[Workload]float64
}

// ScheduledPods is how many pods the plan places.
func (r *Result) ScheduledPods() int {
	n := 0
	for _, nc := range r.NodeClaims {
		n += nc.Pods
	}
	return n
}

// CostToBound is the plan's price over the LP lower bound (≥ 1), 0 when
// there is no bound.
func (r *Result) CostToBound() float64 {
	if r.LowerBound.PerHour <= 0 {
		return 0
	}
	return r.PerHour / r.LowerBound.PerHour
}

// CostToBaseline is the plan's price over the fixed-pool baseline, 0 when
// the baseline places nothing.
func (r *Result) CostToBaseline() float64 {
	if r.Baseline.PerHour <= 0 {
		return 0
	}
	return r.PerHour / r.Baseline.PerHour
}

// Solve plans the input: core's scheduler places the pods on new NodeClaims
// of the NodePools' instance types (as GetInstanceTypes offers them), and
// each NodeClaim is priced at the cheapest available offering among its
// options, which is the one the provider launches. kube, when set, is a
// cluster whose existing pods count for topology spread.
func Solve(ctx context.Context, in *Input, types InstanceTypes, kube client.Client) (*Result, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	ctx, err := CoreContext(ctx)
	if err != nil {
		return nil, err
	}
	byPool := map[string][]*cloudprovider.InstanceType{}
	for _, np := range in.NodePools {
		nc := in.NodeClasses[np.Spec.Template.Spec.NodeClassRef.Name]
		its, err := types.ForNodePool(ctx, nc, np)
		if err != nil {
			return nil, fmt.Errorf("instance types of NodePool %s: %w", np.Name, err)
		}
		byPool[np.Name] = its
	}
	s, err := NewScheduler(ctx, kube, in.NodePools, byPool, in.Pods, in.DaemonSetPods)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	results, err := s.Solve(ctx, in.Pods)
	if err != nil {
		return nil, fmt.Errorf("scheduling: %w", err)
	}
	r := &Result{Pods: len(in.Pods), SolveSeconds: time.Since(start).Seconds()}
	var claims []claimPods
	for _, nc := range results.NewNodeClaims {
		claim, err := launched(nc)
		if err != nil {
			return nil, err
		}
		r.NodeClaims = append(r.NodeClaims, claim)
		r.PerHour += claim.PricePerHour
		claims = append(claims, claimPods{price: claim.PricePerHour, pods: nc.Pods})
	}
	r.vmShares = vmShares(in, claims)
	sort.SliceStable(r.NodeClaims, func(i, j int) bool {
		a, b := r.NodeClaims[i], r.NodeClaims[j]
		if a.NodePool != b.NodePool {
			return a.NodePool < b.NodePool
		}
		if a.InstanceType != b.InstanceType {
			return a.InstanceType < b.InstanceType
		}
		if a.Zone != b.Zone {
			return a.Zone < b.Zone
		}
		return a.CapacityType < b.CapacityType
	})
	r.PerHour = round(r.PerHour, 6)
	r.Unschedulable = groupErrors(results.PodErrors)
	r.LowerBound, err = LowerBound(in, byPool)
	if err != nil {
		return nil, err
	}
	r.Baseline, err = FixedPoolBaseline(ctx, in.Pods, types)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// launched is what the provider would launch for a scheduled NodeClaim: the
// cheapest available offering compatible with its requirements, among its
// instance-type options (pkg/providers/instance chooseOffering; ties broken
// by name and zone here, at random there).
func launched(nc *scheduling.NodeClaim) (NodeClaim, error) {
	var best *cloudprovider.Offering
	var bestType *cloudprovider.InstanceType
	for _, it := range nc.InstanceTypeOptions {
		if nc.Requirements.Intersects(it.Requirements) != nil {
			continue
		}
		for _, o := range it.Offerings.Available().Compatible(nc.Requirements) {
			if best == nil || o.Price < best.Price || (o.Price == best.Price && (it.Name < bestType.Name || (it.Name == bestType.Name && o.Zone() < best.Zone()))) {
				best, bestType = o, it
			}
		}
	}
	if best == nil {
		return NodeClaim{}, fmt.Errorf("NodeClaim of NodePool %s for %d pods has no available offering among %d instance types", nc.NodePoolName, len(nc.Pods), len(nc.InstanceTypeOptions))
	}
	requests := resources.RequestsForPods(nc.Pods...)
	return NodeClaim{
		NodePool:     nc.NodePoolName,
		InstanceType: bestType.Name,
		Zone:         best.Zone(),
		CapacityType: best.CapacityType(),
		PricePerHour: best.Price,
		Pods:         len(nc.Pods),
		CPU:          round(requests.Cpu().AsApproximateFloat64(), 3),
		MemoryGiB:    round(requests.Memory().AsApproximateFloat64()/(1<<30), 3),
		Options:      len(nc.InstanceTypeOptions),
	}, nil
}

func groupErrors(podErrors map[*corev1.Pod]error) []Unschedulable {
	byReason := map[string]*Unschedulable{}
	for p, err := range podErrors {
		reason := err.Error()
		u, ok := byReason[reason]
		if !ok {
			u = &Unschedulable{Reason: reason}
			byReason[reason] = u
		}
		u.Pods++
		u.Examples = append(u.Examples, p.Namespace+"/"+p.Name)
	}
	out := make([]Unschedulable, 0, len(byReason))
	for _, u := range byReason {
		sort.Strings(u.Examples)
		if len(u.Examples) > 3 {
			u.Examples = u.Examples[:3]
		}
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pods != out[j].Pods {
			return out[i].Pods > out[j].Pods
		}
		return out[i].Reason < out[j].Reason
	})
	return out
}

// podFits reports whether a pod's strict requirements and requests allow an
// instance type under requirements reqs (already merged with the pod's).
func podFits(it *cloudprovider.InstanceType, reqs kscheduling.Requirements, requests corev1.ResourceList) bool {
	return it.Requirements.Intersects(reqs) == nil && resources.Fits(requests, it.Allocatable())
}

// round keeps JSON and tables free of float noise.
func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// Summary is a one-line description of a plan.
func (r *Result) Summary() string {
	parts := []string{fmt.Sprintf("%d of %d pods on %d nodes at $%.3f/h", r.ScheduledPods(), r.Pods, len(r.NodeClaims), r.PerHour)}
	if b := r.CostToBound(); b > 0 {
		parts = append(parts, fmt.Sprintf("%.3f× the LP bound ($%.3f/h)", b, r.LowerBound.PerHour))
	}
	if b := r.CostToBaseline(); b > 0 {
		parts = append(parts, fmt.Sprintf("%.3f× the fixed %s pool ($%.3f/h)", b, r.Baseline.InstanceType, r.Baseline.PerHour))
	}
	return strings.Join(parts, ", ")
}
