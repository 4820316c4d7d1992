package pricing

import (
	"strings"
	"time"
)

// SKUPrices are the USD/hour prices of one VM size in one region. Zero means
// no price is known for that variant.
type SKUPrices struct {
	Linux       float64 `json:"linux,omitempty"`
	LinuxSpot   float64 `json:"linuxSpot,omitempty"`
	Windows     float64 `json:"windows,omitempty"`
	WindowsSpot float64 `json:"windowsSpot,omitempty"`
}

// For is the price for an OS (Windows or Linux) and capacity type (spot or
// on-demand); 0 when unknown.
func (p SKUPrices) For(windows, spot bool) float64 {
	switch {
	case windows && spot:
		return p.WindowsSpot
	case windows:
		return p.Windows
	case spot:
		return p.LinuxSpot
	}
	return p.Linux
}

// Count is the number of known prices (0..4).
func (p SKUPrices) Count() int {
	n := 0
	for _, v := range []float64{p.Linux, p.LinuxSpot, p.Windows, p.WindowsSpot} {
		if v > 0 {
			n++
		}
	}
	return n
}

// Table maps an ARM SKU name (Standard_D2s_v3) to its prices in one region.
type Table map[string]SKUPrices

// Count is the number of known prices across all SKUs.
func (t Table) Count() int {
	n := 0
	for _, p := range t {
		n += p.Count()
	}
	return n
}

// CountByKind counts known prices by capacity type ("on-demand", "spot") and
// OS ("linux", "windows").
func (t Table) CountByKind() map[[2]string]int {
	out := map[[2]string]int{}
	for _, p := range t {
		for _, k := range priceKinds {
			if k.get(p) > 0 {
				out[[2]string{k.capacityType, k.os}]++
			}
		}
	}
	return out
}

var priceKinds = []struct {
	capacityType, os string
	get              func(SKUPrices) float64
}{
	{"on-demand", "linux", func(p SKUPrices) float64 { return p.Linux }},
	{"spot", "linux", func(p SKUPrices) float64 { return p.LinuxSpot }},
	{"on-demand", "windows", func(p SKUPrices) float64 { return p.Windows }},
	{"spot", "windows", func(p SKUPrices) float64 { return p.WindowsSpot }},
}

// Variant is what a price row prices.
type Variant int

const (
	LinuxOnDemand Variant = iota
	LinuxSpot
	WindowsOnDemand
	WindowsSpot
)

// Classify says which variant a Retail Prices row is, or false when the row
// must not be used: another price type (DevTestConsumption, Reservation),
// currency, unit or region; a Batch "Low Priority" meter; no ARM SKU name;
// or no positive price (a zero price would make a SKU look free).
func Classify(it *Item, region string) (Variant, bool) {
	switch {
	case it.Type != "Consumption",
		it.CurrencyCode != "" && it.CurrencyCode != "USD",
		it.UnitOfMeasure != "" && it.UnitOfMeasure != "1 Hour",
		region != "" && !strings.EqualFold(it.ArmRegionName, region),
		it.ArmSkuName == "",
		!(it.RetailPrice > 0),
		strings.Contains(it.SkuName, " Low Priority"), strings.Contains(it.MeterName, " Low Priority"):
		return 0, false
	}
	spot := strings.HasSuffix(it.SkuName, " Spot") || strings.HasSuffix(it.MeterName, " Spot")
	windows := strings.HasSuffix(it.ProductName, " Windows")
	switch {
	case windows && spot:
		return WindowsSpot, true
	case windows:
		return WindowsOnDemand, true
	case spot:
		return LinuxSpot, true
	}
	return LinuxOnDemand, true
}

// candidate is the row currently chosen for one (SKU, variant).
type candidate struct {
	price   float64
	primary bool
	start   time.Time
	meterID string
}

// better reports whether c should replace cur. Azure can list several
// Consumption meters for one SKU and variant: a meter that also bills in
// another region (isPrimaryMeterRegion false), and a superseded meter next to
// its successor (older effectiveStartDate). The primary meter is the one
// Azure bills this region's VMs on, so it wins; among equals the latest
// effectiveStartDate is the price in force; meterId breaks remaining ties so
// the choice never depends on the order the API returned rows in.
func (c candidate) better(cur candidate) bool {
	if c.primary != cur.primary {
		return c.primary
	}
	if !c.start.Equal(cur.start) {
		return c.start.After(cur.start)
	}
	return c.meterID < cur.meterID
}

// BuildTable turns a region's Retail Prices rows into a Table.
func BuildTable(items []Item, region string) Table {
	chosen := map[string]*[4]*candidate{}
	for i := range items {
		it := &items[i]
		v, ok := Classify(it, region)
		if !ok {
			continue
		}
		start, _ := time.Parse(time.RFC3339, it.EffectiveStartDate) // unparsable dates sort first
		c := &candidate{price: it.RetailPrice, primary: it.IsPrimaryMeterRegion, start: start, meterID: it.MeterID}
		slot := chosen[it.ArmSkuName]
		if slot == nil {
			slot = &[4]*candidate{}
			chosen[it.ArmSkuName] = slot
		}
		if cur := slot[v]; cur == nil || c.better(*cur) {
			slot[v] = c
		}
	}
	t := make(Table, len(chosen))
	for sku, slot := range chosen {
		var p SKUPrices
		for v, c := range slot {
			if c == nil {
				continue
			}
			switch Variant(v) {
			case LinuxOnDemand:
				p.Linux = c.price
			case LinuxSpot:
				p.LinuxSpot = c.price
			case WindowsOnDemand:
				p.Windows = c.price
			case WindowsSpot:
				p.WindowsSpot = c.price
			}
		}
		t[sku] = p
	}
	return t
}
