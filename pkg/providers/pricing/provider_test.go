package pricing_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
	"github.com/azkarpenter/azkarpenter/pkg/providers/pricing"
	"github.com/azkarpenter/azkarpenter/pkg/test/poll"
)

func pricesOf(p pricing.Provider, sku string) pricing.SKUPrices {
	var out pricing.SKUPrices
	out.Linux, _ = p.OnDemandPrice(sku)
	out.LinuxSpot, _ = p.SpotPrice(sku)
	out.Windows, _ = p.WindowsPrice(sku)
	out.WindowsSpot, _ = p.WindowsSpotPrice(sku)
	return out
}

func TestRefreshAgainstAzuresim(t *testing.T) {
	for _, region := range []string{"eastus", "westus2", "southcentralus", "westcentralus"} {
		t.Run(region, func(t *testing.T) {
			e := newEnv(t, false, func(o *pricing.Options) { o.Region = region })
			gen := e.provider.Generation()
			if err := e.provider.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}

			// Paging: every page was followed.
			rows := simRows(region)
			if rows <= 2000 {
				t.Fatalf("azuresim serves %d rows for %s; the test needs several pages", rows, region)
			}
			wantPages := int64((rows + 999) / 1000)
			if got := retailPriceRequests(e.sim); got != wantPages {
				t.Errorf("%d requests for %d rows, want %d pages", got, rows, wantPages)
			}

			// Every SKU and variant matches the sim's catalog: Linux/Windows
			// and on-demand/spot are split, Batch Low Priority is not taken
			// for spot, the snapshot-only SKU is gone.
			want := expected(t, region)
			for sku, w := range want {
				if got := pricesOf(e.provider, sku); got != w {
					t.Fatalf("%s: got %+v, want %+v", sku, got, w)
				}
			}
			if _, ok := e.provider.OnDemandPrice("Standard_OnlyInSnapshot"); ok {
				t.Error("snapshot-only SKU survived a successful refresh")
			}
			if _, ok := e.provider.OnDemandPrice("Standard_Nonexistent"); ok {
				t.Error("unknown SKU has a price")
			}
			if e.provider.UsingSnapshot() || e.provider.Generation() != gen+1 || !e.provider.LastUpdated().Equal(e.clk.Now()) {
				t.Errorf("after refresh: snapshot=%v generation=%d (was %d) lastUpdated=%v",
					e.provider.UsingSnapshot(), e.provider.Generation(), gen, e.provider.LastUpdated())
			}
		})
	}
}

func TestRefreshPricesWorkedByHand(t *testing.T) {
	e := newEnv(t, false, nil)
	if err := e.provider.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Standard_D2s_v3 in eastus: $0.096 Linux (skus.tsv); Windows adds
	// $0.046 per vCPU-hour for 2 vCPUs = $0.188; spot takes the sim's
	// per-SKU discount off both; Batch low priority is 10% above spot.
	d := catalog.SpotDiscount("Standard_D2s_v3", "eastus")
	round := func(v float64) float64 { return math.Round(v*1e6) / 1e6 }
	want := pricing.SKUPrices{Linux: 0.096, LinuxSpot: round(0.096 * (1 - d)), Windows: 0.188, WindowsSpot: round(0.188 * (1 - d))}
	got := pricesOf(e.provider, "Standard_D2s_v3")
	const eps = 1e-6
	if math.Abs(got.Linux-want.Linux) > eps || math.Abs(got.LinuxSpot-want.LinuxSpot) > eps ||
		math.Abs(got.Windows-want.Windows) > eps || math.Abs(got.WindowsSpot-want.WindowsSpot) > eps {
		t.Errorf("Standard_D2s_v3: got %+v, want %+v", got, want)
	}
	if lowPri := round(want.LinuxSpot * 1.1); math.Abs(got.LinuxSpot-lowPri) < eps {
		t.Error("spot price is the Batch low-priority price")
	}
}

func TestRequestShape(t *testing.T) {
	e := newEnv(t, true, nil)
	if err := e.provider.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.front.mu.Lock()
	q := e.front.lastQuery
	e.front.mu.Unlock()
	for _, want := range []string{
		"api-version=2023-01-01-preview",
		"%24filter=serviceName+eq+%27Virtual+Machines%27+and+priceType+eq+%27Consumption%27+and+currencyCode+eq+%27USD%27+and+armRegionName+eq+%27eastus%27",
		"%24skip=", // the last request followed a NextPageLink
	} {
		if !strings.Contains(q, want) {
			t.Errorf("query %q lacks %q", q, want)
		}
	}
}

func TestSnapshotServedUntilFirstRefresh(t *testing.T) {
	// The real embedded snapshot, generated from azuresim.
	e := newEnv(t, false, func(o *pricing.Options) { o.Snapshot = nil })
	snap, err := pricing.DefaultSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !e.provider.UsingSnapshot() || !e.provider.LastUpdated().Equal(snap.GeneratedAt) {
		t.Errorf("snapshot=%v lastUpdated=%v, want the embedded snapshot from %v", e.provider.UsingSnapshot(), e.provider.LastUpdated(), snap.GeneratedAt)
	}
	want := expected(t, "eastus")
	if got := pricesOf(e.provider, "Standard_D2s_v3"); got != want["Standard_D2s_v3"] {
		t.Errorf("snapshot Standard_D2s_v3 = %+v, want the sim's %+v", got, want["Standard_D2s_v3"])
	}
	if v, _ := metric(t, "azkarpenter_pricing_snapshot_in_use", map[string]string{"region": "eastus"}); v != 1 {
		t.Errorf("snapshot_in_use = %v, want 1", v)
	}
	// A region the snapshot does not hold has no prices, not a crash.
	other := newEnv(t, false, func(o *pricing.Options) { o.Snapshot, o.Region = nil, "northpole" })
	if _, ok := other.provider.OnDemandPrice("Standard_D2s_v3"); ok || !other.provider.LastUpdated().IsZero() {
		t.Error("a region missing from the snapshot has prices")
	}
}

func TestFailuresKeepPrices(t *testing.T) {
	type fault struct {
		name    string
		inject  func(*front)
		retry   policy.RetryOptions
		wantErr func(error) bool
		reason  string
		// overSnapshotOK: over the tiny test snapshot this answer is
		// legitimately accepted (it has more prices than the snapshot).
		overSnapshotOK bool
	}
	is := func(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }
	status := func(code int) func(error) bool {
		return func(err error) bool {
			var re *azcore.ResponseError
			return errors.As(err, &re) && re.StatusCode == code
		}
	}
	faults := []fault{
		{"503 on every try", func(f *front) { f.failNext, f.failStatus = 1000, http.StatusServiceUnavailable }, fastRetry(), status(503), "error", false},
		{"500 on the second page", func(f *front) { f.failNext, f.failStatus, f.failAfter = 1000, 500, 1 }, fastRetry(), status(500), "error", false},
		{"per-try timeout", func(f *front) { f.delay = time.Minute },
			// Long enough for a healthy page on a loaded 2-core -race run.
			policy.RetryOptions{MaxRetries: 1, RetryDelay: time.Millisecond, TryTimeout: 1500 * time.Millisecond}, is(context.DeadlineExceeded), "error", false},
		{"empty answer", func(f *front) { f.empty = true }, fastRetry(), is(pricing.ErrNoPrices), "empty", false},
		{"first page only", func(f *front) { f.onlyFirst = true }, fastRetry(), is(pricing.ErrTooFewPrices), "too_few", true},
	}
	for _, tc := range faults {
		for _, after := range []string{"snapshot", "fetched"} {
			if after == "snapshot" && tc.overSnapshotOK {
				continue
			}
			t.Run(tc.name+"/over "+after+" prices", func(t *testing.T) {
				e := newEnv(t, true, func(o *pricing.Options) { o.ClientOptions.Retry = tc.retry })
				if after == "fetched" {
					if err := e.provider.Refresh(context.Background()); err != nil {
						t.Fatal(err)
					}
					e.clk.Step(time.Hour)
				}
				before, gen, last, snap := pricesOf(e.provider, "Standard_D2s_v3"), e.provider.Generation(), e.provider.LastUpdated(), e.provider.UsingSnapshot()
				failures := func() float64 {
					v, _ := metric(t, "azkarpenter_pricing_fetch_failures_total", map[string]string{"region": "eastus", "reason": tc.reason})
					return v
				}
				f0 := failures()
				e.front.set(tc.inject)
				start := time.Now()
				err := e.provider.Refresh(context.Background())
				if err == nil || !tc.wantErr(err) {
					t.Fatalf("Refresh error = %v", err)
				}
				if time.Since(start) > 8*time.Second {
					t.Errorf("a failing refresh took %v", time.Since(start))
				}
				if got := pricesOf(e.provider, "Standard_D2s_v3"); got != before {
					t.Errorf("prices changed on failure: %+v -> %+v", before, got)
				}
				if e.provider.Generation() != gen || !e.provider.LastUpdated().Equal(last) || e.provider.UsingSnapshot() != snap {
					t.Error("generation, lastUpdated or snapshot flag changed on failure")
				}
				if after == "snapshot" {
					if _, ok := e.provider.OnDemandPrice("Standard_OnlyInSnapshot"); !ok {
						t.Error("snapshot prices lost")
					}
				}
				if got := failures(); got != f0+1 {
					t.Errorf("fetch_failures_total{reason=%q} went %v -> %v", tc.reason, f0, got)
				}
			})
		}
	}
}

func TestRetriesAreAzcores(t *testing.T) {
	t.Run("503 then success", func(t *testing.T) {
		e := newEnv(t, true, nil)
		e.front.set(func(f *front) { f.failNext, f.failStatus = 2, http.StatusServiceUnavailable })
		if err := e.provider.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got, want := e.front.requests.Load(), int64(2+(simRows("eastus")+999)/1000); got != want {
			t.Errorf("%d requests, want %d (2 failed tries + pages)", got, want)
		}
	})
	t.Run("429 with a Retry-After above MaxRetryDelay fails at once", func(t *testing.T) {
		e := newEnv(t, true, nil) // MaxRetryDelay 5ms
		e.front.set(func(f *front) { f.failNext, f.failStatus, f.retryAfter = 1, http.StatusTooManyRequests, "1" })
		if err := e.provider.Refresh(context.Background()); err == nil {
			t.Fatal("no error")
		}
		if got := e.front.requests.Load(); got != 1 {
			t.Errorf("%d requests, want 1", got)
		}
	})
	t.Run("429 honours Retry-After", func(t *testing.T) {
		e := newEnv(t, true, func(o *pricing.Options) { o.ClientOptions.Retry.MaxRetryDelay = 5 * time.Second })
		e.front.set(func(f *front) { f.failNext, f.failStatus, f.retryAfter = 1, http.StatusTooManyRequests, "1" })
		start := time.Now()
		if err := e.provider.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("refresh after a 429 with Retry-After: 1 took %v", d)
		}
	})
	t.Run("404 is not retried", func(t *testing.T) {
		e := newEnv(t, true, nil)
		e.front.set(func(f *front) { f.failNext, f.failStatus = 1000, http.StatusNotFound })
		if err := e.provider.Refresh(context.Background()); err == nil {
			t.Fatal("no error")
		}
		if got := e.front.requests.Load(); got != 1 {
			t.Errorf("%d requests, want 1", got)
		}
	})
}

func TestRefreshCancelled(t *testing.T) {
	e := newEnv(t, true, nil)
	e.front.set(func(f *front) { f.block = true })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	before := pricesOf(e.provider, "Standard_D2s_v3")
	f0, _ := metric(t, "azkarpenter_pricing_fetch_failures_total", map[string]string{"region": "eastus", "reason": "error"})
	start := time.Now()
	err := e.provider.Refresh(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Refresh error = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancellation took %v", d)
	}
	if got := pricesOf(e.provider, "Standard_D2s_v3"); got != before || !e.provider.UsingSnapshot() {
		t.Error("cancelled refresh changed the prices")
	}
	if f1, _ := metric(t, "azkarpenter_pricing_fetch_failures_total", map[string]string{"region": "eastus", "reason": "error"}); f1 != f0 {
		t.Error("a cancelled refresh counted as an API failure")
	}
}

func TestUnchangedPricesKeepGeneration(t *testing.T) {
	e := newEnv(t, false, nil)
	if err := e.provider.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	gen := e.provider.Generation()
	e.clk.Step(12 * time.Hour)
	if err := e.provider.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.provider.Generation() != gen {
		t.Errorf("generation moved %d -> %d although no price changed", gen, e.provider.Generation())
	}
	if !e.provider.LastUpdated().Equal(e.clk.Now()) {
		t.Error("LastUpdated not bumped by a successful refresh")
	}
}

func TestRefreshLoop(t *testing.T) {
	e := newEnv(t, true, func(o *pricing.Options) {
		o.RefreshPeriod, o.RetryPeriod = 12*time.Hour, 10*time.Minute
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.provider.Start(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Start returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Start did not return after cancel")
		}
	}()
	pages := int64((simRows("eastus") + 999) / 1000)
	waitIdle := func(requests int64) {
		t.Helper()
		poll.Until(t, 10*time.Second, "the loop to wait", func() bool { return e.clk.HasWaiters() && e.front.requests.Load() == requests })
	}

	// Refresh at start.
	waitIdle(pages)
	if e.provider.UsingSnapshot() || !e.provider.LastUpdated().Equal(e.clk.Now()) {
		t.Fatal("no refresh at start")
	}
	age := func() float64 {
		v, _ := metric(t, "azkarpenter_pricing_table_age_seconds", map[string]string{"region": "eastus"})
		return v
	}
	// Nothing before the period ends; the age metric follows the clock.
	e.clk.Step(12*time.Hour - time.Second)
	poll.Consistently(t, 50*time.Millisecond, "no refresh before the period ends", func() bool { return e.front.requests.Load() == pages })
	if a := age(); a != (12*time.Hour - time.Second).Seconds() {
		t.Errorf("table_age_seconds = %v", a)
	}
	// Then every 12 h.
	e.clk.Step(time.Second)
	waitIdle(2 * pages)
	if !e.provider.LastUpdated().Equal(e.clk.Now()) || age() != 0 {
		t.Fatal("no refresh after 12 h")
	}
	// A failure is retried after RetryPeriod, not 12 h.
	e.front.set(func(f *front) { f.failNext, f.failStatus = 3, http.StatusInternalServerError }) // 1 try + 2 retries
	e.clk.Step(12 * time.Hour)
	waitIdle(2*pages + 3)
	failedAt := e.clk.Now()
	if e.provider.LastUpdated().Equal(failedAt) {
		t.Fatal("failed refresh bumped LastUpdated")
	}
	e.clk.Step(10 * time.Minute)
	waitIdle(3*pages + 3)
	if !e.provider.LastUpdated().Equal(e.clk.Now()) {
		t.Fatal("no retry after RetryPeriod")
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, false, nil)
	if err := e.provider.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := expected(t, "eastus")
	for _, tc := range []struct{ capacityType, os string }{{"on-demand", "linux"}, {"spot", "linux"}, {"on-demand", "windows"}, {"spot", "windows"}} {
		v, ok := metric(t, "azkarpenter_pricing_prices", map[string]string{"region": "eastus", "capacity_type": tc.capacityType, "os": tc.os})
		if !ok || int(v) != len(want) {
			t.Errorf("prices{%s,%s} = %v, want %d", tc.capacityType, tc.os, v, len(want))
		}
	}
	if v, _ := metric(t, "azkarpenter_pricing_snapshot_in_use", map[string]string{"region": "eastus"}); v != 0 {
		t.Errorf("snapshot_in_use = %v after a refresh", v)
	}
	if v, ok := metric(t, "azkarpenter_pricing_fetch_duration_seconds", map[string]string{"region": "eastus", "result": "success"}); !ok || v < 1 {
		t.Errorf("fetch_duration_seconds{success} count = %v", v)
	}
	e.clk.Step(90 * time.Second)
	if v, _ := metric(t, "azkarpenter_pricing_table_age_seconds", map[string]string{"region": "eastus"}); v != 90 {
		t.Errorf("table_age_seconds = %v, want 90", v)
	}
}

func BenchmarkRefresh(b *testing.B) {
	sim := startSim(b)
	p, err := pricing.NewDefaultProvider(context.Background(), pricing.Options{
		Region: "eastus", Endpoint: sim.URL(),
		ClientOptions: policy.ClientOptions{Transport: sim.HTTPClient()},
		Snapshot:      &pricing.Snapshot{},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Refresh(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(simRows("eastus")), "rows/op")
}
