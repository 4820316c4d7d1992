// Package aksnode does with a VM's custom data what an AKS Linux node image
// does, for a real kubelet to run from it (test/e2e/realkubelet): from the
// AKSNodeConfig the custom data carries, it builds
//
//   - the kubelet's command line as kubelet.service assembles it: the unit's
//     own flags, the TLS-bootstrap and containerd drop-ins, and
//     KUBELET_FLAGS from kubelet_config.kubelet_flags as configureKubeletServing
//     leaves them (Azure/AgentBaker parts/linux/cloud-init/artifacts/kubelet.service,
//     cse_config.sh ensureKubelet, cse_main.sh);
//   - containerd's configuration, rendered from the document's values the
//     way aks-node-controller renders its template for containerd 1.x
//     (aks-node-controller/parser/templates/containerd.toml.gtpl): the
//     sandbox image is kube_binary_config.pod_infra_container_image_url;
//   - the files the image writes: the cluster CA and the bootstrap
//     kubeconfig.
//
// Nothing has a default: a value the image needs that the document lacks
// is an error, as it is a node that never becomes Ready on Azure.
//
// A test machine is not an AKS node image. What it must change to run the
// kubelet and containerd at all is Machine's, applied in one place
// (adaptToMachine, and the containerd settings marked machine:), and listed
// for people in Differences.
package aksnode

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/aksnodeconfig"
)

// The node image's paths, relative to the node's root (Options.Root).
const (
	CACertPath              = "etc/kubernetes/certs/ca.crt"
	BootstrapKubeconfigPath = "var/lib/kubelet/bootstrap-kubeconfig"
	KubeconfigPath          = "var/lib/kubelet/kubeconfig"
	StaticPodPath           = "etc/kubernetes/manifests"
	VolumePluginDir         = "etc/kubernetes/volumeplugins"
	ContainerdConfigPath    = "etc/containerd/config.toml"
	// containerdSocket is where the image's containerd serves CRI.
	containerdSocket = "unix:///run/containerd/containerd.sock"
)

// Node is what the cloud tells the node about itself, which custom data does
// not carry: the image reads its host name from the VM's computer name.
type Node struct {
	// Name is the Node name (the host name; --hostname-override here).
	Name string
}

// Options say where the node's files go and how the machine differs from an
// AKS node.
type Options struct {
	// Root is the node's root: every image path is written under it.
	Root string
	// APIServerAddress, when set, is where the node's connections to
	// https://<api server name>:443 really go (host:port), as the simulated
	// network routes them: the bootstrap kubeconfig then points there and
	// still verifies the server's certificate for the name from the
	// custom data.
	APIServerAddress string
	// Machine are the test machine's adaptations; nil renders the node as
	// the image does.
	Machine *Machine
}

// Machine is what a machine that is not an AKS node image changes.
type Machine struct {
	// ContainerdSocket, ContainerdRoot, ContainerdState and ContainerdOpt
	// are the test's own containerd (a node has /run/containerd,
	// /var/lib/containerd and /opt/containerd).
	ContainerdSocket, ContainerdRoot, ContainerdState, ContainerdOpt string
	// CNIBinDir and CNIConfDir are where the machine's CNI plugins and
	// network configuration are.
	CNIBinDir, CNIConfDir string
	// Address is where the kubelet serves (and its healthz); Port and
	// HealthzPort its ports, away from the defaults another kubelet may use.
	Address           string
	Port, HealthzPort int32
	// RootDir and CertDir are the kubelet's state (/var/lib/kubelet and
	// /var/lib/kubelet/pki on a node).
	RootDir, CertDir string
	// ResolvConf is the machine's resolver configuration.
	ResolvConf string
}

// Differences lists what the test machine runs differently from an AKS
// node, for the spec's report and docs/e2e.md: every item is one of
// adaptToMachine's or containerdConfig's machine settings.
var Differences = []string{
	"cgroup v1 and no systemd: --cgroup-driver=cgroupfs (the image: systemd, with needs_cgroupv2) and --fail-cgroupv1=false; containerd's runc SystemdCgroup=false; no --runtime-cgroups",
	"the test's own containerd (Debian's 1.6) with its own root, state and socket: --container-runtime-endpoint and containerd's root, state, grpc and ttrpc addresses",
	"root without CAP_SYS_RESOURCE: containerd's restrict_oom_score_adj=true and no oom_score=-999",
	"no CNI DaemonSet: a bridge network from Debian's containernetworking-plugins in the machine's CNI directories (AKS's overlay and Cilium agents install theirs)",
	"loopback serving on free ports: --address, --healthz-bind-address, --port, --healthz-port; no --node-ip (the image sets the VM's IP from IMDS; a kubelet refuses a loopback node IP)",
	"kernel and swap as the machine has them: --protect-kernel-defaults=false, --fail-swap-on=false, --resolv-conf of the machine",
	"no ACR credential provider binary: --image-credential-provider-* dropped (no image is pulled)",
	"no containerd metrics listener (0.0.0.0:10257 is kube-controller-manager's port here)",
	"the image's paths, and the kubelet's state and certificate directories, under temporary directories",
	"the host name from the VM's computer name as --hostname-override (the image's host name is the computer name)",
}

// Files are a kubelet's and containerd's files and command lines.
type Files struct {
	// Contents are the files by absolute path.
	Contents map[string][]byte
	// Dirs are directories that must exist.
	Dirs []string
	// KubeletArgs are the kubelet's arguments.
	KubeletArgs []string
	// ContainerdConfig is the absolute path of containerd's configuration.
	ContainerdConfig string
	// SandboxImage is the pod sandbox image containerd is configured with:
	// the image must hold it under exactly this name.
	SandboxImage string
	// Kubeconfig is where the kubelet writes its kubeconfig once its
	// client certificate is issued.
	Kubeconfig string
}

// Render builds a node's kubelet command line, containerd configuration and
// files from the AKSNodeConfig its custom data carries.
func Render(cfg *aksnodeconfig.Configuration, node Node, opts Options) (*Files, error) {
	if node.Name == "" {
		return nil, errors.New("the node has no name")
	}
	if opts.Root == "" {
		return nil, errors.New("no root for the node's files")
	}
	if err := required(cfg); err != nil {
		return nil, err
	}
	at := func(p string) string { return filepath.Join(opts.Root, p) }
	ca, err := base64.StdEncoding.DecodeString(cfg.KubernetesCACert)
	if err != nil {
		return nil, fmt.Errorf("kubernetes_ca_cert is not base64: %w", err)
	}
	kubeconfig, err := bootstrapKubeconfig(cfg, at(CACertPath), opts.APIServerAddress)
	if err != nil {
		return nil, err
	}
	containerd, err := containerdConfig(cfg, opts.Machine)
	if err != nil {
		return nil, err
	}
	files := &Files{
		Contents: map[string][]byte{
			at(CACertPath):              ca,
			at(BootstrapKubeconfigPath): kubeconfig,
			at(ContainerdConfigPath):    []byte(containerd),
		},
		Dirs:             []string{at(StaticPodPath), at(VolumePluginDir)},
		ContainerdConfig: at(ContainerdConfigPath),
		SandboxImage:     cfg.KubeBinaryConfig.PodInfraContainerImageURL,
		Kubeconfig:       at(KubeconfigPath),
	}
	files.KubeletArgs = kubeletCommandLine(cfg, node, opts, at)
	return files, nil
}

// required refuses a document an image would not run a node from.
func required(cfg *aksnodeconfig.Configuration) error {
	var missing []string
	if cfg.APIServerConfig == nil || cfg.APIServerConfig.APIServerName == "" {
		missing = append(missing, "api_server_config.api_server_name")
	}
	if cfg.KubernetesCACert == "" {
		missing = append(missing, "kubernetes_ca_cert")
	}
	if cfg.BootstrappingConfig == nil || cfg.BootstrappingConfig.TLSBootstrappingToken == nil || *cfg.BootstrappingConfig.TLSBootstrappingToken == "" {
		missing = append(missing, "bootstrapping_config.tls_bootstrapping_token")
	}
	if cfg.KubeBinaryConfig == nil || cfg.KubeBinaryConfig.PodInfraContainerImageURL == "" {
		missing = append(missing, `kube_binary_config.pod_infra_container_image_url (containerd would run with sandbox_image = "")`)
	}
	if cfg.KubeletConfig == nil || len(cfg.KubeletConfig.KubeletFlags) == 0 {
		missing = append(missing, "kubelet_config.kubelet_flags")
	}
	if len(missing) > 0 {
		return fmt.Errorf("the custom data lacks what the node image needs: %s", strings.Join(missing, ", "))
	}
	if cfg.KubeletConfig.EnableKubeletConfigFile {
		return errors.New("kubelet_config.enable_kubelet_config_file is set: the node would run the kubelet from a configuration file, which the provider does not write")
	}
	return nil
}

// kubeletCommandLine is kubelet.service's ExecStart with its environment
// expanded, then the machine's changes.
func kubeletCommandLine(cfg *aksnodeconfig.Configuration, node Node, opts Options, at func(string) string) []string {
	k := cfg.KubeletConfig
	labels := sortedPairs(k.KubeletNodeLabels, ",")
	flags := map[string]string{}
	for name, value := range k.KubeletFlags {
		flags[name] = value
	}
	// cse_config.sh configureKubeletServing: with serving certificate
	// rotation on, the self-signed serving certificate flags go (the image
	// adds the label too, which the provider already sets).
	if k.KubeletConfigFileConfig != nil && k.KubeletConfigFileConfig.ServerTLSBootstrap {
		delete(flags, "--tls-cert-file")
		delete(flags, "--tls-private-key-file")
	}
	// ExecStart, in the unit's order: its own flags, then the drop-ins'
	// variables, KUBELET_FLAGS last (a later flag wins).
	args := []string{"--enable-server", "--node-labels=" + labels, "--v=2", "--volume-plugin-dir=/" + VolumePluginDir}
	// 10-tlsbootstrap.conf (ensureKubelet, with a bootstrap token).
	args = append(args, "--kubeconfig=/"+KubeconfigPath, "--bootstrap-kubeconfig=/"+BootstrapKubeconfigPath)
	// 10-containerd-base-flag.conf.
	args = append(args, "--runtime-request-timeout=15m", "--container-runtime-endpoint="+containerdSocket, "--runtime-cgroups=/system.slice/containerd.service")
	// 10-cgroupv2.conf (cse_main.sh, needs_cgroupv2).
	if cfg.NeedsCgroupV2 != nil && *cfg.NeedsCgroupV2 {
		args = append(args, "--cgroup-driver=systemd")
	}
	for _, name := range sortedKeys(flags) {
		args = append(args, name+"="+flags[name])
	}
	return adaptToMachine(args, node, opts, at)
}

// imagePaths are the flags whose values are paths on the node.
var imagePaths = []string{"--client-ca-file", "--pod-manifest-path", "--volume-plugin-dir", "--kubeconfig", "--bootstrap-kubeconfig"}

// adaptToMachine changes what a test machine must change to run the kubelet
// at all (Differences lists each). Flags are replaced where they are, so
// the command line keeps the image's order.
func adaptToMachine(args []string, node Node, opts Options, at func(string) string) []string {
	set := map[string]string{"--hostname-override": node.Name}
	drop := map[string]bool{}
	for _, p := range imagePaths {
		set[p] = ""
	}
	if m := opts.Machine; m != nil {
		set["--container-runtime-endpoint"] = "unix://" + m.ContainerdSocket
		set["--cgroup-driver"] = "cgroupfs"
		set["--fail-cgroupv1"] = "false"
		set["--fail-swap-on"] = "false"
		set["--protect-kernel-defaults"] = "false"
		drop["--runtime-cgroups"] = true
		drop["--image-credential-provider-bin-dir"] = true
		drop["--image-credential-provider-config"] = true
		if m.ResolvConf != "" {
			set["--resolv-conf"] = m.ResolvConf
		}
		if m.Address != "" {
			set["--address"] = m.Address
			set["--healthz-bind-address"] = m.Address
		}
		if m.Port != 0 {
			set["--port"] = strconv.Itoa(int(m.Port))
		}
		if m.HealthzPort != 0 {
			set["--healthz-port"] = strconv.Itoa(int(m.HealthzPort))
		}
		if m.RootDir != "" {
			set["--root-dir"] = m.RootDir
		}
		if m.CertDir != "" {
			set["--cert-dir"] = m.CertDir
		}
	}
	out := make([]string, 0, len(args)+len(set))
	seen := map[string]bool{}
	for _, a := range args {
		name, value, _ := strings.Cut(a, "=")
		switch v, ok := set[name]; {
		case drop[name]:
			continue
		case ok && slices.Contains(imagePaths, name):
			a = name + "=" + at(strings.TrimPrefix(value, "/"))
		case ok:
			a = name + "=" + v
		}
		seen[name] = true
		out = append(out, a)
	}
	for _, name := range sortedKeys(set) {
		if !seen[name] && set[name] != "" {
			out = append(out, name+"="+set[name])
		}
	}
	return out
}

// bootstrapKubeconfig is the kubeconfig the image writes for TLS
// bootstrapping (cse_config.sh ensureKubelet): https://<api server name>:443,
// the cluster CA, the token.
func bootstrapKubeconfig(cfg *aksnodeconfig.Configuration, caPath, route string) ([]byte, error) {
	name := cfg.APIServerConfig.APIServerName
	cluster := &clientcmdapi.Cluster{Server: "https://" + net.JoinHostPort(name, strconv.Itoa(bootstrap.APIServerPort)), CertificateAuthority: caPath}
	if route != "" {
		// The name does not resolve on this machine; connect where the
		// simulated network routes it, verifying the server's certificate
		// for the name from the custom data.
		cluster.Server = "https://" + route
		cluster.TLSServerName = name
	}
	return clientcmd.Write(clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"localcluster": cluster},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"kubelet-bootstrap": {Token: *cfg.BootstrappingConfig.TLSBootstrappingToken}},
		Contexts:       map[string]*clientcmdapi.Context{"bootstrap-context": {Cluster: "localcluster", AuthInfo: "kubelet-bootstrap"}},
		CurrentContext: "bootstrap-context",
	})
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

// sortedPairs renders a map as the image's createSortedKeyValuePairs does
// (aks-node-controller/parser/helper.go): key=value in key order.
func sortedPairs(m map[string]string, sep string) string {
	pairs := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		pairs = append(pairs, k+"="+m[k])
	}
	return strings.Join(pairs, sep)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
