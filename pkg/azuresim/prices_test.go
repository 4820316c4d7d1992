package azuresim_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
)

// fetchAll follows NextPageLink as a Retail Prices client does.
func fetchAll(t *testing.T, e *env, filter string) (items []azuresim.PriceItem, pages int) {
	t.Helper()
	next := e.srv.URL() + "/api/retail/prices?api-version=2023-01-01-preview&$filter=" + url.QueryEscape(filter)
	for next != "" {
		resp, err := e.srv.HTTPClient().Get(next)
		if err != nil {
			t.Fatal(err)
		}
		var page azuresim.PricesPage
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %v", resp.StatusCode, err)
		}
		if len(page.Items) > 1000 || page.Count != len(page.Items) {
			t.Fatalf("page of %d items, Count %d", len(page.Items), page.Count)
		}
		pages++
		items = append(items, page.Items...)
		next = lo.FromPtr(page.NextPageLink)
	}
	return items, pages
}

func TestRetailPrices(t *testing.T) {
	e := newEnv(t)
	cat := catalog.Default()
	vmFilter := "serviceName eq 'Virtual Machines' and priceType eq 'Consumption' and currencyCode eq 'USD' and armRegionName eq 'eastus'"
	items, pages := fetchAll(t, e, vmFilter)
	offered := lo.CountBy(cat.SKUs, func(s *catalog.SKU) bool { _, ok := s.LinuxOnDemandUSD["eastus"]; return ok })
	if len(items) != 5*offered || pages < 2 {
		t.Fatalf("%d rows over %d pages, want %d (5 per SKU) over several pages", len(items), pages, 5*offered)
	}
	if len(lo.UniqBy(items, func(p azuresim.PriceItem) string { return p.MeterID })) != len(items) {
		t.Error("paging repeated or dropped rows")
	}
	row := func(meter, product string) azuresim.PriceItem {
		for _, it := range items {
			if it.ArmSkuName == "Standard_D2s_v3" && it.MeterName == meter && it.ProductName == product {
				return it
			}
		}
		t.Fatalf("no row %q / %q", meter, product)
		return azuresim.PriceItem{}
	}
	linux := row("D2s v3", "Virtual Machines DSv3 Series")
	spot := row("D2s v3 Spot", "Virtual Machines DSv3 Series")
	win := row("D2s v3", "Virtual Machines DSv3 Series Windows")
	row("D2s v3 Low Priority", "Virtual Machines DSv3 Series")
	if linux.RetailPrice != 0.096 || linux.UnitOfMeasure != "1 Hour" || linux.Location != "US East" || linux.Type != "Consumption" {
		t.Errorf("Linux on-demand row %+v", linux)
	}
	if !(spot.RetailPrice < linux.RetailPrice && linux.RetailPrice < win.RetailPrice) {
		t.Errorf("want spot < linux < windows: %v %v %v", spot.RetailPrice, linux.RetailPrice, win.RetailPrice)
	}

	spotOnly, _ := fetchAll(t, e, vmFilter+" and contains(meterName, 'Spot') and armSkuName eq 'Standard_D2s_v3'")
	if len(spotOnly) != 2 || !lo.EveryBy(spotOnly, func(p azuresim.PriceItem) bool { return strings.HasSuffix(p.SkuName, " Spot") }) {
		t.Errorf("contains(meterName,'Spot'): %d rows", len(spotOnly))
	}
	// Values compare case-sensitively, as in the real API.
	if none, _ := fetchAll(t, e, "armRegionName eq 'EastUS'"); len(none) != 0 {
		t.Errorf("case-insensitive match: %d rows", len(none))
	}
	for _, bad := range []string{"armRegionName eq", "armRegionName gt 'a'", "armRegionName eq 'a' or x eq 'b'", "contains(meterName)"} {
		resp, err := e.srv.HTTPClient().Get(e.srv.URL() + "/api/retail/prices?$filter=" + url.QueryEscape(bad))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("filter %q: status %d", bad, resp.StatusCode)
		}
	}
}
