package instancetype

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/scheduling"

	"github.com/azkarpenter/azkarpenter/pkg/apis"
	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
)

// A NodePool is offered fewer sizes than its NodeClass can launch, for two
// reasons (docs/decisions.md, "Instance types per NodePool"):
//
//   - Dominated sizes. Azure sells many sizes that another size of the same
//     kind beats outright: at least as much of every resource, at no higher
//     price in any zone and capacity type (constrained-vCPU sizes, older
//     generations). Karpenter core would never launch them, yet its scheduler
//     carries every one of them in every NodeClaim it simulates, and eastus's
//     738 sizes made it 2–2.5× slower than with core's 400 fake types.
//   - Outsized sizes. For each new NodeClaim core reserves the capacity of
//     the largest of its instance-type options against the NodePool's limits,
//     so sizes such as Standard_M416ms_v2 (416 vCPU, 11 TiB) exhaust limits
//     after a handful of NodeClaims, long before real usage reaches them.
//
// Both are left out by marking all their offerings unavailable rather than by
// dropping the instance type: core still finds the price of a running node of
// such a size (consolidation needs it), but never schedules onto one. A size
// the NodePool names (node.kubernetes.io/instance-type or sku-name) is always
// offered; outsized sizes are also offered to a NodePool with a sku-cpu or
// sku-memory requirement that admits them; the annotation
// AnnotationOfferAllSizes turns both off.

// AnnotationOfferAllSizes on a NodePool set to "true" offers it every size
// its NodeClass can launch, dominated and outsized ones included.
const AnnotationOfferAllSizes = apis.Group + "/offer-all-sizes"

// Outsized is the size ceiling: a size with more vCPUs or memory than this is
// offered only to NodePools that ask for it.
var (
	OutsizedVCPUs     int64 = 128
	OutsizedMemoryGiB int64 = 1024
)

// nameKeys name a size; a NodePool requirement on them asks for those sizes.
var nameKeys = []string{corev1.LabelInstanceTypeStable, v1beta1.LabelSKUName}

// sizeKeys choose sizes by their figures; a NodePool requirement on them
// asks for the outsized sizes it admits.
var sizeKeys = []string{v1beta1.LabelSKUCPU, v1beta1.LabelSKUMemory, v1beta1.AKSLabelSKUCPU, v1beta1.AKSLabelSKUMemory}

// identityKeys tell sizes of the same kind apart, or belong to offerings;
// every other requirement key must be equal for one size to dominate another,
// so a pod selecting architecture, OS, family, GPU, hypervisor generation,
// networking or storage capability still finds a size.
var identityKeys = map[string]bool{
	corev1.LabelInstanceTypeStable: true,
	v1beta1.LabelSKUName:           true,
	v1beta1.LabelSKUSeries:         true,
	v1beta1.LabelSKUVersion:        true,
	v1beta1.LabelSKUCPU:            true,
	v1beta1.LabelSKUMemory:         true,
	v1beta1.AKSLabelSKUCPU:         true,
	v1beta1.AKSLabelSKUMemory:      true,
	// Compared instead: a size that would get an ephemeral OS disk is only
	// dominated by one that would too.
	v1beta1.LabelSKUStorageEphemeralOSMaxSize: true,
	// Internal: ties node images to the VM generation; pods do not select it.
	v1beta1.LabelSKUHyperVGeneration: true,
	corev1.LabelTopologyZone:         true, // compared per offering
	karpv1.CapacityTypeLabelKey:      true,
	v1beta1.AKSLabelScaleSetPriority: true,
	v1beta1.AKSLabelPriority:         true,
}

// ForNodePool returns the instance types a NodePool is offered: its
// NodeClass's, with every offering of a dominated or outsized size marked
// unavailable. The given instance types are never modified; sizes left out
// are copies.
func ForNodePool(its []*cloudprovider.InstanceType, nc *v1beta1.AKSNodeClass, np *karpv1.NodePool) []*cloudprovider.InstanceType {
	excluded := ExcludedForNodePool(its, nc, np)
	if len(excluded) == 0 {
		return its
	}
	out := make([]*cloudprovider.InstanceType, len(its))
	for i, it := range its {
		if _, ok := excluded[it.Name]; !ok {
			out[i] = it
			continue
		}
		offers := make(cloudprovider.Offerings, len(it.Offerings))
		for j, o := range it.Offerings {
			offers[j] = &cloudprovider.Offering{Requirements: o.Requirements, Price: o.Price, Available: false, ReservationCapacity: o.ReservationCapacity}
		}
		out[i] = &cloudprovider.InstanceType{Name: it.Name, Requirements: it.Requirements, Offerings: offers, Capacity: it.Capacity, Overhead: it.Overhead}
	}
	return out
}

// ExcludedForNodePool returns, by size name, why a size the NodeClass can
// launch is not offered to the NodePool ("dominated by X", "outsized: ...").
func ExcludedForNodePool(its []*cloudprovider.InstanceType, nc *v1beta1.AKSNodeClass, np *karpv1.NodePool) map[string]string {
	if np.Annotations[AnnotationOfferAllSizes] == "true" {
		return nil
	}
	reqs := scheduling.NewNodeSelectorRequirementsWithMinValues(np.Spec.Template.Spec.Requirements...)
	reqs.Add(scheduling.NewLabelRequirements(np.Spec.Template.Labels).Values()...)
	named := map[string]bool{}
	for _, k := range nameKeys {
		if r := reqs.Get(k); r.Operator() == corev1.NodeSelectorOpIn {
			for _, v := range r.Values() {
				named[v] = true
			}
		}
	}
	sizeChosen := false
	for _, k := range sizeKeys {
		if reqs.Has(k) {
			sizeChosen = true
		}
	}
	excluded := map[string]string{}
	var candidates []*sizeFigures
	for _, it := range its {
		// As core's scheduler filters a NodePool's instance types: labels both
		// sides define must intersect, and an offering must be compatible.
		if it.Requirements.Intersects(reqs) != nil || named[it.Name] {
			continue
		}
		f := figuresOf(it, nc, reqs)
		if len(f.offerings) == 0 {
			continue
		}
		if !sizeChosen && (f.vcpus > OutsizedVCPUs || f.memoryGiB > OutsizedMemoryGiB) {
			excluded[it.Name] = fmt.Sprintf("outsized for NodePool %s (%d vCPU, %d GiB; above %d vCPU or %d GiB a size is offered only to NodePools that name it or set sku-cpu/sku-memory): it would reserve that much of the NodePool's limits for every new NodeClaim",
				np.Name, f.vcpus, f.memoryGiB, OutsizedVCPUs, OutsizedMemoryGiB)
			continue
		}
		candidates = append(candidates, f)
	}
	groups := map[string][]*sizeFigures{}
	for _, f := range candidates {
		groups[f.kind] = append(groups[f.kind], f)
	}
	for _, group := range groups {
		// A fixed order keeps the reasons (which dominator is named) stable.
		sort.Slice(group, func(i, j int) bool { return group[i].name < group[j].name })
		for _, f := range group {
			for _, g := range group {
				if f != g && g.dominates(f) {
					excluded[f.name] = fmt.Sprintf("dominated in NodePool %s by %s: as much of every resource at no higher price in any zone and capacity type", np.Name, g.name)
					break
				}
			}
		}
	}
	return excluded
}

// sizeFigures is what dominance compares.
type sizeFigures struct {
	name string
	// kind is every requirement of the size but its identity keys.
	kind             string
	vcpus, memoryGiB int64
	allocatable      corev1.ResourceList
	// ephemeralOS: the NodeClass's OS disk would be ephemeral on the size.
	ephemeralOS bool
	// offerings by zone/capacity type, only those the NodePool allows.
	offerings map[string]offeringFigures
}

type offeringFigures struct {
	price     float64
	available bool
}

func figuresOf(it *cloudprovider.InstanceType, nc *v1beta1.AKSNodeClass, nodePool scheduling.Requirements) *sizeFigures {
	f := &sizeFigures{name: it.Name, allocatable: it.Allocatable(), offerings: map[string]offeringFigures{}}
	f.vcpus = it.Capacity.Cpu().Value()
	f.memoryGiB, _ = strconv.ParseInt(it.Requirements.Get(v1beta1.LabelSKUMemory).Any(), 10, 64)
	f.memoryGiB /= 1024
	ephemeralMax, _ := strconv.ParseInt(it.Requirements.Get(v1beta1.LabelSKUStorageEphemeralOSMaxSize).Any(), 10, 64)
	f.ephemeralOS = nc.GetOSDiskType() != v1beta1.OSDiskTypeManaged && ephemeralMax >= int64(nc.GetOSDiskSizeGB())
	keys := make([]string, 0, len(it.Requirements))
	for k := range it.Requirements {
		if !identityKeys[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		r := it.Requirements.Get(k)
		// Values come from a set in no fixed order; sorted, two sizes of
		// the same kind always get the same key.
		values := r.Values()
		sort.Strings(values)
		fmt.Fprintf(&b, "%s %s %v;", k, r.Operator(), values)
	}
	f.kind = b.String()
	for _, o := range it.Offerings {
		if !nodePool.IsCompatible(o.Requirements, scheduling.AllowUndefinedWellKnownLabels) {
			continue
		}
		f.offerings[o.Zone()+"/"+o.CapacityType()] = offeringFigures{price: o.Price, available: o.Available}
	}
	return f
}

// dominates reports whether g makes f pointless: g has at least f's
// allocatable of every resource, an ephemeral OS disk if f has one, and for every
// offering of f an offering in the same zone and capacity type at no higher
// price that is available whenever f's is. Of two sizes equal in every way,
// the one with the smaller name dominates, so exactly one is kept.
func (g *sizeFigures) dominates(f *sizeFigures) bool {
	better := false
	for name, q := range f.allocatable {
		have := g.allocatable[name]
		switch have.Cmp(q) {
		case -1:
			return false
		case 1:
			better = true
		}
	}
	for name, q := range g.allocatable {
		if _, ok := f.allocatable[name]; !ok && !q.IsZero() {
			better = true
		}
	}
	if f.ephemeralOS && !g.ephemeralOS {
		return false
	}
	for key, fo := range f.offerings {
		gogo, ok := g.offerings[key]
		if !ok || gogo.price > fo.price || (fo.available && !gogo.available) {
			return false
		}
		if gogo.price < fo.price {
			better = true
		}
	}
	return better || g.name < f.name
}
