package instance_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instance"
	"github.com/azkarpenter/azkarpenter/pkg/test/poll"
)

// Compute throttles VM creation with a Retry-After longer than the SDK
// waits (its MaxRetryDelay is 50ms in tests; azuresim answers 2s): the
// creation is a CreateError core retries on the same NodeClaim, no offering
// is marked (Compute's throttling code is OperationNotAllowed, as for
// quota), and nothing is sent to Azure again before the time it gave.
func TestLongRetryAfterDefersCreationWithoutMarkingOfferings(t *testing.T) {
	e := newEnv(t, func(c *azuresim.Config) {
		// One VM PUT, then a token every 2s of wall time at time scale 0.001.
		c.Throttling.Buckets = map[string]azuresim.BucketSpec{azuresim.BucketPutVM: {Size: 1, RefillPerMinute: 0.03}}
	})
	nc := nodeClass(nil)
	its := e.instanceTypes(nc)
	create := func() error {
		_, err := e.provider.Create(e.ctx, nc, nodeClaim([]string{"Standard_D2s_v5"}, []string{spot}), its)
		return err
	}
	if err := create(); err != nil {
		t.Fatal(err)
	}
	seq := e.cache.SeqNum()
	err := create()
	var ce *cloudprovider.CreateError
	if !errors.As(err, &ce) || ce.ConditionReason != instance.ReasonThrottled || cloudprovider.IsInsufficientCapacityError(err) {
		t.Fatalf("throttled creation: %v, want a Throttled CreateError", err)
	}
	if !strings.Contains(ce.ConditionMessage, "Retry-After 2s") {
		t.Errorf("message %q does not say how long Azure asked to wait", ce.ConditionMessage)
	}
	if e.cache.SeqNum() != seq {
		t.Error("throttling marked an offering unavailable")
	}
	e.expectNoLeaks()

	// Core retries the NodeClaim with backoff; until Retry-After has
	// passed, nothing reaches Azure: no NIC, no VM PUT.
	before := e.sim.Stats().Operations
	err = create()
	if !errors.As(err, &ce) || ce.ConditionReason != instance.ReasonThrottled || !strings.Contains(ce.ConditionMessage, "asked to wait until") {
		t.Fatalf("creation during Retry-After: %v", err)
	}
	after := e.sim.Stats().Operations
	for _, op := range []string{azuresim.OpPutVM, azuresim.OpPutNIC} {
		if after[op].Requests != before[op].Requests {
			t.Errorf("%s sent during Retry-After: %d → %d", op, before[op].Requests, after[op].Requests)
		}
	}

	// Once it has passed, the creation goes through.
	poll.Until(t, 10*time.Second, "Retry-After to pass", func() bool {
		_, refused := e.clients.RetryAfter.Until(sub, http.MethodPut, "Microsoft.Compute/virtualMachines")
		return !refused
	})
	if err := create(); err != nil {
		t.Fatalf("creation after Retry-After: %v", err)
	}
	if got := e.sim.Stats().Operations[azuresim.OpPutVM]; got.Throttled != 1 {
		t.Errorf("Compute throttled %d VM PUTs, want 1", got.Throttled)
	}
}
