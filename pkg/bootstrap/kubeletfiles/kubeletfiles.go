// Package kubeletfiles turns a node's bootstrap configuration (what
// bootstrap.Decode reads from a VM's custom data) into the files and command
// line a real kubelet runs with, the way an AKS node image provisions it:
//
//   - the KubeletConfiguration file aks-node-controller writes in its
//     config-file mode (/etc/default/kubeletconfig.json), translated from the
//     kubelet flags the contract carries (bootstrap.KubeletFlags);
//   - the cluster CA (/etc/kubernetes/certs/ca.crt) and the bootstrap
//     kubeconfig (/var/lib/kubelet/bootstrap-kubeconfig: the API server
//     https://<api server name>:443, that CA and the bootstrap token);
//   - the flags the image passes itself: --node-labels, --register-with-taints,
//     --bootstrap-kubeconfig, --kubeconfig, --cloud-provider, and the node's
//     identity from the cloud (--hostname-override, --provider-id).
//
// A machine that is not an AKS node image needs a few settings changed to
// run this kubelet at all (cgroup v1, no systemd, its own container runtime
// socket, loopback ports). Those are Machine's, applied after the
// translation and listed in one place (adaptToMachine), so that what comes
// from the contract stays distinguishable from what the test machine needs.
// test/e2e/realkubelet runs a kubelet v1.35 from these files.
package kubeletfiles

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
)

// The node image's paths, relative to the node's root (Options.Root).
const (
	ConfigPath              = "etc/default/kubeletconfig.json"
	CACertPath              = "etc/kubernetes/certs/ca.crt"
	BootstrapKubeconfigPath = "var/lib/kubelet/bootstrap-kubeconfig"
	KubeconfigPath          = "var/lib/kubelet/kubeconfig"
	StaticPodPath           = "etc/kubernetes/manifests"
)

// Node is what the cloud tells the node about itself, which the custom data
// does not carry: on Azure the image reads its host name from the VM's
// computer name and cloud-node-manager sets the providerID from the VM.
type Node struct {
	// Name is the Node name (--hostname-override).
	Name string
	// ProviderID is azure://<VM ID> (--provider-id).
	ProviderID string
}

// Options say where the node's files go and how the machine differs from
// an AKS node.
type Options struct {
	// Root is the node's root: every image path is written under it.
	Root string
	// APIServerAddress, when set, is where the node's connections to
	// https://<api server name>:443 really go (host:port), as the simulated
	// network routes them: the bootstrap kubeconfig then points there and
	// verifies the server's certificate for the custom data's name.
	APIServerAddress string
	// Machine are the test machine's adaptations; nil runs the kubelet as the
	// node image does.
	Machine *Machine
}

// Machine is what a machine that is not an AKS node image changes.
type Machine struct {
	// ContainerRuntimeEndpoint is the CRI socket (unix:///...).
	ContainerRuntimeEndpoint string
	// Address is where the kubelet serves (and its healthz); Port and
	// HealthzPort its ports, away from the defaults another kubelet may use.
	Address           string
	Port, HealthzPort int32
	// RootDir and CertDir are the kubelet's state (--root-dir, --cert-dir):
	// /var/lib/kubelet and /var/lib/kubelet/pki on a node.
	RootDir, CertDir string
	// ResolvConf is the machine's resolver configuration.
	ResolvConf string
}

// Files are a kubelet's files and command line.
type Files struct {
	// Contents are the files by absolute path.
	Contents map[string][]byte
	// Config is the KubeletConfiguration the file holds.
	Config *kubeletv1beta1.KubeletConfiguration
	// Args are the kubelet's arguments.
	Args []string
	// Dirs are directories the kubelet expects to exist (static pods).
	Dirs []string
	// Kubeconfig is where the kubelet writes its kubeconfig once its
	// certificate is issued.
	Kubeconfig string
}

// flagsKeptAsFlags are the contract's kubelet flags the image passes as
// flags in config-file mode too: the cloud provider has no configuration
// field, and the taints are passed as a flag like the labels.
var flagsKeptAsFlags = map[string]bool{"--cloud-provider": true, "--register-with-taints": true}

// Render translates a node's bootstrap configuration into its kubelet's
// files and arguments.
func Render(c *bootstrap.Config, node Node, opts Options) (*Files, error) {
	if c.OS != bootstrap.Linux {
		return nil, fmt.Errorf("a %s node's kubelet is not run from these files", c.OS)
	}
	if node.Name == "" {
		return nil, errors.New("the node has no name")
	}
	if opts.Root == "" {
		return nil, errors.New("no root for the node's files")
	}
	at := func(p string) string { return filepath.Join(opts.Root, p) }
	kc := &kubeletv1beta1.KubeletConfiguration{
		TypeMeta: metav1.TypeMeta{APIVersion: kubeletv1beta1.SchemeGroupVersion.String(), Kind: "KubeletConfiguration"},
	}
	flags := bootstrap.KubeletFlags(c)
	var args []string
	for _, name := range sortedKeys(flags) {
		value := flags[name]
		if flagsKeptAsFlags[name] {
			args = append(args, name+"="+value)
			continue
		}
		set, ok := configFields[name]
		if !ok {
			return nil, fmt.Errorf("kubelet flag %s has no translation into the KubeletConfiguration", name)
		}
		if err := set(kc, value, c); err != nil {
			return nil, fmt.Errorf("kubelet flag %s=%q: %w", name, value, err)
		}
	}
	// Paths the image writes its files to, under this node's root.
	files := map[string][]byte{at(CACertPath): c.Cluster.CACertificate}
	if kc.Authentication.X509.ClientCAFile != "" {
		kc.Authentication.X509.ClientCAFile = at(kc.Authentication.X509.ClientCAFile)
		files[kc.Authentication.X509.ClientCAFile] = c.Cluster.CACertificate
	}
	var dirs []string
	if kc.StaticPodPath != "" {
		kc.StaticPodPath = at(kc.StaticPodPath)
		dirs = append(dirs, kc.StaticPodPath)
	}
	// The image generates a self-signed serving certificate at these paths
	// during provisioning; without them the kubelet makes one itself, in its
	// certificate directory, the same way.
	kc.TLSCertFile, kc.TLSPrivateKeyFile = "", ""
	if opts.Machine != nil {
		adaptToMachine(kc, opts.Machine)
	}

	bootstrapKubeconfig, err := bootstrapKubeconfig(c, at(CACertPath), opts.APIServerAddress)
	if err != nil {
		return nil, err
	}
	files[at(BootstrapKubeconfigPath)] = bootstrapKubeconfig
	config, err := yaml.Marshal(kc)
	if err != nil {
		return nil, err
	}
	files[at(ConfigPath)] = config

	args = append(args,
		"--config="+at(ConfigPath),
		"--bootstrap-kubeconfig="+at(BootstrapKubeconfigPath),
		"--kubeconfig="+at(KubeconfigPath),
		"--hostname-override="+node.Name,
	)
	if node.ProviderID != "" {
		args = append(args, "--provider-id="+node.ProviderID)
	}
	if len(c.Labels) > 0 {
		labels := make([]string, 0, len(c.Labels))
		for _, k := range sortedKeys(c.Labels) {
			labels = append(labels, k+"="+c.Labels[k])
		}
		args = append(args, "--node-labels="+strings.Join(labels, ","))
	}
	if m := opts.Machine; m != nil {
		if m.RootDir != "" {
			args = append(args, "--root-dir="+m.RootDir)
		}
		if m.CertDir != "" {
			args = append(args, "--cert-dir="+m.CertDir)
		}
	}
	return &Files{Contents: files, Config: kc, Args: args, Dirs: dirs, Kubeconfig: at(KubeconfigPath)}, nil
}

// adaptToMachine changes what a test machine needs changed to run the
// kubelet at all. None of it comes from the contract; each is why this
// machine is not an AKS node image.
func adaptToMachine(kc *kubeletv1beta1.KubeletConfiguration, m *Machine) {
	// AKS images boot with cgroup v2 (the contract asks for it); the test
	// machine may have only cgroup v1, which a 1.35 kubelet refuses by
	// default.
	kc.FailCgroupV1 = ptr.To(false)
	// AKS images run the kubelet and containerd under systemd; a test
	// machine without systemd has containerd use cgroupfs, and the kubelet
	// must agree.
	kc.CgroupDriver = "cgroupfs"
	// The test's own containerd, not the image's /run/containerd socket.
	kc.ContainerRuntimeEndpoint = m.ContainerRuntimeEndpoint
	// Swap may be on on a test machine; AKS nodes have none unless asked.
	kc.FailSwapOn = ptr.To(false)
	// AKS images set the kernel parameters the kubelet checks
	// (vm.overcommit_memory, kernel.panic...); a test machine keeps its own.
	kc.ProtectKernelDefaults = false
	// The image points the kubelet at systemd-resolved's upstream file.
	if m.ResolvConf != "" {
		kc.ResolverConfig = ptr.To(m.ResolvConf)
	}
	// Serve on the machine's loopback, on ports of the test's choosing: the
	// machine may run other kubelets or use the default ports.
	if m.Address != "" {
		kc.Address = m.Address
		kc.HealthzBindAddress = m.Address
	}
	if m.Port != 0 {
		kc.Port = m.Port
	}
	if m.HealthzPort != 0 {
		kc.HealthzPort = ptr.To(m.HealthzPort)
	}
}

// bootstrapKubeconfig is the kubeconfig the image writes for TLS
// bootstrapping: https://<api server name>:443, the cluster CA, the token.
func bootstrapKubeconfig(c *bootstrap.Config, caPath, route string) ([]byte, error) {
	server := "https://" + net.JoinHostPort(c.Cluster.APIServerName, strconv.Itoa(bootstrap.APIServerPort))
	cluster := &clientcmdapi.Cluster{Server: server, CertificateAuthority: caPath}
	if route != "" {
		// The name does not resolve on this machine; connect where the
		// simulated network routes it, still verifying the server's
		// certificate for the name from the custom data.
		cluster.Server = "https://" + route
		cluster.TLSServerName = c.Cluster.APIServerName
	}
	cfg := clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"localcluster": cluster},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"kubelet-bootstrap": {Token: c.Cluster.BootstrapToken}},
		Contexts:       map[string]*clientcmdapi.Context{"bootstrap-context": {Cluster: "localcluster", AuthInfo: "kubelet-bootstrap"}},
		CurrentContext: "bootstrap-context",
	}
	return clientcmd.Write(cfg)
}

// Write writes the files (the token-bearing ones 0600, as the image does).
func (f *Files) Write() error {
	for _, d := range f.Dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for path, data := range f.Contents {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// configField sets a KubeletConfiguration field from a contract flag. The
// per-node settings come from the decoded Config (typed), the image's base
// flags from their values.
type configField func(kc *kubeletv1beta1.KubeletConfiguration, value string, c *bootstrap.Config) error

// configFields translates each kubelet flag of the contract into its
// KubeletConfiguration field (the kubelet's own flag-to-field mapping).
var configFields = map[string]configField{
	"--address":                      stringField(func(kc *kubeletv1beta1.KubeletConfiguration, s string) { kc.Address = s }),
	"--cgroups-per-qos":              boolField(func(kc *kubeletv1beta1.KubeletConfiguration, b bool) { kc.CgroupsPerQOS = &b }),
	"--event-qps":                    int32Field(func(kc *kubeletv1beta1.KubeletConfiguration, n int32) { kc.EventRecordQPS = &n }),
	"--node-status-update-frequency": durationField(func(kc *kubeletv1beta1.KubeletConfiguration, d metav1.Duration) { kc.NodeStatusUpdateFrequency = d }),
	"--rotate-server-certificates": boolField(func(kc *kubeletv1beta1.KubeletConfiguration, b bool) { kc.ServerTLSBootstrap = b }),
	"--tls-cipher-suites":          stringField(func(kc *kubeletv1beta1.KubeletConfiguration, s string) { kc.TLSCipherSuites = splitList(s) }),
	"--feature-gates": func(kc *kubeletv1beta1.KubeletConfiguration, v string, _ *bootstrap.Config) error {
		kc.FeatureGates = map[string]bool{}
		for _, g := range splitList(v) {
			name, value, _ := strings.Cut(g, "=")
			b, err := strconv.ParseBool(value)
			if err != nil {
				return err
			}
			kc.FeatureGates[name] = b
		}
		return nil
	},
	"--anonymous-auth": boolField(func(kc *kubeletv1beta1.KubeletConfiguration, b bool) { kc.Authentication.Anonymous.Enabled = &b }),
	"--authentication-token-webhook": boolField(func(kc *kubeletv1beta1.KubeletConfiguration, b bool) {
		kc.Authentication.Webhook.Enabled = &b
	}),
	"--authorization-mode": stringField(func(kc *kubeletv1beta1.KubeletConfiguration, s string) {
		kc.Authorization.Mode = kubeletv1beta1.KubeletAuthorizationMode(s)
	}),
	"--client-ca-file": stringField(func(kc *kubeletv1beta1.KubeletConfiguration, s string) {
		kc.Authentication.X509.ClientCAFile = imagePath(s)
	}),
	"--cluster-domain":           stringField(func(kc *kubeletv1beta1.KubeletConfiguration, s string) { kc.ClusterDomain = s }),
	"--enforce-node-allocatable": stringField(func(kc *kubeletv1beta1.KubeletConfiguration, s string) { kc.EnforceNodeAllocatable = splitList(s) }),
	// The image's ACR credential provider. A machine without it would fail
	// to start the kubelet with it configured, and no image is pulled here.
	"--image-credential-provider-bin-dir": ignored,
	"--image-credential-provider-config":  ignored,
	"--pod-manifest-path":                 stringField(func(kc *kubeletv1beta1.KubeletConfiguration, s string) { kc.StaticPodPath = imagePath(s) }),
	"--protect-kernel-defaults":           boolField(func(kc *kubeletv1beta1.KubeletConfiguration, b bool) { kc.ProtectKernelDefaults = b }),
	"--read-only-port": func(kc *kubeletv1beta1.KubeletConfiguration, v string, _ *bootstrap.Config) error {
		n, err := strconv.ParseInt(v, 10, 32)
		kc.ReadOnlyPort = int32(n)
		return err
	},
	"--resolv-conf":          stringField(func(kc *kubeletv1beta1.KubeletConfiguration, s string) { kc.ResolverConfig = &s }),
	"--rotate-certificates":  boolField(func(kc *kubeletv1beta1.KubeletConfiguration, b bool) { kc.RotateCertificates = b }),
	"--tls-cert-file":        stringField(func(kc *kubeletv1beta1.KubeletConfiguration, s string) { kc.TLSCertFile = s }),
	"--tls-private-key-file": stringField(func(kc *kubeletv1beta1.KubeletConfiguration, s string) { kc.TLSPrivateKeyFile = s }),

	"--max-pods": func(kc *kubeletv1beta1.KubeletConfiguration, _ string, c *bootstrap.Config) error {
		kc.MaxPods = c.Kubelet.MaxPods
		return nil
	},
	"--kube-reserved": func(kc *kubeletv1beta1.KubeletConfiguration, _ string, c *bootstrap.Config) error {
		kc.KubeReserved = c.Kubelet.KubeReserved
		return nil
	},
	"--system-reserved": func(kc *kubeletv1beta1.KubeletConfiguration, _ string, c *bootstrap.Config) error {
		kc.SystemReserved = c.Kubelet.SystemReserved
		return nil
	},
	"--eviction-hard": func(kc *kubeletv1beta1.KubeletConfiguration, _ string, c *bootstrap.Config) error {
		kc.EvictionHard = c.Kubelet.EvictionHard
		return nil
	},
	"--cluster-dns":        stringField(func(kc *kubeletv1beta1.KubeletConfiguration, s string) { kc.ClusterDNS = splitList(s) }),
	"--cpu-manager-policy": stringField(func(kc *kubeletv1beta1.KubeletConfiguration, s string) { kc.CPUManagerPolicy = s }),
	"--cpu-cfs-quota": func(kc *kubeletv1beta1.KubeletConfiguration, _ string, c *bootstrap.Config) error {
		kc.CPUCFSQuota = c.Kubelet.CPUCFSQuota
		return nil
	},
	"--cpu-cfs-quota-period": func(kc *kubeletv1beta1.KubeletConfiguration, v string, _ *bootstrap.Config) error {
		d, err := time.ParseDuration(v)
		kc.CPUCFSQuotaPeriod = &metav1.Duration{Duration: d}
		return err
	},
	"--image-gc-high-threshold": func(kc *kubeletv1beta1.KubeletConfiguration, _ string, c *bootstrap.Config) error {
		kc.ImageGCHighThresholdPercent = c.Kubelet.ImageGCHighThresholdPercent
		return nil
	},
	"--image-gc-low-threshold": func(kc *kubeletv1beta1.KubeletConfiguration, _ string, c *bootstrap.Config) error {
		kc.ImageGCLowThresholdPercent = c.Kubelet.ImageGCLowThresholdPercent
		return nil
	},
	"--topology-manager-policy": stringField(func(kc *kubeletv1beta1.KubeletConfiguration, s string) { kc.TopologyManagerPolicy = s }),
	"--allowed-unsafe-sysctls": func(kc *kubeletv1beta1.KubeletConfiguration, _ string, c *bootstrap.Config) error {
		kc.AllowedUnsafeSysctls = c.Kubelet.AllowedUnsafeSysctls
		return nil
	},
	"--container-log-max-size": stringField(func(kc *kubeletv1beta1.KubeletConfiguration, s string) { kc.ContainerLogMaxSize = s }),
	"--container-log-max-files": func(kc *kubeletv1beta1.KubeletConfiguration, _ string, c *bootstrap.Config) error {
		kc.ContainerLogMaxFiles = c.Kubelet.ContainerLogMaxFiles
		return nil
	},
	"--pod-max-pids": func(kc *kubeletv1beta1.KubeletConfiguration, _ string, c *bootstrap.Config) error {
		kc.PodPidsLimit = c.Kubelet.PodPidsLimit
		return nil
	},
	"--fail-swap-on": func(kc *kubeletv1beta1.KubeletConfiguration, _ string, c *bootstrap.Config) error {
		kc.FailSwapOn = c.Kubelet.FailSwapOn
		return nil
	},
}

func int32Field(set func(*kubeletv1beta1.KubeletConfiguration, int32)) configField {
	return func(kc *kubeletv1beta1.KubeletConfiguration, v string, _ *bootstrap.Config) error {
		n, err := strconv.ParseInt(v, 10, 32)
		set(kc, int32(n))
		return err
	}
}

func durationField(set func(*kubeletv1beta1.KubeletConfiguration, metav1.Duration)) configField {
	return func(kc *kubeletv1beta1.KubeletConfiguration, v string, _ *bootstrap.Config) error {
		d, err := time.ParseDuration(v)
		set(kc, metav1.Duration{Duration: d})
		return err
	}
}

func ignored(*kubeletv1beta1.KubeletConfiguration, string, *bootstrap.Config) error { return nil }

func stringField(set func(*kubeletv1beta1.KubeletConfiguration, string)) configField {
	return func(kc *kubeletv1beta1.KubeletConfiguration, v string, _ *bootstrap.Config) error {
		set(kc, v)
		return nil
	}
}

func boolField(set func(*kubeletv1beta1.KubeletConfiguration, bool)) configField {
	return func(kc *kubeletv1beta1.KubeletConfiguration, v string, _ *bootstrap.Config) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return err
		}
		set(kc, b)
		return nil
	}
}

// imagePath makes an absolute image path relative to the node's root.
func imagePath(p string) string { return strings.TrimPrefix(p, "/") }

func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
