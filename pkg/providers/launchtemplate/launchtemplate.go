// Package launchtemplate builds what a VM is launched with for a NodeClaim:
// the node image, the OS disk, the computer name and the bootstrap custom
// data (docs/bootstrap.md) with the node's labels, taints and kubelet
// settings. It makes no API calls.
package launchtemplate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	kubeletapis "k8s.io/kubelet/pkg/apis"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/scheduling"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/contract"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/nodeimage"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
	subnetpkg "github.com/azkarpenter/azkarpenter/pkg/providers/subnet"
)

// Options are the cluster-wide settings of launch specs.
type Options struct {
	ClusterName    string
	SubscriptionID string
	// ResourceGroup is the node resource group.
	ResourceGroup string
	Location      string
	// SubnetID is the node subnet of NodeClasses that name none.
	SubnetID string
	// DefaultMaxPods applies when the AKSNodeClass does not set maxPods.
	DefaultMaxPods int32
	// AdminUsername is Linux VMs' administrator, which the node's
	// configuration names too (linux_admin_username).
	AdminUsername string
}

// Input is what one launch is for.
type Input struct {
	NodeClass *v1beta1.AKSNodeClass
	NodeClaim *karpv1.NodeClaim
	// InstanceType and Offering are the chosen size and offering (its
	// requirements give zone and capacity type).
	InstanceType *cloudprovider.InstanceType
	Offering     *cloudprovider.Offering
	// SKU is the chosen size's catalog entry.
	SKU *sku.SKU
	// VMName is the VM's name; the computer name derives from it.
	VMName string
}

// LaunchSpec is everything the VM is created with besides networking.
type LaunchSpec struct {
	// ComputerName is osProfile.computerName and, lower-cased, the node name.
	ComputerName string
	Image        imagefamily.Image
	OSDisk       sku.OSDisk
	// Zone is the topology.kubernetes.io/zone value (<region>-<n> or "0");
	// AzureZone is the ARM zone ("1", "2", "3", or "" when not zonal).
	Zone         string
	AzureZone    string
	CapacityType string
	// AcceleratedNetworking is whether the NIC gets it (the size supports it).
	AcceleratedNetworking bool
	// SubnetID is the subnet of the VM's NIC.
	SubnetID string
	// UltraSSD is whether the VM can attach Ultra Disks
	// (additionalCapabilities.ultraSSDEnabled; see UltraSSDRequested).
	UltraSSD bool
	// Labels are the node's labels: those the kubelet registers (in the
	// bootstrap data) and those karpenter core adds from the NodeClaim.
	Labels map[string]string
	// KubernetesVersion is the version the node is bootstrapped with (v1.35.4).
	KubernetesVersion string
	// Bootstrap is what the node is told; Artifact is how it is told it.
	Bootstrap *bootstrap.Config
	Artifact  *bootstrap.Artifact
}

// Provider builds launch specs.
type Provider interface {
	Build(ctx context.Context, in Input) (*LaunchSpec, error)
}

// DefaultProvider builds launch specs from the NodeClass, the cluster's
// inputs and the options.
type DefaultProvider struct {
	opts    Options
	images  imagefamily.Provider
	cluster cluster.Provider
}

// NewDefaultProvider returns a provider.
func NewDefaultProvider(opts Options, images imagefamily.Provider, clusterInputs cluster.Provider) *DefaultProvider {
	return &DefaultProvider{opts: opts, images: images, cluster: clusterInputs}
}

// Build implements Provider. An error wrapping a cluster.InputError means
// the cluster's inputs (token, endpoint, CA, DNS) are missing or wrong.
func (p *DefaultProvider) Build(ctx context.Context, in Input) (*LaunchSpec, error) {
	nc, claim, s := in.NodeClass, in.NodeClaim, in.SKU
	if nc == nil || claim == nil || in.InstanceType == nil || in.Offering == nil || s == nil || in.VMName == "" {
		return nil, fmt.Errorf("launch spec: incomplete input")
	}
	inputs, err := p.cluster.Inputs(ctx)
	if err != nil {
		return nil, err
	}
	osDisk, reason := sku.ChooseOSDisk(s, nc)
	if reason != "" {
		return nil, fmt.Errorf("launch spec for %s: %s", s.Name, reason)
	}
	gen := in.InstanceType.Requirements.Get(v1beta1.LabelSKUHyperVGeneration).Any()
	if gen == "" {
		gen = imagefamily.HyperVGeneration(nc, s.Architecture(), s.HyperVGenerations())
	}
	img, err := p.images.Resolve(ctx, nc, s.Architecture(), gen)
	if err != nil {
		return nil, err
	}
	zone := in.Offering.Requirements.Get(corev1.LabelTopologyZone).Any()
	capacityType := in.Offering.Requirements.Get(karpv1.CapacityTypeLabelKey).Any()
	spec := &LaunchSpec{
		ComputerName:          ComputerName(in.VMName, nc.IsWindows()),
		Image:                 img,
		OSDisk:                osDisk,
		Zone:                  zone,
		AzureZone:             AzureZone(zone),
		CapacityType:          capacityType,
		AcceleratedNetworking: s.Bool(sku.CapAcceleratedNetworking),
		SubnetID:              lo.FromPtrOr(nc.Spec.VNETSubnetID, p.opts.SubnetID),
		KubernetesVersion:     inputs.KubernetesVersion,
		UltraSSD:              UltraSSDRequested(in.NodeClaim),
	}
	if spec.SubnetID == "" {
		return nil, errors.New("no subnet: set the AKSNodeClass's vnetSubnetID or the controller's default subnet")
	}
	subnet, err := subnetpkg.ParseID(spec.SubnetID)
	if err != nil {
		return nil, err
	}
	spec.Labels = p.labels(in, spec, inputs, subnet.Subnet)
	maxPods := p.opts.DefaultMaxPods
	if nc.Spec.MaxPods != nil {
		maxPods = *nc.Spec.MaxPods
	}
	reserved := bootstrap.KubeReserved(s.VCPUs(), s.MemoryGiB())
	osType := bootstrap.Linux
	if nc.IsWindows() {
		osType = bootstrap.Windows
	}
	nodeImage, ok := nodeimage.Classify(img.Definition)
	if !ok {
		return nil, fmt.Errorf("launch spec: node image definition %s is not one of AKS's", img.Definition)
	}
	dns := localDNS(nc)
	spec.Bootstrap = &bootstrap.Config{
		OS:            osType,
		AdminUsername: p.opts.AdminUsername,
		Cluster: bootstrap.Cluster{
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
		},
		KubernetesVersion: strings.TrimPrefix(inputs.KubernetesVersion, "v"),
		VMSize:            s.Name,
		Labels:            kubeletLabels(spec.Labels),
		Taints:            registrationTaints(claim),
		WorkloadRuntime:   string(lo.FromPtrOr(nc.Spec.WorkloadRuntime, v1beta1.WorkloadRuntimeOCIContainer)),
		GPUDriver: !nc.IsWindows() && nc.GPUDriverInstallation() && s.Int(sku.CapGPUs) > 0 &&
			in.InstanceType.Requirements.Get(v1beta1.LabelSKUGPUManufacturer).Any() == v1beta1.ManufacturerNvidia,
		ArtifactStreaming: nc.ArtifactStreamingEnabled(s.Architecture()),
		LocalDNS:          dns,
		PauseImage:        nodeimage.PauseImage(nodeImage, img.Version),
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
		spec.Bootstrap.VNetCNIPluginsURL = nodeimage.VNetCNIPluginsURL(nodeImage)
		delete(spec.Bootstrap.Kubelet.EvictionHard, "nodefs.inodesFree")
	case spec.Bootstrap.Cluster.NetworkPlugin == "azure":
		spec.Bootstrap.VNetCNIPluginsURL = nodeimage.VNetCNIPluginsURL(nodeImage)
	case spec.Bootstrap.Cluster.NetworkPlugin == "kubenet":
		spec.Bootstrap.CNIPluginsURL = nodeimage.CNIPluginsURL(nodeImage)
	}
	if k := nc.Spec.Kubelet; k != nil {
		// The AKSNodeClass kubelet block, with upstream's names and meanings.
		b := &spec.Bootstrap.Kubelet
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
	if spec.Bootstrap.LinuxOS, err = linuxOS(nc.Spec.LinuxOSConfig); err != nil {
		return nil, fmt.Errorf("linuxOSConfig: %w", err)
	}
	if nc.IsWindows() {
		if err := bootstrap.WindowsRequired(spec.Bootstrap); err != nil {
			return nil, fmt.Errorf("launch spec: %w", err)
		}
	}
	if nc.IsWindows() && spec.Bootstrap.Cluster.HTTPProxy != nil {
		// AKS's HTTP proxy support excludes Windows node pools (AKS docs,
		// "HTTP proxy support in AKS", limitations).
		return nil, errors.New("launch spec: Windows nodes cannot use the cluster's HTTP proxy (AKS supports HTTP proxies on Linux nodes only); unset --node-http-proxy or use a Linux image family")
	}
	if spec.Artifact, err = bootstrap.Render(spec.Bootstrap); err != nil {
		return nil, err
	}
	if !nc.IsWindows() {
		if err := checkContract(spec, nodeImage, inputs, nc); err != nil {
			return nil, err
		}
	}
	return spec, nil
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
		out.SwapFileSizeMB = int32((q.Value() + 1<<20 - 1) >> 20)
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

// kubeletLabels are the labels the kubelet may set on its own Node: the
// kubelet refuses to start with other kubernetes.io and k8s.io labels, and
// NodeRestriction refuses node-restriction.kubernetes.io ones. Karpenter core
// puts the rest on the Node from the NodeClaim once the node registers.
func kubeletLabels(labels map[string]string) map[string]string {
	return lo.PickBy(labels, func(key, _ string) bool {
		domain := ""
		if i := strings.IndexByte(key, '/'); i >= 0 {
			domain = key[:i]
		}
		restricted := domain == "kubernetes.io" || domain == "k8s.io" || strings.HasSuffix(domain, ".kubernetes.io") || strings.HasSuffix(domain, ".k8s.io")
		return !restricted || kubeletapis.IsKubeletLabel(key)
	})
}

// labels are the node's labels, as kubelet --node-labels would register
// them: the NodeClaim's labels and single-valued requirements, the chosen
// size's and offering's single-valued requirements, and the labels AKS puts
// on its nodes.
func (p *DefaultProvider) labels(in Input, spec *LaunchSpec, inputs *cluster.Inputs, subnetName string) map[string]string {
	nc, claim, s := in.NodeClass, in.NodeClaim, in.SKU
	labels := map[string]string{}
	maps.Copy(labels, claim.Labels)
	for _, r := range claim.Spec.Requirements {
		if r.Operator == corev1.NodeSelectorOpIn && len(r.Values) == 1 {
			labels[r.Key] = r.Values[0]
		}
	}
	for _, reqs := range []map[string]string{singleValued(in.InstanceType.Requirements), singleValued(in.Offering.Requirements)} {
		maps.Copy(labels, reqs)
	}
	labels[corev1.LabelInstanceTypeStable] = s.Name
	labels[corev1.LabelTopologyZone] = spec.Zone
	labels[karpv1.CapacityTypeLabelKey] = spec.CapacityType
	// The internal generation label only matches images to sizes.
	delete(labels, v1beta1.LabelSKUHyperVGeneration)
	// kubelet sets the hostname label itself, from the computer name.
	delete(labels, corev1.LabelHostname)

	// The mode is a well-known label, so core keeps it out of the
	// NodeClaim's labels when a pod, not the NodePool, asks for it: read
	// the requirement too, or a pod selecting mode=system gets a node
	// labelled user, never schedules, and core launches for it again.
	mode := v1beta1.ModeUser
	if claim.Labels[v1beta1.AKSLabelMode] == v1beta1.ModeSystem ||
		scheduling.NewNodeSelectorRequirementsWithMinValues(claim.Spec.Requirements...).Get(v1beta1.AKSLabelMode).Has(v1beta1.ModeSystem) &&
			!scheduling.NewNodeSelectorRequirementsWithMinValues(claim.Spec.Requirements...).Get(v1beta1.AKSLabelMode).Has(v1beta1.ModeUser) {
		mode = v1beta1.ModeSystem
	}
	priority := v1beta1.ScaleSetPriorityRegular
	if spec.CapacityType == karpv1.CapacityTypeSpot {
		priority = v1beta1.ScaleSetPrioritySpot
	}
	storage := "managed"
	if spec.OSDisk.Ephemeral() {
		storage = "ephemeral"
	}
	// No kubernetes.azure.com/agentpool: AKS's own agent pools carry it, and
	// a NodePool named like one of them would have AKS operations (and
	// tools that select by it) touch these nodes. NAP leaves it unset too.
	delete(labels, v1beta1.AKSLabelAgentPool)
	// Core must not copy the NodeClaim's taints onto the Node: the node
	// registers them itself (--register-with-taints), and a copy made after a
	// daemon removed a startup taint would put it back (kubernetes-sigs/karpenter#1772).
	labels[karpv1.NodeDoNotSyncTaintsLabelKey] = "true"
	// The kubelet requests its serving certificate from the cluster
	// (--rotate-server-certificates); AKS approves those of nodes with this
	// label, and the image adds it itself when rotation is on.
	labels[bootstrap.LabelKubeletServingCA] = bootstrap.KubeletServingCA
	labels[v1beta1.AKSLabelMode] = mode
	labels[v1beta1.AKSLabelScaleSetPriority] = priority
	labels[v1beta1.AKSLabelPriority] = priority
	labels[v1beta1.AKSLabelStorageProfile] = storage
	// AKS names the storage tier the size's disks get: premium where the
	// size supports premium storage.
	labels[v1beta1.AKSLabelStorageTier] = lo.Ternary(s.Bool(sku.CapPremiumIO), "Premium_LRS", "Standard_LRS")
	labels[v1beta1.AKSLabelOSSKU] = v1beta1.OSSKU(nc.GetImageFamily())
	labels[v1beta1.AKSLabelInstanceSKU] = s.Name
	labels[v1beta1.AKSLabelCluster] = v1beta1.ClusterLabelValue(p.opts.ResourceGroup)
	labels[v1beta1.AKSLabelNodeImageVersion] = spec.Image.NodeImageVersion
	labels[v1beta1.AKSLabelRole] = "agent"
	labels[v1beta1.AKSLabelOSSKURequested] = nc.GetImageFamily()
	labels[v1beta1.AKSLabelOSSKUEffective] = effectiveOSSKU(spec.Image.Definition, nc.GetImageFamily())
	labels[v1beta1.AKSLabelLocalDNSState] = strings.ToLower(string(lo.Ternary(nc.IsLocalDNSEnabled(), v1beta1.LocalDNSStateEnabled, v1beta1.LocalDNSStateDisabled)))
	if inputs.KubeletIdentityClientID != "" {
		labels[v1beta1.AKSLabelKubeletIdentityClientID] = inputs.KubeletIdentityClientID
	}
	if nc.ArtifactStreamingEnabled(s.Architecture()) {
		labels[v1beta1.AKSLabelArtifactStreaming] = "true"
	}
	// Networking labels AKS's network agents select nodes by: Cilium's agent
	// DaemonSet runs on nodes labelled ebpf-dataplane=cilium, Azure CNI
	// overlay's on the overlay labels.
	if inputs.NetworkDataplane == "cilium" {
		labels[v1beta1.AKSLabelEBPFDataplane] = "cilium"
	}
	if inputs.NetworkPlugin == "azure" && inputs.NetworkPluginMode == "overlay" {
		labels[v1beta1.AKSLabelAzureCNIOverlay] = "true"
		labels[v1beta1.AKSLabelPodNetworkType] = "overlay"
		labels[v1beta1.AKSLabelNetworkSubnet] = subnetName
		labels[v1beta1.AKSLabelNetworkStatelessCNI] = strconv.FormatBool(kubernetesMinor(inputs.KubernetesVersion) >= 34)
		if inputs.VNetGUID != "" {
			labels[v1beta1.AKSLabelNodeNetworkVNetGUID] = inputs.VNetGUID
		}
	}
	if nc.Spec.FIPSMode != nil && *nc.Spec.FIPSMode == v1beta1.FIPSModeFIPS {
		labels[v1beta1.AKSLabelFIPSEnabled] = "true"
	} else {
		delete(labels, v1beta1.AKSLabelFIPSEnabled)
	}
	return labels
}

// effectiveOSSKU is the OS release a node runs, as AKS's os-sku-effective
// label names it, from the image definition.
func effectiveOSSKU(definition, imageFamily string) string {
	switch {
	case strings.HasPrefix(definition, "2204"):
		return "Ubuntu2204"
	case strings.HasPrefix(definition, "2404"):
		return "Ubuntu2404"
	case strings.HasPrefix(definition, "V3"):
		return "AzureLinux3"
	case strings.HasPrefix(definition, "V2"):
		return "AzureLinux2"
	case strings.HasPrefix(definition, "windows-2022"):
		return "Windows2022"
	case strings.HasPrefix(definition, "windows-2025"):
		return "Windows2025"
	}
	return imageFamily
}

// kubernetesMinor is the minor of v1.35.4 (0 when unknown).
func kubernetesMinor(v string) int {
	parts := strings.Split(strings.TrimPrefix(v, "v"), ".")
	if len(parts) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(parts[1])
	return n
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

// singleValued are the requirements with exactly one allowed value.
func singleValued(reqs scheduling.Requirements) map[string]string {
	out := map[string]string{}
	for key, r := range reqs {
		if r.Operator() == corev1.NodeSelectorOpIn && r.Len() == 1 {
			out[key] = r.Values()[0]
		}
	}
	return out
}

// quantities renders a resource list as name → quantity strings.
func quantities(rl corev1.ResourceList) map[string]string {
	out := make(map[string]string, len(rl))
	for name, q := range rl {
		out[string(name)] = q.String()
	}
	return out
}

// AzureZone is the ARM zone of a topology.kubernetes.io/zone value
// ("eastus-2" → "2"; "0" or "" → "", not zonal).
func AzureZone(zoneLabel string) string {
	if zoneLabel == "" || zoneLabel == "0" {
		return ""
	}
	if i := strings.LastIndexByte(zoneLabel, '-'); i >= 0 {
		return zoneLabel[i+1:]
	}
	return zoneLabel
}

// Limits on computer names: Windows (NetBIOS) names have at most 15
// characters, Linux host names at most 64.
const (
	MaxWindowsComputerName = 15
	MaxLinuxComputerName   = 64
)

// ComputerName derives osProfile.computerName from the VM name: the VM name
// itself on Linux (up to 64 characters, shortened with a hash suffix beyond),
// and a stable 15-character "aks" + hash name on Windows.
func ComputerName(vmName string, windows bool) string {
	sum := sha256.Sum256([]byte(vmName))
	h := hex.EncodeToString(sum[:])
	if windows {
		return "aks" + h[:MaxWindowsComputerName-3]
	}
	name := strings.ToLower(vmName)
	if len(name) <= MaxLinuxComputerName {
		return name
	}
	return strings.TrimRight(name[:MaxLinuxComputerName-9], "-.") + "-" + h[:8]
}
