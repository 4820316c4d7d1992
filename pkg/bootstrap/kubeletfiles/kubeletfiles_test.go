package kubeletfiles_test

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	"sigs.k8s.io/yaml"

	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/kubeletfiles"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

// decoded is a node's configuration as the node reads it from its custom
// data: rendered by the provider's renderer and decoded, every kubelet
// setting the contract has set.
func decoded(t *testing.T) *bootstrap.Config {
	t.Helper()
	in := &bootstrap.Config{
		OS: bootstrap.Linux,
		Cluster: bootstrap.Cluster{
			APIServerName: "dev-dns-1a2b3c4d.hcp.eastus.azmk8s.io", CACertificate: testutil.TestCA(), BootstrapToken: "abcdef.0123456789abcdef",
			NetworkPlugin: "none",
		},
		KubernetesVersion: "1.35.4",
		VMSize:            "Standard_D2s_v5",
		Labels:            map[string]string{"karpenter.sh/nodepool": "default", "kubernetes.azure.com/mode": "user"},
		Taints: []corev1.Taint{
			{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule},
			{Key: "karpenter.sh/unregistered", Effect: corev1.TaintEffectNoExecute},
		},
		Kubelet: bootstrap.Kubelet{
			MaxPods: 110, KubeReserved: map[string]string{"cpu": "100m", "memory": "1638Mi"}, SystemReserved: map[string]string{"cpu": "50m"},
			EvictionHard: map[string]string{"memory.available": "750Mi"}, ClusterDNS: "10.0.0.10",
			CPUManagerPolicy: "static", CPUCFSQuota: lo.ToPtr(false), CPUCFSQuotaPeriod: "50ms", ImageGCHighThresholdPercent: lo.ToPtr[int32](85),
			ImageGCLowThresholdPercent: lo.ToPtr[int32](80), TopologyManagerPolicy: "best-effort", AllowedUnsafeSysctls: []string{"net.core.somaxconn"},
			ContainerLogMaxSize: "50Mi", ContainerLogMaxFiles: lo.ToPtr[int32](5), PodPidsLimit: lo.ToPtr[int64](4096), FailSwapOn: lo.ToPtr(true),
		},
	}
	a, err := bootstrap.Render(in)
	if err != nil {
		t.Fatal(err)
	}
	c, err := bootstrap.Decode(bootstrap.Linux, a.CustomData)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var node = kubeletfiles.Node{Name: "aks-default-abcde", ProviderID: "azure:///subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/aks-default-abcde"}

// Every kubelet setting of the contract lands in the configuration file,
// as aks-node-controller's file mode writes it; the image's own flags stay
// flags.
func TestRenderAsTheImage(t *testing.T) {
	root := t.TempDir()
	f, err := kubeletfiles.Render(decoded(t), node, kubeletfiles.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	var kc kubeletv1beta1.KubeletConfiguration
	if err := yaml.UnmarshalStrict(f.Contents[filepath.Join(root, kubeletfiles.ConfigPath)], &kc); err != nil {
		t.Fatal(err)
	}
	if kc.Kind != "KubeletConfiguration" || kc.APIVersion != "kubelet.config.k8s.io/v1beta1" {
		t.Errorf("type %s/%s", kc.APIVersion, kc.Kind)
	}
	want := map[string][2]any{
		"maxPods":                {kc.MaxPods, int32(110)},
		"kubeReserved":           {kc.KubeReserved, map[string]string{"cpu": "100m", "memory": "1638Mi"}},
		"systemReserved":         {kc.SystemReserved, map[string]string{"cpu": "50m"}},
		"evictionHard":           {kc.EvictionHard, map[string]string{"memory.available": "750Mi"}},
		"clusterDNS":             {kc.ClusterDNS, []string{"10.0.0.10"}},
		"clusterDomain":          {kc.ClusterDomain, "cluster.local"},
		"cpuManagerPolicy":       {kc.CPUManagerPolicy, "static"},
		"cpuCFSQuota":            {*kc.CPUCFSQuota, false},
		"cpuCFSQuotaPeriod":      {kc.CPUCFSQuotaPeriod.Duration, 50 * time.Millisecond},
		"imageGCHigh":            {*kc.ImageGCHighThresholdPercent, int32(85)},
		"imageGCLow":             {*kc.ImageGCLowThresholdPercent, int32(80)},
		"topologyManagerPolicy":  {kc.TopologyManagerPolicy, "best-effort"},
		"allowedUnsafeSysctls":   {kc.AllowedUnsafeSysctls, []string{"net.core.somaxconn"}},
		"containerLogMaxSize":    {kc.ContainerLogMaxSize, "50Mi"},
		"containerLogMaxFiles":   {*kc.ContainerLogMaxFiles, int32(5)},
		"podPidsLimit":           {*kc.PodPidsLimit, int64(4096)},
		"failSwapOn":             {*kc.FailSwapOn, true},
		"anonymous":              {*kc.Authentication.Anonymous.Enabled, false},
		"webhook authentication": {*kc.Authentication.Webhook.Enabled, true},
		"authorization":          {kc.Authorization.Mode, kubeletv1beta1.KubeletAuthorizationModeWebhook},
		"clientCAFile":           {kc.Authentication.X509.ClientCAFile, filepath.Join(root, "etc/kubernetes/certs/ca.crt")},
		"enforceNodeAllocatable": {kc.EnforceNodeAllocatable, []string{"pods"}},
		"readOnlyPort":           {kc.ReadOnlyPort, int32(0)},
		"rotateCertificates":     {kc.RotateCertificates, true},
		"protectKernelDefaults":  {kc.ProtectKernelDefaults, true},
		"resolvConf":             {*kc.ResolverConfig, "/run/systemd/resolve/resolv.conf"},
		"staticPodPath":          {kc.StaticPodPath, filepath.Join(root, "etc/kubernetes/manifests")},
		"failCgroupV1":           {kc.FailCgroupV1 == nil, true},
		"cgroupDriver":           {kc.CgroupDriver, ""},
	}
	for name, gw := range want {
		if !reflect.DeepEqual(gw[0], gw[1]) {
			t.Errorf("%s = %v, want %v", name, gw[0], gw[1])
		}
	}
	for _, arg := range []string{
		"--cloud-provider=external",
		"--register-with-taints=dedicated=db:NoSchedule,karpenter.sh/unregistered:NoExecute",
		"--node-labels=karpenter.sh/nodepool=default,kubernetes.azure.com/mode=user",
		"--hostname-override=aks-default-abcde",
		"--provider-id=" + node.ProviderID,
		"--config=" + filepath.Join(root, "etc/default/kubeletconfig.json"),
		"--bootstrap-kubeconfig=" + filepath.Join(root, "var/lib/kubelet/bootstrap-kubeconfig"),
		"--kubeconfig=" + filepath.Join(root, "var/lib/kubelet/kubeconfig"),
	} {
		if !slices.Contains(f.Args, arg) {
			t.Errorf("args lack %s: %v", arg, f.Args)
		}
	}
	for _, a := range f.Args {
		if strings.HasPrefix(a, "--max-pods") || strings.HasPrefix(a, "--image-credential") || strings.HasPrefix(a, "--root-dir") {
			t.Errorf("arg %s: the file or the machine has it", a)
		}
	}

	// The bootstrap kubeconfig: the custom data's API server on 443, its CA,
	// its token.
	if err := f.Write(); err != nil {
		t.Fatal(err)
	}
	bk, err := clientcmd.LoadFromFile(filepath.Join(root, kubeletfiles.BootstrapKubeconfigPath))
	if err != nil {
		t.Fatal(err)
	}
	cluster, user := bk.Clusters[bk.Contexts[bk.CurrentContext].Cluster], bk.AuthInfos[bk.Contexts[bk.CurrentContext].AuthInfo]
	if cluster.Server != "https://dev-dns-1a2b3c4d.hcp.eastus.azmk8s.io:443" || cluster.TLSServerName != "" || user.Token != "abcdef.0123456789abcdef" {
		t.Errorf("bootstrap kubeconfig: server %s (TLS name %q), token %q", cluster.Server, cluster.TLSServerName, user.Token)
	}
	ca, err := os.ReadFile(cluster.CertificateAuthority)
	if err != nil || string(ca) != string(testutil.TestCA()) {
		t.Errorf("CA file %s: %v", cluster.CertificateAuthority, err)
	}
	if st, err := os.Stat(filepath.Join(root, kubeletfiles.BootstrapKubeconfigPath)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("bootstrap kubeconfig mode: %v %v", st, err)
	}
	if st, err := os.Stat(filepath.Join(root, kubeletfiles.StaticPodPath)); err != nil || !st.IsDir() {
		t.Errorf("static pod directory: %v", err)
	}
}

// The test machine's adaptations change only what they say, and a route
// keeps verifying the server for the custom data's name.
func TestRenderOnATestMachine(t *testing.T) {
	root := t.TempDir()
	m := &kubeletfiles.Machine{ContainerRuntimeEndpoint: "unix:///tmp/x/containerd.sock", Address: "127.0.0.1", Port: 20250, HealthzPort: 20248,
		RootDir: "/tmp/x/kubelet", CertDir: "/tmp/x/pki", ResolvConf: "/etc/resolv.conf"}
	c := decoded(t)
	f, err := kubeletfiles.Render(c, node, kubeletfiles.Options{Root: root, APIServerAddress: "127.0.0.1:41234", Machine: m})
	if err != nil {
		t.Fatal(err)
	}
	kc := f.Config
	if *kc.FailCgroupV1 || *kc.FailSwapOn || kc.ProtectKernelDefaults || kc.CgroupDriver != "cgroupfs" || kc.ContainerRuntimeEndpoint != m.ContainerRuntimeEndpoint ||
		kc.Address != "127.0.0.1" || kc.Port != 20250 || *kc.HealthzPort != 20248 || *kc.ResolverConfig != "/etc/resolv.conf" {
		t.Errorf("adaptations: %+v", kc)
	}
	if kc.MaxPods != 110 || kc.EvictionHard["memory.available"] != "750Mi" {
		t.Errorf("the contract's settings changed: maxPods %d evictionHard %v", kc.MaxPods, kc.EvictionHard)
	}
	if !slices.Contains(f.Args, "--root-dir=/tmp/x/kubelet") || !slices.Contains(f.Args, "--cert-dir=/tmp/x/pki") {
		t.Errorf("args %v", f.Args)
	}
	bk, err := clientcmd.Load(f.Contents[filepath.Join(root, kubeletfiles.BootstrapKubeconfigPath)])
	if err != nil {
		t.Fatal(err)
	}
	cluster := bk.Clusters[bk.Contexts[bk.CurrentContext].Cluster]
	if cluster.Server != "https://127.0.0.1:41234" || cluster.TLSServerName != c.Cluster.APIServerName {
		t.Errorf("routed bootstrap kubeconfig: server %s, TLS name %q", cluster.Server, cluster.TLSServerName)
	}
}

func TestRenderRefuses(t *testing.T) {
	c := decoded(t)
	if _, err := kubeletfiles.Render(c, kubeletfiles.Node{}, kubeletfiles.Options{Root: t.TempDir()}); err == nil {
		t.Error("a node without a name")
	}
	c.OS = bootstrap.Windows
	if _, err := kubeletfiles.Render(c, node, kubeletfiles.Options{Root: t.TempDir()}); err == nil {
		t.Error("a Windows node")
	}
}
