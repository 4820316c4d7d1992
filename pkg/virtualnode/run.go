package virtualnode

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/utils/clock"

	"github.com/azkarpenter/azkarpenter/pkg/providers/containerinstance"
)

// ServeOptions say how the kubelet API (kubectl logs) is served.
type ServeOptions struct {
	// ListenAddr is the HTTPS address, ":10250" by default.
	ListenAddr string
	// CertFile and KeyFile are the serving certificate; without them a
	// self-signed one for InternalIP is made, which serves API servers that
	// do not verify kubelet certificates (no --kubelet-certificate-authority).
	CertFile, KeyFile string
	// ClientCAFile verifies the API server's client certificate
	// (--kubelet-client-certificate); requests are then authorized with
	// SubjectAccessReviews, as a kubelet's webhook authorization does.
	ClientCAFile string
	// Anonymous serves without authentication: only for a cluster whose
	// API server presents no client certificate to kubelets (the local one).
	Anonymous bool
}

// Run registers the virtual node and runs it until ctx ends.
func Run(ctx context.Context, cfg Config, serve ServeOptions, aci containerinstance.Provider, kube kubernetes.Interface) error {
	cfg = cfg.withDefaults()
	if serve.ListenAddr == "" {
		serve.ListenAddr = ":" + strconv.Itoa(int(cfg.KubeletPort))
	}
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "virtual-node", Host: cfg.NodeName})

	p := NewProvider(cfg, aci, kube, recorder, clock.RealClock{})
	p.runCtx = ctx
	if err := p.waitForQuota(ctx); err != nil {
		return err
	}
	nodeAvailable.Set(1, map[string]string{"node": cfg.NodeName})

	tlsOpt, err := tlsOption(cfg, serve)
	if err != nil {
		return err
	}
	auth := nodeutil.NoAuth()
	if !serve.Anonymous {
		var opts []nodeutil.WebhookAuthOption
		if serve.ClientCAFile != "" {
			ca, err := dynamiccertificates.NewDynamicCAContentFromFile("client-ca", serve.ClientCAFile)
			if err != nil {
				return fmt.Errorf("client CA: %w", err)
			}
			opts = append(opts, func(c *nodeutil.WebhookAuthConfig) error {
				c.AuthnConfig.ClientCertificateCAContentProvider = ca
				return nil
			})
		}
		if auth, err = nodeutil.WebhookAuth(kube, cfg.NodeName, opts...); err != nil {
			return err
		}
	}
	mux := http.NewServeMux()
	vk, err := nodeutil.NewNode(cfg.NodeName, func(pc nodeutil.ProviderConfig) (nodeutil.Provider, node.NodeProvider, error) {
		p.attach(pc)
		return p, p, nil
	}, nodeutil.WithClient(kube), func(c *nodeutil.NodeConfig) error {
		c.HTTPListenAddr = serve.ListenAddr
		c.Handler = nodeutil.WithAuth(auth, mux)
		c.EventRecorder = recorder
		c.NumWorkers = 4
		return nil
	}, nodeutil.AttachProviderRoutes(mux), tlsOpt)
	if err != nil {
		return err
	}
	go func() { _ = vk.Run(ctx) }()
	if err := vk.WaitReady(ctx, 0); err != nil {
		return err
	}
	p.log.Info("virtual node ready", "region", cfg.Region, "listen", serve.ListenAddr)
	go p.runLoops(ctx)
	<-vk.Done()
	if ctx.Err() != nil {
		return nil
	}
	return vk.Err()
}

func tlsOption(cfg Config, serve ServeOptions) (nodeutil.NodeOpt, error) {
	if serve.CertFile != "" {
		return nodeutil.WithTLSConfig(nodeutil.WithKeyPairFromPath(serve.CertFile, serve.KeyFile)), nil
	}
	var ips []net.IP
	if ip := net.ParseIP(cfg.InternalIP); ip != nil {
		ips = append(ips, ip)
	}
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey(cfg.NodeName, ips, nil)
	if err != nil {
		return nil, fmt.Errorf("self-signed serving certificate: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	return nodeutil.WithTLSConfig(func(c *tls.Config) error {
		c.Certificates = append(c.Certificates, cert)
		return nil
	}), nil
}
