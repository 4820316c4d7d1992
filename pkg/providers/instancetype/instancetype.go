// Package instancetype turns the region's VM sizes into karpenter
// InstanceTypes for an AKSNodeClass: capacity and overhead by the AKS
// formulas, the well-known labels as requirements, offerings per zone and
// capacity type with prices and availability, and, for every size left out,
// the reason.
package instancetype

import (
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/scheduling"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
)

// Windows build numbers for node.kubernetes.io/windows-build.
var windowsBuilds = map[string]string{
	v1beta1.ImageFamilyWindows2022: "10.0.20348",
	v1beta1.ImageFamilyWindows2025: "10.0.26100",
}

// DefaultMaxPods is AKS's default pods per node for a network plugin and mode.
func DefaultMaxPods(networkPlugin, networkPluginMode string) int32 {
	switch {
	case networkPlugin == "azure" && networkPluginMode == "overlay", networkPlugin == "none":
		return 250
	case networkPlugin == "azure":
		return 30
	default:
		return 110
	}
}

// Capacity is what a node of the size offers before overhead: its memory
// less the VM memory overhead (a fraction), as the node will report it.
func Capacity(s *sku.SKU, size Size, maxPods int32, osDiskGiB int32, memoryOverhead float64) corev1.ResourceList {
	rl := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(s.VCPUs(), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(bootstrap.NodeMemoryMiB(s.MemoryGiB(), memoryOverhead)*1024*1024, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(int64(maxPods), resource.DecimalSI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(int64(osDiskGiB)*1024*1024*1024, resource.BinarySI),
	}
	if n := s.Int(sku.CapGPUs); n > 0 {
		if gpu, ok := size.GPUModel(); ok {
			rl[gpuResource(gpu)] = *resource.NewQuantity(n, resource.DecimalSI)
		}
	}
	return rl
}

func gpuResource(g GPU) corev1.ResourceName {
	if g.Manufacturer == v1beta1.ManufacturerAMD {
		return "amd.com/gpu"
	}
	return "nvidia.com/gpu"
}

// Overhead is the AKS overhead of a size with an OS disk of osDiskGiB: the
// hard eviction thresholds hold back a share of the node filesystem too.
func Overhead(s *sku.SKU, osDiskGiB int32) *cloudprovider.InstanceTypeOverhead {
	r := bootstrap.KubeReserved(s.VCPUs(), s.MemoryGiB())
	return &cloudprovider.InstanceTypeOverhead{
		KubeReserved:      r.KubeReservedList(),
		SystemReserved:    corev1.ResourceList{},
		EvictionThreshold: r.EvictionThresholdList(int64(osDiskGiB)),
	}
}

// PlacementScope is the karpenter.azure.com/placement-scope of a size: zonal
// sizes are offered per zone only, sizes without zones regionally (zone "0").
func PlacementScope(s *sku.SKU) string {
	if len(s.Zones) == 0 {
		return v1beta1.PlacementScopeRegional
	}
	return v1beta1.PlacementScopeZonal
}

// requirements are the size's labels as scheduling requirements. Every
// well-known label gets one (DoesNotExist where it does not apply), except
// kubernetes.azure.com/mode, which comes from the NodePool alone.
func requirements(s *sku.SKU, size Size, nc *v1beta1.AKSNodeClass, opts Options, offerings cloudprovider.Offerings) scheduling.Requirements {
	os := string(corev1.Linux)
	if nc.IsWindows() {
		os = string(corev1.Windows)
	}
	ephemeralMaxGB := EphemeralOSMaxSizeGB(s)
	memoryMiB := strconv.FormatInt(int64(s.MemoryGiB()*1024), 10)
	vcpus := strconv.FormatInt(s.VCPUs(), 10)
	reqs := scheduling.NewRequirements(
		scheduling.NewRequirement(corev1.LabelInstanceTypeStable, corev1.NodeSelectorOpIn, s.Name),
		scheduling.NewRequirement(corev1.LabelArchStable, corev1.NodeSelectorOpIn, s.Architecture()),
		scheduling.NewRequirement(corev1.LabelOSStable, corev1.NodeSelectorOpIn, os),
		scheduling.NewRequirement(corev1.LabelTopologyRegion, corev1.NodeSelectorOpIn, opts.Region),
		scheduling.NewRequirement(corev1.LabelTopologyZone, corev1.NodeSelectorOpIn, offeringValues(offerings, corev1.LabelTopologyZone)...),
		scheduling.NewRequirement(karpv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, offeringValues(offerings, karpv1.CapacityTypeLabelKey)...),
		scheduling.NewRequirement(v1beta1.LabelPlacementScope, corev1.NodeSelectorOpIn, PlacementScope(s)),
		scheduling.NewRequirement(v1beta1.AKSLabelScaleSetPriority, corev1.NodeSelectorOpIn, offeringValues(offerings, v1beta1.AKSLabelScaleSetPriority)...),
		scheduling.NewRequirement(v1beta1.AKSLabelPriority, corev1.NodeSelectorOpIn, offeringValues(offerings, v1beta1.AKSLabelPriority)...),
		scheduling.NewRequirement(v1beta1.LabelSKUName, corev1.NodeSelectorOpIn, s.Name),
		scheduling.NewRequirement(v1beta1.LabelSKUFamily, corev1.NodeSelectorOpIn, size.Family),
		scheduling.NewRequirement(v1beta1.LabelSKUSeries, corev1.NodeSelectorOpIn, size.Series()),
		scheduling.NewRequirement(v1beta1.LabelSKUVersion, corev1.NodeSelectorOpIn, strconv.Itoa(size.Version)),
		scheduling.NewRequirement(v1beta1.LabelSKUCPU, corev1.NodeSelectorOpIn, vcpus),
		scheduling.NewRequirement(v1beta1.LabelSKUMemory, corev1.NodeSelectorOpIn, memoryMiB),
		scheduling.NewRequirement(v1beta1.AKSLabelSKUCPU, corev1.NodeSelectorOpIn, vcpus),
		scheduling.NewRequirement(v1beta1.AKSLabelSKUMemory, corev1.NodeSelectorOpIn, memoryMiB),
		scheduling.NewRequirement(v1beta1.LabelSKUAcceleratedNetworking, corev1.NodeSelectorOpIn, strconv.FormatBool(s.Bool(sku.CapAcceleratedNetworking))),
		scheduling.NewRequirement(v1beta1.LabelSKUStoragePremiumCapable, corev1.NodeSelectorOpIn, strconv.FormatBool(s.Bool(sku.CapPremiumIO))),
		scheduling.NewRequirement(v1beta1.LabelSKUStorageUltraSSD, corev1.NodeSelectorOpIn, offeringValues(offerings, v1beta1.LabelSKUStorageUltraSSD)...),
		scheduling.NewRequirement(v1beta1.LabelSKUHyperVGeneration, corev1.NodeSelectorOpIn, imagefamily.HyperVGeneration(nc, s.Architecture(), s.HyperVGenerations())),
		scheduling.NewRequirement(v1beta1.AKSLabelCluster, corev1.NodeSelectorOpIn, v1beta1.ClusterLabelValue(opts.NodeResourceGroup)),
		scheduling.NewRequirement(v1beta1.AKSLabelOSSKU, corev1.NodeSelectorOpIn, v1beta1.OSSKU(nc.GetImageFamily())),
	)
	if ephemeralMaxGB > 0 {
		reqs.Add(scheduling.NewRequirement(v1beta1.LabelSKUStorageEphemeralOSMaxSize, corev1.NodeSelectorOpIn, strconv.FormatInt(ephemeralMaxGB, 10)))
	} else {
		reqs.Add(scheduling.NewRequirement(v1beta1.LabelSKUStorageEphemeralOSMaxSize, corev1.NodeSelectorOpDoesNotExist))
	}
	if nc.Spec.FIPSMode != nil && *nc.Spec.FIPSMode == v1beta1.FIPSModeFIPS {
		reqs.Add(scheduling.NewRequirement(v1beta1.AKSLabelFIPSEnabled, corev1.NodeSelectorOpIn, "true"))
	} else {
		reqs.Add(scheduling.NewRequirement(v1beta1.AKSLabelFIPSEnabled, corev1.NodeSelectorOpDoesNotExist))
	}
	if build, ok := windowsBuilds[nc.GetImageFamily()]; ok {
		reqs.Add(scheduling.NewRequirement(corev1.LabelWindowsBuild, corev1.NodeSelectorOpIn, build))
	} else {
		reqs.Add(scheduling.NewRequirement(corev1.LabelWindowsBuild, corev1.NodeSelectorOpDoesNotExist))
	}
	gpu, hasGPU := size.GPUModel()
	if n := s.Int(sku.CapGPUs); n > 0 && hasGPU {
		reqs.Add(
			scheduling.NewRequirement(v1beta1.LabelSKUGPUName, corev1.NodeSelectorOpIn, gpu.Name),
			scheduling.NewRequirement(v1beta1.LabelSKUGPUManufacturer, corev1.NodeSelectorOpIn, gpu.Manufacturer),
			scheduling.NewRequirement(v1beta1.LabelSKUGPUCount, corev1.NodeSelectorOpIn, strconv.FormatInt(n, 10)),
		)
	} else {
		// AKS node auto-provisioning labels every size with its GPU count,
		// "0" on sizes without: requirements such as sku-gpu-count Lt 1 work.
		reqs.Add(
			scheduling.NewRequirement(v1beta1.LabelSKUGPUName, corev1.NodeSelectorOpDoesNotExist),
			scheduling.NewRequirement(v1beta1.LabelSKUGPUManufacturer, corev1.NodeSelectorOpDoesNotExist),
			scheduling.NewRequirement(v1beta1.LabelSKUGPUCount, corev1.NodeSelectorOpIn, "0"),
		)
	}
	return reqs
}

// EphemeralOSMaxSizeGB is the karpenter.azure.com/sku-storage-ephemeralos-maxsize
// value of a size, as AKS node auto-provisioning computes it: the first
// placement of NVMe, cache and resource disk that the size has, in GB (10^9
// bytes); 0 when the size takes no ephemeral OS disk.
func EphemeralOSMaxSizeGB(s *sku.SKU) int64 {
	if !s.Bool(sku.CapEphemeralOSDiskSupported) {
		return 0
	}
	placements := s.EphemeralOSDiskPlacements()
	if slices.ContainsFunc(placements, func(p string) bool { return strings.EqualFold(p, "NvmeDisk") }) && s.Int(sku.CapNvmeDiskSizeInMiB) > 0 {
		return s.Int(sku.CapNvmeDiskSizeInMiB) << 20 / 1e9
	}
	if b := s.Int(sku.CapCachedDiskBytes); b > 0 {
		return b / 1e9
	}
	return s.Int(sku.CapMaxResourceVolumeMB) << 20 / 1e9
}

func offeringValues(offerings cloudprovider.Offerings, key string) []string {
	seen := map[string]bool{}
	var values []string
	for _, o := range offerings {
		for _, v := range o.Requirements.Get(key).Values() {
			if !seen[v] {
				seen[v] = true
				values = append(values, v)
			}
		}
	}
	return values
}
