package azuresim

import (
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"
)

func ultraSSDEnabled(p *armcompute.VirtualMachineProperties) bool {
	return p != nil && p.AdditionalCapabilities != nil && lo.FromPtr(p.AdditionalCapabilities.UltraSSDEnabled)
}

// checkUltraSSD is Compute's synchronous rule for
// additionalCapabilities.ultraSSDEnabled: a VM that is not in an
// availability zone cannot have it, 400 InvalidParameter "UltraSSD can be
// used only with Virtual Machine in an Availability Zone." (Compute's answer
// in hashicorp/terraform-provider-azurerm#3860; the catalog publishes no
// regional Ultra Disk capability, so no region is exempt here).
func checkUltraSSD(req *vmRequest, p *armcompute.VirtualMachineProperties) *ARMError {
	if !ultraSSDEnabled(p) || req.zone != "" {
		return nil
	}
	return errInvalidParameter("additionalCapabilities.ultraSSDEnabled", "UltraSSD can be used only with Virtual Machine in an Availability Zone.")
}

// ultraSSDAllocationFailure is how a VM with Ultra Disks enabled fails in a
// zone where its size cannot attach them (no UltraSSDAvailable in the Resource
// SKUs API's zoneDetails): the PUT is accepted and allocation fails, as
// customers report it (MicrosoftDocs/azure-docs#85701: sizes the Ultra Disk
// page lists "get Allocation Failure" in regions that do not support them).
func ultraSSDAllocationFailure(req *vmRequest) *ARMError {
	if !ultraSSDEnabled(req.vm.Properties) || req.zone == "" || req.sku.UltraSSDAvailable(req.offering.Zones, req.zone) {
		return nil
	}
	return errZonalAllocationFailed()
}
