package nodeagent

// The cloud provider's part, with cluster credentials as AKS's
// cloud-node-manager and cloud controllers have them: initializing the Node
// a kubelet registered (providerID, instance type and topology labels,
// addresses, then the uninitialized taint removed), deleting the Node of a
// VM that is gone, and surfacing a spot eviction notice on the Node.

import (
	"context"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// cloudLabels are the labels the cloud node manager sets from the VM: the
// instance type and topology, GA and beta keys alike.
func cloudLabels(vm VM) map[string]string {
	zone := "0"
	if vm.Zone != "" {
		zone = vm.Location + "-" + vm.Zone
	}
	return map[string]string{
		corev1.LabelInstanceTypeStable:      vm.SKU.Name,
		corev1.LabelInstanceType:            vm.SKU.Name,
		corev1.LabelTopologyRegion:          vm.Location,
		corev1.LabelFailureDomainBetaRegion: vm.Location,
		corev1.LabelTopologyZone:            zone,
		corev1.LabelFailureDomainBetaZone:   zone,
	}
}

// cloudAddresses are the node's addresses as the cloud reports them.
func cloudAddresses(vm VM, nodeName string) []corev1.NodeAddress {
	var out []corev1.NodeAddress
	if vm.PrivateIP != "" {
		out = append(out, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: vm.PrivateIP})
	}
	return append(out, corev1.NodeAddress{Type: corev1.NodeHostName, Address: nodeName})
}

func uninitialized(node *corev1.Node) bool {
	for _, t := range node.Spec.Taints {
		if t.Key == TaintUninitialized {
			return true
		}
	}
	return false
}

// initializeNode does what cloud-node-manager does for a node whose kubelet
// runs with --cloud-provider=external: set the providerID and the labels
// from the VM, remove the uninitialized taint (an update with the node's
// resourceVersion, retried on conflict, since taints are replaced as a
// whole), and keep the addresses current. Only then can karpenter core link
// the Node to its NodeClaim, by providerID.
func (a *Agent) initializeNode(ctx context.Context, node *corev1.Node, vm VM) (*corev1.Node, error) {
	nodes := a.opts.Client.CoreV1().Nodes()
	if uninitialized(node) || node.Spec.ProviderID == "" {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			n := node.DeepCopy()
			if n.Spec.ProviderID == "" {
				n.Spec.ProviderID = ProviderID(vm.ID)
			}
			if n.Labels == nil {
				n.Labels = map[string]string{}
			}
			for k, v := range cloudLabels(vm) {
				n.Labels[k] = v
			}
			taints := n.Spec.Taints[:0:0]
			for _, t := range n.Spec.Taints {
				if t.Key != TaintUninitialized {
					taints = append(taints, t)
				}
			}
			n.Spec.Taints = taints
			updated, err := nodes.Update(ctx, n, metav1.UpdateOptions{})
			if apierrors.IsConflict(err) {
				if fresh, getErr := nodes.Get(ctx, node.Name, metav1.GetOptions{}); getErr == nil {
					node = fresh
				}
				return err
			}
			if err != nil {
				return err
			}
			node = updated
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("initializing node %s as the cloud node manager: %w", node.Name, err)
		}
	}
	if want := cloudAddresses(vm, node.Name); !equality.Semantic.DeepEqual(node.Status.Addresses, want) {
		updated, err := patchStatus(ctx, nodes, node.Name, map[string]any{"addresses": want})
		if err != nil {
			return nil, fmt.Errorf("setting the addresses of node %s: %w", node.Name, err)
		}
		node = updated
	}
	return node, nil
}

// deleteNode removes the Node of a VM that is gone, as the cloud node
// lifecycle controller does.
func (a *Agent) deleteNode(ctx context.Context, name string) error {
	err := a.opts.Client.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// Spot eviction notice signals: the node condition a notice shows as.
const (
	SignalPreemptionScheduled = ConditionPreemption
	SignalVMEventScheduled    = ConditionVMEventScheduled
)

// preemptionCondition is the node condition AKS's node-problem-detector sets
// for a Scheduled Events Preempt notice, in one of its two generations:
//
//   - Recent: PreemptionScheduled=True, reason SpotEvictionIncoming, message
//     "Preempt Scheduled: <NotBefore>. For more information, see <link>.
//     EventId: <guid>" (the form Azure/karpenter-provider-azure#1829 quotes;
//     the link is not given there, so the notice names Azure's Scheduled
//     Events documentation).
//   - Older: VMEventScheduled=True, reason VMEventScheduled ("Node Problem
//     Detector (NPD) in AKS nodes", node conditions table), message
//     "Preempt Scheduled: <NotBefore>" (as AKS nodes report it in events).
//
// NotBefore is written as IMDS Scheduled Events write it: RFC 1123 in GMT
// ("Mon, 19 Sep 2016 18:29:47 GMT").
func preemptionCondition(vm VM, notBefore time.Time, now metav1.Time) corev1.NodeCondition {
	when := notBefore.UTC().Format(http.TimeFormat)
	if vm.EvictionSignal == SignalVMEventScheduled {
		return corev1.NodeCondition{Type: ConditionVMEventScheduled, Status: corev1.ConditionTrue, Reason: ReasonVMEventScheduled,
			Message: "Preempt Scheduled: " + when, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	return corev1.NodeCondition{Type: ConditionPreemption, Status: corev1.ConditionTrue, Reason: ReasonSpotEviction,
		Message:           fmt.Sprintf("Preempt Scheduled: %s. For more information, see https://learn.microsoft.com/azure/virtual-machines/linux/scheduled-events. EventId: %s", when, vm.EvictionEventID),
		LastHeartbeatTime: now, LastTransitionTime: now}
}

// markPreemption sets the eviction notice's node condition and records an
// Event, as AKS surfaces an Azure Scheduled Events Preempt notice.
func (a *Agent) markPreemption(ctx context.Context, node *corev1.Node, vm VM) error {
	now := metav1.Now()
	cond := preemptionCondition(vm, *vm.EvictionNotBefore, now)
	for _, c := range node.Status.Conditions {
		if c.Type == cond.Type && c.Status == corev1.ConditionTrue {
			return nil
		}
	}
	if _, err := patchStatus(ctx, a.opts.Client.CoreV1().Nodes(), node.Name, map[string]any{"conditions": []corev1.NodeCondition{cond}}); err != nil {
		return err
	}
	a.mu.Lock()
	first := !a.evictionEvents[node.Name]
	a.evictionEvents[node.Name] = true
	a.mu.Unlock()
	if !first {
		return nil
	}
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: node.Name + ".", Namespace: metav1.NamespaceDefault},
		InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: node.Name, UID: node.UID, APIVersion: "v1"},
		Reason:         cond.Reason, Message: cond.Message, Type: corev1.EventTypeWarning,
		Source:         corev1.EventSource{Component: "azuresim-node-agent", Host: node.Name},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	if _, err := a.opts.Client.CoreV1().Events(metav1.NamespaceDefault).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		a.log.Warn("node agent: recording eviction event failed", "node", node.Name, "err", err)
	}
	a.log.Info("node agent: spot eviction flagged", "node", node.Name, "notBefore", *vm.EvictionNotBefore, "condition", cond.Type)
	return nil
}
