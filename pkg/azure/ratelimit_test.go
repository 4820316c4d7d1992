package azure

import (
	"context"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

type okTransport struct{}

func (okTransport) Do(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req, Header: http.Header{}}, nil
}

func TestRateLimiterKinds(t *testing.T) {
	// A read beyond the burst waits up to 200ms, a write up to 50ms.
	roomy := Bucket{PerSecond: 1000, Burst: 1000}
	limiter := newRateLimiter(RateLimits{
		Reads: Bucket{PerSecond: 5, Burst: 2}, Writes: Bucket{PerSecond: 20, Burst: 1}, Deletes: Bucket{PerSecond: 20, Burst: 1},
		PutVM: roomy, DeleteVM: roomy, NetworkWrites: roomy, NetworkReads: roomy,
	})
	pl := runtime.NewPipeline("test", "v0", runtime.PipelineOptions{PerRetry: []policy.Policy{limiter}}, &policy.ClientOptions{Transport: okTransport{}, Retry: policy.RetryOptions{MaxRetries: -1}})
	// The counter is process-wide: measure what this test adds.
	base := map[string]float64{"read": limitedCount(t, "read"), "write": limitedCount(t, "write"), "delete": limitedCount(t, "delete")}
	waits := func(kind string) float64 { return limitedCount(t, kind) - base[kind] }
	send := func(method string) {
		req, err := runtime.NewRequest(context.Background(), method, "https://example.invalid/subscriptions/s/providers/Microsoft.Compute/skus")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := pl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	// Reads have a burst of 2: the third read in a row waits for a token;
	// writes and deletes have their own buckets.
	send(http.MethodGet)
	send(http.MethodGet)
	send(http.MethodDelete)
	if got := waits("read"); got != 0 {
		t.Fatalf("reads within the burst waited %v times", got)
	}
	send(http.MethodPut)
	send(http.MethodPut)
	send(http.MethodGet)
	if waits("read") != 1 || waits("write") != 1 || waits("delete") != 0 {
		t.Errorf("waits: read %v write %v delete %v, want 1 1 0", waits("read"), waits("write"), waits("delete"))
	}
}

func TestRateLimiterOperationGroups(t *testing.T) {
	// ARM's write bucket has room; Microsoft.Network's does not: a second
	// NIC write waits, a VM write does not.
	roomy := Bucket{PerSecond: 1000, Burst: 1000}
	r := newRateLimiter(RateLimits{Reads: roomy, Writes: roomy, Deletes: roomy, PutVM: roomy, DeleteVM: roomy, NetworkReads: roomy,
		NetworkWrites: Bucket{PerSecond: 20, Burst: 1}})
	nic := Operation(http.MethodPut, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/n")
	vm := Operation(http.MethodPut, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/v")
	wait := func(method, op string) bool {
		limiters, _ := r.limitersFor(method, op)
		waited, err := waitAll(context.Background(), limiters)
		if err != nil {
			t.Fatal(err)
		}
		return waited > 0
	}
	if wait(http.MethodPut, nic) {
		t.Error("the first NIC write waited")
	}
	if wait(http.MethodPut, vm) {
		t.Error("a VM write waited for Microsoft.Network's bucket")
	}
	if !wait(http.MethodDelete, Operation(http.MethodDelete, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/n")) {
		t.Error("a NIC delete right after a NIC write did not wait for Microsoft.Network's write bucket")
	}
	if limiters, _ := r.limitersFor(http.MethodPut, vm); len(limiters) != 2 {
		t.Errorf("a VM PUT draws from %d buckets, want ARM's writes and Compute's PutVM", len(limiters))
	}
}

func TestZeroBucketDoesNotLimit(t *testing.T) {
	r := newRateLimiter(RateLimits{Reads: Bucket{PerSecond: 1, Burst: 1}})
	for range 3 {
		limiters, _ := r.limitersFor(http.MethodPut, "PUT Microsoft.Compute/virtualMachines")
		if waited, err := waitAll(context.Background(), limiters); err != nil || waited > 0 {
			t.Fatalf("a write with no write buckets set waited %v: %v", waited, err)
		}
	}
}

func TestRateLimitsScaled(t *testing.T) {
	s := DefaultRateLimits.Scaled(1000)
	if s.Writes.PerSecond != 10000 || s.Writes.Burst != 200 {
		t.Errorf("scaled writes %+v, want 10000/s with ARM's burst of 200", s.Writes)
	}
	if DefaultRateLimits.Scaled(0) != DefaultRateLimits {
		t.Error("a zero scale changed the limits")
	}
}

func limitedCount(t *testing.T, kind string) float64 {
	t.Helper()
	mfs, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "azkarpenter_azure_client_rate_limited_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" && l.GetValue() == kind {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
