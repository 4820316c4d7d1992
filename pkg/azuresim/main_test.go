package azuresim_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test closes its servers; goleak proves no goroutine outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
