package azuresim

import (
	"net/http"
	"strconv"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
)

// validateSpot checks a VM's priority, eviction policy and max price as
// Compute does, and reports whether the VM is a Spot VM. Codes and wording
// are Azure's, from "Error messages for Azure Spot Virtual Machines and
// scale sets" (MicrosoftDocs/azure-docs,
// articles/virtual-machines/error-codes-spot.md). That page gives no HTTP
// statuses: the refusals of the request's content are answered 400, the
// refusal for the current spot price 409 (it depends on the market, not on
// the request), which is unverified against a real subscription.
func (s *Server) validateSpot(sku *catalog.SKU, location string, p *armcompute.VirtualMachineProperties) (bool, *ARMError) {
	spot := false
	if p.Priority != nil {
		switch *p.Priority {
		case armcompute.VirtualMachinePriorityTypesSpot, armcompute.VirtualMachinePriorityTypesLow:
			spot = true
		case armcompute.VirtualMachinePriorityTypesRegular:
		default:
			return false, errInvalidParameter("priority", "The value '%s' of parameter 'priority' is not allowed. Allowed values are Regular, Spot.", *p.Priority)
		}
	}
	maxPrice := (*float64)(nil)
	if p.BillingProfile != nil {
		maxPrice = p.BillingProfile.MaxPrice
	}
	if !spot {
		switch {
		case p.EvictionPolicy != nil:
			return false, armErr(http.StatusBadRequest, "EvictionPolicyCanBeSetOnlyOnAzureSpotVirtualMachines", "Eviction policy can be set only on Azure Spot Virtual Machines.")
		case maxPrice != nil:
			return false, armErr(http.StatusBadRequest, "MaxPriceIsSupportedOnlyForAzureSpotVirtualMachines", "Max price is supported only for Azure Spot Virtual Machines.")
		}
		return false, nil
	}
	if !sku.LowPriorityCapable {
		return true, armErr(http.StatusBadRequest, "AzureSpotIsNotSupportedForThisVMSize", "Azure Spot Virtual Machine is not supported for this VM size %s.", sku.Name)
	}
	if p.EvictionPolicy != nil && *p.EvictionPolicy != armcompute.VirtualMachineEvictionPolicyTypesDelete && *p.EvictionPolicy != armcompute.VirtualMachineEvictionPolicyTypesDeallocate {
		return true, errInvalidParameter("evictionPolicy", "The value '%s' of parameter 'evictionPolicy' is not allowed.", *p.EvictionPolicy)
	}
	if maxPrice == nil {
		return true, nil
	}
	if *maxPrice != -1 && *maxPrice <= 0 {
		return true, armErr(http.StatusBadRequest, "MaxPriceValueInvalid", "Invalid max price value. The only supported values for max price are -1 or a decimal greater than zero. Max price value of -1 indicates the Azure Spot Virtual Machine will not be evicted for price reasons.")
	}
	if current := s.currentSpotPriceLocked(sku, location, isWindowsVM(p)); *maxPrice > 0 && *maxPrice < current {
		return true, armErr(http.StatusConflict, "SpotPriceGreaterThanProvidedMaxPrice",
			"Unable to perform operation 'Create VM' since the provided max price '%s USD' is lower than the current spot price '%s USD' for Azure Spot Virtual Machine size '%s'.",
			FormatUSD(*maxPrice), FormatUSD(current), sku.Name)
	}
	return true, nil
}

// currentSpotPriceLocked is the spot price Compute compares a max price
// with: the listed price (the Retail Prices API's) times spot.priceFactor,
// which models a market that moved since the price was listed.
func (s *Server) currentSpotPriceLocked(sku *catalog.SKU, location string, windows bool) float64 {
	listed, _ := s.cat.Price(sku, location, windows, true)
	if f := s.cfg.Spot.PriceFactor; f > 0 {
		return listed * f
	}
	return listed
}

func isWindowsVM(p *armcompute.VirtualMachineProperties) bool {
	if p.OSProfile != nil && p.OSProfile.WindowsConfiguration != nil {
		return true
	}
	sp := p.StorageProfile
	return sp != nil && sp.OSDisk != nil && sp.OSDisk.OSType != nil && *sp.OSDisk.OSType == armcompute.OperatingSystemTypesWindows
}

// FormatUSD writes a price as Compute's spot messages do: without trailing
// zeros.
func FormatUSD(p float64) string {
	return strconv.FormatFloat(p, 'f', -1, 64)
}
