package v1beta1

import (
	"k8s.io/apimachinery/pkg/util/sets"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

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
	LabelSKUGPUName                   = apis.Group + "/sku-gpu-name"
	LabelSKUGPUManufacturer           = apis.Group + "/sku-gpu-manufacturer"
	LabelSKUGPUCount                  = apis.Group + "/sku-gpu-count"
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
		LabelSKUGPUName,
		LabelSKUGPUManufacturer,
		LabelSKUGPUCount,
		LabelPlacementScope,
	)

	// AKSUserSettableLabels are the labels of the AKS reserved domain that AKS
	// node auto-provisioning accepts in NodePool templates and requirements
	// (its examples use kubernetes.azure.com/mode: system for a system surge
	// pool). Every other kubernetes.azure.com/ label is refused by the CRDs.
	AKSUserSettableLabels = sets.New(
		AKSLabelMode,
		AKSLabelScaleSetPriority,
		AKSLabelDomain+"/priority",
		AKSLabelFIPSEnabled,
		AKSLabelOSSKU,
		AKSLabelCluster,
		AKSLabelDomain+"/sku-cpu",
		AKSLabelDomain+"/sku-memory",
		AKSLabelEBPFDataplane,
		AKSLabelDomain+"/ebpf-host-routing",
		AKSLabelDomain+"/network-policy",
		AKSLabelDomain+"/hostedvm",
	)
)

func init() {
	karpv1.RestrictedLabelDomains = karpv1.RestrictedLabelDomains.Insert(apis.Group)
	karpv1.WellKnownLabels = karpv1.WellKnownLabels.Insert(WellKnownLabels.UnsortedList()...)
	karpv1.WellKnownValuesForRequirements[LabelPlacementScope] = sets.New(PlacementScopeZonal, PlacementScopeRegional)
}
