package contract_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"

	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/aksnodeconfig"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/contract"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/nodeimage"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

// goodConfig is a node's AKSNodeConfig that meets every row for n, built
// the way the provider fills bootstrap.Config.
func goodConfig(t *testing.T, n contract.Node) *aksnodeconfig.Configuration {
	t.Helper()
	plugin := map[string]string{aksnodeconfig.NetworkPluginAzure: "azure", aksnodeconfig.NetworkPluginKubenet: "kubenet", aksnodeconfig.NetworkPluginNone: "none"}[contract.ImageNetworkPlugin(n.Setup)]
	c := &bootstrap.Config{
		OS: bootstrap.Linux,
		Cluster: bootstrap.Cluster{
			APIServerName: "dev-dns-1a2b3c4d.hcp.eastus.azmk8s.io", CACertificate: testutil.TestCA(), BootstrapToken: "abcdef.0123456789abcdef",
			TenantID: "t", SubscriptionID: "s", Location: "eastus", ResourceGroup: "mc_dev", VNetName: "vnet", VNetResourceGroup: "net", SubnetName: "nodes",
			NetworkPlugin: plugin, DNSServiceIP: "10.0.0.10", SecurityGroupName: "aks-agentpool-1-nsg", RouteTableName: "aks-agentpool-1-routetable",
		},
		KubernetesVersion: "1.35.4", VMSize: "Standard_D4s_v5",
		Labels:     map[string]string{"karpenter.sh/do-not-sync-taints": "true", bootstrap.LabelKubeletServingCA: bootstrap.KubeletServingCA},
		Taints:     []corev1.Taint{{Key: "karpenter.sh/unregistered", Effect: corev1.TaintEffectNoExecute}},
		PauseImage: nodeimage.PauseImage(n.Image, n.ImageVersion),
		Kubelet: bootstrap.Kubelet{MaxPods: 110, EvictionHard: bootstrap.KubeReserved(4, 16).EvictionHard(),
			ClusterDNS: "10.0.0.10"},
	}
	switch n.Setup {
	case cluster.NetworkSetupAzureCNIOverlay:
		c.Labels["kubernetes.azure.com/azure-cni-overlay"] = "true"
	case cluster.NetworkSetupAzureCNICilium:
		c.Labels["kubernetes.azure.com/azure-cni-overlay"] = "true"
		c.Labels["kubernetes.azure.com/ebpf-dataplane"] = "cilium"
	case cluster.NetworkSetupAzureCNICiliumNodeSubnet:
		c.Labels["kubernetes.azure.com/ebpf-dataplane"] = "cilium"
	}
	switch plugin {
	case "azure":
		c.VNetCNIPluginsURL = nodeimage.VNetCNIPluginsURL(n.Image)
	case "kubenet":
		c.CNIPluginsURL = nodeimage.CNIPluginsURL(n.Image)
	}
	if n.Has(contract.FeatureGPU) {
		c.GPUDriver = true
	}
	if n.Has(contract.FeatureKata) {
		c.WorkloadRuntime = "KataVmIsolation"
	}
	if n.Has(contract.FeatureLocalDNS) {
		c.LocalDNS = &bootstrap.LocalDNS{}
		c.Kubelet.ClusterDNS = bootstrap.LocalDNSClusterListenerIP
	}
	if n.Has(contract.FeatureArtifactStreaming) {
		c.ArtifactStreaming = true
		c.Labels["kubernetes.azure.com/artifactstreaming-enabled"] = "true"
	}
	if n.Has(contract.FeatureCFSQuotaPeriod) {
		c.Kubelet.CPUCFSQuotaPeriod = "50ms"
	}
	if n.Has(contract.FeatureHTTPProxy) {
		c.Cluster.HTTPProxy = &bootstrap.HTTPProxy{HTTPProxy: "http://proxy:3128", NoProxy: []string{"169.254.169.254", "168.63.129.16"}, TrustedCA: testutil.TestCA()}
	}
	if n.Has(contract.FeatureCustomCA) {
		c.Cluster.CustomCACerts = [][]byte{testutil.TestCA()}
	}
	cfg, err := bootstrap.NodeConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func node(setup cluster.NetworkSetup, img nodeimage.Image, features ...contract.Feature) contract.Node {
	n := contract.Node{Image: img, ImageVersion: "202611.10.0", Setup: setup, KubeDNS: "10.0.0.10", Features: map[contract.Feature]bool{}}
	for _, f := range features {
		n.Features[f] = true
	}
	return n
}

var ubuntu = nodeimage.Image{Definition: "2404gen2containerd", Family: nodeimage.Ubuntu2404}

// breakRow takes away or spoils the value a row is about: one mutation per
// row, each for a combination the row applies to.
var breakRow = map[string]struct {
	node   contract.Node
	mutate func(*aksnodeconfig.Configuration, *contract.Node)
}{
	"version":                           {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu), func(c *aksnodeconfig.Configuration, _ *contract.Node) { c.Version = "v0" }},
	"api_server_config.api_server_name": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu), func(c *aksnodeconfig.Configuration, _ *contract.Node) { c.APIServerConfig.APIServerName = "" }},
	"kubernetes_ca_cert": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		c.KubernetesCACert = base64.StdEncoding.EncodeToString([]byte("not PEM"))
	}},
	"bootstrapping_config.tls_bootstrapping_token": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		c.BootstrappingConfig.TLSBootstrappingToken = nil
	}},
	"kubernetes_version": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu), func(c *aksnodeconfig.Configuration, _ *contract.Node) { c.KubernetesVersion = "" }},
	"auth_config.subscription_id, auth_config.tenant_id": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu), func(c *aksnodeconfig.Configuration, _ *contract.Node) { c.AuthConfig.TenantID = "" }},
	"auth_config.service_principal_id, use_managed_identity_extension": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		c.AuthConfig.UseManagedIdentityExtension = false
	}},
	"cluster_config.resource_group, location, vm_type": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		c.ClusterConfig.VMType = aksnodeconfig.VMTypeVMSS
	}},
	"cluster_config.cluster_network_config.vnet_name, vnet_resource_group, subnet": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		c.ClusterConfig.ClusterNetworkConfig.Subnet = ""
	}},
	"cluster_config.cluster_network_config.security_group_name": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		c.ClusterConfig.ClusterNetworkConfig.SecurityGroupName = ""
	}},
	"cluster_config.cluster_network_config.route_table": {node(cluster.NetworkSetupKubenet, ubuntu), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		c.ClusterConfig.ClusterNetworkConfig.RouteTable = ""
	}},
	"cluster_config.load_balancer_config.load_balancer_sku": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		c.ClusterConfig.LoadBalancerConfig.LoadBalancerSKU = ""
	}},
	"kube_binary_config.pod_infra_container_image_url": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		// On containerd 2 the image would fall back to registry.k8s.io,
		// which AKS's required outbound list does not include.
		c.KubeBinaryConfig.PodInfraContainerImageURL = "registry.k8s.io/pause:3.10.1"
	}},
	"network_config.network_plugin": {node(cluster.NetworkSetupAzureCNINodeSubnet, ubuntu), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		c.NetworkConfig.NetworkPlugin = aksnodeconfig.NetworkPluginNone
	}},
	"network_config.vnet_cni_plugins_url": {node(cluster.NetworkSetupAzureCNINodeSubnet, ubuntu), func(c *aksnodeconfig.Configuration, _ *contract.Node) { c.NetworkConfig.VnetCNIPluginsURL = "" }},
	"network_config.cni_plugins_url":      {node(cluster.NetworkSetupKubenet, ubuntu), func(c *aksnodeconfig.Configuration, _ *contract.Node) { c.NetworkConfig.CNIPluginsURL = "" }},
	"kubelet_config.kubelet_flags --cluster-dns": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu, contract.FeatureLocalDNS), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		// With LocalDNS, pods must resolve through its cluster listener.
		c.KubeletConfig.KubeletFlags["--cluster-dns"] = "10.0.0.10"
	}},
	"kubelet_config.kubelet_flags --eviction-hard": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		c.KubeletConfig.KubeletFlags["--eviction-hard"] = "memory.available<750Mi"
	}},
	"kubelet_config.kubelet_flags (hardening)": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		delete(c.KubeletConfig.KubeletFlags, "--tls-cipher-suites")
	}},
	"kubelet_config.kubelet_config_file_config.server_tls_bootstrap with --rotate-server-certificates": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		c.KubeletConfig.KubeletConfigFileConfig = nil
	}},
	"kubelet_config.kubelet_node_labels karpenter.sh/do-not-sync-taints": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		delete(c.KubeletConfig.KubeletNodeLabels, "karpenter.sh/do-not-sync-taints")
	}},
	"kubelet_config.kubelet_node_labels kubernetes.azure.com/agentpool": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		c.KubeletConfig.KubeletNodeLabels["kubernetes.azure.com/agentpool"] = "general"
	}},
	"kubelet_config.kubelet_node_labels kubernetes.azure.com/azure-cni-overlay": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		delete(c.KubeletConfig.KubeletNodeLabels, "kubernetes.azure.com/azure-cni-overlay")
	}},
	"kubelet_config.kubelet_node_labels kubernetes.azure.com/ebpf-dataplane": {node(cluster.NetworkSetupAzureCNICilium, ubuntu), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		delete(c.KubeletConfig.KubeletNodeLabels, "kubernetes.azure.com/ebpf-dataplane")
	}},
	"gpu_config.enable_nvidia, config_gpu_driver": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu, contract.FeatureGPU), func(c *aksnodeconfig.Configuration, _ *contract.Node) { c.GPUConfig = nil }},
	"vm_size": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu, contract.FeatureGPU), func(c *aksnodeconfig.Configuration, _ *contract.Node) { c.VMSize = "" }},
	"is_kata, and the image definition": {node(cluster.NetworkSetupAzureCNIOverlay, nodeimage.Image{Definition: "V3katagen2", Family: nodeimage.AzureLinux3, Kata: true}, contract.FeatureKata),
		func(_ *aksnodeconfig.Configuration, n *contract.Node) {
			// The node boots V3gen2, as pod sandboxing once did.
			n.Image = nodeimage.Image{Definition: "V3gen2", Family: nodeimage.AzureLinux3}
		}},
	"local_dns_profile.enable_local_dns": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu, contract.FeatureLocalDNS), func(c *aksnodeconfig.Configuration, _ *contract.Node) { c.LocalDNSProfile = nil }},
	"cluster_config.cluster_network_config.core_dns_service_ip": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu, contract.FeatureLocalDNS), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		c.ClusterConfig.ClusterNetworkConfig.CoreDNSServiceIP = ""
	}},
	"enable_artifact_streaming": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu, contract.FeatureArtifactStreaming), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		c.EnableArtifactStreaming = false
	}},
	"kubelet_config.kubelet_flags --feature-gates CustomCPUCFSQuotaPeriod=true": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu, contract.FeatureCFSQuotaPeriod), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		delete(c.KubeletConfig.KubeletFlags, "--feature-gates")
	}},
	"http_proxy_config.http_proxy, https_proxy": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu, contract.FeatureHTTPProxy), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		c.HTTPProxyConfig.HTTPProxy = "proxy:3128"
	}},
	"http_proxy_config.no_proxy_entries": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu, contract.FeatureHTTPProxy), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		c.HTTPProxyConfig.NoProxyEntries = []string{"10.0.0.0/8"}
	}},
	"http_proxy_config.proxy_trusted_ca": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu, contract.FeatureHTTPProxy), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		c.HTTPProxyConfig.ProxyTrustedCA = "-----BEGIN CERTIFICATE-----"
	}},
	"custom_ca_certs": {node(cluster.NetworkSetupAzureCNIOverlay, ubuntu, contract.FeatureCustomCA), func(c *aksnodeconfig.Configuration, _ *contract.Node) {
		c.CustomCACerts = []string{base64.StdEncoding.EncodeToString([]byte("not PEM"))}
	}},
}

// Every row can fail: breaking the one value it is about, in a combination
// it applies to, breaks that row (and a good configuration breaks none).
func TestEveryRowCatchesItsValue(t *testing.T) {
	for _, row := range contract.Linux {
		t.Run(row.Path, func(t *testing.T) {
			b, ok := breakRow[row.Path]
			if !ok {
				t.Fatalf("no mutation for row %q: add one to breakRow", row.Path)
			}
			if row.Applies != nil && !row.Applies(b.node) {
				t.Fatalf("the row does not apply to %s", b.node)
			}
			cfg := goodConfig(t, b.node)
			if vs := contract.Check(cfg, b.node); len(vs) > 0 {
				t.Fatalf("a good configuration breaks the contract for %s: %s", b.node, contract.Errors(vs))
			}
			n := b.node
			b.mutate(cfg, &n)
			vs := contract.Check(cfg, n)
			if !lo.ContainsBy(vs, func(v contract.Violation) bool { return v.Field.Path == row.Path }) {
				t.Errorf("breaking %s is not caught (violations: %s)", row.Path, contract.Errors(vs))
			}
			for _, v := range vs {
				if v.Field.Path == row.Path && !strings.Contains(v.Error(), row.Path) {
					t.Errorf("violation %q does not name %s", v.Error(), row.Path)
				}
			}
		})
	}
}

// A node sees its combination from its own custom data and VM image.
func TestNodeOf(t *testing.T) {
	for _, setup := range cluster.NetworkSetups {
		want := node(setup, ubuntu, contract.FeatureLocalDNS, contract.FeatureCFSQuotaPeriod)
		got, ok := contract.NodeOf("/CommunityGalleries/AKSUbuntu-38d80f77-467a-481f-a8d4-09b6d4220bd2/images/2404gen2containerd/versions/202611.10.0", goodConfig(t, want))
		if !ok || got.String() != want.String() || got.ImageVersion != "202611.10.0" || got.KubeDNS != "10.0.0.10" {
			t.Errorf("%s: NodeOf = %s (%v)", setup, got, ok)
		}
	}
	if _, ok := contract.NodeOf("/CommunityGalleries/AKSWindows-cf00e6e0-d245-4a4e-8d8e-6ed6a3f7a8e8/images/windows-2022-containerd-gen2/versions/20348.4405.261112", &aksnodeconfig.Configuration{}); ok {
		t.Error("a Windows image has no AKSNodeConfig contract")
	}
}

// docs/bootstrap.md shows the table as it is in the code.
func TestTableInDocs(t *testing.T) {
	root, err := testutil.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "docs", "bootstrap.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- contract table: generated by TestTableInDocs (UPDATE_GOLDEN=1) -->\n", "<!-- end of contract table -->\n"
	i, j := strings.Index(string(doc), begin), strings.Index(string(doc), end)
	if i < 0 || j < i {
		t.Fatalf("%s has no contract table between %q and %q", path, strings.TrimSpace(begin), strings.TrimSpace(end))
	}
	var b strings.Builder
	b.WriteString("| value | for | read by | without it |\n| --- | --- | --- | --- |\n")
	for _, r := range contract.Rows() {
		b.WriteString("| `" + r[0] + "` | " + r[1] + " | " + strings.ReplaceAll(r[2], "|", "\\|") + " | " + r[3] + " |\n")
	}
	want := string(doc[:i]) + begin + b.String() + string(doc[j:])
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want != string(doc) {
		t.Errorf("%s's contract table differs from package contract; UPDATE_GOLDEN=1 go test ./pkg/bootstrap/contract rewrites it", path)
	}
}
