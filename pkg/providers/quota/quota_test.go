package quota_test

import (
	"context"
	"testing"

	"k8s.io/utils/clock"

	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/providers/quota"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

func TestQuotaFromAzureSim(t *testing.T) {
	ctx := context.Background()
	srv, cfg := testutil.StartAzureSim(t, func(c *azuresim.Config) {
		c.Quota.RegionalLimit = 100
		c.Quota.LowPriorityLimit = 8
		c.Quota.Families = []azuresim.FamilyQuota{{Family: "standardDSv5Family", Limit: 12}}
	})
	clients, err := azure.NewClients(cfg, testutil.SubscriptionID)
	if err != nil {
		t.Fatal(err)
	}
	p := quota.NewDefaultProvider(clients.Compute.NewUsageClient(), "eastus", clock.RealClock{})
	s := p.Snapshot(ctx)
	if !s.Known {
		t.Fatal("quota should be known")
	}
	for _, tc := range []struct {
		family string
		vcpus  int64
		spot   bool
		fits   bool
	}{
		{"standardDSv5Family", 8, false, true},
		{"standardDSv5Family", 16, false, false}, // family limit 12
		{"standardESv5Family", 96, false, true},
		{"standardESv5Family", 104, false, false}, // regional limit 100
		{"standardESv5Family", 8, true, true},
		{"standardESv5Family", 16, true, false}, // low-priority limit 8
	} {
		if fits, why := s.Fits(tc.family, tc.vcpus, tc.spot); fits != tc.fits {
			t.Errorf("%s %d vCPU spot=%v: fits=%v (%s), want %v", tc.family, tc.vcpus, tc.spot, fits, why, tc.fits)
		}
	}

	// When the usages API fails, the last reading is kept.
	gen := s.Generation
	_ = srv.Close()
	if err := p.Refresh(ctx); err == nil {
		t.Fatal("refresh against a stopped endpoint should fail")
	}
	if s2 := p.Snapshot(ctx); !s2.Known || s2.Generation != gen {
		t.Error("a failed refresh must keep the previous reading")
	}
}

func TestFailOpen(t *testing.T) {
	srv, cfg := testutil.StartAzureSim(t, nil)
	clients, err := azure.NewClients(cfg, testutil.SubscriptionID)
	if err != nil {
		t.Fatal(err)
	}
	_ = srv.Close()
	p := quota.NewDefaultProvider(clients.Compute.NewUsageClient(), "eastus", clock.RealClock{})
	s := p.Snapshot(context.Background())
	if s.Known {
		t.Fatal("quota cannot be known without a reading")
	}
	if fits, _ := s.Fits("standardDSv5Family", 1000, false); !fits {
		t.Error("unknown quota must fail open")
	}
}
