package azuresim_test

import (
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
)

// Compute's spot refusals, with the codes and messages of Azure's "Error
// messages for Azure Spot Virtual Machines and scale sets".
func TestSpotRefusals(t *testing.T) {
	// The market rose by half since the Retail Prices API listed its price.
	e := newEnv(t, noRetries(), withConfig(func(c *azuresim.Config) { c.Spot.PriceFactor = 1.5 }))
	subnet := e.network("eastus", "10.1.0.0/24")
	sku, _ := catalog.Default().SKU("Standard_D2s_v5")
	listed, _ := catalog.Default().Price(sku, "eastus", false, true)

	// A cap at the listed price is below the current one.
	_, putErr, _ := e.createVM(vmSpec{name: "capped", size: "Standard_D2s_v5", location: "eastus", zone: "1", spot: true, maxPrice: listed}, subnet)
	if putErr == nil {
		t.Fatal("spot VM with a max price below the current spot price accepted")
	}
	re := respErr(t, putErr)
	want := "Unable to perform operation 'Create VM' since the provided max price '" + usd(listed) + " USD' is lower than the current spot price '" + usd(listed*1.5) +
		" USD' for Azure Spot Virtual Machine size 'Standard_D2s_v5'."
	if re.StatusCode != http.StatusConflict || re.ErrorCode != "SpotPriceGreaterThanProvidedMaxPrice" || errorMessage(t, re) != want {
		t.Errorf("got %d %s %q, want 409 SpotPriceGreaterThanProvidedMaxPrice %q", re.StatusCode, re.ErrorCode, errorMessage(t, re), want)
	}
	// A cap above the current price, and -1, launch.
	e.mustCreateVM(vmSpec{name: "above", size: "Standard_D2s_v5", location: "eastus", zone: "1", spot: true, maxPrice: listed * 2}, subnet)
	e.mustCreateVM(vmSpec{name: "uncapped", size: "Standard_D2s_v5", location: "eastus", zone: "1", spot: true}, subnet)

	for _, tc := range []struct {
		name      string
		edit      func(*armcompute.VirtualMachine)
		code, msg string
	}{
		{"max price of zero", func(vm *armcompute.VirtualMachine) { vm.Properties.BillingProfile.MaxPrice = lo.ToPtr(0.0) },
			"MaxPriceValueInvalid", "Invalid max price value. The only supported values for max price are -1 or a decimal greater than zero. Max price value of -1 indicates the Azure Spot Virtual Machine will not be evicted for price reasons."},
		{"eviction policy on a regular VM", func(vm *armcompute.VirtualMachine) {
			vm.Properties.Priority, vm.Properties.BillingProfile = lo.ToPtr(armcompute.VirtualMachinePriorityTypesRegular), nil
		}, "EvictionPolicyCanBeSetOnlyOnAzureSpotVirtualMachines", "Eviction policy can be set only on Azure Spot Virtual Machines."},
		{"max price on a regular VM", func(vm *armcompute.VirtualMachine) {
			vm.Properties.Priority, vm.Properties.EvictionPolicy = lo.ToPtr(armcompute.VirtualMachinePriorityTypesRegular), nil
		}, "MaxPriceIsSupportedOnlyForAzureSpotVirtualMachines", "Max price is supported only for Azure Spot Virtual Machines."},
	} {
		nic, err := e.createNIC("nic-"+lo.RandomString(6, lo.LowerCaseLettersCharset), "eastus", subnet)
		if err != nil {
			t.Fatal(err)
		}
		body := e.vmBody(vmSpec{name: "refused", size: "Standard_D2s_v5", location: "eastus", zone: "1", spot: true}, *nic.ID)
		tc.edit(&body)
		_, err = e.vms.BeginCreateOrUpdate(e.ctx, testRG, "refused", body, nil)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if re := respErr(t, err); re.StatusCode != http.StatusBadRequest || re.ErrorCode != tc.code || errorMessage(t, re) != tc.msg {
			t.Errorf("%s: %d %s %q", tc.name, re.StatusCode, re.ErrorCode, errorMessage(t, re))
		}
	}
}

func usd(p float64) string { return azuresim.FormatUSD(p) }
