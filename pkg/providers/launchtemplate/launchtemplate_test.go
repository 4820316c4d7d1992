package launchtemplate_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/scheduling"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	"github.com/azkarpenter/azkarpenter/pkg/providers/launchtemplate"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
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

func provider() *launchtemplate.DefaultProvider {
	return launchtemplate.NewDefaultProvider(launchtemplate.Options{
		ClusterName: "dev", APIServerEndpoint: "https://10.0.0.1:6443", KubernetesVersion: "v1.35.1", ClusterDNS: []string{"10.0.0.10"}, DefaultMaxPods: 30,
	}, imagefamily.NewDefaultProvider(imagefamily.Options{KubernetesVersion: "v1.35.1"}))
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
	raw, err := base64.StdEncoding.DecodeString(spec.CustomData)
	if err != nil {
		t.Fatal(err)
	}
	// The consumer of the contract accepts it (unknown fields would fail).
	b, err := bootstrap.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	r := bootstrap.KubeReserved(4, 16)
	cpu, mem := resource.MustParse(b.Kubelet.KubeReserved["cpu"]), resource.MustParse(b.Kubelet.KubeReserved["memory"])
	if cpu.MilliValue() != r.CPUMillis || mem.Value() != r.MemoryMiB<<20 || len(b.Kubelet.KubeReserved) != 2 {
		t.Errorf("kubeReserved %v, want %dm and %dMi", b.Kubelet.KubeReserved, r.CPUMillis, r.MemoryMiB)
	}
	if len(b.Kubelet.EvictionHard) != 1 || b.Kubelet.EvictionHard["memory.available"] != "750Mi" {
		t.Errorf("evictionHard %v", b.Kubelet.EvictionHard)
	}
	if b.Kubelet.MaxPods != 30 || b.ClusterName != "dev" || b.APIServerEndpoint != "https://10.0.0.1:6443" || b.Kind != "NodeBootstrap" {
		t.Errorf("bootstrap %+v", b)
	}
	for k, v := range map[string]string{
		karpv1.NodePoolLabelKey: "general", "team": "a", "example.com/tier": "gold",
		corev1.LabelInstanceTypeStable: d4ds.Name, corev1.LabelTopologyZone: "eastus-2", karpv1.CapacityTypeLabelKey: "on-demand",
		v1beta1.LabelSKUFamily: "D", v1beta1.AKSLabelAgentPool: "general", v1beta1.AKSLabelMode: "user",
		v1beta1.AKSLabelScaleSetPriority: "regular", v1beta1.AKSLabelStorageProfile: "ephemeral", v1beta1.AKSLabelOSSKU: "Ubuntu",
		v1beta1.AKSLabelInstanceSKU: d4ds.Name, v1beta1.AKSLabelCluster: "dev", v1beta1.AKSLabelNodeImageVersion: spec.Image.NodeImageVersion,
	} {
		if b.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, b.Labels[k], v)
		}
	}
	for _, k := range []string{v1beta1.LabelSKUHyperVGeneration, v1beta1.AKSLabelFIPSEnabled, corev1.LabelHostname, v1beta1.LabelSKUGPUName} {
		if _, ok := b.Labels[k]; ok {
			t.Errorf("unexpected label %s", k)
		}
	}
	// The NodeClaim's taint, then the one core removes at registration.
	if len(b.Taints) != 2 || b.Taints[0].Key != "gpu" || !b.Taints[1].MatchTaint(&karpv1.UnregisteredNoExecuteTaint) || len(b.StartupTaints) != 0 {
		t.Errorf("taints %v %v", b.Taints, b.StartupTaints)
	}
	back, err := bootstrap.Decode(spec.CustomData)
	if err != nil || back.Labels[v1beta1.AKSLabelMode] != "user" {
		t.Errorf("DecodeBootstrap: %v", err)
	}
}

func TestBuildVariants(t *testing.T) {
	ctx := context.Background()
	spec, err := provider().Build(ctx, input(karpv1.CapacityTypeSpot, "0", func(nc *v1beta1.AKSNodeClass, c *karpv1.NodeClaim) {
		nc.Spec.FIPSMode = to.Ptr(v1beta1.FIPSModeFIPS)
		nc.Spec.OSDiskType = to.Ptr(v1beta1.OSDiskTypeManaged)
		nc.Spec.MaxPods = to.Ptr(int32(77))
		nc.Spec.ImageFamily = to.Ptr(v1beta1.ImageFamilyAzureLinux)
		c.Labels[v1beta1.AKSLabelMode] = v1beta1.ModeSystem
	}))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		v1beta1.AKSLabelScaleSetPriority: "spot", v1beta1.AKSLabelFIPSEnabled: "true", v1beta1.AKSLabelStorageProfile: "managed",
		v1beta1.AKSLabelMode: "system", v1beta1.AKSLabelOSSKU: "AzureLinux", corev1.LabelTopologyZone: "0",
	} {
		if spec.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, spec.Labels[k], v)
		}
	}
	if spec.AzureZone != "" || spec.Bootstrap.Kubelet.MaxPods != 77 || spec.OSDisk.Ephemeral() || !strings.Contains(spec.Image.ID, "V3gen2fips") {
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

// The AKSNodeClass kubelet block and workload runtime reach the node, and a
// strict consumer (the contract's own parser) accepts the document.
func TestBuildKubeletSettings(t *testing.T) {
	spec, err := provider().Build(context.Background(), input(karpv1.CapacityTypeOnDemand, "eastus-1", func(nc *v1beta1.AKSNodeClass, _ *karpv1.NodeClaim) {
		nc.Spec.ImageFamily = to.Ptr(v1beta1.ImageFamilyAzureLinux)
		nc.Spec.WorkloadRuntime = to.Ptr(v1beta1.WorkloadRuntimeKataVMIsolation)
		nc.Spec.Kubelet = &v1beta1.KubeletConfiguration{
			CPUManagerPolicy:            to.Ptr("static"),
			CPUCFSQuota:                 to.Ptr(false),
			CPUCFSQuotaPeriod:           &metav1.Duration{Duration: 50 * time.Millisecond},
			ImageGCHighThresholdPercent: to.Ptr(int32(85)),
			ImageGCLowThresholdPercent:  to.Ptr(int32(80)),
			TopologyManagerPolicy:       to.Ptr("single-numa-node"),
			AllowedUnsafeSysctls:        []string{"net.ipv4.route.min_pmtu"},
			ContainerLogMaxSize:         to.Ptr("100Mi"),
			ContainerLogMaxFiles:        to.Ptr(int32(3)),
			PodPidsLimit:                to.Ptr(int64(4096)),
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := bootstrap.Decode(spec.CustomData)
	if err != nil {
		t.Fatal(err)
	}
	k := doc.Kubelet
	if doc.WorkloadRuntime != "KataVmIsolation" || k.CPUManagerPolicy != "static" || k.CPUCFSQuota == nil || *k.CPUCFSQuota ||
		k.CPUCFSQuotaPeriod != "50ms" || *k.ImageGCHighThresholdPercent != 85 || *k.ImageGCLowThresholdPercent != 80 ||
		k.TopologyManagerPolicy != "single-numa-node" || len(k.AllowedUnsafeSysctls) != 1 || k.ContainerLogMaxSize != "100Mi" ||
		*k.ContainerLogMaxFiles != 3 || *k.PodPidsLimit != 4096 {
		t.Errorf("kubelet settings did not reach the bootstrap document: %+v (runtime %q)", k, doc.WorkloadRuntime)
	}
}
