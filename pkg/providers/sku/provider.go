package sku

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	opmetrics "github.com/awslabs/operatorpkg/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/log"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// RefreshPeriod is how often the catalog is listed again. VM sizes and their
// restrictions change rarely; a listing is one paged call.
const RefreshPeriod = 12 * time.Hour

var (
	// skusGauge is azkarpenter_sku_sizes; azkarpenter_sku_count, a gauge
	// whose name promised a counter, is kept for one release (docs/metrics.md).
	skusGauge = opmetrics.NewMultiGauge(
		opmetrics.NewPrometheusGauge(crmetrics.Registry, prometheus.GaugeOpts{
			Namespace: "azkarpenter", Subsystem: "sku", Name: "sizes",
			Help: "VM sizes in the catalog by state: available to the subscription or excluded (restricted).",
		}, []string{"state"}),
		opmetrics.NewPrometheusGauge(crmetrics.Registry, prometheus.GaugeOpts{
			Namespace: "azkarpenter", Subsystem: "sku", Name: "count",
			Help: "Deprecated: use azkarpenter_sku_sizes; removed in the next release. VM sizes in the catalog by state.",
		}, []string{"state"}),
	)
	refreshErrors = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
		Namespace: "azkarpenter", Subsystem: "sku", Name: "refresh_errors_total",
		Help: "Failed listings of the Resource SKUs API.",
	}, nil)
)

// Catalog is a consistent view of the region's VM sizes.
type Catalog struct {
	// SKUs are the sizes the subscription may use, by name.
	SKUs map[string]*SKU
	// Excluded are the sizes it may not use, with the reason.
	Excluded map[string]string
	// Generation changes whenever the catalog does.
	Generation uint64
	// Fetched is when the catalog was listed.
	Fetched time.Time
}

// Names returns the usable SKU names, sorted.
func (c *Catalog) Names() []string {
	names := make([]string, 0, len(c.SKUs))
	for n := range c.SKUs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Provider serves the region's VM size catalog.
type Provider interface {
	// Catalog returns the cached catalog, listing it first if there is none.
	Catalog(ctx context.Context) (*Catalog, error)
	// Refresh lists the catalog again; on error the previous one is kept.
	Refresh(ctx context.Context) error
}

// DefaultProvider lists Resource SKUs through armcompute.
type DefaultProvider struct {
	client   *armcompute.ResourceSKUsClient
	location string
	clock    clock.Clock

	mu         sync.RWMutex
	catalog    *Catalog
	generation uint64
	refreshMu  sync.Mutex
}

// NewDefaultProvider returns a provider for location.
func NewDefaultProvider(client *armcompute.ResourceSKUsClient, location string, clk clock.Clock) *DefaultProvider {
	return &DefaultProvider{client: client, location: location, clock: clk}
}

// Catalog implements Provider.
func (p *DefaultProvider) Catalog(ctx context.Context) (*Catalog, error) {
	p.mu.RLock()
	c := p.catalog
	p.mu.RUnlock()
	if c != nil {
		return c, nil
	}
	if err := p.Refresh(ctx); err != nil {
		return nil, err
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.catalog, nil
}

// Refresh implements Provider.
func (p *DefaultProvider) Refresh(ctx context.Context) error {
	// One listing at a time: concurrent callers wait for it and then see its
	// result rather than issuing their own.
	p.refreshMu.Lock()
	defer p.refreshMu.Unlock()
	started := p.clock.Now()
	skus := map[string]*SKU{}
	excluded := map[string]string{}
	pager := p.client.NewListPager(&armcompute.ResourceSKUsClientListOptions{
		// The API supports only a location filter; without it the response
		// holds every region's sizes.
		Filter: to.Ptr(fmt.Sprintf("location eq '%s'", p.location)),
	})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			refreshErrors.Inc(nil)
			return fmt.Errorf("listing VM sizes in %s: %w", p.location, err)
		}
		for _, r := range page.Value {
			if r == nil || !strings.EqualFold(deref(r.ResourceType), "virtualMachines") || r.Name == nil {
				continue
			}
			if !appliesTo(r, p.location) {
				continue
			}
			s, reason := FromAPI(r, p.location)
			if reason != "" {
				excluded[*r.Name] = reason
				continue
			}
			skus[s.Name] = s
		}
	}
	if len(skus) == 0 {
		refreshErrors.Inc(nil)
		return fmt.Errorf("listing VM sizes in %s returned none the subscription can use (%d restricted): check the region name", p.location, len(excluded))
	}
	p.mu.Lock()
	p.generation++
	p.catalog = &Catalog{SKUs: skus, Excluded: excluded, Generation: p.generation, Fetched: started}
	p.mu.Unlock()
	skusGauge.Set(float64(len(skus)), map[string]string{"state": "available"})
	skusGauge.Set(float64(len(excluded)), map[string]string{"state": "excluded"})
	log.FromContext(ctx).WithValues("location", p.location, "available", len(skus), "excluded", len(excluded), "duration", p.clock.Since(started).String()).V(1).Info("listed VM sizes")
	return nil
}

func appliesTo(r *armcompute.ResourceSKU, location string) bool {
	if len(r.Locations) == 0 {
		return true
	}
	for _, l := range r.Locations {
		if l != nil && strings.EqualFold(*l, location) {
			return true
		}
	}
	return false
}
