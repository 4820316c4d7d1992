package containerinstance

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// What a standard container group can have
// (learn.microsoft.com/azure/container-instances/container-instances-resource-and-quota-limits):
// at most 4 vCPUs and 16 GB summed over its containers, with or without a
// virtual network; 60 containers; 20 volumes.
const (
	MaxGroupCPU      = 4.0
	MaxGroupMemoryGB = 16.0
	MaxContainers    = 60
	MaxVolumes       = 20
)

// ACI takes CPU and memory "accurate to one decimal place" (the Azure
// CLI's container create, --cpu and --memory), and a container without a
// request gets the CLI's defaults, 1 CPU and 1.5 GB. Requests are rounded
// up, never down: a pod gets at least what it asked for. Memory is counted
// in GiB, which over-asks by at most 7.4% if ACI's GB is 10⁹ bytes.
const (
	cpuStep         = 0.1
	memoryStepGB    = 0.1
	defaultCPU      = 1.0
	defaultMemoryGB = 1.5
	bytesPerGB      = 1 << 30
	roundingEpsilon = 1e-9
	// The pod a group runs, in the provider's ownership tags (the
	// karpenter.azure.com_ prefix users cannot set), for the garbage
	// collection of groups whose pod is gone.
	tagPodNamespace  = "karpenter.azure.com_pod-namespace"
	tagPodName       = "karpenter.azure.com_pod-name"
	tagPodUID        = "karpenter.azure.com_pod-uid"
	maxGroupNameSize = 63
)

// GroupOptions say where and how a pod's group is created.
type GroupOptions struct {
	// Region is the group's Azure location.
	Region string
	// SubnetID, when set, deploys the group into that (delegated) subnet.
	SubnetID string
	// ClusterDNS are the name servers of pods with dnsPolicy ClusterFirst
	// (the cluster's DNS service IP), with ClusterDomain for their search
	// list; without them the group uses Azure's DNS.
	ClusterDNS    []string
	ClusterDomain string
	// Tags are added to every group (the cluster's ownership tags).
	Tags map[string]string
}

// Inputs are the objects a pod's group is built from besides the pod: the
// ConfigMaps and Secrets it references (by name, in its namespace) and the
// tokens of its projected service account token volumes.
type Inputs struct {
	ConfigMaps map[string]*corev1.ConfigMap
	Secrets    map[string]*corev1.Secret
	// ServiceAccountToken returns a token for the pod's service account
	// (a TokenRequest by the caller); nil when the pod mounts none.
	ServiceAccountToken func(audience string, expirationSeconds int64) (string, error)
}

var notNameChar = regexp.MustCompile(`[^a-z0-9-]+`)

// GroupName is the container group of a pod: "<namespace>-<name>" made to
// ACI's naming rule, with a hash of the pod's UID when it had to be cut or
// changed, so that two pods never share a group.
func GroupName(pod *corev1.Pod) string {
	raw := pod.Namespace + "-" + pod.Name
	name := strings.Trim(collapseHyphens(notNameChar.ReplaceAllString(strings.ToLower(raw), "-")), "-")
	if name == raw && len(name) <= maxGroupNameSize {
		return name
	}
	h := sha256.Sum256([]byte(string(pod.UID) + "/" + raw))
	suffix := hex.EncodeToString(h[:])[:8]
	name = strings.Trim(name[:min(len(name), maxGroupNameSize-len(suffix)-1)], "-")
	return name + "-" + suffix
}

func collapseHyphens(s string) string {
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	return s
}

// cpuOf and memoryGBOf round a quantity up to ACI's granularity.
func cpuOf(q resource.Quantity) float64 {
	return roundUp(float64(q.MilliValue())/1000, cpuStep)
}

func memoryGBOf(q resource.Quantity) float64 {
	return roundUp(float64(q.Value())/bytesPerGB, memoryStepGB)
}

func roundUp(v, step float64) float64 {
	n := math.Ceil(v/step - roundingEpsilon)
	return math.Round(n*step*10) / 10
}

// Resources is a container's request as ACI gets it.
type Resources struct {
	CPU      float64
	MemoryGB float64
}

// requestsOf is what ACI is asked for a container: its requests, else its
// limits (Kubernetes' own default), else the CLI's defaults.
func requestsOf(c *corev1.Container) Resources {
	pick := func(name corev1.ResourceName) (resource.Quantity, bool) {
		if q, ok := c.Resources.Requests[name]; ok && !q.IsZero() {
			return q, true
		}
		q, ok := c.Resources.Limits[name]
		return q, ok && !q.IsZero()
	}
	r := Resources{CPU: defaultCPU, MemoryGB: defaultMemoryGB}
	if q, ok := pick(corev1.ResourceCPU); ok {
		r.CPU = cpuOf(q)
	}
	if q, ok := pick(corev1.ResourceMemory); ok {
		r.MemoryGB = memoryGBOf(q)
	}
	return r
}

// GroupResources are the CPU and memory a pod's group requests: the sum
// over its containers (init containers run before and take no part).
func GroupResources(pod *corev1.Pod) Resources {
	var sum Resources
	for i := range pod.Spec.Containers {
		r := requestsOf(&pod.Spec.Containers[i])
		sum.CPU += r.CPU
		sum.MemoryGB += r.MemoryGB
	}
	sum.CPU, sum.MemoryGB = math.Round(sum.CPU*10)/10, math.Round(sum.MemoryGB*10)/10
	return sum
}

// ContainerGroupFor builds the container group that runs pod. It refuses
// (with the reasons, each naming the field) a pod Check refuses, and fails
// when an input the pod references is missing.
func ContainerGroupFor(pod *corev1.Pod, in Inputs, opts GroupOptions) (armcontainerinstance.ContainerGroup, error) {
	if reasons := Check(pod); len(reasons) > 0 {
		return armcontainerinstance.ContainerGroup{}, &IneligibleError{Reasons: reasons}
	}
	volumes, err := volumesFor(pod, in)
	if err != nil {
		return armcontainerinstance.ContainerGroup{}, err
	}
	props := &armcontainerinstance.ContainerGroupPropertiesProperties{
		OSType:        lo.ToPtr(armcontainerinstance.OperatingSystemTypesLinux),
		RestartPolicy: lo.ToPtr(restartPolicy(pod.Spec.RestartPolicy)),
		SKU:           lo.ToPtr(armcontainerinstance.ContainerGroupSKUStandard),
		Volumes:       volumes,
	}
	for i := range pod.Spec.Containers {
		c, err := containerFor(pod, &pod.Spec.Containers[i], in)
		if err != nil {
			return armcontainerinstance.ContainerGroup{}, err
		}
		props.Containers = append(props.Containers, c)
	}
	for i := range pod.Spec.InitContainers {
		c, err := initContainerFor(pod, &pod.Spec.InitContainers[i], in)
		if err != nil {
			return armcontainerinstance.ContainerGroup{}, err
		}
		props.InitContainers = append(props.InitContainers, c)
	}
	if opts.SubnetID != "" {
		props.SubnetIDs = []*armcontainerinstance.ContainerGroupSubnetID{{ID: lo.ToPtr(opts.SubnetID)}}
	}
	if dns := dnsFor(pod, opts); dns != nil {
		props.DNSConfig = dns
	}
	if creds, err := registryCredentials(pod, in); err != nil {
		return armcontainerinstance.ContainerGroup{}, err
	} else if len(creds) > 0 {
		props.ImageRegistryCredentials = creds
	}
	tags := map[string]*string{tagPodNamespace: lo.ToPtr(pod.Namespace), tagPodName: lo.ToPtr(pod.Name), tagPodUID: lo.ToPtr(string(pod.UID))}
	for k, v := range opts.Tags {
		tags[k] = lo.ToPtr(v)
	}
	return armcontainerinstance.ContainerGroup{
		Name:       lo.ToPtr(GroupName(pod)),
		Location:   lo.ToPtr(opts.Region),
		Tags:       tags,
		Properties: props,
	}, nil
}

// restartPolicy maps the pod's policy; the names are the same.
func restartPolicy(p corev1.RestartPolicy) armcontainerinstance.ContainerGroupRestartPolicy {
	switch p {
	case corev1.RestartPolicyNever:
		return armcontainerinstance.ContainerGroupRestartPolicyNever
	case corev1.RestartPolicyOnFailure:
		return armcontainerinstance.ContainerGroupRestartPolicyOnFailure
	default:
		return armcontainerinstance.ContainerGroupRestartPolicyAlways
	}
}

func containerFor(pod *corev1.Pod, c *corev1.Container, in Inputs) (*armcontainerinstance.Container, error) {
	env, err := envFor(pod, c, in)
	if err != nil {
		return nil, err
	}
	r := requestsOf(c)
	res := &armcontainerinstance.ResourceRequirements{Requests: &armcontainerinstance.ResourceRequests{CPU: lo.ToPtr(r.CPU), MemoryInGB: lo.ToPtr(r.MemoryGB)}}
	if cpu, mem := c.Resources.Limits.Cpu(), c.Resources.Limits.Memory(); !cpu.IsZero() || !mem.IsZero() {
		res.Limits = &armcontainerinstance.ResourceLimits{}
		if !cpu.IsZero() {
			res.Limits.CPU = lo.ToPtr(cpuOf(*cpu))
		}
		if !mem.IsZero() {
			res.Limits.MemoryInGB = lo.ToPtr(memoryGBOf(*mem))
		}
	}
	props := &armcontainerinstance.ContainerProperties{
		Image:                lo.ToPtr(c.Image),
		Resources:            res,
		Command:              commandOf(c),
		EnvironmentVariables: env,
		VolumeMounts:         mountsFor(c.VolumeMounts),
		LivenessProbe:        probeFor(c.LivenessProbe),
		ReadinessProbe:       probeFor(c.ReadinessProbe),
	}
	for _, p := range c.Ports {
		props.Ports = append(props.Ports, &armcontainerinstance.ContainerPort{Port: lo.ToPtr(p.ContainerPort), Protocol: lo.ToPtr(protocolOf(p.Protocol))})
	}
	return &armcontainerinstance.Container{Name: lo.ToPtr(c.Name), Properties: props}, nil
}

func initContainerFor(pod *corev1.Pod, c *corev1.Container, in Inputs) (*armcontainerinstance.InitContainerDefinition, error) {
	env, err := envFor(pod, c, in)
	if err != nil {
		return nil, err
	}
	return &armcontainerinstance.InitContainerDefinition{Name: lo.ToPtr(c.Name), Properties: &armcontainerinstance.InitContainerPropertiesDefinition{
		Image: lo.ToPtr(c.Image), Command: commandOf(c), EnvironmentVariables: env, VolumeMounts: mountsFor(c.VolumeMounts),
	}}, nil
}

// commandOf is the container's argv: ACI's command replaces the image's
// entrypoint, so it is command then args (Check refuses args without a
// command, which ACI cannot express).
func commandOf(c *corev1.Container) []*string {
	argv := append(append([]string{}, c.Command...), c.Args...)
	if len(argv) == 0 {
		return nil
	}
	return lo.ToSlicePtr(argv)
}

func protocolOf(p corev1.Protocol) armcontainerinstance.ContainerNetworkProtocol {
	if p == corev1.ProtocolUDP {
		return armcontainerinstance.ContainerNetworkProtocolUDP
	}
	return armcontainerinstance.ContainerNetworkProtocolTCP
}

func mountsFor(mounts []corev1.VolumeMount) []*armcontainerinstance.VolumeMount {
	var out []*armcontainerinstance.VolumeMount
	for _, m := range mounts {
		out = append(out, &armcontainerinstance.VolumeMount{Name: lo.ToPtr(m.Name), MountPath: lo.ToPtr(m.MountPath), ReadOnly: lo.ToPtr(m.ReadOnly)})
	}
	return out
}

// probeFor maps exec and HTTP probes (Check refuses TCP and gRPC ones,
// which ACI does not have).
func probeFor(p *corev1.Probe) *armcontainerinstance.ContainerProbe {
	if p == nil {
		return nil
	}
	out := &armcontainerinstance.ContainerProbe{
		InitialDelaySeconds: nonZero(p.InitialDelaySeconds), PeriodSeconds: nonZero(p.PeriodSeconds), TimeoutSeconds: nonZero(p.TimeoutSeconds),
		FailureThreshold: nonZero(p.FailureThreshold), SuccessThreshold: nonZero(p.SuccessThreshold),
	}
	switch {
	case p.Exec != nil:
		out.Exec = &armcontainerinstance.ContainerExec{Command: lo.ToSlicePtr(p.Exec.Command)}
	case p.HTTPGet != nil:
		g := &armcontainerinstance.ContainerHTTPGet{Port: lo.ToPtr(p.HTTPGet.Port.IntVal), Path: nonEmpty(p.HTTPGet.Path)}
		if p.HTTPGet.Scheme == corev1.URISchemeHTTPS {
			g.Scheme = lo.ToPtr(armcontainerinstance.SchemeHTTPS)
		} else {
			g.Scheme = lo.ToPtr(armcontainerinstance.SchemeHTTP)
		}
		for _, h := range p.HTTPGet.HTTPHeaders {
			g.HTTPHeaders = append(g.HTTPHeaders, &armcontainerinstance.HTTPHeader{Name: lo.ToPtr(h.Name), Value: lo.ToPtr(h.Value)})
		}
		out.HTTPGet = g
	}
	return out
}

func nonZero(v int32) *int32 {
	if v == 0 {
		return nil
	}
	return lo.ToPtr(v)
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return lo.ToPtr(s)
}

// dnsFor points a ClusterFirst pod at the cluster's DNS, with Kubernetes'
// search list; a pod's own dnsConfig is added to it.
func dnsFor(pod *corev1.Pod, opts GroupOptions) *armcontainerinstance.DNSConfiguration {
	var servers, searches, options []string
	policy := pod.Spec.DNSPolicy
	if (policy == "" || policy == corev1.DNSClusterFirst) && len(opts.ClusterDNS) > 0 {
		servers = append(servers, opts.ClusterDNS...)
		if d := opts.ClusterDomain; d != "" {
			searches = append(searches, pod.Namespace+".svc."+d, "svc."+d, d)
		}
		options = append(options, "ndots:5")
	}
	if c := pod.Spec.DNSConfig; c != nil {
		servers = append(servers, c.Nameservers...)
		searches = append(searches, c.Searches...)
		for _, o := range c.Options {
			options = append(options, o.Name+lo.Ternary(o.Value != nil, ":"+lo.FromPtr(o.Value), ""))
		}
	}
	if len(servers) == 0 {
		return nil
	}
	out := &armcontainerinstance.DNSConfiguration{NameServers: lo.ToSlicePtr(servers)}
	if len(searches) > 0 {
		out.SearchDomains = lo.ToPtr(strings.Join(searches, " "))
	}
	if len(options) > 0 {
		out.Options = lo.ToPtr(strings.Join(options, " "))
	}
	return out
}

// sortedKeys keeps generated bodies stable (golden files, no spurious
// re-PUTs).
func sortedKeys[V any](m map[string]V) []string {
	keys := lo.Keys(m)
	sort.Strings(keys)
	return keys
}

// IneligibleError is a pod that cannot run on ACI, with every reason.
type IneligibleError struct {
	Reasons []Reason
}

func (e *IneligibleError) Error() string {
	return "pod cannot run on Azure Container Instances: " + strings.Join(lo.Map(e.Reasons, func(r Reason, _ int) string { return r.String() }), "; ")
}

// missingInput is a referenced ConfigMap, Secret or key that is not there.
func missingInput(field, format string, args ...any) error {
	return fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...))
}
