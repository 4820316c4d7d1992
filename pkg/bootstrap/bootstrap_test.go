package bootstrap_test

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"

	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

func config(os bootstrap.OS) *bootstrap.Config {
	c := &bootstrap.Config{
		OS: os,
		Cluster: bootstrap.Cluster{
			APIServerName: "dev-dns-1a2b3c4d.hcp.eastus.azmk8s.io", CACertificate: testutil.TestCA(), BootstrapToken: "abcdef.0123456789abcdef",
			KubeletIdentityClientID: "11111111-2222-3333-4444-555555555555", TenantID: "t", SubscriptionID: "s", Location: "eastus",
			ResourceGroup: "mc_dev", VNetName: "vnet", VNetResourceGroup: "net", SubnetName: "nodes", NetworkPlugin: "azure", NetworkPolicy: "calico",
			DNSServiceIP: "10.0.0.10", SecurityGroupName: "aks-agentpool-12345678-nsg", RouteTableName: "aks-agentpool-12345678-routetable",
		},
		PauseImage:        "mcr.microsoft.com/oss/v2/kubernetes/pause:3.10.2",
		VNetCNIPluginsURL: "https://packages.aks.azure.com/azure-cni/v1.6.21/binaries/azure-vnet-cni-linux-amd64-v1.6.21.tgz",
		KubernetesVersion: "1.35.4",
		VMSize:            "Standard_D8s_v5",
		Labels:            map[string]string{"karpenter.sh/nodepool": "default", "kubernetes.azure.com/mode": "user", "team": "o'brien"},
		Taints: []corev1.Taint{
			{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule},
			{Key: "karpenter.sh/unregistered", Effect: corev1.TaintEffectNoExecute},
		},
		Kubelet: bootstrap.Kubelet{
			MaxPods: 110, KubeReserved: map[string]string{"cpu": "180m", "memory": "3Gi"}, SystemReserved: map[string]string{"cpu": "100m"},
			EvictionHard: map[string]string{"memory.available": "750Mi", "nodefs.available": "10%"}, ClusterDNS: "10.0.0.10",
			CPUManagerPolicy: "static", CPUCFSQuota: lo.ToPtr(false), CPUCFSQuotaPeriod: "50ms", ImageGCHighThresholdPercent: lo.ToPtr[int32](85),
			ImageGCLowThresholdPercent: lo.ToPtr[int32](80), TopologyManagerPolicy: "best-effort", AllowedUnsafeSysctls: []string{"net.core.somaxconn", "kernel.msg*"},
			ContainerLogMaxSize: "50Mi", ContainerLogMaxFiles: lo.ToPtr[int32](5), PodPidsLimit: lo.ToPtr[int64](4096),
		},
		GPUDriver: true,
	}
	if os == bootstrap.Windows {
		// Windows nodes' Azure CNI and kube-proxy take the cluster's ranges.
		c.Cluster.ServiceCIDR, c.Cluster.PodCIDR, c.Cluster.VNetCIDR = "10.0.0.0/16", "10.244.0.0/16", "10.224.0.0/12"
		c.VNetCNIPluginsURL = "https://packages.aks.azure.com/azure-cni/v1.6.21/binaries/azure-vnet-cni-windows-amd64-v1.6.21.zip"
	}
	return c
}

// What the provider renders, the node reads back unchanged, on both OSes.
func TestRoundTrip(t *testing.T) {
	for _, os := range []bootstrap.OS{bootstrap.Linux, bootstrap.Windows} {
		t.Run(string(os), func(t *testing.T) {
			in := config(os)
			in.Kubelet.FailSwapOn = lo.ToPtr(false)
			if os == bootstrap.Linux {
				in.CNIPluginsURL = "https://packages.aks.azure.com/cni-plugins/v1.6.2/binaries/cni-plugins-linux-amd64-v1.6.2.tgz"
				in.Cluster.HTTPProxy = &bootstrap.HTTPProxy{HTTPProxy: "http://proxy:3128", HTTPSProxy: "http://proxy:3129", NoProxy: []string{"10.0.0.0/8"}, TrustedCA: testutil.TestCA()}
				in.Cluster.CustomCACerts = [][]byte{testutil.TestCA()}
				in.ArtifactStreaming, in.WorkloadRuntime = true, "KataVmIsolation"
				in.LinuxOS = &bootstrap.LinuxOS{
					Sysctls:        map[string]string{"net.core.somaxconn": "8192", "net.ipv4.tcp_tw_reuse": "true", "net.ipv4.ip_local_port_range": "32768 60999", "net.ipv4.tcp_keepalive_intvl": "30"},
					SwapFileSizeMB: 1500, TransparentHugePageEnabled: "madvise", TransparentHugePageDefrag: "defer+madvise",
				}
				zone := bootstrap.LocalDNSOverride{QueryLogging: "Error", Protocol: "PreferUDP", ForwardDestination: "VnetDNS", ForwardPolicy: "Sequential",
					MaxConcurrent: lo.ToPtr[int32](100), CacheDuration: time.Hour, ServeStaleDuration: 30 * time.Minute, ServeStale: "Verify"}
				core := zone
				core.ForwardDestination = "ClusterCoreDNS"
				in.LocalDNS = &bootstrap.LocalDNS{
					VNetDNSOverrides: map[string]bootstrap.LocalDNSOverride{".": zone, "cluster.local": core},
					KubeDNSOverrides: map[string]bootstrap.LocalDNSOverride{".": core, "cluster.local": core},
				}
			}
			a, err := bootstrap.Render(in)
			if err != nil {
				t.Fatal(err)
			}
			out, err := bootstrap.Decode(os, a.CustomData)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(in, out) {
				t.Errorf("round trip differs:\n in  %+v\n out %+v", in, out)
			}
			if a.Extension.CommandToExecute == "" || a.Extension.Name == "" {
				t.Errorf("extension %+v", a.Extension)
			}
			if strings.Contains(a.Extension.CommandToExecute, "0123456789abcdef") {
				t.Error("the extension's command line carries the bootstrap token")
			}
		})
	}
}

func TestRenderRefusesWhatCannotJoin(t *testing.T) {
	for name, edit := range map[string]func(*bootstrap.Config){
		"API server with a port": func(c *bootstrap.Config) { c.Cluster.APIServerName = "api.example.com:6443" },
		"API server with scheme": func(c *bootstrap.Config) { c.Cluster.APIServerName = "https://api.example.com" },
		"no CA":                  func(c *bootstrap.Config) { c.Cluster.CACertificate = nil },
		"token form":             func(c *bootstrap.Config) { c.Cluster.BootstrapToken = "ABCDEF.0123456789abcdef" },
		"version with v":         func(c *bootstrap.Config) { c.KubernetesVersion = "v1.35.4" },
		"max pods":               func(c *bootstrap.Config) { c.Kubelet.MaxPods = 5 },
		"taint effect":           func(c *bootstrap.Config) { c.Taints[0].Effect = "Sometimes" },
		"runtime":                func(c *bootstrap.Config) { c.WorkloadRuntime = "gVisor" },
		"Linux settings on Windows": func(c *bootstrap.Config) {
			c.OS = bootstrap.Windows
			c.LinuxOS = &bootstrap.LinuxOS{SwapFileSizeMB: 100}
		},
		"a sysctl AKS does not allow": func(c *bootstrap.Config) {
			c.LinuxOS = &bootstrap.LinuxOS{Sysctls: map[string]string{"kernel.pid_max": "1"}}
		},
	} {
		c := config(bootstrap.Linux)
		edit(c)
		if _, err := bootstrap.Render(c); err == nil {
			t.Errorf("%s: rendered", name)
		}
	}
}

func TestDecodeRefusesWhatANodeCouldNotUse(t *testing.T) {
	good, err := bootstrap.Render(config(bootstrap.Linux))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(good.CustomData)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for name, data := range map[string]string{
		"not base64":       "#!/bin/bash",
		"a plain script":   b64("#!/bin/bash\necho hi\n"),
		"no boothook part": b64(strings.Replace(string(raw), "text/cloud-boothook", "text/x-shellscript", 1)),
		"wrong version":    rewriteConfig(t, good.CustomData, `"version": "v1"`, `"version": "v2"`),
		"unknown plugin":   rewriteConfig(t, good.CustomData, `"NETWORK_PLUGIN_AZURE"`, `"NETWORK_PLUGIN_WEAVE"`),
		"bad max pods":     rewriteConfig(t, good.CustomData, `"--max-pods": "110"`, `"--max-pods": "lots"`),
		"bad reservation":  rewriteConfig(t, good.CustomData, `"cpu=180m`, `"cpu=plenty`),
		"no token":         rewriteConfig(t, good.CustomData, `"tls_bootstrapping_token": "abcdef.0123456789abcdef"`, `"tls_bootstrapping_token": "nope"`),
	} {
		if _, err := bootstrap.Decode(bootstrap.Linux, data); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	if _, err := bootstrap.Decode(bootstrap.Windows, good.CustomData); err == nil {
		t.Error("a Linux artifact decoded as Windows")
	}
}

// rewriteConfig edits the AKSNodeConfig inside Linux custom data.
func rewriteConfig(t *testing.T, customData, old, replacement string) string {
	t.Helper()
	raw, _ := base64.StdEncoding.DecodeString(customData)
	text := string(raw)
	i := strings.Index(text, "echo '")
	j := strings.Index(text[i+6:], "'")
	doc, err := base64.StdEncoding.DecodeString(text[i+6 : i+6+j])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), old) {
		t.Fatalf("AKSNodeConfig has no %s", old)
	}
	edited := base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(doc), old, replacement, 1)))
	return base64.StdEncoding.EncodeToString([]byte(text[:i+6] + edited + text[i+6+j:]))
}

func TestKubeletCommandLine(t *testing.T) {
	args := bootstrap.KubeletCommandLine(config(bootstrap.Linux))
	joined := strings.Join(args, " ")
	for _, want := range []string{
		"--max-pods=110", "--register-with-taints=dedicated=db:NoSchedule,karpenter.sh/unregistered:NoExecute",
		"--kube-reserved=cpu=180m,memory=3Gi", "--eviction-hard=memory.available<750Mi,nodefs.available<10%",
		"--cluster-dns=10.0.0.10", "--cloud-provider=external",
		"--node-labels=karpenter.sh/nodepool=default,kubernetes.azure.com/mode=user,team=o'brien",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("kubelet command line lacks %s: %s", want, joined)
		}
	}
}

func TestCustomDataLimit(t *testing.T) {
	c := config(bootstrap.Linux)
	for i := range 3000 {
		c.Labels[fmt.Sprintf("example.com/label-%04d", i)] = strings.Repeat("v", 40)
	}
	if _, err := bootstrap.Render(c); err == nil || !strings.Contains(err.Error(), "87380") {
		t.Errorf("oversized custom data: %v", err)
	}
}
