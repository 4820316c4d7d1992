package azuresim

import (
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"
)

// checkImageSecurityType enforces Compute's pairing of a VM's security type
// with its gallery image definition's SecurityType feature
// (securityType "" is a definition without the feature: Standard).
//
//   - A TrustedLaunch-only definition boots only Trusted Launch VMs: 400
//     BadRequest "The provided gallery image only supports creation of VMs
//     and VM Scale Sets with 'TrustedLaunch' security type." (Compute's
//     answer as reported in Azure/build-vm-image#32).
//   - A Trusted Launch VM needs a definition with the Trusted Launch
//     feature (TrustedLaunch, TrustedLaunchSupported or
//     TrustedLaunchAndConfidentialVMSupported; "Trusted launch for Azure
//     virtual machines": Trusted Launch needs a Gen2 image that supports
//     it): otherwise 400 BadRequest "Use of TrustedLaunch setting is not
//     supported for the provided image. Please select Trusted Launch
//     Supported Gen2 OS Image. For more information, see
//     https://aka.ms/TrustedLaunch-FAQ." (Compute's answer in
//     Azure/azure-cli#27975; the Compute team's table of these messages is
//     in Azure/azure-cli#28005).
func checkImageSecurityType(imageSecurityType string, sp *armcompute.SecurityProfile) *ARMError {
	vmType := armcompute.SecurityTypes("")
	if sp != nil {
		vmType = lo.FromPtr(sp.SecurityType)
	}
	switch {
	case imageSecurityType == SecurityTypeTrustedLaunch && vmType != armcompute.SecurityTypesTrustedLaunch:
		return armErr(http.StatusBadRequest, "BadRequest", "The provided gallery image only supports creation of VMs and VM Scale Sets with 'TrustedLaunch' security type.")
	case vmType == armcompute.SecurityTypesTrustedLaunch && !supportsTrustedLaunch(imageSecurityType):
		return armErr(http.StatusBadRequest, "BadRequest", "Use of TrustedLaunch setting is not supported for the provided image. Please select Trusted Launch Supported Gen2 OS Image. For more information, see https://aka.ms/TrustedLaunch-FAQ.")
	}
	return nil
}

func supportsTrustedLaunch(imageSecurityType string) bool {
	switch imageSecurityType {
	case SecurityTypeTrustedLaunch, SecurityTypeTrustedLaunchSupported, SecurityTypeTrustedLaunchAndConfidentialVMSupported:
		return true
	}
	return false
}
