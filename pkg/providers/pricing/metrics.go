package pricing

import (
	"sync"
	"time"

	opmetrics "github.com/awslabs/operatorpkg/metrics"
	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

const (
	metricsNamespace = "azkarpenter"
	metricsSubsystem = "pricing"

	labelRegion       = "region"
	labelReason       = "reason"
	labelResult       = "result"
	labelCapacityType = "capacity_type"
	labelOS           = "os"

	// Why a refresh did not replace the table (fetch_failures_total).
	reasonError   = "error"   // the API could not be read (after azcore's retries)
	reasonEmpty   = "empty"   // it answered with no usable price
	reasonPartial = "too_few" // far fewer prices than the table in use

	// How a refresh ended (fetch_duration_seconds); canceled means the
	// caller's context ended and is not counted as a failure.
	resultSuccess = "success"
	resultFailure = "failure"
	resultCancel  = "canceled"
)

var (
	fetchFailures = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
		Namespace: metricsNamespace,
		Subsystem: metricsSubsystem,
		Name:      "fetch_failures_total",
		Help:      "Retail Prices refreshes that did not replace the price table, by region and reason (error, empty, too_few).",
	}, []string{labelRegion, labelReason})
	fetchDuration = opmetrics.NewPrometheusHistogram(crmetrics.Registry, prometheus.HistogramOpts{
		Namespace: metricsNamespace,
		Subsystem: metricsSubsystem,
		Name:      "fetch_duration_seconds",
		Help:      "Duration of a full Retail Prices refresh of one region (all pages, retries included), by result.",
		Buckets:   []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
	}, []string{labelRegion, labelResult})
	pricesCount = opmetrics.NewPrometheusGauge(crmetrics.Registry, prometheus.GaugeOpts{
		Namespace: metricsNamespace,
		Subsystem: metricsSubsystem,
		Name:      "prices",
		Help:      "Number of VM prices in the table in use, by region, capacity type (on-demand, spot) and OS (linux, windows).",
	}, []string{labelRegion, labelCapacityType, labelOS})
	snapshotInUse = opmetrics.NewPrometheusGauge(crmetrics.Registry, prometheus.GaugeOpts{
		Namespace: metricsNamespace,
		Subsystem: metricsSubsystem,
		Name:      "snapshot_in_use",
		Help:      "1 while the region's prices come from the snapshot embedded in the binary (no successful fetch yet), else 0.",
	}, []string{labelRegion})
	tableAge = newAgeCollector()
)

func init() { crmetrics.Registry.MustRegister(tableAge) }

// ageCollector reports, at scrape time, how old each region's price table
// is: now minus LastUpdated, on the provider's clock. A gauge set on refresh
// would stay at 0 between refreshes and hide a stuck refresh loop.
type ageCollector struct {
	desc *prometheus.Desc
	mu   sync.Mutex
	by   map[string]*DefaultProvider
}

func newAgeCollector() *ageCollector {
	return &ageCollector{
		desc: prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, metricsSubsystem, "table_age_seconds"),
			"Seconds since the region's price table was last confirmed by the Retail Prices API (or generated, for the embedded snapshot).",
			[]string{labelRegion}, nil),
		by: map[string]*DefaultProvider{},
	}
}

// track makes p the provider reported for its region (the latest one wins).
func (c *ageCollector) track(p *DefaultProvider) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.by[p.region] = p
}

func (c *ageCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// ValueType says the metric is a gauge before any region has a table
// (docs/metrics.md lists it from the registry).
func (c *ageCollector) ValueType() prometheus.ValueType { return prometheus.GaugeValue }

func (c *ageCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for region, p := range c.by {
		last := p.LastUpdated()
		if last.IsZero() {
			continue
		}
		age := max(p.clk.Since(last), time.Duration(0))
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, age.Seconds(), region)
	}
}
