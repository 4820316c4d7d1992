package launchtemplate_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/scheduling"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	"github.com/azkarpenter/azkarpenter/pkg/providers/launchtemplate"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

var d4ds = &sku.SKU{Name: "Standard_D4ds_v5", Family: "standardDDSv5Family", Capabilities: map[string]string{
	sku.CapVCPUs: "4", sku.CapMemoryGB: "16", sku.CapMaxResourceVolumeMB: "153600", sku.CapCachedDiskBytes: "107374182400",
	sku.CapSupportedEphemeralPlacements: "ResourceDisk,CacheDisk", sku.CapEphemeralOSDiskSupported: "True",
	sku.CapHyperVGenerations: "V1,V2", sku.CapCPUArchitectureType: "x64", sku.CapAcceleratedNetworking: "True",
}}

func input(capacityType, zone string, edit func(*v1beta1.AKSNodeClass, *karpv1.NodeClaim)) launchtemplate.Input {
	nc := &v1beta1.AKSNodeClass{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	claim := &karpv1.NodeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "general-abcde", Labels: map[string]string{karpv1.NodePoolLabelKey: "general", "team": "a"}},
		Spec: karpv1.NodeClaimSpec{
			Requirements: []karpv1.NodeSelectorRequirementWithMinValues{
				{Key: "example.com/tier", Operator: corev1.NodeSelectorOpIn, Values: []string{"gold"}},
				{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"Standard_D4ds_v5", "Standard_D8ds_v5"}},
			},
			Taints: []corev1.Taint{{Key: "gpu", Value: "true", Effect: corev1.TaintEffectNoSchedule}},
		},
	}
	if edit != nil {
		edit(nc, claim)
	}
	priority := v1beta1.ScaleSetPriorityRegular
	if capacityType == karpv1.CapacityTypeSpot {
		priority = v1beta1.ScaleSetPrioritySpot
	}
	it := &cloudprovider.InstanceType{
		Name: d4ds.Name,
		Requirements: scheduling.NewRequirements(
			scheduling.NewRequirement(corev1.LabelInstanceTypeStable, corev1.NodeSelectorOpIn, d4ds.Name),
			scheduling.NewRequirement(v1beta1.LabelSKUFamily, corev1.NodeSelectorOpIn, "D"),
			scheduling.NewRequirement(v1beta1.LabelSKUHyperVGeneration, corev1.NodeSelectorOpIn, "2"),
			scheduling.NewRequirement(corev1.LabelTopologyZone, corev1.NodeSelectorOpIn, "eastus-1", "eastus-2"),
			scheduling.NewRequirement(v1beta1.LabelSKUGPUName, corev1.NodeSelectorOpDoesNotExist),
		),
	}
	o := &cloudprovider.Offering{Requirements: scheduling.NewRequirements(
		scheduling.NewRequirement(karpv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, capacityType),
		scheduling.NewRequirement(corev1.LabelTopologyZone, corev1.NodeSelectorOpIn, zone),
		scheduling.NewRequirement(v1beta1.AKSLabelScaleSetPriority, corev1.NodeSelectorOpIn, priority),
	), Available: true}
	return launchtemplate.Input{NodeClass: nc, NodeClaim: claim, InstanceType: it, Offering: o, SKU: d4ds, VMName: "aks-general-abcde"}
}

// goldenCA is a fixed cluster CA, so rendered custom data is stable.
var goldenCA = func() []byte {
	b, err := os.ReadFile("testdata/ca.crt")
	if err != nil {
		panic(err)
	}
	return b
}()

func clusterInputs() *testutil.StaticClusterInputs {
	in := testutil.ClusterInputs()
	in.Set(func(i *cluster.Inputs) { i.CACertificate = goldenCA; i.KubernetesVersion = "v1.35.1" }, nil)
	return in
}

// images resolves node images from an in-process azuresim, pinned to the
// versions the golden files name so that they do not move when the
// simulator publishes newer ones.
var images *imagefamily.DefaultProvider

func TestMain(m *testing.M) {
	os.Exit(func() int {
		sim, err := azuresim.NewServer(azuresim.Options{Logger: slog.New(slog.DiscardHandler)})
		if err == nil {
			err = sim.Start()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "starting azuresim:", err)
			return 1
		}
		defer func() { _ = sim.Close() }()
		compute, err := armcompute.NewClientFactory(testutil.SubscriptionID, sim.Credential(), sim.ClientOptions())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		images = imagefamily.NewDefaultProviderFromFactory(compute, imagefamily.Options{
			Location: "eastus", LinuxVersion: "202611.10.0", WindowsVersion: "20348.4405.261112", Windows2025Version: "26100.7171.261112",
			KubernetesVersion: clusterInputs().KubernetesVersion,
		})
		return m.Run()
	}())
}

func provider() *launchtemplate.DefaultProvider {
	return providerWith(clusterInputs())
}

func providerWith(inputs cluster.Provider) *launchtemplate.DefaultProvider {
	return launchtemplate.NewDefaultProvider(launchtemplate.Options{
		ClusterName: "dev", SubscriptionID: "00000000-0000-0000-0000-000000000001", ResourceGroup: "mc_dev_eastus", Location: "eastus",
		SubnetID:       "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/dev-net/providers/Microsoft.Network/virtualNetworks/dev-vnet/subnets/nodes",
		DefaultMaxPods: 30,
	}, images, inputs)
}

func TestBuild(t *testing.T) {
	spec, err := provider().Build(context.Background(), input(karpv1.CapacityTypeOnDemand, "eastus-2", nil))
	if err != nil {
		t.Fatal(err)
	}
	if spec.ComputerName != "aks-general-abcde" || spec.AzureZone != "2" || spec.Zone != "eastus-2" || !spec.AcceleratedNetworking {
		t.Errorf("spec %+v", spec)
	}
	if !spec.OSDisk.Ephemeral() || spec.OSDisk.EphemeralPlacement != "ResourceDisk" || spec.OSDisk.SizeGiB != 128 {
		t.Errorf("OS disk %v", spec.OSDisk)
	}
	if !strings.Contains(spec.Image.ID, "/images/2404gen2containerd/") {
		t.Errorf("image %s", spec.Image.ID)
	}
	// Read back the way the node image reads it.
	b, err := bootstrap.Decode(bootstrap.Linux, spec.Artifact.CustomData)
	if err != nil {
		t.Fatal(err)
	}
	r := bootstrap.KubeReserved(4, 16)
	cpu, mem := resource.MustParse(b.Kubelet.KubeReserved["cpu"]), resource.MustParse(b.Kubelet.KubeReserved["memory"])
	if cpu.MilliValue() != r.CPUMillis || mem.Value() != r.MemoryMiB<<20 || len(b.Kubelet.KubeReserved) != 2 {
		t.Errorf("kubeReserved %v, want %dm and %dMi", b.Kubelet.KubeReserved, r.CPUMillis, r.MemoryMiB)
	}
	// AKS's whole hard eviction set: a kubelet keeps only the signals named.
	if len(b.Kubelet.EvictionHard) != 3 || b.Kubelet.EvictionHard["memory.available"] != "750Mi" ||
		b.Kubelet.EvictionHard["nodefs.available"] != "10%" || b.Kubelet.EvictionHard["nodefs.inodesFree"] != "5%" {
		t.Errorf("evictionHard %v", b.Kubelet.EvictionHard)
	}
	// The pause image the node image (2404gen2containerd 202611.10.0) caches,
	// the security group and route table, the kube-dns IP LocalDNS would use.
	if c0 := b.Cluster; b.PauseImage != "mcr.microsoft.com/oss/v2/kubernetes/pause:3.10.2" || c0.SecurityGroupName != "aks-agentpool-12345678-nsg" ||
		c0.RouteTableName != "aks-agentpool-12345678-routetable" || c0.DNSServiceIP != "10.0.0.10" {
		t.Errorf("pause image %q, cluster %+v", b.PauseImage, b.Cluster)
	}
	c := b.Cluster
	if b.Kubelet.MaxPods != 30 || c.APIServerName != "test-cluster-dns-12345678.hcp.eastus.azmk8s.io" || c.BootstrapToken != testutil.BootstrapToken ||
		string(c.CACertificate) != string(goldenCA) || b.KubernetesVersion != "1.35.1" || b.Kubelet.ClusterDNS != "10.0.0.10" ||
		c.VNetName != "dev-vnet" || c.VNetResourceGroup != "dev-net" || c.SubnetName != "nodes" || c.NetworkPlugin != "none" || b.VMSize != d4ds.Name {
		t.Errorf("bootstrap %+v", b)
	}
	if spec.Artifact.Extension.CommandToExecute != "/opt/azure/containers/aks-node-controller provision-wait" || spec.Artifact.Extension.Type != "CustomScript" {
		t.Errorf("extension %+v", spec.Artifact.Extension)
	}
	for k, v := range map[string]string{
		karpv1.NodePoolLabelKey: "general", "team": "a", "example.com/tier": "gold",
		corev1.LabelInstanceTypeStable: d4ds.Name, corev1.LabelTopologyZone: "eastus-2", karpv1.CapacityTypeLabelKey: "on-demand",
		v1beta1.LabelSKUFamily: "D", v1beta1.AKSLabelMode: "user", karpv1.NodeDoNotSyncTaintsLabelKey: "true", bootstrap.LabelKubeletServingCA: "cluster",
		v1beta1.AKSLabelScaleSetPriority: "regular", v1beta1.AKSLabelStorageProfile: "ephemeral", v1beta1.AKSLabelOSSKU: "Ubuntu",
		v1beta1.AKSLabelInstanceSKU: d4ds.Name, v1beta1.AKSLabelCluster: "mc_dev_eastus", v1beta1.AKSLabelNodeImageVersion: spec.Image.NodeImageVersion,
	} {
		if b.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, b.Labels[k], v)
		}
	}
	// No kubernetes.azure.com/agentpool: a NodePool may share a real agent pool's name.
	for _, k := range []string{v1beta1.LabelSKUHyperVGeneration, v1beta1.AKSLabelFIPSEnabled, corev1.LabelHostname, v1beta1.LabelSKUGPUName, v1beta1.AKSLabelAgentPool} {
		if _, ok := b.Labels[k]; ok {
			t.Errorf("unexpected label %s", k)
		}
	}
	// The NodeClaim's taint, then the one core removes at registration.
	if len(b.Taints) != 2 || b.Taints[0].Key != "gpu" || !b.Taints[1].MatchTaint(&karpv1.UnregisteredNoExecuteTaint) {
		t.Errorf("taints %v", b.Taints)
	}
}

// Missing cluster inputs are a cluster.InputError, which the instance
// provider turns into "NodeClass not ready" before any VM is created.
func TestBuildWithoutInputs(t *testing.T) {
	in := clusterInputs()
	in.Set(nil, &cluster.InputError{Input: "bootstrap token", Reason: "BootstrapTokenNotFound", Message: "missing"})
	_, err := providerWith(in).Build(context.Background(), input(karpv1.CapacityTypeOnDemand, "eastus-1", nil))
	if !cluster.IsInputError(err) {
		t.Errorf("error %v, want a cluster.InputError", err)
	}
}

func TestBuildVariants(t *testing.T) {
	ctx := context.Background()
	spec, err := provider().Build(ctx, input(karpv1.CapacityTypeSpot, "0", func(nc *v1beta1.AKSNodeClass, c *karpv1.NodeClaim) {
		nc.Spec.Security = &v1beta1.Security{TrustedLaunch: &v1beta1.TrustedLaunch{SecureBoot: to.Ptr(true)}}
		nc.Spec.OSDiskType = to.Ptr(v1beta1.OSDiskTypeManaged)
		nc.Spec.MaxPods = to.Ptr(int32(77))
		nc.Spec.ImageFamily = to.Ptr(v1beta1.ImageFamilyAzureLinux)
		c.Labels[v1beta1.AKSLabelMode] = v1beta1.ModeSystem
	}))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		v1beta1.AKSLabelScaleSetPriority: "spot", v1beta1.AKSLabelStorageProfile: "managed",
		v1beta1.AKSLabelMode: "system", v1beta1.AKSLabelOSSKU: "AzureLinux", corev1.LabelTopologyZone: "0",
	} {
		if spec.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, spec.Labels[k], v)
		}
	}
	if spec.AzureZone != "" || spec.Bootstrap.Kubelet.MaxPods != 77 || spec.OSDisk.Ephemeral() || !strings.Contains(spec.Image.ID, "V3gen2TL") {
		t.Errorf("spec %+v", spec)
	}

	win, err := provider().Build(ctx, input(karpv1.CapacityTypeOnDemand, "eastus-1", func(nc *v1beta1.AKSNodeClass, _ *karpv1.NodeClaim) {
		nc.Spec.ImageFamily = to.Ptr(v1beta1.ImageFamilyWindows2022)
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(win.ComputerName) > launchtemplate.MaxWindowsComputerName || win.Labels[v1beta1.AKSLabelOSSKU] != "Windows2022" {
		t.Errorf("Windows spec: computer name %q, labels %v", win.ComputerName, win.Labels)
	}
}

func TestComputerName(t *testing.T) {
	a, b := launchtemplate.ComputerName("aks-general-abcde", true), launchtemplate.ComputerName("aks-general-abcdf", true)
	if len(a) != 15 || a == b || a != launchtemplate.ComputerName("aks-general-abcde", true) {
		t.Errorf("Windows names %q %q", a, b)
	}
	long := "aks-" + strings.Repeat("x", 80)
	if n := launchtemplate.ComputerName(long, false); len(n) > 64 || n != launchtemplate.ComputerName(long, false) || n == launchtemplate.ComputerName(long+"y", false) {
		t.Errorf("long Linux name %q", n)
	}
	if launchtemplate.AzureZone("eastus-3") != "3" || launchtemplate.AzureZone("0") != "" {
		t.Error("AzureZone")
	}
}
