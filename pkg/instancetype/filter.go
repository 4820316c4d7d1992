package instancetype

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
)

// Minimum size of an AKS node.
const (
	MinVCPUs     = 2
	MinMemoryGiB = 3.5
)

// Ephemeral OS disk placements, in order of preference: NVMe is fastest and
// largest, the cache disk keeps the resource disk free for pods.
var ephemeralPlacementPreference = []string{"NvmeDisk", "CacheDisk", "ResourceDisk"}

// EphemeralPlacement returns where an ephemeral OS disk of sizeGiB would live
// on the size ("" when it fits nowhere), and the largest ephemeral OS disk the
// size can hold in GiB.
func EphemeralPlacement(s *sku.SKU, sizeGiB int32) (placement string, maxGiB int64) {
	supported := s.EphemeralOSDiskPlacements()
	for _, p := range ephemeralPlacementPreference {
		if !slices.ContainsFunc(supported, func(x string) bool { return strings.EqualFold(x, p) }) {
			continue
		}
		capacity := placementGiB(s, p)
		if capacity > maxGiB {
			maxGiB = capacity
		}
		if placement == "" && int64(sizeGiB) <= capacity {
			placement = p
		}
	}
	return placement, maxGiB
}

func placementGiB(s *sku.SKU, placement string) int64 {
	switch placement {
	case "NvmeDisk":
		return s.Int(sku.CapNvmeDiskSizeInMiB) / 1024
	case "CacheDisk":
		return s.Int(sku.CapCachedDiskBytes) / (1 << 30)
	case "ResourceDisk":
		return s.Int(sku.CapMaxResourceVolumeMB) / 1024
	}
	return 0
}

// OSDisk is the OS disk a node of the size gets under a NodeClass.
type OSDisk struct {
	SizeGiB int32
	// EphemeralPlacement is where the ephemeral disk lives; "" for a managed disk.
	EphemeralPlacement string
}

// Ephemeral reports whether the OS disk is ephemeral.
func (d OSDisk) Ephemeral() bool { return d.EphemeralPlacement != "" }

func (d OSDisk) String() string {
	if d.Ephemeral() {
		return fmt.Sprintf("ephemeral %dGiB (%s)", d.SizeGiB, d.EphemeralPlacement)
	}
	return fmt.Sprintf("managed %dGiB", d.SizeGiB)
}

// ChooseOSDisk applies the NodeClass's osDiskType to a size: Auto takes an
// ephemeral disk when it fits, Ephemeral requires one, Managed never uses one.
// The reason is non-empty when the size cannot satisfy the NodeClass.
func ChooseOSDisk(s *sku.SKU, nc *v1beta1.AKSNodeClass) (OSDisk, string) {
	size := nc.GetOSDiskSizeGB()
	placement, maxGiB := EphemeralPlacement(s, size)
	switch nc.GetOSDiskType() {
	case v1beta1.OSDiskTypeManaged:
		return OSDisk{SizeGiB: size}, ""
	case v1beta1.OSDiskTypeEphemeral:
		if placement == "" {
			if maxGiB == 0 {
				return OSDisk{}, "osDiskType Ephemeral: the size supports no ephemeral OS disk"
			}
			return OSDisk{}, fmt.Sprintf("osDiskType Ephemeral: a %dGiB OS disk does not fit the size's largest ephemeral placement (%dGiB)", size, maxGiB)
		}
	}
	return OSDisk{SizeGiB: size, EphemeralPlacement: placement}, ""
}

// ImageGenerations are the HyperV generations the NodeClass's images exist
// for on an architecture: Arm64, confidential and Windows Server 2025 images
// are Gen2 only.
func ImageGenerations(nc *v1beta1.AKSNodeClass, arch string) []string {
	if arch == "arm64" || isConfidential(nc) || nc.GetImageFamily() == v1beta1.ImageFamilyWindows2025 {
		return []string{"V2"}
	}
	return []string{"V1", "V2"}
}

func isConfidential(nc *v1beta1.AKSNodeClass) bool {
	return nc.Spec.Security != nil && nc.Spec.Security.ConfidentialVM != nil && *nc.Spec.Security.ConfidentialVM
}

func encryptionAtHost(nc *v1beta1.AKSNodeClass) bool {
	return nc.Spec.Security != nil && nc.Spec.Security.EncryptionAtHost != nil && *nc.Spec.Security.EncryptionAtHost
}

// confidentialVMTypes are the ConfidentialComputingType values of confidential
// VM sizes (SGX sizes run enclaves inside ordinary VMs and are not CVMs).
var confidentialVMTypes = []string{"SNP", "TDX"}

func isConfidentialSize(s *sku.SKU) bool {
	t := s.String(sku.CapConfidentialComputingType)
	return slices.ContainsFunc(confidentialVMTypes, func(x string) bool { return strings.EqualFold(x, t) })
}

// exclusionReasons returns every reason the size cannot serve the NodeClass;
// none means it can. The checks are cheap and independent, so all are made:
// `azkarpenter explain` shows the whole answer, not just the first problem.
func exclusionReasons(s *sku.SKU, size Size, parsed bool, nc *v1beta1.AKSNodeClass, now time.Time) []string {
	var reasons []string
	add := func(format string, args ...any) { reasons = append(reasons, fmt.Sprintf(format, args...)) }
	if !parsed {
		add("not a VM size name azkarpenter understands")
	}
	if s.Retired(now) {
		add("retired on %s", s.String(sku.CapRetirementDateUtc))
	}
	if s.VCPUs() < MinVCPUs {
		add("%d vCPU: AKS nodes need at least %d", s.VCPUs(), MinVCPUs)
	}
	if s.MemoryGiB() < MinMemoryGiB {
		add("%gGiB memory: AKS nodes need at least %gGiB", s.MemoryGiB(), MinMemoryGiB)
	}
	arch := s.Architecture()
	if nc.IsWindows() && arch != "amd64" {
		add("%s images are x64 only; the size is %s", nc.GetImageFamily(), arch)
	}
	gens := ImageGenerations(nc, arch)
	if !slices.ContainsFunc(s.HyperVGenerations(), func(g string) bool { return slices.Contains(gens, g) }) {
		add("%s images for %s need HyperV generation %s; the size supports %s", nc.GetImageFamily(), arch, strings.Join(gens, " or "), strings.Join(s.HyperVGenerations(), ","))
	}
	if _, reason := ChooseOSDisk(s, nc); reason != "" {
		reasons = append(reasons, reason)
	}
	if encryptionAtHost(nc) && !s.Bool(sku.CapEncryptionAtHost) {
		add("security.encryptionAtHost: the size does not support encryption at host")
	}
	confidentialSize := isConfidentialSize(s)
	switch {
	case isConfidential(nc) && !confidentialSize:
		add("security.confidentialVM: not a confidential VM size")
	case !isConfidential(nc) && confidentialSize:
		add("confidential VM size (%s): set security.confidentialVM to use it", s.String(sku.CapConfidentialComputingType))
	}
	if nc.Spec.WorkloadRuntime != nil && *nc.Spec.WorkloadRuntime == v1beta1.WorkloadRuntimeKataVMIsolation && !size.SupportsNestedVirtualization(arch, confidentialSize) {
		add("workloadRuntime KataVmIsolation: the size does not support nested virtualization")
	}
	if nc.Spec.DedicatedHostGroupID != nil && !size.SupportsDedicatedHost() {
		add("dedicatedHostGroupID: Azure offers no dedicated hosts for the %s series", size.Series())
	}
	if s.Int(sku.CapGPUs) > 0 {
		if _, ok := size.GPUModel(); !ok {
			add("GPU size with an unknown GPU model: its driver and device plugin cannot be chosen")
		}
	}
	return reasons
}
