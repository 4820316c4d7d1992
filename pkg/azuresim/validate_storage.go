package azuresim

import (
	"net/http"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
)

// The storage profile: the image the VM boots and its OS disk.

// validateStorageLocked checks the image (see validateImageLocked), that the
// image can boot the VM's security type, and the OS disk; it records the
// generation the VM boots.
func (s *Server) validateStorageLocked(req *vmRequest) *ARMError {
	p := req.vm.Properties
	gen, aerr := s.validateImageLocked(req.sku, req.location, p)
	if aerr != nil {
		return aerr
	}
	req.hyperVGeneration = gen
	img, version := s.communityImageLocked(p)
	if aerr := validateImageSecurity(img, p); aerr != nil {
		return aerr
	}
	imageGB := int32(defaultImageDiskGB)
	if version != nil && version.diskSizeGB > 0 {
		imageGB = version.diskSizeGB
	}
	if aerr := validateOSDiskAgainstImage(p, img, imageGB); aerr != nil {
		return aerr
	}
	if aerr := validateEphemeralOSDisk(req); aerr != nil {
		return aerr
	}
	return validateOSDisk(req.sku, p.StorageProfile, imageGB)
}

// defaultImageDiskGB is the OS disk size of images azuresim does not model
// (marketplace images): Linux marketplace images are 30 GB.
const defaultImageDiskGB = 30

// communityImageLocked is the community gallery image and version a VM
// boots, when it names one that exists (validateImageLocked has refused the
// others).
func (s *Server) communityImageLocked(p *armcompute.VirtualMachineProperties) (*galleryImage, *galleryImageVersion) {
	if p.StorageProfile == nil || p.StorageProfile.ImageReference == nil || p.StorageProfile.ImageReference.CommunityGalleryImageID == nil {
		return nil, nil
	}
	gallery, image, version, ok := parseCommunityGalleryImageID(*p.StorageProfile.ImageReference.CommunityGalleryImageID)
	if !ok {
		return nil, nil
	}
	g, ok := s.galleries[lower(gallery)]
	if !ok {
		return nil, nil
	}
	img, ok := g.images[lower(image)]
	if !ok {
		return nil, nil
	}
	if strings.EqualFold(version, "latest") {
		return img, img.latest()
	}
	return img, img.versions[version]
}

// vmOSTypeLocked is the OS a VM runs: its community gallery image's, or
// else what the request says (windowsConfiguration, osDisk.osType).
func (s *Server) vmOSTypeLocked(p *armcompute.VirtualMachineProperties) armcompute.OperatingSystemTypes {
	if img, _ := s.communityImageLocked(p); img != nil {
		return img.osType
	}
	if p.OSProfile != nil && p.OSProfile.WindowsConfiguration != nil {
		return armcompute.OperatingSystemTypesWindows
	}
	if p.StorageProfile != nil && p.StorageProfile.OSDisk != nil && p.StorageProfile.OSDisk.OSType != nil &&
		strings.EqualFold(string(*p.StorageProfile.OSDisk.OSType), string(armcompute.OperatingSystemTypesWindows)) {
		return armcompute.OperatingSystemTypesWindows
	}
	return armcompute.OperatingSystemTypesLinux
}

// Gallery image features that let an image boot a confidential VM.
var confidentialImageTypes = []string{SecurityTypeConfidentialVMSupported, "ConfidentialVM", "TrustedLaunchAndConfidentialVmSupported"}

// validateImageSecurity refuses a confidential VM from an image whose
// definition has no confidential SecurityType feature. Compute: 400
// InvalidParameter, target securityProfile.securityType, "SecurityType
// '<type>' is not supported by given image." (Azure/azure-cli#22200).
func validateImageSecurity(img *galleryImage, p *armcompute.VirtualMachineProperties) *ARMError {
	sp := p.SecurityProfile
	if img == nil || sp == nil || sp.SecurityType == nil || !strings.EqualFold(string(*sp.SecurityType), string(armcompute.SecurityTypesConfidentialVM)) {
		return nil
	}
	if !slices.ContainsFunc(confidentialImageTypes, func(t string) bool { return strings.EqualFold(t, img.securityType) }) {
		return errInvalidParameter("securityProfile.securityType", "SecurityType '%s' is not supported by given image.", *sp.SecurityType)
	}
	return nil
}

// validateOSDiskAgainstImage checks the OS disk against the image: the OS
// type, when given, must be the image's (azuresim's wording), and a size,
// when given, cannot be smaller than the image's disk. Compute's wording
// for the latter (code OperationNotAllowed, target osDisk.diskSizeGB) is
// quoted in public Terraform configurations: "The specified disk size 20 GB
// is smaller than the size of the corresponding disk in the VM image: 30 GB.
// This is not allowed. Please choose equal or greater size or do not
// specify an explicit size."
func validateOSDiskAgainstImage(p *armcompute.VirtualMachineProperties, img *galleryImage, imageGB int32) *ARMError {
	if p.StorageProfile == nil || p.StorageProfile.OSDisk == nil {
		return nil
	}
	d := p.StorageProfile.OSDisk
	if img != nil && d.OSType != nil && !strings.EqualFold(string(*d.OSType), string(img.osType)) {
		return errInvalidParameter("osDisk.osType", "The value '%s' of parameter 'osDisk.osType' does not match the operating system '%s' of the image.", *d.OSType, img.osType)
	}
	if d.DiskSizeGB != nil && *d.DiskSizeGB < imageGB {
		e := armErr(http.StatusConflict, "OperationNotAllowed",
			"The specified disk size %d GB is smaller than the size of the corresponding disk in the VM image: %d GB. This is not allowed. Please choose equal or greater size or do not specify an explicit size.", *d.DiskSizeGB, imageGB)
		e.Target = "osDisk.diskSizeGB"
		return e
	}
	return nil
}

// validateEphemeralOSDisk applies the ephemeral OS disk rules that are not
// about fit (validateOSDisk):
//   - caching must be ReadOnly (the only caching an ephemeral OS disk takes;
//     Azure's examples set it and its Terraform provider enforces it,
//     hashicorp/terraform-provider-azurerm#25275);
//   - the delete option must be Delete: the SDK's OSDisk.DeleteOption "For
//     an ephemeral OS Disk, the default value is set to Delete. The user
//     cannot change the delete option for an ephemeral OS Disk.";
//   - a Spot VM must be evicted by Delete: "There's no option of
//     Stop-Deallocate for Ephemeral VMs, rather users need to Delete instead
//     of deallocating them." (ephemeral-os-disks-faq), and Deallocate is the
//     Spot default when no policy is given.
//
// The wordings are azuresim's.
func validateEphemeralOSDisk(req *vmRequest) *ARMError {
	p := req.vm.Properties
	if p.StorageProfile == nil || p.StorageProfile.OSDisk == nil || p.StorageProfile.OSDisk.DiffDiskSettings == nil {
		return nil
	}
	d := p.StorageProfile.OSDisk
	if d.Caching != nil && !strings.EqualFold(string(*d.Caching), string(armcompute.CachingTypesReadOnly)) {
		return errInvalidParameter("osDisk.caching", "The value '%s' of parameter 'osDisk.caching' is not allowed for an ephemeral OS disk; only ReadOnly is.", *d.Caching)
	}
	if d.DeleteOption != nil && !strings.EqualFold(string(*d.DeleteOption), string(armcompute.DiskDeleteOptionTypesDelete)) {
		return errInvalidParameter("osDisk.deleteOption", "The value '%s' of parameter 'osDisk.deleteOption' is not allowed for an ephemeral OS disk; it is always deleted with the VM.", *d.DeleteOption)
	}
	if req.spot && (p.EvictionPolicy == nil || strings.EqualFold(string(*p.EvictionPolicy), string(armcompute.VirtualMachineEvictionPolicyTypesDeallocate))) {
		return errInvalidParameter("evictionPolicy", "A Spot VM with an ephemeral OS disk cannot be deallocated: its evictionPolicy must be Delete.")
	}
	return nil
}

// validateOSDisk enforces the ephemeral OS disk rules: the SKU must support
// the placement and the disk must fit in it (AZURE-FACTS.md).
func validateOSDisk(sku *catalog.SKU, sp *armcompute.StorageProfile, imageGB int32) *ARMError {
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
	size := int64(imageGB) // without a size, the disk is the image's
	if d.DiskSizeGB != nil {
		size = int64(*d.DiskSizeGB)
	}
	if size > capGB {
		return errInvalidParameter("osDisk.diskSizeGB", "OS disk of Ephemeral VM with size greater than %d GB is not allowed for VM size %s when the DiffDiskPlacement is %s.", capGB, sku.Name, placement)
	}
	return nil
}
