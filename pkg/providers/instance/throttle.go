package instance

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/azure"
)

// Throttling is not a property of an offering, so it marks none: whatever
// Azure throttled, and however long its Retry-After, creation returns a
// CreateError (ReasonThrottled). Core keeps the NodeClaim and requeues it
// with backoff, and the client's RetryAfterGate sends no request of the
// throttled operation before the time Azure gave, so those retries cost
// Azure nothing. Compute reports its throttling as OperationNotAllowed with
// status 429 ("Troubleshooting API throttling errors"), the code of its
// quota errors: the status decides, before the code is read, or a throttled
// spot VM would mark the size's spot offerings and core would create a new
// NodeClaim for another offering at once.

// throttled returns the CreateError of a request Azure throttled (429) or
// the gate held back, or nil for any other error.
func throttled(err error, what string) error {
	var held *azure.ThrottledError
	if errors.As(err, &held) {
		return cloudprovider.NewCreateError(&conciseError{msg: what + ": " + held.Error(), err: err}, ReasonThrottled,
			truncate(fmt.Sprintf("Azure throttled %s and asked to wait until %s; the NodeClaim waits", held.Operation, held.Until.UTC().Format(time.RFC3339))))
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusTooManyRequests {
		return nil
	}
	message := armMessage(re)
	if re.RawResponse != nil {
		if d := azure.RetryAfter(re.RawResponse.Header, time.Now()); d > 0 {
			message += fmt.Sprintf(" (Retry-After %s)", d)
		}
	}
	return cloudprovider.NewCreateError(&conciseError{msg: what + ": " + re.ErrorCode + ": " + message, err: err}, ReasonThrottled,
		truncate("Azure throttled the request: "+message))
}

// isThrottled reports whether err is Azure's 429 or the gate's refusal.
func isThrottled(err error) bool { return throttled(err, "") != nil }

// heldBack returns a CreateError when Azure's Retry-After still holds back
// the NIC or VM creation this launch needs longer than the client would
// wait in line: nothing is created (a NIC whose VM cannot follow would only
// be deleted again) and nothing is sent.
func (p *DefaultProvider) heldBack() error {
	if p.retryAfter == nil {
		return nil
	}
	for _, resourceType := range []string{"Microsoft.Network/networkInterfaces", "Microsoft.Compute/virtualMachines"} {
		if until, refused := p.retryAfter.Until(p.opts.SubscriptionID, http.MethodPut, resourceType); refused {
			return throttled(&azure.ThrottledError{Operation: http.MethodPut + " " + resourceType, Until: until}, "creating VM")
		}
	}
	return nil
}
