package azuresim

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"
)

// The VM's managed identities.

// userAssignedIdentityID matches a user-assigned managed identity's resource
// ID, which is all a VM's identity map may hold.
var userAssignedIdentityID = regexp.MustCompile(`(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.ManagedIdentity/userAssignedIdentities/[^/]+$`)

// validateIdentityLocked checks the VM's identity block, and that every
// user-assigned identity it names exists. ARM assigns identities before the
// resource provider sees the VM; one that does not exist fails that step
// with 400 FailedIdentityOperation, the managed identity service's
// NotFound/BadRequest wrapped in its message (Azure/azure-policy#1311 shows
// the message; Azure's VM Insights onboarding script, Install-VMInsights.ps1,
// reads FailedIdentityOperation from a VM update as "user-assigned managed
// identity does not exist").
func (s *Server) validateIdentityLocked(req *vmRequest) *ARMError {
	if aerr := validateVMIdentity(req.vm.Identity); aerr != nil {
		return aerr
	}
	if req.vm.Identity == nil {
		return nil
	}
	for rid := range req.vm.Identity.UserAssignedIdentities {
		if !slices.ContainsFunc(s.cfg.UserAssignedIdentities, func(id string) bool { return strings.EqualFold(id, rid) }) {
			return errIdentityNotFound(req.id, rid)
		}
	}
	return nil
}

func errIdentityNotFound(resource, identity string) *ARMError {
	return armErr(http.StatusBadRequest, "FailedIdentityOperation",
		"Identity operation for resource '%s' failed with error 'Failed to perform resource identity operation. Status: 'BadRequest'. Response: '{\"error\":{\"code\":\"BadRequest\",\"message\":\"Resource '%s' was not found.\"}}'.'.", resource, identity)
}

// validateVMIdentity checks a VM's identity block as ARM does, and fills in
// what ARM returns for each user-assigned identity (its principal and client
// IDs; here derived from the resource ID, so they are stable).
func validateVMIdentity(id *armcompute.VirtualMachineIdentity) *ARMError {
	if id == nil {
		return nil
	}
	t := lo.FromPtr(id.Type)
	userAssigned := t == armcompute.ResourceIdentityTypeUserAssigned || t == armcompute.ResourceIdentityTypeSystemAssignedUserAssigned
	switch {
	case t != armcompute.ResourceIdentityTypeNone && t != armcompute.ResourceIdentityTypeSystemAssigned && !userAssigned:
		return errInvalidParameter("identity.type", "The value '%s' of parameter 'identity.type' is not allowed. Allowed values are None, SystemAssigned, UserAssigned, 'SystemAssigned, UserAssigned'.", t)
	case userAssigned && len(id.UserAssignedIdentities) == 0:
		return errInvalidParameter("identity.userAssignedIdentities", "The identity type '%s' requires at least one user-assigned identity.", t)
	case !userAssigned && len(id.UserAssignedIdentities) > 0:
		return errInvalidParameter("identity.userAssignedIdentities", "User-assigned identities can be set only with identity type UserAssigned.")
	}
	for rid := range id.UserAssignedIdentities {
		if !userAssignedIdentityID.MatchString(rid) {
			return armErr(http.StatusBadRequest, "InvalidIdentityValues", "Invalid value for the identities '%s'. The 'userAssignedIdentities' property keys should only be empty json objects, null or the resource exisiting property.", rid)
		}
		sum := sha256.Sum256([]byte(strings.ToLower(rid)))
		id.UserAssignedIdentities[rid] = &armcompute.UserAssignedIdentitiesValue{
			PrincipalID: to.Ptr(uuidFrom(sum[:16])), ClientID: to.Ptr(uuidFrom(sum[16:])),
		}
	}
	return nil
}

// uuidFrom formats 16 bytes as a UUID.
func uuidFrom(b []byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
