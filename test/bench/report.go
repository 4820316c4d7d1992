package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/azkarpenter/azkarpenter/pkg/plan"
)

// Results is a benchmark run: results.json in the results directory.
type Results struct {
	Machine   Machine           `json:"machine"`
	Scenarios []*ScenarioResult `json:"scenarios"`
}

// ScenarioResult is one scenario's runs and its offline plan.
type ScenarioResult struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Pods        int    `json:"pods"`
	// Plan is the offline solve (azkarpenter plan) with the LP bound and
	// the fixed-pool baseline every run is compared with.
	Plan *plan.Result `json:"plan,omitempty"`
	Runs []*Run       `json:"runs"`
}

// run returns the scenario's run with a provider at a time scale.
func (s *ScenarioResult) run(provider string, scale float64) *Run {
	for _, r := range s.Runs {
		if r.Provider == provider && (provider == ProviderKwok || r.TimeScale == scale) {
			return r
		}
	}
	return nil
}

func readResults(dir string) (*Results, error) {
	data, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		return nil, err
	}
	var r Results
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return &r, nil
}

// write stores results.json, report.md and the charts in dir.
func (r *Results) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), data, 0o644); err != nil {
		return err
	}
	charts, err := writeCharts(dir, r)
	if err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "report.md"))
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	r.markdown(f, charts)
	return nil
}

func secs(x float64) string {
	if x <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f s", x)
}

func times(x float64) string {
	if x <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.3f×", x)
}

func latencyName(r *Run) string {
	if r.Provider == ProviderKwok {
		return "core kwok provider"
	}
	suffix := ""
	if r.Provider == ProviderAzureBurst {
		suffix = ", burst to ACI"
	}
	if r.TimeScale == 0 {
		return "latency 0" + suffix
	}
	return fmt.Sprintf("latency ×%g%s", r.TimeScale, suffix)
}

// markdown writes the report: a summary table, then each scenario.
func (r *Results) markdown(w io.Writer, charts map[string][]string) {
	m := r.Machine
	fmt.Fprintf(w, "# Benchmark results\n\nMachine: %s, %d cores, %.0f GiB, %s. Load average %.2f/%.2f/%.2f at start, %.2f/%.2f/%.2f at the end (other work shares this machine). Run %s – %s.\n\n",
		m.CPU, m.Cores, m.MemoryGiB, m.GoVersion, m.LoadStart[0], m.LoadStart[1], m.LoadStart[2], m.LoadEnd[0], m.LoadEnd[1], m.LoadEnd[2],
		m.Started.Format("2006-01-02 15:04"), m.Finished.Format("15:04"))
	fmt.Fprintln(w, "| scenario | pods | run | all bound | nodes | $/h | × LP bound | × DS2_v2 pool | sched. batches (mean) | ARM writes/node | 429s | controller peak RSS | controller CPU |")
	fmt.Fprintln(w, "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, s := range r.Scenarios {
		for _, run := range s.Runs {
			arm, throttled := "—", "—"
			if run.ARM != nil {
				arm, throttled = fmt.Sprintf("%.2f", run.ARM.WritesPerNode), fmt.Sprint(run.ARM.Throttled)
			}
			bound := secs(run.AllBoundSeconds)
			if run.Error != "" {
				bound = "**failed**"
			}
			fmt.Fprintf(w, "| %s | %d | %s | %s | %d | %.3f | %s | %s | %d (%.2f s) | %s | %s | %.0f MiB | %.1f s |\n",
				s.Name, s.Pods, latencyName(run), bound, run.Fleet.Nodes, run.Fleet.PerHour, times(run.CostToBound), times(run.CostToBaseline),
				run.Scheduling.Batches, run.Scheduling.MeanSeconds, arm, throttled, run.ControllerPeakRSSMiB, run.ControllerCPUSeconds)
		}
	}
	fmt.Fprintln(w)
	for _, s := range r.Scenarios {
		fmt.Fprintf(w, "## %s\n\n%s\n\n", s.Name, strings.TrimSpace(s.Description))
		if p := s.Plan; p != nil {
			fmt.Fprintf(w, "Offline plan (`azkarpenter plan`): %s. Fixed pool: %d × %s", p.Summary(), p.Baseline.Nodes, p.Baseline.InstanceType)
			if p.Baseline.Unplaced > 0 {
				fmt.Fprintf(w, " (%d pods fit no %s and are left out of its price)", p.Baseline.Unplaced, p.Baseline.InstanceType)
			}
			fmt.Fprintln(w, ".")
			fmt.Fprintln(w)
		}
		for _, run := range s.Runs {
			fmt.Fprintf(w, "**%s** (%s): ", latencyName(run), run.Provider)
			if run.Error != "" {
				fmt.Fprintf(w, "failed: `%s`. ", firstLine(run.Error))
			}
			fmt.Fprintf(w, "%d of %d pods bound", run.Bound, run.Pods)
			if run.AllBoundSeconds > 0 {
				fmt.Fprintf(w, ", all in %.1f s", run.AllBoundSeconds)
			}
			fmt.Fprintf(w, "; %d nodes at $%.3f/h. Sizes: %s. Zones: %s. Capacity types: %s.", run.Fleet.Nodes, run.Fleet.PerHour,
				counts(run.Fleet.BySize), counts(run.Fleet.ByZone), counts(run.Fleet.ByCapacityType))
			if pw := run.PodWait; pw != nil {
				fmt.Fprintf(w, " Pods waited for a node (created → scheduled): p50 %.0f s, p90 %.0f s, max %.0f s, mean %.1f s.", pw.P50Seconds, pw.P90Seconds, pw.MaxSeconds, pw.AverageSeconds)
			}
			if b := run.Burst; b != nil {
				fmt.Fprint(w, burstLine(b))
			}
			fmt.Fprintf(w, " Scheduling: %d batches, %.2f s in all, mean %.2f s, p50 ≤ %.2f s, p99 ≤ %.2f s.", run.Scheduling.Batches, run.Scheduling.TotalSeconds,
				run.Scheduling.MeanSeconds, run.Scheduling.P50Seconds, run.Scheduling.P99Seconds)
			if run.ARM != nil {
				fmt.Fprintf(w, " ARM: %s; %d writes for %d VMs (%.2f per node), %d throttled.", armOps(run.ARM), run.ARM.Writes, run.ARM.VMsCreated, run.ARM.WritesPerNode, run.ARM.Throttled)
				if j := run.ARM.NodeJoin; j != nil {
					fmt.Fprintf(w, " Node join (VM provisioned → Node registered): %d nodes, p50 ≤ %.1f s, p90 ≤ %.1f s, max %.1f s.", j.Requests, j.P50Ms/1000, j.P90Ms/1000, j.MaxMs/1000)
				}
			}
			if len(run.RateLimitWait) > 0 {
				var waits []string
				for _, op := range slices.Sorted(maps.Keys(run.RateLimitWait)) {
					if wt := run.RateLimitWait[op]; wt.TotalSeconds >= 0.05 {
						waits = append(waits, fmt.Sprintf("%s %.1f s over %d requests (mean %.2f s)", op, wt.TotalSeconds, wt.Requests, wt.MeanSeconds))
					}
				}
				if len(waits) > 0 {
					fmt.Fprintf(w, " Waiting for client-side rate-limit tokens: %s.", strings.Join(waits, "; "))
				}
			}
			fmt.Fprintf(w, " Controller: peak RSS %.0f MiB (%.0f MiB at the largest fleet), %.1f CPU-s.", run.ControllerPeakRSSMiB, run.ControllerMaxNodesRSS, run.ControllerCPUSeconds)
			if run.LimitEvents > 0 {
				fmt.Fprintf(w, " NodePool limits blocked pods %d times.", run.LimitEvents)
			}
			fmt.Fprintf(w, " Fleet monitor: %d samples, %d node checks, no violation.\n\n", run.FleetCheck.Samples, run.FleetCheck.NodeSamples)
		}
		if ours, ref := s.run(ProviderAzure, 0), s.run(ProviderKwok, 0); ours != nil && ref != nil && ours.AllBoundSeconds > 0 && ref.AllBoundSeconds > 0 {
			fmt.Fprintf(w, "Time to capacity against core's kwok provider at latency 0: %.1f s / %.1f s = **%.2f×**.\n\n", ours.AllBoundSeconds, ref.AllBoundSeconds, ours.AllBoundSeconds/ref.AllBoundSeconds)
		}
		for _, c := range charts[s.Name] {
			fmt.Fprintf(w, "![%s](%s)\n", c, c)
		}
		fmt.Fprintln(w)
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func counts(m map[string]int) string {
	if len(m) == 0 {
		return "—"
	}
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func armOps(a *ARM) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(a.Operations)) {
		o := a.Operations[name]
		parts = append(parts, fmt.Sprintf("%s %d", name, o.Requests))
	}
	return strings.Join(parts, ", ")
}

// compare writes a markdown table setting two result sets side by side.
func compare(w io.Writer, before, after *Results, beforeName, afterName string) {
	fmt.Fprintf(w, "# Benchmark comparison\n\nbefore: %s (%s, load %.2f)  \nafter: %s (%s, load %.2f)\n\n",
		beforeName, before.Machine.Started.Format("2006-01-02 15:04"), before.Machine.LoadStart[0],
		afterName, after.Machine.Started.Format("2006-01-02 15:04"), after.Machine.LoadStart[0])
	fmt.Fprintln(w, "| scenario | run | all bound before | after | Δ | $/h before | after | Δ | × bound before | after | sched. mean before | after | peak RSS before | after |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, a := range after.Scenarios {
		var b *ScenarioResult
		for _, x := range before.Scenarios {
			if x.Name == a.Name {
				b = x
			}
		}
		for _, ar := range a.Runs {
			var br *Run
			if b != nil {
				br = b.run(ar.Provider, ar.TimeScale)
			}
			if br == nil {
				br = &Run{}
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %.3f | %.3f | %s | %s | %s | %.2f s | %.2f s | %.0f MiB | %.0f MiB |\n", a.Name, latencyName(ar),
				secs(br.AllBoundSeconds), secs(ar.AllBoundSeconds), delta(br.AllBoundSeconds, ar.AllBoundSeconds),
				br.Fleet.PerHour, ar.Fleet.PerHour, delta(br.Fleet.PerHour, ar.Fleet.PerHour),
				times(br.CostToBound), times(ar.CostToBound), br.Scheduling.MeanSeconds, ar.Scheduling.MeanSeconds,
				br.ControllerPeakRSSMiB, ar.ControllerPeakRSSMiB)
		}
	}
}

func delta(before, after float64) string {
	if before <= 0 || after <= 0 {
		return "—"
	}
	return fmt.Sprintf("%+.0f%%", 100*(after-before)/before)
}

// burstLine is a burst scenario run's figures.
func burstLine(b *BurstFigures) string {
	var sb strings.Builder
	if pw := b.ReadyWait; pw != nil {
		fmt.Fprintf(&sb, " Pods waited until Ready (created → Ready): p50 %.0f s, p90 %.0f s, max %.0f s, mean %.1f s.", pw.P50Seconds, pw.P90Seconds, pw.MaxSeconds, pw.AverageSeconds)
	}
	if b.Bursted > 0 {
		fmt.Fprintf(&sb, " Burst: %.0f pods to ACI, %.0f settled onto VMs, all by %.0f s; %.0f pod-seconds on ACI costing $%.5f.", b.Bursted, b.Settled, b.SettledSeconds, b.ACISeconds, b.ACICost)
	}
	fmt.Fprintf(&sb, " First hour: VMs $%.4f + ACI $%.5f = $%.4f.", b.VMHourCost, b.ACICost, b.HourCost)
	return sb.String()
}
