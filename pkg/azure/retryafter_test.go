package azure

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// scriptedTransport answers each request with the next scripted response
// for its method, and counts what reached it.
type scriptedTransport struct {
	mu     sync.Mutex
	script map[string][]throttle
	sent   []string
}

// throttle is a scripted 429: its Retry-After and body.
type throttle struct{ retryAfter, body string }

func (s *scriptedTransport) Do(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, req.Method+" "+req.URL.Path)
	key := req.Method + " " + req.URL.Path
	if rs := s.script[key]; len(rs) > 0 {
		s.script[key] = rs[1:]
		h := http.Header{"Retry-After": []string{rs[0].retryAfter}, "Content-Type": []string{"application/json"}}
		return &http.Response{StatusCode: http.StatusTooManyRequests, Header: h, Body: io.NopCloser(strings.NewReader(rs[0].body)), Request: req}, nil
	}
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req, Header: http.Header{}}, nil
}

// Compute's throttling error as Microsoft documents it ("Troubleshooting API
// throttling errors"), with its 20-minute Retry-After.
const computeThrottled = `{"error":{"code":"OperationNotAllowed","message":"The server rejected the request because too many requests have been received for this subscription.",` +
	`"details":[{"code":"TooManyRequests","target":"PutVM30Min","message":"{\"operationGroup\":\"PutVM30Min\",\"allowedRequestCount\":2500,\"measuredRequestCount\":2600}"}]}}`

const (
	vmPath  = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
	vm2Path = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm2"
	nicPath = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/nic1"
)

func gatePipeline(g *RetryAfterGate, tr *scriptedTransport) runtime.Pipeline {
	return runtime.NewPipeline("test", "v0", runtime.PipelineOptions{PerRetry: []policy.Policy{g}},
		&policy.ClientOptions{Transport: tr, Retry: policy.RetryOptions{MaxRetries: 3, RetryDelay: time.Millisecond, MaxRetryDelay: 50 * time.Millisecond}})
}

func send(ctx context.Context, t *testing.T, pl runtime.Pipeline, method, path string) error {
	t.Helper()
	req, err := runtime.NewRequest(ctx, method, "https://example.invalid"+path)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := pl.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if !runtime.HasStatusCode(resp, http.StatusOK) {
		return runtime.NewResponseError(resp)
	}
	return nil
}

// A Retry-After above the SDK's MaxRetryDelay: the SDK gives up at once;
// the gate then sends no request of the operation before the time Azure
// gave, whoever asks, and other operations go on.
func TestRetryAfterAboveTheSDKsCapHoldsTheOperationBack(t *testing.T) {
	now := time.Now()
	g := NewRetryAfterGate(50 * time.Millisecond)
	g.now = func() time.Time { return now }
	tr := &scriptedTransport{script: map[string][]throttle{"PUT " + vmPath: {{"1200", computeThrottled}}}}
	pl := gatePipeline(g, tr)

	err := send(context.Background(), t, pl, http.MethodPut, vmPath)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("first PUT: %v, want the 429", err)
	}
	if len(tr.sent) != 1 {
		t.Fatalf("the SDK retried a 20-minute Retry-After: %v", tr.sent)
	}
	// Another VM's PUT is held back without a request.
	err = send(context.Background(), t, pl, http.MethodPut, vm2Path)
	var te *ThrottledError
	if !errors.As(err, &te) || !te.Until.Equal(now.Add(1200*time.Second)) || te.Operation != "PUT Microsoft.Compute/virtualMachines" {
		t.Fatalf("second PUT: %v, want a ThrottledError until +1200s", err)
	}
	if len(tr.sent) != 1 {
		t.Fatalf("a held-back request reached Azure: %v", tr.sent)
	}
	if until, refused := g.Until("s", http.MethodPut, "Microsoft.Compute/virtualMachines"); !refused || !until.Equal(now.Add(1200*time.Second)) {
		t.Errorf("Until = %v, %v", until, refused)
	}
	// Reads of the VM and NIC writes are other operations.
	if err := send(context.Background(), t, pl, http.MethodGet, vmPath); err != nil {
		t.Errorf("GET VM: %v", err)
	}
	if err := send(context.Background(), t, pl, http.MethodPut, nicPath); err != nil {
		t.Errorf("PUT NIC: %v", err)
	}
	// Once the time has passed, the PUT goes.
	now = now.Add(1200 * time.Second)
	if err := send(context.Background(), t, pl, http.MethodPut, vmPath); err != nil {
		t.Fatalf("PUT after Retry-After: %v", err)
	}
	if _, refused := g.Until("s", http.MethodPut, "Microsoft.Compute/virtualMachines"); refused {
		t.Error("still refused after Retry-After")
	}
}

// ARM's own throttling covers every request of its kind in the subscription.
func TestARMThrottlingHoldsBackTheKind(t *testing.T) {
	now := time.Now()
	g := NewRetryAfterGate(50 * time.Millisecond)
	g.now = func() time.Time { return now }
	body := `{"error":{"code":"SubscriptionRequestsThrottled","message":"Number of 'write' requests for subscription 's' actor 'a' exceeded. Please try again after '300' seconds after additional tokens are available."}}`
	tr := &scriptedTransport{script: map[string][]throttle{"PUT " + vmPath: {{"300", body}}}}
	pl := gatePipeline(g, tr)
	if err := send(context.Background(), t, pl, http.MethodPut, vmPath); err == nil {
		t.Fatal("no 429")
	}
	var te *ThrottledError
	if err := send(context.Background(), t, pl, http.MethodPut, nicPath); !errors.As(err, &te) {
		t.Errorf("NIC write during ARM write throttling: %v", err)
	}
	if err := send(context.Background(), t, pl, http.MethodGet, vmPath); err != nil {
		t.Errorf("reads are another bucket: %v", err)
	}
	// Another subscription is not throttled.
	if err := send(context.Background(), t, pl, http.MethodPut, strings.Replace(nicPath, "/s/", "/other/", 1)); err != nil {
		t.Errorf("another subscription: %v", err)
	}
}

// A short Retry-After is waited for in line, by the SDK and by requests
// of the same operation that come meanwhile; a request whose deadline comes
// first is refused instead of sent late.
func TestShortRetryAfterIsWaitedFor(t *testing.T) {
	g := NewRetryAfterGate(5 * time.Second)
	tr := &scriptedTransport{script: map[string][]throttle{"PUT " + vmPath: {{"1", computeThrottled}}}}
	pl := runtime.NewPipeline("test", "v0", runtime.PipelineOptions{PerRetry: []policy.Policy{g}},
		&policy.ClientOptions{Transport: tr, Retry: policy.RetryOptions{MaxRetries: 3, RetryDelay: time.Millisecond, MaxRetryDelay: 5 * time.Second}})
	start := time.Now()
	if err := send(context.Background(), t, pl, http.MethodPut, vmPath); err != nil {
		t.Fatalf("PUT: %v", err)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("retried after %v, before the 1s Retry-After", waited)
	}
	tr.script["PUT "+vmPath] = []throttle{{"2", computeThrottled}}
	if err := send(context.Background(), t, pl, http.MethodPut, vmPath); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	tr.script["PUT "+vmPath] = []throttle{{"2", computeThrottled}}
	g.mu.Lock()
	g.until[scopeKey("s", "PUT Microsoft.Compute/virtualMachines")] = time.Now().Add(2 * time.Second)
	g.mu.Unlock()
	var te *ThrottledError
	if err := send(ctx, t, pl, http.MethodPut, vm2Path); !errors.As(err, &te) {
		t.Errorf("a request due before Retry-After passes: %v, want ThrottledError", err)
	}
}

func TestRetryAfterHeaderForms(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		h    http.Header
		want time.Duration
	}{
		{http.Header{"Retry-After": []string{"1200"}}, 1200 * time.Second},
		{http.Header{"Retry-After": []string{now.Add(90 * time.Second).Format(http.TimeFormat)}}, 90 * time.Second},
		{http.Header{"Retry-After-Ms": []string{"1500"}}, 1500 * time.Millisecond},
		{http.Header{"X-Ms-Retry-After-Ms": []string{"250"}}, 250 * time.Millisecond},
		{http.Header{"Retry-After": []string{"soon"}}, 0},
		{http.Header{}, 0},
	} {
		if got := RetryAfter(tc.h, now); got != tc.want {
			t.Errorf("RetryAfter(%v) = %v, want %v", tc.h, got, tc.want)
		}
	}
}
