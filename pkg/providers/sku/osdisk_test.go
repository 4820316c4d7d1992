package sku_test

import (
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
)

// nvmeSize is a size whose only ephemeral placement is NVMe.
func nvmeSize() *sku.SKU {
	return &sku.SKU{Name: "Standard_DC8ads_cc_v5", Capabilities: map[string]string{
		sku.CapNvmeDiskSizeInMiB: "491520", sku.CapMaxResourceVolumeMB: "0", sku.CapCachedDiskBytes: "0",
		sku.CapSupportedEphemeralPlacements: "NvmeDisk", "EphemeralOSDiskSupported": "True",
	}}
}

func TestTheGuestStateTakesAGiBOfTheEphemeralPlacement(t *testing.T) {
	s := &sku.SKU{Name: "Standard_X", Capabilities: map[string]string{
		sku.CapMaxResourceVolumeMB: "57344", sku.CapSupportedEphemeralPlacements: "ResourceDisk", "EphemeralOSDiskSupported": "True",
	}}
	nc := func(size int32, edit func(*v1beta1.AKSNodeClass)) *v1beta1.AKSNodeClass {
		n := &v1beta1.AKSNodeClass{Spec: v1beta1.AKSNodeClassSpec{OSDiskSizeGB: to.Ptr(size), OSDiskType: to.Ptr(v1beta1.OSDiskTypeEphemeral)}}
		if edit != nil {
			edit(n)
		}
		return n
	}
	tl := func(n *v1beta1.AKSNodeClass) {
		n.Spec.Security = &v1beta1.Security{TrustedLaunch: &v1beta1.TrustedLaunch{VTPM: to.Ptr(true)}}
	}
	cvm := func(n *v1beta1.AKSNodeClass) { n.Spec.Security = &v1beta1.Security{ConfidentialVM: to.Ptr(true)} }
	// 56 GiB of temp disk, as Standard_DS4_v2 in the Ephemeral OS disk
	// page's example: a plain VM fits 56, a Trusted Launch or
	// confidential VM 55 ("greater than 55 GB is not allowed for VM size
	// Standard_DS4_v2 when the DiffDiskPlacement is ResourceDisk").
	if d, reason := sku.ChooseOSDisk(s, nc(56, nil)); reason != "" || d.EphemeralPlacement != "ResourceDisk" {
		t.Errorf("plain 56 GiB: %v %s", d, reason)
	}
	for name, edit := range map[string]func(*v1beta1.AKSNodeClass){"Trusted Launch": tl, "confidential VM": cvm} {
		if _, reason := sku.ChooseOSDisk(s, nc(56, edit)); reason == "" {
			t.Errorf("%s 56 GiB: fits, want no fit", name)
		}
		if d, reason := sku.ChooseOSDisk(s, nc(55, edit)); reason != "" || d.EphemeralPlacement != "ResourceDisk" {
			t.Errorf("%s 55 GiB: %v %s", name, d, reason)
		}
	}
	// NVMe placement is not supported for confidential VMs.
	if _, reason := sku.ChooseOSDisk(nvmeSize(), nc(64, cvm)); reason == "" {
		t.Error("confidential VM on NVMe: fits, want no fit")
	}
	if d, reason := sku.ChooseOSDisk(nvmeSize(), nc(64, tl)); reason != "" || d.EphemeralPlacement != "NvmeDisk" {
		t.Errorf("Trusted Launch on NVMe: %v %s", d, reason)
	}
}
