package instance_test

import (
	"testing"

	"sigs.k8s.io/karpenter/pkg/controllers/nodeclaim/lifecycle"

	"github.com/azkarpenter/azkarpenter/pkg/providers/instance"
)

// A create must give up before core's liveness check deletes its NodeClaim:
// a claim deleted without a providerID never gets a Delete call, so a VM
// whose create outlived it would leak until garbage collection (issue 12).
func TestCreateTimeoutInsideCoreLaunchTimeout(t *testing.T) {
	margin := lifecycle.LaunchTimeout / 5
	if instance.DefaultCreateTimeout > lifecycle.LaunchTimeout-margin {
		t.Fatalf("DefaultCreateTimeout %v must end at least %v before core's launch timeout %v", instance.DefaultCreateTimeout, margin, lifecycle.LaunchTimeout)
	}
}
