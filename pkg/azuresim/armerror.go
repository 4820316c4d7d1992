package azuresim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// ARMError is an error in ARM's wire shape: {"error":{"code","message","details"}}.
// azcore.ResponseError reads ErrorCode from error.code, so handlers return
// these instead of plain HTTP errors.
type ARMError struct {
	Status  int            `json:"-"`
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Target  string         `json:"target,omitempty"`
	Details []ARMErrorInfo `json:"details,omitempty"`
}

// ARMErrorInfo is one entry of error.details.
type ARMErrorInfo struct {
	Code    string `json:"code"`
	Target  string `json:"target,omitempty"`
	Message string `json:"message"`
}

func (e *ARMError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func armErr(status int, code, format string, args ...any) *ARMError {
	return &ARMError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Our own model types always marshal; reaching this is a simulator bug.
		status, body = http.StatusInternalServerError, []byte(`{"error":{"code":"InternalServerError","message":"azuresim: response encoding failed"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeARMError(w http.ResponseWriter, e *ARMError) {
	writeJSON(w, e.Status, map[string]*ARMError{"error": e})
}

// Standard codes and messages, worded as ARM and the resource providers
// word them (learn.microsoft.com/azure/azure-resource-manager/troubleshooting/common-deployment-errors).
func errNotFound(resourceType, name, rg string) *ARMError {
	return armErr(http.StatusNotFound, "ResourceNotFound",
		"The Resource '%s/%s' under resource group '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix", resourceType, name, rg)
}

func errInvalidParameter(target, format string, args ...any) *ARMError {
	e := armErr(http.StatusBadRequest, "InvalidParameter", format, args...)
	e.Target = target
	return e
}

func errQuota(kind string, location string, limit, usage, required int) *ARMError {
	// kind is "<family> Cores", "Total Regional Cores" or "LowPriorityCores".
	return armErr(http.StatusConflict, "OperationNotAllowed",
		"Operation could not be completed as it results in exceeding approved %s quota. Additional details - Deployment Model: Resource Manager, Location: %s, Current Limit: %d, Current Usage: %d, Additional Required: %d, (Minimum) New Limit Required: %d. Submit a request for Quota increase at https://aka.ms/ProdportalCRP/#blade/Microsoft_Azure_Capacity/UsageAndQuota.ReactView/Parameters/ by specifying parameters listed in the 'Details' section for deployment to succeed. Please read more about quota limits at https://docs.microsoft.com/en-us/azure/azure-supportability/per-vm-quota-requests",
		kind, location, limit, usage, required, usage+required)
}

// errSkuNotAvailable is Compute's refusal of a size restricted for the
// subscription in a location or zone, worded as Azure words it: the VM's
// resource ID, the location and the requested zones (” when regional).
func errSkuNotAvailable(vmID, location, zone string) *ARMError {
	sub := ""
	if parts := strings.Split(strings.Trim(vmID, "/"), "/"); len(parts) > 1 {
		sub = parts[1]
	}
	return armErr(http.StatusConflict, "SkuNotAvailable",
		"The requested size for resource '%s' is currently not available in location '%s' zones '%s' for subscription '%s'. Please try another size or deploy to a different location or zones. See https://aka.ms/azureskunotavailable for details.", vmID, location, zone, sub)
}

// errZonalAllocationFailed is the LRO failure of a zone out of capacity.
// Azure's text names neither the size nor the zone.
func errZonalAllocationFailed() *ARMError {
	return armErr(http.StatusOK, "ZonalAllocationFailed",
		"Allocation failed. We do not have sufficient capacity for the requested VM size in this zone. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance")
}

func errAllocationFailed() *ARMError {
	return armErr(http.StatusOK, "AllocationFailed",
		"Allocation failed. We do not have sufficient capacity for the requested VM size in this region. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance")
}

func errOverconstrained(zonal bool, constraints string) *ARMError {
	code := "OverconstrainedAllocationRequest"
	if zonal {
		code = "OverconstrainedZonalAllocationRequest"
	}
	return armErr(http.StatusOK, code,
		"Allocation failed. VM(s) with the following constraints cannot be allocated, because the condition is too restrictive. Please remove some constraints and try again. Constraints applied are: %s. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance", constraints)
}

// errSubnetIsFull is Network's refusal of a NIC in a subnet without free
// addresses for each of its IP configurations (400, synchronous), naming
// how many it asked for (network.go putNIC cites the sources).
func errSubnetIsFull(subnetID, prefix string, want int) *ARMError {
	return armErr(http.StatusBadRequest, "SubnetIsFull",
		"Subnet %s with address prefix %s does not have enough capacity for %d IP addresses.", subnetID, prefix, want)
}

// defaultMessage words an injected error whose rule gave only a code.
// target is the resource the request is about: the VM's ID for Compute, the
// subnet's ID for a NIC.
func defaultMessage(code, target, zone, location string) string {
	switch code {
	case "SkuNotAvailable":
		return errSkuNotAvailable(target, location, zone).Message
	case "ZonalAllocationFailed":
		return errZonalAllocationFailed().Message
	case "AllocationFailed":
		return errAllocationFailed().Message
	case "OverconstrainedAllocationRequest", "OverconstrainedZonalAllocationRequest":
		return errOverconstrained(code == "OverconstrainedZonalAllocationRequest", "Zone, Priority, Networking").Message
	case "InternalServerError", "InternalExecutionError":
		return "An internal execution error occurred. Please retry later."
	case "ServiceUnavailable":
		return "The service is currently unavailable. Please retry later."
	case "TooManyRequests":
		return "The server rejected the request because too many requests have been received for this subscription."
	case "InsufficientSubnetSize", "SubnetIsFull":
		return fmt.Sprintf("Subnet %s does not have enough capacity for 1 IP addresses.", target)
	default:
		return "Injected failure " + code + "."
	}
}

// defaultStatus is the HTTP status ARM uses for a synchronous error code.
func defaultStatus(code string) int {
	switch code {
	case "OperationNotAllowed", "SkuNotAvailable", "Conflict":
		return http.StatusConflict
	case "InternalServerError", "InternalExecutionError":
		return http.StatusInternalServerError
	case "ServiceUnavailable":
		return http.StatusServiceUnavailable
	case "GatewayTimeout":
		return http.StatusGatewayTimeout
	case "TooManyRequests":
		return http.StatusTooManyRequests
	case "ResourceNotFound", "NotFound":
		return http.StatusNotFound
	default:
		return http.StatusBadRequest
	}
}
