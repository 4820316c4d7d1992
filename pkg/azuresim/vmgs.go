package azuresim

import (
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
)

// checkEphemeralGuestState applies "Ephemeral OS disks for Azure VMs" to
// Trusted Launch and confidential VMs (validateOSDisk checks the plain fit):
//   - their VM guest state (VMGS) takes 1 GiB of the ephemeral placement
//     ("by default 1 GiB from the OS cache or temp storage based on the
//     chosen placement option is reserved for VMGS"), answered as the page's
//     example answers it: 400 InvalidParameter "OS disk of Ephemeral VM with
//     size greater than 55 GB is not allowed for VM size Standard_DS4_v2 when
//     the DiffDiskPlacement is ResourceDisk." for a 56 GiB temp disk;
//   - "NVMe Disk placement is currently not supported for Confidential VMs"
//     (the wording of Compute's refusal is not published; this one says
//     what the page says).
func checkEphemeralGuestState(sku *catalog.SKU, p *armcompute.VirtualMachineProperties) *ARMError {
	if p.StorageProfile == nil || p.StorageProfile.OSDisk == nil || p.SecurityProfile == nil {
		return nil
	}
	d := p.StorageProfile.OSDisk
	if d.DiffDiskSettings == nil || d.DiffDiskSettings.Option == nil {
		return nil
	}
	securityType := lo.FromPtr(p.SecurityProfile.SecurityType)
	if securityType != armcompute.SecurityTypesTrustedLaunch && securityType != armcompute.SecurityTypesConfidentialVM {
		return nil
	}
	placement := string(lo.FromPtrOr(d.DiffDiskSettings.Placement, armcompute.DiffDiskPlacementCacheDisk))
	if securityType == armcompute.SecurityTypesConfidentialVM && strings.EqualFold(placement, string(armcompute.DiffDiskPlacementNvmeDisk)) {
		return errInvalidParameter("diffDiskSettings.placement", "The DiffDiskPlacement NvmeDisk is not supported for Confidential VMs.")
	}
	capGB := ephemeralPlacementGB(sku, placement) - 1
	size := int64(lo.FromPtrOr(d.DiskSizeGB, 30))
	if size > capGB {
		return errInvalidParameter("osDisk.diskSizeGB", "OS disk of Ephemeral VM with size greater than %d GB is not allowed for VM size %s when the DiffDiskPlacement is %s.", capGB, sku.Name, placement)
	}
	return nil
}

// ephemeralPlacementGB is what a placement of the size holds, in GiB.
func ephemeralPlacementGB(sku *catalog.SKU, placement string) int64 {
	switch placement {
	case "CacheDisk":
		return sku.CachedDiskBytes >> 30
	case "ResourceDisk":
		return sku.MaxResourceVolumeMB / 1024
	case "NvmeDisk":
		return sku.NvmeDiskSizeInMiB / 1024
	}
	return 0
}
