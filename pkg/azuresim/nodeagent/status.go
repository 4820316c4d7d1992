package nodeagent

import (
	"context"
	"encoding/json"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
)

// The Node's status as its kubelet reports it: capacity, allocatable,
// nodeInfo and conditions from the VM size, the bootstrap data and the image.

// ensureStatus makes the Node's status say what the VM is, as its kubelet
// reports it (with the node's own credentials): capacity and allocatable
// from the VM size and the bootstrap data, nodeInfo from the bootstrap data
// and the image, and (on first report) the kubelet's conditions. It writes
// only when something differs, so it is cheap to run on every resync, and it
// puts back any figure that something else changed: as a kubelet would on
// its next status report.
func (a *Agent) ensureStatus(ctx context.Context, kubelet *kubelet, node *corev1.Node, vm VM, boot *bootstrap.Config) (*corev1.Node, error) {
	want := a.status(vm, boot)
	ready := false
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = true
		}
	}
	if ready && node.Status.Phase == corev1.NodeRunning && node.Status.NodeInfo == want.NodeInfo &&
		equality.Semantic.DeepEqual(node.Status.Capacity, want.Capacity) &&
		equality.Semantic.DeepEqual(node.Status.Allocatable, want.Allocatable) {
		return node, nil
	}
	nodes, err := kubelet.Nodes(ctx)
	if err != nil {
		// The kubelet has no certificate (the agent restarted) and cannot
		// bootstrap again: it cannot report.
		return nil, &notJoinedError{err}
	}
	status := map[string]any{
		"capacity": want.Capacity, "allocatable": want.Allocatable, "nodeInfo": want.NodeInfo, "phase": corev1.NodeRunning,
	}
	if !ready {
		status["conditions"] = want.Conditions
	}
	updated, err := patchStatus(ctx, nodes, node.Name, status)
	if err != nil {
		return nil, err
	}
	// A merge cannot drop resource names the node should not have (another
	// writer's extras); replace the lists when they still differ.
	if !equality.Semantic.DeepEqual(updated.Status.Capacity, want.Capacity) || !equality.Semantic.DeepEqual(updated.Status.Allocatable, want.Allocatable) {
		updated.Status.Capacity, updated.Status.Allocatable = want.Capacity, want.Allocatable
		if updated, err = nodes.UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil {
			return nil, err
		}
	}
	if ready {
		a.log.Warn("node agent: node status differed from its VM; restored", "node", node.Name, "vm", vm.ID)
	}
	return updated, nil
}

// patchStatus applies a strategic merge patch to the Node's status, without
// a resourceVersion: conditions and addresses merge by type and resource
// lists by name, so nothing another writer owns (kwok's heartbeats) is lost,
// and no concurrent spec update (taints) makes the status write fail.
func patchStatus(ctx context.Context, nodes corev1client.NodeInterface, name string, status map[string]any) (*corev1.Node, error) {
	data, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return nil, err
	}
	return nodes.Patch(ctx, name, types.StrategicMergePatchType, data, metav1.PatchOptions{}, "status")
}

// status is the Node status a kubelet on the VM reports. It has no
// addresses: with --cloud-provider=external and no --node-ip, the kubelet
// leaves them to the cloud node manager.
func (a *Agent) status(vm VM, boot *bootstrap.Config) corev1.NodeStatus {
	capacity, allocatable := a.resources(vm, boot)
	osInfo := imageOS(vm)
	now := metav1.Now()
	return corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: allocatable,
		Phase:       corev1.NodeRunning,
		Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status", LastHeartbeatTime: now, LastTransitionTime: now},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available", LastHeartbeatTime: now, LastTransitionTime: now},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure", LastHeartbeatTime: now, LastTransitionTime: now},
			{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available", LastHeartbeatTime: now, LastTransitionTime: now},
		},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID: strings.ReplaceAll(vm.VMID, "-", ""), SystemUUID: vm.VMID, BootID: vm.VMID,
			KernelVersion: osInfo.KernelVersion, OSImage: osInfo.OSImage, ContainerRuntimeVersion: osInfo.RuntimeVersion,
			KubeletVersion: "v" + boot.KubernetesVersion, OperatingSystem: osInfo.OS, Architecture: arch(vm.SKU),
		},
	}
}

func arch(s *catalog.SKU) string {
	if s.CPUArchitecture == "Arm64" {
		return "arm64"
	}
	return "amd64"
}

// resources computes capacity from the SKU and allocatable as kubelet does:
// capacity − kubeReserved − systemReserved − hard eviction thresholds.
func (a *Agent) resources(vm VM, boot *bootstrap.Config) (corev1.ResourceList, corev1.ResourceList) {
	disk := vm.OSDiskSizeGB
	if disk == 0 {
		disk = defaultOSDiskGB
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(vm.SKU.VCPUsAvailable), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(bootstrap.NodeMemoryMiB(vm.SKU.MemoryGiB, bootstrap.DefaultVMMemoryOverheadPercent)<<20, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(int64(boot.Kubelet.MaxPods), resource.DecimalSI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(int64(disk)<<30, resource.BinarySI),
		// A kubelet reports the huge page sizes the kernel supports, none
		// reserved unless the OS configuration asks for them.
		"hugepages-1Gi": resource.MustParse("0"),
		"hugepages-2Mi": resource.MustParse("0"),
	}
	if vm.SKU.GPUs > 0 {
		switch strings.ToLower(vm.SKU.GPUManufacturer) {
		case "nvidia":
			capacity["nvidia.com/gpu"] = *resource.NewQuantity(int64(vm.SKU.GPUs), resource.DecimalSI)
		case "amd":
			capacity["amd.com/gpu"] = *resource.NewQuantity(int64(vm.SKU.GPUs), resource.DecimalSI)
		}
	}
	allocatable := capacity.DeepCopy()
	subtract := func(name corev1.ResourceName, v string) {
		q, ok := allocatable[name]
		if !ok {
			return
		}
		var amount resource.Quantity
		if strings.HasSuffix(v, "%") {
			// A percentage of capacity, as the kubelet (and the scheduler's
			// overhead, instancetype.Overhead) computes it.
			c := capacity[name]
			amount = *resource.NewQuantity(bootstrap.ThresholdBytes(c.Value(), v), c.Format)
		} else {
			amount = resource.MustParse(v)
		}
		q.Sub(amount)
		if q.Sign() < 0 {
			q = *resource.NewQuantity(0, q.Format)
		}
		allocatable[name] = q
	}
	for _, m := range []map[string]string{boot.Kubelet.KubeReserved, boot.Kubelet.SystemReserved} {
		for k, v := range m {
			subtract(corev1.ResourceName(k), v)
		}
	}
	for signal, v := range boot.Kubelet.EvictionHard {
		switch signal {
		case "memory.available":
			subtract(corev1.ResourceMemory, v)
		case "nodefs.available":
			subtract(corev1.ResourceEphemeralStorage, v)
		}
	}
	return capacity, allocatable
}
