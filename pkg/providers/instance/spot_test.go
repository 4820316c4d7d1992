package instance_test

import (
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
)

// The spot price rose above the NodeClass's cap after the Retail Prices API
// listed it: Compute answers SpotPriceGreaterThanProvidedMaxPrice. The
// size's spot offerings are marked (every zone; on-demand stays), nothing
// is left behind, and the next launch takes another offering instead of
// asking Azure again.
func TestSpotPriceAboveTheCapMarksTheSizesSpotOfferings(t *testing.T) {
	e := newEnv(t, func(c *azuresim.Config) { c.Spot.PriceFactor = 100 })
	nc := nodeClass(func(nc *v1beta1.AKSNodeClass) { nc.Spec.Spot = &v1beta1.SpotConfiguration{MaxPrice: to.Ptr("0.5")} })
	its := e.instanceTypes(nc)
	claim := func() []string { return []string{spot, onDemand} }
	_, err := e.provider.Create(e.ctx, nc, nodeClaim([]string{"Standard_D2s_v5"}, claim()), its)
	if !cloudprovider.IsInsufficientCapacityError(err) {
		t.Fatalf("Create = %v, want InsufficientCapacityError", err)
	}
	for _, zone := range []string{"eastus-1", "eastus-2", "eastus-3"} {
		e.expectUnavailable("Standard_D2s_v5", zone, spot, true)
		e.expectUnavailable("Standard_D2s_v5", zone, onDemand, false)
	}
	e.expectNoLeaks()
	if st := e.state(); len(st.NICs) != 0 {
		t.Errorf("%d NICs left", len(st.NICs))
	}
	inst, err := e.provider.Create(e.ctx, nc, nodeClaim([]string{"Standard_D2s_v5"}, claim()), its)
	if err != nil || inst.CapacityType != onDemand {
		t.Fatalf("second Create = %+v %v, want on-demand", inst, err)
	}
	if got := e.sim.Stats().Operations[azuresim.OpPutVM].Requests; got != 2 {
		t.Errorf("%d VM PUTs, want 2 (the refused spot one and the on-demand one)", got)
	}
}
