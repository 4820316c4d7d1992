package pricing_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/go-logr/logr"
	dto "github.com/prometheus/client_model/go"
	clocktesting "k8s.io/utils/clock/testing"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
	"github.com/azkarpenter/azkarpenter/pkg/providers/pricing"
)

func TestMain(m *testing.M) {
	// Refresh logs through controller-runtime's logger, as in the controller.
	ctrllog.SetLogger(logr.Discard())
	os.Exit(m.Run())
}

// startSim starts an in-process azuresim serving HTTPS on loopback with its
// generated CA; it is closed when the test ends.
func startSim(tb testing.TB) *azuresim.Server {
	tb.Helper()
	sim, err := azuresim.NewServer(azuresim.Options{Seed: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = sim.Close() })
	return sim
}

// fastRetry keeps azcore's retry behaviour but with millisecond delays.
func fastRetry() policy.RetryOptions {
	return policy.RetryOptions{MaxRetries: 2, RetryDelay: time.Millisecond, MaxRetryDelay: 5 * time.Millisecond, TryTimeout: 20 * time.Second}
}

// testSnapshot is a small stand-in for the embedded snapshot, so tests can
// tell snapshot prices from fetched ones.
func testSnapshot() *pricing.Snapshot {
	return &pricing.Snapshot{
		GeneratedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Source:      "test",
		Regions: map[string]pricing.Table{"eastus": {
			"Standard_D2s_v3":         {Linux: 1.5, LinuxSpot: 0.5, Windows: 2.5, WindowsSpot: 1},
			"Standard_OnlyInSnapshot": {Linux: 9},
		}},
	}
}

type env struct {
	sim      *azuresim.Server
	clk      *clocktesting.FakeClock
	provider *pricing.DefaultProvider
	front    *front
}

// newEnv builds a provider for eastus reading azuresim, directly (front ==
// nil) or through a fault-injecting front.
func newEnv(t *testing.T, withFront bool, edit func(*pricing.Options)) *env {
	t.Helper()
	e := &env{sim: startSim(t), clk: clocktesting.NewFakeClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))}
	opts := pricing.Options{
		Region:        "eastus",
		Endpoint:      e.sim.URL(),
		ClientOptions: policy.ClientOptions{Transport: e.sim.HTTPClient(), Retry: fastRetry()},
		Clock:         e.clk,
		Snapshot:      testSnapshot(),
	}
	if withFront {
		e.front = newFront(t, e.sim)
		opts.Endpoint, opts.ClientOptions.Transport = e.front.url, e.front.client
	}
	if edit != nil {
		edit(&opts)
	}
	p, err := pricing.NewDefaultProvider(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	e.provider = p
	return e
}

// front is an HTTPS server in front of azuresim's handler that injects the
// faults azuresim does not model for the Retail Prices API (it applies its
// error rules and latencies to ARM operations only).
type front struct {
	url    string
	client *http.Client

	requests   atomic.Int64
	mu         sync.Mutex
	failNext   int           // answer this many requests with status
	failStatus int           //
	failAfter  int           // let this many requests (since the last set) through before failing
	seen       int           // requests since the last set
	retryAfter string        // Retry-After header on failures
	delay      time.Duration // before answering (respects the request context)
	block      bool          // hold requests until the client gives up
	onlyFirst  bool          // serve the first page only, without NextPageLink
	empty      bool          // answer an empty page
	lastQuery  string
}

func newFront(t *testing.T, sim *azuresim.Server) *front {
	t.Helper()
	f := &front{}
	next := sim.Handler()
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		f.mu.Lock()
		f.lastQuery = r.URL.RawQuery
		delay, block, onlyFirst, empty := f.delay, f.block, f.onlyFirst, f.empty
		f.seen++
		fail := f.failNext > 0 && f.seen > f.failAfter
		if fail {
			f.failNext--
		}
		status, retryAfter := f.failStatus, f.retryAfter
		f.mu.Unlock()
		if block {
			<-r.Context().Done()
			return
		}
		if delay > 0 {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(delay):
			}
		}
		if fail {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			http.Error(w, `{"Error":{"Code":"ServiceUnavailable","Message":"injected"}}`, status)
			return
		}
		switch {
		case empty:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"BillingCurrency":"USD","Items":[],"NextPageLink":null,"Count":0}`)
		case onlyFirst:
			// A truncated answer that looks complete: the sim's first page
			// with its NextPageLink dropped.
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var page azuresim.PricesPage
			if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			page.NextPageLink = nil
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(page)
		default:
			next.ServeHTTP(w, r)
		}
	}))
	ts.StartTLS()
	t.Cleanup(ts.Close)
	f.url, f.client = ts.URL, ts.Client()
	return f
}

func (f *front) set(edit func(*front)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = 0
	edit(f)
}

// expected is what the sim charges, from its catalog.
func expected(t *testing.T, region string) pricing.Table {
	t.Helper()
	c := catalog.Default()
	out := pricing.Table{}
	for _, s := range c.SKUs {
		if _, ok := s.LinuxOnDemandUSD[region]; !ok {
			continue
		}
		var p pricing.SKUPrices
		p.Linux, _ = c.Price(s, region, false, false)
		p.LinuxSpot, _ = c.Price(s, region, false, true)
		p.Windows, _ = c.Price(s, region, true, false)
		p.WindowsSpot, _ = c.Price(s, region, true, true)
		out[s.Name] = p
	}
	return out
}

// simRows counts the Retail Prices rows azuresim serves for a region.
func simRows(region string) int {
	n := 0
	for _, it := range azuresim.PriceItems(catalog.Default()) {
		if it.ArmRegionName == region {
			n++
		}
	}
	return n
}

func retailPriceRequests(sim *azuresim.Server) int64 {
	return sim.Stats().Operations[azuresim.OpRetailPrices].Requests
}

// metric returns a sample's value from the controller-runtime registry.
func metric(t *testing.T, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			switch {
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), true
			case m.Counter != nil:
				return m.GetCounter().GetValue(), true
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}
