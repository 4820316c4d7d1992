package azuresim

import (
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"
)

// The security profile: encryption at host, security type, UEFI settings,
// and the OS disk's confidential encryption that goes with them.

// validateSecurityProfile checks securityProfile against the size and the
// OS disk's managedDisk.securityProfile.
func validateSecurityProfile(req *vmRequest) *ARMError {
	p, sku := req.vm.Properties, req.sku
	sp := p.SecurityProfile
	if sp != nil && sp.EncryptionAtHost != nil && *sp.EncryptionAtHost && !sku.EncryptionAtHost {
		return errInvalidParameter("securityProfile.encryptionAtHost", "The VM size '%s' does not support encryption at host.", sku.Name)
	}
	securityType := ""
	if sp != nil && sp.SecurityType != nil {
		securityType = string(*sp.SecurityType)
	}
	// The SDK (SecurityProfile.SecurityType): "It has to be set to any
	// specified value to enable UefiSettings". Azure's answer to UEFI
	// settings alone: "Use of UEFI settings is not supported when security
	// type is not set." (Azure/azure-cli#28396).
	if sp != nil && sp.UefiSettings != nil && securityType == "" {
		return armErr(http.StatusBadRequest, "BadRequest", "Use of UEFI settings is not supported when security type is not set.")
	}
	encryption := osDiskSecurityEncryption(p)
	switch {
	case strings.EqualFold(securityType, string(armcompute.SecurityTypesTrustedLaunch)):
		// Sizes whose Resource SKUs capability TrustedLaunchDisabled is True
		// cannot run Trusted Launch VMs; the wording is Compute's
		// (Azure/azure-cli#28005, the Trusted Launch team's table of error
		// messages).
		if sku.TrustedLaunchDisabled {
			return armErr(http.StatusBadRequest, "BadRequest",
				"The VM size '%s' is not supported for creation of VMs and Virtual Machine Scale Set with 'TrustedLaunch' security type. For more information, see https://aka.ms/TrustedLaunch-FAQ", sku.Name)
		}
	case strings.EqualFold(securityType, string(armcompute.SecurityTypesConfidentialVM)):
		if aerr := validateConfidentialVM(req, sp, encryption); aerr != nil {
			return aerr
		}
	}
	// VMDiskSecurityProfile.SecurityEncryptionType (SDK, from the
	// specification): "Note: It can be set for only Confidential VMs."
	// Compute: "The parameter 'managedDisk.securityProfile' can only be set
	// for Confidential VMs." (hashicorp/terraform-provider-azurerm#30782).
	if !strings.EqualFold(securityType, string(armcompute.SecurityTypesConfidentialVM)) && osDiskHasSecurityProfile(p) {
		return armErr(http.StatusBadRequest, "BadRequest", "The parameter 'managedDisk.securityProfile' can only be set for Confidential VMs.")
	}
	return nil
}

// validateConfidentialVM checks a VM of security type ConfidentialVM: the
// OS disk's securityEncryptionType is required, the size must be a
// confidential one (Resource SKUs capability ConfidentialComputingType),
// and the UEFI settings must give it a vTPM (and secure boot, when the disk
// itself is encrypted with the guest state). The image is checked with the
// storage profile (validateImageSecurity).
func validateConfidentialVM(req *vmRequest, sp *armcompute.SecurityProfile, encryption string) *ARMError {
	// Compute: "Required parameter for Confidential VMs
	// 'managedDisk.securityProfile.securityEncryptionType' is missing
	// (null)." (Azure/avdaccelerator#686).
	if encryption == "" {
		return armErr(http.StatusBadRequest, "BadRequest", "Required parameter for Confidential VMs 'managedDisk.securityProfile.securityEncryptionType' is missing (null).")
	}
	// Compute: "The VM size 'Standard_D2as_v5' is not supported for creation
	// of VMs and Virtual Machine Scale Set with 'ConfidentialVM' security
	// type and managedDisk.securityProfile.securityEncryptionType set as
	// 'VMGuestStateOnly'" (confidential-containers/cloud-api-adaptor#1742).
	if req.sku.ConfidentialComputingType == "" {
		return armErr(http.StatusBadRequest, "BadRequest",
			"The VM size '%s' is not supported for creation of VMs and Virtual Machine Scale Set with 'ConfidentialVM' security type and managedDisk.securityProfile.securityEncryptionType set as '%s'", req.sku.Name, encryption)
	}
	// A confidential VM's guest state is its vTPM's; DiskWithVMGuestState
	// also measures the boot, so it needs secure boot. Azure refuses both
	// with 400 (the REST API's SecurityEncryptionTypes and openshift/api#1403,
	// which records the 400 for each; the wording here is azuresim's).
	uefi := lo.FromPtr(sp.UefiSettings)
	if !lo.FromPtr(uefi.VTpmEnabled) {
		return armErr(http.StatusBadRequest, "BadRequest",
			"Confidential VMs require securityProfile.uefiSettings.vTpmEnabled to be true; managedDisk.securityProfile.securityEncryptionType is '%s'.", encryption)
	}
	if strings.EqualFold(encryption, string(armcompute.SecurityEncryptionTypesDiskWithVMGuestState)) && !lo.FromPtr(uefi.SecureBootEnabled) {
		return armErr(http.StatusBadRequest, "BadRequest",
			"managedDisk.securityProfile.securityEncryptionType 'DiskWithVMGuestState' requires securityProfile.uefiSettings.secureBootEnabled to be true.")
	}
	return nil
}

// osDiskSecurityEncryption is the OS disk's securityEncryptionType ("" when
// unset).
func osDiskSecurityEncryption(p *armcompute.VirtualMachineProperties) string {
	if p.StorageProfile == nil || p.StorageProfile.OSDisk == nil || p.StorageProfile.OSDisk.ManagedDisk == nil ||
		p.StorageProfile.OSDisk.ManagedDisk.SecurityProfile == nil {
		return ""
	}
	return string(lo.FromPtr(p.StorageProfile.OSDisk.ManagedDisk.SecurityProfile.SecurityEncryptionType))
}

func osDiskHasSecurityProfile(p *armcompute.VirtualMachineProperties) bool {
	if p.StorageProfile == nil || p.StorageProfile.OSDisk == nil || p.StorageProfile.OSDisk.ManagedDisk == nil {
		return false
	}
	dsp := p.StorageProfile.OSDisk.ManagedDisk.SecurityProfile
	return dsp != nil && (dsp.SecurityEncryptionType != nil || dsp.DiskEncryptionSet != nil)
}
