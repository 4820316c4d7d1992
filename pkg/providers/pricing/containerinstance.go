package pricing

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Azure Container Instances bills a container group per second for the
// vCPUs and the memory (GB) it requests. Its Retail Prices rows have
// serviceName "Container Instances", skuName "Standard" (Spot: "Standard
// Spot") and one meter per dimension ("Standard vCPU Duration", "Standard
// Memory Duration"), priced per "1 Hour" or "1 GB Hour" (GPU meters per
// "100 Seconds"); none has an armSkuName.

// ContainerInstancesFilter is the OData filter for a region's pay-as-you-go
// Container Instances prices in USD.
func ContainerInstancesFilter(region string) string {
	return "serviceName eq 'Container Instances' and priceType eq 'Consumption' and currencyCode eq 'USD' and armRegionName eq '" +
		strings.ReplaceAll(region, "'", "''") + "'"
}

// ListContainerInstancePrices returns every pay-as-you-go Container
// Instances price row of a region, all pages or an error.
func (c *Client) ListContainerInstancePrices(ctx context.Context, region string) ([]Item, error) {
	return c.listAll(ctx, region, ContainerInstancesFilter(region))
}

// ContainerRates are the USD prices of one container group capacity type
// per vCPU-second and per GB-second. Zero means unknown.
type ContainerRates struct {
	VCPUSecond float64
	GBSecond   float64
}

// Known reports whether both rates are known.
func (r ContainerRates) Known() bool { return r.VCPUSecond > 0 && r.GBSecond > 0 }

// ContainerPrices are a region's Linux container group prices: Standard and,
// where Azure sells it, Spot.
type ContainerPrices struct {
	Region   string
	Standard ContainerRates
	Spot     ContainerRates
}

// Cost is what a group requesting vCPUs and memoryGB costs over seconds,
// false when the capacity type has no price in the region.
func (p ContainerPrices) Cost(vcpus, memoryGB, seconds float64, spot bool) (float64, bool) {
	r := p.Standard
	if spot {
		r = p.Spot
	}
	if !r.Known() {
		return 0, false
	}
	return (vcpus*r.VCPUSecond + memoryGB*r.GBSecond) * seconds, true
}

// HourlyPrice is what a group requesting vCPUs and memoryGB costs per hour.
func (p ContainerPrices) HourlyPrice(vcpus, memoryGB float64, spot bool) (float64, bool) {
	return p.Cost(vcpus, memoryGB, 3600, spot)
}

// BuildContainerPrices reads a region's Container Instances rows into
// per-second rates. Rows of other regions, other products (GPU, confidential),
// Windows software meters and unknown units are ignored; among rows for the
// same meter the latest effective one wins, as for VM prices.
func BuildContainerPrices(items []Item, region string) ContainerPrices {
	out := ContainerPrices{Region: region}
	latest := map[string]string{}
	for i := range items {
		it := &items[i]
		if it.ServiceName != "Container Instances" || it.ProductName != "Container Instances" || !strings.EqualFold(it.ArmRegionName, region) ||
			it.Type != "Consumption" || it.CurrencyCode != "USD" {
			continue
		}
		var rates *ContainerRates
		switch it.SkuName {
		case "Standard":
			rates = &out.Standard
		case "Standard Spot":
			rates = &out.Spot
		default:
			continue
		}
		perSecond, ok := perSecondPrice(it.UnitPrice, it.UnitOfMeasure)
		if !ok {
			continue
		}
		var field *float64
		switch {
		case strings.HasSuffix(it.MeterName, "vCPU Duration"):
			field = &rates.VCPUSecond
		case strings.HasSuffix(it.MeterName, "Memory Duration"):
			field = &rates.GBSecond
		default:
			continue
		}
		key := it.SkuName + "/" + it.MeterName
		if prev, seen := latest[key]; seen && prev > it.EffectiveStartDate {
			continue
		}
		latest[key] = it.EffectiveStartDate
		*field = perSecond
	}
	return out
}

// perSecondPrice converts a price per unitOfMeasure ("1 Hour", "1 GB Hour",
// "100 Seconds", "1 GB Second", …) to a price per second (per GB-second for
// memory units).
func perSecondPrice(price float64, unit string) (float64, bool) {
	f := strings.Fields(unit)
	if len(f) < 2 || price < 0 {
		return 0, false
	}
	n, err := strconv.ParseFloat(f[0], 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	var seconds float64
	switch strings.ToLower(f[len(f)-1]) {
	case "hour", "hours":
		seconds = 3600
	case "second", "seconds":
		seconds = 1
	default:
		return 0, false
	}
	return price / (n * seconds), true
}

// String is a one-line summary for logs.
func (p ContainerPrices) String() string {
	return fmt.Sprintf("%s: standard %.8f/vCPU-s %.9f/GB-s, spot %.8f/vCPU-s %.9f/GB-s", p.Region,
		p.Standard.VCPUSecond, p.Standard.GBSecond, p.Spot.VCPUSecond, p.Spot.GBSecond)
}
