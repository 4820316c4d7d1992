package containerinstance

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// Azure's error codes of container group creation.
const (
	// CodeQuotaReached is ACI's refusal of a group past the region's
	// container group or standard core quota: "Resource type
	// 'Microsoft.ContainerInstance/containerGroups' container group quota
	// 'StandardCores' exceeded in region 'eastus'. Limit: '10', Usage: '10'
	// Requested: '1'." (MicrosoftDocs/azure-docs#51738).
	CodeQuotaReached = "ContainerGroupQuotaReached"
	// CodeServiceUnavailable is ACI's refusal of a request the region
	// cannot place now, or ever with these resources: "The requested
	// resource is not available in the location 'westus' at this moment.
	// Please retry with a different resource request or in another
	// location. Resource requested: '4' CPU '16' GB memory 'Linux' OS
	// virtual network" (virtual-kubelet/virtual-kubelet#592).
	CodeServiceUnavailable = "ServiceUnavailable"
)

// QuotaExceededError is a create refused by the subscription's Container
// Instances quota in a region. Another group there fails the same way until
// groups are deleted or the quota is raised.
type QuotaExceededError struct {
	// Quota is Azure's name of the quota: StandardCores or ContainerGroups.
	Quota     string
	Region    string
	Limit     int
	Usage     int
	Requested int
	Message   string
}

func (e *QuotaExceededError) Error() string {
	return fmt.Sprintf("container instances quota %s exceeded in %s (limit %d, usage %d, requested %d): %s", e.Quota, e.Region, e.Limit, e.Usage, e.Requested, e.Message)
}

// CapacityError is a create the region cannot place: it is out of capacity
// for the request now, or the request is beyond what ACI gives a group there
// (size, GPU, Spot outside its regions).
type CapacityError struct {
	Message string
}

func (e *CapacityError) Error() string { return "container instances capacity: " + e.Message }

// BadRequestError is a body Azure refused. Field is the property it names
// (the error's target, or the JSON path in a deserialization message) when
// it names one.
type BadRequestError struct {
	Code    string
	Field   string
	Message string
}

func (e *BadRequestError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("container group refused (%s) at %s: %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("container group refused (%s): %s", e.Code, e.Message)
}

// DeploymentFailedError is a create Azure accepted whose deployment failed
// (the long-running operation's error).
type DeploymentFailedError struct {
	Code    string
	Message string
}

func (e *DeploymentFailedError) Error() string {
	return fmt.Sprintf("container group deployment failed (%s): %s", e.Code, e.Message)
}

// IsNotFound reports whether err is ARM's 404 for a group or container.
func IsNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && (re.StatusCode == http.StatusNotFound || re.ErrorCode == "ResourceNotFound" || re.ErrorCode == "NotFound")
}

var (
	quotaRE    = regexp.MustCompile(`quota '([^']+)' exceeded in region '([^']*)'\. Limit: '(\d+)', Usage: '(\d+)' Requested: '(\d+)'`)
	jsonPathRE = regexp.MustCompile(`Path '([^']+)'`)
)

// classify maps an ARM error to the typed errors above; other errors (429
// after the SDK's retries, 5xx, transport) are returned as they are.
func classify(err error) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return err
	}
	doc := armError(re)
	msg := doc.Message
	if msg == "" {
		msg = re.Error()
	}
	code := re.ErrorCode
	if code == "" {
		code = doc.Code
	}
	// A failed long-running operation answers 200 with its error in the body.
	lroFailed := re.StatusCode == http.StatusOK
	switch {
	case code == CodeQuotaReached:
		q := &QuotaExceededError{Message: msg, Quota: "StandardCores"}
		if m := quotaRE.FindStringSubmatch(msg); m != nil {
			q.Quota, q.Region = m[1], m[2]
			q.Limit, _ = strconv.Atoi(m[3])
			q.Usage, _ = strconv.Atoi(m[4])
			q.Requested, _ = strconv.Atoi(m[5])
		}
		return q
	case code == CodeServiceUnavailable && (re.StatusCode == http.StatusConflict || lroFailed):
		return &CapacityError{Message: msg}
	case lroFailed:
		return &DeploymentFailedError{Code: code, Message: msg}
	case re.StatusCode == http.StatusBadRequest:
		field := doc.Target
		if field == "" {
			if m := jsonPathRE.FindStringSubmatch(msg); m != nil {
				field = m[1]
			}
		}
		return &BadRequestError{Code: code, Field: field, Message: msg}
	}
	return err
}

type armErrorDoc struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Target  string `json:"target"`
}

// armError reads error.{code,message,target} from an ARM error response or
// a failed operation's status; azcore buffers the body.
func armError(re *azcore.ResponseError) armErrorDoc {
	if re.RawResponse == nil {
		return armErrorDoc{}
	}
	body, err := runtime.Payload(re.RawResponse)
	if err != nil || len(body) == 0 {
		return armErrorDoc{}
	}
	var doc struct {
		Error *armErrorDoc `json:"error"`
	}
	if json.Unmarshal(body, &doc) != nil || doc.Error == nil {
		return armErrorDoc{}
	}
	return *doc.Error
}
