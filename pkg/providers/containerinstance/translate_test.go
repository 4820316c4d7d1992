package containerinstance_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/azkarpenter/azkarpenter/pkg/providers/containerinstance"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func webPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-7d9f8-abcde", Namespace: "shop", UID: "6f1c2a9e-0000-4000-8000-000000000001", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			ServiceAccountName: "web",
			ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "registry"}, {Name: "absent"}},
			Containers: []corev1.Container{{
				Name:    "web",
				Image:   "registry.example.com/shop/web:1.4.2",
				Command: []string{"/bin/web"},
				Args:    []string{"--port=8080"},
				Ports:   []corev1.ContainerPort{{ContainerPort: 8080}, {ContainerPort: 9090, Protocol: corev1.ProtocolUDP}},
				Env: []corev1.EnvVar{
					{Name: "MODE", Value: "burst"},
					{Name: "COLOR", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "web-config"}, Key: "color"}}},
					{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "web-secret"}, Key: "password"}}},
					{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
					{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
					{Name: "OPTIONAL", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "web-config"}, Key: "absent", Optional: lo.ToPtr(true)}}},
				},
				EnvFrom: []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web-config"}}}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("300Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("512Mi")},
				},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "config", MountPath: "/etc/web", ReadOnly: true},
					{Name: "tls", MountPath: "/etc/tls", ReadOnly: true},
					{Name: "cache", MountPath: "/var/cache/web"},
					{Name: "kube-api-access-x2v9k", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true},
				},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}, PeriodSeconds: 5},
				LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/web", "ping"}}}, InitialDelaySeconds: 10},
			}, {
				Name:  "log-shipper",
				Image: "registry.example.com/shop/shipper:2",
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web-config"},
					Items: []corev1.KeyToPath{{Key: "web.yaml", Path: "config.yaml"}}}}},
				{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "web-secret"}}},
				{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "kube-api-access-x2v9k", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: lo.ToPtr[int64](3607)}},
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
					{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
				}}}},
			},
		},
	}
}

func webInputs() containerinstance.Inputs {
	return containerinstance.Inputs{
		ConfigMaps: map[string]*corev1.ConfigMap{
			"web-config":       {Data: map[string]string{"color": "blue", "web.yaml": "listen: 8080\n", "size": "m"}},
			"kube-root-ca.crt": {Data: map[string]string{"ca.crt": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}},
		},
		Secrets: map[string]*corev1.Secret{
			"web-secret": {Data: map[string][]byte{"password": []byte("hunter2"), "tls.crt": []byte("crt"), "tls.key": []byte("key")}},
			"registry": {Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{
				corev1.DockerConfigJsonKey: []byte(`{"auths":{"registry.example.com":{"auth":"cHVsbGVyOnMzY3JldA=="}}}`)}},
		},
		ServiceAccountToken: func(audience string, exp int64) (string, error) {
			if audience != "" || exp != 3607 {
				return "", errors.New("unexpected token request")
			}
			return "eyJhbGciOi.token.for-web", nil
		},
	}
}

func jobPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly-report-29012345-xk2p9", Namespace: "Batch_Jobs", UID: "0b7e0000-0000-4000-8000-000000000002"},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			DNSPolicy:     corev1.DNSDefault,
			InitContainers: []corev1.Container{{
				Name: "fetch", Image: "busybox:1.36", Command: []string{"sh", "-c"}, Args: []string{"wget -O /work/in.csv http://data/in.csv"},
				VolumeMounts: []corev1.VolumeMount{{Name: "work", MountPath: "/work"}},
			}},
			Containers: []corev1.Container{{
				Name: "report", Image: "registry.example.com/batch/report:7",
				VolumeMounts: []corev1.VolumeMount{{Name: "work", MountPath: "/work"}},
			}},
			Volumes: []corev1.Volume{{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
}

func TestContainerGroupForGolden(t *testing.T) {
	opts := containerinstance.GroupOptions{
		Region:        "eastus",
		SubnetID:      "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/aci",
		ClusterDNS:    []string{"10.0.0.10"},
		ClusterDomain: "cluster.local",
		Tags:          map[string]string{"karpenter.azure.com_cluster": "demo"},
	}
	for name, tc := range map[string]struct {
		pod  *corev1.Pod
		in   containerinstance.Inputs
		opts containerinstance.GroupOptions
	}{
		"web": {webPod(), webInputs(), opts},
		"job": {jobPod(), containerinstance.Inputs{}, containerinstance.GroupOptions{Region: "westus2"}},
	} {
		t.Run(name, func(t *testing.T) {
			cg, err := containerinstance.ContainerGroupFor(tc.pod, tc.in, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := json.Marshal(cg)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := json.Indent(&got, raw, "", "  "); err != nil {
				t.Fatal(err)
			}
			got.WriteByte('\n')
			path := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("%s differs from the translation:\n%s", path, got.String())
			}
		})
	}
}

func TestContainerGroupForMissingInputs(t *testing.T) {
	for name, edit := range map[string]func(*containerinstance.Inputs){
		"a ConfigMap key":     func(in *containerinstance.Inputs) { delete(in.ConfigMaps["web-config"].Data, "color") },
		"a Secret":            func(in *containerinstance.Inputs) { delete(in.Secrets, "web-secret") },
		"the token source":    func(in *containerinstance.Inputs) { in.ServiceAccountToken = nil },
		"a projected CA":      func(in *containerinstance.Inputs) { delete(in.ConfigMaps, "kube-root-ca.crt") },
		"a volume's item key": func(in *containerinstance.Inputs) { delete(in.ConfigMaps["web-config"].Data, "web.yaml") },
	} {
		t.Run(name, func(t *testing.T) {
			in := webInputs()
			edit(&in)
			if _, err := containerinstance.ContainerGroupFor(webPod(), in, containerinstance.GroupOptions{Region: "eastus"}); err == nil || !strings.Contains(err.Error(), "spec.") {
				t.Fatalf("want an error naming the field, got %v", err)
			}
		})
	}
}

func TestGroupName(t *testing.T) {
	mk := func(ns, name, uid string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: k8stypes.UID(uid)}}
	}
	if got := containerinstance.GroupName(mk("shop", "web-1", "a")); got != "shop-web-1" {
		t.Fatalf("plain name: %q", got)
	}
	long := containerinstance.GroupName(mk("a-very-long-namespace-name", "and-a-very-long-pod-name-from-a-deployment-7d9f8b6c5-abcde", "a"))
	other := containerinstance.GroupName(mk("a-very-long-namespace-name", "and-a-very-long-pod-name-from-a-deployment-7d9f8b6c5-abcde", "b"))
	if len(long) > 63 || long == other {
		t.Fatalf("long names %q and %q", long, other)
	}
	if got := containerinstance.GroupName(mk("Batch_Jobs", "x--y", "a")); strings.Contains(got, "--") || strings.ContainsAny(got, "_B") {
		t.Fatalf("unsafe characters kept: %q", got)
	}
}

func TestGroupResourcesRoundUp(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("101m"), corev1.ResourceMemory: resource.MustParse("1Gi")}}},
		{Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("1025Mi")}}},
		{},
	}}}
	// 0.101 → 0.2; limits stand in for missing requests (2, 1.1 GB); a
	// container without either gets the CLI's 1 CPU / 1.5 GB.
	if r := containerinstance.GroupResources(pod); r.CPU != 3.2 || r.MemoryGB != 3.6 {
		t.Fatalf("got %+v, want 3.2 CPU and 3.6 GB", r)
	}
}
