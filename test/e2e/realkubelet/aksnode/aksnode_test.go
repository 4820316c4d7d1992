// The e2e run passes ginkgo flags to every package under test/e2e; these
// plain tests run in the unit phase instead.

//go:build !e2e

package aksnode_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/aksnodeconfig"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
	"github.com/azkarpenter/azkarpenter/test/e2e/realkubelet/aksnode"
)

// nodeConfig is a node's AKSNodeConfig as the node reads it from custom data
// the provider's renderer wrote.
func nodeConfig(t *testing.T, edit func(*bootstrap.Config)) *aksnodeconfig.Configuration {
	t.Helper()
	in := &bootstrap.Config{
		OS: bootstrap.Linux,
		Cluster: bootstrap.Cluster{
			APIServerName: "dev-dns-1a2b3c4d.hcp.eastus.azmk8s.io", CACertificate: testutil.TestCA(), BootstrapToken: "abcdef.0123456789abcdef",
			NetworkPlugin: "none", DNSServiceIP: "10.0.0.10",
		},
		KubernetesVersion: "1.35.4",
		VMSize:            "Standard_D2s_v5",
		Labels:            map[string]string{"karpenter.sh/nodepool": "default", "kubernetes.azure.com/mode": "user", bootstrap.LabelKubeletServingCA: bootstrap.KubeletServingCA},
		Taints:            []corev1.Taint{{Key: "karpenter.sh/unregistered", Effect: corev1.TaintEffectNoExecute}},
		PauseImage:        "mcr.microsoft.com/oss/v2/kubernetes/pause:3.10.2",
		Kubelet: bootstrap.Kubelet{
			MaxPods: 110, KubeReserved: map[string]string{"cpu": "100m", "memory": "1638Mi"}, EvictionHard: bootstrap.KubeReserved(2, 8).EvictionHard(),
			ClusterDNS: "10.0.0.10", CPUCFSQuotaPeriod: "50ms", PodPidsLimit: lo.ToPtr[int64](4096),
		},
	}
	if edit != nil {
		edit(in)
	}
	a, err := bootstrap.Render(in)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := bootstrap.DecodeNodeConfig(a.CustomData)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

var node = aksnode.Node{Name: "aks-default-abcde"}

// As the image runs it: kubelet.service's flags, the drop-ins', then
// KUBELET_FLAGS in name order, without the self-signed serving certificate
// flags when rotation is on.
func TestKubeletCommandLineAsTheImageBuildsIt(t *testing.T) {
	root := t.TempDir()
	f, err := aksnode.Render(nodeConfig(t, nil), node, aksnode.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	args := f.KubeletArgs
	want := []string{
		"--enable-server", "--node-labels=karpenter.sh/nodepool=default,kubernetes.azure.com/kubelet-serving-ca=cluster,kubernetes.azure.com/mode=user", "--v=2",
		"--volume-plugin-dir=" + filepath.Join(root, "etc/kubernetes/volumeplugins"),
		"--kubeconfig=" + filepath.Join(root, "var/lib/kubelet/kubeconfig"), "--bootstrap-kubeconfig=" + filepath.Join(root, "var/lib/kubelet/bootstrap-kubeconfig"),
		"--runtime-request-timeout=15m", "--container-runtime-endpoint=unix:///run/containerd/containerd.sock", "--runtime-cgroups=/system.slice/containerd.service",
		"--cgroup-driver=systemd",
	}
	if !slices.Equal(args[:len(want)], want) {
		t.Errorf("the unit's and drop-ins' flags:\n got  %v\n want %v", args[:len(want)], want)
	}
	rest := args[len(want):]
	if !slices.IsSorted(rest[:len(rest)-1]) {
		t.Errorf("KUBELET_FLAGS are not in name order: %v", rest)
	}
	joined := strings.Join(args, " ")
	for _, w := range []string{"--feature-gates=CustomCPUCFSQuotaPeriod=true", "--cpu-cfs-quota-period=50ms", "--rotate-server-certificates=true",
		"--client-ca-file=" + filepath.Join(root, "etc/kubernetes/certs/ca.crt"), "--hostname-override=aks-default-abcde"} {
		if !strings.Contains(joined, w) {
			t.Errorf("the command line lacks %s", w)
		}
	}
	if strings.Contains(joined, "--tls-cert-file") || strings.Contains(joined, "--provider-id") {
		t.Errorf("the command line has flags the image does not pass: %s", joined)
	}
	ca, err := os.ReadFile(filepath.Join(root, "etc/kubernetes/certs/ca.crt"))
	if err == nil || len(ca) > 0 {
		t.Error("Render wrote files; Write does")
	}
	if err := f.Write(); err != nil {
		t.Fatal(err)
	}
	kc, err := clientcmd.LoadFromFile(filepath.Join(root, aksnode.BootstrapKubeconfigPath))
	if err != nil {
		t.Fatal(err)
	}
	if kc.Clusters["localcluster"].Server != "https://dev-dns-1a2b3c4d.hcp.eastus.azmk8s.io:443" || kc.AuthInfos["kubelet-bootstrap"].Token != "abcdef.0123456789abcdef" {
		t.Errorf("bootstrap kubeconfig %+v", kc)
	}
}

// containerd's sandbox image is the custom data's, and nothing else.
func TestContainerdConfigFromTheCustomData(t *testing.T) {
	f, err := aksnode.Render(nodeConfig(t, nil), node, aksnode.Options{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	config := string(f.Contents[f.ContainerdConfig])
	for _, w := range []string{`sandbox_image = "mcr.microsoft.com/oss/v2/kubernetes/pause:3.10.2"`, "SystemdCgroup = true", `config_path = "/etc/containerd/certs.d"`} {
		if !strings.Contains(config, w) {
			t.Errorf("containerd's configuration lacks %s:\n%s", w, config)
		}
	}
	if f.SandboxImage != "mcr.microsoft.com/oss/v2/kubernetes/pause:3.10.2" {
		t.Errorf("sandbox image %q", f.SandboxImage)
	}
	kubenet, err := aksnode.Render(nodeConfig(t, func(c *bootstrap.Config) { c.Cluster.NetworkPlugin = "kubenet" }), node, aksnode.Options{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(kubenet.Contents[kubenet.ContainerdConfig]), `conf_template = "/etc/containerd/kubenet_template.conf"`) {
		t.Error("a kubenet node's containerd has no kubenet CNI template")
	}
}

// A value the image needs that the custom data lacks is an error naming it.
func TestMissingValuesFail(t *testing.T) {
	for name, edit := range map[string]func(*aksnodeconfig.Configuration){
		"kube_binary_config.pod_infra_container_image_url": func(c *aksnodeconfig.Configuration) { c.KubeBinaryConfig = nil },
		"api_server_config.api_server_name":                func(c *aksnodeconfig.Configuration) { c.APIServerConfig.APIServerName = "" },
		"bootstrapping_config.tls_bootstrapping_token":     func(c *aksnodeconfig.Configuration) { c.BootstrappingConfig.TLSBootstrappingToken = nil },
		"kubelet_config.kubelet_flags":                     func(c *aksnodeconfig.Configuration) { c.KubeletConfig.KubeletFlags = nil },
		"gpu_config.enable_nvidia": func(c *aksnodeconfig.Configuration) {
			c.GPUConfig = &aksnodeconfig.GPUConfig{EnableNvidia: lo.ToPtr(true)}
		},
	} {
		cfg := nodeConfig(t, nil)
		edit(cfg)
		if _, err := aksnode.Render(cfg, node, aksnode.Options{Root: t.TempDir()}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

// The machine's adaptations are the ones Differences lists, applied in
// place: the contract's flags keep their values otherwise.
func TestMachineAdaptations(t *testing.T) {
	dir := t.TempDir()
	m := &aksnode.Machine{ContainerdSocket: filepath.Join(dir, "containerd.sock"), ContainerdRoot: filepath.Join(dir, "root"), ContainerdState: filepath.Join(dir, "state"), ContainerdOpt: filepath.Join(dir, "opt"),
		CNIBinDir: "/usr/lib/cni", CNIConfDir: filepath.Join(dir, "net.d"), Address: "127.0.0.1", Port: 31250, HealthzPort: 31248,
		RootDir: filepath.Join(dir, "kubelet"), CertDir: filepath.Join(dir, "kubelet", "pki"), ResolvConf: "/etc/resolv.conf"}
	asImage, err := aksnode.Render(nodeConfig(t, nil), node, aksnode.Options{Root: filepath.Join(dir, "node")})
	if err != nil {
		t.Fatal(err)
	}
	onMachine, err := aksnode.Render(nodeConfig(t, nil), node, aksnode.Options{Root: filepath.Join(dir, "node"), Machine: m})
	if err != nil {
		t.Fatal(err)
	}
	adapted := map[string]bool{"--container-runtime-endpoint": true, "--cgroup-driver": true, "--fail-cgroupv1": true, "--fail-swap-on": true,
		"--protect-kernel-defaults": true, "--runtime-cgroups": true, "--image-credential-provider-bin-dir": true, "--image-credential-provider-config": true,
		"--resolv-conf": true, "--address": true, "--healthz-bind-address": true, "--port": true, "--healthz-port": true, "--root-dir": true, "--cert-dir": true}
	flags := func(args []string) map[string]string {
		out := map[string]string{}
		for _, a := range args {
			k, v, _ := strings.Cut(a, "=")
			out[k] = v
		}
		return out
	}
	image, machine := flags(asImage.KubeletArgs), flags(onMachine.KubeletArgs)
	for k, v := range image {
		if !adapted[k] && machine[k] != v {
			t.Errorf("%s is %q on the machine, %q as the image runs it, and is not a listed adaptation", k, machine[k], v)
		}
	}
	for k := range machine {
		if _, ok := image[k]; !ok && !adapted[k] {
			t.Errorf("the machine adds %s, which is not a listed adaptation", k)
		}
	}
	config := string(onMachine.Contents[onMachine.ContainerdConfig])
	for _, w := range []string{"restrict_oom_score_adj = true", "SystemdCgroup = false", `sandbox_image = "mcr.microsoft.com/oss/v2/kubernetes/pause:3.10.2"`, m.ContainerdSocket} {
		if !strings.Contains(config, w) {
			t.Errorf("the machine's containerd configuration lacks %s", w)
		}
	}
	// Every line is one TOML table header or one key: a literal "\n" in a
	// line is a key containing a backslash, which containerd refuses.
	for i, l := range strings.Split(config, "\n") {
		if strings.Contains(l, `\n`) {
			t.Errorf("containerd configuration line %d holds a literal \\n: %s", i+1, l)
		}
	}
	if len(aksnode.Differences) < 5 {
		t.Error("Differences lists too little")
	}
}

// The kubelet accepts the command line the image would run it with: the
// pinned kubelet's own validation (bin/kubelet-flagcheck, beside
// bin/kubelet).
func TestTheKubeletAcceptsTheImageCommandLine(t *testing.T) {
	f, err := aksnode.Render(nodeConfig(t, nil), node, aksnode.Options{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	root, err := testutil.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal([]map[string]any{{"name": "node", "args": f.KubeletArgs}})
	cmd := exec.Command(filepath.Join(root, "bin", "kubelet-flagcheck"))
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bin/kubelet-flagcheck (make tools builds it): %v", err)
	}
	var results []struct{ Name, Error string }
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].Error != "" {
		t.Errorf("the kubelet refuses the image's command line: %+v\n%s", results, strings.Join(f.KubeletArgs, " "))
	}
}
