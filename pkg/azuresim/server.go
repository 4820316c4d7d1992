// Package azuresim is an Azure simulator that speaks the ARM (Compute,
// Network, Container Instances) and Retail Prices REST protocols over HTTPS, so the unmodified
// Azure SDK for Go can drive it with only an endpoint and a credential
// changed. It models quota, capacity, latency, throttling, injected errors
// and spot evictions, and can register Kubernetes Nodes for the VMs it runs
// (see the nodeagent package).
package azuresim

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
)

// Options configure a Server.
type Options struct {
	// Addr is the listen address; "127.0.0.1:0" (the default) picks a port.
	Addr string
	// CertDir, when set, receives ca.crt: the CA clients must trust.
	CertDir string
	// AdminToken guards /admin; empty generates a random one (AdminToken()).
	AdminToken string
	// Config is the initial fault model; nil means DefaultConfig().
	Config *Config
	// Catalog defaults to the embedded catalog.
	Catalog *catalog.Catalog
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Seed makes latencies, injected-error draws and evictions repeatable; 0 picks one.
	Seed uint64
	// PageSize bounds ARM list pages (VMs, NICs, gallery image versions);
	// default 100. Small values exercise nextLink.
	PageSize int
}

// Server is one simulated Azure: an HTTPS endpoint plus its state.
type Server struct {
	opts     Options
	cat      *catalog.Catalog
	log      *slog.Logger
	certs    *certBundle
	handler  http.Handler
	reads    *http.ServeMux // the GET handlers without middleware (see routes)
	throttle *throttler
	stats    *stats
	requests *requestLog
	admin    string

	ln       net.Listener
	httpSrv  *http.Server
	url      string
	startCfg Config

	mu    sync.RWMutex
	cfg   Config
	rng   *mrand.Rand
	fired map[int]int // error rule index -> times fired
	vms   map[string]*vmRecord
	nics  map[string]*nicRecord
	vnets map[string]*vnetRecord
	disks map[string]*diskRecord
	// hostGroups are dedicated host groups, by lower-cased ID.
	hostGroups map[string]*armcompute.DedicatedHostGroup
	// hosts are the dedicated hosts of the host groups, by lower-cased ID.
	hosts map[string]*hostRecord
	// diskEncryptionSets are the disk encryption sets, by lower-cased ID.
	diskEncryptionSets map[string]*armcompute.DiskEncryptionSet
	// galleries are AKS's community galleries, by lower(public name).
	galleries map[string]*communityGallery
	// netres are the load balancers, NSGs and route tables (netresources.go).
	netres *netResources
	// containerGroups are Container Instances groups, by lower-cased ID.
	containerGroups map[string]*containerGroupRecord
	ops             map[string]*asyncOp
	timers          map[*time.Timer]struct{}
	watchers        []func(vmID string)
	closed          bool
	stop            chan struct{}
	wg              sync.WaitGroup
	closeOnce       sync.Once

	transportOnce sync.Once
	transport     *http.Transport
}

// NewServer prepares a server; Start makes it listen.
func NewServer(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Catalog == nil {
		opts.Catalog = catalog.Default()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	cfg := DefaultConfig()
	if opts.Config != nil {
		cfg = *opts.Config
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("azuresim config: %w", err)
	}
	if opts.AdminToken == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		opts.AdminToken = hex.EncodeToString(b)
	}
	seed := opts.Seed
	if seed == 0 {
		seed = mrand.Uint64()
	}
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("azuresim addr %q: %w", opts.Addr, err)
	}
	certs, err := newCertBundle(uniq([]string{"127.0.0.1", "::1", "localhost", host}))
	if err != nil {
		return nil, fmt.Errorf("azuresim certificates: %w", err)
	}
	s := &Server{
		opts: opts, cat: opts.Catalog, log: opts.Logger, certs: certs, admin: opts.AdminToken,
		throttle: newThrottler(cfg.Throttling, cfg.TimeScale), stats: newStats(), requests: newRequestLog(), startCfg: cfg, cfg: cfg,
		rng: mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), stop: make(chan struct{}),
	}
	s.resetStateLocked()
	s.handler = s.routes()
	return s, nil
}

func uniq(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range in {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func (s *Server) resetStateLocked() {
	s.fired = map[int]int{}
	s.vms = map[string]*vmRecord{}
	s.nics = map[string]*nicRecord{}
	s.vnets = map[string]*vnetRecord{}
	s.netres = newNetResources()
	s.galleries = seedGalleries()
	s.disks = map[string]*diskRecord{}
	s.hostGroups = map[string]*armcompute.DedicatedHostGroup{}
	s.hosts = map[string]*hostRecord{}
	s.diskEncryptionSets = map[string]*armcompute.DiskEncryptionSet{}
	s.containerGroups = map[string]*containerGroupRecord{}
	s.ops = map[string]*asyncOp{}
	for t := range s.timers {
		if t.Stop() {
			s.wg.Done()
		}
	}
	s.timers = map[*time.Timer]struct{}{}
}

// Start listens and serves in the background.
func (s *Server) Start() error {
	if s.opts.CertDir != "" {
		if err := s.certs.writeTo(s.opts.CertDir); err != nil {
			return err
		}
	}
	// Binding is immediate; Stop, not a context, ends the server.
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", s.opts.Addr)
	if err != nil {
		return err
	}
	s.ln = ln
	s.url = "https://" + ln.Addr().String()
	s.httpSrv = &http.Server{
		Handler:           s.handler,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{s.certs.server}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := s.httpSrv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("azuresim serve failed", "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		s.evictionLoop()
	}()
	s.log.Info("azuresim listening", "url", s.url, "regions", len(s.cat.Regions), "skus", len(s.cat.SKUs))
	return nil
}

// Close stops serving, cancels pending simulated work and waits for every
// goroutine the server started.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		for t := range s.timers {
			if t.Stop() {
				s.wg.Done()
			}
		}
		s.timers = map[*time.Timer]struct{}{}
		s.mu.Unlock()
		close(s.stop)
		// Client connections first: an HTTP/2 server otherwise waits a
		// second for each connection's GOAWAY to be acknowledged.
		if s.transport != nil {
			s.transport.CloseIdleConnections()
		}
		if s.httpSrv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = s.httpSrv.Shutdown(ctx)
		}
		s.wg.Wait()
	})
	return err
}

// URL is the base URL, e.g. https://127.0.0.1:8443.
func (s *Server) URL() string { return s.url }

// CACertPEM is the CA certificate clients must trust.
func (s *Server) CACertPEM() []byte { return s.certs.caPEM }

// CAPool is a pool holding only the simulator's CA.
func (s *Server) CAPool() *x509.CertPool { return s.certs.pool }

// AdminToken is the bearer token /admin requires.
func (s *Server) AdminToken() string { return s.admin }

// Handler serves the simulator's API without a listener (for in-memory tests).
func (s *Server) Handler() http.Handler { return s.handler }

// HTTPClient trusts the simulator's CA. Its connections are shared by every
// client built from ClientOptions and closed by Close, so tests leave no
// connection goroutines behind.
func (s *Server) HTTPClient() *http.Client {
	s.transportOnce.Do(func() {
		s.transport = &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: s.certs.pool, MinVersion: tls.VersionTLS12},
			MaxIdleConnsPerHost: 64,
			ForceAttemptHTTP2:   true,
		}
	})
	return &http.Client{Transport: s.transport}
}

// Cloud is the cloud configuration pointing ARM at the simulator.
func (s *Server) Cloud() cloud.Configuration {
	return cloud.Configuration{
		ActiveDirectoryAuthorityHost: s.url + "/",
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: s.url, Audience: s.url},
		},
	}
}

// ClientOptions are arm.ClientOptions for armcompute/armnetwork clients
// talking to this server: its endpoint, a transport trusting its CA, and no
// resource-provider registration (the simulator has no Microsoft.Resources).
func (s *Server) ClientOptions() *arm.ClientOptions {
	return &arm.ClientOptions{
		ClientOptions: policy.ClientOptions{
			Cloud:     s.Cloud(),
			Transport: s.HTTPClient(),
		},
		DisableRPRegistration: true,
	}
}

// Credential returns a credential that hands out a fixed token; the
// simulator accepts any bearer token on ARM paths.
func (s *Server) Credential() azcore.TokenCredential { return StaticCredential{Token: "azuresim"} }

// StaticCredential is an azcore.TokenCredential with a constant token.
type StaticCredential struct{ Token string }

// GetToken implements azcore.TokenCredential.
func (c StaticCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: c.Token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// after runs fn after the simulated duration d (already scaled), unless the
// server closes or resets first. Callers hold s.mu.
func (s *Server) afterLocked(d time.Duration, fn func()) {
	if s.closed {
		return
	}
	s.wg.Add(1)
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		defer s.wg.Done()
		s.mu.Lock()
		_, live := s.timers[t]
		delete(s.timers, t)
		s.mu.Unlock()
		if live {
			fn()
		}
	})
	s.timers[t] = struct{}{}
}

// Watch registers fn to be told (by VM resource ID) whenever a VM changes:
// created, provisioned, failed, eviction scheduled, deleted. fn must not block.
func (s *Server) Watch(fn func(vmID string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watchers = append(s.watchers, fn)
}

func (s *Server) notifyLocked(vmID string) {
	for _, w := range s.watchers {
		w(vmID)
	}
}

func (s *Server) config() Config {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cfg
}

func lower(s string) string { return strings.ToLower(s) }
