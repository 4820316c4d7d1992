package containerinstance_test

import (
	"testing"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/azkarpenter/azkarpenter/pkg/providers/containerinstance"
)

func TestCheckAcceptsWhatTranslates(t *testing.T) {
	for _, pod := range []*corev1.Pod{webPod(), jobPod()} {
		if r := containerinstance.Check(pod); len(r) != 0 {
			t.Fatalf("%s refused: %v", pod.Name, r)
		}
	}
}

func TestCheckNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*corev1.Pod)
		field string
	}{
		{"DaemonSet pod", func(p *corev1.Pod) {
			p.OwnerReferences = []metav1.OwnerReference{{Kind: "DaemonSet", Name: "agent", Controller: lo.ToPtr(true)}}
		}, "metadata.ownerReferences[0]"},
		{"host network", func(p *corev1.Pod) { p.Spec.HostNetwork = true }, "spec.hostNetwork"},
		{"host PID", func(p *corev1.Pod) { p.Spec.HostPID = true }, "spec.hostPID"},
		{"privileged", func(p *corev1.Pod) {
			p.Spec.Containers[1].SecurityContext = &corev1.SecurityContext{Privileged: lo.ToPtr(true)}
		}, "spec.containers[1].securityContext.privileged"},
		{"added capabilities", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}}}
		}, "spec.containers[0].securityContext.capabilities.add"},
		{"GPU", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits["nvidia.com/gpu"] = resource.MustParse("1")
		}, "spec.containers[0].resources.limits[nvidia.com/gpu]"},
		{"Windows by os", func(p *corev1.Pod) { p.Spec.OS = &corev1.PodOS{Name: corev1.Windows} }, "spec.os.name"},
		{"Windows by selector", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "windows"} }, "spec.nodeSelector[kubernetes.io/os]"},
		{"hostPath volume", func(p *corev1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "logs", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log"}}})
		}, "spec.volumes[4]"},
		{"PVC", func(p *corev1.Pod) {
			p.Spec.Volumes[2].VolumeSource = corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}
		}, "spec.volumes[2]"},
		{"nested item path", func(p *corev1.Pod) { p.Spec.Volumes[0].ConfigMap.Items[0].Path = "conf/web.yaml" }, "spec.volumes[0].configMap.items[0].path"},
		{"over 4 CPU", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("4")
		}, "spec.containers[*].resources.requests.cpu"},
		{"over 16 GB", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests[corev1.ResourceMemory] = resource.MustParse("16Gi")
		}, "spec.containers[*].resources.requests.memory"},
		{"args without command", func(p *corev1.Pod) { p.Spec.Containers[0].Command = nil }, "spec.containers[0].args"},
		{"TCP probe", func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}}
		}, "spec.containers[0].readinessProbe.tcpSocket"},
		{"named probe port", func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe.HTTPGet.Port = intstr.FromString("http") }, "spec.containers[0].readinessProbe.httpGet.port"},
		{"preStop hook", func(p *corev1.Pod) {
			p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sleep", "5"}}}}
		}, "spec.containers[0].lifecycle"},
		{"host port", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].HostPort = 80 }, "spec.containers[0].ports[0].hostPort"},
		{"pod IP from the downward API", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}})
		}, "spec.containers[0].env[6].valueFrom.fieldRef.fieldPath"},
		{"container name ACI refuses", func(p *corev1.Pod) { p.Spec.Containers[1].Name = "log--shipper" }, "spec.containers[1].name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := webPod()
			tc.edit(pod)
			reasons := containerinstance.Check(pod)
			if !lo.ContainsBy(reasons, func(r containerinstance.Reason) bool { return r.Field == tc.field && r.Message != "" }) {
				t.Fatalf("want a reason at %s, got %v", tc.field, reasons)
			}
			if _, err := containerinstance.ContainerGroupFor(pod, webInputs(), containerinstance.GroupOptions{Region: "eastus"}); err == nil {
				t.Fatal("a refused pod was translated")
			}
		})
	}
}
