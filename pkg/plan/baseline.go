package plan

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	kscheduling "sigs.k8s.io/karpenter/pkg/scheduling"
	"sigs.k8s.io/karpenter/pkg/utils/resources"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
)

// BaselineSize is the VM size of the fixed pool a cluster-autoscaler user
// gets by default on AKS.
const BaselineSize = "Standard_DS2_v2"

// Baseline is what the workload costs on one fixed pool of BaselineSize
// on-demand nodes, packed first-fit decreasing: the cluster-autoscaler
// setup AKS users start from. (cluster-autoscaler itself is not in the Go
// module proxy, so it cannot run here; its node-group scale-up packs pods
// onto identical nodes much like this.)
type Baseline struct {
	InstanceType string  `json:"instanceType"`
	NodePrice    float64 `json:"nodePricePerHour"`
	Nodes        int     `json:"nodes"`
	PerHour      float64 `json:"pricePerHour"`
	// Unplaced pods fit no node of the pool (too large, GPUs, Windows,
	// another architecture or a label the pool's nodes lack).
	Unplaced int `json:"unplaced"`
}

// FixedPoolBaseline packs the pods onto BaselineSize nodes of an AKS-default
// Linux NodeClass, whose allocatable comes from the same instance-type math
// the controller uses: largest CPU request first, then memory, each pod onto
// the first node it fits.
func FixedPoolBaseline(ctx context.Context, pods []*corev1.Pod, types InstanceTypes) (Baseline, error) {
	its, err := types.List(ctx, &v1beta1.AKSNodeClass{})
	if err != nil {
		return Baseline{}, err
	}
	var it *cloudprovider.InstanceType
	for _, x := range its {
		if x.Name == BaselineSize {
			it = x
		}
	}
	if it == nil {
		return Baseline{}, fmt.Errorf("the region offers no %s for the fixed-pool baseline", BaselineSize)
	}
	b := Baseline{InstanceType: BaselineSize}
	for _, o := range it.Offerings.Available() {
		if o.CapacityType() == karpv1.CapacityTypeOnDemand && (b.NodePrice == 0 || o.Price < b.NodePrice) {
			b.NodePrice = o.Price
		}
	}
	if b.NodePrice == 0 {
		return Baseline{}, fmt.Errorf("%s has no available on-demand offering for the fixed-pool baseline", BaselineSize)
	}
	b.Nodes, b.Unplaced = firstFitDecreasing(pods, it)
	b.PerHour = round(float64(b.Nodes)*b.NodePrice, 6)
	return b, nil
}

type ffdNode struct{ cpu, mem, pods int64 }

// firstFitDecreasing returns the nodes of the instance type the pods need,
// and how many pods fit none.
func firstFitDecreasing(pods []*corev1.Pod, it *cloudprovider.InstanceType) (nodes, unplaced int) {
	alloc := it.Allocatable()
	capacity := ffdNode{alloc.Cpu().MilliValue(), alloc.Memory().Value(), alloc.Pods().Value()}
	type item struct{ cpu, mem int64 }
	var items []item
	for _, p := range pods {
		requests := resources.RequestsForPods(p)
		if it.Requirements.Compatible(kscheduling.NewStrictPodRequirements(p), kscheduling.AllowUndefinedWellKnownLabels) != nil ||
			!resources.Fits(requests, alloc) {
			unplaced++
			continue
		}
		items = append(items, item{requests.Cpu().MilliValue(), requests.Memory().Value()})
	}
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].cpu != items[j].cpu {
			return items[i].cpu > items[j].cpu
		}
		return items[i].mem > items[j].mem
	})
	var open []ffdNode
	for _, x := range items {
		placed := false
		for i := range open {
			n := &open[i]
			if n.cpu >= x.cpu && n.mem >= x.mem && n.pods >= 1 {
				n.cpu, n.mem, n.pods = n.cpu-x.cpu, n.mem-x.mem, n.pods-1
				placed = true
				break
			}
		}
		if !placed {
			open = append(open, ffdNode{capacity.cpu - x.cpu, capacity.mem - x.mem, capacity.pods - 1})
		}
	}
	return len(open), unplaced
}
