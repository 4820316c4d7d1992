// Package localcluster runs a local Kubernetes control plane made of real,
// pinned components built into bin/ (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok) on loopback, and the
// processes that run against it (Service): azuresim, the controller, the
// virtual node. Stack composes them with the fleet monitor; `make run`, the
// e2e suites and the benchmark harness all start that one composition.
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
	if opts, err = prepareStateDir(opts); err != nil {
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
	ports, err := freeComponentPorts()
	if err != nil {
		return nil, err
	}
	c.Server = fmt.Sprintf("https://127.0.0.1:%d", ports.apiServer)
	if err := c.writeKubeconfig(); err != nil {
		return nil, err
	}
	if err := c.writeKwokConfig(); err != nil {
		return nil, err
	}
	for _, comp := range c.controlPlane(ports) {
		if err := c.startComponent(ctx, comp); err != nil {
			return nil, err
		}
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

// prepareStateDir makes the options' paths absolute, checks that every
// component binary is there, stops what an earlier run left running in the
// state directory and empties it.
func prepareStateDir(opts Options) (Options, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	// Absolute paths: pid files record the binary to recognise leftovers, and
	// components resolve relative paths against their own working directory.
	var err error
	if opts.BinDir, err = filepath.Abs(opts.BinDir); err != nil {
		return opts, err
	}
	if opts.StateDir, err = filepath.Abs(opts.StateDir); err != nil {
		return opts, err
	}
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		if _, err := os.Stat(filepath.Join(opts.BinDir, name)); err != nil {
			return opts, fmt.Errorf("%s is not in %s: run `make tools` first", name, opts.BinDir)
		}
	}
	if stopped, err := KillLeftovers(opts.StateDir); err != nil {
		return opts, err
	} else if len(stopped) > 0 {
		fmt.Fprintf(opts.Log, "stopped components left by an earlier run: %v\n", stopped)
	}
	return opts, os.RemoveAll(opts.StateDir)
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
		l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
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
