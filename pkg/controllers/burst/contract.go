package burst

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/azkarpenter/azkarpenter/pkg/virtualnode"
)

// The opt-in, the placeholder's marks and the PriorityClass.
const (
	// Annotation opts a workload in: set it to AnnotationValue on the pod
	// template of a Deployment (ReplicaSet) or StatefulSet.
	Annotation      = "karpenter.azure.com/burst"
	AnnotationValue = "aci"
	// AnnotationBurstedAt is set by the binding (the binding subresource
	// copies its annotations onto the pod): when the pod went to the
	// virtual node, RFC 3339, for the time-on-ACI histogram and cost.
	AnnotationBurstedAt = "karpenter.azure.com/bursted-at"
	// AnnotationPlaceholderOf names the burst pod on its placeholder.
	AnnotationPlaceholderOf = "karpenter.azure.com/burst-placeholder-of"

	// LabelPlaceholderFor is the burst pod's UID on its placeholder.
	LabelPlaceholderFor = "karpenter.azure.com/burst-placeholder-for"
	// LabelPlaceholderGroup is the UID of the burst pod's owner on every
	// placeholder of that workload: the placeholders' spread and
	// (anti-)affinity terms select each other through it.
	LabelPlaceholderGroup = "karpenter.azure.com/burst-placeholder-group"

	// PriorityClassName is the placeholders' class: below every real pod,
	// and never preempting (preemptionPolicy Never).
	PriorityClassName = "azkarpenter-burst-placeholder"
	PriorityValue     = int32(-10)

	// DefaultPlaceholderImage is the pause image the local cluster and kwok
	// use; on AKS, mcr.microsoft.com/oss/kubernetes/pause is the mirror.
	DefaultPlaceholderImage = "registry.k8s.io/pause:3.10"
)

// The virtual node as the virtual-kubelet component presents it
// (pkg/virtualnode's contract): AKS's virtual-nodes add-on's node name,
// labels and taint.
const (
	DefaultVirtualNodeName = virtualnode.DefaultNodeName
	// VirtualNodeTaintKey is virtual-kubelet's NoSchedule taint, which
	// AKS's add-on keeps.
	VirtualNodeTaintKey   = virtualnode.TaintKey
	VirtualNodeTaintValue = virtualnode.TaintValue
	// VirtualNodeLabel=VirtualNodeLabelValue marks a virtual kubelet.
	VirtualNodeLabel      = virtualnode.LabelType
	VirtualNodeLabelValue = virtualnode.LabelTypeValue
	// ConditionContainerInstancesAvailable is False while ACI refuses the
	// virtual node's creates (quota, capacity).
	ConditionContainerInstancesAvailable = virtualnode.ConditionContainerInstancesAvailable
)

// Pod status reasons the virtual node sets on a pod it could not run (the
// pod stays Pending on the node): such pods are evicted at once so their
// replacements wait for a VM.
var stuckReasons = map[string]bool{
	virtualnode.ReasonContainerGroupRefused:         true,
	virtualnode.ReasonCannotRunOnACI:                true,
	virtualnode.ReasonContainerInstancesUnavailable: true,
}

// Event reasons.
const (
	ReasonBursted            = "Bursted"
	ReasonBurstRefused       = "BurstRefused"
	ReasonSettled            = "Settled"
	ReasonSettleBlockedByPDB = "SettleBlockedByPDB"
)

// OptedIn reports whether a pod asks to burst.
func OptedIn(pod *corev1.Pod) bool {
	return pod.Annotations[Annotation] == AnnotationValue
}

// IsPlaceholder reports whether a pod is a burst pod's placeholder.
func IsPlaceholder(pod *corev1.Pod) bool {
	_, ok := pod.Labels[LabelPlaceholderFor]
	return ok
}

// PlaceholderName is the name of a burst pod's placeholder: fixed by the
// pod's UID, so a retry finds the one it made.
func PlaceholderName(pod *corev1.Pod) string {
	return "burst-placeholder-" + string(pod.UID)
}
