package burst

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"sigs.k8s.io/karpenter/pkg/utils/resources"

	"github.com/azkarpenter/azkarpenter/pkg/providers/containerinstance"
)

// Refusal is why a pod does not burst: Code is the metric label (a small,
// fixed set), Field the pod's field or the node it is about.
type Refusal struct {
	Code    string
	Field   string
	Message string
}

func (r Refusal) String() string { return r.Field + ": " + r.Message }

// Refusal codes.
const (
	RefusedOwner               = "owner"
	RefusedIneligible          = "ineligible"
	RefusedNoVirtualNode       = "virtual_node_missing"
	RefusedVirtualNodeNotReady = "virtual_node_not_ready"
	RefusedACIUnavailable      = "aci_unavailable"
	RefusedVirtualNodeFull     = "virtual_node_full"
	RefusedRecentlyRefused     = "aci_refused_workload"
	RefusedPlacement           = "placement"
)

// ownerRefusal allows the pods whose owner makes a new one when the pod is
// evicted, which is how a burst pod moves to a VM: a ReplicaSet's (a
// Deployment's) at once, a StatefulSet's once the old one is gone (the
// same name, so a gap). A bare pod would be lost, a Job's pod counts the
// eviction against its backoff limit and reruns its work, a DaemonSet's
// belongs on every node (containerinstance.Check refuses it too).
func ownerRefusal(pod *corev1.Pod) *Refusal {
	for i, o := range pod.OwnerReferences {
		if o.Controller == nil || !*o.Controller {
			continue
		}
		if o.APIVersion == "apps/v1" && (o.Kind == "ReplicaSet" || o.Kind == "StatefulSet") {
			return nil
		}
		return &Refusal{Code: RefusedOwner, Field: fmt.Sprintf("metadata.ownerReferences[%d]", i),
			Message: fmt.Sprintf("owned by %s %s: only ReplicaSet (Deployment) and StatefulSet pods burst, since their owner replaces an evicted pod on a VM", o.Kind, o.Name)}
	}
	return &Refusal{Code: RefusedOwner, Field: "metadata.ownerReferences",
		Message: "a pod without a controller would be lost when it moves to a VM: only ReplicaSet (Deployment) and StatefulSet pods burst"}
}

// podRefusals are the reasons in the pod itself: its owner and what
// containerinstance.Check finds.
func podRefusals(pod *corev1.Pod) []Refusal {
	var out []Refusal
	if r := ownerRefusal(pod); r != nil {
		out = append(out, *r)
	}
	for _, r := range containerinstance.Check(pod) {
		out = append(out, Refusal{Code: RefusedIneligible, Field: r.Field, Message: r.Message})
	}
	return out
}

// nodeRefusal is the virtual node's state when it cannot take the pod:
// missing, not Ready, ACI refusing its creates, or full. onNode are the
// pods bound to it already.
func nodeRefusal(node *corev1.Node, name string, pod *corev1.Pod, onNode []*corev1.Pod) *Refusal {
	field := "node/" + name
	if node == nil {
		return &Refusal{Code: RefusedNoVirtualNode, Field: field, Message: "the virtual node does not exist; is the virtual node component installed?"}
	}
	if c := condition(node, corev1.NodeReady); c == nil || c.Status != corev1.ConditionTrue {
		return &Refusal{Code: RefusedVirtualNodeNotReady, Field: field, Message: "the virtual node is not Ready"}
	}
	if c := condition(node, ConditionContainerInstancesAvailable); c != nil && c.Status == corev1.ConditionFalse {
		return &Refusal{Code: RefusedACIUnavailable, Field: field, Message: fmt.Sprintf("Azure Container Instances refused the virtual node's last create (%s: %s)", c.Reason, c.Message)}
	}
	if r := placementRefusal(node, pod); r != nil {
		return r
	}
	used := resources.RequestsForPods(onNode...)
	want := resources.RequestsForPods(pod)
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods} {
		have := node.Status.Allocatable[name]
		left := have.DeepCopy()
		left.Sub(used[name])
		need := want[name]
		if need.Cmp(left) > 0 {
			return &Refusal{Code: RefusedVirtualNodeFull, Field: field,
				Message: fmt.Sprintf("the virtual node has %s %s left of %s (its ACI quota); the pod needs %s", quantity(left), name, quantity(have), quantity(need))}
		}
	}
	return nil
}

func quantity(q resource.Quantity) string {
	if q.Sign() < 0 {
		return "0"
	}
	return q.String()
}

func condition(node *corev1.Node, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range node.Status.Conditions {
		if node.Status.Conditions[i].Type == t {
			return &node.Status.Conditions[i]
		}
	}
	return nil
}

// unschedulable reports whether kube-scheduler has found no node for the
// pod, and is not about to bind it to a node where it preempts others.
func unschedulable(pod *corev1.Pod) bool {
	if pod.Status.NominatedNodeName != "" {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			return c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable
		}
	}
	return false
}

// terminal reports whether a pod has ended.
func terminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// stuckOnVirtualNode reports whether the virtual node could not run a pod
// bound to it: it stays Pending with one of the virtual node's reasons.
func stuckOnVirtualNode(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodPending && stuckReasons[pod.Status.Reason]
}

// nodeReady reports whether a node is Ready.
func nodeReady(node *corev1.Node) bool {
	c := condition(node, corev1.NodeReady)
	return c != nil && c.Status == corev1.ConditionTrue
}

// platformLabels are the node labels a burst pod's own requirements must
// allow on the virtual node: a container built for another OS or CPU does
// not run on ACI. Its other node requirements (NodePool, zone, size, custom
// labels) say where its VMs go, and the placeholder keeps them.
var platformLabels = []string{corev1.LabelOSStable, corev1.LabelArchStable}

// placementRefusal refuses a pod whose nodeSelector or required node
// affinity asks for an OS or architecture the virtual node does not have.
func placementRefusal(node *corev1.Node, pod *corev1.Pod) *Refusal {
	for _, k := range platformLabels {
		if v, ok := pod.Spec.NodeSelector[k]; ok && v != node.Labels[k] {
			return &Refusal{Code: RefusedPlacement, Field: fmt.Sprintf("spec.nodeSelector[%s]", k),
				Message: fmt.Sprintf("the pod needs %s=%s; the virtual node is %s=%s", k, v, k, node.Labels[k])}
		}
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil
	}
	platform := &corev1.NodeSelector{}
	for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		term := corev1.NodeSelectorTerm{}
		for _, e := range t.MatchExpressions {
			if slices.Contains(platformLabels, e.Key) {
				term.MatchExpressions = append(term.MatchExpressions, e)
			}
		}
		if len(term.MatchExpressions) == 0 {
			return nil // a term that does not constrain the platform
		}
		platform.NodeSelectorTerms = append(platform.NodeSelectorTerms, term)
	}
	if ok, err := corev1helpers.MatchNodeSelectorTerms(node, platform); err == nil && !ok {
		return &Refusal{Code: RefusedPlacement, Field: "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution",
			Message: fmt.Sprintf("the pod's required node affinity rules out the virtual node's %s=%s, %s=%s",
				corev1.LabelOSStable, node.Labels[corev1.LabelOSStable], corev1.LabelArchStable, node.Labels[corev1.LabelArchStable])}
	}
	return nil
}
