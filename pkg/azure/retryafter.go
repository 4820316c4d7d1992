package azure

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	opmetrics "github.com/awslabs/operatorpkg/metrics"
	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Retry-After, whatever its length.
//
// "Each throttling error includes the Retry-After header, which provides the
// minimum number of seconds the client should wait before retrying the
// request" (Microsoft Learn, "Troubleshooting API throttling errors",
// virtual-machines/troubleshooting/troubleshooting-throttling-errors; its
// example is a Compute 429 with Retry-After: 1200). azcore's retry policy
// honours Retry-After only up to MaxRetryDelay (60 s): above it, it returns
// the 429 at once (runtime/policy_retry.go: "the retry-after delay exceeds
// the cap so don't retry"), and the caller would try again well before
// Azure allows, drawing on the exhausted budget of every other client of
// the subscription.
//
// RetryAfterGate remembers every Retry-After a 429 or 503 carries, for what
// it applies to, and holds back the requests it covers until then: it waits
// in line for what the SDK would also wait (up to MaxRetryDelay), and
// refuses longer waits at once with a ThrottledError, without a request, so
// callers can defer the work (the instance provider returns a CreateError,
// core keeps the NodeClaim and requeues it with backoff; nothing reaches
// Azure before the time it gave).
//
// What a Retry-After covers:
//   - ARM's own limits (code SubscriptionRequestsThrottled, "Troubleshoot
//     the SubscriptionRequestsThrottled error code (429)") are per
//     subscription and kind of request: every read, write or delete of the
//     subscription waits;
//   - a resource provider's (Compute answers OperationNotAllowed with a
//     TooManyRequests detail naming the operation group; Network,
//     TooManyRequests) cover its operation groups, which clients cannot
//     name before sending: requests of the same operation (method and
//     resource type, as Operation names them) in the subscription wait.
type RetryAfterGate struct {
	mu sync.Mutex
	// until maps a scope (subscription + "|" + kind or operation) to the
	// time Azure allows its requests again.
	until map[string]time.Time
	// maxWait is how long a request waits in line (the SDK's MaxRetryDelay).
	maxWait time.Duration
	now     func() time.Time
}

// NewRetryAfterGate returns a gate that waits in line up to maxWait.
func NewRetryAfterGate(maxWait time.Duration) *RetryAfterGate {
	return &RetryAfterGate{until: map[string]time.Time{}, maxWait: maxWait, now: time.Now}
}

// RetryAfterOf returns the gate installed in client options built by
// Config.ClientOptions, or nil.
func RetryAfterOf(opts *arm.ClientOptions) *RetryAfterGate {
	if opts == nil {
		return nil
	}
	for _, p := range opts.PerRetryPolicies {
		if g, ok := p.(*RetryAfterGate); ok {
			return g
		}
	}
	return nil
}

// ThrottledError is a request the gate did not send: Azure asked for no
// such request before Until.
type ThrottledError struct {
	Operation string
	Until     time.Time
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("%s not sent: Azure throttled it and asked to wait until %s (Retry-After)", e.Operation, e.Until.UTC().Format(time.RFC3339))
}

// NonRetriable tells azcore's retry policy not to retry it.
func (e *ThrottledError) NonRetriable() {}

var retryAfterRefused = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
	Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "retry_after_refused_total",
	Help: "Azure requests not sent because a Retry-After Azure gave for them had not passed, by operation.",
}, []string{"operation"})

// Until returns when Azure allows requests of the operation (method and
// resource type, "PUT Microsoft.Compute/virtualMachines") in the
// subscription again, and whether the gate would refuse one now rather than
// wait in line for it.
func (g *RetryAfterGate) Until(subscriptionID, method, resourceType string) (time.Time, bool) {
	until := g.blockedUntil(subscriptionID, method, method+" "+resourceType)
	return until, until.Sub(g.now()) > g.maxWait
}

func (g *RetryAfterGate) blockedUntil(sub, method, op string) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	var until time.Time
	for _, scope := range []string{scopeKey(sub, requestKind(method)), scopeKey(sub, op)} {
		u, ok := g.until[scope]
		switch {
		case !ok:
		case !u.After(now):
			delete(g.until, scope)
		case u.After(until):
			until = u
		}
	}
	return until
}

func scopeKey(sub, what string) string { return strings.ToLower(sub) + "|" + what }

func requestKind(method string) string {
	switch method {
	case http.MethodPut, http.MethodPost, http.MethodPatch:
		return "write"
	case http.MethodDelete:
		return "delete"
	}
	return "read"
}

// Do implements policy.Policy. It runs per attempt, before the client-side
// rate limiter, so a request held back takes no token.
func (g *RetryAfterGate) Do(req *policy.Request) (*http.Response, error) {
	raw := req.Raw()
	sub := subscriptionOf(raw.URL.Path)
	op := Operation(raw.Method, raw.URL.Path)
	if until := g.blockedUntil(sub, raw.Method, op); !until.IsZero() {
		wait := until.Sub(g.now())
		deadline, hasDeadline := raw.Context().Deadline()
		if wait > g.maxWait || (hasDeadline && deadline.Before(until)) {
			retryAfterRefused.Inc(map[string]string{"operation": op})
			return nil, &ThrottledError{Operation: op, Until: until}
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-raw.Context().Done():
			t.Stop()
			return nil, raw.Context().Err()
		}
	}
	resp, err := req.Next()
	if err == nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d := RetryAfter(resp.Header, g.now()); d > 0 {
			scope := scopeKey(sub, op)
			if armThrottled(resp) {
				scope = scopeKey(sub, requestKind(raw.Method))
			}
			g.mu.Lock()
			if u := g.now().Add(d); u.After(g.until[scope]) {
				g.until[scope] = u
			}
			g.mu.Unlock()
		}
	}
	return resp, err
}

// RetryAfter reads how long a response asks clients to wait: the
// retry-after-ms and x-ms-retry-after-ms headers (milliseconds), or
// Retry-After in seconds or as an HTTP date (RFC 9110 §10.2.3); 0 when none.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	for _, name := range []string{"retry-after-ms", "x-ms-retry-after-ms"} {
		if v := h.Get(name); v != "" {
			if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
				return time.Duration(ms * float64(time.Millisecond))
			}
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		return max(time.Duration(secs*float64(time.Second)), 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// armThrottled reports whether a 429 is ARM's own (its error code
// SubscriptionRequestsThrottled), not a resource provider's. azcore buffers
// the body, so reading it here leaves it for the caller.
func armThrottled(resp *http.Response) bool {
	if resp.StatusCode != http.StatusTooManyRequests {
		return false
	}
	if resp.Header.Get("x-ms-error-code") == "SubscriptionRequestsThrottled" {
		return true
	}
	body, err := runtime.Payload(resp)
	if err != nil {
		return false
	}
	var doc struct {
		Code  string `json:"code"`
		Error *struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return false
	}
	code := doc.Code
	if doc.Error != nil {
		code = doc.Error.Code
	}
	return code == "SubscriptionRequestsThrottled"
}

// subscriptionOf is the subscription ID in an ARM path, or "".
func subscriptionOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "subscriptions") {
			return parts[i+1]
		}
	}
	return ""
}
