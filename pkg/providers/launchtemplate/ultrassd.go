package launchtemplate

import (
	corev1 "k8s.io/api/core/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/scheduling"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
)

// UltraSSDRequested reports whether a NodeClaim's node must attach Ultra
// Disks: its requirements allow karpenter.azure.com/sku-storage-ultra-ssd
// "true" and not "false". A VM attaches Ultra Disks only when created with
// additionalCapabilities.ultraSSDEnabled ("StorageAccountType UltraSSD_LRS can
// be used only when additionalCapabilities.ultraSSDEnabled is set", Compute's
// 400 InvalidParameter), so a node labelled for Ultra Disks must be created
// with it; an ambiguous or absent requirement gets no Ultra Disk capability,
// as AKS node auto-provisioning decides (resolveUltraSSDRequested).
func UltraSSDRequested(claim *karpv1.NodeClaim) bool {
	reqs := scheduling.NewNodeSelectorRequirementsWithMinValues(claim.Spec.Requirements...)
	allows := func(v string) bool {
		return reqs.Compatible(scheduling.NewRequirements(scheduling.NewRequirement(v1beta1.LabelSKUStorageUltraSSD, corev1.NodeSelectorOpIn, v))) == nil
	}
	return allows("true") && !allows("false")
}
