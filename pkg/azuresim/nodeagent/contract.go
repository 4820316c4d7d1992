package nodeagent

// The node image's side of the bootstrap contract: a VM whose custom data
// lacks a value its image needs does in simulation what it does on Azure.
// The values and what becomes of a node without each are package
// contract's table, the one the provider's launches and its contract matrix
// test are checked against; the combination (image, network setup,
// features) is what the node itself sees: its VM's image and its
// AKSNodeConfig.

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/contract"
)

// imageContract checks a VM's custom data against its node image's
// contract. It returns the worst effect of the values that are missing or
// wrong and why, or "" when the node provisions as it should. Values whose
// absence only degrades a joined node (contract.Degraded) do not keep it
// from joining, as on Azure.
func imageContract(vm VM) (contract.Effect, string) {
	if vm.Windows {
		return windowsContract(vm)
	}
	cfg, err := bootstrap.DecodeNodeConfig(vm.CustomData)
	if err != nil {
		return contract.NoNode, err.Error()
	}
	n, ok := contract.NodeOf(vm.ImageID, cfg)
	if !ok {
		// Not an AKS image definition the contract knows: nothing to check.
		return "", ""
	}
	var enforced []contract.Violation
	for _, v := range contract.Check(cfg, n) {
		if v.Field.Effect != contract.Degraded {
			enforced = append(enforced, v)
		}
	}
	if len(enforced) == 0 {
		return "", ""
	}
	return contract.Worst(enforced), fmt.Sprintf("%s: %s", n, contract.Errors(enforced))
}

// windowsContract checks what AKS's Windows setup needs from the custom data
// beyond what Decode requires.
func windowsContract(vm VM) (contract.Effect, string) {
	boot, err := bootstrap.Decode(bootstrap.Windows, vm.CustomData)
	if err != nil {
		return contract.NoNode, err.Error()
	}
	if err := bootstrap.WindowsRequired(boot); err != nil {
		return contract.NoNode, err.Error()
	}
	return "", ""
}

// ensureNotReady reports the Node as a kubelet whose node cannot become
// Ready does: registered, with its capacity, and Ready False naming why
// (no pod sandbox or CNI: the runtime's network never becomes ready). Its
// cloud-node-manager, a pod, never runs, so the node stays uninitialized
// (no providerID) and karpenter replaces it when registration times out.
func (a *Agent) ensureNotReady(ctx context.Context, kubelet *kubelet, node *corev1.Node, vm VM, boot *bootstrap.Config, why string) error {
	want := a.status(vm, boot)
	message := "container runtime network not ready: the node image could not provision it: " + why
	for i := range want.Conditions {
		if want.Conditions[i].Type == corev1.NodeReady {
			want.Conditions[i].Status, want.Conditions[i].Reason, want.Conditions[i].Message = corev1.ConditionFalse, "KubeletNotReady", message
		}
	}
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionFalse && c.Message == message {
			return nil
		}
	}
	nodes, err := kubelet.Nodes(ctx)
	if err != nil {
		return &notJoinedError{err}
	}
	_, err = patchStatus(ctx, nodes, node.Name, map[string]any{
		"capacity": want.Capacity, "allocatable": want.Allocatable, "nodeInfo": want.NodeInfo, "phase": corev1.NodeRunning,
		"conditions": want.Conditions,
	})
	return err
}
