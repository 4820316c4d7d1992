// Package cluster provides what new nodes must be told about the cluster
// they join: where the API server is and which CA signs it, the TLS bootstrap
// token, the cluster DNS address, the network plugin, the kubelet identity
// and the Kubernetes version. Each input is auto-detected where the cluster
// says it and can be overridden; a missing or wrong input is an error that
// names it, which keeps AKSNodeClasses not Ready before any VM is created.
package cluster

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/rest"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
	bootstrapsecrets "k8s.io/cluster-bootstrap/util/secrets"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Inputs are what a node is told about its cluster.
type Inputs struct {
	// APIServerName is the API server's host (FQDN or IP) nodes reach on 443.
	APIServerName string
	// CACertificate is the cluster CA bundle, PEM.
	CACertificate []byte
	// BootstrapToken is <token-id>.<token-secret>. Never log it: String
	// redacts it.
	BootstrapToken string
	// KubernetesVersion is the control plane's version, e.g. v1.35.4.
	KubernetesVersion string
	// ClusterDNS is the kube-dns Service IP.
	ClusterDNS              string
	KubeletIdentityClientID string
	TenantID                string
	NetworkPlugin           string
	NetworkPluginMode       string
	NetworkPolicy           string
	// NetworkDataplane is azure or cilium (Azure CNI powered by Cilium).
	NetworkDataplane string
	// VNetGUID is the resource GUID of the nodes' virtual network (for the
	// Azure CNI overlay labels).
	VNetGUID string
	// ServiceCIDR, PodCIDR and VNetCIDR are the cluster's address ranges;
	// Windows nodes need them ("" when not set).
	ServiceCIDR string
	PodCIDR     string
	VNetCIDR    string
	// HTTPProxy is the egress proxy nodes use; nil for none.
	HTTPProxy *HTTPProxy
	// CustomCACerts are PEM certificates nodes add to their trust store.
	CustomCACerts [][]byte
	// NetworkResources are the cluster's route table and NSG, as nodes'
	// cloud configuration names them (empty when none was found; the
	// AKSNodeClass's NetworkReady condition says why).
	NetworkResources
}

// NetworkResources are the Azure network resources of the cluster a node's
// cloud configuration names (AKS's azure.json routeTableName,
// routeTableResourceGroup, securityGroupName, securityGroupResourceGroup),
// read from the node subnet and the node resource group (package network).
type NetworkResources struct {
	RouteTableName, RouteTableResourceGroup       string
	SecurityGroupName, SecurityGroupResourceGroup string
}

// HTTPProxy is the cluster's egress proxy for nodes, as AKS's
// httpProxyConfig has it.
type HTTPProxy struct {
	HTTPProxy  string
	HTTPSProxy string
	NoProxy    []string
	// TrustedCA is a PEM bundle nodes trust for the proxy.
	TrustedCA []byte
}

// String describes the inputs without the token's secret.
func (i *Inputs) String() string {
	id, _, _ := strings.Cut(i.BootstrapToken, ".")
	proxy := "none"
	if i.HTTPProxy != nil {
		proxy = strings.Join(lo.Compact([]string{i.HTTPProxy.HTTPProxy, i.HTTPProxy.HTTPSProxy}), ",")
	}
	return fmt.Sprintf("apiServer=%s kubernetes=%s clusterDNS=%s bootstrapToken=%s.<redacted> network=%s/%s/%s nsg=%s routeTable=%s httpProxy=%s customCACerts=%d", i.APIServerName,
		i.KubernetesVersion, i.ClusterDNS, id, i.NetworkPlugin, i.NetworkPluginMode, i.NetworkPolicy, i.SecurityGroupName, i.RouteTableName, proxy, len(i.CustomCACerts))
}

// ImageNetworkPlugin is the network plugin as AKS node images name it: Azure
// CNI overlay (and bring-your-own CNI) nodes configure no CNI of their own.
func (i *Inputs) ImageNetworkPlugin() string {
	if i.NetworkPlugin == "azure" && i.NetworkPluginMode == "overlay" {
		return "none"
	}
	return i.NetworkPlugin
}

// InputError is a missing or wrong input. Input names it for people; Reason
// is a CamelCase condition reason.
type InputError struct {
	Input   string
	Reason  string
	Message string
}

func (e *InputError) Error() string { return e.Input + ": " + e.Message }

// IsInputError reports whether err is (or wraps) an InputError.
func IsInputError(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

// Provider provides the inputs.
type Provider interface {
	// Inputs returns every input, or the first that is missing or wrong.
	Inputs(ctx context.Context) (*Inputs, error)
	// KubernetesVersion is the control plane's version: the one source of
	// truth for the version nodes are launched with and drift is judged by.
	KubernetesVersion(ctx context.Context) (string, error)
}

// Options configure the DefaultProvider.
type Options struct {
	// ClusterEndpoint overrides the API server URL nodes use
	// (https://<host>[:443]); empty detects it from RESTConfig.
	ClusterEndpoint string
	// ClusterCAFile overrides the CA bundle (PEM); empty takes RESTConfig's.
	ClusterCAFile string
	// RESTConfig is the controller's own connection to the API server.
	RESTConfig *rest.Config
	// BootstrapTokenSecret is the namespace/name of the bootstrap token
	// Secret; empty finds one in kube-system.
	BootstrapTokenSecret string
	// ClusterDNS overrides the cluster DNS IP; empty reads kube-system/kube-dns.
	ClusterDNS              string
	KubeletIdentityClientID string
	TenantID                string
	NetworkPlugin           string
	NetworkPluginMode       string
	NetworkPolicy           string
	NetworkDataplane        string
	VNetGUID                string
	ServiceCIDR             string
	PodCIDR                 string
	VNetCIDR                string
	// HTTPProxy, HTTPSProxy and NoProxy are the nodes' egress proxy;
	// HTTPProxyTrustedCAFile a PEM bundle nodes trust for it.
	HTTPProxy              string
	HTTPSProxy             string
	NoProxy                []string
	HTTPProxyTrustedCAFile string
	// CustomCACertsFile is a PEM file of certificates nodes add to their
	// trust store (AKS's custom CA trust).
	CustomCACertsFile string
	// NetworkResources, when set, reads the cluster's route table and NSG
	// (network.Provider.NodeResources of the default subnet). Its failure
	// leaves them empty: it is not an input nodes cannot join without.
	NetworkResources func(context.Context) (NetworkResources, error)
}

// ServerVersion reads the API server's version (discovery).
type ServerVersion func() (*version.Info, error)

// refreshAfter is how long inputs are reused: a rotated token, a new
// kube-dns address or an upgraded control plane are picked up within it.
const refreshAfter = time.Minute

// DefaultProvider reads the inputs from the cluster, caching them briefly.
type DefaultProvider struct {
	opts    Options
	reader  client.Reader
	version ServerVersion
	clock   clock.Clock

	mu      sync.Mutex
	inputs  *Inputs
	err     error
	fetched time.Time
}

// NewDefaultProvider returns a provider. reader must read from the API
// server (not an informer cache: the controller does not watch Secrets).
func NewDefaultProvider(opts Options, reader client.Reader, version ServerVersion, clk clock.Clock) *DefaultProvider {
	return &DefaultProvider{opts: opts, reader: reader, version: version, clock: clk}
}

// Inputs implements Provider.
func (p *DefaultProvider) Inputs(ctx context.Context) (*Inputs, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.fetched.IsZero() && p.clock.Since(p.fetched) < refreshAfter {
		return p.inputs, p.err
	}
	p.inputs, p.err = p.read(ctx)
	p.fetched = p.clock.Now()
	return p.inputs, p.err
}

// KubernetesVersion implements Provider.
func (p *DefaultProvider) KubernetesVersion(ctx context.Context) (string, error) {
	in, err := p.Inputs(ctx)
	if in == nil {
		return "", err
	}
	return in.KubernetesVersion, nil
}

// Refresh drops the cached inputs, so the next call reads them again.
func (p *DefaultProvider) Refresh(context.Context) error {
	p.mu.Lock()
	p.fetched = time.Time{}
	p.mu.Unlock()
	return nil
}

// read reads every input. With an error it still returns what it could
// read (the Kubernetes version, which other status needs).
func (p *DefaultProvider) read(ctx context.Context) (*Inputs, error) {
	in := &Inputs{
		KubeletIdentityClientID: p.opts.KubeletIdentityClientID, TenantID: p.opts.TenantID,
		NetworkPlugin: p.opts.NetworkPlugin, NetworkPluginMode: p.opts.NetworkPluginMode, NetworkPolicy: p.opts.NetworkPolicy,
		NetworkDataplane: p.opts.NetworkDataplane, VNetGUID: p.opts.VNetGUID,
		ServiceCIDR: p.opts.ServiceCIDR, PodCIDR: p.opts.PodCIDR, VNetCIDR: p.opts.VNetCIDR,
	}
	v, err := p.version()
	if err != nil {
		return nil, &InputError{Input: "Kubernetes version", Reason: "KubernetesVersionUnknown", Message: fmt.Sprintf("reading the API server's version: %v", err)}
	}
	in.KubernetesVersion = v.GitVersion
	var errs []error
	if in.APIServerName, err = p.apiServerName(ctx); err != nil {
		errs = append(errs, err)
	}
	if in.CACertificate, err = p.caBundle(); err != nil {
		errs = append(errs, err)
	}
	if in.BootstrapToken, err = p.bootstrapToken(ctx); err != nil {
		errs = append(errs, err)
	}
	if in.ClusterDNS, err = p.clusterDNS(ctx); err != nil {
		errs = append(errs, err)
	}
	if in.TenantID == "" {
		errs = append(errs, &InputError{Input: "tenant", Reason: "TenantIDUnknown",
			Message: "nodes' cloud configuration names the Entra tenant (the ACR credential provider authenticates in it); set --tenant-id (AZURE_TENANT_ID)"})
	}
	if in.HTTPProxy, err = httpProxy(p.opts); err != nil {
		errs = append(errs, err)
	}
	if in.CustomCACerts, err = customCACerts(p.opts.CustomCACertsFile); err != nil {
		errs = append(errs, err)
	}
	if p.opts.NetworkResources != nil {
		// Best effort: a failure here is the NetworkReady condition's.
		in.NetworkResources, _ = p.opts.NetworkResources(ctx)
	}
	if len(errs) > 0 {
		// The first problem is the condition's reason; all are in the message.
		var first *InputError
		if !errors.As(errs[0], &first) {
			return in, errors.Join(errs...)
		}
		if len(errs) > 1 {
			first = &InputError{Input: "cluster inputs", Reason: first.Reason, Message: errors.Join(errs...).Error()}
		}
		return in, first
	}
	return in, nil
}

// apiServerName is the host nodes reach the API server at, on port 443
// (the port AKS node images use).
func (p *DefaultProvider) apiServerName(ctx context.Context) (string, error) {
	const input = "cluster endpoint"
	raw, overridden := p.opts.ClusterEndpoint, p.opts.ClusterEndpoint != ""
	if !overridden && p.opts.RESTConfig != nil {
		raw = p.opts.RESTConfig.Host
	}
	if raw == "" {
		return "", &InputError{Input: input, Reason: "ClusterEndpointUnknown", Message: "the controller has no API server address; set --cluster-endpoint (CLUSTER_ENDPOINT) to https://<API server FQDN>"}
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return "", &InputError{Input: input, Reason: "ClusterEndpointInvalid", Message: fmt.Sprintf("%q is not a URL; set --cluster-endpoint to https://<API server FQDN>", raw)}
	}
	host := u.Hostname()
	if u.Scheme != "https" || (u.Port() != "" && u.Port() != "443") {
		return "", &InputError{Input: input, Reason: "ClusterEndpointInvalid", Message: fmt.Sprintf("%s: AKS node images reach the API server over https on port 443; set --cluster-endpoint to https://<API server FQDN>", raw)}
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsLoopback() || ip.IsUnspecified() {
			return "", &InputError{Input: input, Reason: "ClusterEndpointUnreachable", Message: fmt.Sprintf("%s is not reachable from nodes; set --cluster-endpoint to https://<API server FQDN>", raw)}
		}
		if !overridden && p.isKubernetesServiceIP(ctx, host) {
			return "", &InputError{Input: input, Reason: "ClusterEndpointUnreachable", Message: fmt.Sprintf("the controller reaches the API server through the kubernetes Service (%s), which nodes cannot use before they join; set --cluster-endpoint to https://<API server FQDN>", host)}
		}
	}
	return host, nil
}

func (p *DefaultProvider) isKubernetesServiceIP(ctx context.Context, ip string) bool {
	svc := &corev1.Service{}
	if err := p.reader.Get(ctx, types.NamespacedName{Namespace: corev1.NamespaceDefault, Name: "kubernetes"}, svc); err != nil {
		return false
	}
	for _, c := range append([]string{svc.Spec.ClusterIP}, svc.Spec.ClusterIPs...) {
		if c == ip {
			return true
		}
	}
	return false
}

// caBundle is the CA nodes verify the API server with.
func (p *DefaultProvider) caBundle() ([]byte, error) {
	const input = "cluster CA"
	var data []byte
	var from string
	switch {
	case p.opts.ClusterCAFile != "":
		from = p.opts.ClusterCAFile
		b, err := os.ReadFile(p.opts.ClusterCAFile)
		if err != nil {
			return nil, &InputError{Input: input, Reason: "ClusterCAUnreadable", Message: fmt.Sprintf("reading --cluster-ca-file: %v", err)}
		}
		data = b
	case p.opts.RESTConfig != nil && len(p.opts.RESTConfig.CAData) > 0:
		from, data = "the controller's kubeconfig", p.opts.RESTConfig.CAData
	case p.opts.RESTConfig != nil && p.opts.RESTConfig.CAFile != "":
		from = p.opts.RESTConfig.CAFile
		b, err := os.ReadFile(p.opts.RESTConfig.CAFile)
		if err != nil {
			return nil, &InputError{Input: input, Reason: "ClusterCAUnreadable", Message: fmt.Sprintf("reading %s: %v", from, err)}
		}
		data = b
	default:
		return nil, &InputError{Input: input, Reason: "ClusterCAUnknown", Message: "the controller's connection names no CA; set --cluster-ca-file (CLUSTER_CA_FILE)"}
	}
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return nil, &InputError{Input: input, Reason: "ClusterCAInvalid", Message: fmt.Sprintf("%s holds a certificate that does not parse: %v", from, err)}
		}
		n++
	}
	if n == 0 {
		return nil, &InputError{Input: input, Reason: "ClusterCAInvalid", Message: fmt.Sprintf("%s holds no PEM certificate", from)}
	}
	return data, nil
}

// bootstrapToken reads the TLS bootstrap token from its Secret, so that it
// can rotate without restarting the controller.
func (p *DefaultProvider) bootstrapToken(ctx context.Context) (string, error) {
	const input = "bootstrap token"
	var secret *corev1.Secret
	if p.opts.BootstrapTokenSecret != "" {
		ns, name, ok := strings.Cut(p.opts.BootstrapTokenSecret, "/")
		if !ok {
			ns, name = metav1.NamespaceSystem, p.opts.BootstrapTokenSecret
		}
		secret = &corev1.Secret{}
		if err := p.reader.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, secret); err != nil {
			if apierrors.IsNotFound(err) {
				return "", &InputError{Input: input, Reason: "BootstrapTokenNotFound", Message: fmt.Sprintf("Secret %s/%s (--bootstrap-token-secret) does not exist", ns, name)}
			}
			return "", &InputError{Input: input, Reason: "BootstrapTokenUnreadable", Message: fmt.Sprintf("reading Secret %s/%s: %v", ns, name, err)}
		}
	} else {
		list := &corev1.SecretList{}
		if err := p.reader.List(ctx, list, client.InNamespace(metav1.NamespaceSystem), client.MatchingFields{"type": string(bootstrapapi.SecretTypeBootstrapToken)}); err != nil {
			return "", &InputError{Input: input, Reason: "BootstrapTokenUnreadable", Message: fmt.Sprintf("listing bootstrap token Secrets in kube-system: %v", err)}
		}
		for i := range list.Items {
			s := &list.Items[i]
			if bootstrapsecrets.GetData(s, bootstrapapi.BootstrapTokenUsageAuthentication) == "true" && !bootstrapsecrets.HasExpired(s, p.clock.Now()) {
				secret = s
				break
			}
		}
		if secret == nil {
			return "", &InputError{Input: input, Reason: "BootstrapTokenNotFound", Message: "no unexpired Secret of type bootstrap.kubernetes.io/token for authentication in kube-system; create one or set --bootstrap-token-secret (docs/install.md)"}
		}
	}
	name := secret.Namespace + "/" + secret.Name
	if secret.Type != bootstrapapi.SecretTypeBootstrapToken {
		return "", &InputError{Input: input, Reason: "BootstrapTokenInvalid", Message: fmt.Sprintf("Secret %s has type %q, not %s", name, secret.Type, bootstrapapi.SecretTypeBootstrapToken)}
	}
	id := bootstrapsecrets.GetData(secret, bootstrapapi.BootstrapTokenIDKey)
	token := bootstraputil.TokenFromIDAndSecret(id, bootstrapsecrets.GetData(secret, bootstrapapi.BootstrapTokenSecretKey))
	switch {
	case !bootstraputil.IsValidBootstrapToken(token):
		return "", &InputError{Input: input, Reason: "BootstrapTokenInvalid", Message: fmt.Sprintf("Secret %s does not hold a token of the form [a-z0-9]{6}.[a-z0-9]{16} in token-id and token-secret", name)}
	case secret.Name != bootstraputil.BootstrapTokenSecretName(id):
		return "", &InputError{Input: input, Reason: "BootstrapTokenInvalid", Message: fmt.Sprintf("Secret %s must be named %s for the API server to accept its token", name, bootstraputil.BootstrapTokenSecretName(id))}
	case bootstrapsecrets.GetData(secret, bootstrapapi.BootstrapTokenUsageAuthentication) != "true":
		return "", &InputError{Input: input, Reason: "BootstrapTokenInvalid", Message: fmt.Sprintf("Secret %s is not for authentication (usage-bootstrap-authentication is not \"true\")", name)}
	case bootstrapsecrets.HasExpired(secret, p.clock.Now()):
		return "", &InputError{Input: input, Reason: "BootstrapTokenExpired", Message: fmt.Sprintf("the token in Secret %s has expired", name)}
	}
	return token, nil
}

// clusterDNS is the kube-dns Service IP, the kubelet's --cluster-dns.
func (p *DefaultProvider) clusterDNS(ctx context.Context) (string, error) {
	const input = "cluster DNS"
	if p.opts.ClusterDNS != "" {
		if net.ParseIP(p.opts.ClusterDNS) == nil {
			return "", &InputError{Input: input, Reason: "ClusterDNSInvalid", Message: fmt.Sprintf("--cluster-dns %q is not an IP address", p.opts.ClusterDNS)}
		}
		return p.opts.ClusterDNS, nil
	}
	svc := &corev1.Service{}
	if err := p.reader.Get(ctx, types.NamespacedName{Namespace: metav1.NamespaceSystem, Name: "kube-dns"}, svc); err != nil {
		if apierrors.IsNotFound(err) {
			return "", &InputError{Input: input, Reason: "ClusterDNSNotFound", Message: "Service kube-system/kube-dns does not exist; set --cluster-dns (CLUSTER_DNS) to the cluster DNS IP"}
		}
		return "", &InputError{Input: input, Reason: "ClusterDNSUnreadable", Message: fmt.Sprintf("reading Service kube-system/kube-dns: %v", err)}
	}
	if net.ParseIP(svc.Spec.ClusterIP) == nil {
		return "", &InputError{Input: input, Reason: "ClusterDNSNotFound", Message: fmt.Sprintf("Service kube-system/kube-dns has no cluster IP (%q); set --cluster-dns", svc.Spec.ClusterIP)}
	}
	return svc.Spec.ClusterIP, nil
}
