package chart

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	corev1 "k8s.io/api/core/v1"

	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
	"github.com/azkarpenter/azkarpenter/test/metrics"
)

// dashboard is what the test reads of a Grafana dashboard.
type dashboard struct {
	UID, Title string
	Panels     []struct {
		Title      string
		Datasource struct{ Type, UID string }
		Targets    []struct{ Expr string }
	}
}

func readDashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	root, err := testutil.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "charts", "azkarpenter", "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in charts/azkarpenter/dashboards: %v", err)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = d
	}
	return out
}

// known is the controller's registry by name.
func known(t *testing.T) map[string]metrics.Metric {
	t.Helper()
	all, err := metrics.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]metrics.Metric{}
	for _, m := range all {
		byName[m.Name] = m
	}
	return byName
}

// checkExpr parses a PromQL expression and returns a problem for each
// metric it selects that the registry does not have (a histogram's or
// summary's _bucket, _sum and _count series count as the metric), or that
// is deprecated.
func checkExpr(expr string, registry map[string]metrics.Metric) []string {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return []string{fmt.Sprintf("%q does not parse: %v", expr, err)}
	}
	var problems []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			problems = append(problems, fmt.Sprintf("%q selects no metric by name", vs.String()))
			return nil
		}
		m, ok := registry[name]
		if !ok {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				base, cut := strings.CutSuffix(name, suffix)
				if b, found := registry[base]; cut && found && (b.Type == "histogram" || (b.Type == "summary" && suffix != "_bucket")) {
					m, ok = b, true
				}
			}
		}
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s is not a metric the controller registers (docs/metrics.md)", name))
		case m.Deprecated():
			problems = append(problems, fmt.Sprintf("%s is deprecated: %s", name, m.Help))
		}
		return nil
	})
	return problems
}

// Every PromQL expression of every dashboard parses, and every metric it
// names is in the controller's registry (ours or core's), under its
// current name.
func TestDashboardQueries(t *testing.T) {
	registry := known(t)
	dashboards := readDashboards(t)
	for _, want := range []string{"azkarpenter-capacity-cost.json", "azkarpenter-launches.json", "azkarpenter-arm.json", "azkarpenter-disruption.json"} {
		if _, ok := dashboards[want]; !ok {
			t.Errorf("no dashboard %s", want)
		}
	}
	uids := map[string]string{}
	queries := 0
	for file, d := range dashboards {
		if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
			t.Errorf("%s: uid %q, title %q, %d panels", file, d.UID, d.Title, len(d.Panels))
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s share uid %s", file, other, d.UID)
		}
		uids[d.UID] = file
		for _, p := range d.Panels {
			if p.Datasource.UID != "${datasource}" {
				t.Errorf("%s panel %q: datasource %q, want the ${datasource} variable", file, p.Title, p.Datasource.UID)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s panel %q has no query", file, p.Title)
			}
			for _, target := range p.Targets {
				queries++
				for _, problem := range checkExpr(target.Expr, registry) {
					t.Errorf("%s panel %q: %s", file, p.Title, problem)
				}
			}
		}
	}
	t.Logf("%d queries in %d dashboards checked against %d metrics", queries, len(dashboards), len(registry))
}

// The check itself refuses what it must: an unknown name, a deprecated
// one, PromQL that does not parse, a _bucket of a non-histogram.
func TestDashboardQueryCheckRefuses(t *testing.T) {
	registry := known(t)
	for expr, want := range map[string]string{
		`rate(azkarpenter_no_such_metric_total[5m])`:                   "azkarpenter_no_such_metric_total is not a metric",
		`azkarpenter_sku_count`:                                        "azkarpenter_sku_count is deprecated",
		`sum(rate(azkarpenter_azure_requests_total[5m]) by (operation`: "does not parse",
		`azkarpenter_sku_sizes_bucket`:                                 "azkarpenter_sku_sizes_bucket is not a metric",
		`{__name__=~"azkarpenter_.*"}`:                                 "selects no metric by name",
	} {
		problems := checkExpr(expr, registry)
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("%s: problems %v, want one saying %q", expr, problems, want)
		}
	}
	if p := checkExpr(`histogram_quantile(0.9, sum by (le) (rate(azkarpenter_instance_create_duration_seconds_bucket[5m])))`, registry); len(p) != 0 {
		t.Errorf("a histogram's buckets: %v", p)
	}
}

// dashboards.enabled renders every dashboard into one ConfigMap with the
// sidecar's label, byte for byte.
func TestDashboardsConfigMap(t *testing.T) {
	e := setup(t)
	out, err := e.template(t, "azkarpenter", "-f", minimal)
	if err != nil {
		t.Fatal(err, out)
	}
	if _, ok := decode(t, out)["ConfigMap/karpenter/azk-azkarpenter-dashboards"]; ok {
		t.Error("the dashboards ConfigMap renders by default")
	}
	out, err = e.template(t, "azkarpenter", "-f", minimal, "--set", "dashboards.enabled=true", "--set", "dashboards.namespace=monitoring")
	if err != nil {
		t.Fatal(err, out)
	}
	cm := get[corev1.ConfigMap](t, decode(t, out), "ConfigMap/monitoring/azk-azkarpenter-dashboards")
	if cm.Labels["grafana_dashboard"] != "1" {
		t.Errorf("labels %v: want grafana_dashboard=1 for Grafana's sidecar", cm.Labels)
	}
	for file := range readDashboards(t) {
		want, err := os.ReadFile(filepath.Join(e.root, "charts", "azkarpenter", "dashboards", file))
		if err != nil {
			t.Fatal(err)
		}
		if got := cm.Data[file]; got != strings.TrimRight(string(want), "\n") {
			t.Errorf("ConfigMap key %s differs from the file (%d and %d bytes)", file, len(got), len(want))
		}
	}
	if len(cm.Data) != len(readDashboards(t)) {
		t.Errorf("ConfigMap keys %d, dashboards %d", len(cm.Data), len(readDashboards(t)))
	}
}
