package azuresim

import (
	"encoding/base64"
)

// The OS profile: what the VM's operating system is set up with.

// validateOSProfile checks osProfile: custom data must be base64 within
// Compute's size limit.
func validateOSProfile(req *vmRequest) *ARMError {
	p := req.vm.Properties
	if p.OSProfile != nil && p.OSProfile.CustomData != nil {
		cd := *p.OSProfile.CustomData
		if _, err := base64.StdEncoding.DecodeString(cd); err != nil || len(cd) > 87380 {
			return errInvalidParameter("customData", "Custom data in OSProfile must be in Base64 encoding and with a maximum length of 87380 characters.")
		}
		req.customData = cd
	}
	return nil
}
