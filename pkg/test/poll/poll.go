// Package poll waits on conditions in plain Go tests, as gomega's Eventually
// and Consistently do in the Ginkgo suites: never a fixed sleep. It imports
// nothing of the project, so any package's own tests can use it.
package poll

import (
	"context"
	"errors"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Interval is how often a condition is checked.
const Interval = 10 * time.Millisecond

// TB is the part of testing.TB the helpers use.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Until checks cond every Interval until it holds, and fails t naming what
// it waited for once timeout passes.
func Until(t TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), Interval, timeout, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	if err != nil {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}

// Consistently checks cond every Interval for the whole of d and fails t
// the first time it does not hold: the "nothing happened" check, which
// watches for the whole period instead of looking once after a sleep.
func Consistently(t TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	errBroken := errors.New("broken")
	err := wait.PollUntilContextTimeout(context.Background(), Interval, d, true, func(context.Context) (bool, error) {
		if !cond() {
			return false, errBroken
		}
		return false, nil
	})
	if errors.Is(err, errBroken) {
		t.Fatalf("%s no longer holds after less than %s", what, d)
	}
}
