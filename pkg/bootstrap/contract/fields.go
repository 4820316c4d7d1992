package contract

import (
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/aksnodeconfig"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/nodeimage"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
)

// Files of Azure/AgentBaker the rows cite. parser.go maps AKSNodeConfig
// fields to the environment of the provisioning scripts
// (aks-node-controller/parser/parser.go getCSEEnv); the scripts are in
// parts/linux/cloud-init/artifacts.
const (
	parserGo        = "aks-node-controller/parser/parser.go"
	appGo           = "aks-node-controller/app.go"
	validateGo      = "aks-node-controller/pkg/nodeconfigutils/utils.go Validate"
	cseConfig       = "parts/linux/cloud-init/artifacts/cse_config.sh"
	cseMain         = "parts/linux/cloud-init/artifacts/cse_main.sh"
	cseInstall      = "parts/linux/cloud-init/artifacts/cse_install.sh"
	cseCmd          = "parts/linux/cloud-init/artifacts/cse_cmd.sh"
	kubeletService  = "parts/linux/cloud-init/artifacts/kubelet.service"
	containerdTmpl  = "aks-node-controller/parser/templates/containerd.toml.gtpl (containerd_v2.toml.gtpl on containerd 2)"
	localDNSTmpl    = "aks-node-controller/parser/templates/localdns.toml.gtpl"
	kubeletValidate = "the kubelet (k8s.io/kubernetes pkg/kubelet/apis/config/validation)"
)

// Labels and flags the rows read.
const (
	labelEBPFDataplane    = "kubernetes.azure.com/ebpf-dataplane"
	labelAzureCNIOverlay  = "kubernetes.azure.com/azure-cni-overlay"
	labelArtifactStream   = "kubernetes.azure.com/artifactstreaming-enabled"
	labelKubeletServingCA = "kubernetes.azure.com/kubelet-serving-ca"
	labelDoNotSyncTaints  = "karpenter.sh/do-not-sync-taints"
	labelAgentPool        = "kubernetes.azure.com/agentpool"

	flagCPUCFSQuotaPeriod = "--cpu-cfs-quota-period"
	flagFeatureGates      = "--feature-gates"
	flagClusterDNS        = "--cluster-dns"
	flagEvictionHard      = "--eviction-hard"
	flagRotateServerCerts = "--rotate-server-certificates"

	// localDNSClusterListener is localdns.sh's LOCALDNS_CLUSTER_LISTENER_IP.
	localDNSClusterListener = "169.254.10.11"
)

// Linux is the contract of AKS's Linux node images, one row per value.
var Linux = []Field{
	{Path: "version", ReadBy: appGo + " buildCmdFromProvisionConfig", Effect: NoNode,
		Need: `"v1": aks-node-controller refuses any other version`,
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			return want(c.Version, aksnodeconfig.Version)
		}},
	{Path: "api_server_config.api_server_name", ReadBy: cseConfig + " ensureKubelet (bootstrap-kubeconfig server https://${API_SERVER_NAME}:443); " + validateGo, Effect: NoNode,
		Need: "where the kubelet TLS-bootstraps and registers",
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			if c.APIServerConfig == nil {
				return "is missing"
			}
			return nonEmpty(c.APIServerConfig.APIServerName)
		}},
	{Path: "kubernetes_ca_cert", ReadBy: parserGo + " KUBE_CA_CRT → " + cseConfig + " ensureKubeCACert (/etc/kubernetes/certs/ca.crt)", Effect: NoNode,
		Need: "the CA the kubelet verifies the API server with (base64 of PEM)",
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			return base64PEM(c.KubernetesCACert)
		}},
	{Path: "bootstrapping_config.tls_bootstrapping_token", ReadBy: parserGo + " TLS_BOOTSTRAP_TOKEN → " + cseConfig + " ensureKubelet (bootstrap-kubeconfig)", Effect: NoNode,
		Need: "the token the kubelet requests its client certificate with",
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			if c.BootstrappingConfig == nil || c.BootstrappingConfig.TLSBootstrappingToken == nil {
				return "is missing"
			}
			return nonEmpty(*c.BootstrappingConfig.TLSBootstrappingToken)
		}},
	{Path: "kubernetes_version", ReadBy: parserGo + " KUBERNETES_VERSION → " + cseConfig + " configureKubeletAndKubectl", Effect: NoNode,
		Need: "which cached kubelet the image installs",
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			return nonEmpty(c.KubernetesVersion)
		}},
	{Path: "auth_config.subscription_id, auth_config.tenant_id", ReadBy: parserGo + " SUBSCRIPTION_ID, TENANT_ID → " + cseConfig + " configureAzureJson; " + validateGo, Effect: Degraded,
		Need: "the node's cloud configuration (/etc/kubernetes/azure.json), which the ACR credential provider reads",
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			if c.AuthConfig == nil {
				return "is missing"
			}
			return firstProblem(nonEmpty(c.AuthConfig.SubscriptionID), nonEmpty(c.AuthConfig.TenantID))
		}},
	{Path: "auth_config.service_principal_id, use_managed_identity_extension", ReadBy: parserGo + " SERVICE_PRINCIPAL_CLIENT_ID, USE_MANAGED_IDENTITY_EXTENSION → " + cseConfig + " configureAzureJson", Effect: Degraded,
		Need: `"msi" and true: nodes authenticate to Azure with managed identities`,
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			if c.AuthConfig == nil {
				return "is missing"
			}
			if !c.AuthConfig.UseManagedIdentityExtension {
				return "use_managed_identity_extension is false"
			}
			return want(c.AuthConfig.ServicePrincipalID, "msi")
		}},
	{Path: "cluster_config.resource_group, location, vm_type", ReadBy: parserGo + " RESOURCE_GROUP, LOCATION, VM_TYPE → " + cseConfig + " configureAzureJson; " + validateGo, Effect: Degraded,
		Need: "azure.json resourceGroup, location and vmType (standalone VMs: standard)",
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			if c.ClusterConfig == nil {
				return "is missing"
			}
			return firstProblem(nonEmpty(c.ClusterConfig.ResourceGroup), nonEmpty(c.ClusterConfig.Location), want(c.ClusterConfig.VMType, aksnodeconfig.VMTypeStandard))
		}},
	{Path: "cluster_config.cluster_network_config.vnet_name, vnet_resource_group, subnet", ReadBy: parserGo + " VIRTUAL_NETWORK, VIRTUAL_NETWORK_RESOURCE_GROUP, SUBNET → " + cseConfig + " configureAzureJson; " + validateGo, Effect: Degraded,
		Need: "azure.json vnetName, vnetResourceGroup, subnetName",
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			nw := clusterNetwork(c)
			if nw == nil {
				return "is missing"
			}
			return firstProblem(nonEmpty(nw.VNetName), nonEmpty(nw.VNetResourceGroup), nonEmpty(nw.Subnet))
		}},
	{Path: "cluster_config.cluster_network_config.security_group_name", ReadBy: parserGo + " NETWORK_SECURITY_GROUP → " + cseConfig + " configureAzureJson (securityGroupName)", Effect: Degraded,
		Need: "the cluster's network security group, as every AKS node's azure.json names it",
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			nw := clusterNetwork(c)
			if nw == nil {
				return "is missing"
			}
			return nonEmpty(nw.SecurityGroupName)
		}},
	{Path: "cluster_config.cluster_network_config.route_table", ReadBy: parserGo + " ROUTE_TABLE → " + cseConfig + " configureAzureJson (routeTableName); required by " + validateGo, Effect: Degraded,
		Need: "the cluster's route table (kubenet pod routes are programmed into it)",
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			nw := clusterNetwork(c)
			if nw == nil {
				return "is missing"
			}
			return nonEmpty(nw.RouteTable)
		}},
	{Path: "cluster_config.load_balancer_config.load_balancer_sku", ReadBy: parserGo + " LOAD_BALANCER_SKU → " + cseConfig + " configureAzureJson (loadBalancerSku)", Effect: Degraded,
		Need: "Standard, as every AKS cluster's load balancer",
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			if c.ClusterConfig == nil || c.ClusterConfig.LoadBalancerConfig == nil {
				return "is missing"
			}
			return want(c.ClusterConfig.LoadBalancerConfig.LoadBalancerSKU, aksnodeconfig.LoadBalancerSKUStandard)
		}},
	{Path: "kube_binary_config.pod_infra_container_image_url", ReadBy: containerdTmpl + " (sandbox_image / pinned_images.sandbox)", Effect: NotReady,
		Need: "the pod sandbox image containerd starts every pod with; the image writes it with no default, and it must be one the image caches (nodeimage.CachedPauseImages)",
		Check: func(c *aksnodeconfig.Configuration, n Node) string {
			ref := ""
			if c.KubeBinaryConfig != nil {
				ref = c.KubeBinaryConfig.PodInfraContainerImageURL
			}
			if ref == "" {
				return "is missing: containerd's sandbox_image is empty and no pod sandbox starts"
			}
			version := n.ImageVersion
			if version == "" {
				version = nodeimage.LinuxFloor
			}
			if !nodeimage.IsCachedPauseImage(n.Image, version, ref) {
				return fmt.Sprintf("%q is not a pause image %s %s caches (%s): the node pulls it, which a network-isolated node cannot",
					ref, n.Image, version, strings.Join(nodeimage.CachedPauseImages(n.Image, version), ", "))
			}
			return ""
		}},
	{Path: "network_config.network_plugin", ReadBy: parserGo + " NETWORK_PLUGIN → " + cseInstall + " installNetworkPlugin, " + cseMain, Effect: NotReady,
		Need: "which CNI the image installs: AZURE for pod addresses from the node subnet, KUBENET for kubenet, NONE where a DaemonSet brings the CNI (Azure CNI overlay, Cilium, bring-your-own)",
		Check: func(c *aksnodeconfig.Configuration, n Node) string {
			got := ""
			if c.NetworkConfig != nil {
				got = c.NetworkConfig.NetworkPlugin
			}
			return want(got, ImageNetworkPlugin(n.Setup))
		}},
	{Path: "network_config.vnet_cni_plugins_url", ReadBy: parserGo + " VNET_CNI_PLUGINS_URL → " + cseInstall + " installAzureCNI", Effect: NotReady,
		Applies: func(n Node) bool { return ImageNetworkPlugin(n.Setup) == aksnodeconfig.NetworkPluginAzure },
		Need:    "the Azure CNI tarball the image unpacks from /opt/cni/downloads; without it the image moves that directory's folders into /opt/cni/bin and installs no plugin",
		Check: func(c *aksnodeconfig.Configuration, n Node) string {
			got := ""
			if c.NetworkConfig != nil {
				got = c.NetworkConfig.VnetCNIPluginsURL
			}
			if got == "" {
				return "is missing"
			}
			if path.Base(got) != path.Base(nodeimage.VNetCNIPluginsURL(n.Image)) {
				return fmt.Sprintf("%q is not the Azure CNI tarball the image caches (%s)", got, path.Base(nodeimage.VNetCNIPluginsURL(n.Image)))
			}
			return ""
		}},
	{Path: "network_config.cni_plugins_url", ReadBy: cseCmd + " CNI_PLUGINS_URL (the scriptful contract; " + parserGo + " maps no CNI_PLUGINS_URL, and images since the floor install their cached plugins, " + cseInstall + " installNetworkPlugin)", Effect: Degraded,
		Applies: func(n Node) bool { return n.Setup == cluster.NetworkSetupKubenet },
		Need:    "the reference CNI plugins kubenet runs, as AKS sets it for kubenet pools",
		Check: func(c *aksnodeconfig.Configuration, n Node) string {
			got := ""
			if c.NetworkConfig != nil {
				got = c.NetworkConfig.CNIPluginsURL
			}
			return want(got, nodeimage.CNIPluginsURL(n.Image))
		}},
	{Path: "kubelet_config.kubelet_flags " + flagClusterDNS, ReadBy: kubeletService + " $KUBELET_FLAGS", Effect: Degraded,
		Need: "the DNS server pods resolve with: the kube-dns Service, or LocalDNS's cluster listener 169.254.10.11 on nodes with LocalDNS (pods' DNS fails, or bypasses LocalDNS, without it)",
		Check: func(c *aksnodeconfig.Configuration, n Node) string {
			got := kubeletFlag(c, flagClusterDNS)
			if n.Has(FeatureLocalDNS) {
				return want(got, localDNSClusterListener)
			}
			if net.ParseIP(got) == nil {
				return fmt.Sprintf("%q is not an IP address", got)
			}
			if n.KubeDNS != "" {
				return want(got, n.KubeDNS)
			}
			return ""
		}},
	{Path: "kubelet_config.kubelet_flags " + flagEvictionHard, ReadBy: kubeletService + " $KUBELET_FLAGS", Effect: Degraded,
		Need: "AKS's hard eviction set (memory.available<750Mi, nodefs.available<10%, nodefs.inodesFree<5%): a kubelet given --eviction-hard keeps only the signals named",
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			got := kubeletFlag(c, flagEvictionHard)
			for _, signal := range []string{"memory.available<", "nodefs.available<", "nodefs.inodesFree<"} {
				if !strings.Contains(got, signal) {
					return fmt.Sprintf("%q lacks %s", got, strings.TrimSuffix(signal, "<"))
				}
			}
			return ""
		}},
	{Path: "kubelet_config.kubelet_flags (hardening)", ReadBy: kubeletService + " $KUBELET_FLAGS", Effect: Degraded,
		Need: "AKS's kubelet hardening: no anonymous or read-only access, webhook authorization, rotated certificates, AKS's TLS cipher suites, event QPS, protected kernel defaults, the external cloud provider",
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			for _, f := range []struct{ name, value string }{
				{"--anonymous-auth", "false"}, {"--authentication-token-webhook", "true"}, {"--authorization-mode", "Webhook"},
				{"--read-only-port", "0"}, {"--rotate-certificates", "true"}, {"--event-qps", "0"}, {"--protect-kernel-defaults", "true"},
				{"--cloud-provider", "external"}, {"--client-ca-file", "/etc/kubernetes/certs/ca.crt"},
			} {
				if p := want(kubeletFlag(c, f.name), f.value); p != "" {
					return f.name + " " + p
				}
			}
			if kubeletFlag(c, "--tls-cipher-suites") == "" {
				return "--tls-cipher-suites is missing"
			}
			return ""
		}},
	{Path: "kubelet_config.kubelet_config_file_config.server_tls_bootstrap with --rotate-server-certificates", ReadBy: parserGo + " ENABLE_KUBELET_SERVING_CERTIFICATE_ROTATION → " + cseConfig + " configureKubeletServing", Effect: Degraded,
		Need: "kubelet serving certificate rotation: the image drops the self-signed serving certificate and adds the kubernetes.azure.com/kubelet-serving-ca=cluster label only when the file field says so",
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			on := c.KubeletConfig != nil && c.KubeletConfig.KubeletConfigFileConfig != nil && c.KubeletConfig.KubeletConfigFileConfig.ServerTLSBootstrap
			if !on {
				return "is false: the node serves with a self-signed certificate"
			}
			if kubeletFlag(c, flagRotateServerCerts) != "true" {
				return flagRotateServerCerts + " is not true"
			}
			if kubeletLabel(c, labelKubeletServingCA) != "cluster" {
				return "the node lacks label " + labelKubeletServingCA + "=cluster, which AKS's control plane approves serving certificates by"
			}
			return ""
		}},
	{Path: "kubelet_config.kubelet_node_labels " + labelDoNotSyncTaints, ReadBy: "karpenter core pkg/controllers/nodeclaim/lifecycle/registration.go syncNode", Effect: Degraded,
		Need: `"true": core does not copy the NodeClaim's taints onto the Node, which would race startup taints' removal (kubernetes-sigs/karpenter#1772); the node registers them itself`,
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			return want(kubeletLabel(c, labelDoNotSyncTaints), "true")
		}},
	{Path: "kubelet_config.kubelet_node_labels " + labelAgentPool, ReadBy: "AKS (its own agent pools carry it; karpenter-provider-azure leaves it unset, pkg/apis/v1beta1/labels.go)", Effect: Degraded,
		Need: "unset: a NodePool name may equal a real agent pool's, whose operations would then touch these nodes",
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			if v := kubeletLabel(c, labelAgentPool); v != "" {
				return fmt.Sprintf("is set (%q)", v)
			}
			return ""
		}},
	{Path: "kubelet_config.kubelet_node_labels " + labelAzureCNIOverlay, ReadBy: "the Azure CNI overlay DaemonSets' node affinity (AKS)", Effect: NotReady,
		Applies: func(n Node) bool {
			return n.Setup == cluster.NetworkSetupAzureCNIOverlay || n.Setup == cluster.NetworkSetupAzureCNICilium
		},
		Need: `"true": AKS's overlay CNI DaemonSets run only on nodes that carry it`,
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			return want(kubeletLabel(c, labelAzureCNIOverlay), "true")
		}},
	{Path: "kubelet_config.kubelet_node_labels " + labelEBPFDataplane, ReadBy: "the Cilium agent DaemonSet's node affinity (AKS)", Effect: NotReady,
		Applies: func(n Node) bool {
			return n.Setup == cluster.NetworkSetupAzureCNICilium || n.Setup == cluster.NetworkSetupAzureCNICiliumNodeSubnet
		},
		Need: `"cilium": AKS's Cilium agent runs only on nodes that carry it`,
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			return want(kubeletLabel(c, labelEBPFDataplane), "cilium")
		}},
	{Path: "gpu_config.enable_nvidia, config_gpu_driver", ReadBy: parserGo + " GPU_NODE, CONFIG_GPU_DRIVER_IF_NEEDED → " + cseMain + " (driver install), " + containerdTmpl + " (nvidia-container-runtime)", Effect: Degraded,
		Applies: func(n Node) bool { return n.Has(FeatureGPU) },
		Need:    "the NVIDIA driver and container runtime; without them the node advertises no GPUs",
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			g := c.GPUConfig
			if g == nil || g.EnableNvidia == nil || !*g.EnableNvidia || !g.ConfigGPUDriver {
				return "is not set"
			}
			return ""
		}},
	{Path: "vm_size", ReadBy: parserGo + " GPU_DRIVER_VERSION, GPU_DRIVER_TYPE, GPU_NEEDS_FABRIC_MANAGER (by VM size)", Effect: Degraded,
		Applies: func(n Node) bool { return n.Has(FeatureGPU) },
		Need:    "which GPU driver and fabric manager the image installs",
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			return nonEmpty(c.VMSize)
		}},
	{Path: "is_kata, and the image definition", ReadBy: containerdTmpl + " ({{if .GetIsKata}}: kata runtimes); Azure/AgentBaker pkg/agent/datamodel/sig_config.go (V3katagen2)", Effect: Degraded,
		Applies: func(n Node) bool { return n.Has(FeatureKata) },
		Need:    "pod sandboxing: AKS's Kata image (V3katagen2) and the containerd runtimes that run on it",
		Check: func(c *aksnodeconfig.Configuration, n Node) string {
			if !n.Image.Kata {
				return fmt.Sprintf("the node boots %s, not AKS's Kata image (V3katagen2)", n.Image.Definition)
			}
			if !c.IsKata {
				return "is_kata is false"
			}
			return ""
		}},
	{Path: "local_dns_profile.enable_local_dns", ReadBy: parserGo + " SHOULD_ENABLE_LOCALDNS → " + cseMain + " enableLocalDNS", Effect: Degraded,
		Applies: func(n Node) bool { return n.Has(FeatureLocalDNS) },
		Need:    "LocalDNS on the node",
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			if c.LocalDNSProfile == nil || !c.LocalDNSProfile.EnableLocalDNS {
				return "is not true"
			}
			return ""
		}},
	{Path: "cluster_config.cluster_network_config.core_dns_service_ip", ReadBy: localDNSTmpl + " (getCoreDnsServiceIp, which falls back to 10.0.0.10)", Effect: Degraded,
		Applies: func(n Node) bool { return n.Has(FeatureLocalDNS) },
		Need:    "where LocalDNS forwards cluster names: the kube-dns Service IP",
		Check: func(c *aksnodeconfig.Configuration, n Node) string {
			nw := clusterNetwork(c)
			if nw == nil || net.ParseIP(nw.CoreDNSServiceIP) == nil {
				return "is not an IP address"
			}
			if n.KubeDNS != "" {
				return want(nw.CoreDNSServiceIP, n.KubeDNS)
			}
			return ""
		}},
	{Path: "enable_artifact_streaming", ReadBy: parserGo + " ARTIFACT_STREAMING_ENABLED → " + cseMain + " ensureArtifactStreaming, " + containerdTmpl + " (overlaybd snapshotter)", Effect: Degraded,
		Applies: func(n Node) bool { return n.Has(FeatureArtifactStreaming) },
		Need:    "container image streaming, and the node's " + labelArtifactStream + " label",
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			if !c.EnableArtifactStreaming {
				return "is false"
			}
			return want(kubeletLabel(c, labelArtifactStream), "true")
		}},
	{Path: "kubelet_config.kubelet_flags " + flagFeatureGates + " CustomCPUCFSQuotaPeriod=true", ReadBy: kubeletValidate, Effect: NoNode,
		Applies: func(n Node) bool { return n.Has(FeatureCFSQuotaPeriod) },
		Need:    "a kubelet refuses " + flagCPUCFSQuotaPeriod + " without the gate",
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			for _, g := range strings.Split(kubeletFlag(c, flagFeatureGates), ",") {
				if strings.TrimSpace(g) == "CustomCPUCFSQuotaPeriod=true" {
					return ""
				}
			}
			return "lacks CustomCPUCFSQuotaPeriod=true"
		}},
	{Path: "http_proxy_config.http_proxy, https_proxy", ReadBy: parserGo + " HTTP_PROXY_URLS, HTTPS_PROXY_URLS, PROXY_VARS → " + cseConfig + " configureEtcEnvironment, " + cseMain + " (eval $PROXY_VARS before downloads)", Effect: NoNode,
		Applies: func(n Node) bool { return n.Has(FeatureHTTPProxy) },
		Need:    "http(s):// URLs the node's provisioning and runtime reach the internet through",
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			p := c.HTTPProxyConfig
			if p == nil || (p.HTTPProxy == "" && p.HTTPSProxy == "") {
				return "is not set"
			}
			for _, u := range []string{p.HTTPProxy, p.HTTPSProxy} {
				if u == "" {
					continue
				}
				if parsed, err := url.Parse(u); err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Hostname() == "" {
					return fmt.Sprintf("%q is not an http(s) URL", u)
				}
			}
			return ""
		}},
	{Path: "http_proxy_config.no_proxy_entries", ReadBy: parserGo + " NO_PROXY_URLS, PROXY_VARS → " + cseMain + " (before fetch_and_cache_imds_instance_metadata)", Effect: NoNode,
		Applies: func(n Node) bool { return n.Has(FeatureHTTPProxy) },
		Need:    "the instance metadata service (169.254.169.254) and the wire server (168.63.129.16) reached directly: a proxy cannot reach link-local addresses",
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			if c.HTTPProxyConfig == nil {
				return "is missing"
			}
			for _, must := range []string{"169.254.169.254", "168.63.129.16"} {
				if !slices.Contains(c.HTTPProxyConfig.NoProxyEntries, must) {
					return "lacks " + must
				}
			}
			return ""
		}},
	{Path: "http_proxy_config.proxy_trusted_ca", ReadBy: parserGo + " HTTP_PROXY_TRUSTED_CA → " + cseConfig + " configureHTTPProxyCA (base64 -d, update-ca-certificates)", Effect: NoNode,
		Applies: func(n Node) bool { return n.Has(FeatureHTTPProxy) },
		Need:    "base64 of a PEM bundle, when set; the image exits (ERR_UPDATE_CA_CERTS) on anything else",
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			if c.HTTPProxyConfig == nil || c.HTTPProxyConfig.ProxyTrustedCA == "" {
				return ""
			}
			return base64PEM(c.HTTPProxyConfig.ProxyTrustedCA)
		}},
	{Path: "custom_ca_certs", ReadBy: parserGo + " CUSTOM_CA_CERT_n, CUSTOM_CA_TRUST_COUNT → " + cseConfig + " configureCustomCaCertificate (base64 -d each)", Effect: NoNode,
		Applies: func(n Node) bool { return n.Has(FeatureCustomCA) },
		Need:    "base64 of one PEM certificate each",
		Check: func(c *aksnodeconfig.Configuration, _ Node) string {
			if len(c.CustomCACerts) == 0 {
				return "is empty"
			}
			for i, ca := range c.CustomCACerts {
				if p := base64PEM(ca); p != "" {
					return fmt.Sprintf("[%d] %s", i, p)
				}
			}
			return ""
		}},
}

// ImageNetworkPlugin is network_config.network_plugin for a network setup:
// the CNI the image installs itself.
func ImageNetworkPlugin(s cluster.NetworkSetup) string {
	switch s {
	case cluster.NetworkSetupAzureCNINodeSubnet, cluster.NetworkSetupAzureCNICiliumNodeSubnet:
		return aksnodeconfig.NetworkPluginAzure
	case cluster.NetworkSetupKubenet:
		return aksnodeconfig.NetworkPluginKubenet
	default:
		return aksnodeconfig.NetworkPluginNone
	}
}

func clusterNetwork(c *aksnodeconfig.Configuration) *aksnodeconfig.ClusterNetworkConfig {
	if c.ClusterConfig == nil {
		return nil
	}
	return c.ClusterConfig.ClusterNetworkConfig
}

func kubeletFlag(c *aksnodeconfig.Configuration, name string) string {
	if c.KubeletConfig == nil {
		return ""
	}
	return c.KubeletConfig.KubeletFlags[name]
}

func kubeletLabel(c *aksnodeconfig.Configuration, key string) string {
	if c.KubeletConfig == nil {
		return ""
	}
	return c.KubeletConfig.KubeletNodeLabels[key]
}

func nonEmpty(v string) string {
	if v == "" {
		return "is missing"
	}
	return ""
}

func want(got, expected string) string {
	switch got {
	case expected:
		return ""
	case "":
		return fmt.Sprintf("is missing (want %q)", expected)
	default:
		return fmt.Sprintf("is %q, want %q", got, expected)
	}
}

func firstProblem(problems ...string) string {
	for _, p := range problems {
		if p != "" {
			return p
		}
	}
	return ""
}

// base64PEM checks base64 of a PEM bundle of certificates.
func base64PEM(v string) string {
	if v == "" {
		return "is missing"
	}
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return "is not base64"
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "CERTIFICATE" {
		return "is not base64 of a PEM certificate"
	}
	return ""
}
