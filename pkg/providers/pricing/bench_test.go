package pricing_test

import (
	"context"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/azkarpenter/azkarpenter/pkg/providers/pricing"
)

// BenchmarkListVMPrices fetches and parses eastus's Retail Prices rows
// from an in-process azuresim: paging, JSON decoding and the OData filter.
func BenchmarkListVMPrices(b *testing.B) {
	sim := startSim(b)
	client, err := pricing.NewClient(sim.URL(), &policy.ClientOptions{Transport: sim.HTTPClient(), Retry: fastRetry()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	rows := 0
	b.ReportAllocs()
	for b.Loop() {
		items, err := client.ListVMPrices(ctx, "eastus")
		if err != nil {
			b.Fatal(err)
		}
		rows = len(items)
	}
	b.ReportMetric(float64(rows), "rows")
}

// BenchmarkBuildTable classifies the rows (on-demand, spot, Windows; Low
// Priority and reservations dropped) into the price table.
func BenchmarkBuildTable(b *testing.B) {
	sim := startSim(b)
	client, err := pricing.NewClient(sim.URL(), &policy.ClientOptions{Transport: sim.HTTPClient(), Retry: fastRetry()})
	if err != nil {
		b.Fatal(err)
	}
	items, err := client.ListVMPrices(context.Background(), "eastus")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if t := pricing.BuildTable(items, "eastus"); t.Count() == 0 {
			b.Fatal("empty table")
		}
	}
	b.ReportMetric(float64(len(items)), "rows")
}
