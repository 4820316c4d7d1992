package azure

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	opmetrics "github.com/awslabs/operatorpkg/metrics"
	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

const (
	metricsNamespace = "azkarpenter"
	metricsSubsystem = "azure"
)

var (
	requestsTotal = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
		Namespace: metricsNamespace,
		Subsystem: metricsSubsystem,
		Name:      "requests_total",
		Help:      "Azure API requests (each retry counted) by operation and HTTP status code; status_code is 'error' when no response arrived.",
	}, []string{"operation", "status_code"})
	requestDuration = opmetrics.NewPrometheusHistogram(crmetrics.Registry, prometheus.HistogramOpts{
		Namespace: metricsNamespace,
		Subsystem: metricsSubsystem,
		Name:      "request_duration_seconds",
		Help:      "Latency of single Azure API requests by operation.",
		Buckets:   []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, []string{"operation"})
	throttledTotal = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
		Namespace: metricsNamespace,
		Subsystem: metricsSubsystem,
		Name:      "throttled_requests_total",
		Help:      "Azure API requests answered 429 Too Many Requests, by operation.",
	}, []string{"operation"})
	// rateLimitRemaining is azkarpenter_azure_rate_limit_remaining, spelt as
	// the client-side rate-limit metrics are; azkarpenter_azure_ratelimit_remaining
	// is kept for one release (docs/metrics.md).
	rateLimitRemaining = opmetrics.NewMultiGauge(
		opmetrics.NewPrometheusGauge(crmetrics.Registry, prometheus.GaugeOpts{
			Namespace: metricsNamespace,
			Subsystem: metricsSubsystem,
			Name:      "rate_limit_remaining",
			Help:      "Last x-ms-ratelimit-remaining-subscription-{reads,writes,deletes} value ARM returned, by kind.",
		}, []string{"kind"}),
		opmetrics.NewPrometheusGauge(crmetrics.Registry, prometheus.GaugeOpts{
			Namespace: metricsNamespace,
			Subsystem: metricsSubsystem,
			Name:      "ratelimit_remaining",
			Help:      "Deprecated: use azkarpenter_azure_rate_limit_remaining; removed in the next release. Last x-ms-ratelimit-remaining-subscription-* value ARM returned.",
		}, []string{"kind"}),
	)
)

// requestMetrics records every attempt of every Azure request. It runs per
// retry, so throttled and retried attempts are visible.
type requestMetrics struct{}

func (requestMetrics) Do(req *policy.Request) (*http.Response, error) {
	raw := req.Raw()
	op := Operation(raw.Method, raw.URL.Path)
	start := time.Now()
	resp, err := req.Next()
	requestDuration.Observe(time.Since(start).Seconds(), map[string]string{"operation": op})
	code := "error"
	if resp != nil {
		code = strconv.Itoa(resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests {
			throttledTotal.Inc(map[string]string{"operation": op})
		}
		for _, kind := range []string{"reads", "writes", "deletes"} {
			if v := resp.Header.Get("x-ms-ratelimit-remaining-subscription-" + kind); v != "" {
				if n, perr := strconv.ParseFloat(v, 64); perr == nil {
					rateLimitRemaining.Set(n, map[string]string{"kind": kind})
				}
			}
		}
	} else if errors.Is(err, req.Raw().Context().Err()) {
		code = "canceled"
	}
	requestsTotal.Inc(map[string]string{"operation": op, "status_code": code})
	return resp, err
}

// Operation names an Azure request by method and resource type, without
// resource names, so metrics have bounded cardinality:
//
//	PUT /subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1
//	  → "PUT Microsoft.Compute/virtualMachines"
//	GET /subscriptions/s/providers/Microsoft.Compute/locations/eastus/operations/id
//	  → "GET Microsoft.Compute/locations/operations"
func Operation(method, path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if !strings.EqualFold(parts[i], "providers") || i+1 >= len(parts) {
			continue
		}
		// After the namespace, segments alternate type, name, type, name…
		rest := parts[i+2:]
		types := []string{parts[i+1]}
		for j := 0; j < len(rest); j += 2 {
			types = append(types, rest[j])
		}
		return method + " " + types[0] + "/" + strings.Join(types[1:], "/")
	}
	if len(parts) >= 2 {
		return method + " " + parts[len(parts)-2] + "/" + parts[len(parts)-1]
	}
	return method + " " + path
}
