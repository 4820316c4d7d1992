package v1beta1

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/sets"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/scheduling"

	"github.com/azkarpenter/azkarpenter/pkg/apis"
)

// Well-known labels users select on in NodePool requirements and pod
// affinities. The instance-type provider sets every one of them (with
// DoesNotExist where a label does not apply to a VM size), so requirements on
// them are typed and checked against the catalog.
const (
	LabelSKUName                      = apis.Group + "/sku-name"
	LabelSKUFamily                    = apis.Group + "/sku-family"
	LabelSKUSeries                    = apis.Group + "/sku-series"
	LabelSKUVersion                   = apis.Group + "/sku-version"
	LabelSKUCPU                       = apis.Group + "/sku-cpu"
	LabelSKUMemory                    = apis.Group + "/sku-memory"
	LabelSKUAcceleratedNetworking     = apis.Group + "/sku-networking-accelerated"
	LabelSKUStoragePremiumCapable     = apis.Group + "/sku-storage-premium-capable"
	LabelSKUStorageEphemeralOSMaxSize = apis.Group + "/sku-storage-ephemeralos-maxsize"
	// LabelSKUStorageUltraSSD is "true" where the size can attach Ultra
	// Disks (per zone), "false" elsewhere.
	LabelSKUStorageUltraSSD = apis.Group + "/sku-storage-ultra-ssd"
	LabelSKUGPUName         = apis.Group + "/sku-gpu-name"
	LabelSKUGPUManufacturer = apis.Group + "/sku-gpu-manufacturer"
	LabelSKUGPUCount        = apis.Group + "/sku-gpu-count"
	// LabelPlacementScope selects zonal placement ("zonal") or regional,
	// non-zonal capacity ("regional", zone label "0").
	LabelPlacementScope = apis.Group + "/placement-scope"
)

// Values of LabelPlacementScope.
const (
	PlacementScopeZonal    = "zonal"
	PlacementScopeRegional = "regional"
)

// AKSLabelDomain is the label domain AKS reserves for the labels it puts on
// nodes. Users may set only AKSUserSettableLabels of it.
const AKSLabelDomain = "kubernetes.azure.com"

// Labels AKS puts on every node; the provider writes them into the node's
// bootstrap data so nodes look like AKS nodes to workloads and tooling.
const (
	AKSLabelAgentPool        = AKSLabelDomain + "/agentpool"
	AKSLabelCluster          = AKSLabelDomain + "/cluster"
	AKSLabelMode             = AKSLabelDomain + "/mode"
	AKSLabelRole             = AKSLabelDomain + "/role"
	AKSLabelScaleSetPriority = AKSLabelDomain + "/scalesetpriority"
	AKSLabelStorageProfile   = AKSLabelDomain + "/storageprofile"
	AKSLabelStorageTier      = AKSLabelDomain + "/storagetier"
	AKSLabelInstanceSKU      = AKSLabelDomain + "/instance-sku"
	AKSLabelNodeImageVersion = AKSLabelDomain + "/node-image-version"
	AKSLabelAccelerator      = AKSLabelDomain + "/accelerator"
	AKSLabelFIPSEnabled      = AKSLabelDomain + "/fips_enabled"
	AKSLabelOSSKU            = AKSLabelDomain + "/os-sku"
	AKSLabelEBPFDataplane    = AKSLabelDomain + "/ebpf-dataplane"
	AKSLabelPriority         = AKSLabelDomain + "/priority"
	AKSLabelSKUCPU           = AKSLabelDomain + "/sku-cpu"
	AKSLabelSKUMemory        = AKSLabelDomain + "/sku-memory"
	// Labels AKS node auto-provisioning also puts on nodes.
	AKSLabelKubeletIdentityClientID = AKSLabelDomain + "/kubelet-identity-client-id"
	AKSLabelOSSKURequested          = AKSLabelDomain + "/os-sku-requested"
	AKSLabelOSSKUEffective          = AKSLabelDomain + "/os-sku-effective"
	AKSLabelLocalDNSState           = AKSLabelDomain + "/localdns-state"
	AKSLabelArtifactStreaming       = AKSLabelDomain + "/artifactstreaming-enabled"
	AKSLabelAzureCNIOverlay         = AKSLabelDomain + "/azure-cni-overlay"
	AKSLabelNetworkSubnet           = AKSLabelDomain + "/network-subnet"
	AKSLabelNodeNetworkVNetGUID     = AKSLabelDomain + "/nodenetwork-vnetguid"
	AKSLabelPodNetworkType          = AKSLabelDomain + "/podnetwork-type"
	AKSLabelNetworkStatelessCNI     = AKSLabelDomain + "/network-stateless-cni"

	// LabelSKUHyperVGeneration is internal: it ties node images to the VM
	// sizes that can boot them and is not for users to select on.
	LabelSKUHyperVGeneration = apis.Group + "/sku-hyperv-generation"
)

// Values of the AKS labels that have a fixed set of values.
const (
	ModeSystem              = "system"
	ModeUser                = "user"
	ScaleSetPriorityRegular = "regular"
	ScaleSetPrioritySpot    = "spot"
	OSSKUUbuntu             = "Ubuntu"
	OSSKUAzureLinux         = "AzureLinux"
	OSSKUWindows2022        = "Windows2022"
	OSSKUWindows2025        = "Windows2025"
	ManufacturerNvidia      = "nvidia"
	ManufacturerAMD         = "amd"
)

var (
	// WellKnownLabels are this provider's labels that karpenter core treats as
	// well-known (typed requirements, accepted in the restricted domain).
	WellKnownLabels = sets.New(
		LabelSKUName,
		LabelSKUFamily,
		LabelSKUSeries,
		LabelSKUVersion,
		LabelSKUCPU,
		LabelSKUMemory,
		LabelSKUAcceleratedNetworking,
		LabelSKUStoragePremiumCapable,
		LabelSKUStorageEphemeralOSMaxSize,
		LabelSKUStorageUltraSSD,
		LabelSKUGPUName,
		LabelSKUGPUManufacturer,
		LabelSKUGPUCount,
		LabelPlacementScope,
		// AKS labels that node auto-provisioning also treats as well-known: the
		// instance types define them, so requirements on them are typed.
		AKSLabelCluster,
		AKSLabelMode,
		AKSLabelScaleSetPriority,
		AKSLabelPriority,
		AKSLabelOSSKU,
		AKSLabelFIPSEnabled,
		AKSLabelSKUCPU,
		AKSLabelSKUMemory,
	)

	// AKSUserSettableLabels are the labels of the AKS reserved domain that AKS
	// node auto-provisioning accepts in NodePool templates and requirements
	// (its examples use kubernetes.azure.com/mode: system for a system surge
	// pool). Every other kubernetes.azure.com/ label is refused by the CRDs.
	AKSUserSettableLabels = sets.New(
		AKSLabelMode,
		AKSLabelScaleSetPriority,
		AKSLabelPriority,
		AKSLabelFIPSEnabled,
		AKSLabelOSSKU,
		AKSLabelCluster,
		AKSLabelSKUCPU,
		AKSLabelSKUMemory,
		AKSLabelEBPFDataplane,
		AKSLabelDomain+"/ebpf-host-routing",
		AKSLabelDomain+"/network-policy",
		AKSLabelDomain+"/hostedvm",
	)
)

func init() {
	// kubernetes.azure.com is not a restricted domain for core: users may set
	// some of its labels (kubernetes.azure.com/ebpf-dataplane) that are not
	// well-known. The CRDs enforce the allow-list instead.
	karpv1.RestrictedLabelDomains = karpv1.RestrictedLabelDomains.Insert(apis.Group)
	karpv1.RestrictedLabels = karpv1.RestrictedLabels.Insert(LabelSKUHyperVGeneration)
	karpv1.WellKnownLabels = karpv1.WellKnownLabels.Insert(WellKnownLabels.UnsortedList()...)
	// Azure has no reserved capacity type; core's default set includes it.
	karpv1.WellKnownValuesForRequirements[karpv1.CapacityTypeLabelKey] = sets.New(karpv1.CapacityTypeOnDemand, karpv1.CapacityTypeSpot)
	karpv1.WellKnownValuesForRequirements[LabelPlacementScope] = sets.New(PlacementScopeZonal, PlacementScopeRegional)
	karpv1.WellKnownValuesForRequirements[LabelSKUAcceleratedNetworking] = sets.New("true", "false")
	karpv1.WellKnownValuesForRequirements[LabelSKUStoragePremiumCapable] = sets.New("true", "false")
	karpv1.WellKnownValuesForRequirements[LabelSKUStorageUltraSSD] = sets.New("true", "false")
	karpv1.WellKnownValuesForRequirements[LabelSKUGPUManufacturer] = sets.New(ManufacturerNvidia, ManufacturerAMD)
	karpv1.WellKnownValuesForRequirements[AKSLabelMode] = sets.New(ModeSystem, ModeUser)
	karpv1.WellKnownValuesForRequirements[AKSLabelScaleSetPriority] = sets.New(ScaleSetPriorityRegular, ScaleSetPrioritySpot)
	karpv1.WellKnownValuesForRequirements[AKSLabelPriority] = sets.New(ScaleSetPriorityRegular, ScaleSetPrioritySpot)
	karpv1.WellKnownValuesForRequirements[AKSLabelOSSKU] = sets.New(OSSKUUbuntu, OSSKUAzureLinux, OSSKUWindows2022, OSSKUWindows2025)
	karpv1.WellKnownValuesForRequirements[AKSLabelFIPSEnabled] = sets.New("true")
}

// OSSKU is the kubernetes.azure.com/os-sku value of an image family, as AKS
// writes it (Ubuntu releases collapse to "Ubuntu").
func OSSKU(imageFamily string) string {
	switch imageFamily {
	case ImageFamilyAzureLinux:
		return OSSKUAzureLinux
	case ImageFamilyWindows2022:
		return OSSKUWindows2022
	case ImageFamilyWindows2025:
		return OSSKUWindows2025
	default:
		return OSSKUUbuntu
	}
}

// AllowUndefinedWellKnownAndRestrictedLabels is the compatibility option for
// matching NodeClaim requirements against instance types: instance types
// define internal restricted labels (sku-hyperv-generation) that NodeClaims
// never carry.
func AllowUndefinedWellKnownAndRestrictedLabels(options *scheduling.CompatibilityOptions) {
	options.AllowUndefined = karpv1.WellKnownLabels.Union(karpv1.RestrictedLabels)
}

// ZoneLabel is the topology.kubernetes.io/zone value of an Azure zone: the
// region and the zone number, or "0" for non-zonal placement.
func ZoneLabel(region, zone string) string {
	if zone == "" {
		return "0"
	}
	return region + "-" + zone
}

// Annotations and the finalizer of AKSNodeClasses and their NodeClaims, with
// AKS node auto-provisioning's names, so that objects it made keep working.
const (
	// AnnotationNodeClassHash is the drift hash of the spec: on an
	// AKSNodeClass its current one, on a NodeClaim the one it was launched from.
	AnnotationNodeClassHash = apis.Group + "/aksnodeclass-hash"
	// AnnotationNodeClassHashVersion is the hash's version (AKSNodeClassHashVersion).
	AnnotationNodeClassHashVersion = apis.Group + "/aksnodeclass-hash-version"
	// AnnotationInPlaceUpdateHash is, on a NodeClaim, the hash of the tags its
	// VM and NIC carry: tags change in place, without drift.
	AnnotationInPlaceUpdateHash = apis.Group + "/in-place-update-hash"
	// TerminationFinalizer keeps an AKSNodeClass until no NodeClaim uses it.
	TerminationFinalizer = apis.Group + "/termination"
)

// ClusterLabelValue is the kubernetes.azure.com/cluster value of a node, as
// AKS writes it: the node resource group, made a valid label value (no
// parentheses, at most 63 characters, ending in an alphanumeric).
func ClusterLabelValue(nodeResourceGroup string) string {
	v := strings.NewReplacer("(", "-", ")", "-").Replace(nodeResourceGroup)
	if len(v) > 63 {
		v = v[:63]
	}
	if v != "" && strings.ContainsRune("-_.", rune(v[len(v)-1])) {
		if len(v) < 63 {
			v += "z"
		} else {
			v = v[:62] + "z"
		}
	}
	return v
}
