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
	return nil
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

// validatePriority checks priority, evictionPolicy and billingProfile: Spot
// needs a size that supports it, and only Spot VMs take an eviction policy
// or a max price.
func (s *Server) validatePriority(req *vmRequest) *ARMError {
	p, sku := req.vm.Properties, req.sku
	if p.Priority != nil {
		switch *p.Priority {
		case armcompute.VirtualMachinePriorityTypesSpot, armcompute.VirtualMachinePriorityTypesLow:
			req.spot = true
		case armcompute.VirtualMachinePriorityTypesRegular:
		default:
			return errInvalidParameter("priority", "The value '%s' of parameter 'priority' is not allowed. Allowed values are Regular, Spot.", *p.Priority)
		}
	}
	if !req.spot {
		if p.EvictionPolicy != nil || (p.BillingProfile != nil && p.BillingProfile.MaxPrice != nil) {
			return errInvalidParameter("evictionPolicy", "Eviction policy and max price can be set only for Spot or Low Priority VMs.")
		}
		return nil
	}
	if !sku.LowPriorityCapable {
		return armErr(http.StatusConflict, "OperationNotAllowed", "The VM size '%s' is not supported for Spot or Low Priority VMs.", sku.Name)
	}
	if p.EvictionPolicy != nil && *p.EvictionPolicy != armcompute.VirtualMachineEvictionPolicyTypesDelete && *p.EvictionPolicy != armcompute.VirtualMachineEvictionPolicyTypesDeallocate {
		return errInvalidParameter("evictionPolicy", "The value '%s' of parameter 'evictionPolicy' is not allowed.", *p.EvictionPolicy)
	}
	if p.BillingProfile != nil && p.BillingProfile.MaxPrice != nil {
		maxPrice := *p.BillingProfile.MaxPrice
		spotPrice, _ := s.cat.Price(sku, req.location, false, true)
		if maxPrice != -1 && maxPrice <= 0 {
			return errInvalidParameter("billingProfile.maxPrice", "The value %v of parameter 'billingProfile.maxPrice' is invalid: use -1 or a price in US dollars greater than 0.", maxPrice)
		}
		if maxPrice > 0 && maxPrice < spotPrice {
			return armErr(http.StatusConflict, "OperationNotAllowed", "Unable to perform operation 'Create VM' since the VM's max price %.5f USD is lower than the current Spot price %.5f USD for Azure Spot VM size '%s' in region '%s'.", maxPrice, spotPrice, sku.Name, req.location)
		}
	}
	return nil
}
