package launchtemplate

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/contract"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/nodeimage"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
	subnetpkg "github.com/azkarpenter/azkarpenter/pkg/providers/subnet"
)

// The node's bootstrap configuration (docs/bootstrap.md): the cluster it
// joins, its kubelet and OS settings, and the checks that keep a VM from
// being created with custom data its image could not provision from.

// bootstrapConfig is the node's bootstrap configuration, checked for what
// its OS supports.
func (p *DefaultProvider) bootstrapConfig(in Input, spec *LaunchSpec, inputs *cluster.Inputs, subnet subnetpkg.ID, nodeImage nodeimage.Image) (*bootstrap.Config, error) {
	nc, s := in.NodeClass, in.SKU
	maxPods := p.opts.DefaultMaxPods
	if nc.Spec.MaxPods != nil {
		maxPods = *nc.Spec.MaxPods
	}
	reserved := bootstrap.KubeReserved(s.VCPUs(), s.MemoryGiB())
	osType := bootstrap.Linux
	if nc.IsWindows() {
		osType = bootstrap.Windows
	}
	dns := localDNS(nc)
	cfg := &bootstrap.Config{
		OS:                osType,
		AdminUsername:     p.opts.AdminUsername,
		Cluster:           p.bootstrapCluster(inputs, subnet),
		KubernetesVersion: strings.TrimPrefix(inputs.KubernetesVersion, "v"),
		VMSize:            s.Name,
		Labels:            kubeletLabels(spec.Labels),
		Taints:            registrationTaints(in.NodeClaim),
		WorkloadRuntime:   string(lo.FromPtrOr(nc.Spec.WorkloadRuntime, v1beta1.WorkloadRuntimeOCIContainer)),
		GPUDriver: !nc.IsWindows() && nc.GPUDriverInstallation() && s.Int(sku.CapGPUs) > 0 &&
			in.InstanceType.Requirements.Get(v1beta1.LabelSKUGPUManufacturer).Any() == v1beta1.ManufacturerNvidia,
		ArtifactStreaming: nc.ArtifactStreamingEnabled(s.Architecture()),
		LocalDNS:          dns,
		PauseImage:        nodeimage.PauseImage(nodeImage, spec.Image.Version),
		Kubelet: bootstrap.Kubelet{
			MaxPods:        maxPods,
			KubeReserved:   quantities(reserved.KubeReservedList()),
			SystemReserved: map[string]string{},
			EvictionHard:   reserved.EvictionHard(),
			ClusterDNS:     bootstrap.KubeletClusterDNS(inputs.ClusterDNS, dns),
		},
	}
	switch {
	case nc.IsWindows():
		// Windows nodes install Azure CNI themselves, overlay or not
		// (Install-VnetPlugins in AKS's Windows CSE package). The kubelet
		// has no inode eviction signal there.
		cfg.VNetCNIPluginsURL = nodeimage.VNetCNIPluginsURL(nodeImage)
		delete(cfg.Kubelet.EvictionHard, "nodefs.inodesFree")
	case cfg.Cluster.NetworkPlugin == "azure":
		cfg.VNetCNIPluginsURL = nodeimage.VNetCNIPluginsURL(nodeImage)
	case cfg.Cluster.NetworkPlugin == "kubenet":
		cfg.CNIPluginsURL = nodeimage.CNIPluginsURL(nodeImage)
	}
	applyKubeletConfiguration(&cfg.Kubelet, nc.Spec.Kubelet)
	var err error
	if cfg.LinuxOS, err = linuxOS(nc.Spec.LinuxOSConfig); err != nil {
		return nil, fmt.Errorf("linuxOSConfig: %w", err)
	}
	if nc.IsWindows() {
		if err := checkWindows(cfg); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// bootstrapCluster is what the node is told of the cluster it joins.
func (p *DefaultProvider) bootstrapCluster(inputs *cluster.Inputs, subnet subnetpkg.ID) bootstrap.Cluster {
	return bootstrap.Cluster{
		APIServerName:           inputs.APIServerName,
		CACertificate:           inputs.CACertificate,
		BootstrapToken:          inputs.BootstrapToken,
		KubeletIdentityClientID: inputs.KubeletIdentityClientID,
		TenantID:                inputs.TenantID,
		SubscriptionID:          p.opts.SubscriptionID,
		Location:                p.opts.Location,
		ResourceGroup:           p.opts.ResourceGroup,
		VNetName:                subnet.VNet,
		VNetResourceGroup:       subnet.ResourceGroup,
		SubnetName:              subnet.Subnet,
		NetworkPlugin:           inputs.ImageNetworkPlugin(),
		NetworkPluginMode:       inputs.NetworkPluginMode,
		NetworkPolicy:           inputs.NetworkPolicy,
		DNSServiceIP:            inputs.ClusterDNS,
		SecurityGroupName:       inputs.SecurityGroupName,
		RouteTableName:          inputs.RouteTableName,
		ServiceCIDR:             inputs.ServiceCIDR,
		PodCIDR:                 inputs.PodCIDR,
		VNetCIDR:                inputs.VNetCIDR,
		HTTPProxy:               nodeHTTPProxy(inputs.HTTPProxy),
		CustomCACerts:           inputs.CustomCACerts,
	}
}

// applyKubeletConfiguration applies the AKSNodeClass kubelet block, with
// upstream's names and meanings.
func applyKubeletConfiguration(b *bootstrap.Kubelet, k *v1beta1.KubeletConfiguration) {
	if k == nil {
		return
	}
	b.CPUManagerPolicy = lo.FromPtr(k.CPUManagerPolicy)
	b.CPUCFSQuota = k.CPUCFSQuota
	if k.CPUCFSQuotaPeriod != nil {
		b.CPUCFSQuotaPeriod = k.CPUCFSQuotaPeriod.Duration.String()
	}
	b.ImageGCHighThresholdPercent = k.ImageGCHighThresholdPercent
	b.ImageGCLowThresholdPercent = k.ImageGCLowThresholdPercent
	b.TopologyManagerPolicy = lo.FromPtr(k.TopologyManagerPolicy)
	b.AllowedUnsafeSysctls = k.AllowedUnsafeSysctls
	b.ContainerLogMaxSize = lo.FromPtr(k.ContainerLogMaxSize)
	b.ContainerLogMaxFiles = k.ContainerLogMaxFiles
	b.PodPidsLimit = k.PodPidsLimit
	b.FailSwapOn = k.FailSwapOn
}

// checkWindows refuses a Windows node's configuration that misses what its
// setup script needs, or asks for what AKS's Windows nodes do not support.
func checkWindows(cfg *bootstrap.Config) error {
	if err := bootstrap.WindowsRequired(cfg); err != nil {
		return fmt.Errorf("launch spec: %w", err)
	}
	if cfg.Cluster.HTTPProxy != nil {
		// AKS's HTTP proxy support excludes Windows node pools (AKS docs,
		// "HTTP proxy support in AKS", limitations).
		return errors.New("launch spec: Windows nodes cannot use the cluster's HTTP proxy (AKS supports HTTP proxies on Linux nodes only); unset --node-http-proxy or use a Linux image family")
	}
	return nil
}

// checkContract checks the rendered AKSNodeConfig against the node image's
// contract (package contract), so no VM is created with custom data its
// image could not provision from.
func checkContract(spec *LaunchSpec, img nodeimage.Image, inputs *cluster.Inputs, nc *v1beta1.AKSNodeClass) error {
	cfg, err := bootstrap.NodeConfig(spec.Bootstrap)
	if err != nil {
		return err
	}
	node := ContractNode(spec.Bootstrap, img, spec.Image.Version, inputs.NetworkSetup(), nc.TrustedLaunch())
	if vs := contract.Check(cfg, node); len(vs) > 0 {
		return fmt.Errorf("launch spec for %s breaks the node image's bootstrap contract: %s", node, contract.Errors(vs))
	}
	return nil
}

// ContractNode is the contract combination of a node: its image, the
// cluster's network setup and the features its bootstrap configuration
// turns on.
func ContractNode(b *bootstrap.Config, img nodeimage.Image, version string, setup cluster.NetworkSetup, trustedLaunch bool) contract.Node {
	return contract.Node{Image: img, ImageVersion: version, Setup: setup, KubeDNS: b.Cluster.DNSServiceIP, Features: map[contract.Feature]bool{
		contract.FeatureGPU:               b.GPUDriver,
		contract.FeatureKata:              b.WorkloadRuntime == string(v1beta1.WorkloadRuntimeKataVMIsolation),
		contract.FeatureLocalDNS:          b.LocalDNS != nil,
		contract.FeatureArtifactStreaming: b.ArtifactStreaming,
		contract.FeatureCFSQuotaPeriod:    b.Kubelet.CPUCFSQuotaPeriod != "",
		contract.FeatureHTTPProxy:         b.Cluster.HTTPProxy != nil,
		contract.FeatureCustomCA:          len(b.Cluster.CustomCACerts) > 0,
		contract.FeatureTrustedLaunch:     trustedLaunch,
	}}
}

// aksNoProxy are the destinations every node reaches without the proxy,
// added to the cluster's own no-proxy list: the instance metadata service
// and the wire server, which are link-local to the VM (the image fetches
// instance metadata with the proxy variables set, cse_main.sh), loopback,
// and in-cluster names.
var aksNoProxy = []string{"localhost", "127.0.0.1", "169.254.169.254", "168.63.129.16", ".svc", ".cluster.local"}

// nodeHTTPProxy is the proxy nodes are given: the cluster's, with AKS's own
// no-proxy destinations added.
func nodeHTTPProxy(p *cluster.HTTPProxy) *bootstrap.HTTPProxy {
	if p == nil {
		return nil
	}
	return &bootstrap.HTTPProxy{HTTPProxy: p.HTTPProxy, HTTPSProxy: p.HTTPSProxy, NoProxy: lo.Uniq(append(append([]string{}, p.NoProxy...), aksNoProxy...)), TrustedCA: p.TrustedCA}
}

// linuxOS is the node's kernel tuning from the AKSNodeClass.
func linuxOS(cfg *v1beta1.LinuxOSConfiguration) (*bootstrap.LinuxOS, error) {
	if cfg == nil {
		return nil, nil
	}
	out := &bootstrap.LinuxOS{
		TransparentHugePageEnabled: string(lo.FromPtr(cfg.TransparentHugePageEnabled)),
		TransparentHugePageDefrag:  string(lo.FromPtr(cfg.TransparentHugePageDefrag)),
	}
	if cfg.SwapFileSize != nil {
		q, err := resource.ParseQuantity(*cfg.SwapFileSize)
		if err != nil {
			return nil, fmt.Errorf("swapFileSize %q: %w", *cfg.SwapFileSize, err)
		}
		// AKS sizes swap files in MB (MiB), rounded up.
		mb := (q.Value() + 1<<20 - 1) >> 20
		if mb < 0 || mb > math.MaxInt32 {
			return nil, fmt.Errorf("swapFileSize %q: must be at most %dMi", *cfg.SwapFileSize, math.MaxInt32)
		}
		out.SwapFileSizeMB = int32(mb)
	}
	if cfg.Sysctls != nil {
		// The AKSNodeClass field names, mapped to kernel names.
		raw, err := json.Marshal(cfg.Sysctls)
		if err != nil {
			return nil, err
		}
		fields := map[string]any{}
		if err := json.Unmarshal(raw, &fields); err != nil {
			return nil, err
		}
		out.Sysctls = map[string]string{}
		for _, sc := range bootstrap.Sysctls {
			if v, ok := fields[sc.NodeClass]; ok {
				out.Sysctls[sc.Kernel] = fmt.Sprint(v)
			}
		}
	}
	return out, nil
}

// localDNS is the node's LocalDNS configuration: only when the AKSNodeClass's
// resolved state (status.localDNSState) says new nodes get it.
func localDNS(nc *v1beta1.AKSNodeClass) *bootstrap.LocalDNS {
	if !nc.IsLocalDNSEnabled() || nc.Spec.LocalDNS == nil {
		return nil
	}
	conv := func(in []v1beta1.LocalDNSZoneOverride) map[string]bootstrap.LocalDNSOverride {
		out := make(map[string]bootstrap.LocalDNSOverride, len(in))
		for _, o := range in {
			out[o.Zone] = bootstrap.LocalDNSOverride{
				QueryLogging: string(o.QueryLogging), Protocol: string(o.Protocol), ForwardDestination: string(o.ForwardDestination),
				ForwardPolicy: string(o.ForwardPolicy), MaxConcurrent: o.MaxConcurrent, CacheDuration: lo.FromPtr(o.CacheDuration.Duration),
				ServeStaleDuration: lo.FromPtr(o.ServeStaleDuration.Duration), ServeStale: string(o.ServeStale),
			}
		}
		return out
	}
	return &bootstrap.LocalDNS{VNetDNSOverrides: conv(nc.Spec.LocalDNS.VNetDNSOverrides), KubeDNSOverrides: conv(nc.Spec.LocalDNS.KubeDNSOverrides)}
}

// registrationTaints are the taints the kubelet registers the node with: the
// NodeClaim's taints and startup taints (a daemon removes the latter once it
// is ready), plus karpenter.sh/unregistered, which keeps pods off the node
// until karpenter core has synced the NodeClaim's labels and taints onto it
// and removed the taint (core logs a registration race otherwise).
func registrationTaints(claim *karpv1.NodeClaim) []corev1.Taint {
	taints := append(append([]corev1.Taint{}, claim.Spec.Taints...), claim.Spec.StartupTaints...)
	if !lo.ContainsBy(taints, func(t corev1.Taint) bool { return t.MatchTaint(&karpv1.UnregisteredNoExecuteTaint) }) {
		taints = append(taints, karpv1.UnregisteredNoExecuteTaint)
	}
	return taints
}

// quantities renders a resource list as name → quantity strings.
func quantities(rl corev1.ResourceList) map[string]string {
	out := make(map[string]string, len(rl))
	for name, q := range rl {
		out[string(name)] = q.String()
	}
	return out
}
