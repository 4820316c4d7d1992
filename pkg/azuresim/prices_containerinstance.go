package azuresim

import (
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
)

// Container Instances rows of the Retail Prices API. Their shape is the
// API's for ACI: serviceName and productName "Container Instances", skuName
// "Standard" (Spot: "Standard Spot"), meters "Standard vCPU Duration"
// (unitOfMeasure "1 Hour", per vCPU) and "Standard Memory Duration" ("1 GB
// Hour", per GB), no armSkuName. ACI bills a container group per second for
// the vCPUs and memory it requests (learn.microsoft.com/azure/container-instances/container-instances-overview,
// "per-second billing"; azure.microsoft.com/pricing/details/container-instances).
//
// The figures: East US Linux on-demand $0.0405 per vCPU-hour and $0.00445
// per GB-hour, as the Retail Prices API answered in August 2026 (a query of
// serviceName eq 'Container Instances' and armRegionName eq 'eastus'
// published in a public repository; Sweden Central's $0.0466 and $0.00511
// in another keep the same ratio to its VM prices as the model below). The
// rows' names and SKUs are as public queries of the API show them; their
// serviceId is azuresim's own and their serviceFamily ("Containers") is
// not confirmed by a source.
//
// What is azuresim's model rather than a published figure: other regions
// are East US's figures scaled by the region's VM price level (the catalog's
// Standard_D2s_v5 Linux price against East US's); Spot is 30% of on-demand
// (Azure says Spot containers cost "up to 70%" less; the exact rate was not
// found in a public source) and its meter names add "Spot" as its skuName
// does. Spot rows exist only in the regions Config.ContainerInstances
// would run Spot in by default (aciSpotRegions) that the catalog has.
const (
	aciEastUSVCPUHourUSD = 0.0405
	aciEastUSGBHourUSD   = 0.00445
	aciSpotFraction      = 0.30
	aciReferenceSKU      = "Standard_D2s_v5"
)

func containerInstancePriceItems(c *catalog.Catalog) []PriceItem {
	level := func(region string) float64 {
		s, ok := c.SKU(aciReferenceSKU)
		if !ok {
			return 1
		}
		base, ok1 := c.Price(s, "eastus", false, false)
		here, ok2 := c.Price(s, region, false, false)
		if !ok1 || !ok2 || base <= 0 {
			return 1
		}
		return here / base
	}
	var out []PriceItem
	for _, r := range c.Regions {
		f := level(r.Name)
		for _, spot := range []bool{false, true} {
			if spot && !slices.Contains(aciSpotRegions, r.Name) {
				continue
			}
			sku, k := "Standard", 1.0
			if spot {
				sku, k = "Standard Spot", aciSpotFraction
			}
			for _, m := range []struct {
				meter, unit string
				usd         float64
			}{{sku + " vCPU Duration", "1 Hour", aciEastUSVCPUHourUSD}, {sku + " Memory Duration", "1 GB Hour", aciEastUSGBHourUSD}} {
				price := roundUSD(m.usd * f * k)
				productID := shortID("product/Container Instances")
				out = append(out, PriceItem{
					CurrencyCode: "USD", RetailPrice: price, UnitPrice: price, ArmRegionName: r.Name, Location: r.PriceName,
					EffectiveStartDate: "2021-06-08T00:00:00Z", MeterID: uuid.NewSHA1(uuid.NameSpaceURL, []byte(r.Name+"/aci/"+m.meter)).String(),
					MeterName: m.meter, ProductID: productID, SkuID: productID + "/" + shortID("sku/aci/" + strings.ToLower(sku))[:4],
					ProductName: "Container Instances", SkuName: sku, ServiceName: "Container Instances", ServiceID: shortID("service/Container Instances"),
					ServiceFamily: "Containers", UnitOfMeasure: m.unit, Type: "Consumption", IsPrimaryMeterRegion: true,
				})
			}
		}
	}
	return out
}
