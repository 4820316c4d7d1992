package azuresim

import (
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
)

// The storage profile: the image the VM boots and its OS disk.

// validateStorageLocked checks the image (see validateImageLocked) and the
// OS disk, and records the generation the VM boots.
func (s *Server) validateStorageLocked(req *vmRequest) *ARMError {
	p := req.vm.Properties
	gen, aerr := s.validateImageLocked(req.sku, req.location, p)
	if aerr != nil {
		return aerr
	}
	req.hyperVGeneration = gen
	return validateOSDisk(req.sku, p.StorageProfile)
}

// validateOSDisk enforces the ephemeral OS disk rules: the SKU must support
// the placement and the disk must fit in it (AZURE-FACTS.md).
func validateOSDisk(sku *catalog.SKU, sp *armcompute.StorageProfile) *ARMError {
	if sp == nil || sp.OSDisk == nil {
		return nil
	}
	d := sp.OSDisk
	if d.DiskSizeGB != nil && (*d.DiskSizeGB < 1 || *d.DiskSizeGB > catalog.OSVhdSizeMB/1024) {
		return errInvalidParameter("osDisk.diskSizeGB", "The specified disk size %d GB is not within the supported range of 1 to %d GB.", *d.DiskSizeGB, catalog.OSVhdSizeMB/1024)
	}
	if d.DiffDiskSettings == nil || d.DiffDiskSettings.Option == nil {
		return nil
	}
	if *d.DiffDiskSettings.Option != armcompute.DiffDiskOptionsLocal {
		return errInvalidParameter("diffDiskSettings.option", "The value '%s' of parameter 'diffDiskSettings.option' is not allowed.", *d.DiffDiskSettings.Option)
	}
	if len(sku.EphemeralOSDiskPlacements) == 0 {
		return errInvalidParameter("diffDiskSettings", "Ephemeral OS disk is not supported for VM size %s.", sku.Name)
	}
	placement := string(armcompute.DiffDiskPlacementCacheDisk)
	if d.DiffDiskSettings.Placement != nil {
		placement = string(*d.DiffDiskSettings.Placement)
	}
	if !slices.Contains(sku.EphemeralOSDiskPlacements, placement) {
		return errInvalidParameter("diffDiskSettings.placement", "The DiffDiskPlacement %s is not supported for VM size %s. Supported placements: %s.", placement, sku.Name, strings.Join(sku.EphemeralOSDiskPlacements, ", "))
	}
	var capGB int64
	switch placement {
	case "CacheDisk":
		capGB = sku.CachedDiskBytes >> 30
	case "ResourceDisk":
		capGB = sku.MaxResourceVolumeMB / 1024
	case "NvmeDisk":
		capGB = sku.NvmeDiskSizeInMiB / 1024
	}
	size := int64(30) // marketplace Linux images default to 30 GB
	if d.DiskSizeGB != nil {
		size = int64(*d.DiskSizeGB)
	}
	if size > capGB {
		return errInvalidParameter("osDisk.diskSizeGB", "OS disk of Ephemeral VM with size greater than %d GB is not allowed for VM size %s when the DiffDiskPlacement is %s.", capGB, sku.Name, placement)
	}
	return nil
}
