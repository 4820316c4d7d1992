package azuresim

import (
	"net/http"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"

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
	if aerr := validateOSDisk(req.sku, p.StorageProfile, imageGB); aerr != nil {
		return aerr
	}
	return checkEphemeralGuestState(req.sku, p, imageGB)
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
	if img != nil {
		if aerr := checkImageSecurityType(img.securityType, sp); aerr != nil {
			return aerr
		}
	}
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
	capGB := ephemeralPlacementGB(sku, placement)
	size := int64(imageGB) // without a size, the disk is the image's
	if d.DiskSizeGB != nil {
		size = int64(*d.DiskSizeGB)
	}
	if size > capGB {
		return errInvalidParameter("osDisk.diskSizeGB", "OS disk of Ephemeral VM with size greater than %d GB is not allowed for VM size %s when the DiffDiskPlacement is %s.", capGB, sku.Name, placement)
	}
	return nil
}

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
func checkEphemeralGuestState(sku *catalog.SKU, p *armcompute.VirtualMachineProperties, imageGB int32) *ARMError {
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
	size := int64(lo.FromPtrOr(d.DiskSizeGB, imageGB))
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

// checkImageSecurityType enforces Compute's pairing of a VM's security type
// with its gallery image definition's SecurityType feature
// (securityType "" is a definition without the feature: Standard).
//
//   - A TrustedLaunch-only definition boots only Trusted Launch VMs: 400
//     BadRequest "The provided gallery image only supports creation of VMs
//     and VM Scale Sets with 'TrustedLaunch' security type." (Compute's
//     answer as reported in Azure/build-vm-image#32).
//   - A Trusted Launch VM needs a definition with the Trusted Launch
//     feature (TrustedLaunch, TrustedLaunchSupported or
//     TrustedLaunchAndConfidentialVMSupported; "Trusted launch for Azure
//     virtual machines": Trusted Launch needs a Gen2 image that supports
//     it): otherwise 400 BadRequest "Use of TrustedLaunch setting is not
//     supported for the provided image. Please select Trusted Launch
//     Supported Gen2 OS Image. For more information, see
//     https://aka.ms/TrustedLaunch-FAQ." (Compute's answer in
//     Azure/azure-cli#27975; the Compute team's table of these messages is
//     in Azure/azure-cli#28005).
func checkImageSecurityType(imageSecurityType string, sp *armcompute.SecurityProfile) *ARMError {
	vmType := armcompute.SecurityTypes("")
	if sp != nil {
		vmType = lo.FromPtr(sp.SecurityType)
	}
	switch {
	case imageSecurityType == SecurityTypeTrustedLaunch && vmType != armcompute.SecurityTypesTrustedLaunch:
		return armErr(http.StatusBadRequest, "BadRequest", "The provided gallery image only supports creation of VMs and VM Scale Sets with 'TrustedLaunch' security type.")
	case vmType == armcompute.SecurityTypesTrustedLaunch && !supportsTrustedLaunch(imageSecurityType):
		return armErr(http.StatusBadRequest, "BadRequest", "Use of TrustedLaunch setting is not supported for the provided image. Please select Trusted Launch Supported Gen2 OS Image. For more information, see https://aka.ms/TrustedLaunch-FAQ.")
	}
	return nil
}

func supportsTrustedLaunch(imageSecurityType string) bool {
	switch imageSecurityType {
	case SecurityTypeTrustedLaunch, SecurityTypeTrustedLaunchSupported, SecurityTypeTrustedLaunchAndConfidentialVMSupported:
		return true
	}
	return false
}
