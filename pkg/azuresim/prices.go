package azuresim

import (
	"crypto/sha1"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
)

// PriceItem is one Retail Prices API row, with the field names of Azure's
// documentation of the API (learn.microsoft.com/rest/api/cost-management/retail-prices/azure-retail-prices,
// "API response"). It is the simulator's own type, not the client's
// (pkg/providers/pricing.Item): a field the client names wrongly then reads as empty
// in the tests instead of agreeing with a simulator that shares the mistake.
type PriceItem struct {
	CurrencyCode         string  `json:"currencyCode"`
	TierMinimumUnits     float64 `json:"tierMinimumUnits"`
	RetailPrice          float64 `json:"retailPrice"`
	UnitPrice            float64 `json:"unitPrice"`
	ArmRegionName        string  `json:"armRegionName"`
	Location             string  `json:"location"`
	EffectiveStartDate   string  `json:"effectiveStartDate"`
	MeterID              string  `json:"meterId"`
	MeterName            string  `json:"meterName"`
	ProductID            string  `json:"productId"`
	SkuID                string  `json:"skuId"`
	ProductName          string  `json:"productName"`
	SkuName              string  `json:"skuName"`
	ServiceName          string  `json:"serviceName"`
	ServiceID            string  `json:"serviceId"`
	ServiceFamily        string  `json:"serviceFamily"`
	UnitOfMeasure        string  `json:"unitOfMeasure"`
	Type                 string  `json:"type"`
	IsPrimaryMeterRegion bool    `json:"isPrimaryMeterRegion"`
	ArmSkuName           string  `json:"armSkuName"`
	// ReservationTerm is present on reservation rows only.
	ReservationTerm string `json:"reservationTerm,omitempty"`
}

// PricesPage is the Retail Prices API response.
type PricesPage struct {
	BillingCurrency    string      `json:"BillingCurrency"`
	CustomerEntityID   string      `json:"CustomerEntityId"`
	CustomerEntityType string      `json:"CustomerEntityType"`
	Items              []PriceItem `json:"Items"`
	NextPageLink       *string     `json:"NextPageLink"`
	Count              int         `json:"Count"`
}

// field returns a row's value by lower-cased API field name; priceType is
// the filter's name for "type".
func priceField(p *PriceItem, name string) (string, bool) {
	switch name {
	case "currencycode":
		return p.CurrencyCode, true
	case "retailprice":
		return strconv.FormatFloat(p.RetailPrice, 'f', -1, 64), true
	case "unitprice":
		return strconv.FormatFloat(p.UnitPrice, 'f', -1, 64), true
	case "armregionname":
		return p.ArmRegionName, true
	case "location":
		return p.Location, true
	case "meterid":
		return p.MeterID, true
	case "metername":
		return p.MeterName, true
	case "productid":
		return p.ProductID, true
	case "skuid":
		return p.SkuID, true
	case "productname":
		return p.ProductName, true
	case "skuname":
		return p.SkuName, true
	case "servicename":
		return p.ServiceName, true
	case "serviceid":
		return p.ServiceID, true
	case "servicefamily":
		return p.ServiceFamily, true
	case "unitofmeasure":
		return p.UnitOfMeasure, true
	case "type", "pricetype":
		return p.Type, true
	case "isprimarymeterregion":
		return strconv.FormatBool(p.IsPrimaryMeterRegion), true
	case "armskuname":
		return p.ArmSkuName, true
	case "effectivestartdate":
		return p.EffectiveStartDate, true
	}
	return "", false
}

var priceTables sync.Map // *catalog.Catalog -> []PriceItem

// PriceItems renders a catalog's prices as Retail Prices rows: per SKU and
// region, Linux on-demand, Spot and Low Priority (Batch), and Windows
// on-demand and Spot; then Container Instances' per-region rows
// (prices_containerinstance.go).
func PriceItems(c *catalog.Catalog) []PriceItem {
	if v, ok := priceTables.Load(c); ok {
		return v.([]PriceItem)
	}
	var out []PriceItem
	for _, r := range c.Regions {
		for _, s := range c.SKUs {
			if _, ok := s.LinuxOnDemandUSD[r.Name]; !ok {
				continue
			}
			meter := strings.ReplaceAll(strings.TrimPrefix(s.Name, "Standard_"), "_", " ")
			series := seriesName(s.Family)
			for _, v := range []struct {
				windows, spot, lowPri bool
			}{{false, false, false}, {false, true, false}, {false, false, true}, {true, false, false}, {true, true, false}} {
				price, _ := c.Price(s, r.Name, v.windows, v.spot || v.lowPri)
				if v.lowPri {
					price = roundUSD(price * 1.1) // Batch low-priority is priced apart from Spot
				}
				product := "Virtual Machines " + series + " Series"
				if v.windows {
					product += " Windows"
				}
				name := meter
				switch {
				case v.spot:
					name += " Spot"
				case v.lowPri:
					name += " Low Priority"
				}
				productID := shortID("product/" + product)
				out = append(out, PriceItem{
					CurrencyCode: "USD", RetailPrice: price, UnitPrice: price, ArmRegionName: r.Name, Location: r.PriceName,
					EffectiveStartDate: "2024-05-01T00:00:00Z", MeterID: uuid.NewSHA1(uuid.NameSpaceURL, []byte(r.Name+"/"+product+"/"+name)).String(),
					MeterName: name, ProductID: productID, SkuID: productID + "/" + shortID("sku/" + name)[:4], ProductName: product,
					SkuName: name, ServiceName: "Virtual Machines", ServiceID: "DZH313Z7MMC8", ServiceFamily: "Compute",
					UnitOfMeasure: "1 Hour", Type: "Consumption", IsPrimaryMeterRegion: true, ArmSkuName: s.Name,
				})
			}
		}
	}
	out = append(out, containerInstancePriceItems(c)...)
	priceTables.Store(c, out)
	return out
}

func roundUSD(p float64) float64 { return float64(int64(p*1e6+0.5)) / 1e6 }

func shortID(s string) string {
	h := sha1.Sum([]byte(s))
	return strings.ToUpper(hex.EncodeToString(h[:6]))
}

// seriesName turns a quota family into the series word product names use
// (standardDSv3Family -> DSv3).
func seriesName(family string) string {
	f := strings.TrimSuffix(strings.TrimSuffix(family, " Family"), "Family")
	f = strings.TrimPrefix(strings.TrimPrefix(f, "standard"), "Standard")
	return strings.TrimSpace(f)
}

const pricesPageSize = 1000

func (s *Server) retailPrices(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var expr filterExpr
	if f := q.Get("$filter"); f != "" {
		var err error
		if expr, err = parseFilter(f); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"Error": map[string]string{"Code": "BadRequest", "Message": "Invalid OData parameters supplied: " + err.Error()}})
			return
		}
	}
	if c := q.Get("currencyCode"); c != "" && strings.Trim(c, "'") != "USD" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"Error": map[string]string{"Code": "BadRequest", "Message": "azuresim serves USD prices only."}})
		return
	}
	skip := 0
	if v := q.Get("$skip"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]any{"Error": map[string]string{"Code": "BadRequest", "Message": "Invalid $skip."}})
			return
		}
		skip = n
	}
	items := PriceItems(s.cat)
	page := PricesPage{BillingCurrency: "USD", CustomerEntityID: "Default", CustomerEntityType: "Retail", Items: []PriceItem{}}
	matched := 0
	for i := range items {
		it := &items[i]
		if !expr.match(func(name string) (string, bool) { return priceField(it, name) }) {
			continue
		}
		if matched >= skip && len(page.Items) < pricesPageSize {
			page.Items = append(page.Items, *it)
		} else if len(page.Items) == pricesPageSize {
			q.Set("$skip", strconv.Itoa(skip+pricesPageSize))
			next := baseURL(r) + r.URL.Path + "?" + q.Encode()
			page.NextPageLink = &next
			break
		}
		matched++
	}
	page.Count = len(page.Items)
	writeJSON(w, http.StatusOK, page)
}
