// Package aksnodeconfig holds the Go types of the AKS node configuration
// (AKSNodeConfig, `aksnodeconfig.v1.Configuration`) that AKS Linux node
// images read from /opt/azure/containers/aks-node-controller-config.json
// and hand to aks-node-controller, which provisions the node.
//
// The contract is defined by protobuf files in Azure/AgentBaker
// (aks-node-controller/proto/aksnodeconfig/v1). Its Go module is not served
// by the Go module proxy, so the fields the provider sets are declared here.
// The file is protobuf JSON with the proto field names (snake_case, as
// AgentBaker's own writer emits with UseProtoNames) and enums as their names;
// aks-node-controller reads both spellings and, since November 2025, ignores
// fields it does not know. Only fields the provider sets are declared: a
// field missing here is left unset, which is the image's default.
package aksnodeconfig

// Version is the only configuration version the images accept.
const Version = "v1"

// Paths on the node and the command of the provisioning-status extension.
const (
	// ConfigPath is where custom data writes the configuration.
	ConfigPath = "/opt/azure/containers/aks-node-controller-config.json"
	// ControllerPath is aks-node-controller in the node image.
	ControllerPath = "/opt/azure/containers/aks-node-controller"
	// LauncherPath runs the controller on images that have it; older
	// images start aks-node-controller.service instead.
	LauncherPath = "/opt/azure/containers/aks-node-controller-launcher.sh"
	// ProvisionCompletePath exists once provisioning has finished.
	ProvisionCompletePath = "/opt/azure/containers/provision.complete"
	// ProvisionWaitCommand is what the Custom Script Extension runs: it waits
	// for provisioning to finish and fails when provisioning failed, so the
	// VM's extension status reports the node's bootstrap outcome.
	ProvisionWaitCommand = ControllerPath + " provision-wait"
)

// Configuration is aksnodeconfig.v1.Configuration.
type Configuration struct {
	Version                 string               `json:"version"`
	KubeBinaryConfig        *KubeBinaryConfig    `json:"kube_binary_config,omitempty"`
	APIServerConfig         *APIServerConfig     `json:"api_server_config,omitempty"`
	ClusterConfig           *ClusterConfig       `json:"cluster_config,omitempty"`
	BootstrappingConfig     *BootstrappingConfig `json:"bootstrapping_config,omitempty"`
	AuthConfig              *AuthConfig          `json:"auth_config,omitempty"`
	KubeletConfig           *KubeletConfig       `json:"kubelet_config,omitempty"`
	CustomLinuxOSConfig     *CustomLinuxOSConfig `json:"custom_linux_os_config,omitempty"`
	GPUConfig               *GPUConfig           `json:"gpu_config,omitempty"`
	NetworkConfig           *NetworkConfig       `json:"network_config,omitempty"`
	KubernetesCACert        string               `json:"kubernetes_ca_cert,omitempty"`
	KubernetesVersion       string               `json:"kubernetes_version,omitempty"`
	VMSize                  string               `json:"vm_size,omitempty"`
	LinuxAdminUsername      string               `json:"linux_admin_username,omitempty"`
	IsVHD                   *bool                `json:"is_vhd,omitempty"`
	EnableSSH               *bool                `json:"enable_ssh,omitempty"`
	EnableUnattendedUpgrade bool                 `json:"enable_unattended_upgrade,omitempty"`
	// CustomCACerts are base64 of PEM certificates added to the node's
	// trust store (cse_config.sh configureCustomCaCertificate decodes each).
	CustomCACerts           []string               `json:"custom_ca_certs,omitempty"`
	WorkloadRuntime         string                 `json:"workload_runtime,omitempty"`
	EnableArtifactStreaming bool                   `json:"enable_artifact_streaming,omitempty"`
	IsKata                  bool                   `json:"is_kata,omitempty"`
	NeedsCgroupV2           *bool                  `json:"needs_cgroupv2,omitempty"`
	LocalDNSProfile         *LocalDNSProfile       `json:"local_dns_profile,omitempty"`
	CSETimeout              *int32                 `json:"cse_timeout,omitempty"`
	HTTPProxyConfig         *HTTPProxyConfig       `json:"http_proxy_config,omitempty"`
	ImdsRestrictionConfig   *ImdsRestrictionConfig `json:"imds_restriction_config,omitempty"`
}

// KubeBinaryConfig names the node's Kubernetes artifacts.
type KubeBinaryConfig struct {
	// PodInfraContainerImageURL is the pod sandbox (pause) image. The image
	// writes it into containerd's configuration (sandbox_image, or
	// pinned_images.sandbox on containerd 2) with no default of its own.
	PodInfraContainerImageURL string `json:"pod_infra_container_image_url,omitempty"`
}

// APIServerConfig says where the API server is. Nodes reach it at
// https://<api_server_name>:443.
type APIServerConfig struct {
	APIServerName string `json:"api_server_name,omitempty"`
}

// VM types (cluster_config.vm_type).
const (
	VMTypeStandard = "VM_TYPE_STANDARD"
	VMTypeVMSS     = "VM_TYPE_VMSS"
)

// Load balancer SKUs (cluster_config.load_balancer_config.load_balancer_sku).
const (
	LoadBalancerSKUStandard = "LOAD_BALANCER_SKU_STANDARD"
)

// ClusterConfig is what the node's cloud configuration (azure.json) says.
type ClusterConfig struct {
	ClusterNetworkConfig *ClusterNetworkConfig `json:"cluster_network_config,omitempty"`
	LoadBalancerConfig   *LoadBalancerConfig   `json:"load_balancer_config,omitempty"`
	ResourceGroup        string                `json:"resource_group,omitempty"`
	Location             string                `json:"location,omitempty"`
	VMType               string                `json:"vm_type,omitempty"`
	UseInstanceMetadata  bool                  `json:"use_instance_metadata,omitempty"`
}

// ClusterNetworkConfig names the node's network.
type ClusterNetworkConfig struct {
	VNetName          string `json:"vnet_name,omitempty"`
	VNetResourceGroup string `json:"vnet_resource_group,omitempty"`
	Subnet            string `json:"subnet,omitempty"`
	SecurityGroupName string `json:"security_group_name,omitempty"`
	RouteTable        string `json:"route_table,omitempty"`
	// CoreDNSServiceIP is the kube-dns Service IP LocalDNS forwards cluster
	// names to.
	CoreDNSServiceIP string `json:"core_dns_service_ip,omitempty"`
}

// LoadBalancerConfig is the cluster's load balancer setup.
type LoadBalancerConfig struct {
	LoadBalancerSKU string `json:"load_balancer_sku,omitempty"`
	// ExcludeMasterFromStandardLoadBalancer is a proto "optional bool".
	ExcludeMasterFromStandardLoadBalancer *bool `json:"exclude_master_from_standard_load_balancer,omitempty"`
}

// Bootstrapping auth methods (bootstrapping_config.bootstrapping_auth_method).
const (
	BootstrappingAuthMethodBootstrapToken = "BOOTSTRAPPING_AUTH_METHOD_BOOTSTRAP_TOKEN"
)

// BootstrappingConfig is how the kubelet gets its client certificate.
type BootstrappingConfig struct {
	BootstrappingAuthMethod string `json:"bootstrapping_auth_method,omitempty"`
	// TLSBootstrappingToken is "<token-id>.<token-secret>".
	TLSBootstrappingToken *string `json:"tls_bootstrapping_token,omitempty"`
}

// AuthConfig identifies the subscription and the node's identity.
type AuthConfig struct {
	TenantID       string `json:"tenant_id,omitempty"`
	SubscriptionID string `json:"subscription_id,omitempty"`
	// ServicePrincipalID is "msi" when the node uses managed identities.
	ServicePrincipalID string `json:"service_principal_id,omitempty"`
	// ServicePrincipalSecret is base64: base64("msi") with managed identities.
	ServicePrincipalSecret string `json:"service_principal_secret,omitempty"`
	// AssignedIdentityID is the kubelet identity's client ID.
	AssignedIdentityID          string `json:"assigned_identity_id,omitempty"`
	UseManagedIdentityExtension bool   `json:"use_managed_identity_extension,omitempty"`
}

// KubeletConfig is the kubelet's command line and labels. Flag keys carry
// their leading "--"; the image passes --kubeconfig and --bootstrap-kubeconfig
// itself and --node-labels from KubeletNodeLabels.
type KubeletConfig struct {
	KubeletFlags            map[string]string `json:"kubelet_flags,omitempty"`
	KubeletNodeLabels       map[string]string `json:"kubelet_node_labels,omitempty"`
	EnableKubeletConfigFile bool              `json:"enable_kubelet_config_file,omitempty"`
	// KubeletConfigFileConfig is the kubelet configuration file's content
	// in file mode. In flag mode the image still reads one field of it:
	// server_tls_bootstrap turns on kubelet serving certificate rotation
	// (aks-node-controller/parser/parser.go
	// ENABLE_KUBELET_SERVING_CERTIFICATE_ROTATION).
	KubeletConfigFileConfig *KubeletConfigFileConfig `json:"kubelet_config_file_config,omitempty"`
}

// KubeletConfigFileConfig is the part of aksnodeconfig.v1.KubeletConfigFileConfig
// the provider sets.
type KubeletConfigFileConfig struct {
	ServerTLSBootstrap bool `json:"server_tls_bootstrap,omitempty"`
}

// CustomLinuxOSConfig tunes the node's kernel and swap.
type CustomLinuxOSConfig struct {
	SysctlConfig               *SysctlConfig `json:"sysctl_config,omitempty"`
	EnableSwapConfig           bool          `json:"enable_swap_config,omitempty"`
	SwapFileSize               int32         `json:"swap_file_size,omitempty"`
	TransparentHugepageSupport string        `json:"transparent_hugepage_support,omitempty"`
	TransparentDefrag          string        `json:"transparent_defrag,omitempty"`
}

// SysctlConfig holds the sysctls AKS lets users set; every field is a proto
// "optional".
type SysctlConfig struct {
	NetCoreSomaxconn               *int32  `json:"net_core_somaxconn,omitempty"`
	NetCoreNetdevMaxBacklog        *int32  `json:"net_core_netdev_max_backlog,omitempty"`
	NetCoreRmemDefault             *int32  `json:"net_core_rmem_default,omitempty"`
	NetCoreRmemMax                 *int32  `json:"net_core_rmem_max,omitempty"`
	NetCoreWmemDefault             *int32  `json:"net_core_wmem_default,omitempty"`
	NetCoreWmemMax                 *int32  `json:"net_core_wmem_max,omitempty"`
	NetCoreOptmemMax               *int32  `json:"net_core_optmem_max,omitempty"`
	NetIPv4TCPMaxSynBacklog        *int32  `json:"net_ipv4_tcp_max_syn_backlog,omitempty"`
	NetIPv4TCPMaxTwBuckets         *int32  `json:"net_ipv4_tcp_max_tw_buckets,omitempty"`
	NetIPv4TCPFinTimeout           *int32  `json:"net_ipv4_tcp_fin_timeout,omitempty"`
	NetIPv4TCPKeepaliveTime        *int32  `json:"net_ipv4_tcp_keepalive_time,omitempty"`
	NetIPv4TCPKeepaliveProbes      *int32  `json:"net_ipv4_tcp_keepalive_probes,omitempty"`
	NetIPv4TCPKeepaliveIntvl       *int32  `json:"net_ipv4_tcpkeepalive_intvl,omitempty"`
	NetIPv4TCPTwReuse              *bool   `json:"net_ipv4_tcp_tw_reuse,omitempty"`
	NetIPv4IPLocalPortRange        *string `json:"net_ipv4_ip_local_port_range,omitempty"`
	NetIPv4NeighDefaultGcThresh1   *int32  `json:"net_ipv4_neigh_default_gc_thresh1,omitempty"`
	NetIPv4NeighDefaultGcThresh2   *int32  `json:"net_ipv4_neigh_default_gc_thresh2,omitempty"`
	NetIPv4NeighDefaultGcThresh3   *int32  `json:"net_ipv4_neigh_default_gc_thresh3,omitempty"`
	NetNetfilterNfConntrackMax     *int32  `json:"net_netfilter_nf_conntrack_max,omitempty"`
	NetNetfilterNfConntrackBuckets *int32  `json:"net_netfilter_nf_conntrack_buckets,omitempty"`
	FsInotifyMaxUserWatches        *int32  `json:"fs_inotify_max_user_watches,omitempty"`
	FsFileMax                      *int32  `json:"fs_file_max,omitempty"`
	FsAioMaxNr                     *int32  `json:"fs_aio_max_nr,omitempty"`
	FsNrOpen                       *int32  `json:"fs_nr_open,omitempty"`
	KernelThreadsMax               *int32  `json:"kernel_threads_max,omitempty"`
	VMMaxMapCount                  *int32  `json:"vm_max_map_count,omitempty"`
	VMSwappiness                   *int32  `json:"vm_swappiness,omitempty"`
	VMVfsCachePressure             *int32  `json:"vm_vfs_cache_pressure,omitempty"`
}

// GPUConfig says whether the node installs the GPU driver.
type GPUConfig struct {
	// EnableNvidia marks an NVIDIA GPU node (proto "optional bool").
	EnableNvidia *bool `json:"enable_nvidia,omitempty"`
	// ConfigGPUDriver installs the driver during provisioning.
	ConfigGPUDriver bool `json:"config_gpu_driver,omitempty"`
	// GPUDevicePlugin installs the device plugin as a systemd unit.
	GPUDevicePlugin bool `json:"gpu_device_plugin,omitempty"`
}

// Network plugins and policies (network_config).
const (
	NetworkPluginNone    = "NETWORK_PLUGIN_NONE"
	NetworkPluginAzure   = "NETWORK_PLUGIN_AZURE"
	NetworkPluginKubenet = "NETWORK_PLUGIN_KUBENET"
	NetworkPolicyNone    = "NETWORK_POLICY_NONE"
	NetworkPolicyAzure   = "NETWORK_POLICY_AZURE"
	NetworkPolicyCalico  = "NETWORK_POLICY_CALICO"
)

// NetworkConfig is the node's CNI setup.
type NetworkConfig struct {
	NetworkPlugin string `json:"network_plugin,omitempty"`
	NetworkPolicy string `json:"network_policy,omitempty"`
	// VnetCNIPluginsURL is the Azure CNI tarball (Azure CNI with pod
	// addresses from the node subnet); the image installs the cached file
	// of that name.
	VnetCNIPluginsURL string `json:"vnet_cni_plugins_url,omitempty"`
	// CNIPluginsURL is the reference CNI plugins tarball (kubenet).
	CNIPluginsURL string `json:"cni_plugins_url,omitempty"`
}

// LocalDNSProfile configures LocalDNS, a DNS cache on the node.
type LocalDNSProfile struct {
	EnableLocalDNS       bool                         `json:"enable_local_dns,omitempty"`
	CPULimitInMilliCores *int32                       `json:"cpu_limit_in_milli_cores,omitempty"`
	MemoryLimitInMB      *int32                       `json:"memory_limit_in_mb,omitempty"`
	VNetDNSOverrides     map[string]LocalDNSOverrides `json:"vnet_dns_overrides,omitempty"`
	KubeDNSOverrides     map[string]LocalDNSOverrides `json:"kube_dns_overrides,omitempty"`
}

// LocalDNSOverrides is one zone's LocalDNS behaviour.
type LocalDNSOverrides struct {
	QueryLogging                string `json:"query_logging,omitempty"`
	Protocol                    string `json:"protocol,omitempty"`
	ForwardDestination          string `json:"forward_destination,omitempty"`
	ForwardPolicy               string `json:"forward_policy,omitempty"`
	MaxConcurrent               *int32 `json:"max_concurrent,omitempty"`
	CacheDurationInSeconds      *int32 `json:"cache_duration_in_seconds,omitempty"`
	ServeStaleDurationInSeconds *int32 `json:"serve_stale_duration_in_seconds,omitempty"`
	ServeStale                  string `json:"serve_stale,omitempty"`
}

// HTTPProxyConfig is the node's egress proxy.
type HTTPProxyConfig struct {
	HTTPProxy      string   `json:"http_proxy,omitempty"`
	HTTPSProxy     string   `json:"https_proxy,omitempty"`
	NoProxyEntries []string `json:"no_proxy_entries,omitempty"`
	// ProxyTrustedCA is base64 of a PEM bundle the node trusts for the
	// proxy (cse_config.sh configureHTTPProxyCA decodes it).
	ProxyTrustedCA string `json:"proxy_trusted_ca,omitempty"`
}

// ImdsRestrictionConfig limits pods' access to the instance metadata service.
type ImdsRestrictionConfig struct {
	EnableImdsRestriction bool `json:"enable_imds_restriction,omitempty"`
}
