package azure

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	opmetrics "github.com/awslabs/operatorpkg/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Bucket is a token bucket: Burst tokens, refilled at PerSecond.
type Bucket struct {
	PerSecond float64
	Burst     int
}

// RateLimits are client-side token buckets with ARM's published sizes and
// refill rates (docs/decisions.md "ARM rate limits"): the controller waits
// for a token instead of collecting 429s, which would throttle every other
// client of the subscription too, and never waits where ARM would not
// throttle it. A request draws from its ARM bucket (per subscription: reads,
// writes, deletes) and from its resource provider's operation group, as ARM
// and the resource providers count it.
type RateLimits struct {
	// Reads, Writes and Deletes are ARM's per-subscription buckets.
	Reads, Writes, Deletes Bucket
	// PutVM and DeleteVM are Microsoft.Compute's per-subscription VM
	// operation groups (PutVM3Min, DeleteVM3Min).
	PutVM, DeleteVM Bucket
	// NetworkWrites and NetworkReads are Microsoft.Network's
	// per-subscription limits; NetworkWrites also counts deletes.
	NetworkWrites, NetworkReads Bucket
}

// DefaultRateLimits are Azure's published figures: ARM reads 250 refilled at
// 25/s, writes and deletes 200 at 10/s; Compute VM PUT and DELETE 1,500
// refilled at 500 a minute; Network 1,000 writes and 10,000 reads refilled
// every 5 minutes.
var DefaultRateLimits = RateLimits{
	Reads:         Bucket{PerSecond: 25, Burst: 250},
	Writes:        Bucket{PerSecond: 10, Burst: 200},
	Deletes:       Bucket{PerSecond: 10, Burst: 200},
	PutVM:         Bucket{PerSecond: 500.0 / 60, Burst: 1500},
	DeleteVM:      Bucket{PerSecond: 500.0 / 60, Burst: 1500},
	NetworkWrites: Bucket{PerSecond: 1000.0 / 300, Burst: 1000},
	NetworkReads:  Bucket{PerSecond: 10000.0 / 300, Burst: 10000},
}

// Scaled returns the limits with every refill rate multiplied by f (bucket
// sizes unchanged): for a simulator whose clock runs f times faster than
// Azure's, as azuresim's buckets do at --time-scale 1/f.
func (l RateLimits) Scaled(f float64) RateLimits {
	if f <= 0 || f == 1 {
		return l
	}
	for _, b := range []*Bucket{&l.Reads, &l.Writes, &l.Deletes, &l.PutVM, &l.DeleteVM, &l.NetworkWrites, &l.NetworkReads} {
		b.PerSecond *= f
	}
	return l
}

var (
	rateLimited = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "client_rate_limited_total",
		Help: "Azure requests that waited for the client-side rate limiter, by kind (read, write, delete).",
	}, []string{"kind"})
	rateLimitWait = opmetrics.NewPrometheusHistogram(crmetrics.Registry, prometheus.HistogramOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "client_rate_limit_wait_seconds",
		Help:    "Time Azure requests (each attempt) waited for a client-side rate-limit token, by operation; 0 when a token was there.",
		Buckets: []float64{0, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
	}, []string{"operation"})
)

// errNoTokenInTime is a request whose deadline comes before its token.
var errNoTokenInTime = errors.New("client-side ARM rate limit: no token before the request's deadline")

type rateLimiter struct {
	reads, writes, deletes, putVM, deleteVM, networkWrites, networkReads *rate.Limiter
}

// newLimiter is the bucket's limiter; a zero bucket does not limit.
func newLimiter(b Bucket) *rate.Limiter {
	if b == (Bucket{}) {
		return rate.NewLimiter(rate.Inf, 0)
	}
	return rate.NewLimiter(rate.Limit(b.PerSecond), b.Burst)
}

func newRateLimiter(l RateLimits) *rateLimiter {
	return &rateLimiter{
		reads: newLimiter(l.Reads), writes: newLimiter(l.Writes), deletes: newLimiter(l.Deletes),
		putVM: newLimiter(l.PutVM), deleteVM: newLimiter(l.DeleteVM),
		networkWrites: newLimiter(l.NetworkWrites), networkReads: newLimiter(l.NetworkReads),
	}
}

// limitersFor are the buckets a request draws from, and its ARM kind.
func (r *rateLimiter) limitersFor(method, op string) ([]*rate.Limiter, string) {
	kind, arm := "read", r.reads
	switch method {
	case http.MethodPut, http.MethodPost, http.MethodPatch:
		kind, arm = "write", r.writes
	case http.MethodDelete:
		kind, arm = "delete", r.deletes
	}
	limiters := []*rate.Limiter{arm}
	_, resource, _ := strings.Cut(op, " ")
	switch {
	case strings.HasPrefix(resource, "Microsoft.Network/"):
		if kind == "read" {
			limiters = append(limiters, r.networkReads)
		} else {
			limiters = append(limiters, r.networkWrites)
		}
	case resource == "Microsoft.Compute/virtualMachines" && method == http.MethodPut:
		limiters = append(limiters, r.putVM)
	case resource == "Microsoft.Compute/virtualMachines" && method == http.MethodDelete:
		limiters = append(limiters, r.deleteVM)
	}
	return limiters, kind
}

// Do waits for a token from every bucket the request draws from; every
// attempt (retries too) takes one, as ARM counts them.
func (r *rateLimiter) Do(req *policy.Request) (*http.Response, error) {
	raw := req.Raw()
	op := Operation(raw.Method, raw.URL.Path)
	limiters, kind := r.limitersFor(raw.Method, op)
	waited, err := waitAll(raw.Context(), limiters)
	rateLimitWait.Observe(waited.Seconds(), map[string]string{"operation": op})
	if waited > 0 {
		rateLimited.Inc(map[string]string{"kind": kind})
	}
	if err != nil {
		return nil, err
	}
	return req.Next()
}

// waitAll takes a token from each limiter, waiting until all have one. On
// cancellation it returns the tokens it reserved.
func waitAll(ctx context.Context, limiters []*rate.Limiter) (time.Duration, error) {
	now := time.Now()
	reservations := make([]*rate.Reservation, 0, len(limiters))
	cancel := func() {
		for _, r := range reservations {
			r.CancelAt(now)
		}
	}
	var delay time.Duration
	for _, l := range limiters {
		r := l.ReserveN(now, 1)
		if !r.OK() {
			cancel()
			return 0, errNoTokenInTime
		}
		reservations = append(reservations, r)
		delay = max(delay, r.DelayFrom(now))
	}
	if delay == 0 {
		return 0, nil
	}
	if deadline, ok := ctx.Deadline(); ok && deadline.Before(now.Add(delay)) {
		// As rate.Limiter.Wait: do not wait for a token the request could
		// not use.
		cancel()
		return 0, errNoTokenInTime
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return delay, nil
	case <-ctx.Done():
		cancel()
		return time.Since(now), ctx.Err()
	}
}
