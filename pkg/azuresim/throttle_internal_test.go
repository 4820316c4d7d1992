package azuresim

import (
	"net/http"
	"testing"
	"time"
)

// Buckets refill per simulated minute: at time scale 0.01 a bucket of 60
// tokens a minute gets one back every 10ms of wall time.
func TestThrottlingRefillsOnSimulatedTime(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	th := newThrottler(ThrottlingConfig{Buckets: map[string]BucketSpec{BucketPutVM: {Size: 2, RefillPerMinute: 60}}}, 0.01)
	th.now = func() time.Time { return now }
	key := throttleKey{class: armWrite, subscription: "sub", rpBuckets: []string{BucketPutVM}}
	for i := range 2 {
		if r := th.admit(key, http.Header{}); r != nil {
			t.Fatalf("request %d throttled by %s", i, r.bucket)
		}
	}
	r := th.admit(key, http.Header{})
	if r == nil || r.bucket != BucketPutVM {
		t.Fatalf("third request in the same instant: %+v, want throttled by %s", r, BucketPutVM)
	}
	if r.retryAfter != time.Second {
		t.Errorf("Retry-After %v, want the 1s minimum (10ms of wall time rounded up)", r.retryAfter)
	}
	now = now.Add(15 * time.Millisecond) // 1.5 simulated seconds
	if r := th.admit(key, http.Header{}); r != nil {
		t.Fatalf("throttled by %s after 1.5 simulated seconds of refill at 1 token per simulated second", r.bucket)
	}
}
