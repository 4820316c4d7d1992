// Package offerings remembers which offerings (VM size × zone × capacity
// type) Azure recently refused, so the scheduler stops choosing them until the
// refusal expires. Entries have the tiered lifetimes of Azure's failure kinds
// and may cover a whole quota family from a vCPU count up.
package offerings

import (
	"context"
	"sync"
	"time"

	opmetrics "github.com/awslabs/operatorpkg/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/log"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Lifetimes of unavailability by cause, as AKS node auto-provisioning keeps
// them (Azure/karpenter-provider-azure: pkg/cache and the TTLs of its launch
// error handling). Azure documents the error codes in
// learn.microsoft.com/troubleshoot/azure/virtual-machines/allocation-failure
// and learn.microsoft.com/azure/azure-resource-manager/troubleshooting/error-resource-quota.
const (
	// DefaultTTL covers failures with no better-known lifetime.
	DefaultTTL = 3 * time.Minute
	// QuotaTTL covers a family quota with a non-zero limit: usage drops as
	// nodes go, so it is retried soon.
	QuotaTTL = 10 * time.Minute
	// ZeroQuotaTTL covers a family quota of 0: only a quota request helps.
	ZeroQuotaTTL = time.Hour
	// SpotQuotaTTL covers the regional spot (LowPriorityCores) quota.
	SpotQuotaTTL = time.Hour
	// SKUNotAvailableSpotTTL and SKUNotAvailableOnDemandTTL cover a size that
	// is restricted in the region; on-demand restrictions last much longer.
	SKUNotAvailableSpotTTL     = time.Hour
	SKUNotAvailableOnDemandTTL = 23 * time.Hour
	// AllocationTTL covers zonal, regional and over-constrained allocation
	// failures (no capacity right now).
	AllocationTTL = time.Hour
)

// Any matches every zone or capacity type in a mark.
const Any = "*"

var marks = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
	Namespace: "azkarpenter", Subsystem: "offerings", Name: "unavailable_marks_total",
	Help: "Offerings marked unavailable after Azure refused them, by reason and capacity type.",
}, []string{"reason", "capacity_type"})

// Offering identifies what a lookup asks about.
type Offering struct {
	SKU          string
	Family       string
	VCPUs        int64
	Zone         string
	CapacityType string
}

type skuKey struct{ sku, zone, capacityType string }

type familyKey struct{ family, zone, capacityType string }

type entry struct {
	reason  string
	expires time.Time
	// minVCPUs limits a family entry to sizes at least this large.
	minVCPUs int64
}

// Cache is safe for concurrent use.
type Cache struct {
	clock clock.Clock

	mu       sync.RWMutex
	skus     map[skuKey]entry
	families map[familyKey]entry
	seq      uint64
}

// NewCache returns an empty cache.
func NewCache(clk clock.Clock) *Cache {
	return &Cache{clock: clk, skus: map[skuKey]entry{}, families: map[familyKey]entry{}}
}

// MarkUnavailable marks one size unavailable in zone (or Any) for
// capacityType (or Any).
func (c *Cache) MarkUnavailable(ctx context.Context, reason, sku, zone, capacityType string, ttl time.Duration) {
	c.mu.Lock()
	c.skus[skuKey{sku, zone, capacityType}] = entry{reason: reason, expires: c.clock.Now().Add(ttl)}
	c.seq++
	c.mu.Unlock()
	marks.Inc(map[string]string{"reason": reason, "capacity_type": capacityType})
	log.FromContext(ctx).WithValues("reason", reason, "instance-type", sku, "zone", zone, "capacity-type", capacityType, "ttl", ttl.String()).V(1).Info("marked offering unavailable")
}

// MarkFamilyUnavailable marks every size of a quota family with at least
// minVCPUs vCPUs unavailable in zone (or Any) for capacityType (or Any):
// when a family cannot fit R more vCPUs, no larger size of it fits either.
func (c *Cache) MarkFamilyUnavailable(ctx context.Context, reason, family, zone, capacityType string, minVCPUs int64, ttl time.Duration) {
	c.mu.Lock()
	k := familyKey{family, zone, capacityType}
	// Keep the broader of two overlapping marks.
	if old, ok := c.families[k]; ok && old.expires.After(c.clock.Now()) && old.minVCPUs < minVCPUs {
		minVCPUs = old.minVCPUs
	}
	c.families[k] = entry{reason: reason, expires: c.clock.Now().Add(ttl), minVCPUs: minVCPUs}
	c.seq++
	c.mu.Unlock()
	marks.Inc(map[string]string{"reason": reason, "capacity_type": capacityType})
	log.FromContext(ctx).WithValues("reason", reason, "family", family, "min-vcpus", minVCPUs, "zone", zone, "capacity-type", capacityType, "ttl", ttl.String()).V(1).Info("marked family unavailable")
}

// Unavailable returns the reason the offering is unavailable, or "".
func (c *Cache) Unavailable(o Offering) string {
	now := c.clock.Now()
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, zone := range []string{o.Zone, Any} {
		for _, ct := range []string{o.CapacityType, Any} {
			if e, ok := c.skus[skuKey{o.SKU, zone, ct}]; ok && e.expires.After(now) {
				return e.reason
			}
			if e, ok := c.families[familyKey{o.Family, zone, ct}]; ok && e.expires.After(now) && o.VCPUs >= e.minVCPUs {
				return e.reason
			}
		}
	}
	return ""
}

// SeqNum changes whenever availability does: on every mark and when marks
// expire. Callers that cache derived data key it by SeqNum.
func (c *Cache) SeqNum() uint64 {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	expired := false
	for k, e := range c.skus {
		if !e.expires.After(now) {
			delete(c.skus, k)
			expired = true
		}
	}
	for k, e := range c.families {
		if !e.expires.After(now) {
			delete(c.families, k)
			expired = true
		}
	}
	if expired {
		c.seq++
	}
	return c.seq
}

// Flush forgets every mark.
func (c *Cache) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.skus = map[skuKey]entry{}
	c.families = map[familyKey]entry{}
	c.seq++
}
