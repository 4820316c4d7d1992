package pricing

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

const (
	// DefaultEndpoint is the public Retail Prices API.
	DefaultEndpoint = "https://prices.azure.com"
	// APIVersion is the Retail Prices API version the client sends.
	APIVersion = "2023-01-01-preview"
	// DefaultTryTimeout bounds one HTTP attempt (one page) when the caller's
	// policy.RetryOptions leave TryTimeout unset; azcore has no default.
	DefaultTryTimeout = time.Minute

	pricesPath    = "/api/retail/prices"
	moduleName    = "github.com/azkarpenter/azkarpenter/pkg/providers/pricing"
	moduleVersion = "v0.1.0"
	// maxPages stops a server that keeps answering with a NextPageLink
	// (a loop) from holding a refresh forever: 200 pages of 1,000 items are
	// several times the ~20,000 VM rows a real region has.
	maxPages = 200
)

// Item is one Retail Prices API row, with every field the API returns.
type Item struct {
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
	ProductName          string  `json:"productName"`
	SkuID                string  `json:"skuId"`
	SkuName              string  `json:"skuName"`
	ServiceName          string  `json:"serviceName"`
	ServiceID            string  `json:"serviceId"`
	ServiceFamily        string  `json:"serviceFamily"`
	UnitOfMeasure        string  `json:"unitOfMeasure"`
	Type                 string  `json:"type"`
	IsPrimaryMeterRegion bool    `json:"isPrimaryMeterRegion"`
	ArmSkuName           string  `json:"armSkuName"`
	ReservationTerm      string  `json:"reservationTerm,omitempty"`
}

// Page is one Retail Prices API response.
type Page struct {
	BillingCurrency string  `json:"BillingCurrency"`
	Items           []Item  `json:"Items"`
	NextPageLink    *string `json:"NextPageLink"`
	Count           int     `json:"Count"`
}

// Client reads the Azure Retail Prices API through an azcore pipeline, so it
// gets azcore's retries (408/429/5xx, Retry-After honoured), per-try
// timeouts, request logging and context cancellation. The API is public:
// the pipeline has no authentication policy.
type Client struct {
	endpoint string
	pl       runtime.Pipeline
}

// NewClient builds a client for endpoint (DefaultEndpoint when empty).
// opts.Transport injects the HTTP client (e.g. one trusting a CA bundle) and
// opts.Retry tunes retries; a zero Retry.TryTimeout becomes DefaultTryTimeout.
func NewClient(endpoint string, opts *policy.ClientOptions) (*Client, error) {
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("retail prices endpoint %q: %w", endpoint, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("retail prices endpoint %q: want an absolute http(s) URL", endpoint)
	}
	var o policy.ClientOptions
	if opts != nil {
		o = *opts
	}
	if o.Retry.TryTimeout == 0 {
		o.Retry.TryTimeout = DefaultTryTimeout
	}
	return &Client{
		endpoint: strings.TrimSuffix(endpoint, "/"),
		pl:       runtime.NewPipeline(moduleName, moduleVersion, runtime.PipelineOptions{}, &o),
	}, nil
}

// Endpoint is the base URL the client reads from.
func (c *Client) Endpoint() string { return c.endpoint }

// VMFilter is the OData filter for a region's pay-as-you-go VM prices in USD.
// Values are case-sensitive; region is the ARM name (eastus).
func VMFilter(region string) string {
	return "serviceName eq 'Virtual Machines' and priceType eq 'Consumption' and currencyCode eq 'USD' and armRegionName eq '" +
		strings.ReplaceAll(region, "'", "''") + "'"
}

// NewListPager pages through the rows matching an OData filter, following
// NextPageLink.
func (c *Client) NewListPager(filter string) *runtime.Pager[Page] {
	first := func(ctx context.Context) (*policy.Request, error) {
		req, err := runtime.NewRequest(ctx, http.MethodGet, c.endpoint+pricesPath)
		if err != nil {
			return nil, err
		}
		q := req.Raw().URL.Query()
		q.Set("api-version", APIVersion)
		q.Set("$filter", filter)
		req.Raw().URL.RawQuery = q.Encode()
		req.Raw().Header.Set("Accept", "application/json")
		return req, nil
	}
	return runtime.NewPager(runtime.PagingHandler[Page]{
		More: func(p Page) bool { return p.NextPageLink != nil && *p.NextPageLink != "" },
		Fetcher: func(ctx context.Context, cur *Page) (Page, error) {
			next := ""
			if cur != nil && cur.NextPageLink != nil {
				next = *cur.NextPageLink
			}
			resp, err := runtime.FetcherForNextLink(ctx, c.pl, next, first, nil)
			if err != nil {
				return Page{}, err
			}
			defer func() { _ = resp.Body.Close() }() // UnmarshalAsJSON has read it; closing again is harmless
			var p Page
			if err := runtime.UnmarshalAsJSON(resp, &p); err != nil {
				return Page{}, fmt.Errorf("decoding retail prices page: %w", err)
			}
			return p, nil
		},
	})
}

// ListVMPrices returns every pay-as-you-go VM price row of a region, all
// pages or an error: a partial listing is never returned.
func (c *Client) ListVMPrices(ctx context.Context, region string) ([]Item, error) {
	return c.listAll(ctx, region, VMFilter(region))
}

// listAll reads every page of the rows matching filter, or fails.
func (c *Client) listAll(ctx context.Context, region, filter string) ([]Item, error) {
	if region == "" {
		return nil, fmt.Errorf("region is required")
	}
	pager := c.NewListPager(filter)
	var items []Item
	for pages := 0; pager.More(); pages++ {
		if pages == maxPages {
			return nil, fmt.Errorf("retail prices for %s: more than %d pages, giving up", region, maxPages)
		}
		p, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("retail prices for %s, page %d: %w", region, pages+1, err)
		}
		items = append(items, p.Items...)
	}
	return items, nil
}
