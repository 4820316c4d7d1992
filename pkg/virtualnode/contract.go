// Package virtualnode is a virtual kubelet over Azure Container Instances:
// one Node whose pods run as container groups (docs/virtual-nodes.md). It
// is built on virtual-kubelet's node and pod controllers (nodeutil.NewNode:
// the Node, its Lease, the pod informer and the kubelet API); this package
// supplies the provider: pods to container groups through
// pkg/providers/containerinstance, their status back, the node's capacity
// from the subscription's ACI quota, an availability condition, logs and
// garbage collection of groups whose pod is gone.
package virtualnode

import corev1 "k8s.io/api/core/v1"

// The contract with the burst controller and with workloads: what the
// virtual node looks like from the cluster. Labels and taint are those of
// AKS's virtual-nodes add-on, whose node is virtual-kubelet's ACI provider
// (virtual-kubelet/azure-aci): AKS names it virtual-node-aci-linux, and its
// documented usage selects it with nodeSelector type=virtual-kubelet and
// tolerates virtual-kubelet.io/provider
// (learn.microsoft.com/azure/aks/virtual-nodes-cli, "Deploy a sample app").
const (
	// DefaultNodeName is AKS's virtual node for Linux pods.
	DefaultNodeName = "virtual-node-aci-linux"

	// LabelType=LabelTypeValue marks a virtual kubelet (virtual-kubelet's
	// node template; AKS's documented nodeSelector).
	LabelType      = "type"
	LabelTypeValue = "virtual-kubelet"
	// LabelRole=agent is set on AKS's virtual node as on its VM nodes.
	LabelRole      = "kubernetes.io/role"
	LabelRoleValue = "agent"
	// LabelBetaOS is the deprecated OS label virtual-kubelet still sets.
	LabelBetaOS = "beta.kubernetes.io/os"
	// LabelExcludeBalancer and LabelExcludeFromExternalLB keep the node out
	// of load balancer backend pools: virtual-kubelet's node template sets
	// the alpha label; the GA one is Kubernetes' well-known label.
	LabelExcludeBalancer       = "alpha.service-controller.kubernetes.io/exclude-balancer"
	LabelExcludeFromExternalLB = "node.kubernetes.io/exclude-from-external-load-balancers"

	// TaintKey=TaintValue:NoSchedule is virtual-kubelet's default taint
	// (key virtual-kubelet.io/provider, the provider's name as value,
	// NoSchedule), which AKS's add-on keeps: only pods that tolerate it run
	// on ACI.
	TaintKey   = "virtual-kubelet.io/provider"
	TaintValue = "azure"

	// ConditionContainerInstancesAvailable is True while the virtual node
	// takes pods, False for BackOff after ACI refused a create for quota
	// or capacity (reason ReasonQuotaExceeded or ReasonCapacityUnavailable,
	// the message naming ACI's code and message). The burst controller
	// sends no pod to a node where it is False.
	ConditionContainerInstancesAvailable corev1.NodeConditionType = "ContainerInstancesAvailable"
)

// Reasons of the ContainerInstancesAvailable condition.
const (
	ReasonAvailable           = "ContainerInstancesAvailable"
	ReasonQuotaExceeded       = "QuotaExceeded"
	ReasonCapacityUnavailable = "CapacityUnavailable"

	// Pod status reasons and event reasons of a pod the virtual node could
	// not run. The pod stays Pending on the node (never Failed); the burst
	// controller evicts such pods so they wait for VMs.
	//
	// ReasonContainerGroupRefused: ACI refused the group (quota, capacity,
	// a body it did not accept); the event names ACI's code and message.
	ReasonContainerGroupRefused = "ContainerGroupRefused"
	// ReasonCannotRunOnACI: the pod cannot be a container group (a field
	// ACI has no equivalent for, a missing ConfigMap or Secret); the event
	// names the field.
	ReasonCannotRunOnACI = "CannotRunOnContainerInstances"
	// ReasonContainerInstancesUnavailable: the pod arrived while the
	// condition was False; it is not sent to ACI until it is True again.
	ReasonContainerInstancesUnavailable = "ContainerInstancesUnavailable"
)

// Taint is the virtual node's taint.
var Taint = corev1.Taint{Key: TaintKey, Value: TaintValue, Effect: corev1.TaintEffectNoSchedule}

// Labels are the virtual node's labels besides kubernetes.io/hostname.
func Labels() map[string]string {
	return map[string]string{
		LabelType:                  LabelTypeValue,
		LabelRole:                  LabelRoleValue,
		corev1.LabelOSStable:       "linux",
		LabelBetaOS:                "linux",
		corev1.LabelArchStable:     "amd64",
		LabelExcludeBalancer:       "true",
		LabelExcludeFromExternalLB: "true",
	}
}
