package burst

import (
	"context"
	"sync/atomic"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/azkarpenter/azkarpenter/pkg/providers/pricing"
)

// PriceSource gives the region's Container Instances prices, false while
// they are unknown.
type PriceSource interface {
	ContainerPrices() (pricing.ContainerPrices, bool)
}

// StaticPrices is a PriceSource of fixed prices.
type StaticPrices pricing.ContainerPrices

// ContainerPrices returns the prices.
func (s StaticPrices) ContainerPrices() (pricing.ContainerPrices, bool) {
	p := pricing.ContainerPrices(s)
	return p, p.Standard.Known()
}

// RetailPrices reads a region's Container Instances prices from the Retail
// Prices API when started and every RefreshPeriod after; a failed read
// keeps the last prices.
type RetailPrices struct {
	client *pricing.Client
	region string
	cur    atomic.Pointer[pricing.ContainerPrices]
}

// RefreshPeriod is how often the prices are read again, as for VM prices.
const RefreshPeriod = 12 * time.Hour

// NewRetailPrices returns a PriceSource over the Retail Prices API.
func NewRetailPrices(client *pricing.Client, region string) *RetailPrices {
	return &RetailPrices{client: client, region: region}
}

// ContainerPrices returns the last prices read.
func (r *RetailPrices) ContainerPrices() (pricing.ContainerPrices, bool) {
	p := r.cur.Load()
	if p == nil {
		return pricing.ContainerPrices{}, false
	}
	return *p, p.Standard.Known()
}

// Start reads the prices until ctx ends (a manager.Runnable).
func (r *RetailPrices) Start(ctx context.Context) error {
	for {
		wait := RefreshPeriod
		items, err := r.client.ListContainerInstancePrices(ctx, r.region)
		if err != nil {
			log.FromContext(ctx).Error(err, "reading Container Instances prices; burst cost estimates wait for them", "region", r.region)
			wait = time.Minute
		} else {
			p := pricing.BuildContainerPrices(items, r.region)
			r.cur.Store(&p)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// NeedLeaderElection is false: every replica keeps prices.
func (r *RetailPrices) NeedLeaderElection() bool { return false }
