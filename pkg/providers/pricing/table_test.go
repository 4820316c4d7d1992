package pricing_test

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/azkarpenter/azkarpenter/pkg/providers/pricing"
)

// row is a Linux on-demand D2s v3 row in eastus; tests edit copies of it.
func row(edit func(*pricing.Item)) pricing.Item {
	it := pricing.Item{
		CurrencyCode: "USD", RetailPrice: 0.096, UnitPrice: 0.096, ArmRegionName: "eastus", Location: "US East",
		EffectiveStartDate: "2024-05-01T00:00:00Z", MeterID: "m-1", MeterName: "D2s v3", ProductName: "Virtual Machines DSv3 Series",
		SkuName: "D2s v3", ServiceName: "Virtual Machines", ServiceFamily: "Compute", UnitOfMeasure: "1 Hour",
		Type: "Consumption", IsPrimaryMeterRegion: true, ArmSkuName: "Standard_D2s_v3",
	}
	if edit != nil {
		edit(&it)
	}
	return it
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(*pricing.Item)
		want    pricing.Variant
		usable  bool
		comment string
	}{
		{name: "linux on-demand", want: pricing.LinuxOnDemand, usable: true},
		{name: "linux spot", edit: func(i *pricing.Item) { i.SkuName, i.MeterName = "D2s v3 Spot", "D2s v3 Spot" }, want: pricing.LinuxSpot, usable: true},
		{name: "spot only in meterName", edit: func(i *pricing.Item) { i.MeterName = "D2s v3 Spot" }, want: pricing.LinuxSpot, usable: true},
		{name: "windows on-demand", edit: func(i *pricing.Item) { i.ProductName += " Windows" }, want: pricing.WindowsOnDemand, usable: true},
		{name: "windows spot", edit: func(i *pricing.Item) {
			i.ProductName += " Windows"
			i.SkuName, i.MeterName = "D2s v3 Spot", "D2s v3 Spot"
		}, want: pricing.WindowsSpot, usable: true},
		{name: "batch low priority", edit: func(i *pricing.Item) { i.SkuName, i.MeterName = "D2s v3 Low Priority", "D2s v3 Low Priority" }},
		{name: "windows low priority", edit: func(i *pricing.Item) { i.ProductName += " Windows"; i.MeterName = "D2s v3 Low Priority" }},
		{name: "dev/test", edit: func(i *pricing.Item) { i.Type = "DevTestConsumption" }},
		{name: "reservation", edit: func(i *pricing.Item) { i.Type, i.ReservationTerm = "Reservation", "1 Year" }},
		{name: "other region", edit: func(i *pricing.Item) { i.ArmRegionName = "westus2" }},
		{name: "other currency", edit: func(i *pricing.Item) { i.CurrencyCode = "EUR" }},
		{name: "other unit", edit: func(i *pricing.Item) { i.UnitOfMeasure = "1/Month" }},
		{name: "no ARM SKU", edit: func(i *pricing.Item) { i.ArmSkuName = "" }},
		{name: "zero price", edit: func(i *pricing.Item) { i.RetailPrice = 0 }},
		{name: "SKU name containing Spot as a word prefix is not spot", edit: func(i *pricing.Item) { i.SkuName, i.MeterName = "Spotlight", "Spotlight" }, want: pricing.LinuxOnDemand, usable: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it := row(tc.edit)
			got, ok := pricing.Classify(&it, "eastus")
			if ok != tc.usable || (ok && got != tc.want) {
				t.Fatalf("Classify = (%v, %v), want (%v, %v)", got, ok, tc.want, tc.usable)
			}
		})
	}
}

func TestBuildTableSplitsVariants(t *testing.T) {
	items := []pricing.Item{
		row(nil),
		row(func(i *pricing.Item) { i.SkuName, i.MeterName, i.RetailPrice = "D2s v3 Spot", "D2s v3 Spot", 0.0192 }),
		row(func(i *pricing.Item) {
			i.SkuName, i.MeterName, i.RetailPrice = "D2s v3 Low Priority", "D2s v3 Low Priority", 0.0211
		}),
		row(func(i *pricing.Item) { i.ProductName += " Windows"; i.RetailPrice = 0.188 }),
		row(func(i *pricing.Item) {
			i.ProductName += " Windows"
			i.SkuName, i.MeterName, i.RetailPrice = "D2s v3 Spot", "D2s v3 Spot", 0.0376
		}),
		row(func(i *pricing.Item) { i.Type, i.RetailPrice = "DevTestConsumption", 0.05 }),
		row(func(i *pricing.Item) { i.ArmSkuName, i.RetailPrice = "Standard_D4s_v3", 0.192 }),
	}
	got := pricing.BuildTable(items, "eastus")
	want := pricing.Table{
		"Standard_D2s_v3": {Linux: 0.096, LinuxSpot: 0.0192, Windows: 0.188, WindowsSpot: 0.0376},
		"Standard_D4s_v3": {Linux: 0.192},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d SKUs, want %d: %v", len(got), len(want), got)
	}
	for sku, w := range want {
		if got[sku] != w {
			t.Errorf("%s: got %+v, want %+v", sku, got[sku], w)
		}
	}
	if n := got.Count(); n != 5 {
		t.Errorf("Count = %d, want 5", n)
	}
	byKind := got.CountByKind()
	if byKind[[2]string{"on-demand", "linux"}] != 2 || byKind[[2]string{"spot", "windows"}] != 1 {
		t.Errorf("CountByKind = %v", byKind)
	}
}

func TestBuildTableMeterChoice(t *testing.T) {
	price := func(p float64, primary bool, start, meter string) pricing.Item {
		return row(func(i *pricing.Item) {
			i.RetailPrice, i.IsPrimaryMeterRegion, i.EffectiveStartDate, i.MeterID = p, primary, start, meter
		})
	}
	for _, tc := range []struct {
		name  string
		items []pricing.Item
		want  float64
	}{
		{"primary meter wins over a later non-primary one", []pricing.Item{
			price(0.10, true, "2023-01-01T00:00:00Z", "a"), price(0.20, false, "2025-01-01T00:00:00Z", "b"),
		}, 0.10},
		{"latest effective date wins among primaries", []pricing.Item{
			price(0.10, true, "2023-01-01T00:00:00Z", "a"), price(0.12, true, "2024-06-01T00:00:00Z", "b"),
		}, 0.12},
		{"latest effective date wins among non-primaries", []pricing.Item{
			price(0.10, false, "2023-01-01T00:00:00Z", "a"), price(0.12, false, "2024-06-01T00:00:00Z", "b"),
		}, 0.12},
		{"meterId breaks ties", []pricing.Item{
			price(0.11, true, "2024-01-01T00:00:00Z", "z"), price(0.10, true, "2024-01-01T00:00:00Z", "m"),
		}, 0.10},
		{"unparsable date loses", []pricing.Item{
			price(0.11, true, "yesterday", "a"), price(0.10, true, "2020-01-01T00:00:00Z", "b"),
		}, 0.10},
		{"dev/test meter ignored", []pricing.Item{
			price(0.10, true, "2023-01-01T00:00:00Z", "a"), row(func(i *pricing.Item) { i.Type, i.RetailPrice = "DevTestConsumption", 0.01 }),
		}, 0.10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The choice must not depend on the order rows arrive in.
			for range 5 {
				items := append([]pricing.Item(nil), tc.items...)
				rand.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
				if got := pricing.BuildTable(items, "eastus")["Standard_D2s_v3"].Linux; got != tc.want {
					t.Fatalf("order %v: got %v, want %v", items, got, tc.want)
				}
			}
		})
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	in := &pricing.Snapshot{
		GeneratedAt: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		Source:      "test",
		Regions: map[string]pricing.Table{
			"eastus":        {"Standard_D2s_v3": {Linux: 0.096, LinuxSpot: 0.02, Windows: 0.188, WindowsSpot: 0.04}},
			"westcentralus": {"Standard_B2s": {Linux: 0.05}},
		},
	}
	var a, b bytes.Buffer
	if err := in.Encode(&a); err != nil {
		t.Fatal(err)
	}
	if err := in.Encode(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("Encode is not deterministic")
	}
	out, err := pricing.DecodeSnapshot(&a)
	if err != nil {
		t.Fatal(err)
	}
	if !out.GeneratedAt.Equal(in.GeneratedAt) || out.Source != in.Source || len(out.Regions) != 2 ||
		out.Regions["eastus"]["Standard_D2s_v3"] != in.Regions["eastus"]["Standard_D2s_v3"] ||
		out.Regions["westcentralus"]["Standard_B2s"] != in.Regions["westcentralus"]["Standard_B2s"] {
		t.Errorf("round trip: got %+v, want %+v", out, in)
	}
	if _, err := pricing.DecodeSnapshot(bytes.NewReader([]byte("not gzip"))); err == nil {
		t.Error("DecodeSnapshot accepted garbage")
	}
}

func TestEmbeddedSnapshot(t *testing.T) {
	s, err := pricing.DefaultSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if s.GeneratedAt.IsZero() {
		t.Error("embedded snapshot has no generation time")
	}
	for _, region := range []string{"eastus", "westus2", "southcentralus", "westcentralus"} {
		table := s.Regions[region]
		if len(table) < 500 {
			t.Errorf("%s: %d SKUs in the embedded snapshot, want the whole azuresim catalog", region, len(table))
		}
		d2 := table["Standard_D2s_v3"]
		if d2.Linux <= 0 || d2.LinuxSpot <= 0 || d2.Windows <= d2.Linux || d2.WindowsSpot <= d2.LinuxSpot || d2.LinuxSpot >= d2.Linux {
			t.Errorf("%s: Standard_D2s_v3 prices look wrong: %+v", region, d2)
		}
	}
}

func TestNewClientValidatesEndpoint(t *testing.T) {
	for _, ep := range []string{"prices.azure.com", "ftp://x", "https://", "http://[::1"} {
		if _, err := pricing.NewClient(ep, nil); err == nil {
			t.Errorf("NewClient(%q) accepted it", ep)
		}
	}
	c, err := pricing.NewClient("", nil)
	if err != nil || c.Endpoint() != pricing.DefaultEndpoint {
		t.Errorf("NewClient(\"\") = %v, %v", c, err)
	}
}
