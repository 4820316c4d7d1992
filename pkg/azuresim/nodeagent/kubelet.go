package nodeagent

// The kubelet's part of joining, with the node's own credentials: TLS
// bootstrapping with the token from the custom data, registering the Node
// and reporting its status. Everything the node knows of the cluster comes
// from its custom data: the API server's name (reached through the simulated
// network), the CA it verifies the server with, and the bootstrap token. So a
// wrong name, CA or token fails here as it fails on Azure.

import (
	"context"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"
	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/certificate/csr"
	"k8s.io/client-go/util/keyutil"

	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
)

const (
	// TaintUninitialized is the taint a kubelet with --cloud-provider=external
	// (every AKS node) registers with; the cloud node manager removes it once
	// it has initialized the node from the cloud.
	TaintUninitialized = "node.cloudprovider.kubernetes.io/uninitialized"
	// nodesGroup and nodeUserPrefix make a kubelet's identity: the Node
	// authorizer and NodeRestriction admission know a node by them.
	nodesGroup     = "system:nodes"
	nodeUserPrefix = "system:node:"
	// csrTimeout bounds the wait for kube-controller-manager to approve and
	// sign a kubelet's certificate request. It normally takes well under a
	// second; a kubelet waits for an hour, but a simulated node that is not
	// served within a minute is better retried (and reported).
	csrTimeout = time.Minute
	// nodeRequestTimeout bounds one request a node makes.
	nodeRequestTimeout = 30 * time.Second
	// maxBootstrapClients bounds the bootstrap clients kept: one per distinct
	// (API server, CA, token) that custom data carried, normally one.
	maxBootstrapClients = 4
)

// kubeletClientUsages are the key usages a kubelet asks for in its client
// certificate request (an ECDSA key needs no key encipherment).
var kubeletClientUsages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}

// kubeletCredentials are the client certificate and key a node's kubelet
// was issued. A kubelet keeps them on disk and bootstraps once; the agent
// keeps them per VM for the same reason.
type kubeletCredentials struct {
	nodeName        string
	certPEM, keyPEM []byte
}

// bootstrapClient is a client authenticated with a bootstrap token. Every
// node of a cluster carries the same token, API server and CA, so one client
// serves them all.
type bootstrapClient struct {
	client    kubernetes.Interface
	transport *http.Transport
}

// apiServerURL is where an AKS image points the kubelet's kubeconfigs:
// https://<api_server_name>:443.
func apiServerURL(boot *bootstrap.Config) string {
	return "https://" + net.JoinHostPort(boot.Cluster.APIServerName, strconv.Itoa(bootstrap.APIServerPort))
}

// noProxy keeps this machine's proxy settings away from simulated nodes: a
// node reaches the API server directly through its virtual network.
func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

// nodeTransport connects to the API server as a node does: through the
// simulated network, verifying the server's certificate against the CA from
// the custom data for the name from the custom data (the URL's host), and
// presenting the kubelet's client certificate when it has one.
func (a *Agent) nodeTransport(boot *bootstrap.Config, certPEM, keyPEM []byte) (*http.Transport, error) {
	tlsConfig, err := transport.TLSConfigFor(&transport.Config{TLS: transport.TLSConfig{
		CAData: boot.Cluster.CACertificate, CertData: certPEM, KeyData: keyPEM,
	}})
	if err != nil {
		return nil, fmt.Errorf("the node's TLS configuration: %w", err)
	}
	// net/http's own HTTP/2, not the x/net transport client-go configures:
	// CloseIdleConnections then closes a node's connection when it is done.
	return &http.Transport{
		Proxy:               noProxy,
		TLSClientConfig:     tlsConfig,
		DialContext:         a.opts.Routes.DialContext,
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     90 * time.Second,
	}, nil
}

func kubeletUserAgent(boot *bootstrap.Config) string {
	return "kubelet/v" + boot.KubernetesVersion + " (" + lower(string(boot.OS)) + ") azuresim"
}

// bootstrapClientFor returns the client that authenticates with the custom
// data's bootstrap token.
func (a *Agent) bootstrapClientFor(boot *bootstrap.Config) (kubernetes.Interface, error) {
	sum := sha256.Sum256([]byte(boot.Cluster.APIServerName + "\x00" + string(boot.Cluster.CACertificate) + "\x00" + boot.Cluster.BootstrapToken))
	key := hex.EncodeToString(sum[:])
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.bootstrapClients[key]; ok {
		return c.client, nil
	}
	t, err := a.nodeTransport(boot, nil, nil)
	if err != nil {
		return nil, err
	}
	// Every kubelet has its own client and its own 50 requests a second;
	// this one client serves every node's TLS bootstrap (four requests
	// each), so a client-side limit here would be one for the whole fleet:
	// at 50 a second it paced a 1,000-node burst to 12 nodes a second.
	client, err := kubernetes.NewForConfig(&rest.Config{
		Host: apiServerURL(boot), Transport: t, BearerToken: boot.Cluster.BootstrapToken,
		UserAgent: kubeletUserAgent(boot), QPS: -1, Timeout: nodeRequestTimeout,
	})
	if err != nil {
		return nil, err
	}
	if len(a.bootstrapClients) >= maxBootstrapClients {
		for k, c := range a.bootstrapClients {
			c.transport.CloseIdleConnections()
			delete(a.bootstrapClients, k)
		}
	}
	a.bootstrapClients[key] = &bootstrapClient{client: client, transport: t}
	return client, nil
}

// bootstrapKubelet TLS-bootstraps as a kubelet does: with the bootstrap
// token it requests a client certificate for system:node:<name> in group
// system:nodes from the kube-apiserver-client-kubelet signer, and waits for
// kube-controller-manager to approve and sign it.
func (a *Agent) bootstrapKubelet(ctx context.Context, boot *bootstrap.Config, nodeName string) (*kubeletCredentials, error) {
	client, err := a.bootstrapClientFor(boot)
	if err != nil {
		return nil, err
	}
	keyPEM, err := keyutil.MakeEllipticPrivateKeyPEM()
	if err != nil {
		return nil, err
	}
	key, err := keyutil.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	csrPEM, err := cert.MakeCSR(key, &pkix.Name{Organization: []string{nodesGroup}, CommonName: nodeUserPrefix + nodeName}, nil, nil)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, csrTimeout)
	defer cancel()
	name, uid, err := csr.RequestCertificateWithContext(ctx, client, csrPEM, "", certificatesv1.KubeAPIServerClientKubeletSignerName, nil, kubeletClientUsages, key)
	if err != nil {
		tokenID, _, _ := strings.Cut(boot.Cluster.BootstrapToken, ".")
		return nil, fmt.Errorf("TLS bootstrap with the custom data's bootstrap token %s.<redacted>: %w", tokenID, err)
	}
	certPEM, err := csr.WaitForCertificate(ctx, client, name, uid)
	if err != nil {
		if wait.Interrupted(err) || errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("TLS bootstrap: certificate signing request %s was not approved and signed within %s (is kube-controller-manager signing kubelet client certificates?)", name, csrTimeout)
		}
		return nil, fmt.Errorf("TLS bootstrap: certificate signing request %s: %w", name, err)
	}
	return &kubeletCredentials{nodeName: nodeName, certPEM: certPEM, keyPEM: keyPEM}, nil
}

// kubelet is one reconcile's access to a node's kubelet identity: it
// bootstraps on first use (once per VM) and closes its connection when the
// reconcile ends, so an idle node holds its certificate and nothing else.
type kubelet struct {
	a     *Agent
	vmKey string
	boot  *bootstrap.Config
	name  string

	nodes     corev1client.NodeInterface
	transport *http.Transport
}

func (a *Agent) kubeletFor(vmKey string, boot *bootstrap.Config, name string) *kubelet {
	return &kubelet{a: a, vmKey: vmKey, boot: boot, name: name}
}

// Nodes is the Nodes API as the node's own identity (system:node:<name>).
func (k *kubelet) Nodes(ctx context.Context) (corev1client.NodeInterface, error) {
	if k.nodes != nil {
		return k.nodes, nil
	}
	if k.a.kubeletNodes != nil {
		k.nodes = k.a.kubeletNodes
		return k.nodes, nil
	}
	k.a.mu.Lock()
	creds := k.a.kubelets[k.vmKey]
	k.a.mu.Unlock()
	if creds == nil || creds.nodeName != k.name {
		var err error
		if creds, err = k.a.bootstrapKubelet(ctx, k.boot, k.name); err != nil {
			return nil, err
		}
		k.a.mu.Lock()
		k.a.kubelets[k.vmKey] = creds
		k.a.mu.Unlock()
	}
	t, err := k.a.nodeTransport(k.boot, creds.certPEM, creds.keyPEM)
	if err != nil {
		return nil, err
	}
	client, err := corev1client.NewForConfig(&rest.Config{
		Host: apiServerURL(k.boot), Transport: t, UserAgent: kubeletUserAgent(k.boot),
		QPS: 50, Burst: 100, Timeout: nodeRequestTimeout,
	})
	if err != nil {
		return nil, err
	}
	k.nodes, k.transport = client.Nodes(), t
	return k.nodes, nil
}

// Close releases the kubelet's connection.
func (k *kubelet) Close() {
	if k.transport != nil {
		k.transport.CloseIdleConnections()
	}
}

// register creates the Node as a kubelet registers it: its labels (the
// kubelet's own, then --node-labels), --register-with-taints plus the
// uninitialized taint of an external cloud provider, and its first status
// report. The providerID, the instance type and topology labels and the
// addresses are the cloud node manager's to set.
func (k *kubelet) register(ctx context.Context, vm VM) (*corev1.Node, error) {
	nodes, err := k.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	osInfo := imageOS(vm)
	labels := map[string]string{
		corev1.LabelHostname:      k.name,
		corev1.LabelOSStable:      osInfo.OS,
		corev1.LabelArchStable:    arch(vm.SKU),
		"beta.kubernetes.io/os":   osInfo.OS,
		"beta.kubernetes.io/arch": arch(vm.SKU),
	}
	if osInfo.WindowsBuild != "" {
		labels[corev1.LabelWindowsBuild] = osInfo.WindowsBuild
	}
	for key, v := range k.boot.Labels {
		labels[key] = v
	}
	taints := append(append([]corev1.Taint{}, k.boot.Taints...), corev1.Taint{Key: TaintUninitialized, Value: "true", Effect: corev1.TaintEffectNoSchedule})
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   k.name,
			Labels: labels,
			Annotations: map[string]string{
				KwokAnnotation: KwokAnnotationValue,
				"volumes.kubernetes.io/controller-managed-attach-detach": "true",
				// What kube-controller-manager's TTL controller would set
				// for a cluster of this size, saving it a write per node.
				"node.alpha.kubernetes.io/ttl": "0",
			},
		},
		Spec:   corev1.NodeSpec{Taints: taints},
		Status: k.a.status(vm, k.boot),
	}
	return nodes.Create(ctx, node, metav1.CreateOptions{})
}
