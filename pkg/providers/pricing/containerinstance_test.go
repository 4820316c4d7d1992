package pricing_test

import (
	"context"
	"math"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/azkarpenter/azkarpenter/pkg/providers/pricing"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12+1e-9*math.Abs(b) }

func TestContainerInstancePricesFromTheAPI(t *testing.T) {
	sim := startSim(t)
	client, err := pricing.NewClient(sim.URL(), &policy.ClientOptions{Transport: sim.HTTPClient(), Retry: fastRetry()})
	if err != nil {
		t.Fatal(err)
	}
	items, err := client.ListContainerInstancePrices(context.Background(), "eastus")
	if err != nil {
		t.Fatal(err)
	}
	if len(items) == 0 {
		t.Fatal("no Container Instances rows for eastus")
	}
	for _, it := range items {
		if it.ServiceName != "Container Instances" || it.ArmRegionName != "eastus" || it.ArmSkuName != "" {
			t.Fatalf("row outside the filter: %+v", it)
		}
	}
	p := pricing.BuildContainerPrices(items, "eastus")
	// East US's published rates: $0.0405 per vCPU-hour, $0.00445 per GB-hour.
	if !near(p.Standard.VCPUSecond, 0.0405/3600) || !near(p.Standard.GBSecond, 0.00445/3600) {
		t.Fatalf("standard rates %s", p)
	}
	if p.Spot.Known() {
		t.Fatalf("spot rates in eastus, where Azure does not sell Spot containers: %s", p)
	}
	hour, ok := p.HourlyPrice(1, 2, false)
	if !ok || !near(hour, 0.0405+2*0.00445) {
		t.Fatalf("1 vCPU / 2 GB for an hour: %v %v", hour, ok)
	}
	if _, ok := p.Cost(1, 2, 60, true); ok {
		t.Fatal("a spot cost without spot rates")
	}
	vms, err := client.ListVMPrices(context.Background(), "eastus")
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range vms {
		if it.ServiceName != "Virtual Machines" {
			t.Fatalf("a %s row among VM prices", it.ServiceName)
		}
	}
}

func TestBuildContainerPrices(t *testing.T) {
	row := func(sku, meter, unit, start string, price float64) pricing.Item {
		return pricing.Item{ServiceName: "Container Instances", ProductName: "Container Instances", SkuName: sku, MeterName: meter,
			UnitOfMeasure: unit, UnitPrice: price, RetailPrice: price, ArmRegionName: "westeurope", Type: "Consumption", CurrencyCode: "USD", EffectiveStartDate: start}
	}
	items := []pricing.Item{
		row("Standard", "Standard vCPU Duration", "1 Hour", "2021-06-08T00:00:00Z", 0.0405),
		row("Standard", "Standard vCPU Duration", "1 Hour", "2020-01-01T00:00:00Z", 0.09), // superseded
		row("Standard", "Standard Memory Duration", "1 GB Hour", "2021-06-08T00:00:00Z", 0.00445),
		row("Standard", "Standard Windows Software Duration", "1 Second", "2021-06-08T00:00:00Z", 0.000012),
		row("Standard Spot", "Standard Spot vCPU Duration", "100 Seconds", "2023-01-01T00:00:00Z", 0.0003),
		row("Standard Spot", "Standard Spot Memory Duration", "1 GB Second", "2023-01-01T00:00:00Z", 0.0000004),
		row("V100", "V100 vCPU Duration", "100 Seconds", "2021-06-08T00:00:00Z", 0.01),
		row("Standard", "Standard vCPU Duration", "1 Fortnight", "2022-01-01T00:00:00Z", 1),
	}
	gpu := row("Standard", "Standard vCPU Duration", "1 Hour", "2030-01-01T00:00:00Z", 5)
	gpu.ProductName = "Container Instances with GPU"
	items = append(items, gpu)
	p := pricing.BuildContainerPrices(items, "westeurope")
	if !near(p.Standard.VCPUSecond, 0.0405/3600) || !near(p.Standard.GBSecond, 0.00445/3600) {
		t.Fatalf("standard %s", p)
	}
	if !near(p.Spot.VCPUSecond, 0.000003) || !near(p.Spot.GBSecond, 0.0000004) {
		t.Fatalf("spot %s", p)
	}
	if c, ok := p.Cost(2, 4, 30, true); !ok || !near(c, (2*0.000003+4*0.0000004)*30) {
		t.Fatalf("spot cost %v %v", c, ok)
	}
	if q := pricing.BuildContainerPrices(items, "eastus"); q.Standard.Known() {
		t.Fatalf("rows of another region were read: %s", q)
	}
}
