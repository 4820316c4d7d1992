// Command azuresim serves the Azure simulator: ARM (Compute, Network), the
// Retail Prices API and an admin API over HTTPS, and optionally registers
// Kubernetes Nodes for its VMs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // served only with --pprof-addr
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim/nodeagent"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "azuresim:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends; ready, when set, learns the URL once serving.
// flags are azuresim's command line.
type flags struct {
	addr, certDir, adminToken, configPath, pprofAddr, kubeconfig, logLevel string
	timeScale, evictionRate                                                float64
	noThrottle                                                             bool
	agentWorkers, regionalQuota, familyQuota, spotQuota, pageSize          int
	spotNotice                                                             time.Duration
	seed                                                                   uint64
	routes                                                                 nodeagent.Routes
}

func parseFlags(args []string, stderr io.Writer) (*flags, error) {
	fs := flag.NewFlagSet("azuresim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: azuresim [flags]

Serves a simulated Azure over HTTPS: ARM Compute/Network, the Retail Prices
API (/api/retail/prices) and an admin API (/admin, bearer token). Clients
trust <cert-dir>/ca.crt. See docs/azuresim.md.

Flags:
`)
		fs.PrintDefaults()
	}
	f := &flags{routes: nodeagent.Routes{}}
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8443", "listen address (host:port; port 0 picks one)")
	fs.StringVar(&f.certDir, "cert-dir", "", "directory that receives ca.crt (the CA clients must trust) and admin-token (required)")
	fs.StringVar(&f.adminToken, "admin-token", "", "bearer token for /admin; empty generates one and writes it to <cert-dir>/admin-token")
	fs.StringVar(&f.configPath, "config", "", "fault-model YAML file (timeScale, latency, quota, capacity, errors, subnets, throttling, spot, listDelay)")
	fs.Float64Var(&f.timeScale, "time-scale", 0, "multiply every simulated duration by this factor (0.01 = 100x faster); overrides the file")
	fs.BoolVar(&f.noThrottle, "no-throttling", false, "disable ARM throttling (token buckets, 429s)")
	fs.StringVar(&f.pprofAddr, "pprof-addr", os.Getenv("AZURESIM_PPROF_ADDR"), "serve net/http/pprof on this address (e.g. 127.0.0.1:6061), for profiling the simulator and its node agent (AZURESIM_PPROF_ADDR)")
	fs.IntVar(&f.agentWorkers, "node-agent-workers", nodeagent.DefaultWorkers, "how many nodes the node agent joins at once")
	fs.IntVar(&f.regionalQuota, "regional-quota", -1, "Total Regional vCPUs quota per location (-1 keeps the file/default)")
	fs.IntVar(&f.familyQuota, "family-quota", -1, "default per-family vCPU quota (-1 keeps the file/default)")
	fs.IntVar(&f.spotQuota, "spot-quota", -1, "low-priority (spot) vCPU quota (-1 keeps the file/default)")
	fs.Float64Var(&f.evictionRate, "spot-eviction-rate", -1, "random spot evictions per running spot VM per simulated hour (-1 keeps the file/default)")
	fs.DurationVar(&f.spotNotice, "spot-notice", 0, "notice between a spot eviction and deletion, simulated time (0 keeps the file/default of 30s)")
	fs.IntVar(&f.pageSize, "page-size", 100, "items per page of VM, NIC and gallery image version lists")
	fs.Uint64Var(&f.seed, "seed", 0, "random seed for latencies, injected errors and evictions (0 = random)")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster to register Nodes in; empty disables the node agent. "+
		"Nodes join with the bootstrap token from their custom data; this kubeconfig plays the cloud provider (cloud-node-manager)")
	fs.Func("route", "a route of the simulated network, `host:port=ip:port`: where nodes' connections to an endpoint named in their custom data go, "+
		"e.g. the API server's FQDN on 443 to where it listens (repeatable); a node told a name without a route cannot resolve it", func(v string) error {
		from, to, err := nodeagent.ParseRoute(v)
		if err != nil {
			return err
		}
		f.routes.Add(from, to)
		return nil
	})
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return f, nil
}

// simConfig is the fault model: the file's (or the default), with the
// flags that override it.
func (f *flags) simConfig() (azuresim.Config, error) {
	cfg := azuresim.DefaultConfig()
	if f.configPath != "" {
		var err error
		if cfg, err = azuresim.LoadConfig(f.configPath); err != nil {
			return cfg, err
		}
	}
	if f.timeScale > 0 {
		cfg.TimeScale = f.timeScale
	}
	if f.noThrottle {
		cfg.Throttling.Disabled = true
	}
	if f.regionalQuota >= 0 {
		cfg.Quota.RegionalLimit = f.regionalQuota
	}
	if f.familyQuota >= 0 {
		cfg.Quota.DefaultFamilyLimit = f.familyQuota
	}
	if f.spotQuota >= 0 {
		cfg.Quota.LowPriorityLimit = f.spotQuota
	}
	if f.evictionRate >= 0 {
		cfg.Spot.EvictionRatePerHour = f.evictionRate
	}
	if f.spotNotice > 0 {
		cfg.Spot.NoticePeriod = azuresim.Duration{Duration: f.spotNotice}
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, stderr io.Writer, ready func(url string)) error {
	f, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if f.pprofAddr != "" {
		// net/http/pprof registers its handlers on the default mux.
		go func() { _ = http.ListenAndServe(f.pprofAddr, nil) }() // a local profiling endpoint, opt-in
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if f.certDir == "" {
		return errors.New("--cert-dir is required")
	}
	cfg, err := f.simConfig()
	if err != nil {
		return err
	}
	srv, err := azuresim.NewServer(azuresim.Options{Addr: f.addr, CertDir: f.certDir, AdminToken: f.adminToken, Config: &cfg,
		Logger: log, Seed: f.seed, PageSize: f.pageSize})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(f.certDir, "admin-token"), []byte(srv.AdminToken()), 0o600); err != nil {
		_ = srv.Close()
		return err
	}
	var wg sync.WaitGroup
	if f.kubeconfig != "" {
		agent, err := newNodeAgent(f, srv, log)
		if err != nil {
			_ = srv.Close()
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = agent.Run(ctx)
		}()
		log.Info("node agent enabled", "kubeconfig", f.kubeconfig, "routes", f.routes)
	}
	log.Info("azuresim ready", "url", srv.URL(), "ca", filepath.Join(f.certDir, "ca.crt"), "adminToken", filepath.Join(f.certDir, "admin-token"))
	if ready != nil {
		ready(srv.URL())
	}
	<-ctx.Done()
	log.Info("azuresim shutting down")
	wg.Wait()
	shutdownStart := time.Now()
	err = srv.Close()
	log.Info("azuresim stopped", "took", time.Since(shutdownStart))
	return err
}

// newNodeAgent is the node agent that registers the Nodes of the
// simulator's VMs in the cluster of --kubeconfig.
func newNodeAgent(f *flags, srv *azuresim.Server, log *slog.Logger) (*nodeagent.Agent, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", f.kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig: %w", err)
	}
	// The agent plays the cloud provider's controllers for every node
	// at once; client-go's default of 5 requests a second would make
	// it, not the simulated cloud, what paces a fleet's registration.
	rc.QPS, rc.Burst = 200, 400
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	return nodeagent.New(nodeagent.Options{Client: client, Source: srv, Routes: f.routes, Workers: f.agentWorkers, Logger: log.With("component", "nodeagent")}), nil
}
