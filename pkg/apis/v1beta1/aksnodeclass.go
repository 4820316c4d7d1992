package v1beta1

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"

	"github.com/mitchellh/hashstructure/v2"
	"github.com/samber/lo"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AKSNodeClassSpec is the Azure-specific configuration of the nodes a NodePool
// launches: image, OS disk, network, kubelet and security settings.
//
// Cross-field rules are enforced by the API server (CEL) so a bad NodeClass is
// refused at apply time instead of failing later at VM creation.
//
// +kubebuilder:validation:XValidation:message="fipsMode FIPS is not available for imageFamily Ubuntu2404; use Ubuntu2204 (with trusted launch), Ubuntu or AzureLinux",rule="!has(self.fipsMode) || self.fipsMode != 'FIPS' || !has(self.imageFamily) || self.imageFamily != 'Ubuntu2404'"
// +kubebuilder:validation:XValidation:message="fipsMode FIPS with imageFamily Ubuntu2204 needs trusted launch: set security.trustedLaunch.vtpm or secureBoot to true",rule="!has(self.fipsMode) || self.fipsMode != 'FIPS' || !has(self.imageFamily) || self.imageFamily != 'Ubuntu2204' || (has(self.security) && has(self.security.trustedLaunch) && ((has(self.security.trustedLaunch.vtpm) && self.security.trustedLaunch.vtpm) || (has(self.security.trustedLaunch.secureBoot) && self.security.trustedLaunch.secureBoot)))"
// +kubebuilder:validation:XValidation:message="trusted launch with fipsMode FIPS is only available for imageFamily Ubuntu and Ubuntu2204",rule="!has(self.fipsMode) || self.fipsMode != 'FIPS' || !has(self.security) || !has(self.security.trustedLaunch) || !((has(self.security.trustedLaunch.vtpm) && self.security.trustedLaunch.vtpm) || (has(self.security.trustedLaunch.secureBoot) && self.security.trustedLaunch.secureBoot)) || !has(self.imageFamily) || self.imageFamily == 'Ubuntu' || self.imageFamily == 'Ubuntu2204'"
// +kubebuilder:validation:XValidation:message="linuxOSConfig.swapFileSize needs kubelet.failSwapOn set to false, or the kubelet refuses to start on a node with swap",rule="!has(self.linuxOSConfig) || !has(self.linuxOSConfig.swapFileSize) || (has(self.kubelet) && has(self.kubelet.failSwapOn) && self.kubelet.failSwapOn == false)"
// +kubebuilder:validation:XValidation:message="security.trustedLaunch and security.confidentialVM are different VM security types; enable one of them",rule="!has(self.security) || !has(self.security.confidentialVM) || !self.security.confidentialVM || !has(self.security.trustedLaunch) || !((has(self.security.trustedLaunch.vtpm) && self.security.trustedLaunch.vtpm) || (has(self.security.trustedLaunch.secureBoot) && self.security.trustedLaunch.secureBoot))"
// +kubebuilder:validation:XValidation:message="linuxOSConfig applies to Linux nodes only; remove it or use a Linux imageFamily",rule="!has(self.linuxOSConfig) || !has(self.imageFamily) || !self.imageFamily.startsWith('Windows')"
// +kubebuilder:validation:XValidation:message="workloadRuntime KataVmIsolation (pod sandboxing) requires imageFamily AzureLinux",rule="!has(self.workloadRuntime) || self.workloadRuntime != 'KataVmIsolation' || (has(self.imageFamily) && self.imageFamily == 'AzureLinux')"
// +kubebuilder:validation:XValidation:message="security.confidentialVM is not supported with Windows image families; use a Linux imageFamily",rule="!has(self.security) || !has(self.security.confidentialVM) || !self.security.confidentialVM || !has(self.imageFamily) || !self.imageFamily.startsWith('Windows')"
// +kubebuilder:validation:XValidation:message="workloadRuntime KataVmIsolation needs nested virtualization, which confidential VMs do not offer; drop one of security.confidentialVM or KataVmIsolation",rule="!has(self.workloadRuntime) || self.workloadRuntime != 'KataVmIsolation' || !has(self.security) || !has(self.security.confidentialVM) || !self.security.confidentialVM"
// +kubebuilder:validation:XValidation:message="Azure Spot VMs cannot run on dedicated hosts; remove spot or dedicatedHostGroupID",rule="!has(self.dedicatedHostGroupID) || !has(self.spot)"
// +kubebuilder:validation:XValidation:message="confidential VMs cannot run on dedicated hosts; remove security.confidentialVM or dedicatedHostGroupID",rule="!has(self.dedicatedHostGroupID) || !has(self.security) || !has(self.security.confidentialVM) || !self.security.confidentialVM"
type AKSNodeClassSpec struct {
	// vnetSubnetID is the subnet the nodes' network interfaces are created in.
	// When omitted, the controller's --vnet-subnet-id is used.
	// +kubebuilder:validation:Pattern=`(?i)^\/subscriptions\/[^\/]+\/resourceGroups\/[a-zA-Z0-9_\-().]{0,89}[a-zA-Z0-9_\-()]\/providers\/Microsoft\.Network\/virtualNetworks\/[^\/]+\/subnets\/[^\/]+$`
	// +optional
	VNETSubnetID *string `json:"vnetSubnetID,omitempty"`
	// osDiskSizeGB is the size of the OS disk in GiB. With osDiskType Ephemeral
	// the disk must also fit the VM size's cache, resource or NVMe disk; VM sizes
	// it does not fit are left out by the instance-type filter (see
	// `azkarpenter explain`), and if none fits, nothing can be launched.
	// +default=128
	// +kubebuilder:validation:Minimum=30
	// +kubebuilder:validation:Maximum=2048
	// +optional
	OSDiskSizeGB *int32 `json:"osDiskSizeGB,omitempty"`
	// osDiskType chooses where the OS disk lives. Auto (default) uses an
	// ephemeral OS disk on the host when it fits the VM size and a managed disk
	// otherwise; Ephemeral only launches VM sizes the disk fits; Managed always
	// uses a managed disk.
	// +default="Auto"
	// +optional
	OSDiskType *OSDiskType `json:"osDiskType,omitempty"`
	// imageFamily is the node image: Ubuntu (the default Ubuntu release for the
	// cluster's Kubernetes version), Ubuntu2204, Ubuntu2404, AzureLinux,
	// Windows2022 or Windows2025. Windows bootstrap is a preview: it follows
	// AKS's Windows setup contract but has not been seen joining a real
	// cluster yet.
	// +kubebuilder:validation:Enum:={Ubuntu,Ubuntu2204,Ubuntu2404,AzureLinux,Windows2022,Windows2025}
	// +default="Ubuntu"
	// +optional
	ImageFamily *string `json:"imageFamily,omitempty"`
	// fipsMode enables a FIPS 140 validated node image.
	// +optional
	FIPSMode *FIPSMode `json:"fipsMode,omitempty"`
	// tags are applied to every Azure resource created for a node (VM, NIC, OS
	// disk). Changing tags does not replace nodes. Azure tag names cannot
	// contain '/': a key such as app.kubernetes.io/team is written to Azure as
	// app.kubernetes.io_team, as AKS node auto-provisioning writes it. ARM's
	// limits apply ("Use tags to organize your Azure resources", Limitations):
	// at most 50 tags per resource, of which the controller sets 5, so 45
	// here; names of 1 to 512 characters without '<', '>', '%', '&', '\', '?'
	// or control characters; values of at most 256 characters. Azure tag
	// names are case-insensitive, so keys that differ only in case, or in '/'
	// against '_', would be one tag.
	// +kubebuilder:validation:MaxProperties=45
	// +kubebuilder:validation:XValidation:message="tag keys must not be empty or only whitespace",rule="self.all(k, k.trim() != '')"
	// +kubebuilder:validation:XValidation:message="tag keys must be at most 512 characters",rule="self.all(k, size(k) <= 512)"
	// +kubebuilder:validation:XValidation:message="tag keys must not contain '<', '>', '%', '&', '\\', '?' or control characters (Azure refuses them in tag names; '/' is allowed and written as '_')",rule="self.all(k, !k.matches('[<>%&?\\\\\\\\\\\\p{Cc}]'))"
	// +kubebuilder:validation:XValidation:message="tag values must be at most 256 characters",rule="self.all(k, size(self[k]) <= 256)"
	// +kubebuilder:validation:XValidation:message="tag keys starting with 'karpenter.azure.com_', 'karpenter.azure.com/', 'karpenter.sh_' or 'karpenter.sh/' are ownership tags set by the controller",rule="self.all(k, !k.replace('/', '_').lowerAscii().startsWith('karpenter.azure.com_') && !k.replace('/', '_').lowerAscii().startsWith('karpenter.sh_'))"
	// +kubebuilder:validation:XValidation:message="tag keys must stay distinct in Azure, where tag names are case-insensitive and '/' is written as '_': two keys differ only in case or in '/' against '_'",rule="self.all(k, self.all(j, k == j || k.replace('/', '_').lowerAscii() != j.replace('/', '_').lowerAscii()))"
	// +optional
	Tags map[string]string `json:"tags,omitempty" hash:"ignore"`
	// kubelet configures the kubelet of the nodes. A subset of the upstream
	// KubeletConfiguration, with the same names and types.
	// +optional
	Kubelet *KubeletConfiguration `json:"kubelet,omitempty"`
	// maxPods is the maximum number of pods per node. When omitted it depends on
	// the network plugin: 30 for Azure CNI with node subnet, 250 for Azure CNI
	// overlay or no plugin, 110 otherwise.
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=250
	// +optional
	MaxPods *int32 `json:"maxPods,omitempty"`
	// security groups host and VM security settings.
	// +optional
	Security *Security `json:"security,omitempty"`
	// spot configures Azure Spot VMs for NodePools that allow capacity type spot.
	// +optional
	Spot *SpotConfiguration `json:"spot,omitempty"`
	// dedicatedHostGroupID places nodes on the hosts of an Azure dedicated host
	// group (automatic host assignment must be enabled on the group). VM sizes
	// whose family cannot run on dedicated hosts are left out.
	// +kubebuilder:validation:Pattern=`(?i)^\/subscriptions\/[^\/]+\/resourceGroups\/[a-zA-Z0-9_\-().]{0,89}[a-zA-Z0-9_\-()]\/providers\/Microsoft\.Compute\/hostGroups\/[^\/]+$`
	// +optional
	DedicatedHostGroupID *string `json:"dedicatedHostGroupID,omitempty"`
	// workloadRuntime is the container runtime of the node. KataVmIsolation runs
	// each pod in its own lightweight VM (pod sandboxing); it requires
	// imageFamily AzureLinux and VM sizes with nested virtualization.
	// +default="OCIContainer"
	// +optional
	WorkloadRuntime *WorkloadRuntime `json:"workloadRuntime,omitempty"`
	// localDNS runs a DNS cache on each node (AKS LocalDNS): pods and the
	// node resolve through it, with per-zone forwarding rules.
	// +optional
	LocalDNS *LocalDNS `json:"localDNS,omitempty"`
	// gpu configures GPU nodes.
	// +optional
	GPU *GPU `json:"gpu,omitempty"`
	// artifactStreaming streams container images to nodes on demand instead
	// of pulling them whole before a container starts. Arm64 VM sizes cannot
	// use it and are left out when it is enabled.
	// +optional
	ArtifactStreaming *ArtifactStreaming `json:"artifactStreaming,omitempty"`
	// linuxOSConfig tunes the Linux nodes' kernel: sysctls, swap and
	// transparent huge pages.
	// +optional
	LinuxOSConfig *LinuxOSConfiguration `json:"linuxOSConfig,omitempty"`
}

// GPUMode says how GPU nodes get their driver.
// +kubebuilder:validation:Enum:={Driver,None}
type GPUMode string

const (
	// GPUModeDriver installs the GPU driver while the node provisions; only
	// VM sizes whose GPU the node image has a driver for are launched.
	GPUModeDriver GPUMode = "Driver"
	// GPUModeNone installs no driver: bring your own (for example the GPU
	// operator).
	GPUModeNone GPUMode = "None"
)

// GPU configures GPU nodes.
type GPU struct {
	// mode is Driver (install the GPU driver during provisioning) or None.
	// +default="Driver"
	// +optional
	Mode *GPUMode `json:"mode,omitempty"`
}

// ArtifactStreaming configures container image streaming.
type ArtifactStreaming struct {
	// enabled turns artifact streaming on; it is off by default.
	// +optional
	Enabled *bool `json:"enabled,omitempty"`
}

// OSDiskType is where a node's OS disk lives.
// +kubebuilder:validation:Enum:={Auto,Ephemeral,Managed}
type OSDiskType string

const (
	OSDiskTypeAuto      OSDiskType = "Auto"
	OSDiskTypeEphemeral OSDiskType = "Ephemeral"
	OSDiskTypeManaged   OSDiskType = "Managed"
)

// FIPSMode turns FIPS-validated node images on or off.
// +kubebuilder:validation:Enum:={FIPS,Disabled}
type FIPSMode string

const (
	FIPSModeFIPS     FIPSMode = "FIPS"
	FIPSModeDisabled FIPSMode = "Disabled"
)

// WorkloadRuntime is the container runtime of a node.
// +kubebuilder:validation:Enum:={OCIContainer,KataVmIsolation}
type WorkloadRuntime string

const (
	WorkloadRuntimeOCIContainer    WorkloadRuntime = "OCIContainer"
	WorkloadRuntimeKataVMIsolation WorkloadRuntime = "KataVmIsolation"
)

// Image families.
const (
	ImageFamilyUbuntu      = "Ubuntu"
	ImageFamilyUbuntu2204  = "Ubuntu2204"
	ImageFamilyUbuntu2404  = "Ubuntu2404"
	ImageFamilyAzureLinux  = "AzureLinux"
	ImageFamilyWindows2022 = "Windows2022"
	ImageFamilyWindows2025 = "Windows2025"
)

// ImageFamilies lists every supported image family.
var ImageFamilies = []string{ImageFamilyUbuntu, ImageFamilyUbuntu2204, ImageFamilyUbuntu2404, ImageFamilyAzureLinux, ImageFamilyWindows2022, ImageFamilyWindows2025}

// Security groups host and VM security settings.
type Security struct {
	// encryptionAtHost encrypts the OS disk and temporary disk on the host.
	// Only VM sizes that support it are launched.
	// +optional
	EncryptionAtHost *bool `json:"encryptionAtHost,omitempty"`
	// confidentialVM launches confidential VMs (AMD SEV-SNP or Intel TDX) with
	// an encrypted VM guest state. Only confidential VM sizes are launched.
	// +optional
	ConfidentialVM *bool `json:"confidentialVM,omitempty"`
	// trustedLaunch launches Trusted Launch VMs (Gen2, with a virtual TPM
	// and/or secure boot) from the node images built for it. Only VM sizes
	// that support Trusted Launch are launched.
	// +optional
	TrustedLaunch *TrustedLaunch `json:"trustedLaunch,omitempty"`
}

// TrustedLaunch configures Trusted Launch: it is on when either setting is.
type TrustedLaunch struct {
	// vtpm enables the virtual Trusted Platform Module.
	// +optional
	VTPM *bool `json:"vtpm,omitempty"`
	// secureBoot enables UEFI secure boot.
	// +optional
	SecureBoot *bool `json:"secureBoot,omitempty"`
}

// SpotConfiguration configures Azure Spot VMs.
type SpotConfiguration struct {
	// maxPrice is the most, in US dollars per hour, to pay for a spot VM, with
	// up to five decimal places; "-1" (the default) pays up to the on-demand
	// price. Spot offerings priced above the cap are not launched, and Azure
	// evicts the VM when the spot price rises above it.
	// +kubebuilder:validation:Pattern=`^(-1|[0-9]+(\.[0-9]{1,5})?)$`
	// +kubebuilder:validation:XValidation:message="spot.maxPrice must be -1 (up to the on-demand price) or greater than 0",rule="self == '-1' || double(self) > 0.0"
	// +default="-1"
	// +optional
	MaxPrice *string `json:"maxPrice,omitempty"`
}

// KubeletConfiguration is the subset of the kubelet's configuration that AKS
// lets users set, named and typed as upstream
// (k8s.io/kubelet/config/v1beta1.KubeletConfiguration).
//
// +kubebuilder:validation:XValidation:message="imageGCHighThresholdPercent must be greater than imageGCLowThresholdPercent",rule="!has(self.imageGCHighThresholdPercent) || !has(self.imageGCLowThresholdPercent) || self.imageGCHighThresholdPercent > self.imageGCLowThresholdPercent"
type KubeletConfiguration struct {
	// cpuManagerPolicy is the CPU manager policy: none or static.
	// +kubebuilder:validation:Enum:={none,static}
	// +default="none"
	// +optional
	CPUManagerPolicy *string `json:"cpuManagerPolicy,omitempty"`
	// cpuCFSQuota enforces CPU limits with CFS quota.
	// +default=true
	// +optional
	CPUCFSQuota *bool `json:"cpuCFSQuota,omitempty"`
	// cpuCFSQuotaPeriod is the CFS quota period, between 1ms and 1s.
	// +kubebuilder:validation:Type="string"
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:message="cpuCFSQuotaPeriod must be between 1ms and 1s",rule="duration(self) >= duration('1ms') && duration(self) <= duration('1s')"
	// +default="100ms"
	// +optional
	CPUCFSQuotaPeriod *metav1.Duration `json:"cpuCFSQuotaPeriod,omitempty"`
	// imageGCHighThresholdPercent is the disk usage (percent) above which image
	// garbage collection always runs. Must be greater than
	// imageGCLowThresholdPercent.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	ImageGCHighThresholdPercent *int32 `json:"imageGCHighThresholdPercent,omitempty"`
	// imageGCLowThresholdPercent is the disk usage (percent) below which image
	// garbage collection never runs.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	ImageGCLowThresholdPercent *int32 `json:"imageGCLowThresholdPercent,omitempty"`
	// topologyManagerPolicy is the topology manager policy.
	// +kubebuilder:validation:Enum:={restricted,best-effort,none,single-numa-node}
	// +default="none"
	// +optional
	TopologyManagerPolicy *string `json:"topologyManagerPolicy,omitempty"`
	// allowedUnsafeSysctls are unsafe sysctls or sysctl patterns (ending in *)
	// pods may set, from the groups kernel.shm*, kernel.msg*, kernel.sem,
	// fs.mqueue.* and net.*.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:XValidation:message="allowedUnsafeSysctls entries must be in the groups kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.* or net.*",rule="self.all(s, s.matches('^(kernel\\\\.shm.*|kernel\\\\.msg.*|kernel\\\\.sem|fs\\\\.mqueue\\\\..*|net\\\\..*)$'))"
	// +optional
	AllowedUnsafeSysctls []string `json:"allowedUnsafeSysctls,omitempty"`
	// containerLogMaxSize is the size at which a container log is rotated, as a
	// quantity such as 50Mi.
	// +kubebuilder:validation:Pattern=`^\d+(E|P|T|G|M|K|Ei|Pi|Ti|Gi|Mi|Ki)$`
	// +default="50Mi"
	// +optional
	ContainerLogMaxSize *string `json:"containerLogMaxSize,omitempty"`
	// containerLogMaxFiles is how many log files a container keeps, at least 2.
	// +kubebuilder:validation:Minimum=2
	// +default=5
	// +optional
	ContainerLogMaxFiles *int32 `json:"containerLogMaxFiles,omitempty"`
	// podPidsLimit is the most process IDs a pod may use; -1 for no limit.
	// +kubebuilder:validation:XValidation:message="podPidsLimit must be -1 (no limit) or greater than 0",rule="self == -1 || self > 0"
	// +optional
	PodPidsLimit *int64 `json:"podPidsLimit,omitempty"`
	// failSwapOn makes the kubelet refuse to start on a node with swap; it
	// must be false when linuxOSConfig.swapFileSize gives the node swap.
	// +optional
	FailSwapOn *bool `json:"failSwapOn,omitempty"`
}

// AKSNodeClass is the Azure-specific configuration of a Karpenter NodePool's
// nodes.
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=aksnodeclasses,scope=Cluster,categories={karpenter,nap},shortName={aksnc,aksncs}
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=".status.conditions[?(@.type=='Ready')].status"
// +kubebuilder:printcolumn:name="ImageFamily",type=string,JSONPath=".spec.imageFamily",priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp"
// +kubebuilder:storageversion
// +kubebuilder:subresource:status
type AKSNodeClass struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +kubebuilder:default={}
	Spec   AKSNodeClassSpec   `json:"spec,omitempty"`
	Status AKSNodeClassStatus `json:"status,omitempty"`
}

// AKSNodeClassList is a list of AKSNodeClass.
// +kubebuilder:object:root=true
type AKSNodeClassList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AKSNodeClass `json:"items"`
}

// AKSNodeClassHashVersion is bumped when a change to the hashed fields or to
// the hashing would otherwise make every existing node look drifted: when a
// hashed field gets a default, when a field with a value joins the hash, or
// when one leaves it. NodeClaims stamped with another version (an older
// azkarpenter, or AKS node auto-provisioning, whose hash is computed over a
// different struct) are re-stamped with the current hash, unless already
// drifted (pkg/controllers/nodeclass/hash).
//
// v2: localDNS, gpu, artifactStreaming, linuxOSConfig,
// security.trustedLaunch and kubelet.failSwapOn joined the spec.
const AKSNodeClassHashVersion = "azkarpenter-v2"

// Hash is the static drift hash of the spec: a node whose recorded hash
// differs from its NodeClass's current hash was launched from an older spec.
// Tags are excluded because they are updated in place.
func (in *AKSNodeClass) Hash() string {
	return fmt.Sprint(mustHash(hashstructure.Hash(in.Spec, hashstructure.FormatV2, &hashstructure.HashOptions{
		SlicesAsSets:    true,
		IgnoreZeroValue: true,
		ZeroNil:         true,
	})))
}

// InPlaceUpdateHash is the hash of what is applied to running nodes in place
// rather than by replacing them: the tags. A NodeClaim records it in
// AnnotationInPlaceUpdateHash when its VM's tags match.
func (in *AKSNodeClass) InPlaceUpdateHash() string {
	// json.Marshal writes map keys in order: the hash is stable.
	data, err := json.Marshal(map[string]any{"tags": in.Spec.Tags})
	if err != nil {
		panic(err)
	}
	h := fnv.New32a()
	_, _ = h.Write(data)
	return fmt.Sprint(h.Sum32())
}

func mustHash(v uint64, err error) uint64 {
	if err != nil {
		// Hashing plain structs of strings, numbers and maps cannot fail.
		panic(err)
	}
	return v
}

// GetImageFamily returns the image family, defaulted as the API server would.
func (in *AKSNodeClass) GetImageFamily() string {
	if in.Spec.ImageFamily == nil {
		return ImageFamilyUbuntu
	}
	return *in.Spec.ImageFamily
}

// IsWindows reports whether the image family is a Windows one.
func (in *AKSNodeClass) IsWindows() bool {
	f := in.GetImageFamily()
	return f == ImageFamilyWindows2022 || f == ImageFamilyWindows2025
}

// GetOSDiskSizeGB returns the OS disk size, defaulted as the API server would.
func (in *AKSNodeClass) GetOSDiskSizeGB() int32 {
	if in.Spec.OSDiskSizeGB == nil {
		return 128
	}
	return *in.Spec.OSDiskSizeGB
}

// GetOSDiskType returns the OS disk type, defaulted as the API server would.
func (in *AKSNodeClass) GetOSDiskType() OSDiskType {
	if in.Spec.OSDiskType == nil {
		return OSDiskTypeAuto
	}
	return *in.Spec.OSDiskType
}

// GPUDriverInstallation reports whether GPU nodes install their driver
// (gpu.mode Driver, the default).
func (in *AKSNodeClass) GPUDriverInstallation() bool {
	return in.Spec.GPU == nil || in.Spec.GPU.Mode == nil || *in.Spec.GPU.Mode != GPUModeNone
}

// ArtifactStreamingEnabled reports whether nodes of an architecture stream
// images: asked for, and not Arm64 (the streaming snapshotter is x64-only).
func (in *AKSNodeClass) ArtifactStreamingEnabled(arch string) bool {
	return in.ArtifactStreamingRequested() && arch != "arm64"
}

// ArtifactStreamingRequested reports whether artifactStreaming.enabled is true.
func (in *AKSNodeClass) ArtifactStreamingRequested() bool {
	return in.Spec.ArtifactStreaming != nil && in.Spec.ArtifactStreaming.Enabled != nil && *in.Spec.ArtifactStreaming.Enabled
}

// TrustedLaunch reports whether nodes are Trusted Launch VMs (vTPM or
// secure boot asked for).
func (in *AKSNodeClass) TrustedLaunch() bool {
	tl := lo.FromPtr(in.Spec.Security).TrustedLaunch
	return tl != nil && (lo.FromPtr(tl.VTPM) || lo.FromPtr(tl.SecureBoot))
}

// IsLocalDNSEnabled reports whether new nodes get LocalDNS, as the status
// resolved spec.localDNS.mode.
func (in *AKSNodeClass) IsLocalDNSEnabled() bool {
	return in.Status.LocalDNSState != nil && *in.Status.LocalDNSState == LocalDNSStateEnabled
}

// SpotMaxPrice returns the spot price cap in USD per hour, or -1 for "up to
// the on-demand price".
func (in *AKSNodeClass) SpotMaxPrice() float64 {
	if in.Spec.Spot == nil || in.Spec.Spot.MaxPrice == nil {
		return -1
	}
	p, err := strconv.ParseFloat(*in.Spec.Spot.MaxPrice, 64)
	if err != nil || p <= 0 {
		return -1
	}
	return p
}
