package containerinstance

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Reason is why a pod cannot run on ACI, naming the pod's field.
type Reason struct {
	// Field is the pod's field path, e.g. spec.containers[0].securityContext.privileged.
	Field   string
	Message string
}

func (r Reason) String() string { return r.Field + ": " + r.Message }

// Reasons a pod is refused, by what it needs that a container group does
// not give:
//
//   - a DaemonSet's pod belongs on every node, not on a virtual one;
//   - host networking, PID or IPC, host ports and host paths: a group has no
//     host to share;
//   - privileged containers and added capabilities: ACI's standard groups
//     run neither (its security context is a confidential-container
//     feature);
//   - GPUs and other extended resources: ACI's GPU groups are a preview,
//     V100 only, with a default quota of 0 cores and not in a virtual
//     network (container-instances-resource-and-quota-limits), so none is
//     given;
//   - Windows: a virtual node runs Linux groups;
//   - volumes other than emptyDir, configMap, secret and projected
//     (configMap, secret, downwardAPI fields, service account tokens), and
//     file paths with directories (a secret volume is flat);
//   - requests summed over the containers beyond 4 CPU or 16 GB, more than
//     60 containers or 20 volumes;
//   - what ACI's container definition cannot say: args without a command
//     (ACI's command replaces the entrypoint, so the image's entrypoint
//     cannot be kept), TCP and gRPC probes, lifecycle hooks, the downward
//     API's status and node fields (unknown before the group runs),
//     resourceFieldRef, names ACI refuses (two hyphens in a row).
func Check(pod *corev1.Pod) []Reason {
	var out []Reason
	add := func(field, format string, args ...any) {
		out = append(out, Reason{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	for i, o := range pod.OwnerReferences {
		if o.Kind == "DaemonSet" && o.Controller != nil && *o.Controller {
			add(fmt.Sprintf("metadata.ownerReferences[%d]", i), "DaemonSet pods run on every node and never on a virtual node")
		}
	}
	checkHost(pod, add)
	checkOS(pod, add)
	checkVolumes(pod, add)
	if len(pod.Spec.Containers) > MaxContainers {
		add("spec.containers", "%d containers; a container group has at most %d", len(pod.Spec.Containers), MaxContainers)
	}
	for i := range pod.Spec.InitContainers {
		checkContainer(&pod.Spec.InitContainers[i], fmt.Sprintf("spec.initContainers[%d]", i), true, add)
	}
	for i := range pod.Spec.Containers {
		checkContainer(&pod.Spec.Containers[i], fmt.Sprintf("spec.containers[%d]", i), false, add)
	}
	if r := GroupResources(pod); r.CPU > MaxGroupCPU+roundingEpsilon {
		add("spec.containers[*].resources.requests.cpu", "the containers request %.1f CPU together; a container group has at most %.0f", r.CPU, MaxGroupCPU)
	} else if r.MemoryGB > MaxGroupMemoryGB+roundingEpsilon {
		add("spec.containers[*].resources.requests.memory", "the containers request %.1f GB together; a container group has at most %.0f GB", r.MemoryGB, MaxGroupMemoryGB)
	}
	return out
}

func checkHost(pod *corev1.Pod, add func(string, string, ...any)) {
	s := &pod.Spec
	if s.HostNetwork {
		add("spec.hostNetwork", "host networking needs a node; a container group has its own network")
	}
	if s.HostPID {
		add("spec.hostPID", "a container group has no host PID namespace to share")
	}
	if s.HostIPC {
		add("spec.hostIPC", "a container group has no host IPC namespace to share")
	}
}

func checkOS(pod *corev1.Pod, add func(string, string, ...any)) {
	if pod.Spec.OS != nil && pod.Spec.OS.Name == corev1.Windows {
		add("spec.os.name", "Windows pods do not burst: the virtual node runs Linux container groups")
	}
	if pod.Spec.NodeSelector[corev1.LabelOSStable] == string(corev1.Windows) {
		add("spec.nodeSelector[kubernetes.io/os]", "Windows pods do not burst: the virtual node runs Linux container groups")
	}
}

func checkVolumes(pod *corev1.Pod, add func(string, string, ...any)) {
	if len(pod.Spec.Volumes) > MaxVolumes {
		add("spec.volumes", "%d volumes; a container group has at most %d", len(pod.Spec.Volumes), MaxVolumes)
	}
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		field := fmt.Sprintf("spec.volumes[%d]", i)
		switch {
		case v.EmptyDir != nil:
		case v.ConfigMap != nil:
			checkItems(v.ConfigMap.Items, field+".configMap.items", add)
		case v.Secret != nil:
			checkItems(v.Secret.Items, field+".secret.items", add)
		case v.Projected != nil:
			checkProjected(v.Projected, field+".projected", add)
		default:
			add(field, "volume type %s is not supported on ACI (emptyDir, configMap, secret and projected are)", volumeType(v))
		}
	}
}

func checkItems(items []corev1.KeyToPath, field string, add func(string, string, ...any)) {
	for j, it := range items {
		if strings.Contains(it.Path, "/") {
			add(fmt.Sprintf("%s[%d].path", field, j), "path %q has a directory; ACI's file volumes are flat", it.Path)
		}
	}
}

func checkProjected(p *corev1.ProjectedVolumeSource, field string, add func(string, string, ...any)) {
	for j, src := range p.Sources {
		f := fmt.Sprintf("%s.sources[%d]", field, j)
		switch {
		case src.ConfigMap != nil:
			checkItems(src.ConfigMap.Items, f+".configMap.items", add)
		case src.Secret != nil:
			checkItems(src.Secret.Items, f+".secret.items", add)
		case src.ServiceAccountToken != nil:
			if strings.Contains(src.ServiceAccountToken.Path, "/") {
				add(f+".serviceAccountToken.path", "path %q has a directory; ACI's file volumes are flat", src.ServiceAccountToken.Path)
			}
		case src.DownwardAPI != nil:
			for k, it := range src.DownwardAPI.Items {
				itf := fmt.Sprintf("%s.downwardAPI.items[%d]", f, k)
				if it.FieldRef == nil {
					add(itf+".resourceFieldRef", "resource fields cannot be projected on ACI")
				} else if _, ok := podField(&corev1.Pod{}, it.FieldRef.FieldPath); !ok {
					add(itf+".fieldRef.fieldPath", "%s is not known before the group runs", it.FieldRef.FieldPath)
				}
				if strings.Contains(it.Path, "/") {
					add(itf+".path", "path %q has a directory; ACI's file volumes are flat", it.Path)
				}
			}
		default:
			add(f, "this projected source is not supported on ACI")
		}
	}
}

func volumeType(v *corev1.Volume) string {
	switch {
	case v.HostPath != nil:
		return "hostPath"
	case v.PersistentVolumeClaim != nil:
		return "persistentVolumeClaim"
	case v.CSI != nil:
		return "csi"
	case v.Ephemeral != nil:
		return "ephemeral"
	case v.NFS != nil:
		return "nfs"
	case v.AzureFile != nil:
		return "azureFile"
	case v.DownwardAPI != nil:
		return "downwardAPI"
	case v.Image != nil:
		return "image"
	}
	return "(other)"
}

func checkContainer(c *corev1.Container, field string, initContainer bool, add func(string, string, ...any)) {
	if strings.Contains(c.Name, "--") {
		add(field+".name", "ACI refuses container names with two hyphens in a row")
	}
	if len(c.Args) > 0 && len(c.Command) == 0 {
		add(field+".args", "args without a command: ACI's command replaces the image's entrypoint, which the group cannot keep")
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.Privileged != nil && *sc.Privileged {
			add(field+".securityContext.privileged", "ACI runs no privileged containers")
		}
		if sc.Capabilities != nil && len(sc.Capabilities.Add) > 0 {
			add(field+".securityContext.capabilities.add", "ACI grants no added capabilities")
		}
	}
	for name := range c.Resources.Limits {
		if name != corev1.ResourceCPU && name != corev1.ResourceMemory && name != corev1.ResourceEphemeralStorage {
			add(fmt.Sprintf("%s.resources.limits[%s]", field, name), "ACI cannot give %s", name)
		}
	}
	for name := range c.Resources.Requests {
		if _, limited := c.Resources.Limits[name]; !limited && name != corev1.ResourceCPU && name != corev1.ResourceMemory && name != corev1.ResourceEphemeralStorage {
			add(fmt.Sprintf("%s.resources.requests[%s]", field, name), "ACI cannot give %s", name)
		}
	}
	for j, p := range c.Ports {
		if p.HostPort != 0 {
			add(fmt.Sprintf("%s.ports[%d].hostPort", field, j), "a container group has no host port")
		}
		if p.Protocol == corev1.ProtocolSCTP {
			add(fmt.Sprintf("%s.ports[%d].protocol", field, j), "ACI has TCP and UDP ports only")
		}
	}
	for j, e := range c.Env {
		checkEnvSource(e.ValueFrom, fmt.Sprintf("%s.env[%d].valueFrom", field, j), add)
	}
	if initContainer {
		return // init containers have no probes or hooks
	}
	for name, p := range map[string]*corev1.Probe{"livenessProbe": c.LivenessProbe, "readinessProbe": c.ReadinessProbe, "startupProbe": c.StartupProbe} {
		if p == nil {
			continue
		}
		switch {
		case name == "startupProbe":
			add(field+".startupProbe", "ACI has no startup probe")
		case p.TCPSocket != nil:
			add(field+"."+name+".tcpSocket", "ACI probes are exec or HTTP only")
		case p.GRPC != nil:
			add(field+"."+name+".grpc", "ACI probes are exec or HTTP only")
		case p.HTTPGet != nil && p.HTTPGet.Port.IntVal == 0:
			add(field+"."+name+".httpGet.port", "a named port cannot be resolved by ACI; give the number")
		}
	}
	if c.Lifecycle != nil && (c.Lifecycle.PreStop != nil || c.Lifecycle.PostStart != nil) {
		add(field+".lifecycle", "ACI runs no lifecycle hooks")
	}
}

func checkEnvSource(src *corev1.EnvVarSource, field string, add func(string, string, ...any)) {
	switch {
	case src == nil:
	case src.ResourceFieldRef != nil:
		add(field+".resourceFieldRef", "resource fields are not resolved on ACI")
	case src.FieldRef != nil:
		if _, ok := podField(&corev1.Pod{}, src.FieldRef.FieldPath); !ok {
			add(field+".fieldRef.fieldPath", "%s is not known before the group runs", src.FieldRef.FieldPath)
		}
	case src.FileKeyRef != nil:
		add(field+".fileKeyRef", "file keys are not resolved on ACI")
	}
}
