// Package quota reads the subscription's vCPU quotas in the region (family,
// regional and spot) from the usages API, so the scheduler avoids sizes that
// would fail with a quota error. It fails open: without a usable answer every
// offering is considered within quota, and a metric says so.
package quota

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	opmetrics "github.com/awslabs/operatorpkg/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/log"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// RefreshPeriod is how often usages are read: usage moves with every node
// launched or deleted, so the cached view is kept short-lived.
const RefreshPeriod = 3 * time.Minute

// Usage names of the regional quotas in the usages API.
const (
	RegionalCores    = "cores"
	LowPriorityCores = "lowPriorityCores"
)

var (
	failOpen = opmetrics.NewPrometheusGauge(crmetrics.Registry, prometheus.GaugeOpts{
		Namespace: "azkarpenter", Subsystem: "quota", Name: "fail_open",
		Help: "1 when vCPU quota is unknown (the usages API failed or was never read) and offerings are not filtered by quota.",
	}, nil)
	remainingGauge = opmetrics.NewPrometheusGauge(crmetrics.Registry, prometheus.GaugeOpts{
		Namespace: "azkarpenter", Subsystem: "quota", Name: "remaining_vcpus",
		Help: "vCPUs left under each quota (family, cores, lowPriorityCores) at the last reading.",
	}, []string{"quota"})
)

// Limit is one quota reading.
type Limit struct {
	Limit   int64
	Current int64
}

// Remaining is how many more vCPUs fit.
func (l Limit) Remaining() int64 { return l.Limit - l.Current }

// Snapshot is one reading of every quota.
type Snapshot struct {
	// Known is false when quota could not be read: everything then fits.
	Known  bool
	Limits map[string]Limit
	// Generation changes with every reading.
	Generation uint64
	Read       time.Time
}

// Fits reports whether vcpus more vCPUs of family fit the family quota and
// the regional (and, for spot, the low-priority) quota, and if not, which
// quota is short. Spot VMs count against lowPriorityCores instead of their
// family and the regional quota.
func (s *Snapshot) Fits(family string, vcpus int64, spot bool) (bool, string) {
	if s == nil || !s.Known {
		return true, ""
	}
	names := []string{family, RegionalCores}
	if spot {
		names = []string{LowPriorityCores}
	}
	for _, n := range names {
		if l, ok := s.Limits[n]; ok && l.Remaining() < vcpus {
			return false, fmt.Sprintf("%s quota: %d of %d vCPUs used, %d needed", n, l.Current, l.Limit, vcpus)
		}
	}
	return true, ""
}

// Provider serves quota snapshots.
type Provider interface {
	// Snapshot returns the latest reading, reading once if there is none.
	Snapshot(ctx context.Context) *Snapshot
	// Refresh reads usages again; on error the previous reading is kept.
	Refresh(ctx context.Context) error
}

// DefaultProvider reads the usages API through armcompute.
type DefaultProvider struct {
	client   *armcompute.UsageClient
	location string
	clock    clock.Clock

	mu       sync.RWMutex
	snapshot *Snapshot
	gen      uint64
	tried    bool
}

// NewDefaultProvider returns a provider for location.
func NewDefaultProvider(client *armcompute.UsageClient, location string, clk clock.Clock) *DefaultProvider {
	return &DefaultProvider{client: client, location: location, clock: clk}
}

// Snapshot implements Provider.
func (p *DefaultProvider) Snapshot(ctx context.Context) *Snapshot {
	p.mu.RLock()
	s, tried := p.snapshot, p.tried
	p.mu.RUnlock()
	if s != nil || tried {
		return p.current()
	}
	_ = p.Refresh(ctx)
	return p.current()
}

func (p *DefaultProvider) current() *Snapshot {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.snapshot == nil {
		return &Snapshot{Known: false, Generation: p.gen}
	}
	return p.snapshot
}

// Refresh implements Provider.
func (p *DefaultProvider) Refresh(ctx context.Context) error {
	limits := map[string]Limit{}
	pager := p.client.NewListPager(p.location, nil)
	var err error
	for pager.More() {
		var page armcompute.UsageClientListResponse
		if page, err = pager.NextPage(ctx); err != nil {
			break
		}
		for _, u := range page.Value {
			if u == nil || u.Name == nil || u.Name.Value == nil || u.Limit == nil || u.CurrentValue == nil {
				continue
			}
			limits[*u.Name.Value] = Limit{Limit: *u.Limit, Current: int64(*u.CurrentValue)}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tried = true
	if err != nil {
		// Keep the last reading; with none, fail open.
		failOpen.Set(boolFloat(p.snapshot == nil), nil)
		log.FromContext(ctx).Error(err, "reading vCPU quota failed; offerings are not filtered by quota until it succeeds", "location", p.location, "keeping-previous", p.snapshot != nil)
		return fmt.Errorf("reading vCPU usages in %s: %w", p.location, err)
	}
	p.gen++
	p.snapshot = &Snapshot{Known: true, Limits: limits, Generation: p.gen, Read: p.clock.Now()}
	failOpen.Set(0, nil)
	for name, l := range limits {
		if strings.HasSuffix(name, "Family") || name == RegionalCores || name == LowPriorityCores {
			remainingGauge.Set(float64(l.Remaining()), map[string]string{"quota": name})
		}
	}
	return nil
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
