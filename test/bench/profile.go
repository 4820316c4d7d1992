package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// profileEnv turns on karpenter core's pprof handlers on the controller's
// metrics endpoint (core's ENABLE_PROFILING).
const profileEnv = "ENABLE_PROFILING=true"

// profiler saves the controller's pprof profiles during a run: a heap and a
// goroutine profile every interval (heap-<s>.pb.gz, goroutine-<s>.pb.gz,
// seconds since the workload was applied) and one CPU profile of cpuFor
// from cpuAfter.
type profiler struct {
	dir        string
	base       string // http://host:port
	interval   time.Duration
	cpuAfter   time.Duration
	cpuFor     time.Duration
	lastSample time.Time
	cpuStarted bool
	log        func(format string, args ...any)
}

func newProfiler(dir, metricsURL string, log func(string, ...any)) *profiler {
	if dir == "" || metricsURL == "" {
		return nil
	}
	return &profiler{
		dir: dir, base: strings.TrimSuffix(metricsURL, "/metrics"),
		interval: 30 * time.Second, cpuAfter: 5 * time.Second, cpuFor: 30 * time.Second, log: log,
	}
}

// tick saves what is due, elapsed after the workload was applied.
func (p *profiler) tick(ctx context.Context, elapsed time.Duration) {
	if p == nil {
		return
	}
	if !p.cpuStarted && elapsed >= p.cpuAfter {
		p.cpuStarted = true
		go p.save(ctx, fmt.Sprintf("cpu-%03.0f-%03.0f.pb.gz", elapsed.Seconds(), (elapsed+p.cpuFor).Seconds()),
			fmt.Sprintf("/debug/pprof/profile?seconds=%d", int(p.cpuFor.Seconds())))
	}
	if time.Since(p.lastSample) >= p.interval {
		p.lastSample = time.Now()
		p.snapshot(ctx, fmt.Sprintf("%03.0f", elapsed.Seconds()))
	}
}

// snapshot saves a heap and a goroutine profile named with suffix.
func (p *profiler) snapshot(ctx context.Context, suffix string) {
	if p == nil {
		return
	}
	p.save(ctx, "heap-"+suffix+".pb.gz", "/debug/pprof/heap?gc=1")
	p.save(ctx, "goroutine-"+suffix+".pb.gz", "/debug/pprof/goroutine")
}

func (p *profiler) save(ctx context.Context, name, path string) {
	if err := p.fetch(ctx, name, path); err != nil {
		p.log("profile %s: %v", name, err)
	}
}

func (p *profiler) fetch(ctx context.Context, name, path string) error {
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", path, resp.Status)
	}
	f, err := os.Create(filepath.Join(p.dir, name))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
