package instance

import (
	"fmt"
	mrand "math/rand/v2"
	"sort"
	"strings"

	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/scheduling"

	"github.com/azkarpenter/azkarpenter/pkg/providers/offerings"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
)

// Choosing the offering (size, zone, capacity type) a launch is sent to.

func families(c *sku.Catalog) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range c.SKUs {
		if s.Family != "" && !seen[s.Family] {
			seen[s.Family] = true
			out = append(out, s.Family)
		}
	}
	sort.Strings(out)
	return out
}

type candidate struct {
	it       *cloudprovider.InstanceType
	offering *cloudprovider.Offering
	sku      *sku.SKU
}

// chooseOffering picks the cheapest offering that is available (by the
// instance types and by the unavailable-offerings cache now, which may know
// of failures newer than the instance types) and compatible with the
// NodeClaim's requirements. Equal prices are broken at random, so zones
// with the same price share the load.
func (p *DefaultProvider) chooseOffering(claim *karpv1.NodeClaim, instanceTypes []*cloudprovider.InstanceType, catalog *sku.Catalog) (*cloudprovider.InstanceType, *cloudprovider.Offering, *sku.SKU, error) {
	reqs := scheduling.NewNodeSelectorRequirementsWithMinValues(claim.Spec.Requirements...)
	var cands []candidate
	for _, it := range instanceTypes {
		if it == nil {
			continue
		}
		s := catalog.SKUs[it.Name]
		if s == nil {
			continue
		}
		// As core's scheduler checks it: labels both define must intersect
		// (the NodeClaim's custom labels do not exclude a type).
		if reqs.Intersects(it.Requirements) != nil {
			continue
		}
		for _, o := range it.Offerings.Available().Compatible(reqs) {
			if p.unavailable.Unavailable(offerings.Offering{SKU: s.Name, Family: s.Family, VCPUs: s.QuotaVCPUs(), Zone: o.Zone(), CapacityType: o.CapacityType()}) != "" {
				continue
			}
			cands = append(cands, candidate{it: it, offering: o, sku: s})
		}
	}
	if len(cands) == 0 {
		names := make([]string, 0, len(instanceTypes))
		for _, it := range instanceTypes {
			if it != nil {
				names = append(names, it.Name)
			}
		}
		return nil, nil, nil, cloudprovider.NewInsufficientCapacityError(fmt.Errorf("%s: no available offering of %d instance types (%s) is compatible with the NodeClaim's requirements", ReasonNoOffering, len(names), strings.Join(firstN(names, 10), ", ")))
	}
	mrand.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].offering.Price < cands[j].offering.Price })
	c := cands[0]
	return c.it, c.offering, c.sku, nil
}

func firstN(xs []string, n int) []string {
	if len(xs) > n {
		return append(xs[:n:n], "…")
	}
	return xs
}
