package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/azkarpenter/azkarpenter/pkg/plan"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

func TestMain(m *testing.M) {
	// controller-runtime's caches and core's clients log through it; the
	// harness reports what matters itself, as its main does.
	ctrllog.SetLogger(logr.Discard())
	os.Exit(m.Run())
}

// Every scenario parses, its simulator settings are valid, and the offline
// planner accepts its objects.
func TestScenariosLoad(t *testing.T) {
	scenarios, err := LoadScenarios("scenarios")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"web": 500, "batch": 2000, "scale": 10000}
	names := map[string]bool{}
	for _, s := range scenarios {
		names[s.Name] = true
		if n, ok := want[s.Name]; ok && s.Pods() != n {
			t.Errorf("%s makes %d pods, want %d", s.Name, s.Pods(), n)
		}
		if _, err := s.simulatorConfig(0); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
	}
	for _, n := range []string{"web", "batch", "burst", "ml", "spot-heavy", "zonal-spread", "windows-mix", "scale", "limits", "limits-unmitigated", "fleet-1000"} {
		if !names[n] {
			t.Errorf("no scenario %s", n)
		}
	}
	if _, err := LoadScenarios("scenarios", "no-such"); err == nil {
		t.Error("an unknown scenario name is not reported")
	}
}

// The report, charts and comparison from a hand-made result set.
func TestReportAndCompare(t *testing.T) {
	r := &Results{Machine: Machine{CPU: "test CPU", Cores: 2, MemoryGiB: 24}}
	r.Scenarios = []*ScenarioResult{{
		Name: "web", Pods: 3,
		Plan: &plan.Result{Pods: 3, PerHour: 0.2, LowerBound: plan.Bound{PerHour: 0.18}, Baseline: plan.Baseline{InstanceType: plan.BaselineSize, Nodes: 2, PerHour: 0.292, NodePrice: 0.146}},
		Runs: []*Run{
			{Provider: ProviderAzure, Pods: 3, Bound: 3, AllBoundSeconds: 4, Timeline: []Sample{{Seconds: 0}, {Seconds: 2, Bound: 1}, {Seconds: 4, Bound: 3}},
				Fleet: Fleet{Nodes: 1, PerHour: 0.19, BySize: map[string]int{"Standard_D4as_v5": 1}}, CostToBound: 0.19 / 0.18, CostToBaseline: 0.19 / 0.292, ARM: &ARM{Writes: 2, WritesPerNode: 2}},
			{Provider: ProviderKwok, Pods: 3, Bound: 3, AllBoundSeconds: 2, Timeline: []Sample{{Seconds: 0}, {Seconds: 2, Bound: 3}}, Fleet: Fleet{Nodes: 1, PerHour: 0.19}},
		},
	}}
	dir := t.TempDir()
	if err := r.write(dir); err != nil {
		t.Fatal(err)
	}
	report, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| web | 3 | latency 0 | 4.0 s | 1 | 0.190 | 1.056× | 0.651× |", "= **2.00×**", "web-pods-bound.svg", "web-cost.svg"} {
		if !strings.Contains(string(report), want) {
			t.Errorf("report.md lacks %q:\n%s", want, report)
		}
	}
	for _, chart := range []string{"web-pods-bound.svg", "web-cost.svg"} {
		if data, err := os.ReadFile(filepath.Join(dir, chart)); err != nil || !bytes.Contains(data, []byte("<svg")) {
			t.Errorf("%s: %v", chart, err)
		}
	}
	back, err := readResults(dir)
	if err != nil {
		t.Fatal(err)
	}
	back.Scenarios[0].Runs[0].AllBoundSeconds = 3
	var out bytes.Buffer
	compare(&out, r, back, "before", "after")
	if !strings.Contains(out.String(), "| web | latency 0 | 4.0 s | 3.0 s | -25% |") {
		t.Errorf("comparison:\n%s", out.String())
	}
}

// TestWebSmoke runs the web scenario, scaled down to 30 pods, through the
// whole harness on a local cluster at latency 0, so the harness cannot rot
// between benchmark runs. -short skips it.
func TestWebSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a local cluster")
	}
	root, err := testutil.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadScenario(filepath.Join("scenarios", "web.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range s.Objects {
		if u.GetKind() == "Deployment" {
			_ = unstructured.SetNestedField(u.Object, int64(15), "spec", "replicas")
		}
		if u.GetName() == "api" {
			// A second wave.
			u.SetAnnotations(map[string]string{AnnotationApplyAfter: "3s"})
		}
	}
	s.Name, s.Spec.Timeout.Duration = "web-smoke", 5*time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var log bytes.Buffer
	r := &runner{root: root, log: &log}
	res := r.runScenario(ctx, s, []float64{0}, false)
	t.Log(log.String())
	if len(res.Runs) != 1 || res.Runs[0].Error != "" {
		t.Fatalf("run failed: %+v", res.Runs)
	}
	run := res.Runs[0]
	if run.Bound != 30 || run.AllBoundSeconds <= 0 || run.Fleet.Nodes == 0 || run.Fleet.PerHour <= 0 || run.ARM == nil || run.ARM.VMsCreated == 0 ||
		run.ControllerPeakRSSMiB <= 0 || run.FleetCheck.NodeSamples == 0 || res.Plan == nil || run.CostToBound < 1 {
		t.Errorf("incomplete run: %+v", run)
	}
	if run.PodWait == nil || run.PodWait.Pods != 30 || run.PodWait.MaxSeconds < run.PodWait.P50Seconds {
		t.Errorf("pod waits: %+v", run.PodWait)
	}
	if err := (&Results{Scenarios: []*ScenarioResult{res}}).write(t.TempDir()); err != nil {
		t.Fatal(err)
	}
}

// readProc sees this test's own process.
func TestReadProc(t *testing.T) {
	s, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSSMiB <= 0 || s.PeakRSSMiB < s.RSSMiB || s.CPUSeconds < 0 {
		t.Errorf("implausible figures: %+v", s)
	}
}

func TestApplyAfterIsValidated(t *testing.T) {
	for _, tc := range []struct{ annotation, kind, want string }{
		{"soon", "Deployment", "want a non-negative Go duration"},
		{"1h", "Deployment", "is not before the scenario's timeout"},
		{"10s", "NodePool", "is for workload objects"},
	} {
		path := filepath.Join(t.TempDir(), "s.yaml")
		body := "apiVersion: bench.azkarpenter.dev/v1\nkind: Scenario\nmetadata: {name: s}\nspec: {timeout: 10m}\n---\n"
		if tc.kind == "NodePool" {
			body += "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: p, annotations: {" + AnnotationApplyAfter + ": " + tc.annotation + "}}\n" +
				"spec: {template: {spec: {nodeClassRef: {group: karpenter.azure.com, kind: AKSNodeClass, name: c}, requirements: []}}}\n"
		} else {
			body += "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, annotations: {" + AnnotationApplyAfter + ": " + tc.annotation + "}}\n" +
				"spec: {replicas: 1, selector: {matchLabels: {app: d}}, template: {metadata: {labels: {app: d}}, spec: {containers: [{name: c, image: x, resources: {requests: {cpu: 100m}}}]}}}\n"
		}
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadScenario(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s on a %s: %v, want an error saying %q", tc.annotation, tc.kind, err, tc.want)
		}
	}
}
