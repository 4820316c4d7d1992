package aksnode

import (
	"fmt"
	"strings"

	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/aksnodeconfig"
)

// containerdConfig is containerd's configuration (version 2 of its format,
// containerd 1.x's CRI plugin), with the settings aks-node-controller's
// containerd.toml.gtpl derives from the AKSNodeConfig: the sandbox image
// (kube_binary_config.pod_infra_container_image_url, with no default), the
// runc runtime with the systemd cgroup driver on cgroup v2 nodes
// (needs_cgroupv2), kubenet's CNI template where the network plugin is
// kubenet, the registry configuration directory, and the streaming and
// Kata settings. GPU nodes' NVIDIA runtime is not rendered: a machine
// without NVIDIA GPUs cannot run it, so a GPU node's configuration is an
// error. Lines marked machine: are Machine's (Differences).
func containerdConfig(cfg *aksnodeconfig.Configuration, m *Machine) (string, error) {
	if g := cfg.GPUConfig; g != nil && g.EnableNvidia != nil && *g.EnableNvidia {
		return "", fmt.Errorf("gpu_config.enable_nvidia: a GPU node's containerd runs the NVIDIA runtime, which this machine does not have")
	}
	var b strings.Builder
	line := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	systemdCgroup := cfg.NeedsCgroupV2 != nil && *cfg.NeedsCgroupV2
	line("version = 2")
	if m != nil {
		// machine: the test's own containerd; root without
		// CAP_SYS_RESOURCE cannot lower its OOM score.
		line("root = %q", m.ContainerdRoot)
		line("state = %q", m.ContainerdState)
		line("[grpc]\n  address = %q", m.ContainerdSocket)
		line("[ttrpc]\n  address = %q", m.ContainerdSocket+".ttrpc")
		if m.ContainerdOpt != "" {
			line(`[plugins."io.containerd.internal.v1.opt"]`)
			line("  path = %q", m.ContainerdOpt)
		}
		systemdCgroup = false
	} else {
		line("oom_score = -999")
	}
	line(`[plugins."io.containerd.grpc.v1.cri"]`)
	line("  sandbox_image = %q", cfg.KubeBinaryConfig.PodInfraContainerImageURL)
	line("  enable_cdi = true")
	if m != nil {
		// machine: runc cannot set a negative oom_score_adj without
		// CAP_SYS_RESOURCE.
		line("  restrict_oom_score_adj = true")
	}
	line(`  [plugins."io.containerd.grpc.v1.cri".containerd]`)
	if cfg.IsKata {
		line(`    disable_snapshot_annotations = false`)
		line(`    snapshotter = "overlayfs"`)
	}
	if cfg.EnableArtifactStreaming {
		line(`    snapshotter = "overlaybd"`)
		line(`    disable_snapshot_annotations = false`)
	}
	line(`    default_runtime_name = "runc"`)
	line(`    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]`)
	line(`      runtime_type = "io.containerd.runc.v2"`)
	line(`    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]`)
	line(`      BinaryName = "/usr/bin/runc"`)
	line(`      SystemdCgroup = %t`, systemdCgroup)
	if cfg.IsKata {
		line(`    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata]`)
		line(`      runtime_type = "io.containerd.kata.v2"`)
	}
	kubenet := cfg.NetworkConfig != nil && cfg.NetworkConfig.NetworkPlugin == aksnodeconfig.NetworkPluginKubenet &&
		cfg.NetworkConfig.NetworkPolicy != aksnodeconfig.NetworkPolicyCalico
	switch {
	case m != nil:
		// machine: the machine's CNI plugins and a network of its own.
		line(`  [plugins."io.containerd.grpc.v1.cri".cni]`)
		line("    bin_dir = %q", m.CNIBinDir)
		line("    conf_dir = %q", m.CNIConfDir)
	case kubenet:
		line(`  [plugins."io.containerd.grpc.v1.cri".cni]`)
		line(`    bin_dir = "/opt/cni/bin"`)
		line(`    conf_dir = "/etc/cni/net.d"`)
		line(`    conf_template = "/etc/containerd/kubenet_template.conf"`)
	}
	line(`  [plugins."io.containerd.grpc.v1.cri".registry]`)
	line(`    config_path = "/etc/containerd/certs.d"`)
	line(`  [plugins."io.containerd.grpc.v1.cri".registry.headers]`)
	line(`    X-Meta-Source-Client = ["azure/aks"]`)
	if m == nil {
		// machine: kube-controller-manager listens on 10257 here.
		line("[metrics]\n  address = \"0.0.0.0:10257\"")
	}
	if cfg.EnableArtifactStreaming {
		line("[proxy_plugins]\n  [proxy_plugins.overlaybd]\n    type = \"snapshot\"\n    address = \"/run/overlaybd-snapshotter/overlaybd.sock\"")
	}
	return b.String(), nil
}

// MachineContainerdConfig is containerd's configuration for a machine that
// is not a node from custom data (the helmpod suite's system node): the
// same rendering with only the sandbox image set.
func MachineContainerdConfig(sandboxImage string, m *Machine) (string, error) {
	return containerdConfig(&aksnodeconfig.Configuration{KubeBinaryConfig: &aksnodeconfig.KubeBinaryConfig{PodInfraContainerImageURL: sandboxImage}}, m)
}
