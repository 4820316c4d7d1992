package bootstrap

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"regexp"
	"strings"

	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/aksnodeconfig"
)

// mimeBoundary separates the custom data's parts. It is fixed, so the same
// configuration always renders the same custom data (and golden files stay
// stable); it cannot occur in the parts, which are a script of base64 and a
// one-line cloud-config.
const mimeBoundary = "==AZKARPENTER-BOOTSTRAP=="

// boothook writes the AKSNodeConfig and starts aks-node-controller. cloud-init
// runs boothooks early on every boot, hence the guard. Images that ship the
// launcher start it (it waits for the hostname to settle); older images have
// the controller as a systemd unit.
const boothook = `#cloud-boothook
#!/bin/bash
[ -e ` + aksnodeconfig.ProvisionCompletePath + ` ] && exit 0
mkdir -p /opt/azure/containers /var/log/azure
echo '%s' | base64 -d > ` + aksnodeconfig.ConfigPath + `
chmod 0600 ` + aksnodeconfig.ConfigPath + `
if [ -x ` + aksnodeconfig.LauncherPath + ` ]; then
  nohup ` + aksnodeconfig.LauncherPath + ` >/dev/null 2>&1 &
else
  systemctl start --no-block aks-node-controller.service
fi
`

// cloudConfig is the second part of the custom data: cloud-init requires a
// cloud-config to run its final stages, which the image's units wait for.
const cloudConfig = "#cloud-config\nruncmd:\n- echo \"AKS node bootstrap: provisioning by aks-node-controller\"\n"

var configLine = regexp.MustCompile(`(?m)^echo '([A-Za-z0-9+/=]+)' \| base64 -d > ` + regexp.QuoteMeta(aksnodeconfig.ConfigPath) + `$`)

// managedIdentity is the service principal "ID" of nodes that authenticate
// with managed identities; its "secret" is the same word, base64.
const managedIdentity = "msi"

func renderLinux(c *Config) (*Artifact, error) {
	cfg, err := linuxNodeConfig(c)
	if err != nil {
		return nil, err
	}
	customData, err := LinuxCustomData(cfg)
	if err != nil {
		return nil, err
	}
	ext := LinuxExtension
	ext.CommandToExecute = aksnodeconfig.ProvisionWaitCommand
	return &Artifact{CustomData: customData, Extension: ext}, nil
}

// LinuxCustomData is the custom data (base64) that gives a Linux node the
// AKSNodeConfig cfg: the MIME document whose boothook writes it for
// aks-node-controller.
func LinuxCustomData(cfg *aksnodeconfig.Configuration) (string, error) {
	// Indented, and without Go's HTML escaping ("<" in --eviction-hard), as
	// protojson writes it.
	var docBuf bytes.Buffer
	enc := json.NewEncoder(&docBuf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(cfg); err != nil {
		return "", err
	}
	doc := bytes.TrimSuffix(docBuf.Bytes(), []byte("\n"))
	var buf bytes.Buffer
	buf.WriteString("Content-Type: multipart/mixed; boundary=\"" + mimeBoundary + "\"\r\nMIME-Version: 1.0\r\n\r\n")
	w := multipart.NewWriter(&buf)
	if err := w.SetBoundary(mimeBoundary); err != nil {
		return "", err
	}
	for _, part := range []struct{ contentType, body string }{
		{"text/cloud-boothook", fmt.Sprintf(boothook, base64.StdEncoding.EncodeToString(doc))},
		{"text/cloud-config", cloudConfig},
	} {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", part.contentType+`; charset="us-ascii"`)
		h.Set("MIME-Version", "1.0")
		h.Set("Content-Transfer-Encoding", "7bit")
		pw, err := w.CreatePart(h)
		if err != nil {
			return "", err
		}
		if _, err := io.WriteString(pw, part.body); err != nil {
			return "", err
		}
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// linuxNodeConfig is the AKSNodeConfig of a node.
func linuxNodeConfig(c *Config) (*aksnodeconfig.Configuration, error) {
	yes := true
	token := c.Cluster.BootstrapToken
	flags := kubeletFlags(c)
	cfg := &aksnodeconfig.Configuration{
		Version:         aksnodeconfig.Version,
		APIServerConfig: &aksnodeconfig.APIServerConfig{APIServerName: c.Cluster.APIServerName},
		ClusterConfig: &aksnodeconfig.ClusterConfig{
			ResourceGroup:       c.Cluster.ResourceGroup,
			Location:            c.Cluster.Location,
			VMType:              aksnodeconfig.VMTypeStandard,
			UseInstanceMetadata: true,
			LoadBalancerConfig:  &aksnodeconfig.LoadBalancerConfig{LoadBalancerSKU: aksnodeconfig.LoadBalancerSKUStandard, ExcludeMasterFromStandardLoadBalancer: &yes},
			ClusterNetworkConfig: &aksnodeconfig.ClusterNetworkConfig{
				VNetName: c.Cluster.VNetName, VNetResourceGroup: c.Cluster.VNetResourceGroup, Subnet: c.Cluster.SubnetName,
				SecurityGroupName: c.Cluster.SecurityGroupName, RouteTable: c.Cluster.RouteTableName,
				CoreDNSServiceIP: c.Cluster.DNSServiceIP,
			},
		},
		AuthConfig: &aksnodeconfig.AuthConfig{
			TenantID:                    c.Cluster.TenantID,
			SubscriptionID:              c.Cluster.SubscriptionID,
			ServicePrincipalID:          managedIdentity,
			ServicePrincipalSecret:      base64.StdEncoding.EncodeToString([]byte(managedIdentity)),
			AssignedIdentityID:          c.Cluster.KubeletIdentityClientID,
			UseManagedIdentityExtension: true,
		},
		BootstrappingConfig: &aksnodeconfig.BootstrappingConfig{
			BootstrappingAuthMethod: aksnodeconfig.BootstrappingAuthMethodBootstrapToken,
			TLSBootstrappingToken:   &token,
		},
		NetworkConfig: &aksnodeconfig.NetworkConfig{
			NetworkPlugin:     enumOf(networkPlugins, c.Cluster.NetworkPlugin),
			NetworkPolicy:     enumOf(networkPolicies, c.Cluster.NetworkPolicy),
			VnetCNIPluginsURL: c.VNetCNIPluginsURL,
			CNIPluginsURL:     c.CNIPluginsURL,
		},
		KubeBinaryConfig: &aksnodeconfig.KubeBinaryConfig{PodInfraContainerImageURL: c.PauseImage},
		KubeletConfig: &aksnodeconfig.KubeletConfig{
			KubeletFlags:      flags,
			KubeletNodeLabels: c.Labels,
			// In flag mode the image reads this one field of the file
			// configuration: it turns serving certificate rotation on
			// (removing --tls-cert-file and adding the label) to match
			// --rotate-server-certificates.
			KubeletConfigFileConfig: &aksnodeconfig.KubeletConfigFileConfig{ServerTLSBootstrap: flags[flagRotateServerCertificates] == "true"},
		},
		KubernetesCACert:        base64.StdEncoding.EncodeToString(c.Cluster.CACertificate),
		KubernetesVersion:       c.KubernetesVersion,
		VMSize:                  c.VMSize,
		LinuxAdminUsername:      lo.Ternary(c.AdminUsername != "", c.AdminUsername, DefaultAdminUsername),
		IsVHD:                   &yes,
		NeedsCgroupV2:           &yes,
		WorkloadRuntime:         "WORKLOAD_RUNTIME_OCI_CONTAINER",
		EnableArtifactStreaming: c.ArtifactStreaming,
		IsKata:                  c.WorkloadRuntime == "KataVmIsolation",
	}
	if c.GPUDriver {
		cfg.GPUConfig = &aksnodeconfig.GPUConfig{EnableNvidia: &yes, ConfigGPUDriver: true, GPUDevicePlugin: true}
	}
	if os := c.LinuxOS; os != nil {
		sysctls, err := sysctlConfig(os.Sysctls)
		if err != nil {
			return nil, err
		}
		cfg.CustomLinuxOSConfig = &aksnodeconfig.CustomLinuxOSConfig{
			SysctlConfig:               sysctls,
			EnableSwapConfig:           os.SwapFileSizeMB > 0,
			SwapFileSize:               os.SwapFileSizeMB,
			TransparentHugepageSupport: os.TransparentHugePageEnabled,
			TransparentDefrag:          os.TransparentHugePageDefrag,
		}
	}
	cfg.LocalDNSProfile = localDNSProfile(c.LocalDNS)
	if p := c.Cluster.HTTPProxy; p != nil {
		cfg.HTTPProxyConfig = &aksnodeconfig.HTTPProxyConfig{HTTPProxy: p.HTTPProxy, HTTPSProxy: p.HTTPSProxy, NoProxyEntries: p.NoProxy}
		if len(p.TrustedCA) > 0 {
			cfg.HTTPProxyConfig.ProxyTrustedCA = base64.StdEncoding.EncodeToString(p.TrustedCA)
		}
	}
	for _, ca := range c.Cluster.CustomCACerts {
		cfg.CustomCACerts = append(cfg.CustomCACerts, base64.StdEncoding.EncodeToString(ca))
	}
	return cfg, nil
}

// NodeConfig is the AKSNodeConfig a Linux node of this configuration is
// given.
func NodeConfig(c *Config) (*aksnodeconfig.Configuration, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("bootstrap configuration: %w", err)
	}
	return linuxNodeConfig(c)
}

// DecodeNodeConfig reads the AKSNodeConfig from a Linux VM's custom data, as
// the node image's boothook writes it for aks-node-controller: the
// contract's own document, for checks that read its fields as the image
// does.
func DecodeNodeConfig(customData string) (*aksnodeconfig.Configuration, error) {
	raw, err := base64.StdEncoding.DecodeString(customData)
	if err != nil {
		return nil, fmt.Errorf("custom data is not base64: %w", err)
	}
	return nodeConfigOf(raw)
}

// nodeConfigOf reads the AKSNodeConfig out of the decoded custom data.
func nodeConfigOf(raw []byte) (*aksnodeconfig.Configuration, error) {
	script, err := boothookPart(raw)
	if err != nil {
		return nil, err
	}
	m := configLine.FindSubmatch(script)
	if m == nil {
		return nil, fmt.Errorf("custom data: the boothook writes no %s", aksnodeconfig.ConfigPath)
	}
	doc, err := base64.StdEncoding.DecodeString(string(m[1]))
	if err != nil {
		return nil, fmt.Errorf("custom data: %s is not base64: %w", aksnodeconfig.ConfigPath, err)
	}
	var cfg aksnodeconfig.Configuration
	if err := json.Unmarshal(doc, &cfg); err != nil {
		return nil, fmt.Errorf("AKSNodeConfig: %w", err)
	}
	return &cfg, nil
}

// The AKSNodeConfig enum names of the network settings.
var (
	networkPlugins  = map[string]string{"none": aksnodeconfig.NetworkPluginNone, "azure": aksnodeconfig.NetworkPluginAzure, "kubenet": aksnodeconfig.NetworkPluginKubenet}
	networkPolicies = map[string]string{"none": aksnodeconfig.NetworkPolicyNone, "azure": aksnodeconfig.NetworkPolicyAzure, "calico": aksnodeconfig.NetworkPolicyCalico}
)

func enumOf(values map[string]string, name string) string { return values[name] }

func nameOf(values map[string]string, enum string) (string, bool) {
	for name, e := range values {
		if e == enum && name != "" {
			return name, true
		}
	}
	return "", enum == ""
}

// decodeLinux reads custom data as an AKS Linux image does: the boothook of
// the MIME document writes the AKSNodeConfig that aks-node-controller reads.
func decodeLinux(raw []byte) (*Config, error) {
	cfg, err := nodeConfigOf(raw)
	if err != nil {
		return nil, err
	}
	return fromNodeConfig(cfg)
}

// boothookPart returns the cloud-boothook part of a MIME multipart document.
func boothookPart(raw []byte) ([]byte, error) {
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw)))
	header, err := r.ReadMIMEHeader()
	if err != nil {
		return nil, fmt.Errorf("custom data is not a MIME document: %w", err)
	}
	mediaType, params, err := mime.ParseMediaType(header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mediaType, "multipart/") {
		return nil, fmt.Errorf("custom data is not a MIME multipart document (Content-Type %q)", header.Get("Content-Type"))
	}
	mr := multipart.NewReader(r.R, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, errors.New("custom data has no text/cloud-boothook part")
		}
		if err != nil {
			return nil, fmt.Errorf("custom data: %w", err)
		}
		if ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct == "text/cloud-boothook" {
			return io.ReadAll(p)
		}
	}
}

// fromNodeConfig reads a Config back from an AKSNodeConfig, refusing what
// aks-node-controller would refuse or could not provision from.
func fromNodeConfig(n *aksnodeconfig.Configuration) (*Config, error) {
	if n.Version != aksnodeconfig.Version {
		return nil, fmt.Errorf("AKSNodeConfig version %q, want %q", n.Version, aksnodeconfig.Version)
	}
	if n.APIServerConfig == nil || n.BootstrappingConfig == nil || n.BootstrappingConfig.TLSBootstrappingToken == nil || n.KubeletConfig == nil {
		return nil, errors.New("AKSNodeConfig lacks the API server, the TLS bootstrap token or the kubelet configuration")
	}
	ca, err := base64.StdEncoding.DecodeString(n.KubernetesCACert)
	if err != nil {
		return nil, fmt.Errorf("AKSNodeConfig kubernetes_ca_cert is not base64: %w", err)
	}
	c := &Config{
		OS:                Linux,
		KubernetesVersion: n.KubernetesVersion,
		VMSize:            n.VMSize,
		Labels:            n.KubeletConfig.KubeletNodeLabels,
		ArtifactStreaming: n.EnableArtifactStreaming,
		GPUDriver:         n.GPUConfig != nil && n.GPUConfig.ConfigGPUDriver,
		Cluster: Cluster{
			APIServerName:  n.APIServerConfig.APIServerName,
			CACertificate:  ca,
			BootstrapToken: *n.BootstrappingConfig.TLSBootstrappingToken,
		},
	}
	if n.IsKata {
		c.WorkloadRuntime = "KataVmIsolation"
	}
	if n.LinuxAdminUsername != DefaultAdminUsername {
		c.AdminUsername = n.LinuxAdminUsername
	}
	if a := n.AuthConfig; a != nil {
		c.Cluster.TenantID, c.Cluster.SubscriptionID, c.Cluster.KubeletIdentityClientID = a.TenantID, a.SubscriptionID, a.AssignedIdentityID
	}
	if cc := n.ClusterConfig; cc != nil {
		c.Cluster.ResourceGroup, c.Cluster.Location = cc.ResourceGroup, cc.Location
		if nw := cc.ClusterNetworkConfig; nw != nil {
			c.Cluster.VNetName, c.Cluster.VNetResourceGroup, c.Cluster.SubnetName = nw.VNetName, nw.VNetResourceGroup, nw.Subnet
			c.Cluster.SecurityGroupName, c.Cluster.RouteTableName, c.Cluster.DNSServiceIP = nw.SecurityGroupName, nw.RouteTable, nw.CoreDNSServiceIP
		}
	}
	if kb := n.KubeBinaryConfig; kb != nil {
		c.PauseImage = kb.PodInfraContainerImageURL
	}
	if p := n.HTTPProxyConfig; p != nil {
		c.Cluster.HTTPProxy = &HTTPProxy{HTTPProxy: p.HTTPProxy, HTTPSProxy: p.HTTPSProxy, NoProxy: p.NoProxyEntries}
		if p.ProxyTrustedCA != "" {
			if c.Cluster.HTTPProxy.TrustedCA, err = base64.StdEncoding.DecodeString(p.ProxyTrustedCA); err != nil {
				return nil, fmt.Errorf("AKSNodeConfig http_proxy_config.proxy_trusted_ca is not base64: %w", err)
			}
		}
	}
	for i, ca := range n.CustomCACerts {
		pem, err := base64.StdEncoding.DecodeString(ca)
		if err != nil {
			return nil, fmt.Errorf("AKSNodeConfig custom_ca_certs[%d] is not base64: %w", i, err)
		}
		c.Cluster.CustomCACerts = append(c.Cluster.CustomCACerts, pem)
	}
	if nc := n.NetworkConfig; nc != nil {
		c.VNetCNIPluginsURL, c.CNIPluginsURL = nc.VnetCNIPluginsURL, nc.CNIPluginsURL
		var ok bool
		if c.Cluster.NetworkPlugin, ok = nameOf(networkPlugins, nc.NetworkPlugin); !ok {
			return nil, fmt.Errorf("AKSNodeConfig network_plugin %q is unknown", nc.NetworkPlugin)
		}
		if c.Cluster.NetworkPolicy, ok = nameOf(networkPolicies, nc.NetworkPolicy); !ok {
			return nil, fmt.Errorf("AKSNodeConfig network_policy %q is unknown", nc.NetworkPolicy)
		}
	}
	if err := parseKubeletFlags(n.KubeletConfig.KubeletFlags, c); err != nil {
		return nil, err
	}
	if os := n.CustomLinuxOSConfig; os != nil {
		sysctls, err := kernelSysctls(os.SysctlConfig)
		if err != nil {
			return nil, err
		}
		c.LinuxOS = &LinuxOS{Sysctls: sysctls, TransparentHugePageEnabled: os.TransparentHugepageSupport, TransparentHugePageDefrag: os.TransparentDefrag}
		if os.EnableSwapConfig {
			c.LinuxOS.SwapFileSizeMB = os.SwapFileSize
		}
	}
	c.LocalDNS = fromLocalDNSProfile(n.LocalDNSProfile)
	return c, nil
}
