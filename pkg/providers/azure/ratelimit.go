package azure

import (
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	opmetrics "github.com/awslabs/operatorpkg/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// RateLimits are client-side token buckets kept below ARM's per-subscription
// buckets (reads 250 refilled at 25/s, writes and deletes 200 at 10/s), so
// the controller slows itself down instead of collecting 429s that throttle
// every other client of the subscription too.
type RateLimits struct {
	ReadsPerSecond, WritesPerSecond, DeletesPerSecond float64
	ReadBurst, WriteBurst, DeleteBurst                int
}

// DefaultRateLimits use 80% of ARM's refill rates and half its bucket sizes.
var DefaultRateLimits = RateLimits{
	ReadsPerSecond: 20, ReadBurst: 125,
	WritesPerSecond: 8, WriteBurst: 100,
	DeletesPerSecond: 8, DeleteBurst: 100,
}

var rateLimited = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
	Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "client_rate_limited_total",
	Help: "Azure requests that waited for the client-side rate limiter, by kind (read, write, delete).",
}, []string{"kind"})

type rateLimiter struct {
	reads, writes, deletes *rate.Limiter
}

func newRateLimiter(l RateLimits) *rateLimiter {
	return &rateLimiter{
		reads:   rate.NewLimiter(rate.Limit(l.ReadsPerSecond), l.ReadBurst),
		writes:  rate.NewLimiter(rate.Limit(l.WritesPerSecond), l.WriteBurst),
		deletes: rate.NewLimiter(rate.Limit(l.DeletesPerSecond), l.DeleteBurst),
	}
}

// Do waits for a token of the request's kind; every attempt (retries too)
// takes one, as ARM counts them.
func (r *rateLimiter) Do(req *policy.Request) (*http.Response, error) {
	limiter, kind := r.reads, "read"
	switch req.Raw().Method {
	case http.MethodPut, http.MethodPost, http.MethodPatch:
		limiter, kind = r.writes, "write"
	case http.MethodDelete:
		limiter, kind = r.deletes, "delete"
	}
	if !limiter.Allow() {
		rateLimited.Inc(map[string]string{"kind": kind})
		if err := limiter.Wait(req.Raw().Context()); err != nil {
			return nil, err
		}
	}
	return req.Next()
}
