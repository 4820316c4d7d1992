package azuresim

import (
	"net/http"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
)

// Where a VM goes and on what: its location, size, zone and priority.

// validateLocation resolves the VM's location against the catalog's regions.
func (s *Server) validateLocation(req *vmRequest) *ARMError {
	vm := req.vm
	if vm.Location == nil || *vm.Location == "" {
		return armErr(http.StatusBadRequest, "LocationRequired", "The location property is required for this definition.")
	}
	req.location = lower(strings.ReplaceAll(*vm.Location, " ", ""))
	if _, ok := s.cat.Region(req.location); !ok {
		names := lo.Map(s.cat.Regions, func(r catalog.Region, _ int) string { return r.DisplayName })
		return armErr(http.StatusBadRequest, "LocationNotAvailableForResourceType",
			"The provided location '%s' is not available for resource type 'Microsoft.Compute/virtualMachines'. List of available regions for the resource type is '%s'.", *vm.Location, strings.ToLower(strings.Join(names, ",")))
	}
	return nil
}

// validateHardware checks the size (hardwareProfile.vmSize) and the zone:
// the size must exist, be offered in the location and zone, and not be
// restricted for the subscription there.
func (s *Server) validateHardware(req *vmRequest) *ARMError {
	p := req.vm.Properties
	if p == nil || p.HardwareProfile == nil || p.HardwareProfile.VMSize == nil || *p.HardwareProfile.VMSize == "" {
		return errInvalidParameter("vmSize", "Required parameter 'hardwareProfile.vmSize' is missing (null).")
	}
	size := string(*p.HardwareProfile.VMSize)
	sku, ok := s.cat.SKU(size)
	if !ok {
		return errInvalidParameter("vmSize", "The value %s provided for the VM size is not valid. The valid sizes in the current region can be listed with the Resource SKUs API.", size)
	}
	req.sku = sku
	offering, ok := s.cat.Offering(sku, req.location)
	if !ok {
		return errSkuNotAvailable(req.id, req.location, "")
	}
	req.offering = offering
	if aerr := s.validateZones(req); aerr != nil {
		return aerr
	}
	if offering.RestrictedIn(req.zone) {
		return errSkuNotAvailable(req.id, req.location, req.zone)
	}
	return checkUltraSSD(req, p)
}

// validateZones checks the VM's zones: at most one, supported by the region
// and offered for the size.
func (s *Server) validateZones(req *vmRequest) *ARMError {
	vm := req.vm
	region, _ := s.cat.Region(req.location)
	switch len(vm.Zones) {
	case 0:
	case 1:
		if vm.Zones[0] == nil {
			return errInvalidParameter("zones", "Zone value must not be null.")
		}
		req.zone = *vm.Zones[0]
		if len(region.Zones) == 0 {
			return errInvalidParameter("zones", "The requested resource 'Microsoft.Compute/virtualMachines' does not support availability zones at location '%s'.", req.location)
		}
		if !slices.Contains(region.Zones, req.zone) {
			return errInvalidParameter("zones", "The zone(s) '%s' for resource 'virtualMachines/%s' is not supported. The supported zones for location '%s' are '%s'.", req.zone, req.name, req.location, strings.Join(region.Zones, ","))
		}
		if !slices.Contains(req.offering.Zones, req.zone) {
			return errSkuNotAvailable(req.id, req.location, req.zone)
		}
	default:
		return errInvalidParameter("zones", "A virtual machine can be deployed to only one zone; %d were given.", len(vm.Zones))
	}
	return nil
}

// validatePriority checks a VM's priority, eviction policy and max price as
// Compute does, and records whether the VM is a Spot VM. Codes and wording
// are Azure's, from "Error messages for Azure Spot Virtual Machines and
// scale sets" (MicrosoftDocs/azure-docs,
// articles/virtual-machines/error-codes-spot.md). That page gives no HTTP
// statuses: the refusals of the request's content are answered 400, the
// refusal for the current spot price 409 (it depends on the market, not on
// the request), which is unverified against a real subscription.
func (s *Server) validatePriority(req *vmRequest) *ARMError {
	p, sku := req.vm.Properties, req.sku
	spot := false
	if p.Priority != nil {
		switch *p.Priority {
		case armcompute.VirtualMachinePriorityTypesSpot, armcompute.VirtualMachinePriorityTypesLow:
			spot = true
		case armcompute.VirtualMachinePriorityTypesRegular:
		default:
			return errInvalidParameter("priority", "The value '%s' of parameter 'priority' is not allowed. Allowed values are Regular, Spot.", *p.Priority)
		}
	}
	maxPrice := (*float64)(nil)
	if p.BillingProfile != nil {
		maxPrice = p.BillingProfile.MaxPrice
	}
	if !spot {
		switch {
		case p.EvictionPolicy != nil:
			return armErr(http.StatusBadRequest, "EvictionPolicyCanBeSetOnlyOnAzureSpotVirtualMachines", "Eviction policy can be set only on Azure Spot Virtual Machines.")
		case maxPrice != nil:
			return armErr(http.StatusBadRequest, "MaxPriceIsSupportedOnlyForAzureSpotVirtualMachines", "Max price is supported only for Azure Spot Virtual Machines.")
		}
		return nil
	}
	req.spot = true
	if !sku.LowPriorityCapable {
		return armErr(http.StatusBadRequest, "AzureSpotIsNotSupportedForThisVMSize", "Azure Spot Virtual Machine is not supported for this VM size %s.", sku.Name)
	}
	if p.EvictionPolicy != nil && *p.EvictionPolicy != armcompute.VirtualMachineEvictionPolicyTypesDelete && *p.EvictionPolicy != armcompute.VirtualMachineEvictionPolicyTypesDeallocate {
		return errInvalidParameter("evictionPolicy", "The value '%s' of parameter 'evictionPolicy' is not allowed.", *p.EvictionPolicy)
	}
	if maxPrice == nil {
		return nil
	}
	if *maxPrice != -1 && *maxPrice <= 0 {
		return armErr(http.StatusBadRequest, "MaxPriceValueInvalid", "Invalid max price value. The only supported values for max price are -1 or a decimal greater than zero. Max price value of -1 indicates the Azure Spot Virtual Machine will not be evicted for price reasons.")
	}
	if current := s.currentSpotPriceLocked(sku, req.location, isWindowsVM(p)); *maxPrice > 0 && *maxPrice < current {
		return armErr(http.StatusConflict, "SpotPriceGreaterThanProvidedMaxPrice",
			"Unable to perform operation 'Create VM' since the provided max price '%s USD' is lower than the current spot price '%s USD' for Azure Spot Virtual Machine size '%s'.",
			FormatUSD(*maxPrice), FormatUSD(current), sku.Name)
	}
	return nil
}

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
