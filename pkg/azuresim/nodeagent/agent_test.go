package nodeagent

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	"github.com/azkarpenter/azkarpenter/pkg/test/poll"
)

// fakeSource is an in-memory VM source.
type fakeSource struct {
	mu       sync.Mutex
	vms      map[string]VM
	watchers []func(string)
	reports  map[string]NodeReport
}

func (f *fakeSource) LookupVM(id string) (VM, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.vms[lower(id)]
	return v, ok
}

func (f *fakeSource) ListVMs() []VM {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []VM
	for _, v := range f.vms {
		out = append(out, v)
	}
	return out
}

func (f *fakeSource) Watch(fn func(string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.watchers = append(f.watchers, fn)
}

func (f *fakeSource) ReportNode(id string, r NodeReport) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reports == nil {
		f.reports = map[string]NodeReport{}
	}
	f.reports[lower(id)] = r
}

func (f *fakeSource) report(id string) NodeReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reports[lower(id)]
}

func (f *fakeSource) set(v VM, present bool) {
	f.mu.Lock()
	if present {
		f.vms[lower(v.ID)] = v
	} else {
		delete(f.vms, lower(v.ID))
	}
	ws := append([]func(string){}, f.watchers...)
	f.mu.Unlock()
	for _, w := range ws {
		w(v.ID)
	}
}

// bootstrapConfig is a node's bootstrap configuration, as the provider
// renders it.
func bootstrapConfig() *bootstrap.Config {
	return &bootstrap.Config{
		OS: bootstrap.Linux,
		Cluster: bootstrap.Cluster{
			APIServerName: "test-dns.hcp.eastus.azmk8s.io", CACertificate: testCA, BootstrapToken: "abcdef.0123456789abcdef",
			NetworkPlugin: "none",
		},
		KubernetesVersion: "1.35.1",
		VMSize:            "Standard_D4s_v3",
		Labels:            map[string]string{"karpenter.sh/nodepool": "default", "kubernetes.azure.com/agentpool": "default"},
		Taints: []corev1.Taint{
			{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule},
			{Key: "node.cilium.io/agent-not-ready", Value: "true", Effect: corev1.TaintEffectNoExecute},
		},
		Kubelet: bootstrap.Kubelet{MaxPods: 110, KubeReserved: map[string]string{"cpu": "140m", "memory": "2662Mi"},
			EvictionHard: map[string]string{"memory.available": "750Mi", "nodefs.available": "10%"}},
	}
}

// testCA is any PEM certificate: the agent does not dial the API server here.
var testCA = []byte("-----BEGIN CERTIFICATE-----\nMIIBazCCARGgAwIBAgIUAAAAAAAAAAAAAAAAAAAAAAAAAAAwCgYIKoZIzj0EAwIw\n-----END CERTIFICATE-----\n")

func customData(t testing.TB, c *bootstrap.Config) string {
	t.Helper()
	a, err := bootstrap.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	return a.CustomData
}

func testVM(t testing.TB, size string) VM {
	sku, ok := catalog.Default().SKU(size)
	if !ok {
		t.Fatalf("no SKU %s", size)
	}
	return VM{ID: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/aks-default-abc", Subscription: "s",
		ResourceGroup: "rg", Name: "aks-default-abc", ComputerName: "aks-default-abc", Location: "eastus", Zone: "2", SKU: sku,
		VMID: "6a2b1c9e-0000-4000-8000-000000000001", Running: true, CustomData: customData(t, bootstrapConfig()), OSDiskSizeGB: 128, PrivateIP: "10.1.0.4"}
}

func TestResources(t *testing.T) {
	a := New(Options{})
	boot := bootstrapConfig()
	cases := []struct {
		size                     string
		cpu, allocCPU, mem, gpus string
		allocMem                 string
	}{
		// The guest sees the size's memory less the VM overhead the provider
		// assumes (bootstrap.NodeMemoryMiB, 7.5%): 16 GiB → 15155Mi, less
		// 2662Mi kube-reserved and 750Mi eviction; 220 GiB → 208384Mi.
		{size: "Standard_D4s_v3", cpu: "4", allocCPU: "3860m", mem: "15155Mi", allocMem: "11743Mi"},
		{size: "Standard_NC24ads_A100_v4", cpu: "24", allocCPU: "23860m", mem: "208384Mi", allocMem: "204972Mi", gpus: "1"},
	}
	for _, tc := range cases {
		vm := testVM(t, tc.size)
		capacity, alloc := a.resources(vm, boot)
		eq := func(what string, got resource.Quantity, want string) {
			if got.Cmp(resource.MustParse(want)) != 0 {
				t.Errorf("%s %s: %s, want %s", tc.size, what, got.String(), want)
			}
		}
		eq("cpu", capacity[corev1.ResourceCPU], tc.cpu)
		eq("allocatable cpu", alloc[corev1.ResourceCPU], tc.allocCPU)
		eq("memory", capacity[corev1.ResourceMemory], tc.mem)
		if got, want := capacity[corev1.ResourceMemory], bootstrap.NodeMemoryMiB(vm.SKU.MemoryGiB, bootstrap.DefaultVMMemoryOverheadPercent)<<20; got.Value() != want {
			t.Errorf("%s memory %d, want the shared rule's %d", tc.size, got.Value(), want)
		}
		eq("allocatable memory", alloc[corev1.ResourceMemory], tc.allocMem)
		eq("pods", alloc[corev1.ResourcePods], "110")
		eq("ephemeral-storage", capacity[corev1.ResourceEphemeralStorage], "128Gi")
		eq("allocatable ephemeral-storage", alloc[corev1.ResourceEphemeralStorage], "123695058125") // 128Gi - 10%, rounded down
		if tc.gpus != "" {
			eq("gpus", capacity["nvidia.com/gpu"], tc.gpus)
		} else if _, ok := capacity["nvidia.com/gpu"]; ok {
			t.Errorf("%s: unexpected GPU capacity", tc.size)
		}
	}
}

// TestAgentWithFakeClient drives the agent's logic with one fake
// clientset standing in for both the kubelets' and the cloud provider's
// credentials (the local-cluster test covers the real TLS bootstrap).
func TestAgentWithFakeClient(t *testing.T) {
	client := fake.NewClientset()
	src := &fakeSource{vms: map[string]VM{}}
	var logs syncBuffer
	agent := New(Options{Client: client, Source: src, Logger: slog.New(slog.NewTextHandler(&logs, nil)), ResyncPeriod: 50 * time.Millisecond})
	agent.kubeletNodes = client.CoreV1().Nodes()
	// The fake's reactor chain is not safe to change while the agent reads
	// it, so the refusal used at the end is in place before the agent runs;
	// it matches only the node named "refused".
	var attempts atomic.Int32
	client.PrependReactor("create", "nodes", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if action.(k8stesting.CreateAction).GetObject().(*corev1.Node).Name != "refused" {
			return false, nil, nil
		}
		attempts.Add(1)
		return true, nil, apierrors.NewForbidden(corev1.Resource("nodes"), "refused", errors.New(`node "refused" is not allowed to set the following labels: node-restriction.kubernetes.io/x`))
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = agent.Run(ctx) }()
	defer func() { cancel(); <-done }()

	vm := testVM(t, "Standard_D4s_v3")
	vm.Running = false
	src.set(vm, true)
	poll.Consistently(t, 4*50*time.Millisecond, "no node while the VM is being created", func() bool { return nodeCount(t, client) == 0 })
	vm.Running = true
	src.set(vm, true)
	var node *corev1.Node
	poll.Until(t, 10*time.Second, "node registered and initialized", func() bool {
		n, err := client.CoreV1().Nodes().Get(ctx, "aks-default-abc", metav1.GetOptions{})
		node = n
		return err == nil && len(n.Status.Conditions) > 0 && src.report(vm.ID).Node != ""
	})
	if node.Spec.ProviderID != "azure:///subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/aks-default-abc" {
		t.Errorf("providerID %q", node.Spec.ProviderID)
	}
	wantLabels := map[string]string{"topology.kubernetes.io/zone": "eastus-2", "node.kubernetes.io/instance-type": "Standard_D4s_v3",
		"kubernetes.io/arch": "amd64", "karpenter.sh/nodepool": "default", "topology.kubernetes.io/region": "eastus"}
	for k, v := range wantLabels {
		if node.Labels[k] != v {
			t.Errorf("label %s=%q, want %q", k, node.Labels[k], v)
		}
	}
	if node.Annotations[KwokAnnotation] != KwokAnnotationValue || !hasTaint(node, "dedicated") || !hasTaint(node, "node.cilium.io/agent-not-ready") {
		t.Errorf("annotations %v taints %v", node.Annotations, node.Spec.Taints)
	}
	// The kubelet registered with the uninitialized taint of an external
	// cloud provider; the cloud node manager's pass removed it and set the
	// addresses.
	if hasTaint(node, TaintUninitialized) {
		t.Errorf("taints %v: the cloud node manager should have removed %s", node.Spec.Taints, TaintUninitialized)
	}
	if want := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.1.0.4"}, {Type: corev1.NodeHostName, Address: "aks-default-abc"}}; !reflect.DeepEqual(node.Status.Addresses, want) {
		t.Errorf("addresses %v, want %v", node.Status.Addresses, want)
	}
	if node.Status.NodeInfo.OSImage != "Ubuntu 22.04.5 LTS" || node.Status.NodeInfo.OperatingSystem != "linux" || node.Labels[corev1.LabelOSStable] != "linux" {
		t.Errorf("nodeInfo %+v labels %v", node.Status.NodeInfo, node.Labels)
	}
	if r := src.report(vm.ID); r.Node != "aks-default-abc" || r.JoinError != "" {
		t.Errorf("report %+v", r)
	}
	if node.Status.Conditions[0].Type != corev1.NodeReady || node.Status.Conditions[0].Status != corev1.ConditionTrue {
		t.Errorf("conditions %v", node.Status.Conditions)
	}
	if node.Status.NodeInfo.KubeletVersion != "v1.35.1" {
		t.Errorf("kubeletVersion %q, want the bootstrap data's v1.35.1", node.Status.NodeInfo.KubeletVersion)
	}

	// Whatever else rewrites the node's figures (kwok's default stages did),
	// the agent puts back what the VM is on its next pass.
	capacity := node.Status.Capacity.DeepCopy()
	node.Status.Capacity[corev1.ResourceCPU] = resource.MustParse("1k")
	node.Status.Allocatable[corev1.ResourceMemory] = resource.MustParse("1Ti")
	node.Status.NodeInfo.KubeletVersion = "kwok-v0.7.0"
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, "node status restored", func() bool {
		n, err := client.CoreV1().Nodes().Get(ctx, "aks-default-abc", metav1.GetOptions{})
		c := n.Status.Capacity[corev1.ResourceCPU]
		return err == nil && c.Cmp(capacity[corev1.ResourceCPU]) == 0 && n.Status.NodeInfo.KubeletVersion == "v1.35.1"
	})
	nb := time.Now().Add(time.Minute)
	vm.EvictionNotBefore = &nb
	src.set(vm, true)
	poll.Until(t, 10*time.Second, "preemption condition", func() bool {
		n, err := client.CoreV1().Nodes().Get(ctx, "aks-default-abc", metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, c := range n.Status.Conditions {
			if c.Type == ConditionPreemption && c.Reason == ReasonSpotEviction && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	})
	poll.Until(t, 10*time.Second, "eviction event", func() bool {
		evs, _ := client.CoreV1().Events(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{})
		return len(evs.Items) == 1 && evs.Items[0].Reason == ReasonSpotEviction && evs.Items[0].InvolvedObject.Name == "aks-default-abc"
	})

	src.set(vm, false)
	poll.Until(t, 10*time.Second, "node removed with its VM", func() bool { return nodeCount(t, client) == 0 })

	// A VM without usable bootstrap data never gets a Node.
	bad := testVM(t, "Standard_D2s_v5")
	bad.ID, bad.ComputerName, bad.CustomData = bad.ID+"-bad", "bad", base64.StdEncoding.EncodeToString([]byte("#!/bin/bash"))
	src.set(bad, true)
	poll.Until(t, 10*time.Second, "bad custom data reported", func() bool {
		return strings.Contains(src.report(bad.ID).JoinError, "not an AKS node bootstrap artifact")
	})
	if nodeCount(t, client) != 0 {
		t.Error("node registered without bootstrap data")
	}

	// A node whose registration is refused never joins: the refusal is
	// reported, logged once however often the kubelet retries, and retried.
	refused := testVM(t, "Standard_D2s_v5")
	refused.ID, refused.ComputerName = refused.ID+"-refused", "refused"
	src.set(refused, true)
	poll.Until(t, 10*time.Second, "the refusal retried", func() bool { return attempts.Load() >= 3 })
	if r := src.report(refused.ID); !strings.Contains(r.JoinError, "is not allowed to set the following labels") {
		t.Errorf("report %+v", r)
	}
	if n := strings.Count(logs.String(), "node cannot join"); n != 2 {
		t.Errorf("%d 'node cannot join' log lines, want one per VM (bad custom data, refused):\n%s", n, logs.String())
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func nodeCount(t *testing.T, c *fake.Clientset) int {
	l, err := c.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return len(l.Items)
}

func hasTaint(n *corev1.Node, key string) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key {
			return true
		}
	}
	return false
}

// A VM tagged for an external kubelet is left to it: the agent registers
// nothing and reports no status, and once that kubelet has registered the
// Node the agent plays only the cloud node manager (providerID, cloud
// labels, the uninitialized taint removed) and deletes the Node with the VM.
func TestAgentLeavesExternalKubelet(t *testing.T) {
	client := fake.NewClientset()
	src := &fakeSource{vms: map[string]VM{}}
	agent := New(Options{Client: client, Source: src, Logger: slog.New(slog.DiscardHandler), ResyncPeriod: 50 * time.Millisecond})
	agent.kubeletNodes = client.CoreV1().Nodes()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = agent.Run(ctx) }()
	defer func() { cancel(); <-done }()

	vm := testVM(t, "Standard_D2s_v5")
	vm.Tags = map[string]string{TagKubelet: KubeletExternal}
	src.set(vm, true)
	poll.Consistently(t, 6*50*time.Millisecond, "no node registered by the agent for a VM whose kubelet runs outside it", func() bool {
		return nodeCount(t, client) == 0
	})
	// The real kubelet registers (with --cloud-provider=external).
	if _, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "aks-default-abc", Labels: map[string]string{"karpenter.sh/nodepool": "default"}},
		Spec:       corev1.NodeSpec{Taints: []corev1.Taint{{Key: TaintUninitialized, Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, "node initialized by the cloud node manager", func() bool {
		n, err := client.CoreV1().Nodes().Get(ctx, "aks-default-abc", metav1.GetOptions{})
		return err == nil && n.Spec.ProviderID == ProviderID(vm.ID) && !hasTaint(n, TaintUninitialized) &&
			n.Labels[corev1.LabelInstanceTypeStable] == "Standard_D2s_v5" && src.report(vm.ID).Node == "aks-default-abc"
	})
	n, err := client.CoreV1().Nodes().Get(ctx, "aks-default-abc", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Status.Conditions) != 0 || n.Annotations[KwokAnnotation] != "" {
		t.Errorf("the agent reported status %v or annotated %v for a node it does not run", n.Status.Conditions, n.Annotations)
	}
	src.set(vm, false)
	poll.Until(t, 10*time.Second, "node removed with its VM", func() bool { return nodeCount(t, client) == 0 })
}
