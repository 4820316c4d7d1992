package instance_test

import (
	"testing"

	"github.com/azkarpenter/azkarpenter/pkg/providers/instance"
)

func TestProviderIDLowerCasesTheResourceGroup(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		// AKS's node resource group: cloud-provider-azure lower-cases it.
		{"/subscriptions/00000000-0000-0000-0000-0000000000AB/resourceGroups/MC_rg_cluster_eastus/providers/Microsoft.Compute/virtualMachines/aks-default-x1",
			"azure:///subscriptions/00000000-0000-0000-0000-0000000000AB/resourceGroups/mc_rg_cluster_eastus/providers/Microsoft.Compute/virtualMachines/aks-default-x1"},
		// Compute sometimes returns the whole group upper-cased, and segment
		// names in another case; only the group's value changes.
		{"/subscriptions/s/resourcegroups/MC_RG_CLUSTER_EASTUS/providers/Microsoft.Compute/virtualMachines/Aks-X",
			"azure:///subscriptions/s/resourcegroups/mc_rg_cluster_eastus/providers/Microsoft.Compute/virtualMachines/Aks-X"},
		{"/subscriptions/s/resourceGroups/already-lower/providers/Microsoft.Compute/virtualMachines/v",
			"azure:///subscriptions/s/resourceGroups/already-lower/providers/Microsoft.Compute/virtualMachines/v"},
	} {
		if got := instance.ProviderIDFromResourceID(tc.id); got != tc.want {
			t.Errorf("ProviderIDFromResourceID(%s) = %s, want %s", tc.id, got, tc.want)
		}
	}
	if got, want := instance.ProviderID("s", "MC_A_B_eastus", "vm"), "azure:///subscriptions/s/resourceGroups/mc_a_b_eastus/providers/Microsoft.Compute/virtualMachines/vm"; got != want {
		t.Errorf("ProviderID = %s, want %s", got, want)
	}
}

func TestSameProviderIDIgnoresCase(t *testing.T) {
	// A NodeClaim recorded by an earlier version carries the group as
	// configured; the VM's providerID now has it lower-cased.
	old := "azure:///subscriptions/s/resourceGroups/MC_rg_c_eastus/providers/Microsoft.Compute/virtualMachines/aks-x"
	now := instance.ProviderID("s", "MC_rg_c_eastus", "aks-x")
	if old == now || !instance.SameProviderID(old, now) {
		t.Errorf("SameProviderID(%s, %s) = false", old, now)
	}
	if instance.SameProviderID(now, instance.ProviderID("s", "MC_rg_c_eastus", "aks-y")) {
		t.Error("different VMs compare equal")
	}
}
