package sku_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/utils/clock"

	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

func newProvider(t *testing.T, location string, edit func(*azuresim.Config)) *sku.DefaultProvider {
	t.Helper()
	_, cfg := testutil.StartAzureSim(t, edit)
	clients, err := azure.NewClients(cfg, testutil.SubscriptionID)
	if err != nil {
		t.Fatal(err)
	}
	return sku.NewDefaultProvider(clients.Compute.NewResourceSKUsClient(), location, clock.RealClock{})
}

func TestCatalogFromAzureSim(t *testing.T) {
	ctx := context.Background()
	p := newProvider(t, "eastus", nil)
	c, err := p.Catalog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.SKUs) < 300 {
		t.Fatalf("%d VM sizes in eastus, want at least 300", len(c.SKUs))
	}
	d4, ok := c.SKUs["Standard_D4s_v5"]
	if !ok {
		t.Fatal("Standard_D4s_v5 missing")
	}
	if d4.VCPUs() != 4 || d4.MemoryGiB() != 16 || d4.Family != "standardDSv5Family" || d4.Architecture() != "amd64" {
		t.Errorf("Standard_D4s_v5 parsed as %d vCPU, %gGiB, %s, %s", d4.VCPUs(), d4.MemoryGiB(), d4.Family, d4.Architecture())
	}
	if len(d4.Zones) != 3 {
		t.Errorf("Standard_D4s_v5 zones in eastus = %v, want 3", d4.Zones)
	}
	gen := c.Generation
	if err := p.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	c2, _ := p.Catalog(ctx)
	if c2.Generation == gen {
		t.Error("a refresh must change the generation")
	}
}

func TestRegionWithoutZones(t *testing.T) {
	p := newProvider(t, "westcentralus", nil)
	c, err := p.Catalog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range c.SKUs {
		if len(s.Zones) != 0 {
			t.Fatalf("%s has zones %v in westcentralus, which has none", name, s.Zones)
		}
	}
}

func TestUnknownRegion(t *testing.T) {
	p := newProvider(t, "atlantis", nil)
	if _, err := p.Catalog(context.Background()); err == nil || !strings.Contains(err.Error(), "check the region name") {
		t.Fatalf("want a clear error for an unknown region, got %v", err)
	}
}
