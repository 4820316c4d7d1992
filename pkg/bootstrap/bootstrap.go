// Package bootstrap is the AKS node-image bootstrap contract: what a VM is
// given so that the AKS node image it boots joins the cluster as a node.
//
// The provider (pkg/providers/launchtemplate) fills a Config and Render
// turns it into the two artifacts ARM carries to the VM: osProfile.customData
// and a Custom Script Extension. Linux nodes get an AKSNodeConfig document
// (package aksnodeconfig) that the image's aks-node-controller provisions
// from; Windows nodes get AKS's Windows setup script and the CSE command line
// that runs it. The simulator's node agent, like the image, decodes those
// same artifacts (Decode) and joins the node from them. docs/bootstrap.md
// describes the contract and docs/decisions.md why this form of it.
package bootstrap

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"

	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/aksnodeconfig"
)

// MaxCustomDataLength is ARM's limit on customData, in base64 characters.
const MaxCustomDataLength = 87380

// OS is the node's operating system.
type OS string

// Operating systems.
const (
	Linux   OS = "Linux"
	Windows OS = "Windows"
)

// APIServerPort is the port nodes reach the API server on: AKS node images
// write https://<api server name>:443 into the kubelet's kubeconfigs.
const APIServerPort = 443

// DefaultAdminUsername is AKS's Linux administrator, which
// linux_admin_username defaults to in AgentBaker's config.proto.
const DefaultAdminUsername = "azureuser"

// Config is everything a node needs to join: what the cluster shares and
// what this node is. It is the same for both operating systems; Render
// encodes it the way each node image reads it.
type Config struct {
	OS      OS
	Cluster Cluster
	// KubernetesVersion is the kubelet's version, e.g. 1.35.4 (no "v").
	KubernetesVersion string
	// VMSize is the VM's size, e.g. Standard_D4s_v5.
	VMSize string
	// Labels are the node's labels (kubelet --node-labels).
	Labels map[string]string
	// Taints are registered with the node (kubelet --register-with-taints):
	// the NodeClaim's taints and startup taints, and karpenter.sh/unregistered.
	Taints  []corev1.Taint
	Kubelet Kubelet
	// WorkloadRuntime is OCIContainer (default) or KataVmIsolation.
	WorkloadRuntime string
	// GPUDriver installs the NVIDIA driver during provisioning.
	GPUDriver bool
	// ArtifactStreaming enables container image streaming.
	ArtifactStreaming bool
	// LinuxOS tunes the kernel (Linux nodes only).
	LinuxOS *LinuxOS
	// AdminUsername is the VM's Linux administrator (osProfile.adminUsername),
	// whose home the image's provisioning sets up; "" is AKS's azureuser.
	AdminUsername string
	// LocalDNS runs a DNS cache on the node (Linux nodes only); nil when off.
	LocalDNS *LocalDNS
	// PauseImage is the pod sandbox image: one the node image caches
	// (nodeimage.PauseImage), which the image writes into containerd's
	// configuration without a default of its own.
	PauseImage string
	// VNetCNIPluginsURL is the Azure CNI tarball nodes with pod addresses
	// from the node subnet install; CNIPluginsURL the reference plugins
	// kubenet nodes run. "" where the network setup installs none.
	VNetCNIPluginsURL string
	CNIPluginsURL     string
}

// LocalDNSClusterListenerIP is where LocalDNS answers pods' cluster DNS
// queries (the "cluster listener" the image's localdns.sh binds,
// LOCALDNS_CLUSTER_LISTENER_IP, and aks-node-controller's
// localDnsClusterListenerIp in parser/consts.go): the kubelet's
// --cluster-dns on nodes with LocalDNS, so pods' resolv.conf points there.
const LocalDNSClusterListenerIP = "169.254.10.11"

// KubeletClusterDNS is the kubelet's --cluster-dns: LocalDNS's cluster
// listener on nodes with LocalDNS, else the kube-dns Service IP.
func KubeletClusterDNS(kubeDNS string, localDNS *LocalDNS) string {
	if localDNS != nil {
		return LocalDNSClusterListenerIP
	}
	return kubeDNS
}

// The label of nodes whose kubelet requests its serving certificate from the
// cluster (--rotate-server-certificates): the image adds it itself when
// rotation is on (parts/linux/cloud-init/artifacts/cse_config.sh
// configureKubeletServing, KUBELET_SERVING_CERTIFICATE_ROTATION_LABEL), and
// AKS's control plane approves the serving CSRs of nodes that carry it.
const (
	LabelKubeletServingCA = "kubernetes.azure.com/kubelet-serving-ca"
	KubeletServingCA      = "cluster"
)

// Cluster is what every node of the cluster is told.
type Cluster struct {
	// APIServerName is the API server's host name (an FQDN or IP, no scheme
	// or port); nodes reach it on APIServerPort.
	APIServerName string
	// CACertificate is the cluster CA, PEM.
	CACertificate []byte
	// BootstrapToken is the TLS bootstrap token, <token-id>.<token-secret>.
	// It must appear nowhere but the custom data.
	BootstrapToken string
	// KubeletIdentityClientID is the client ID of the managed identity the
	// kubelet uses (for example to pull from ACR); "" when none.
	KubeletIdentityClientID string
	TenantID                string
	SubscriptionID          string
	Location                string
	// ResourceGroup is the node resource group.
	ResourceGroup     string
	VNetName          string
	VNetResourceGroup string
	SubnetName        string
	// NetworkPlugin is the node's CNI as AKS images name it: azure, kubenet
	// or none (Azure CNI overlay and bring-your-own CNI are "none").
	NetworkPlugin string
	// NetworkPluginMode is "overlay" for Azure CNI overlay ("" otherwise):
	// Windows nodes install Azure CNI in overlay mode themselves.
	NetworkPluginMode string
	// NetworkPolicy is "", azure or calico.
	NetworkPolicy string
	// DNSServiceIP is the kube-dns Service IP: LocalDNS forwards cluster
	// names to it (cluster_config.cluster_network_config.core_dns_service_ip).
	DNSServiceIP string
	// SecurityGroupName and RouteTableName are the cluster's network
	// security group and route table in the node resource group, which the
	// node's cloud configuration (azure.json) names.
	SecurityGroupName string
	RouteTableName    string
	// ServiceCIDR, PodCIDR and VNetCIDR are the cluster's address ranges:
	// Windows nodes' Azure CNI configuration and kube-proxy need them.
	ServiceCIDR string
	PodCIDR     string
	VNetCIDR    string
	// HTTPProxy is the egress proxy nodes use; nil for none.
	HTTPProxy *HTTPProxy
	// CustomCACerts are PEM certificates nodes add to their trust store.
	CustomCACerts [][]byte
}

// HTTPProxy is a cluster's egress proxy, as AKS's httpProxyConfig has it.
type HTTPProxy struct {
	HTTPProxy  string
	HTTPSProxy string
	NoProxy    []string
	// TrustedCA is a PEM bundle nodes trust for the proxy.
	TrustedCA []byte
}

// Kubelet holds the kubelet settings that shape the node: the reservations
// that make allocatable (written from the provider's one overhead rule) and
// the AKSNodeClass's kubelet block, with upstream KubeletConfiguration names.
type Kubelet struct {
	MaxPods        int32
	KubeReserved   map[string]string
	SystemReserved map[string]string
	// EvictionHard maps a signal (memory.available, nodefs.available) to a
	// quantity or percentage.
	EvictionHard map[string]string
	// ClusterDNS is the kube-dns Service IP.
	ClusterDNS string

	CPUManagerPolicy            string
	CPUCFSQuota                 *bool
	CPUCFSQuotaPeriod           string
	ImageGCHighThresholdPercent *int32
	ImageGCLowThresholdPercent  *int32
	TopologyManagerPolicy       string
	AllowedUnsafeSysctls        []string
	ContainerLogMaxSize         string
	ContainerLogMaxFiles        *int32
	PodPidsLimit                *int64
	FailSwapOn                  *bool
}

// Artifact is what ARM carries to the VM.
type Artifact struct {
	// CustomData is osProfile.customData (base64).
	CustomData string
	// Extension is the Custom Script Extension created with the VM.
	Extension Extension
}

// Extension is a VM extension (Microsoft.Compute/virtualMachines/extensions).
type Extension struct {
	Name               string
	Publisher          string
	Type               string
	TypeHandlerVersion string
	// CommandToExecute goes into protectedSettings, which ARM never returns.
	CommandToExecute string
}

// Custom Script Extensions of AKS nodes.
var (
	// LinuxExtension runs on the Linux images' script host; its command waits
	// for aks-node-controller and reports the provisioning outcome.
	LinuxExtension = Extension{Name: "cse-agent-azkarpenter", Publisher: "Microsoft.Azure.Extensions", Type: "CustomScript", TypeHandlerVersion: "2.0"}
	// WindowsExtension is the Windows images' script host; its command runs
	// the setup script that custom data delivered.
	WindowsExtension = Extension{Name: "windows-cse-agent-azkarpenter", Publisher: "Microsoft.Compute", Type: "CustomScriptExtension", TypeHandlerVersion: "1.10"}
)

var kubernetesVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)

// Validate reports what would keep a node from joining, naming the input.
func (c *Config) Validate() error {
	var errs []error
	if c.OS != Linux && c.OS != Windows {
		errs = append(errs, fmt.Errorf("OS %q is not Linux or Windows", c.OS))
	}
	if c.Cluster.APIServerName == "" || strings.ContainsAny(c.Cluster.APIServerName, ":/ ") {
		errs = append(errs, fmt.Errorf("API server name %q must be a host name or IP without scheme or port", c.Cluster.APIServerName))
	}
	if len(c.Cluster.CACertificate) == 0 || !strings.Contains(string(c.Cluster.CACertificate), "BEGIN CERTIFICATE") {
		errs = append(errs, errors.New("cluster CA certificate is missing or not PEM"))
	}
	if !bootstraputil.IsValidBootstrapToken(c.Cluster.BootstrapToken) {
		errs = append(errs, errors.New("bootstrap token does not have the form [a-z0-9]{6}.[a-z0-9]{16}"))
	}
	if !kubernetesVersion.MatchString(c.KubernetesVersion) {
		errs = append(errs, fmt.Errorf("kubernetes version %q is not MAJOR.MINOR.PATCH", c.KubernetesVersion))
	}
	if c.Kubelet.MaxPods < 10 || c.Kubelet.MaxPods > 250 {
		errs = append(errs, fmt.Errorf("max pods %d is outside 10..250", c.Kubelet.MaxPods))
	}
	for _, t := range c.Taints {
		if t.Key == "" {
			errs = append(errs, errors.New("a taint has an empty key"))
		}
		switch t.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			errs = append(errs, fmt.Errorf("taint %s has invalid effect %q", t.Key, t.Effect))
		}
	}
	if c.OS == Windows && (c.LinuxOS != nil || c.LocalDNS != nil) {
		errs = append(errs, errors.New("linux OS settings and LocalDNS do not apply to Windows nodes"))
	}
	switch c.WorkloadRuntime {
	case "", "OCIContainer", "KataVmIsolation":
	default:
		errs = append(errs, fmt.Errorf("workload runtime %q is not OCIContainer or KataVmIsolation", c.WorkloadRuntime))
	}
	return errors.Join(errs...)
}

// Render encodes the configuration for the node image of its OS.
func Render(c *Config) (*Artifact, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("bootstrap configuration: %w", err)
	}
	var a *Artifact
	var err error
	if c.OS == Windows {
		a, err = renderWindows(c)
	} else {
		a, err = renderLinux(c)
	}
	if err != nil {
		return nil, err
	}
	if len(a.CustomData) > MaxCustomDataLength {
		return nil, fmt.Errorf("bootstrap custom data is %d base64 characters, over ARM's limit of %d: too many labels or taints", len(a.CustomData), MaxCustomDataLength)
	}
	return a, nil
}

// Decode reads the configuration back from a VM's custom data, as the node
// image does. Everything the node needs must be there: an artifact that an
// image could not provision from is an error here too.
func Decode(os OS, customData string) (*Config, error) {
	raw, err := base64.StdEncoding.DecodeString(customData)
	if err != nil {
		return nil, fmt.Errorf("custom data is not base64: %w", err)
	}
	var c *Config
	if os == Windows {
		c, err = decodeWindows(raw)
	} else {
		c, err = decodeLinux(raw)
	}
	if err != nil {
		return nil, err
	}
	c.OS = os
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("bootstrap configuration: %w", err)
	}
	return c, nil
}

// sortedKeys returns a map's keys in order, so artifacts are deterministic.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Readable renders custom data for people: the decoded document, with the
// AKSNodeConfig a Linux boothook embeds shown as indented JSON in place of
// its base64. Golden files and debugging use it; nodes never see it.
func Readable(os OS, customData string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(customData)
	if err != nil {
		return "", fmt.Errorf("custom data is not base64: %w", err)
	}
	text := strings.ReplaceAll(string(raw), "\r\n", "\n")
	if os == Windows {
		return text, nil
	}
	m := configLine.FindStringSubmatchIndex(text)
	if m == nil {
		return text, nil
	}
	doc, err := base64.StdEncoding.DecodeString(text[m[2]:m[3]])
	if err != nil {
		return "", err
	}
	return text[:m[2]] + "<base64 of the AKSNodeConfig below>" + text[m[3]:] + "\n--- AKSNodeConfig (" + aksnodeconfig.ConfigPath + ") ---\n" + string(doc) + "\n", nil
}
