package bootstrap

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Kubelet flags the provider sets, by name (with the leading "--", as
// AKSNodeConfig's kubelet_flags keys are).
const (
	flagMaxPods              = "--max-pods"
	flagRegisterWithTaints   = "--register-with-taints"
	flagKubeReserved         = "--kube-reserved"
	flagSystemReserved       = "--system-reserved"
	flagEvictionHard         = "--eviction-hard"
	flagClusterDNS           = "--cluster-dns"
	flagCPUManagerPolicy     = "--cpu-manager-policy"
	flagCPUCFSQuota          = "--cpu-cfs-quota"
	flagCPUCFSQuotaPeriod    = "--cpu-cfs-quota-period"
	flagImageGCHigh          = "--image-gc-high-threshold"
	flagImageGCLow           = "--image-gc-low-threshold"
	flagTopologyManager      = "--topology-manager-policy"
	flagAllowedUnsafeSysctls = "--allowed-unsafe-sysctls"
	flagContainerLogMaxSize  = "--container-log-max-size"
	flagContainerLogMaxFiles = "--container-log-max-files"
	flagPodMaxPIDs           = "--pod-max-pids"
	flagFailSwapOn           = "--fail-swap-on"
	flagFeatureGates         = "--feature-gates"
	// flagRotateServerCertificates requests the kubelet's serving
	// certificate from the cluster.
	flagRotateServerCertificates = "--rotate-server-certificates"
)

// linuxBaseKubeletFlags are the kubelet flags every AKS Linux node runs
// with, as AKS sets them for its own node pools (Azure/AgentBaker
// e2e/node_config.go baseTemplateLinux's KubeletConfig, the flags AKS's
// resource provider sends; the same set NAP's bootstrap writes,
// karpenter-provider-azure pkg/providers/imagefamily/bootstrap/staticvalues.go
// getBaseKubeletFlags), less what a 1.35 kubelet no longer has:
//
//   - --cloud-config and --pod-infra-container-image are gone from the
//     kubelet (the sandbox image is containerd's, kube_binary_config);
//   - --streaming-connection-idle-timeout, which aks-node-controller drops
//     from Kubernetes 1.34 on (parser/parser.go getCSEEnv);
//   - --tls-cert-file and --tls-private-key-file, which the image removes
//     when serving certificate rotation is on (cse_config.sh
//     configureKubeletServing), as it is here.
//
// --eviction-hard, --image-gc-* and the reservations are per node
// (Kubelet); --rotate-server-certificates goes with the node's
// kubelet_config_file_config.server_tls_bootstrap and its label.
var linuxBaseKubeletFlags = map[string]string{ //nolint:gosec // G101 reads "token" in a flag name; no credential here
	"--address":                           "0.0.0.0",
	"--anonymous-auth":                    "false",
	"--authentication-token-webhook":      "true",
	"--authorization-mode":                "Webhook",
	"--cgroups-per-qos":                   "true",
	"--client-ca-file":                    "/etc/kubernetes/certs/ca.crt",
	"--cloud-provider":                    "external",
	"--cluster-domain":                    "cluster.local",
	"--enforce-node-allocatable":          "pods",
	"--event-qps":                         "0",
	"--image-credential-provider-bin-dir": "/var/lib/kubelet/credential-provider",
	"--image-credential-provider-config":  "/var/lib/kubelet/credential-provider-config.yaml",
	"--node-status-update-frequency":      "10s",
	"--pod-manifest-path":                 "/etc/kubernetes/manifests",
	"--pod-max-pids":                      "-1",
	"--protect-kernel-defaults":           "true",
	"--read-only-port":                    "0",
	"--resolv-conf":                       "/run/systemd/resolve/resolv.conf",
	"--rotate-certificates":               "true",
	"--rotate-server-certificates":        "true",
	"--tls-cipher-suites":                 TLSCipherSuites,
}

// TLSCipherSuites are the cipher suites AKS's kubelets serve with (the
// --tls-cipher-suites of AgentBaker's e2e/node_config.go base templates,
// Linux and Windows alike).
const TLSCipherSuites = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_RSA_WITH_AES_256_GCM_SHA384,TLS_RSA_WITH_AES_128_GCM_SHA256"

// FeatureGateCPUCFSQuotaPeriod is the kubelet feature gate without which a
// kubelet refuses --cpu-cfs-quota-period ("cpuCFSQuotaPeriod ... requires
// feature gate CustomCPUCFSQuotaPeriod", k8s.io/kubernetes
// pkg/kubelet/apis/config/validation/validation.go).
const FeatureGateCPUCFSQuotaPeriod = "CustomCPUCFSQuotaPeriod"

// windowsBaseKubeletFlags are the Windows nodes' equivalent: Windows has no
// QoS cgroups and enforces no node allocatable.
var windowsBaseKubeletFlags = map[string]string{
	// The kubeconfigs the setup writes (Write-BootstrapKubeConfig) and the
	// kubelet writes once its certificate is issued (kube-proxy runs with
	// it); AKS passes them as flags (kubeletstart.ps1 adds none of them).
	"--bootstrap-kubeconfig":         "c:\\k\\bootstrap-config",
	"--kubeconfig":                   "c:\\k\\config",
	"--cert-dir":                     "c:\\k\\pki",
	"--resolv-conf":                  "",
	"--anonymous-auth":               "false",
	"--authentication-token-webhook": "true",
	"--authorization-mode":           "Webhook",
	"--cgroups-per-qos":              "false",
	"--client-ca-file":               "c:\\k\\ca.crt",
	"--cloud-provider":               "external",
	"--cluster-domain":               "cluster.local",
	"--enforce-node-allocatable":     "",
	"--hairpin-mode":                 "promiscuous-bridge",
	"--read-only-port":               "0",
	"--rotate-certificates":          "true",
	"--rotate-server-certificates":   "true",
	"--tls-cipher-suites":            TLSCipherSuites,
}

// kubeletFlags are the node's kubelet flags: the image's base set and the
// node's own settings. --node-labels, --kubeconfig and --bootstrap-kubeconfig
// are not among them: the images pass those themselves.
func kubeletFlags(c *Config) map[string]string {
	base := linuxBaseKubeletFlags
	if c.OS == Windows {
		base = windowsBaseKubeletFlags
	}
	flags := make(map[string]string, len(base)+16)
	for k, v := range base {
		flags[k] = v
	}
	k := c.Kubelet
	flags[flagMaxPods] = strconv.Itoa(int(k.MaxPods))
	if len(c.Taints) > 0 {
		taints := make([]string, 0, len(c.Taints))
		for _, t := range c.Taints {
			taints = append(taints, t.ToString())
		}
		flags[flagRegisterWithTaints] = strings.Join(taints, ",")
	}
	set := func(name, value string) {
		if value != "" {
			flags[name] = value
		}
	}
	set(flagKubeReserved, keyValues(k.KubeReserved, "="))
	set(flagSystemReserved, keyValues(k.SystemReserved, "="))
	set(flagEvictionHard, keyValues(k.EvictionHard, "<"))
	set(flagClusterDNS, k.ClusterDNS)
	set(flagCPUManagerPolicy, k.CPUManagerPolicy)
	if k.CPUCFSQuota != nil {
		flags[flagCPUCFSQuota] = strconv.FormatBool(*k.CPUCFSQuota)
	}
	if k.CPUCFSQuotaPeriod != "" {
		flags[flagCPUCFSQuotaPeriod] = k.CPUCFSQuotaPeriod
		flags[flagFeatureGates] = FeatureGateCPUCFSQuotaPeriod + "=true"
	}
	if k.ImageGCHighThresholdPercent != nil {
		flags[flagImageGCHigh] = strconv.Itoa(int(*k.ImageGCHighThresholdPercent))
	}
	if k.ImageGCLowThresholdPercent != nil {
		flags[flagImageGCLow] = strconv.Itoa(int(*k.ImageGCLowThresholdPercent))
	}
	set(flagTopologyManager, k.TopologyManagerPolicy)
	set(flagAllowedUnsafeSysctls, strings.Join(k.AllowedUnsafeSysctls, ","))
	set(flagContainerLogMaxSize, k.ContainerLogMaxSize)
	if k.ContainerLogMaxFiles != nil {
		flags[flagContainerLogMaxFiles] = strconv.Itoa(int(*k.ContainerLogMaxFiles))
	}
	if k.PodPidsLimit != nil {
		flags[flagPodMaxPIDs] = strconv.FormatInt(*k.PodPidsLimit, 10)
	}
	if k.FailSwapOn != nil {
		flags[flagFailSwapOn] = strconv.FormatBool(*k.FailSwapOn)
	}
	return flags
}

// keyValues renders a map as "k<sep>v,…" in key order ("" when empty).
func keyValues(m map[string]string, sep string) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+sep+m[k])
	}
	return strings.Join(parts, ",")
}

// parseKeyValues reads "k<sep>v,…" back.
func parseKeyValues(s, sep, flag string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, sep)
		if !ok || k == "" {
			return nil, fmt.Errorf("kubelet flag %s: %q is not key%svalue", flag, part, sep)
		}
		out[k] = v
	}
	return out, nil
}

// parseKubeletFlags reads the node's settings back from its kubelet flags,
// as the kubelet would: a value the kubelet would reject is an error.
func parseKubeletFlags(flags map[string]string, c *Config) error {
	k := &c.Kubelet
	maxPods, err := strconv.ParseInt(flags[flagMaxPods], 10, 32)
	if err != nil {
		return fmt.Errorf("kubelet flag %s=%q: %w", flagMaxPods, flags[flagMaxPods], err)
	}
	k.MaxPods = int32(maxPods)
	if s := flags[flagRegisterWithTaints]; s != "" {
		for _, spec := range strings.Split(s, ",") {
			t, err := parseTaint(spec)
			if err != nil {
				return fmt.Errorf("kubelet flag %s: %w", flagRegisterWithTaints, err)
			}
			c.Taints = append(c.Taints, t)
		}
	}
	if k.KubeReserved, err = parseReserved(flags[flagKubeReserved], flagKubeReserved); err != nil {
		return err
	}
	if k.SystemReserved, err = parseReserved(flags[flagSystemReserved], flagSystemReserved); err != nil {
		return err
	}
	if k.EvictionHard, err = parseKeyValues(flags[flagEvictionHard], "<", flagEvictionHard); err != nil {
		return err
	}
	for signal, v := range k.EvictionHard {
		if strings.HasSuffix(v, "%") {
			continue
		}
		if _, err := resource.ParseQuantity(v); err != nil {
			return fmt.Errorf("kubelet flag %s: %s<%s: %w", flagEvictionHard, signal, v, err)
		}
	}
	k.ClusterDNS = flags[flagClusterDNS]
	k.CPUManagerPolicy = flags[flagCPUManagerPolicy]
	if v, ok := flags[flagCPUCFSQuota]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("kubelet flag %s=%q: %w", flagCPUCFSQuota, v, err)
		}
		k.CPUCFSQuota = &b
	}
	k.CPUCFSQuotaPeriod = flags[flagCPUCFSQuotaPeriod]
	if k.ImageGCHighThresholdPercent, err = optionalInt32(flags, flagImageGCHigh); err != nil {
		return err
	}
	if k.ImageGCLowThresholdPercent, err = optionalInt32(flags, flagImageGCLow); err != nil {
		return err
	}
	k.TopologyManagerPolicy = flags[flagTopologyManager]
	if v := flags[flagAllowedUnsafeSysctls]; v != "" {
		k.AllowedUnsafeSysctls = strings.Split(v, ",")
	}
	k.ContainerLogMaxSize = flags[flagContainerLogMaxSize]
	if k.ContainerLogMaxFiles, err = optionalInt32(flags, flagContainerLogMaxFiles); err != nil {
		return err
	}
	if v, ok := flags[flagFailSwapOn]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("kubelet flag %s=%q: %w", flagFailSwapOn, v, err)
		}
		k.FailSwapOn = &b
	}
	if v, ok := flags[flagPodMaxPIDs]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("kubelet flag %s=%q: %w", flagPodMaxPIDs, v, err)
		}
		k.PodPidsLimit = &n
	}
	return nil
}

func parseReserved(s, flag string) (map[string]string, error) {
	m, err := parseKeyValues(s, "=", flag)
	if err != nil {
		return nil, err
	}
	for name, v := range m {
		if _, err := resource.ParseQuantity(v); err != nil {
			return nil, fmt.Errorf("kubelet flag %s: %s=%s: %w", flag, name, v, err)
		}
	}
	return m, nil
}

func optionalInt32(flags map[string]string, flag string) (*int32, error) {
	v, ok := flags[flag]
	if !ok {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("kubelet flag %s=%q: %w", flag, v, err)
	}
	i := int32(n)
	return &i, nil
}

// parseTaint reads a taint in kubelet's key[=value]:Effect form.
func parseTaint(spec string) (corev1.Taint, error) {
	kv, effect, ok := strings.Cut(spec, ":")
	if !ok {
		return corev1.Taint{}, fmt.Errorf("taint %q has no effect", spec)
	}
	key, value, _ := strings.Cut(kv, "=")
	t := corev1.Taint{Key: key, Value: value, Effect: corev1.TaintEffect(effect)}
	if key == "" {
		return corev1.Taint{}, fmt.Errorf("taint %q has no key", spec)
	}
	return t, nil
}

// nodeLabels renders labels as kubelet --node-labels does: k=v,… in key order.
func nodeLabels(labels map[string]string) string { return keyValues(labels, "=") }

// KubeletCommandLine is the kubelet's command line on a node of this
// configuration: its flags in name order, then --node-labels, as the node
// image assembles it (without the kubeconfig flags the image adds).
func KubeletCommandLine(c *Config) []string {
	flags := kubeletFlags(c)
	names := make([]string, 0, len(flags))
	for n := range flags {
		names = append(names, n)
	}
	sort.Strings(names)
	args := make([]string, 0, len(names)+1)
	for _, n := range names {
		args = append(args, n+"="+flags[n])
	}
	if len(c.Labels) > 0 {
		args = append(args, "--node-labels="+nodeLabels(c.Labels))
	}
	return args
}

// KubeletFlags are the kubelet flags the node image runs the kubelet with
// for this configuration (the AKSNodeConfig's kubelet_flags), by name with
// the leading "--"; --node-labels and the kubeconfig flags are not among
// them. A node that runs the kubelet from a configuration file instead
// (aks-node-controller's file mode) translates them into it.
func KubeletFlags(c *Config) map[string]string { return kubeletFlags(c) }
