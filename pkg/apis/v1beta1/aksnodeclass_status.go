package v1beta1

import (
	"github.com/awslabs/operatorpkg/status"
	corev1 "k8s.io/api/core/v1"
)

// Condition types of an AKSNodeClass. Ready is True when all of them are, and
// karpenter core launches nodes for a NodePool only while its NodeClass is Ready.
const (
	// ConditionTypeValidationSucceeded: the spec passed the checks the API server
	// cannot make (for example, that some VM size in the region can satisfy it).
	ConditionTypeValidationSucceeded = "ValidationSucceeded"
	// ConditionTypeImagesReady: node images were resolved for the image family.
	ConditionTypeImagesReady = "ImagesReady"
	// ConditionTypeKubernetesVersionReady: the cluster's Kubernetes version is known.
	ConditionTypeKubernetesVersionReady = "KubernetesVersionReady"
	// ConditionTypeSubnetsReady: the subnet exists and has free IP addresses.
	// The name is AKS node auto-provisioning's.
	ConditionTypeSubnetsReady = "SubnetsReady"
	// ConditionTypeSubnetReadyV0 is the name azkarpenter used before it took
	// NAP's; the status controller removes it from objects it finds it on.
	ConditionTypeSubnetReadyV0 = "SubnetReady"
	// ConditionTypeBootstrapReady: everything a node is told about the
	// cluster (API server endpoint, CA, bootstrap token, cluster DNS) is
	// known and valid, so a new node can join.
	ConditionTypeBootstrapReady = "BootstrapReady"
	// ConditionTypeLocalDNSReady: spec.localDNS.mode was resolved into
	// status.localDNSState.
	ConditionTypeLocalDNSReady = "LocalDNSReady"
	// ConditionTypeNetworkReady: a node's NIC can be built in the cluster's
	// network (its load balancer pools, NSG and, for kubenet, the subnet's
	// route table are found and agree); the reason names what is not.
	ConditionTypeNetworkReady = "NetworkReady"
)

// NodeImage is a resolved node image and the instance types it fits.
type NodeImage struct {
	// id is the image reference: a community gallery or Shared Image Gallery
	// image version ID.
	// +required
	ID string `json:"id"`
	// requirements select the instance types the image can run on (CPU
	// architecture, HyperV generation).
	// +optional
	Requirements []corev1.NodeSelectorRequirement `json:"requirements,omitempty"`
}

// AKSNodeClassStatus is the resolved state of an AKSNodeClass.
type AKSNodeClassStatus struct {
	// images are the node images resolved for the image family, newest first.
	// +optional
	Images []NodeImage `json:"images,omitempty"`
	// kubernetesVersion is the Kubernetes version nodes are launched with.
	// +optional
	KubernetesVersion *string `json:"kubernetesVersion,omitempty"`
	// conditions report readiness and its parts.
	// +optional
	Conditions []status.Condition `json:"conditions,omitempty"`
	// localDNSState says whether new nodes get LocalDNS, as resolved from
	// spec.localDNS.mode (Preferred resolves to Enabled when the cluster
	// meets LocalDNS's requirements).
	// +kubebuilder:validation:Enum:={Enabled,Disabled}
	// +optional
	LocalDNSState *LocalDNSState `json:"localDNSState,omitempty"`
}

// StatusConditions returns the condition set whose root is Ready.
func (in *AKSNodeClass) StatusConditions(opts ...status.ForOption) status.ConditionSet {
	return status.NewReadyConditions(
		ConditionTypeValidationSucceeded,
		ConditionTypeImagesReady,
		ConditionTypeKubernetesVersionReady,
		ConditionTypeSubnetsReady,
		ConditionTypeBootstrapReady,
		ConditionTypeLocalDNSReady,
		ConditionTypeNetworkReady,
	).For(in, opts...)
}

// GetConditions implements status.Object.
func (in *AKSNodeClass) GetConditions() []status.Condition { return in.Status.Conditions }

// SetConditions implements status.Object.
func (in *AKSNodeClass) SetConditions(conditions []status.Condition) {
	in.Status.Conditions = conditions
}
