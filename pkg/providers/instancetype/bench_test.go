package instancetype_test

import (
	"context"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"k8s.io/utils/clock"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instancetype"
	"github.com/azkarpenter/azkarpenter/pkg/providers/offerings"
	"github.com/azkarpenter/azkarpenter/pkg/providers/pricing"
	"github.com/azkarpenter/azkarpenter/pkg/providers/quota"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

// benchInputs loads eastus's whole catalog, prices and quota from azuresim
// once, so the benchmarks measure only the instance-type build.
func benchInputs(b *testing.B) (sku.Provider, instancetype.Prices, quota.Provider, int) {
	b.Helper()
	ctx := context.Background()
	_, cfg := testutil.StartAzureSim(b, nil)
	clients, err := azure.NewClients(cfg, testutil.SubscriptionID)
	if err != nil {
		b.Fatal(err)
	}
	skus := sku.NewDefaultProvider(clients.Compute.NewResourceSKUsClient(), "eastus", clock.RealClock{})
	catalog, err := skus.Catalog(ctx)
	if err != nil {
		b.Fatal(err)
	}
	prices, err := pricing.NewDefaultProvider(ctx, pricing.Options{Region: "eastus", Endpoint: cfg.ARMEndpoint, ClientOptions: policy.ClientOptions{Transport: clients.HTTPClient}})
	if err != nil {
		b.Fatal(err)
	}
	if err := prices.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	q := quota.NewDefaultProvider(clients.Compute.NewUsageClient(), "eastus", clock.RealClock{})
	q.Snapshot(ctx)
	return skus, prices, q, len(catalog.SKUs)
}

// BenchmarkListCold builds every instance type of the catalog for a NodeClass
// with an empty cache: the cost after a catalog, price or availability change.
func BenchmarkListCold(b *testing.B) {
	skus, prices, q, n := benchInputs(b)
	ctx := context.Background()
	nc := nodeClass(nil)
	clk := clock.RealClock{}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		p := instancetype.NewDefaultProvider(instancetype.Options{Region: "eastus", ClusterName: "c", DefaultMaxPods: 250}, skus, prices, offerings.NewCache(clk), q, clk)
		its, err := p.List(ctx, nc)
		if err != nil || len(its) == 0 {
			b.Fatal(err, len(its))
		}
	}
	b.ReportMetric(float64(n), "skus")
}

// BenchmarkListCached is GetInstanceTypes for an unchanged NodeClass.
func BenchmarkListCached(b *testing.B) {
	skus, prices, q, _ := benchInputs(b)
	ctx := context.Background()
	nc := nodeClass(nil)
	clk := clock.RealClock{}
	p := instancetype.NewDefaultProvider(instancetype.Options{Region: "eastus", ClusterName: "c", DefaultMaxPods: 250}, skus, prices, offerings.NewCache(clk), q, clk)
	if _, err := p.List(ctx, nc); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := p.List(ctx, nc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkForNodePool is the per-NodePool selection (dominated and
// outsized sizes marked unavailable) on a cache miss, over the whole
// eastus catalog; GetInstanceTypes caches it like List.
func BenchmarkForNodePool(b *testing.B) {
	skus, prices, q, _ := benchInputs(b)
	ctx := context.Background()
	nc := nodeClass(nil)
	clk := clock.RealClock{}
	p := instancetype.NewDefaultProvider(instancetype.Options{Region: "eastus", ClusterName: "c", DefaultMaxPods: 250}, skus, prices, offerings.NewCache(clk), q, clk)
	its, err := p.List(ctx, nc)
	if err != nil {
		b.Fatal(err)
	}
	np := &karpv1.NodePool{}
	b.ReportAllocs()
	for b.Loop() {
		instancetype.ForNodePool(its, nc, np)
	}
}

// BenchmarkListAvailabilityChanged is GetInstanceTypes after an offering
// became unavailable: in a burst this happens many times a minute, and only
// the offerings' availability has changed.
func BenchmarkListAvailabilityChanged(b *testing.B) {
	skus, prices, q, _ := benchInputs(b)
	ctx := context.Background()
	nc := nodeClass(nil)
	clk := clock.RealClock{}
	unavailable := offerings.NewCache(clk)
	p := instancetype.NewDefaultProvider(instancetype.Options{Region: "eastus", ClusterName: "c", DefaultMaxPods: 250}, skus, prices, unavailable, q, clk)
	if _, err := p.List(ctx, nc); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		unavailable.MarkUnavailable(ctx, "bench", "Standard_D2s_v3", "eastus-1", karpv1.CapacityTypeSpot, time.Minute)
		if _, err := p.List(ctx, nc); err != nil {
			b.Fatal(err)
		}
	}
}
