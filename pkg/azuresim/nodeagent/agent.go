// Package nodeagent plays kubelet (and the node-lifecycle controller) for
// azuresim's VMs: it registers a Node when a VM finishes provisioning, from
// the VM's bootstrap document and SKU, flags spot evictions on the Node, and
// deletes the Node when the VM goes. kwok then keeps the Node alive.
package nodeagent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/workqueue"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
)

// Annotations and condition names.
const (
	KwokAnnotation      = "kwok.x-k8s.io/node"
	KwokAnnotationValue = "fake"
	ConditionPreemption = "PreemptionScheduled"
	ReasonSpotEviction  = "SpotEvictionIncoming"
	ProviderIDPrefix    = "azure://"
	defaultOSDiskGB     = 30 // Azure marketplace Linux image default when the VM does not say
)

// VM is the agent's view of a simulated VM.
type VM struct {
	ID, Subscription, ResourceGroup, Name, ComputerName, Location, Zone string
	SKU                                                                 *catalog.SKU
	Spot                                                                bool
	VMID                                                                string
	Created                                                             time.Time
	Running                                                             bool // provisioned and powered on
	EvictionNotBefore                                                   *time.Time
	// CustomData is osProfile.customData as ARM received it (base64).
	CustomData string
	// Windows is whether the VM runs Windows (its OS disk's osType).
	Windows bool
	// ImageID is the image reference the VM was created from.
	ImageID      string
	OSDiskSizeGB int
	PrivateIP    string
	Tags         map[string]string
}

// Source is where VMs come from (the azuresim server).
type Source interface {
	LookupVM(id string) (VM, bool)
	ListVMs() []VM
	Watch(func(vmID string))
}

// Options configure an Agent.
type Options struct {
	Client kubernetes.Interface
	Source Source
	Logger *slog.Logger
	// ResyncPeriod is how often every Node is checked against its VM.
	ResyncPeriod time.Duration
	// Workers is the number of reconcile workers.
	Workers int
}

// Agent registers and removes Nodes for VMs.
type Agent struct {
	opts  Options
	log   *slog.Logger
	queue workqueue.TypedRateLimitingInterface[string]

	mu        sync.Mutex
	nodeNames map[string]string // lower(VM ID) -> Node name
	noted     map[string]bool   // VMs already logged about (bad bootstrap data, eviction events)
}

// New builds an agent; Run starts it.
func New(opts Options) *Agent {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ResyncPeriod == 0 {
		opts.ResyncPeriod = 30 * time.Second
	}
	if opts.Workers == 0 {
		opts.Workers = 2
	}
	return &Agent{opts: opts, log: opts.Logger, nodeNames: map[string]string{}, noted: map[string]bool{}}
}

// Run reconciles until ctx ends, then waits for its workers. An Agent runs once.
func (a *Agent) Run(ctx context.Context) error {
	// The queue is made here, not in New, because it owns a goroutine that
	// only ShutDown (at the end of Run) stops.
	a.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](20*time.Millisecond, 5*time.Second),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "azuresim-nodeagent"})
	a.opts.Source.Watch(func(id string) { a.queue.Add(lower(id)) })
	var wg sync.WaitGroup
	for range a.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a.processNext(ctx) {
			}
		}()
	}
	a.resync(ctx)
	t := time.NewTicker(a.opts.ResyncPeriod)
	defer t.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-t.C:
			a.resync(ctx)
		}
	}
	a.queue.ShutDown()
	wg.Wait()
	return nil
}

// resync queues every VM and every Node this agent manages, so Nodes of
// VMs that vanished (reset, restart) are removed.
func (a *Agent) resync(ctx context.Context) {
	for _, vm := range a.opts.Source.ListVMs() {
		a.queue.Add(lower(vm.ID))
	}
	nodes, err := a.opts.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("node agent: listing nodes failed", "err", err)
		}
		return
	}
	for _, n := range nodes.Items {
		if n.Annotations[KwokAnnotation] != KwokAnnotationValue || !strings.HasPrefix(n.Spec.ProviderID, ProviderIDPrefix) {
			continue
		}
		id := lower(strings.TrimPrefix(n.Spec.ProviderID, ProviderIDPrefix))
		a.mu.Lock()
		a.nodeNames[id] = n.Name
		a.mu.Unlock()
		a.queue.Add(id)
	}
}

func (a *Agent) processNext(ctx context.Context) bool {
	id, quit := a.queue.Get()
	if quit {
		return false
	}
	defer a.queue.Done(id)
	requeue, err := a.reconcile(ctx, id)
	switch {
	case err != nil && ctx.Err() == nil:
		a.log.Warn("node agent: reconcile failed, retrying", "vm", id, "err", err)
		a.queue.AddRateLimited(id)
	case requeue > 0:
		a.queue.Forget(id)
		a.queue.AddAfter(id, requeue)
	default:
		a.queue.Forget(id)
	}
	return true
}

// ProviderID is the Node providerID of a VM, as the Azure cloud provider sets it.
func ProviderID(vmID string) string { return ProviderIDPrefix + vmID }

func (a *Agent) reconcile(ctx context.Context, id string) (time.Duration, error) {
	vm, ok := a.opts.Source.LookupVM(id)
	nodes := a.opts.Client.CoreV1().Nodes()
	if !ok || !vm.Running {
		a.mu.Lock()
		name, known := a.nodeNames[id]
		a.mu.Unlock()
		if !known {
			return 0, nil
		}
		err := nodes.Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return 0, err
		}
		a.mu.Lock()
		delete(a.nodeNames, id)
		a.mu.Unlock()
		a.log.Info("node agent: node deleted", "node", name, "vm", vm.ID)
		return 0, nil
	}
	boot, err := bootstrap.Decode(osOf(vm), vm.CustomData)
	if err != nil {
		// A real node with unusable bootstrap data never joins.
		a.mu.Lock()
		logged := a.noted[id]
		a.noted[id] = true
		a.mu.Unlock()
		if !logged {
			a.log.Warn("node agent: VM has no usable bootstrap data; node will not join", "vm", vm.ID, "err", err)
		}
		return 0, nil
	}
	name := nodeName(vm)
	node, err := nodes.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		node, err = a.create(ctx, vm, boot, name)
	}
	if err != nil {
		return 0, err
	}
	if node.Spec.ProviderID != ProviderID(vm.ID) {
		return 0, fmt.Errorf("node %s exists with providerID %q, not %q", name, node.Spec.ProviderID, ProviderID(vm.ID))
	}
	a.mu.Lock()
	a.nodeNames[id] = name
	a.mu.Unlock()
	if node, err = a.ensureStatus(ctx, node, vm, boot); err != nil {
		return 0, err
	}
	if vm.EvictionNotBefore != nil {
		return 0, a.markPreemption(ctx, node, *vm.EvictionNotBefore)
	}
	return 0, nil
}

func nodeName(vm VM) string {
	if vm.ComputerName != "" {
		return lower(vm.ComputerName)
	}
	return lower(vm.Name)
}

// create registers the Node object as kubelet does: metadata and spec only.
// kube-apiserver admission adds the not-ready taint, which the node
// lifecycle controller removes once the node reports Ready.
func (a *Agent) create(ctx context.Context, vm VM, boot *bootstrap.Config, name string) (*corev1.Node, error) {
	nodes := a.opts.Client.CoreV1().Nodes()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   name,
			Labels: a.labels(vm, boot, name),
			Annotations: map[string]string{
				KwokAnnotation:                 KwokAnnotationValue,
				"node.alpha.kubernetes.io/ttl": "0",
			},
		},
		Spec: corev1.NodeSpec{
			ProviderID: ProviderID(vm.ID),
			Taints:     append([]corev1.Taint{}, boot.Taints...),
		},
	}
	created, err := nodes.Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nodes.Get(ctx, name, metav1.GetOptions{})
	}
	if err == nil {
		a.log.Info("node agent: node registered", "node", name, "vm", vm.ID, "size", vm.SKU.Name, "zone", vm.Zone)
	}
	return created, err
}

// ensureStatus makes the Node's status say what the VM is: capacity and
// allocatable from the VM size and the bootstrap data, nodeInfo from the
// bootstrap data and the image, the addresses, and (on first report) the
// kubelet's conditions. It writes only when something differs, so it is
// cheap to run on every resync, and it puts back any figure that something
// else changed: as a kubelet would on its next status report.
func (a *Agent) ensureStatus(ctx context.Context, node *corev1.Node, vm VM, boot *bootstrap.Config) (*corev1.Node, error) {
	want := a.status(vm, boot, node.Name)
	ready := false
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = true
		}
	}
	if ready && node.Status.Phase == corev1.NodeRunning && node.Status.NodeInfo == want.NodeInfo &&
		equality.Semantic.DeepEqual(node.Status.Capacity, want.Capacity) &&
		equality.Semantic.DeepEqual(node.Status.Allocatable, want.Allocatable) &&
		equality.Semantic.DeepEqual(node.Status.Addresses, want.Addresses) {
		return node, nil
	}
	status := map[string]any{
		"capacity": want.Capacity, "allocatable": want.Allocatable, "nodeInfo": want.NodeInfo,
		"addresses": want.Addresses, "phase": corev1.NodeRunning,
	}
	if !ready {
		status["conditions"] = want.Conditions
	}
	updated, err := a.patchStatus(ctx, node.Name, status)
	if err != nil {
		return nil, err
	}
	// A merge cannot drop resource names the node should not have (another
	// writer's extras); replace the lists when they still differ.
	if !equality.Semantic.DeepEqual(updated.Status.Capacity, want.Capacity) || !equality.Semantic.DeepEqual(updated.Status.Allocatable, want.Allocatable) {
		updated.Status.Capacity, updated.Status.Allocatable = want.Capacity, want.Allocatable
		if updated, err = a.opts.Client.CoreV1().Nodes().UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil {
			return nil, err
		}
	}
	if ready {
		a.log.Warn("node agent: node status differed from its VM; restored", "node", node.Name, "vm", vm.ID)
	}
	return updated, nil
}

// patchStatus applies a strategic merge patch to the Node's status, without
// a resourceVersion: conditions merge by type and resource lists by name, so
// nothing another writer owns (kwok's heartbeats) is lost, and no concurrent
// spec update (taints) makes the status write fail.
func (a *Agent) patchStatus(ctx context.Context, name string, status map[string]any) (*corev1.Node, error) {
	data, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return nil, err
	}
	return a.opts.Client.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, data, metav1.PatchOptions{}, "status")
}

// status is the Node status a kubelet on the VM reports.
func (a *Agent) status(vm VM, boot *bootstrap.Config, name string) corev1.NodeStatus {
	capacity, allocatable := a.resources(vm, boot)
	now := metav1.Now()
	st := corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: allocatable,
		Phase:       corev1.NodeRunning,
		Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status", LastHeartbeatTime: now, LastTransitionTime: now},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available", LastHeartbeatTime: now, LastTransitionTime: now},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure", LastHeartbeatTime: now, LastTransitionTime: now},
			{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available", LastHeartbeatTime: now, LastTransitionTime: now},
		},
		Addresses: []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID: strings.ReplaceAll(vm.VMID, "-", ""), SystemUUID: vm.VMID, BootID: vm.VMID,
			KernelVersion: "5.15.0-1079-azure", OSImage: "Ubuntu 22.04.5 LTS", ContainerRuntimeVersion: "containerd://1.7.27-1",
			KubeletVersion: "v" + boot.KubernetesVersion, OperatingSystem: strings.ToLower(string(osOf(vm))), Architecture: arch(vm.SKU),
		},
	}
	if vm.PrivateIP != "" {
		st.Addresses = append([]corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: vm.PrivateIP}}, st.Addresses...)
	}
	return st
}

func osOf(vm VM) bootstrap.OS {
	if vm.Windows {
		return bootstrap.Windows
	}
	return bootstrap.Linux
}

func arch(s *catalog.SKU) string {
	if s.CPUArchitecture == "Arm64" {
		return "arm64"
	}
	return "amd64"
}

// labels are the bootstrap labels plus what kubelet and the Azure cloud
// node manager set.
func (a *Agent) labels(vm VM, boot *bootstrap.Config, name string) map[string]string {
	l := map[string]string{}
	for k, v := range boot.Labels {
		l[k] = v
	}
	zone := "0"
	if vm.Zone != "" {
		zone = vm.Location + "-" + vm.Zone
	}
	for k, v := range map[string]string{
		corev1.LabelHostname:           name,
		corev1.LabelOSStable:           strings.ToLower(string(osOf(vm))),
		corev1.LabelArchStable:         arch(vm.SKU),
		corev1.LabelInstanceTypeStable: vm.SKU.Name,
		corev1.LabelTopologyRegion:     vm.Location,
		corev1.LabelTopologyZone:       zone,
	} {
		l[k] = v
	}
	return l
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
		corev1.ResourceMemory:           *resource.NewQuantity(bootstrap.NodeMemoryMiB(vm.SKU.MemoryGiB)<<20, resource.BinarySI),
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
		if pct, isPct := strings.CutSuffix(v, "%"); isPct {
			var f float64
			if _, err := fmt.Sscanf(pct, "%g", &f); err != nil {
				return
			}
			c := capacity[name]
			amount = *resource.NewQuantity(int64(float64(c.Value())*f/100), c.Format)
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

// markPreemption sets PreemptionScheduled and records an Event, as AKS
// surfaces an Azure Scheduled Events Preempt notice.
func (a *Agent) markPreemption(ctx context.Context, node *corev1.Node, notBefore time.Time) error {
	for _, c := range node.Status.Conditions {
		if c.Type == ConditionPreemption && c.Status == corev1.ConditionTrue {
			return nil
		}
	}
	now := metav1.Now()
	msg := fmt.Sprintf("Azure Scheduled Events: Preempt, NotBefore %s", notBefore.UTC().Format(time.RFC1123))
	if _, err := a.patchStatus(ctx, node.Name, map[string]any{"conditions": []corev1.NodeCondition{{
		Type: ConditionPreemption, Status: corev1.ConditionTrue, Reason: ReasonSpotEviction, Message: msg,
		LastHeartbeatTime: now, LastTransitionTime: now,
	}}}); err != nil {
		return err
	}
	a.mu.Lock()
	first := !a.noted["event/"+node.Name]
	a.noted["event/"+node.Name] = true
	a.mu.Unlock()
	if !first {
		return nil
	}
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: node.Name + ".", Namespace: metav1.NamespaceDefault},
		InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: node.Name, UID: node.UID, APIVersion: "v1"},
		Reason:         ReasonSpotEviction, Message: msg, Type: corev1.EventTypeWarning,
		Source:         corev1.EventSource{Component: "azuresim-node-agent", Host: node.Name},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	if _, err := a.opts.Client.CoreV1().Events(metav1.NamespaceDefault).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		a.log.Warn("node agent: recording eviction event failed", "node", node.Name, "err", err)
	}
	a.log.Info("node agent: spot eviction flagged", "node", node.Name, "notBefore", notBefore)
	return nil
}

func lower(s string) string { return strings.ToLower(s) }
