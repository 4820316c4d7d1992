// Package localcluster runs a local Kubernetes control plane made of real,
// pinned components built into bin/ (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok) on loopback. `make run`,
// the e2e suites and the benchmark harness all start clusters through it.
package localcluster

import (
	"context"
	"crypto/tls"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/azkarpenter/azkarpenter/pkg/apis/crds"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
)

// KwokNodeAnnotation marks the nodes kwok keeps alive (heartbeats, leases,
// pod status). The simulator's node agent sets it on the nodes it registers.
const KwokNodeAnnotation = "kwok.x-k8s.io/node"

// Options configure a local cluster.
type Options struct {
	// BinDir holds the component binaries (make tools).
	BinDir string
	// StateDir holds PKI, etcd data, logs, pid files and the kubeconfig. It is
	// wiped on start: every run begins from an empty cluster.
	StateDir string
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// KwokStages are extra kwok Stage documents (YAML) added to kwok.yaml,
	// for nodes that something other than the node agent registers: the
	// benchmark's reference run with karpenter core's own kwok provider.
	KwokStages []byte
	// ExtraArgs are extra flags by component name ("kube-controller-manager",
	// "kube-scheduler", ...): the benchmark raises the control plane's own
	// client rate limits so that they do not hide karpenter's figures.
	ExtraArgs map[string][]string
	// SkipCRDs leaves the CRDs to be installed by someone else: the e2e
	// suite of the Helm chart installs them with the chart.
	SkipCRDs bool
}

// Component is a running part of the cluster, as shown to the user.
type Component struct {
	Name    string
	PID     int
	Address string
	LogPath string
}

// Cluster is a running local control plane.
type Cluster struct {
	opts       Options
	pki        pki
	procs      []*process
	components []Component
	// Kubeconfig is the path of the admin kubeconfig.
	Kubeconfig string
	// Config is the admin REST config.
	Config *rest.Config
	// Server is the API server URL.
	Server string
	// BootstrapToken is the token nodes join with (kube-system Secret
	// bootstrap-token-<id>).
	BootstrapToken string

	azureSim *azuresim.AdminClient
}

// Start brings up etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok, waits for each to be healthy and installs the
// project's CRDs. On error everything already started is stopped.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	// Absolute paths: pid files record the binary to recognise leftovers, and
	// components resolve relative paths against their own working directory.
	if opts.BinDir, err = filepath.Abs(opts.BinDir); err != nil {
		return nil, err
	}
	if opts.StateDir, err = filepath.Abs(opts.StateDir); err != nil {
		return nil, err
	}
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		if _, err := os.Stat(filepath.Join(opts.BinDir, name)); err != nil {
			return nil, fmt.Errorf("%s is not in %s: run `make tools` first", name, opts.BinDir)
		}
	}
	if stopped, err := KillLeftovers(opts.StateDir); err != nil {
		return nil, err
	} else if len(stopped) > 0 {
		fmt.Fprintf(opts.Log, "stopped components left by an earlier run: %v\n", stopped)
	}
	if err := os.RemoveAll(opts.StateDir); err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts, pki: pki{dir: filepath.Join(opts.StateDir, "pki")}, Kubeconfig: filepath.Join(opts.StateDir, "kubeconfig")}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	if err := c.pki.generate(); err != nil {
		return nil, fmt.Errorf("generating certificates: %w", err)
	}
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	etcdClient, etcdPeer, apiPort, kcmPort, schedPort := ports[0], ports[1], ports[2], ports[3], ports[4]
	c.Server = fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	if err := c.writeKubeconfig(); err != nil {
		return nil, err
	}

	steps := []struct {
		name, address string
		args          []string
		ready         func(context.Context) error
	}{
		{"etcd", fmt.Sprintf("http://127.0.0.1:%d", etcdClient), []string{
			"--name=local",
			"--data-dir=" + filepath.Join(opts.StateDir, "etcd"),
			fmt.Sprintf("--listen-client-urls=http://127.0.0.1:%d", etcdClient),
			fmt.Sprintf("--advertise-client-urls=http://127.0.0.1:%d", etcdClient),
			fmt.Sprintf("--listen-peer-urls=http://127.0.0.1:%d", etcdPeer),
			fmt.Sprintf("--initial-advertise-peer-urls=http://127.0.0.1:%d", etcdPeer),
			fmt.Sprintf("--initial-cluster=local=http://127.0.0.1:%d", etcdPeer),
			// The state is thrown away on every start, so durability buys nothing.
			"--unsafe-no-fsync",
			"--quota-backend-bytes=4294967296",
			"--log-level=warn",
		}, httpReady(fmt.Sprintf("http://127.0.0.1:%d/health", etcdClient), nil)},
		{"kube-apiserver", c.Server, []string{
			fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", etcdClient),
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(apiPort),
			"--tls-cert-file=" + c.pki.servingCert(),
			"--tls-private-key-file=" + c.pki.servingKey(),
			"--client-ca-file=" + c.pki.caCert(),
			"--service-account-key-file=" + c.pki.serviceAccountPub(),
			"--service-account-signing-key-file=" + c.pki.serviceAccountKey(),
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--api-audiences=https://kubernetes.default.svc.cluster.local",
			"--service-cluster-ip-range=" + ServiceCIDR,
			"--authorization-mode=Node,RBAC",
			// Nodes join as kubelets do on AKS: TLS bootstrapping with a
			// bootstrap token; then each node may change only its own Node,
			// and only labels a kubelet may set.
			"--enable-bootstrap-token-auth=true",
			"--enable-admission-plugins=NodeRestriction",
			"--allow-privileged=true",
			"--cert-dir=" + filepath.Join(opts.StateDir, "apiserver"),
			"--v=1",
		}, c.apiServerReady},
		{"kube-controller-manager", fmt.Sprintf("https://127.0.0.1:%d", kcmPort), []string{
			"--kubeconfig=" + c.Kubeconfig,
			"--authentication-kubeconfig=" + c.Kubeconfig,
			"--authorization-kubeconfig=" + c.Kubeconfig,
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(kcmPort),
			"--leader-elect=false",
			"--cluster-name=azkarpenter-local",
			"--root-ca-file=" + c.pki.caCert(),
			"--service-account-private-key-file=" + c.pki.serviceAccountKey(),
			"--cert-dir=" + filepath.Join(opts.StateDir, "kube-controller-manager"),
			// The bootstrap signer and token cleaner are off by default; the
			// CSR signer signs kubelet client certificates with the cluster CA.
			"--controllers=*,bootstrapsigner,tokencleaner",
			"--cluster-signing-cert-file=" + c.pki.caCert(),
			"--cluster-signing-key-file=" + c.pki.caKey(),
			"--kube-api-qps=200",
			"--kube-api-burst=400",
			"--v=1",
		}, httpReady(fmt.Sprintf("https://127.0.0.1:%d/healthz", kcmPort), insecureTLS())},
		{"kube-scheduler", fmt.Sprintf("https://127.0.0.1:%d", schedPort), []string{
			"--kubeconfig=" + c.Kubeconfig,
			"--authentication-kubeconfig=" + c.Kubeconfig,
			"--authorization-kubeconfig=" + c.Kubeconfig,
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(schedPort),
			"--leader-elect=false",
			"--cert-dir=" + filepath.Join(opts.StateDir, "kube-scheduler"),
			"--v=1",
		}, httpReady(fmt.Sprintf("https://127.0.0.1:%d/healthz", schedPort), insecureTLS())},
		{"kwok", "manages nodes annotated " + KwokNodeAnnotation + "=fake", []string{
			"--kubeconfig=" + c.Kubeconfig,
			"--config=" + filepath.Join(opts.StateDir, "kwok.yaml"),
			"--manage-all-nodes=false",
			"--manage-nodes-with-annotation-selector=" + KwokNodeAnnotation + "=fake",
			"--node-lease-duration-seconds=40",
			// Pod IPs are only labels here: a /16 leaves room for benchmark fleets.
			"--cidr=10.0.0.1/16",
		}, nil},
	}
	// kwok reads ~/.kwok/kwok.yaml unless told otherwise; a config of our own
	// keeps a developer's personal config out of the cluster and replaces
	// kwok's default node stages (see kwok.yaml).
	config := kwokConfig
	if len(opts.KwokStages) > 0 {
		config = append(append(append([]byte{}, kwokConfig...), "\n---\n"...), opts.KwokStages...)
	}
	if err := os.WriteFile(filepath.Join(opts.StateDir, "kwok.yaml"), config, 0o644); err != nil {
		return nil, err
	}
	for _, s := range steps {
		start := time.Now()
		p, err := startProcess(s.name, filepath.Join(opts.BinDir, s.name), append(s.args, opts.ExtraArgs[s.name]...), opts.StateDir)
		if err != nil {
			return nil, err
		}
		c.procs = append(c.procs, p)
		if s.ready != nil {
			if err := waitFor(ctx, p, 60*time.Second, s.ready); err != nil {
				return nil, err
			}
		} else if err := c.settle(ctx, p); err != nil {
			return nil, err
		}
		fmt.Fprintf(opts.Log, "  %-24s ready in %s\n", s.name, time.Since(start).Round(10*time.Millisecond))
		c.components = append(c.components, Component{Name: s.name, PID: p.pid(), Address: s.address, LogPath: p.logPath})
	}

	if !opts.SkipCRDs {
		start := time.Now()
		if _, err := envtest.InstallCRDs(c.Config, envtest.CRDInstallOptions{CRDs: crds.All(), MaxTime: time.Minute}); err != nil {
			return nil, fmt.Errorf("installing CRDs: %w", err)
		}
		fmt.Fprintf(opts.Log, "  %-24s installed in %s\n", "CRDs", time.Since(start).Round(10*time.Millisecond))
	}
	if err := c.prepareNodeJoin(ctx); err != nil {
		return nil, fmt.Errorf("preparing the cluster for nodes to join: %w", err)
	}
	return c, nil
}

// settle gives a component without a health endpoint a moment to fail fast
// (bad flags, unreachable API server) before it is reported as started.
func (c *Cluster) settle(ctx context.Context, p *process) error {
	select {
	case <-p.exited:
		return p.exitError()
	case <-time.After(time.Second):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Components lists the running components in start order.
func (c *Cluster) Components() []Component { return c.components }

// Client returns a controller-runtime client for the cluster.
func (c *Cluster) Client() (client.Client, error) {
	return client.New(c.Config, client.Options{})
}

// Failed returns an error when a component has exited on its own.
func (c *Cluster) Failed() error {
	for _, p := range c.procs {
		if !p.running() {
			return p.exitError()
		}
	}
	return nil
}

// Stop stops the components in reverse start order (SIGTERM, then SIGKILL
// after a grace period). It is safe to call more than once.
func (c *Cluster) Stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].stop(15 * time.Second)
	}
}

// PIDs returns the process IDs of every component, running or not.
func (c *Cluster) PIDs() []int {
	pids := make([]int, 0, len(c.procs))
	for _, p := range c.procs {
		pids = append(pids, p.pid())
	}
	return pids
}

func (c *Cluster) writeKubeconfig() error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["azkarpenter-local"] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthority: c.pki.caCert()}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificate: c.pki.adminCert(), ClientKey: c.pki.adminKey()}
	cfg.Contexts["azkarpenter-local"] = &clientcmdapi.Context{Cluster: "azkarpenter-local", AuthInfo: "admin"}
	cfg.CurrentContext = "azkarpenter-local"
	if err := clientcmd.WriteToFile(*cfg, c.Kubeconfig); err != nil {
		return err
	}
	restConfig, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return err
	}
	// In memory, not file names: client-go watches certificate files for
	// rotation with goroutines that live as long as the process, and these
	// never rotate (a new cluster gets new ones).
	if err := rest.LoadTLSFiles(restConfig); err != nil {
		return err
	}
	// Local clients should not be the bottleneck of a demo or a benchmark.
	restConfig.QPS, restConfig.Burst = 200, 400
	c.Config = restConfig
	return nil
}

func (c *Cluster) apiServerReady(ctx context.Context) error {
	transport, err := rest.TransportFor(c.Config)
	if err != nil {
		return err
	}
	return httpReady(c.Server+"/readyz", transport)(ctx)
}

func insecureTLS() http.RoundTripper {
	// The controller-manager and scheduler serve health on self-signed
	// certificates generated at start; only their liveness is checked here.
	return &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} // loopback health probe
}

func httpReady(url string, transport http.RoundTripper) func(context.Context) error {
	if transport == nil {
		transport = http.DefaultTransport
	}
	hc := &http.Client{Transport: transport, Timeout: 2 * time.Second}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s: %s", url, resp.Status, body)
		}
		return nil
	}
}

// freePorts reserves n distinct loopback ports by listening on port 0. The
// listeners are closed before the components bind, a small race that only
// matters when something else grabs the same port in between.
func freePorts(n int) ([]int, error) {
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// kwokConfig is kwok's configuration: explicit node stages that never touch
// a Node's capacity, allocatable or nodeInfo.
//
//go:embed kwok.yaml
var kwokConfig []byte

// ErrNoObjects is returned by Apply when the files hold no objects.
var ErrNoObjects = errors.New("no Kubernetes objects found")
