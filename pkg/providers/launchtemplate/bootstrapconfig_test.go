package launchtemplate_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/scheduling"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/aksnodeconfig"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	"github.com/azkarpenter/azkarpenter/pkg/providers/launchtemplate"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

// One golden file per image family, and one per network setup (on
// Ubuntu 24.04): the custom data a node receives, decoded so that a diff
// shows what changed, and the extension that runs with it.
func TestGoldenCustomData(t *testing.T) {
	type golden struct {
		name   string
		family string
		setup  cluster.NetworkSetup
	}
	var cases []golden
	for _, family := range []string{v1beta1.ImageFamilyUbuntu2204, v1beta1.ImageFamilyUbuntu2404, v1beta1.ImageFamilyAzureLinux, v1beta1.ImageFamilyWindows2022, v1beta1.ImageFamilyWindows2025} {
		cases = append(cases, golden{name: strings.ToLower(family), family: family, setup: cluster.NetworkSetupAzureCNIOverlay})
	}
	for _, setup := range cluster.NetworkSetups {
		if setup != cluster.NetworkSetupAzureCNIOverlay {
			cases = append(cases, golden{name: "ubuntu2404-" + strings.ToLower(string(setup)), family: v1beta1.ImageFamilyUbuntu2404, setup: setup})
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inputs := clusterInputs()
			inputs.Set(func(i *cluster.Inputs) { setNetworkSetup(i, tc.setup) }, nil)
			spec, err := providerWith(inputs).Build(context.Background(), input(karpv1.CapacityTypeSpot, "eastus-3", func(nc *v1beta1.AKSNodeClass, _ *karpv1.NodeClaim) {
				nc.Spec.ImageFamily = to.Ptr(tc.family)
			}))
			if err != nil {
				t.Fatal(err)
			}
			text, err := bootstrap.Readable(spec.Bootstrap.OS, spec.Artifact.CustomData)
			if err != nil {
				t.Fatal(err)
			}
			e := spec.Artifact.Extension
			got := fmt.Sprintf("# image %s\n# network setup %s\n# extension %s (%s/%s %s)\n# commandToExecute: %s\n\n%s", spec.Image.ID, tc.setup, e.Name, e.Publisher, e.Type, e.TypeHandlerVersion, e.CommandToExecute, text)
			golden := filepath.Join("testdata", "customdata-"+tc.name+".golden")
			if os.Getenv("UPDATE_GOLDEN") != "" {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (UPDATE_GOLDEN=1 go test ./pkg/providers/launchtemplate writes it)", err)
			}
			if got != string(want) {
				t.Errorf("custom data for %s differs from %s (UPDATE_GOLDEN=1 rewrites it):\n%s", tc.name, golden, lineDiff(string(want), got))
			}
		})
	}
}

// setNetworkSetup gives the inputs the plugin, mode and dataplane AKS
// builds a network setup with (cluster.NetworkSetupOf in reverse).
func setNetworkSetup(i *cluster.Inputs, s cluster.NetworkSetup) {
	v := map[cluster.NetworkSetup][3]string{
		cluster.NetworkSetupAzureCNIOverlay:          {"azure", "overlay", "azure"},
		cluster.NetworkSetupAzureCNINodeSubnet:       {"azure", "", "azure"},
		cluster.NetworkSetupAzureCNICilium:           {"azure", "overlay", "cilium"},
		cluster.NetworkSetupAzureCNICiliumNodeSubnet: {"azure", "", "cilium"},
		cluster.NetworkSetupKubenet:                  {"kubenet", "", "azure"},
		cluster.NetworkSetupBYOCNI:                   {"none", "", "azure"},
	}[s]
	i.NetworkPlugin, i.NetworkPluginMode, i.NetworkDataplane = v[0], v[1], v[2]
	if got, _ := cluster.NetworkSetupOf(v[0], v[1], v[2]); got != s {
		panic(fmt.Sprintf("setNetworkSetup(%s) gives %s", s, got))
	}
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for i := 0; i < max(len(w), len(g)) && len(out) < 20; i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			out = append(out, fmt.Sprintf("line %d:\n  want %s\n  got  %s", i+1, a, b))
		}
	}
	return strings.Join(out, "\n")
}

// Each input changes exactly the AKSNodeConfig fields it should, and
// nothing else.
func TestEachInputChangesItsField(t *testing.T) {
	base := nodeConfig(t, provider(), nil)
	for _, tc := range []struct {
		name  string
		edit  func(*v1beta1.AKSNodeClass, *karpv1.NodeClaim)
		using *testutil.StaticClusterInputs
		want  []string
	}{
		{name: "label", edit: func(_ *v1beta1.AKSNodeClass, c *karpv1.NodeClaim) { c.Labels["team"] = "b" },
			want: []string{"kubelet_config.kubelet_node_labels.team"}},
		{name: "taint", edit: func(_ *v1beta1.AKSNodeClass, c *karpv1.NodeClaim) {
			c.Spec.Taints = append(c.Spec.Taints, corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoExecute})
		}, want: []string{`kubelet_config.kubelet_flags.--register-with-taints`}},
		{name: "startup taint", edit: func(_ *v1beta1.AKSNodeClass, c *karpv1.NodeClaim) {
			c.Spec.StartupTaints = []corev1.Taint{{Key: "node.cilium.io/agent-not-ready", Value: "true", Effect: corev1.TaintEffectNoExecute}}
		}, want: []string{`kubelet_config.kubelet_flags.--register-with-taints`}},
		{name: "max pods", edit: func(nc *v1beta1.AKSNodeClass, _ *karpv1.NodeClaim) { nc.Spec.MaxPods = to.Ptr(int32(110)) },
			want: []string{"kubelet_config.kubelet_flags.--max-pods"}},
		{name: "kubelet settings", edit: func(nc *v1beta1.AKSNodeClass, _ *karpv1.NodeClaim) {
			nc.Spec.Kubelet = &v1beta1.KubeletConfiguration{CPUManagerPolicy: to.Ptr("static"), PodPidsLimit: to.Ptr(int64(1024))}
		}, want: []string{"kubelet_config.kubelet_flags.--cpu-manager-policy", "kubelet_config.kubelet_flags.--pod-max-pids"}},
		// FIPS images are not in AKS's community galleries (imagefamily):
		// Trusted Launch is the variant that changes the image.
		{name: "Trusted Launch", edit: func(nc *v1beta1.AKSNodeClass, _ *karpv1.NodeClaim) {
			nc.Spec.Security = &v1beta1.Security{TrustedLaunch: &v1beta1.TrustedLaunch{VTPM: to.Ptr(true)}}
			nc.Spec.ImageFamily = to.Ptr(v1beta1.ImageFamilyUbuntu2204)
		}, want: []string{"kubelet_config.kubelet_node_labels.kubernetes.azure.com/node-image-version",
			"kubelet_config.kubelet_node_labels.kubernetes.azure.com/os-sku-effective", "kubelet_config.kubelet_node_labels.kubernetes.azure.com/os-sku-requested"}},
		{name: "network plugin", using: func() *testutil.StaticClusterInputs {
			in := clusterInputs()
			in.Set(func(i *cluster.Inputs) { i.NetworkPluginMode = "" }, nil)
			return in
		}(), want: []string{"network_config.network_plugin", "network_config.vnet_cni_plugins_url", "kubelet_config.kubelet_node_labels.kubernetes.azure.com/azure-cni-overlay",
			"kubelet_config.kubelet_node_labels.kubernetes.azure.com/network-stateless-cni", "kubelet_config.kubelet_node_labels.kubernetes.azure.com/network-subnet",
			"kubelet_config.kubelet_node_labels.kubernetes.azure.com/podnetwork-type"}},
		{name: "Cilium dataplane", using: func() *testutil.StaticClusterInputs {
			in := clusterInputs()
			in.Set(func(i *cluster.Inputs) { i.NetworkDataplane = "cilium" }, nil)
			return in
		}(), want: []string{"kubelet_config.kubelet_node_labels.kubernetes.azure.com/ebpf-dataplane"}},
		{name: "network policy", using: func() *testutil.StaticClusterInputs {
			in := clusterInputs()
			in.Set(func(i *cluster.Inputs) { i.NetworkPolicy = "calico" }, nil)
			return in
		}(), want: []string{"network_config.network_policy"}},
		{name: "cluster DNS", using: func() *testutil.StaticClusterInputs {
			in := clusterInputs()
			in.Set(func(i *cluster.Inputs) { i.ClusterDNS = "10.2.0.10" }, nil)
			return in
		}(), want: []string{"cluster_config.cluster_network_config.core_dns_service_ip", "kubelet_config.kubelet_flags.--cluster-dns"}},
		{name: "bootstrap token", using: func() *testutil.StaticClusterInputs {
			in := clusterInputs()
			in.Set(func(i *cluster.Inputs) { i.BootstrapToken = "zyxwvu.0123456789zyxwvu" }, nil)
			return in
		}(), want: []string{"bootstrapping_config.tls_bootstrapping_token"}},
		{name: "kubelet identity", using: func() *testutil.StaticClusterInputs {
			in := clusterInputs()
			in.Set(func(i *cluster.Inputs) { i.KubeletIdentityClientID = "11111111-1111-1111-1111-111111111111" }, nil)
			return in
		}(), want: []string{"auth_config.assigned_identity_id", "kubelet_config.kubelet_node_labels.kubernetes.azure.com/kubelet-identity-client-id"}},
		{name: "sysctls", edit: func(nc *v1beta1.AKSNodeClass, _ *karpv1.NodeClaim) {
			nc.Spec.LinuxOSConfig = &v1beta1.LinuxOSConfiguration{Sysctls: &v1beta1.SysctlConfiguration{NetCoreSomaxconn: to.Ptr[int32](8192), NetIPv4TCPTwReuse: to.Ptr(true)}}
		}, want: []string{"custom_linux_os_config.sysctl_config.net_core_somaxconn", "custom_linux_os_config.sysctl_config.net_ipv4_tcp_tw_reuse"}},
		{name: "swap", edit: func(nc *v1beta1.AKSNodeClass, _ *karpv1.NodeClaim) {
			nc.Spec.LinuxOSConfig = &v1beta1.LinuxOSConfiguration{SwapFileSize: to.Ptr("1500Mi")}
			nc.Spec.Kubelet = &v1beta1.KubeletConfiguration{FailSwapOn: to.Ptr(false)}
		}, want: []string{"custom_linux_os_config.enable_swap_config", "custom_linux_os_config.swap_file_size", "kubelet_config.kubelet_flags.--fail-swap-on"}},
		{name: "transparent huge pages", edit: func(nc *v1beta1.AKSNodeClass, _ *karpv1.NodeClaim) {
			nc.Spec.LinuxOSConfig = &v1beta1.LinuxOSConfiguration{TransparentHugePageEnabled: to.Ptr(v1beta1.TransparentHugePageEnabled("madvise")), TransparentHugePageDefrag: to.Ptr(v1beta1.TransparentHugePageDefrag("defer"))}
		}, want: []string{"custom_linux_os_config.transparent_defrag", "custom_linux_os_config.transparent_hugepage_support"}},
		{name: "artifact streaming", edit: func(nc *v1beta1.AKSNodeClass, _ *karpv1.NodeClaim) {
			nc.Spec.ArtifactStreaming = &v1beta1.ArtifactStreaming{Enabled: to.Ptr(true)}
		}, want: []string{"enable_artifact_streaming", "kubelet_config.kubelet_node_labels.kubernetes.azure.com/artifactstreaming-enabled"}},
		{name: "LocalDNS", edit: func(nc *v1beta1.AKSNodeClass, _ *karpv1.NodeClaim) {
			z := func(name, dest string) v1beta1.LocalDNSZoneOverride {
				return v1beta1.LocalDNSZoneOverride{Zone: name, QueryLogging: "Error", Protocol: "PreferUDP", ForwardDestination: v1beta1.LocalDNSForwardDestination(dest),
					ForwardPolicy: "Sequential", MaxConcurrent: to.Ptr[int32](100), CacheDuration: karpv1.MustParseNillableDuration("1h"),
					ServeStaleDuration: karpv1.MustParseNillableDuration("30m"), ServeStale: "Verify"}
			}
			nc.Spec.LocalDNS = &v1beta1.LocalDNS{Mode: v1beta1.LocalDNSModeRequired,
				VNetDNSOverrides: []v1beta1.LocalDNSZoneOverride{z(".", "VnetDNS"), z("cluster.local", "ClusterCoreDNS")},
				KubeDNSOverrides: []v1beta1.LocalDNSZoneOverride{z(".", "ClusterCoreDNS"), z("cluster.local", "ClusterCoreDNS")}}
			nc.Status.LocalDNSState = to.Ptr(v1beta1.LocalDNSStateEnabled)
		}, want: append(localDNSFields(), "kubelet_config.kubelet_node_labels.kubernetes.azure.com/localdns-state",
			// Pods resolve through LocalDNS's cluster listener.
			"kubelet_config.kubelet_flags.--cluster-dns")},
		{name: "network security group and route table", using: func() *testutil.StaticClusterInputs {
			in := clusterInputs()
			in.Set(func(i *cluster.Inputs) {
				i.SecurityGroupName, i.RouteTableName = "aks-agentpool-87654321-nsg", "aks-agentpool-87654321-routetable"
			}, nil)
			return in
		}(), want: []string{"cluster_config.cluster_network_config.security_group_name", "cluster_config.cluster_network_config.route_table"}},
		{name: "HTTP proxy", using: func() *testutil.StaticClusterInputs {
			in := clusterInputs()
			in.Set(func(i *cluster.Inputs) {
				i.HTTPProxy = &cluster.HTTPProxy{HTTPProxy: "http://proxy.example.com:3128", HTTPSProxy: "http://proxy.example.com:3129", NoProxy: []string{"10.0.0.0/8"}, TrustedCA: testutil.TestCA()}
			}, nil)
			return in
		}(), want: []string{"http_proxy_config.http_proxy", "http_proxy_config.https_proxy", "http_proxy_config.no_proxy_entries", "http_proxy_config.proxy_trusted_ca"}},
		{name: "custom CA", using: func() *testutil.StaticClusterInputs {
			in := clusterInputs()
			in.Set(func(i *cluster.Inputs) { i.CustomCACerts = [][]byte{testutil.TestCA()} }, nil)
			return in
		}(), want: []string{"custom_ca_certs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := provider()
			if tc.using != nil {
				p = providerWith(tc.using)
			}
			got := changedFields(base, nodeConfig(t, p, tc.edit))
			sort.Strings(tc.want)
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("changed %v, want %v", got, tc.want)
			}
		})
	}
}

// Pod sandboxing boots AKS's Kata image and tells its containerd so, and
// changes nothing else of an Azure Linux node.
func TestKata(t *testing.T) {
	azureLinux := func(nc *v1beta1.AKSNodeClass, _ *karpv1.NodeClaim) {
		nc.Spec.ImageFamily = to.Ptr(v1beta1.ImageFamilyAzureLinux)
	}
	kata := func(nc *v1beta1.AKSNodeClass, c *karpv1.NodeClaim) {
		azureLinux(nc, c)
		nc.Spec.WorkloadRuntime = to.Ptr(v1beta1.WorkloadRuntimeKataVMIsolation)
	}
	got := changedFields(nodeConfig(t, provider(), azureLinux), nodeConfig(t, provider(), kata))
	want := []string{"is_kata", "kubelet_config.kubelet_node_labels.kubernetes.azure.com/node-image-version"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("changed %v, want %v", got, want)
	}
	spec, err := provider().Build(context.Background(), input(karpv1.CapacityTypeOnDemand, "eastus-1", kata))
	if err != nil {
		t.Fatal(err)
	}
	if spec.Image.Definition != "V3katagen2" || spec.Image.Gallery != imagefamily.GalleryAzureLinux {
		t.Errorf("a Kata node boots %s/%s, want AKS's V3katagen2", spec.Image.Gallery, spec.Image.Definition)
	}
}

// The VM's administrator (--linux-admin-username) is the one the node's
// configuration names, whose home the image's provisioning sets up; AKS's
// azureuser when unset.
func TestAdminUsername(t *testing.T) {
	none := func(*v1beta1.AKSNodeClass, *karpv1.NodeClaim) {}
	if cfg := nodeConfig(t, provider(), none); cfg["linux_admin_username"] != bootstrap.DefaultAdminUsername {
		t.Errorf("linux_admin_username %v, want %q", cfg["linux_admin_username"], bootstrap.DefaultAdminUsername)
	}
	ops := launchtemplate.NewDefaultProvider(launchtemplate.Options{
		ClusterName: "dev", SubscriptionID: "00000000-0000-0000-0000-000000000001", ResourceGroup: "mc_dev_eastus", Location: "eastus",
		SubnetID:       "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/dev-net/providers/Microsoft.Network/virtualNetworks/dev-vnet/subnets/nodes",
		DefaultMaxPods: 30, AdminUsername: "ops",
	}, images, clusterInputs())
	if got := changedFields(nodeConfig(t, provider(), none), nodeConfig(t, ops, none)); strings.Join(got, " ") != "linux_admin_username" {
		t.Errorf("changed %v, want only linux_admin_username", got)
	}
	if cfg := nodeConfig(t, ops, none); cfg["linux_admin_username"] != "ops" {
		t.Errorf("linux_admin_username %v, want ops", cfg["linux_admin_username"])
	}
}

// localDNSFields are the AKSNodeConfig fields of a LocalDNS profile with
// the zones '.' and 'cluster.local' in both lists.
func localDNSFields() []string {
	out := []string{"local_dns_profile.enable_local_dns"}
	for _, list := range []string{"vnet_dns_overrides", "kube_dns_overrides"} {
		for _, zone := range []string{".", "cluster.local"} {
			for _, f := range []string{"query_logging", "protocol", "forward_destination", "forward_policy", "max_concurrent", "cache_duration_in_seconds", "serve_stale_duration_in_seconds", "serve_stale"} {
				out = append(out, "local_dns_profile."+list+"."+zone+"."+f)
			}
		}
	}
	return out
}

// A GPU size gets the NVIDIA driver installed through the bootstrap.
func TestGPUDriver(t *testing.T) {
	in := input(karpv1.CapacityTypeOnDemand, "eastus-1", nil)
	gpu := *d4ds
	gpu.Capabilities = map[string]string{}
	for k, v := range d4ds.Capabilities {
		gpu.Capabilities[k] = v
	}
	gpu.Capabilities[sku.CapGPUs] = "1"
	in.SKU = &gpu
	in.InstanceType.Requirements.Add(scheduling.NewRequirement(v1beta1.LabelSKUGPUManufacturer, corev1.NodeSelectorOpIn, v1beta1.ManufacturerNvidia))
	spec, err := provider().Build(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	var cfg aksnodeconfig.Configuration
	decodeConfig(t, spec, &cfg)
	if cfg.GPUConfig == nil || !cfg.GPUConfig.ConfigGPUDriver || !lo.FromPtr(cfg.GPUConfig.EnableNvidia) {
		t.Errorf("gpu_config %+v", cfg.GPUConfig)
	}
	// gpu.mode None: bring your own driver.
	in.NodeClass.Spec.GPU = &v1beta1.GPU{Mode: to.Ptr(v1beta1.GPUModeNone)}
	spec, err = provider().Build(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	cfg = aksnodeconfig.Configuration{}
	decodeConfig(t, spec, &cfg)
	if cfg.GPUConfig != nil {
		t.Errorf("gpu.mode None installs a driver: %+v", cfg.GPUConfig)
	}
}

// The bootstrap token appears in the custom data and nowhere else the
// launch spec leads to: not in labels, the extension, the image or the
// summary a log line would print.
func TestTokenOnlyInCustomData(t *testing.T) {
	spec, err := provider().Build(context.Background(), input(karpv1.CapacityTypeOnDemand, "eastus-1", nil))
	if err != nil {
		t.Fatal(err)
	}
	view := *spec
	view.Artifact, view.Bootstrap = nil, nil
	everything := fmt.Sprintf("%+v %v %+v %s", view, spec.Labels, spec.Artifact.Extension, spec.OSDisk.String())
	_, secret, _ := strings.Cut(testutil.BootstrapToken, ".")
	if strings.Contains(everything, secret) {
		t.Errorf("the bootstrap token's secret leaks outside the custom data: %s", everything)
	}
	raw, _ := base64.StdEncoding.DecodeString(spec.Artifact.CustomData)
	doc, _ := bootstrap.Readable(bootstrap.Linux, spec.Artifact.CustomData)
	if strings.Contains(string(raw), secret) || !strings.Contains(doc, secret) {
		t.Error("the token should sit base64-encoded inside the custom data's AKSNodeConfig")
	}
}

func nodeConfig(t *testing.T, p *launchtemplate.DefaultProvider, edit func(*v1beta1.AKSNodeClass, *karpv1.NodeClaim)) map[string]any {
	t.Helper()
	spec, err := p.Build(context.Background(), input(karpv1.CapacityTypeOnDemand, "eastus-1", edit))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	decodeConfig(t, spec, &m)
	return m
}

// decodeConfig reads the AKSNodeConfig JSON out of a Linux launch spec.
func decodeConfig(t *testing.T, spec *launchtemplate.LaunchSpec, into any) {
	t.Helper()
	text, err := bootstrap.Readable(bootstrap.Linux, spec.Artifact.CustomData)
	if err != nil {
		t.Fatal(err)
	}
	_, doc, ok := strings.Cut(text, "--- AKSNodeConfig ("+aksnodeconfig.ConfigPath+") ---\n")
	if !ok {
		t.Fatal("no AKSNodeConfig in the custom data")
	}
	if err := json.Unmarshal([]byte(doc), into); err != nil {
		t.Fatal(err)
	}
}

// changedFields lists the dotted paths whose values differ.
func changedFields(a, b map[string]any) []string {
	fa, fb := map[string]string{}, map[string]string{}
	flatten("", a, fa)
	flatten("", b, fb)
	var out []string
	for k, v := range fa {
		if fb[k] != v {
			out = append(out, k)
		}
	}
	for k := range fb {
		if _, ok := fa[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func flatten(prefix string, v any, out map[string]string) {
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			flatten(key, x, out)
		}
		return
	}
	b, _ := json.Marshal(v)
	out[prefix] = string(b)
}

// The AKSNodeClass kubelet block and workload runtime reach the node, and a
// node image reads them back from the custom data.
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
	doc, err := bootstrap.Decode(bootstrap.Linux, spec.Artifact.CustomData)
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
