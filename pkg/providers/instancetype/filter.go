package instancetype

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
)

// Minimum size of an AKS node.
const (
	MinVCPUs     = 2
	MinMemoryGiB = 3.5
	// LocalDNSMinVCPUs is the smallest size AKS runs LocalDNS on: its cache
	// takes up to two cores of its own.
	LocalDNSMinVCPUs = 4
)

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
	gens := imagefamily.Generations(nc, arch)
	if !slices.ContainsFunc(s.HyperVGenerations(), func(g string) bool { return slices.Contains(gens, g) }) {
		add("%s images for %s need HyperV generation %s; the size supports %s", nc.GetImageFamily(), arch, strings.Join(gens, " or "), strings.Join(s.HyperVGenerations(), ","))
	}
	if _, reason := sku.ChooseOSDisk(s, nc); reason != "" {
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
		gpu, ok := size.GPUModel()
		switch {
		case !ok:
			add("GPU size with an unknown GPU model: its driver and device plugin cannot be chosen")
		case gpu.Manufacturer == v1beta1.ManufacturerAMD && nc.GPUDriverInstallation():
			add("gpu.mode Driver: AKS node images install no driver for AMD GPUs; set gpu.mode None and bring your own")
		}
	}
	if nc.TrustedLaunch() {
		switch {
		case s.Bool(sku.CapTrustedLaunchDisabled):
			add("security.trustedLaunch: the size does not support Trusted Launch")
		case arch != "amd64":
			add("security.trustedLaunch: Trusted Launch node images are x64 only")
		}
	}
	if nc.ArtifactStreamingRequested() && arch == "arm64" {
		add("artifactStreaming: Arm64 sizes cannot stream container images")
	}
	if nc.IsLocalDNSEnabled() && s.VCPUs() < LocalDNSMinVCPUs {
		add("LocalDNS: the node's DNS cache needs at least %d vCPUs", LocalDNSMinVCPUs)
	}
	return reasons
}
