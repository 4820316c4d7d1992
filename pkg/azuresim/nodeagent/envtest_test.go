package nodeagent_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim/nodeagent"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
)

// assets finds etcd and kube-apiserver: KUBEBUILDER_ASSETS, else the
// repository's bin/ built by hack/build-tools.sh.
func assets(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		_, file, _, _ := goruntime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "..", "..", "bin")
	}
	for _, b := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			t.Skipf("envtest skipped: %s not found in %s (build it with hack/build-tools.sh or set KUBEBUILDER_ASSETS)", b, dir)
		}
	}
	return dir
}

// TestNodeAgentAgainstAPIServer drives the whole path a provider takes: SDK
// creates a NIC and a VM whose customData carries the bootstrap document;
// the agent registers the Node in a real kube-apiserver and reports its
// status (the not-ready taint admission adds is kube-controller-manager's to
// remove, as on a real cluster); a spot eviction flags the Node, and the Node
// goes with the VM.
func TestNodeAgentAgainstAPIServer(t *testing.T) {
	env := &envtest.Environment{BinaryAssetsDirectory: assets(t)}
	rc, err := env.Start()
	if err != nil {
		t.Fatalf("envtest: %v", err)
	}
	defer func() {
		if err := env.Stop(); err != nil {
			t.Errorf("envtest stop: %v", err)
		}
	}()
	client := kubernetes.NewForConfigOrDie(rc)

	cfg := azuresim.DefaultConfig()
	cfg.TimeScale = 0.001
	cfg.Spot.NoticePeriod = azuresim.Duration{Duration: 2 * time.Minute} // 120 ms here
	srv, err := azuresim.NewServer(azuresim.Options{Config: &cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	agentCtx, stopAgent := context.WithCancel(ctx)
	agentDone := make(chan struct{})
	agent := nodeagent.New(nodeagent.Options{Client: client, Source: srv, Logger: slog.New(slog.DiscardHandler), ResyncPeriod: time.Second})
	go func() { defer close(agentDone); _ = agent.Run(agentCtx) }()
	defer func() { stopAgent(); <-agentDone }()

	const sub, rg = "00000000-0000-0000-0000-000000000009", "rg"
	poll := &runtime.PollUntilDoneOptions{Frequency: 5 * time.Millisecond}
	netF, _ := armnetwork.NewClientFactory(sub, srv.Credential(), srv.ClientOptions())
	computeF, _ := armcompute.NewClientFactory(sub, srv.Credential(), srv.ClientOptions())
	vp, err := netF.NewVirtualNetworksClient().BeginCreateOrUpdate(ctx, rg, "vnet", armnetwork.VirtualNetwork{Location: lo.ToPtr("eastus"),
		Properties: &armnetwork.VirtualNetworkPropertiesFormat{Subnets: []*armnetwork.Subnet{{Name: lo.ToPtr("nodes"), Properties: &armnetwork.SubnetPropertiesFormat{AddressPrefix: lo.ToPtr("10.10.0.0/16")}}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vp.PollUntilDone(ctx, poll); err != nil {
		t.Fatal(err)
	}
	np, err := netF.NewInterfacesClient().BeginCreateOrUpdate(ctx, rg, "spot-1", armnetwork.Interface{Location: lo.ToPtr("eastus"), Properties: &armnetwork.InterfacePropertiesFormat{
		IPConfigurations: []*armnetwork.InterfaceIPConfiguration{{Name: lo.ToPtr("c"), Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{
			Subnet: &armnetwork.Subnet{ID: lo.ToPtr("/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Network/virtualNetworks/vnet/subnets/nodes")}}}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	nic, err := np.PollUntilDone(ctx, poll)
	if err != nil {
		t.Fatal(err)
	}
	artifact, err := bootstrap.Render(&bootstrap.Config{
		OS: bootstrap.Linux,
		Cluster: bootstrap.Cluster{APIServerName: "envtest.hcp.eastus.azmk8s.io", CACertificate: rc.CAData, BootstrapToken: "abcdef.0123456789abcdef",
			NetworkPlugin: "azure"},
		KubernetesVersion: "1.35.1",
		VMSize:            "Standard_D2s_v5",
		Labels:            map[string]string{"karpenter.sh/capacity-type": "spot", "kubernetes.azure.com/scalesetpriority": "spot"},
		Kubelet:           bootstrap.Kubelet{MaxPods: 30, KubeReserved: map[string]string{"cpu": "100m", "memory": "1843Mi"}, EvictionHard: map[string]string{"memory.available": "750Mi"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	vmp, err := computeF.NewVirtualMachinesClient().BeginCreateOrUpdate(ctx, rg, "spot-1", armcompute.VirtualMachine{
		Location: lo.ToPtr("eastus"), Zones: []*string{lo.ToPtr("3")},
		Properties: &armcompute.VirtualMachineProperties{
			HardwareProfile: &armcompute.HardwareProfile{VMSize: lo.ToPtr(armcompute.VirtualMachineSizeTypes("Standard_D2s_v5"))},
			Priority:        lo.ToPtr(armcompute.VirtualMachinePriorityTypesSpot), EvictionPolicy: lo.ToPtr(armcompute.VirtualMachineEvictionPolicyTypesDelete),
			OSProfile:      &armcompute.OSProfile{ComputerName: lo.ToPtr("spot-1"), AdminUsername: lo.ToPtr("azureuser"), CustomData: lo.ToPtr(artifact.CustomData)},
			StorageProfile: &armcompute.StorageProfile{OSDisk: &armcompute.OSDisk{CreateOption: lo.ToPtr(armcompute.DiskCreateOptionTypesFromImage), DiskSizeGB: lo.ToPtr[int32](64)}},
			NetworkProfile: &armcompute.NetworkProfile{NetworkInterfaces: []*armcompute.NetworkInterfaceReference{{ID: nic.ID}}},
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := vmp.PollUntilDone(ctx, poll)
	if err != nil {
		t.Fatal(err)
	}

	var node *corev1.Node
	wait(t, "Node registered and Ready", func() bool {
		n, err := client.CoreV1().Nodes().Get(ctx, "spot-1", metav1.GetOptions{})
		if err != nil {
			return false
		}
		node = n
		ready := lo.ContainsBy(n.Status.Conditions, func(c corev1.NodeCondition) bool {
			return c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
		})
		return ready
	})
	if node.Spec.ProviderID != "azure://"+*vm.ID || node.Labels["topology.kubernetes.io/zone"] != "eastus-3" || node.Labels["karpenter.sh/capacity-type"] != "spot" {
		t.Errorf("node %s: providerID %q labels %v", node.Name, node.Spec.ProviderID, node.Labels)
	}
	if pods := node.Status.Allocatable[corev1.ResourcePods]; pods.Value() != 30 {
		t.Errorf("allocatable pods %v", pods.String())
	}

	if err := srv.Evict(*vm.ID, 0); err != nil {
		t.Fatal(err)
	}
	wait(t, "PreemptionScheduled condition and event", func() bool {
		n, err := client.CoreV1().Nodes().Get(ctx, "spot-1", metav1.GetOptions{})
		if apiGone(err) {
			return false
		}
		evs, _ := client.CoreV1().Events(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{})
		return err == nil && lo.ContainsBy(n.Status.Conditions, func(c corev1.NodeCondition) bool {
			return c.Type == nodeagent.ConditionPreemption && c.Reason == nodeagent.ReasonSpotEviction
		}) && evs != nil && len(evs.Items) > 0
	})
	wait(t, "Node deleted with the evicted VM", func() bool {
		_, err := client.CoreV1().Nodes().Get(ctx, "spot-1", metav1.GetOptions{})
		return apiGone(err)
	})
}

func apiGone(err error) bool { return apierrors.IsNotFound(err) }

func wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
