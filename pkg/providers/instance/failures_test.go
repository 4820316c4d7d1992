package instance_test

import (
	"errors"
	"testing"
	"time"

	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instance"
	"github.com/azkarpenter/azkarpenter/pkg/providers/offerings"
)

const (
	onDemand = karpv1.CapacityTypeOnDemand
	spot     = karpv1.CapacityTypeSpot
)

type failureCase struct {
	name          string
	edit          func(*azuresim.Config)
	sizes         []string
	capacityTypes []string
	// wantICE: InsufficientCapacityError (else CreateError with wantReason).
	wantICE    bool
	wantReason string
	// fallback: a second Create with the same instance types succeeds on
	// another offering.
	fallback bool
	// check verifies the cache marks after the failure of (size, zone, ct);
	// ttl is when they must expire.
	check func(e *env, size, zone, ct string)
	ttl   time.Duration
	// marked is the offering to test the ttl with.
	marked func(size, zone, ct string) (string, string, string)
}

func same(size, zone, ct string) (string, string, string) { return size, zone, ct }

func TestCreateFailures(t *testing.T) {
	quotaMsg := "Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: eastus, Current Limit: 10, Current Usage: 8, Additional Required: 4, (Minimum) New Limit Required: 12."
	cases := []failureCase{{
		name: "family quota of zero",
		edit: func(c *azuresim.Config) {
			c.Quota.Families = []azuresim.FamilyQuota{{Family: "standardDSv5Family", Limit: 0}}
		},
		sizes: []string{"Standard_D2s_v5", "Standard_D2s_v3"}, capacityTypes: []string{onDemand},
		wantICE: true, fallback: true, ttl: offerings.ZeroQuotaTTL, marked: same,
		check: func(e *env, size, zone, ct string) {
			e.expectUnavailable("Standard_D2s_v5", "eastus-3", onDemand, true)
			e.expectUnavailable("Standard_D4s_v5", "eastus-1", onDemand, true) // larger sizes of the family too
			e.expectUnavailable("Standard_D2s_v5", "eastus-1", spot, false)    // spot counts against another quota
			e.expectUnavailable("Standard_D2s_v3", "eastus-1", onDemand, false)
		},
	}, {
		name: "family quota with headroom",
		edit: func(c *azuresim.Config) {
			c.Errors = []azuresim.ErrorRule{{Operation: azuresim.OpPutVM, Code: "OperationNotAllowed", Message: quotaMsg, SKU: "Standard_D4s_v5", Count: 1}}
		},
		sizes: []string{"Standard_D4s_v5", "Standard_D4ds_v5"}, capacityTypes: []string{onDemand},
		wantICE: true, fallback: true, ttl: offerings.QuotaTTL, marked: same,
		check: func(e *env, size, zone, ct string) {
			e.expectUnavailable("Standard_D4s_v5", "eastus-1", onDemand, true)
			e.expectUnavailable("Standard_D8s_v5", "eastus-1", onDemand, true)  // needs 8 >= 4 more vCPUs
			e.expectUnavailable("Standard_D2s_v5", "eastus-1", onDemand, false) // 2 vCPUs still fit
		},
	}, {
		name:  "regional quota",
		edit:  func(c *azuresim.Config) { c.Quota.RegionalLimit = 1 },
		sizes: []string{"Standard_D2s_v5"}, capacityTypes: []string{onDemand},
		wantICE: true,
		check: func(e *env, size, zone, ct string) {
			e.expectUnavailable(size, zone, ct, false) // not a property of the size
			if e.quota.refreshes.Load() != 1 {
				e.t.Errorf("quota refreshed %d times, want 1", e.quota.refreshes.Load())
			}
		},
	}, {
		name:  "spot quota",
		edit:  func(c *azuresim.Config) { c.Quota.LowPriorityLimit = 0 },
		sizes: []string{"Standard_D2s_v5", "Standard_D2s_v3"}, capacityTypes: []string{spot, onDemand},
		wantICE: true, fallback: true, ttl: offerings.SpotQuotaTTL,
		marked: func(size, zone, ct string) (string, string, string) { return "Standard_D2s_v3", "eastus-2", spot },
		check: func(e *env, size, zone, ct string) {
			if ct != spot {
				e.t.Fatalf("first attempt %s, want spot (cheapest)", ct)
			}
			e.expectUnavailable("Standard_D2s_v3", "eastus-2", spot, true) // every spot size
			e.expectUnavailable("Standard_D2s_v5", "eastus-1", onDemand, false)
		},
	}, {
		name: "SKU not available on-demand",
		edit: func(c *azuresim.Config) {
			c.Errors = []azuresim.ErrorRule{{Operation: azuresim.OpPutVM, Code: "SkuNotAvailable", SKU: "Standard_D2s_v5", Count: 1}}
		},
		sizes: []string{"Standard_D2s_v5", "Standard_D2s_v3"}, capacityTypes: []string{onDemand},
		wantICE: true, fallback: true, ttl: offerings.SKUNotAvailableOnDemandTTL, marked: same,
		check: func(e *env, size, zone, ct string) {
			e.expectUnavailable(size, zone, onDemand, true)
			e.expectUnavailable(size, zone, spot, false)
		},
	}, {
		// Azure's zonal restriction names the zone as "zones '2'"; only the
		// zone the request asked for is marked, whatever the wording.
		name: "SKU not available in one zone",
		edit: func(c *azuresim.Config) {
			c.Errors = []azuresim.ErrorRule{{Operation: azuresim.OpPutVM, Code: "SkuNotAvailable", SKU: "Standard_D2s_v5", Count: 1}}
		},
		sizes: []string{"Standard_D2s_v5"}, capacityTypes: []string{onDemand},
		wantICE: true, fallback: true, ttl: offerings.SKUNotAvailableOnDemandTTL, marked: same,
		check: func(e *env, size, zone, ct string) {
			e.expectUnavailable(size, zone, onDemand, true)
			for _, z := range []string{"eastus-1", "eastus-2", "eastus-3"} {
				if z != zone {
					e.expectUnavailable(size, z, onDemand, false)
				}
			}
		},
	}, {
		name: "SKU not available spot",
		edit: func(c *azuresim.Config) {
			c.Errors = []azuresim.ErrorRule{{Operation: azuresim.OpPutVM, Code: "SkuNotAvailable", SKU: "Standard_D2s_v5", CapacityType: spot, Count: 1}}
		},
		sizes: []string{"Standard_D2s_v5", "Standard_D2s_v3"}, capacityTypes: []string{spot},
		wantICE: true, fallback: true, ttl: offerings.SKUNotAvailableSpotTTL, marked: same,
		check: func(e *env, size, zone, ct string) {
			e.expectUnavailable(size, zone, spot, true)
			e.expectUnavailable(size, zone, onDemand, false)
		},
	}, {
		name: "zonal allocation failure",
		edit: func(c *azuresim.Config) {
			c.Errors = []azuresim.ErrorRule{{Operation: azuresim.OpPutVM, Code: "ZonalAllocationFailed", Async: true, Count: 1}}
		},
		sizes: []string{"Standard_D2s_v5"}, capacityTypes: []string{onDemand},
		wantICE: true, fallback: true, ttl: offerings.AllocationTTL, marked: same,
		check: func(e *env, size, zone, ct string) {
			e.expectUnavailable(size, zone, onDemand, true)
			e.expectUnavailable(size, zone, spot, true) // both capacity types
			for _, z := range []string{"eastus-1", "eastus-2", "eastus-3"} {
				if z != zone {
					e.expectUnavailable(size, z, onDemand, false)
				}
			}
		},
	}, {
		name: "regional allocation failure",
		edit: func(c *azuresim.Config) {
			c.Errors = []azuresim.ErrorRule{{Operation: azuresim.OpPutVM, Code: "AllocationFailed", Async: true, Count: 1}}
		},
		sizes: []string{"Standard_D2s_v5", "Standard_D2s_v3"}, capacityTypes: []string{onDemand},
		wantICE: true, fallback: true, ttl: offerings.AllocationTTL, marked: same,
		check: func(e *env, size, zone, ct string) {
			for _, z := range []string{"eastus-1", "eastus-2", "eastus-3"} {
				e.expectUnavailable(size, z, onDemand, true)
				e.expectUnavailable(size, z, spot, true)
			}
			e.expectUnavailable("Standard_D2s_v3", zone, onDemand, false)
		},
	}, {
		name: "overconstrained zonal allocation",
		edit: func(c *azuresim.Config) {
			c.Errors = []azuresim.ErrorRule{{Operation: azuresim.OpPutVM, Code: "OverconstrainedZonalAllocationRequest", Async: true, Count: 1}}
		},
		sizes: []string{"Standard_D2s_v5"}, capacityTypes: []string{onDemand},
		wantICE: true, fallback: true, ttl: offerings.AllocationTTL, marked: same,
		check: func(e *env, size, zone, ct string) {
			e.expectUnavailable(size, zone, onDemand, true)
			e.expectUnavailable(size, zone, spot, false)
		},
	}, {
		name: "overconstrained allocation",
		edit: func(c *azuresim.Config) {
			c.Errors = []azuresim.ErrorRule{{Operation: azuresim.OpPutVM, Code: "OverconstrainedAllocationRequest", Async: true, Count: 1}}
		},
		sizes: []string{"Standard_D2s_v5", "Standard_D2s_v3"}, capacityTypes: []string{onDemand},
		wantICE: true, fallback: true, ttl: offerings.AllocationTTL, marked: same,
		check: func(e *env, size, zone, ct string) {
			e.expectUnavailable(size, "eastus-1", onDemand, true)
			e.expectUnavailable(size, "eastus-3", onDemand, true)
		},
	}, {
		name: "subnet full",
		edit: func(c *azuresim.Config) {
			c.Subnets = []azuresim.SubnetRule{{VNet: "vnet", Subnet: "nodes", AvailableIPs: 0}}
		},
		sizes: []string{"Standard_D2s_v5"}, capacityTypes: []string{onDemand},
		wantICE: true,
		check: func(e *env, size, zone, ct string) {
			e.expectUnavailable(size, zone, ct, false)
			if e.cache.SeqNum() != 0 {
				e.t.Error("subnet exhaustion marked offerings")
			}
		},
	}, {
		name: "internal server error",
		edit: func(c *azuresim.Config) {
			c.Errors = []azuresim.ErrorRule{{Operation: azuresim.OpPutVM, Code: "InternalServerError", Count: 10}}
		},
		sizes: []string{"Standard_D2s_v5"}, capacityTypes: []string{onDemand},
		wantReason: "InternalServerError",
	}}
	w := newWorld(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := w.env(t, tc.edit)
			nc := nodeClass(nil)
			its := e.instanceTypes(nc)
			claim := nodeClaim(tc.sizes, tc.capacityTypes)
			_, err := e.provider.Create(e.ctx, nc, claim, its)
			if err == nil {
				t.Fatal("Create succeeded, want a failure")
			}
			if tc.wantICE != cloudprovider.IsInsufficientCapacityError(err) {
				t.Fatalf("InsufficientCapacityError = %v, want %v: %v", !tc.wantICE, tc.wantICE, err)
			}
			if !tc.wantICE {
				var ce *cloudprovider.CreateError
				if !errors.As(err, &ce) || ce.ConditionReason != tc.wantReason {
					t.Fatalf("want CreateError with reason %s, got %v", tc.wantReason, err)
				}
			}
			e.expectNoLeaks()
			if n := len(e.state().NICs); n != 0 {
				t.Errorf("%d NICs left after a failed create", n)
			}
			var size, zone, ct string
			if tc.wantICE {
				size, zone, ct = firstAttempt(t, err)
			}
			if tc.check != nil {
				tc.check(e, size, zone, ct)
			}
			if tc.fallback {
				inst, err := e.provider.Create(e.ctx, nc, claim, its)
				if err != nil {
					t.Fatalf("retry: %v", err)
				}
				if inst.InstanceType == size && inst.Zone == zone && inst.CapacityType == ct {
					t.Fatalf("retry chose the failed offering %s %s %s again", size, zone, ct)
				}
				e.expectNoLeaks()
				if st := e.state(); len(st.VMs) != 1 || len(st.NICs) != 1 {
					t.Errorf("after the retry: %d VMs, %d NICs; want 1 and 1", len(st.VMs), len(st.NICs))
				}
			}
			if tc.ttl > 0 {
				ms, mz, mc := tc.marked(size, zone, ct)
				e.expectUnavailable(ms, mz, mc, true)
				e.clock.Step(tc.ttl - time.Minute)
				e.expectUnavailable(ms, mz, mc, true)
				e.clock.Step(2 * time.Minute)
				e.expectUnavailable(ms, mz, mc, false)
			}
		})
	}
}

func (e *env) expectUnavailable(size, zone, ct string, want bool) {
	e.t.Helper()
	reason := e.cache.Unavailable(e.offering(e.sku(size), zone, ct))
	if (reason != "") != want {
		e.t.Errorf("%s %s %s: unavailable=%v (%q), want %v", size, zone, ct, reason != "", reason, want)
	}
}

func TestParseQuota(t *testing.T) {
	for _, tc := range []struct {
		msg                      string
		kind, family             string
		limit, usage, req        int64
		spot, regional, notQuota bool
	}{
		{msg: "Operation could not be completed as it results in exceeding approved standardDSv3Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: eastus, Current Limit: 4, Current Usage: 4, Additional Required: 2, (Minimum) New Limit Required: 6.",
			kind: "standardDSv3Family Cores", family: "standardDSv3Family", limit: 4, usage: 4, req: 2},
		{msg: "Operation could not be completed as it results in exceeding approved Total Regional Cores quota. Additional details - Deployment Model: Resource Manager, Location: eastus, Current Limit: 10, Current Usage: 9, Additional Required: 2",
			kind: "Total Regional Cores", limit: 10, usage: 9, req: 2, regional: true},
		{msg: "Operation could not be completed as it results in exceeding approved LowPriorityCores quota. Additional details - Deployment Model: Resource Manager, Location: eastus, Current Limit: 0, Current Usage: 0, Additional Required: 2",
			kind: "LowPriorityCores", req: 2, spot: true},
		{msg: "The VM size 'Standard_A1' is not supported for Spot or Low Priority VMs.", notQuota: true},
	} {
		q, ok := instance.ParseQuota(tc.msg)
		if ok == tc.notQuota {
			t.Errorf("%q: quota=%v", tc.msg, ok)
			continue
		}
		if !ok {
			continue
		}
		if q.Kind != tc.kind || q.Family() != tc.family || q.Limit != tc.limit || q.Usage != tc.usage || q.Required != tc.req || q.IsSpot() != tc.spot || q.IsRegional() != tc.regional {
			t.Errorf("%q parsed as %+v (family %q)", tc.msg, q, q.Family())
		}
	}
}
