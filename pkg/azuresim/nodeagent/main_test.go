package nodeagent

import (
	"testing"

	"go.uber.org/goleak"
)

// The agent's workers and queues must be gone once Run returns. klog's
// flush daemon is process-wide and started by client-go, not by the agent.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("k8s.io/klog/v2.(*flushDaemon).run.func1"))
}
