package offerings_test

import (
	"context"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/azkarpenter/azkarpenter/pkg/providers/offerings"
)

func TestAvailabilityTransitions(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c := offerings.NewCache(clk)
	d4 := offerings.Offering{SKU: "Standard_D4s_v5", Family: "standardDSv5Family", VCPUs: 4, Zone: "eastus-1", CapacityType: "on-demand"}
	d4z2 := d4
	d4z2.Zone = "eastus-2"
	d4spot := d4
	d4spot.CapacityType = "spot"

	seq0 := c.SeqNum()
	if r := c.Unavailable(d4); r != "" {
		t.Fatalf("fresh cache: %q", r)
	}

	// Zonal allocation failure: that zone, both capacity types, for an hour.
	c.MarkUnavailable(ctx, "ZonalAllocationFailed", d4.SKU, d4.Zone, offerings.Any, offerings.AllocationTTL)
	if c.SeqNum() == seq0 {
		t.Fatal("a mark must change the sequence number")
	}
	if c.Unavailable(d4) != "ZonalAllocationFailed" || c.Unavailable(d4spot) != "ZonalAllocationFailed" {
		t.Fatal("zone 1 should be unavailable for on-demand and spot")
	}
	if c.Unavailable(d4z2) != "" {
		t.Fatal("zone 2 must stay available")
	}
	clk.Step(59 * time.Minute)
	if c.Unavailable(d4) == "" {
		t.Fatal("mark expired early")
	}
	seqBefore := c.SeqNum()
	clk.Step(time.Minute)
	if c.Unavailable(d4) != "" {
		t.Fatal("mark should expire after its TTL")
	}
	if c.SeqNum() == seqBefore {
		t.Fatal("expiry must change the sequence number so cached instance types are rebuilt")
	}
}

func TestFamilyScope(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakeClock(time.Now())
	c := offerings.NewCache(clk)
	size := func(name string, vcpus int64, ct string) offerings.Offering {
		return offerings.Offering{SKU: name, Family: "standardDSv5Family", VCPUs: vcpus, Zone: "eastus-1", CapacityType: ct}
	}
	// Quota: 6 vCPUs left; an 8-vCPU request failed. Sizes of 8 or more are
	// blocked, smaller ones still fit.
	c.MarkFamilyUnavailable(ctx, "QuotaExceeded", "standardDSv5Family", offerings.Any, "on-demand", 8, offerings.QuotaTTL)
	for _, tc := range []struct {
		o    offerings.Offering
		want bool
	}{
		{size("Standard_D2s_v5", 2, "on-demand"), false},
		{size("Standard_D4s_v5", 4, "on-demand"), false},
		{size("Standard_D8s_v5", 8, "on-demand"), true},
		{size("Standard_D16s_v5", 16, "on-demand"), true},
		{size("Standard_D16s_v5", 16, "spot"), false},
		{offerings.Offering{SKU: "Standard_E8s_v5", Family: "standardESv5Family", VCPUs: 8, Zone: "eastus-1", CapacityType: "on-demand"}, false},
	} {
		if got := c.Unavailable(tc.o) != ""; got != tc.want {
			t.Errorf("%s %s: unavailable=%v, want %v", tc.o.SKU, tc.o.CapacityType, got, tc.want)
		}
	}
	// A later, narrower failure (16 vCPUs) must not shrink the broader mark.
	c.MarkFamilyUnavailable(ctx, "QuotaExceeded", "standardDSv5Family", offerings.Any, "on-demand", 16, offerings.QuotaTTL)
	if c.Unavailable(size("Standard_D8s_v5", 8, "on-demand")) == "" {
		t.Error("the broader mark was narrowed")
	}
	clk.Step(offerings.QuotaTTL)
	if c.Unavailable(size("Standard_D16s_v5", 16, "on-demand")) != "" {
		t.Error("family mark should expire")
	}
}

func TestTieredTTLs(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakeClock(time.Now())
	c := offerings.NewCache(clk)
	spot := offerings.Offering{SKU: "Standard_NC6s_v3", Family: "standardNCSv3Family", VCPUs: 6, Zone: "eastus-1", CapacityType: "spot"}
	od := spot
	od.CapacityType = "on-demand"
	c.MarkUnavailable(ctx, "SkuNotAvailable", spot.SKU, offerings.Any, "spot", offerings.SKUNotAvailableSpotTTL)
	c.MarkUnavailable(ctx, "SkuNotAvailable", od.SKU, offerings.Any, "on-demand", offerings.SKUNotAvailableOnDemandTTL)
	clk.Step(2 * time.Hour)
	if c.Unavailable(spot) != "" {
		t.Error("spot restriction should have expired after 1h")
	}
	if c.Unavailable(od) == "" {
		t.Error("on-demand restriction should last 23h")
	}
	c.Flush()
	if c.Unavailable(od) != "" {
		t.Error("flush should forget every mark")
	}
}
