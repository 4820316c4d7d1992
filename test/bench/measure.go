package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/procfs"
)

// procStats is a process's memory and CPU use from /proc.
type procStats struct {
	RSSMiB, PeakRSSMiB float64
	CPUSeconds         float64
}

// readProc reads VmRSS and VmHWM (/proc/<pid>/status) and utime+stime
// (/proc/<pid>/stat).
func readProc(pid int) (procStats, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return procStats{}, err
	}
	status, err := p.NewStatus()
	if err != nil {
		return procStats{}, err
	}
	stat, err := p.Stat()
	if err != nil {
		return procStats{}, err
	}
	return procStats{RSSMiB: float64(status.VmRSS) / (1 << 20), PeakRSSMiB: float64(status.VmHWM) / (1 << 20), CPUSeconds: stat.CPUTime()}, nil
}

// Scheduling is karpenter core's scheduling simulations during a run, from
// karpenter_scheduler_scheduling_duration_seconds{controller="provisioner"}.
type Scheduling struct {
	Batches      int     `json:"batches"`
	TotalSeconds float64 `json:"totalSeconds"`
	MeanSeconds  float64 `json:"meanSeconds"`
	// P50 and P99 are bucket upper bounds (the histogram's resolution).
	P50Seconds float64 `json:"p50Seconds"`
	P99Seconds float64 `json:"p99Seconds"`
}

// scrape reads the metric families a Prometheus endpoint serves.
func scrape(ctx context.Context, url string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", url, err)
	}
	return families, nil
}

// scrapeScheduling reads the provisioner's scheduling histogram.
func scrapeScheduling(ctx context.Context, url string) (*dto.Histogram, error) {
	families, err := scrape(ctx, url)
	if err != nil {
		return nil, err
	}
	mf := families["karpenter_scheduler_scheduling_duration_seconds"]
	if mf == nil {
		return &dto.Histogram{}, nil
	}
	for _, m := range mf.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "controller" && l.GetValue() == "provisioner" {
				return m.GetHistogram(), nil
			}
		}
	}
	return &dto.Histogram{}, nil
}

// RateLimitWait is the time Azure requests of one operation waited for the
// controller's client-side rate-limit tokens during a run.
type RateLimitWait struct {
	Requests     uint64  `json:"requests"`
	TotalSeconds float64 `json:"totalSeconds"`
	MeanSeconds  float64 `json:"meanSeconds"`
}

// scrapeRateLimitWait reads the controller's
// azkarpenter_azure_client_rate_limit_wait_seconds by operation.
func scrapeRateLimitWait(ctx context.Context, url string) (map[string]*dto.Histogram, error) {
	families, err := scrape(ctx, url)
	if err != nil {
		return nil, err
	}
	out := map[string]*dto.Histogram{}
	for _, m := range families["azkarpenter_azure_client_rate_limit_wait_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "operation" {
				out[l.GetValue()] = m.GetHistogram()
			}
		}
	}
	return out, nil
}

// rateLimitWaitBetween is the waiting done between two scrapes.
func rateLimitWaitBetween(before, after map[string]*dto.Histogram) map[string]RateLimitWait {
	out := map[string]RateLimitWait{}
	for op, a := range after {
		b := before[op]
		w := RateLimitWait{Requests: a.GetSampleCount() - b.GetSampleCount(), TotalSeconds: a.GetSampleSum() - b.GetSampleSum()}
		if w.Requests == 0 {
			continue
		}
		w.MeanSeconds = w.TotalSeconds / float64(w.Requests)
		out[op] = w
	}
	return out
}

// schedulingBetween is the scheduling done between two scrapes.
func schedulingBetween(before, after *dto.Histogram) Scheduling {
	if before == nil {
		before = &dto.Histogram{}
	}
	if after == nil {
		return Scheduling{}
	}
	s := Scheduling{
		Batches:      int(after.GetSampleCount() - before.GetSampleCount()),
		TotalSeconds: after.GetSampleSum() - before.GetSampleSum(),
	}
	if s.Batches > 0 {
		s.MeanSeconds = s.TotalSeconds / float64(s.Batches)
	}
	prior := map[float64]uint64{}
	for _, b := range before.GetBucket() {
		prior[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	quantile := func(q float64) float64 {
		target := q * float64(s.Batches)
		for _, b := range after.GetBucket() {
			if float64(b.GetCumulativeCount()-prior[b.GetUpperBound()]) >= target {
				return b.GetUpperBound()
			}
		}
		return s.TotalSeconds
	}
	if s.Batches > 0 {
		s.P50Seconds, s.P99Seconds = quantile(0.5), quantile(0.99)
	}
	return s
}

// Machine describes where results were measured.
type Machine struct {
	CPU       string     `json:"cpu"`
	Cores     int        `json:"cores"`
	MemoryGiB float64    `json:"memoryGiB"`
	GoVersion string     `json:"goVersion"`
	LoadStart [3]float64 `json:"loadAverageAtStart"`
	LoadEnd   [3]float64 `json:"loadAverageAtEnd"`
	Started   time.Time  `json:"started"`
	Finished  time.Time  `json:"finished"`
}

func describeMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), LoadStart: loadAverage(), Started: time.Now()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "model name") {
				m.CPU = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				m.MemoryGiB = kb / (1 << 20)
			}
		}
	}
	return m
}

func loadAverage() [3]float64 {
	var out [3]float64
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return out
	}
	f := strings.Fields(string(data))
	for i := 0; i < 3 && i < len(f); i++ {
		out[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return out
}
