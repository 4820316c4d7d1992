package plan

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/azkarpenter/azkarpenter/pkg/providers/containerinstance"
	"github.com/azkarpenter/azkarpenter/pkg/providers/pricing"
)

// BurstAnnotation is burst-then-settle's opt-in (pkg/controllers/burst).
const BurstAnnotation = "karpenter.azure.com/burst"

// DefaultBurstSeconds is how long a burst pod is assumed to run on ACI
// before it moves to a VM: Azure's VM create (about 35 s, the median
// azuresim models) plus the node's boot, join and Ready (about 55 s on an
// AKS node image). It is an assumption, not a figure from Azure's
// documents: `make bench SCENARIO=burst` measures it at azuresim's
// Azure-like latency, and --burst-seconds sets it.
const DefaultBurstSeconds = 90.0

// Workload names the owner a planned pod came from.
type Workload struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func (w Workload) String() string { return w.Kind + "/" + w.Namespace + "/" + w.Name }

// burstOwners are the kinds whose pods burst: their owner replaces an
// evicted pod (a Deployment's ReplicaSet, a StatefulSet).
var burstOwners = map[string]bool{"Deployment": true, "ReplicaSet": true, "StatefulSet": true}

// WorkloadCost is one workload's VM cost in the plan and, beside it, what
// running its pods on Azure Container Instances costs: for the seconds of
// one burst (while its VMs launch), and for an hour (what keeping it on ACI,
// as AKS's virtual-nodes add-on does, would cost).
type WorkloadCost struct {
	Workload Workload `json:"workload"`
	Pods     int      `json:"pods"`
	// VMPerHour is the workload's share of the plan's VMs: each node's price
	// split over its pods by CPU request.
	VMPerHour float64 `json:"vmPricePerHour"`
	// OptedIn: the pod template carries karpenter.azure.com/burst=aci.
	OptedIn bool `json:"optedIn"`
	// CannotBurst is why its pods cannot run on ACI (the first reason).
	CannotBurst string `json:"cannotBurst,omitempty"`
	// ACIvCPU and ACIMemoryGB are one pod's container group as ACI bills it.
	ACIvCPU     float64 `json:"aciVCPU,omitempty"`
	ACIMemoryGB float64 `json:"aciMemoryGB,omitempty"`
	// ACISeconds is each pod's assumed time on ACI per burst.
	ACISeconds float64 `json:"aciSeconds,omitempty"`
	// ACIBurstCost is every pod's ACI cost for one burst, ACIPerHour every
	// pod on ACI for an hour; both 0 when ACI has no price in the region.
	ACIBurstCost float64 `json:"aciBurstCost,omitempty"`
	ACIPerHour   float64 `json:"aciPricePerHour,omitempty"`
}

// vmShares splits each planned node's price over its pods by CPU request
// (by pod count when none requests CPU), per workload.
func vmShares(in *Input, claims []claimPods) map[Workload]float64 {
	out := map[Workload]float64{}
	for _, c := range claims {
		total := 0.0
		for _, p := range c.pods {
			total += podCPU(p)
		}
		for _, p := range c.pods {
			share := 1.0 / float64(len(c.pods))
			if total > 0 {
				share = podCPU(p) / total
			}
			out[in.workloadOf(p)] += c.price * share
		}
	}
	return out
}

type claimPods struct {
	price float64
	pods  []*corev1.Pod
}

func podCPU(p *corev1.Pod) float64 {
	var sum float64
	for _, c := range p.Spec.Containers {
		sum += c.Resources.Requests.Cpu().AsApproximateFloat64()
	}
	return sum
}

// workloadOf is the workload a pod was read from; a pod read alone is its
// own workload.
func (in *Input) workloadOf(p *corev1.Pod) Workload {
	if w, ok := in.workloads[p.UID]; ok {
		return w
	}
	return Workload{Kind: "Pod", Namespace: p.Namespace, Name: p.Name}
}

func (in *Input) setWorkload(uid types.UID, w Workload) {
	if in.workloads == nil {
		in.workloads = map[types.UID]Workload{}
	}
	in.workloads[uid] = w
}

// WorkloadCosts sets each workload's VM share beside its ACI cost for
// seconds on ACI per burst, at the region's container prices (unknown
// prices leave the ACI cost at 0).
func WorkloadCosts(in *Input, r *Result, seconds float64, prices pricing.ContainerPrices) []WorkloadCost {
	byWorkload := map[Workload]*WorkloadCost{}
	var order []Workload
	for _, p := range in.Pods {
		w := in.workloadOf(p)
		wc, ok := byWorkload[w]
		if !ok {
			wc = &WorkloadCost{Workload: w, VMPerHour: round(r.vmShares[w], 6), OptedIn: p.Annotations[BurstAnnotation] == "aci"}
			switch reasons := containerinstance.Check(p); {
			case w.Kind == "Job":
				wc.CannotBurst = "a Job's pods do not burst: moving one to a VM counts against its backoff limit and reruns its work"
			case !burstOwners[w.Kind]:
				wc.CannotBurst = "a pod without a ReplicaSet or StatefulSet does not burst: nothing would replace it on a VM"
			case len(reasons) > 0:
				wc.CannotBurst = reasons[0].String()
			default:
				g := containerinstance.GroupResources(p)
				wc.ACIvCPU, wc.ACIMemoryGB, wc.ACISeconds = g.CPU, g.MemoryGB, seconds
			}
			byWorkload[w] = wc
			order = append(order, w)
		}
		wc.Pods++
	}
	out := make([]WorkloadCost, 0, len(order))
	for _, w := range order {
		wc := byWorkload[w]
		if wc.CannotBurst == "" {
			if c, ok := prices.Cost(wc.ACIvCPU, wc.ACIMemoryGB, seconds, false); ok {
				wc.ACIBurstCost = round(c*float64(wc.Pods), 6)
			}
			if h, ok := prices.HourlyPrice(wc.ACIvCPU, wc.ACIMemoryGB, false); ok {
				wc.ACIPerHour = round(h*float64(wc.Pods), 6)
			}
		}
		out = append(out, *wc)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Workload.String() < out[j].Workload.String() })
	return out
}
