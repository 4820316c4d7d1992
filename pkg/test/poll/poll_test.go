package poll_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azkarpenter/azkarpenter/pkg/test/poll"
)

// recorder is a TB that records a failure instead of stopping the test.
type recorder struct{ failed string }

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
}

func TestUntil(t *testing.T) {
	var n atomic.Int32
	poll.Until(t, time.Second, "three checks", func() bool { return n.Add(1) >= 3 })
	if n.Load() != 3 {
		t.Fatalf("checked %d times, want 3", n.Load())
	}
	r := &recorder{}
	poll.Until(r, 50*time.Millisecond, "a condition that never holds", func() bool { return false })
	if r.failed != "timed out after 50ms waiting for a condition that never holds" {
		t.Fatalf("failure %q", r.failed)
	}
}

func TestConsistently(t *testing.T) {
	start := time.Now()
	var n atomic.Int32
	poll.Consistently(t, 50*time.Millisecond, "a condition that always holds", func() bool { n.Add(1); return true })
	if time.Since(start) < 50*time.Millisecond || n.Load() < 2 {
		t.Fatalf("watched %s with %d checks: it must watch the whole period", time.Since(start), n.Load())
	}
	r := &recorder{}
	n.Store(0)
	poll.Consistently(r, time.Second, "a condition that breaks", func() bool { return n.Add(1) < 3 })
	if r.failed == "" || n.Load() != 3 {
		t.Fatalf("failure %q after %d checks, want a failure at the third", r.failed, n.Load())
	}
}
