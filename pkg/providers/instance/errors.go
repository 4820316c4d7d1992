package instance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/providers/offerings"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
)

// Azure error codes of VM and NIC creation (AZURE-FACTS "VM creation failures").
const (
	CodeOperationNotAllowed                   = "OperationNotAllowed"
	CodeSkuNotAvailable                       = "SkuNotAvailable"
	CodeZonalAllocationFailed                 = "ZonalAllocationFailed"
	CodeAllocationFailed                      = "AllocationFailed"
	CodeOverconstrainedAllocationRequest      = "OverconstrainedAllocationRequest"
	CodeOverconstrainedZonalAllocationRequest = "OverconstrainedZonalAllocationRequest"
	CodeInsufficientSubnetSize                = "InsufficientSubnetSize"
	CodeSubnetIsFull                          = "SubnetIsFull"
	CodeTooManyRequests                       = "TooManyRequests"
	CodeNotFound                              = "NotFound"
	CodeResourceNotFound                      = "ResourceNotFound"
	// Spot refusals ("Error messages for Azure Spot Virtual Machines and
	// scale sets").
	CodeSpotPriceGreaterThanProvidedMaxPrice = "SpotPriceGreaterThanProvidedMaxPrice"
	CodeAzureSpotIsNotSupportedForThisVMSize = "AzureSpotIsNotSupportedForThisVMSize"
)

// Reasons the provider marks offerings unavailable with (the "reason" label
// of azkarpenter_offerings_unavailable_marks_total).
const (
	ReasonFamilyQuota       = "FamilyQuotaExceeded"
	ReasonRegionalQuota     = "RegionalQuotaExceeded"
	ReasonSpotQuota         = "SpotQuotaExceeded"
	ReasonSKUNotAvailable   = "SKUNotAvailable"
	ReasonZonalAllocation   = "ZonalAllocationFailed"
	ReasonAllocation        = "AllocationFailed"
	ReasonOverconstrained   = "OverconstrainedAllocation"
	ReasonSpotNotAllowed    = "SpotNotAllowed"
	ReasonSpotPriceAboveMax = "SpotPriceAboveMaxPrice"
	ReasonSubnetFull        = "SubnetFull"
	ReasonThrottled         = "Throttled"
	ReasonNoOffering        = "NoCompatibleOffering"
	ReasonLaunchSpec        = "LaunchSpecFailed"
	ReasonVMCreationFailed  = "VMCreationFailed"
	ReasonNICCreationFailed = "NICCreationFailed"
	ReasonTimeout           = "VMCreationTimeout"
	ReasonVMDeleting        = "VMDeleting"
)

// Quota is a parsed quota error: "… exceeding approved <Kind> quota. …
// Current Limit: L, Current Usage: U, Additional Required: R …".
type Quota struct {
	// Kind is "standardDSv3Family Cores", "Total Regional Cores" or
	// "LowPriorityCores" (as Azure names it).
	Kind                           string
	Limit, Usage, Required         int64
	HasLimit, HasUsage, HasRequire bool
}

var (
	quotaKindRE  = regexp.MustCompile(`approved (.+?) quota`)
	quotaLimitRE = regexp.MustCompile(`Current Limit:\s*(\d+)`)
	quotaUsageRE = regexp.MustCompile(`Current Usage:\s*(\d+)`)
	quotaReqRE   = regexp.MustCompile(`Additional Required:\s*(\d+)`)
)

// ParseQuota parses an OperationNotAllowed quota message; ok is false when
// the message is not about quota.
func ParseQuota(message string) (q Quota, ok bool) {
	m := quotaKindRE.FindStringSubmatch(message)
	switch {
	case m != nil:
		q.Kind = m[1]
	case strings.Contains(message, "LowPriorityCores"):
		q.Kind = "LowPriorityCores"
	case strings.Contains(message, "Total Regional Cores"):
		q.Kind = "Total Regional Cores"
	default:
		return q, false
	}
	num := func(re *regexp.Regexp) (int64, bool) {
		if m := re.FindStringSubmatch(message); m != nil {
			v, err := strconv.ParseInt(m[1], 10, 64)
			return v, err == nil
		}
		return 0, false
	}
	q.Limit, q.HasLimit = num(quotaLimitRE)
	q.Usage, q.HasUsage = num(quotaUsageRE)
	q.Required, q.HasRequire = num(quotaReqRE)
	return q, true
}

// IsSpot reports whether the quota is the regional spot quota.
func (q Quota) IsSpot() bool {
	return strings.Contains(q.Kind, "LowPriority")
}

// IsRegional reports whether the quota is the regional vCPU quota.
func (q Quota) IsRegional() bool {
	return strings.Contains(q.Kind, "Regional") && !q.IsSpot()
}

// Family is the quota family of a family quota ("" otherwise).
func (q Quota) Family() string {
	if q.IsSpot() || q.IsRegional() {
		return ""
	}
	return strings.TrimSpace(strings.TrimSuffix(q.Kind, " Cores"))
}

// attempt is the offering a create tried.
type attempt struct {
	sku          *sku.SKU
	zone         string // label form: <region>-<n> or "0"
	capacityType string
	subnetID     string // the NIC's subnet ("" when unknown)
	// nodeClass and generation name the AKSNodeClass the VM was asked for
	// ("" for an adopted VM), image its image: refusals of the request's
	// content are the NodeClass's (refuse).
	nodeClass  string
	generation int64
	image      string
}

// azureError returns the ARM error code and message of err.
func azureError(err error) (code, message string, status int, ok bool) {
	var pf *provisioningFailure
	if errors.As(err, &pf) {
		return pf.Code, pf.Message, http.StatusOK, true
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return "", "", 0, false
	}
	message = armMessage(re)
	if message == "" {
		message = re.Error()
	}
	return re.ErrorCode, message, re.StatusCode, true
}

// armMessage reads error.message from the body of an ARM error response or
// of a failed long-running operation's status; azcore buffers the body, so
// it can be read again.
func armMessage(re *azcore.ResponseError) string {
	if re.RawResponse == nil {
		return ""
	}
	body, err := runtime.Payload(re.RawResponse)
	if err != nil || len(body) == 0 {
		return ""
	}
	var doc struct {
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return ""
	}
	if doc.Error != nil && doc.Error.Message != "" {
		return doc.Error.Message
	}
	return doc.Message
}

// IsARMNotFound reports whether err is ARM's 404.
func IsARMNotFound(err error) bool {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode == http.StatusNotFound || re.ErrorCode == CodeNotFound || re.ErrorCode == CodeResourceNotFound
	}
	return false
}

// classify records what a VM or NIC creation failure says about offerings
// in the unavailable-offerings cache and returns the karpenter core error
// for it: InsufficientCapacityError when another offering may succeed,
// CreateError otherwise. families lists the quota families of the catalog,
// for marks that cover every spot size.
func (p *DefaultProvider) classify(ctx context.Context, err error, a attempt, families []string) error {
	if t := throttled(err, fmt.Sprintf("creating VM of size %s in %s (%s)", a.sku.Name, a.zone, a.capacityType)); t != nil {
		return t
	}
	code, message, status, ok := azureError(err)
	if !ok {
		return cloudprovider.NewCreateError(err, ReasonVMCreationFailed, truncate(err.Error()))
	}
	createFailures.Inc(map[string]string{"code": code, "capacity_type": a.capacityType})
	if reason := p.markUnavailable(ctx, a, code, message, families); reason != "" {
		return cloudprovider.NewInsufficientCapacityError(&conciseError{msg: fmt.Sprintf("%s: %s %s/%s: %s", reason, a.sku.Name, a.zone, a.capacityType, message), err: err})
	}
	if isRefusal(code, status) {
		return p.refuse(ctx, err, a, code, message)
	}
	msg := fmt.Sprintf("creating VM of size %s in %s (%s): %s: %s", a.sku.Name, a.zone, a.capacityType, code, message)
	return cloudprovider.NewCreateError(&conciseError{msg: msg, err: err}, conditionReason(code), truncate(msg))
}

// markUnavailable marks the offerings an Azure error code says another
// attempt should avoid, and returns the reason of the
// InsufficientCapacityError to report, or "" when the error says nothing
// about offerings (the caller then reports a CreateError).
func (p *DefaultProvider) markUnavailable(ctx context.Context, a attempt, code, message string, families []string) string {
	mark := func(reason, zone, capacityType string, ttl time.Duration) string {
		p.unavailable.MarkUnavailable(ctx, reason, a.sku.Name, zone, capacityType, ttl)
		return reason
	}
	switch code {
	case CodeOperationNotAllowed:
		return p.markOperationNotAllowed(ctx, a, message, families)
	case CodeSpotPriceGreaterThanProvidedMaxPrice:
		// The size's spot price rose above the NodeClass's cap since the
		// Retail Prices API listed it: no zone of the size takes the cap
		// now. Spot prices move slowly; an hour keeps the size out without
		// a PUT per provisioning pass, and on-demand stays available.
		return mark(ReasonSpotPriceAboveMax, offerings.Any, karpv1.CapacityTypeSpot, offerings.AllocationTTL)
	case CodeAzureSpotIsNotSupportedForThisVMSize:
		return mark(ReasonSpotNotAllowed, offerings.Any, karpv1.CapacityTypeSpot, offerings.SKUNotAvailableSpotTTL)
	case CodeSkuNotAvailable:
		// Azure words the restriction "not available in location 'L' zones
		// 'Z'" (or lists "Capacity Restrictions"); the words are not a
		// contract. What the request asked for is: a zonal request is
		// refused for its zone, a regional one for the location. A size
		// restricted in every zone is marked zone by zone as each is tried.
		zone := offerings.Any
		if a.zone != "0" && a.zone != "" {
			zone = a.zone
		}
		ttl := offerings.SKUNotAvailableOnDemandTTL
		if a.capacityType == karpv1.CapacityTypeSpot {
			ttl = offerings.SKUNotAvailableSpotTTL
		}
		return mark(ReasonSKUNotAvailable, zone, a.capacityType, ttl)
	case CodeZonalAllocationFailed:
		return mark(ReasonZonalAllocation, a.zone, offerings.Any, offerings.AllocationTTL)
	case CodeAllocationFailed:
		return mark(ReasonAllocation, offerings.Any, offerings.Any, offerings.AllocationTTL)
	case CodeOverconstrainedZonalAllocationRequest:
		return mark(ReasonOverconstrained, a.zone, a.capacityType, offerings.AllocationTTL)
	case CodeOverconstrainedAllocationRequest:
		return mark(ReasonOverconstrained, offerings.Any, a.capacityType, offerings.AllocationTTL)
	case CodeSubnetIsFull, CodeInsufficientSubnetSize:
		// The subnet, not the offering, is short: no offering is marked.
		// The subnet is, so its AKSNodeClass goes not Ready now and core
		// stops creating NodeClaims that would fail the same way.
		if p.opts.SubnetFull != nil && a.subnetID != "" {
			p.opts.SubnetFull(a.subnetID)
		}
		return ReasonSubnetFull
	}
	return ""
}

// markOperationNotAllowed handles Compute's OperationNotAllowed, the code
// of its quota failures (spot, regional, per family) and of spot refused
// for a size. It returns "" for any other OperationNotAllowed.
func (p *DefaultProvider) markOperationNotAllowed(ctx context.Context, a attempt, message string, families []string) string {
	q, isQuota := ParseQuota(message)
	switch {
	case isQuota && q.IsSpot():
		// Spot VMs of every size count against one regional quota.
		for _, f := range families {
			p.unavailable.MarkFamilyUnavailable(ctx, ReasonSpotQuota, f, offerings.Any, karpv1.CapacityTypeSpot, 0, offerings.SpotQuotaTTL)
		}
		return ReasonSpotQuota
	case isQuota && q.IsRegional():
		// Not a property of the size: refresh the quota reading so the
		// instance types stop offering what does not fit.
		if p.quotas != nil {
			if rerr := p.quotas.Refresh(ctx); rerr != nil {
				logFrom(ctx).Error(rerr, "refreshing quota after a regional quota failure")
			}
		}
		return ReasonRegionalQuota
	case isQuota:
		family := q.Family()
		if family == "" {
			family = a.sku.Family
		}
		minVCPUs := a.sku.QuotaVCPUs()
		if q.HasRequire && q.Required > 0 {
			minVCPUs = q.Required
		}
		ttl := offerings.QuotaTTL
		if q.HasLimit && q.Limit == 0 {
			ttl = offerings.ZeroQuotaTTL
		}
		// Family quota applies to regular-priority VMs; spot VMs count
		// against LowPriorityCores instead.
		p.unavailable.MarkFamilyUnavailable(ctx, ReasonFamilyQuota, family, offerings.Any, karpv1.CapacityTypeOnDemand, minVCPUs, ttl)
		return ReasonFamilyQuota
	case a.capacityType == karpv1.CapacityTypeSpot:
		// Spot refused for the size (not spot-capable, max price below
		// the current spot price…): try other offerings.
		p.unavailable.MarkUnavailable(ctx, ReasonSpotNotAllowed, a.sku.Name, offerings.Any, karpv1.CapacityTypeSpot, offerings.DefaultTTL)
		return ReasonSpotNotAllowed
	}
	return ""
}

// conciseError shows one line (azcore.ResponseError's text is a multi-line
// dump of the response) and unwraps to the original error.
type conciseError struct {
	msg string
	err error
}

func (e *conciseError) Error() string { return e.msg }
func (e *conciseError) Unwrap() error { return e.err }

// conditionReason turns an Azure error code into a condition reason
// (CamelCase letters and digits).
func conditionReason(code string) string {
	if code == "" {
		return ReasonVMCreationFailed
	}
	for _, r := range code {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return ReasonVMCreationFailed
		}
	}
	return code
}

func truncate(s string) string {
	const limit = 1000
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}

// ErrorReason is the condition reason of a creation error: the CreateError's,
// InsufficientCapacity, or VMCreationFailed.
func ErrorReason(err error) string {
	var ce *cloudprovider.CreateError
	switch {
	case errors.As(err, &ce):
		return ce.ConditionReason
	case cloudprovider.IsInsufficientCapacityError(err):
		return "InsufficientCapacity"
	default:
		return ReasonVMCreationFailed
	}
}

func isARMError(err error) bool {
	_, _, _, ok := azureError(err)
	return ok
}

// failure classifies a creation failure (see classify) after logging it.
func (p *DefaultProvider) failure(ctx context.Context, err error, a attempt, catalog *sku.Catalog, what string) error {
	logFrom(ctx).V(1).Info("Azure refused "+what, "error", err.Error())
	return p.classify(ctx, err, a, families(catalog))
}

func (p *DefaultProvider) transientError(err error, what string) error {
	if t := throttled(err, what); t != nil {
		return t
	}
	if code, msg, _, ok := azureError(err); ok && code != "" {
		return cloudprovider.NewCreateError(&conciseError{msg: what + ": " + code + ": " + msg, err: err}, conditionReason(code), truncate(what+": "+msg))
	}
	return cloudprovider.NewCreateError(err, ReasonVMCreationFailed, truncate(what+": "+err.Error()))
}

func (p *DefaultProvider) timeoutError(ctx context.Context, name string, err error) error {
	return cloudprovider.NewCreateError(fmt.Errorf("VM %s: %w", name, err), ReasonTimeout,
		fmt.Sprintf("VM %s did not finish provisioning in time (%v); a retry adopts it", name, context.Cause(ctx)))
}
