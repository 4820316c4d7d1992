// Package pricing knows what Azure VMs cost per hour in the controller's
// region: pay-as-you-go Linux and Windows (licence included), on-demand and
// spot, in USD. Prices come from the public Retail Prices API, read through an
// azcore pipeline and refreshed at start and every 12 hours; until the first
// successful read, and whenever a read fails or looks truncated, the
// provider keeps serving what it has, starting from a snapshot embedded in the
// binary (see hack/pricing-snapshot).
package pricing

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

const (
	// DefaultRefreshPeriod is how often prices are re-read after a success.
	DefaultRefreshPeriod = 12 * time.Hour
	// DefaultRetryPeriod is how soon a failed refresh is tried again (each
	// attempt already includes azcore's own retries).
	DefaultRetryPeriod = 10 * time.Minute
	// DefaultMinPriceRatio: a fetch yielding fewer prices than this share of
	// the table in use is treated as truncated and rejected.
	DefaultMinPriceRatio = 0.5
)

var (
	// ErrNoPrices is returned by Refresh when the API answered without a
	// single usable price for the region.
	ErrNoPrices = errors.New("retail prices API returned no usable VM price")
	// ErrTooFewPrices is returned by Refresh when the API answered with far
	// fewer prices than the table in use (see Options.MinPriceRatio).
	ErrTooFewPrices = errors.New("retail prices API returned far fewer prices than the table in use")
)

// Provider answers what a VM size costs in the configured region, in USD per
// hour. The boolean is false when no price is known.
type Provider interface {
	// OnDemandPrice is the pay-as-you-go Linux price.
	OnDemandPrice(sku string) (float64, bool)
	// SpotPrice is the Linux spot price.
	SpotPrice(sku string) (float64, bool)
	// WindowsPrice is the pay-as-you-go Windows price, licence included.
	WindowsPrice(sku string) (float64, bool)
	// WindowsSpotPrice is the Windows spot price, licence included.
	WindowsSpotPrice(sku string) (float64, bool)
	// Generation changes (increases) whenever the price table changes; use it
	// in cache keys of anything derived from prices.
	Generation() uint64
	// LastUpdated is when the table in use was last confirmed by the API, or
	// when the embedded snapshot was generated; zero when there is no table.
	LastUpdated() time.Time
	// Refresh reads the region's prices now. On error the table in use is
	// kept.
	Refresh(ctx context.Context) error
}

// Options configure a DefaultProvider.
type Options struct {
	// Region is the ARM region name (eastus). Required.
	Region string
	// Endpoint is the Retail Prices API base URL; DefaultEndpoint when empty.
	Endpoint string
	// ClientOptions configure the azcore pipeline: Transport injects the
	// HTTP client (the controller passes one trusting its CA bundle), Retry
	// tunes retries and the per-try timeout (DefaultTryTimeout when zero).
	ClientOptions policy.ClientOptions
	// Clock defaults to the real clock; tests pass a fake one.
	Clock clock.Clock
	// RefreshPeriod defaults to DefaultRefreshPeriod.
	RefreshPeriod time.Duration
	// RetryPeriod defaults to DefaultRetryPeriod (capped at RefreshPeriod).
	RetryPeriod time.Duration
	// MinPriceRatio defaults to DefaultMinPriceRatio; a negative value turns
	// the check off.
	MinPriceRatio float64
	// Snapshot replaces the embedded snapshot (tests). Its table for Region
	// is served until the first successful refresh.
	Snapshot *Snapshot
}

// state is one immutable view of the prices; readers load it atomically.
type state struct {
	table        Table
	generation   uint64
	lastUpdated  time.Time
	fromSnapshot bool
}

// DefaultProvider is the Provider reading the Retail Prices API.
type DefaultProvider struct {
	region        string
	client        *Client
	clk           clock.Clock
	refreshPeriod time.Duration
	retryPeriod   time.Duration
	minRatio      float64

	refreshMu sync.Mutex // one refresh at a time
	cur       atomic.Pointer[state]
}

var _ Provider = (*DefaultProvider)(nil)

// NewDefaultProvider builds a provider serving the snapshot's prices for the
// region until its first successful Refresh. It does not call the API.
func NewDefaultProvider(ctx context.Context, opts Options) (*DefaultProvider, error) {
	if opts.Region == "" {
		return nil, fmt.Errorf("pricing: region is required")
	}
	client, err := NewClient(opts.Endpoint, &opts.ClientOptions)
	if err != nil {
		return nil, err
	}
	p := &DefaultProvider{
		region:        opts.Region,
		client:        client,
		clk:           opts.Clock,
		refreshPeriod: opts.RefreshPeriod,
		retryPeriod:   opts.RetryPeriod,
		minRatio:      opts.MinPriceRatio,
	}
	if p.clk == nil {
		p.clk = clock.RealClock{}
	}
	if p.refreshPeriod <= 0 {
		p.refreshPeriod = DefaultRefreshPeriod
	}
	if p.retryPeriod <= 0 {
		p.retryPeriod = DefaultRetryPeriod
	}
	p.retryPeriod = min(p.retryPeriod, p.refreshPeriod)
	if p.minRatio == 0 {
		p.minRatio = DefaultMinPriceRatio
	}
	snap := opts.Snapshot
	if snap == nil {
		if snap, err = DefaultSnapshot(); err != nil {
			return nil, err
		}
	}
	initial := &state{table: Table{}, generation: 1, fromSnapshot: true}
	if t, ok := snap.Regions[opts.Region]; ok && len(t) > 0 {
		initial.table = t
		initial.lastUpdated = snap.GeneratedAt
		log.FromContext(ctx).V(1).Info("serving embedded price snapshot until the first refresh",
			"region", opts.Region, "prices", t.Count(), "generatedAt", snap.GeneratedAt)
	} else {
		log.FromContext(ctx).Info("no embedded prices for region, offerings have no price until the first refresh",
			"region", opts.Region)
	}
	p.cur.Store(initial)
	p.publish(initial)
	tableAge.track(p)
	return p, nil
}

// Region is the region the provider prices.
func (p *DefaultProvider) Region() string { return p.region }

func (p *DefaultProvider) lookup(sku string) SKUPrices { return p.cur.Load().table[sku] }

func found(v float64) (float64, bool) { return v, v > 0 }

// OnDemandPrice implements Provider.
func (p *DefaultProvider) OnDemandPrice(sku string) (float64, bool) {
	return found(p.lookup(sku).Linux)
}

// SpotPrice implements Provider.
func (p *DefaultProvider) SpotPrice(sku string) (float64, bool) {
	return found(p.lookup(sku).LinuxSpot)
}

// WindowsPrice implements Provider.
func (p *DefaultProvider) WindowsPrice(sku string) (float64, bool) {
	return found(p.lookup(sku).Windows)
}

// WindowsSpotPrice implements Provider.
func (p *DefaultProvider) WindowsSpotPrice(sku string) (float64, bool) {
	return found(p.lookup(sku).WindowsSpot)
}

// Price is a node's hourly price: the SKU's price for its OS (Windows or
// Linux) and capacity type (spot or on-demand).
func (p *DefaultProvider) Price(sku string, windows, spot bool) (float64, bool) {
	return found(p.lookup(sku).For(windows, spot))
}

// Prices returns all four prices of a SKU at once, from one table version.
func (p *DefaultProvider) Prices(sku string) (SKUPrices, bool) {
	v, ok := p.cur.Load().table[sku]
	return v, ok
}

// Generation implements Provider.
func (p *DefaultProvider) Generation() uint64 { return p.cur.Load().generation }

// LastUpdated implements Provider.
func (p *DefaultProvider) LastUpdated() time.Time { return p.cur.Load().lastUpdated }

// UsingSnapshot reports whether no refresh has succeeded yet, so prices come
// from the embedded snapshot.
func (p *DefaultProvider) UsingSnapshot() bool { return p.cur.Load().fromSnapshot }

// Refresh implements Provider: it reads every page of the region's prices and
// swaps the table in one step. A failed read, an answer without prices, or
// one with far fewer prices than the table in use leaves the table as it is.
func (p *DefaultProvider) Refresh(ctx context.Context) error {
	p.refreshMu.Lock()
	defer p.refreshMu.Unlock()
	logger := log.FromContext(ctx).WithValues("region", p.region, "endpoint", p.client.Endpoint())
	start := time.Now() // real time: the metric measures the API, not the (possibly fake) clock
	old := p.cur.Load()
	observe := func(result string) {
		fetchDuration.Observe(time.Since(start).Seconds(), map[string]string{labelRegion: p.region, labelResult: result})
	}
	fail := func(reason string, err error) error {
		observe(resultFailure)
		fetchFailures.Inc(map[string]string{labelRegion: p.region, labelReason: reason})
		logger.Error(err, "refreshing prices failed, keeping the prices in use",
			"usingSnapshot", old.fromSnapshot, "prices", old.table.Count(), "lastUpdated", old.lastUpdated)
		return fmt.Errorf("refreshing prices for %s: %w", p.region, err)
	}

	items, err := p.client.ListVMPrices(ctx, p.region)
	if err != nil {
		if ctx.Err() != nil {
			// Shutting down or the caller gave up: not the API's failure.
			observe(resultCancel)
			return fmt.Errorf("refreshing prices for %s: %w", p.region, err)
		}
		return fail(reasonError, err)
	}
	table := BuildTable(items, p.region)
	n, have := table.Count(), old.table.Count()
	switch {
	case n == 0:
		return fail(reasonEmpty, fmt.Errorf("%w (%d rows)", ErrNoPrices, len(items)))
	case p.minRatio > 0 && float64(n) < p.minRatio*float64(have):
		return fail(reasonPartial, fmt.Errorf("%w: %d prices from %d rows, %d in use", ErrTooFewPrices, n, len(items), have))
	}

	next := &state{table: old.table, generation: old.generation, lastUpdated: p.clk.Now()}
	changed := !maps.Equal(old.table, table)
	if changed {
		next.table, next.generation = table, old.generation+1
	}
	p.cur.Store(next)
	p.publish(next)
	observe(resultSuccess)
	logger.Info("refreshed prices", "rows", len(items), "skus", len(table), "prices", n, "changed", changed,
		"generation", next.generation, "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

func (p *DefaultProvider) publish(s *state) {
	counts := s.table.CountByKind()
	for _, k := range priceKinds {
		pricesCount.Set(float64(counts[[2]string{k.capacityType, k.os}]),
			map[string]string{labelRegion: p.region, labelCapacityType: k.capacityType, labelOS: k.os})
	}
	inUse := 0.0
	if s.fromSnapshot {
		inUse = 1
	}
	snapshotInUse.Set(inUse, map[string]string{labelRegion: p.region})
}

// Start refreshes now and then every RefreshPeriod (RetryPeriod after a
// failure) until ctx ends. It has the signature of a controller-runtime
// manager.Runnable, so the operator can mgr.Add the provider.
func (p *DefaultProvider) Start(ctx context.Context) error {
	for {
		wait := p.refreshPeriod
		// Refresh has logged and counted its failure; when ctx has ended the
		// error is only the cancellation and the select below returns.
		if err := p.Refresh(ctx); err != nil && ctx.Err() == nil {
			wait = p.retryPeriod
			log.FromContext(ctx).V(1).Info("next price refresh", "region", p.region, "in", wait)
		}
		t := p.clk.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
	}
}

// NeedLeaderElection is false: every replica needs prices, whether or not it
// is the leader (manager.LeaderElectionRunnable).
func (p *DefaultProvider) NeedLeaderElection() bool { return false }
