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
func run(ctx context.Context, args []string, stderr io.Writer, ready func(url string)) error {
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
	addr := fs.String("addr", "127.0.0.1:8443", "listen address (host:port; port 0 picks one)")
	certDir := fs.String("cert-dir", "", "directory that receives ca.crt (the CA clients must trust) and admin-token (required)")
	adminToken := fs.String("admin-token", "", "bearer token for /admin; empty generates one and writes it to <cert-dir>/admin-token")
	configPath := fs.String("config", "", "fault-model YAML file (timeScale, latency, quota, capacity, errors, subnets, throttling, spot, listDelay)")
	timeScale := fs.Float64("time-scale", 0, "multiply every simulated duration by this factor (0.01 = 100x faster); overrides the file")
	noThrottle := fs.Bool("no-throttling", false, "disable ARM throttling (token buckets, 429s)")
	pprofAddr := fs.String("pprof-addr", os.Getenv("AZURESIM_PPROF_ADDR"), "serve net/http/pprof on this address (e.g. 127.0.0.1:6061), for profiling the simulator and its node agent (AZURESIM_PPROF_ADDR)")
	agentWorkers := fs.Int("node-agent-workers", nodeagent.DefaultWorkers, "how many nodes the node agent joins at once")
	regionalQuota := fs.Int("regional-quota", -1, "Total Regional vCPUs quota per location (-1 keeps the file/default)")
	familyQuota := fs.Int("family-quota", -1, "default per-family vCPU quota (-1 keeps the file/default)")
	spotQuota := fs.Int("spot-quota", -1, "low-priority (spot) vCPU quota (-1 keeps the file/default)")
	evictionRate := fs.Float64("spot-eviction-rate", -1, "random spot evictions per running spot VM per simulated hour (-1 keeps the file/default)")
	spotNotice := fs.Duration("spot-notice", 0, "notice between a spot eviction and deletion, simulated time (0 keeps the file/default of 30s)")
	pageSize := fs.Int("page-size", 100, "items per page of VM, NIC and gallery image version lists")
	seed := fs.Uint64("seed", 0, "random seed for latencies, injected errors and evictions (0 = random)")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the cluster to register Nodes in; empty disables the node agent. "+
		"Nodes join with the bootstrap token from their custom data; this kubeconfig plays the cloud provider (cloud-node-manager)")
	routes := nodeagent.Routes{}
	fs.Func("route", "a route of the simulated network, `host:port=ip:port`: where nodes' connections to an endpoint named in their custom data go, "+
		"e.g. the API server's FQDN on 443 to where it listens (repeatable); a node told a name without a route cannot resolve it", func(v string) error {
		from, to, err := nodeagent.ParseRoute(v)
		if err != nil {
			return err
		}
		routes.Add(from, to)
		return nil
	})
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pprofAddr != "" {
		// net/http/pprof registers its handlers on the default mux.
		go func() { _ = http.ListenAndServe(*pprofAddr, nil) }() // a local profiling endpoint, opt-in
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if *certDir == "" {
		return errors.New("--cert-dir is required")
	}
	cfg := azuresim.DefaultConfig()
	if *configPath != "" {
		var err error
		if cfg, err = azuresim.LoadConfig(*configPath); err != nil {
			return err
		}
	}
	if *timeScale > 0 {
		cfg.TimeScale = *timeScale
	}
	if *noThrottle {
		cfg.Throttling.Disabled = true
	}
	if *regionalQuota >= 0 {
		cfg.Quota.RegionalLimit = *regionalQuota
	}
	if *familyQuota >= 0 {
		cfg.Quota.DefaultFamilyLimit = *familyQuota
	}
	if *spotQuota >= 0 {
		cfg.Quota.LowPriorityLimit = *spotQuota
	}
	if *evictionRate >= 0 {
		cfg.Spot.EvictionRatePerHour = *evictionRate
	}
	if *spotNotice > 0 {
		cfg.Spot.NoticePeriod = azuresim.Duration{Duration: *spotNotice}
	}
	srv, err := azuresim.NewServer(azuresim.Options{Addr: *addr, CertDir: *certDir, AdminToken: *adminToken, Config: &cfg,
		Logger: log, Seed: *seed, PageSize: *pageSize})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*certDir, "admin-token"), []byte(srv.AdminToken()), 0o600); err != nil {
		_ = srv.Close()
		return err
	}
	var wg sync.WaitGroup
	if *kubeconfig != "" {
		rc, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
		if err != nil {
			_ = srv.Close()
			return fmt.Errorf("--kubeconfig: %w", err)
		}
		// The agent plays the cloud provider's controllers for every node
		// at once; client-go's default of 5 requests a second would make
		// it, not the simulated cloud, what paces a fleet's registration.
		rc.QPS, rc.Burst = 200, 400
		client, err := kubernetes.NewForConfig(rc)
		if err != nil {
			_ = srv.Close()
			return err
		}
		agent := nodeagent.New(nodeagent.Options{Client: client, Source: srv, Routes: routes, Workers: *agentWorkers, Logger: log.With("component", "nodeagent")})
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = agent.Run(ctx)
		}()
		log.Info("node agent enabled", "kubeconfig", *kubeconfig, "routes", routes)
	}
	log.Info("azuresim ready", "url", srv.URL(), "ca", filepath.Join(*certDir, "ca.crt"), "adminToken", filepath.Join(*certDir, "admin-token"))
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
