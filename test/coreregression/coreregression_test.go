//go:build e2e

// Package coreregression runs karpenter core's own regression suites
// (sigs.k8s.io/karpenter/test/suites/regression, at the pinned version,
// built by `make e2e-core` through the hack/coretests wrapper module) against
// azkarpenter on the local cluster, with the AKSNodeClass and NodePool in
// testdata, and writes a per-spec report (docs/e2e.md, "Karpenter core's
// regression suites").
//
// Environment:
//
//	CORE_REGRESSION_BIN   the compiled suites (default bin/core-regression.test)
//	CORE_FOCUS, CORE_SKIP ginkgo focus and skip regular expressions
//	CORE_TIMEOUT          ginkgo's suite timeout (default 3h)
package coreregression

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

// monitorSettle is how long a NodePool's fleet must hold still before the
// fleet monitor requires its status.resources to add up. Core's counter
// writes nothing while its cluster state is not synced, and in core's
// 100-node Utilization spec on the shared 2-core machine it logged "cluster is
// waiting on sync for extended duration" for 70 s while its cleanup tainted
// 89 of the nodes: status.resources stayed at 100 nodes over a fleet that had
// held still at 11 for 16 s, past the default 15 s. The same 60 s as make
// bench, which met the same pause in its bursts (test/bench, monitorSettle).
const monitorSettle = 60 * time.Second

// featureGates are the local cluster's (pkg/localcluster) and CapacityBuffer,
// which core's CapacityBuffer specs exercise and which is off by default
// (core's alpha gate); the controller takes the last FEATURE_GATES given.
const featureGates = "FEATURE_GATES=NodeRepair=true,NodeOverlay=true,SpotToSpotConsolidation=true,StaticCapacity=true,CapacityBuffer=true"

// skipped are the specs that cannot run here, with the reason; they are
// passed to ginkgo's skip and reported as skipped with the reason.
var skipped = map[string]string{
	// The spec writes a made-up providerID and Launched, Registered and
	// Initialized into the NodeClaim's status right after creating it, which
	// assumes the provider's Create has already returned (core's KWOK provider
	// returns at once). Creating an Azure VM takes seconds (here about 2 s,
	// on Azure tens of seconds), so core's lifecycle controller returns from
	// Create after the spec's write and merge-patches the real providerID and
	// conditions over it. The NodeClaim is then an ordinary one whose node
	// never registers (the spec's admission policy blocks it): core deletes it
	// at its 15-minute registration TTL, together with its VM, at the moment
	// the spec's own 15-minute wait runs out (run on 7 December: deleted 2 s
	// after the spec timed out). Nothing of ours can change the order.
	"should succeed to garbage collect an Instance that was launched by a NodeClaim but has no Instance mapping": "races the provider's Create: the spec's status write lands before an Azure VM create returns, and core's lifecycle patch overwrites it; the NodeClaim then waits out core's 15-minute registration TTL, the spec's own timeout",
}

func TestCoreRegression(t *testing.T) {
	root, err := testutil.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	suites := envOr("CORE_REGRESSION_BIN", filepath.Join(root, "bin", "core-regression.test"))
	if _, err := os.Stat(suites); err != nil {
		t.Fatalf("karpenter core's regression suites are not built (make e2e-core builds them): %v", err)
	}
	out := filepath.Join(root, ".e2e", "core-report")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	env, err := framework.Start(ctx, framework.Options{Name: "core", TimeScale: 0.02, MonitorSettle: monitorSettle,
		ControllerEnv: []string{featureGates}})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()

	skip := make([]string, 0, len(skipped)+1)
	for spec := range skipped {
		skip = append(skip, regexp.QuoteMeta(spec))
	}
	if s := os.Getenv("CORE_SKIP"); s != "" {
		skip = append(skip, s)
	}
	args := []string{
		"-test.v",
		"-test.timeout=0",
		"-ginkgo.v",
		"-ginkgo.timeout=" + envOr("CORE_TIMEOUT", "3h"),
		"-ginkgo.json-report=" + filepath.Join(out, "report.json"),
		"--default-nodeclass=" + filepath.Join(root, "test", "coreregression", "testdata", "aksnodeclass.yaml"),
		"--default-nodepool=" + filepath.Join(root, "test", "coreregression", "testdata", "nodepool.yaml"),
	}
	if f := os.Getenv("CORE_FOCUS"); f != "" {
		args = append(args, "-ginkgo.focus="+f)
	}
	if len(skip) > 0 {
		args = append(args, "-ginkgo.skip="+strings.Join(skip, "|"))
	}
	logFile, err := os.Create(filepath.Join(out, "regression.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.CommandContext(ctx, suites, args...)
	cmd.Dir = out
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Cluster.Kubeconfig, "OUTPUT_DIR="+out)
	cmd.Stdout = io.MultiWriter(os.Stdout, logFile)
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	runErr := cmd.Run()
	t.Logf("core's regression suites ran for %s (%v); log %s", time.Since(start).Round(time.Second), runErr, logFile.Name())

	summary, err := summarize(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "results.md"), []byte(summary), 0o644); err != nil {
		t.Fatal(err)
	}
	fmt.Print(summary)
	if ferr := env.Failed(); ferr != nil {
		t.Errorf("the local cluster or a fleet invariant failed during the run: %v", ferr)
	}
	if runErr != nil {
		t.Errorf("karpenter core's regression suites failed (per spec: %s)", filepath.Join(out, "results.md"))
	}
}

// summarize turns ginkgo's JSON report into a Markdown table: every spec
// with its state, time, and the first line of its failure or skip reason.
func summarize(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var reports []types.Report
	if err := json.Unmarshal(raw, &reports); err != nil {
		return "", err
	}
	var b strings.Builder
	counts := map[string]int{}
	var rows []string
	for _, r := range reports {
		for _, s := range r.SpecReports {
			if s.LeafNodeType != types.NodeTypeIt {
				continue
			}
			name := strings.Join(append(append([]string{}, s.ContainerHierarchyTexts...), s.LeafNodeText), " / ")
			state := s.State.String()
			reason := ""
			switch {
			case s.State == types.SpecStateSkipped && skippedReason(name) != "":
				reason = skippedReason(name)
			case s.State.Is(types.SpecStateFailureStates):
				reason = firstLine(s.Failure.Message) + " (" + s.Failure.Location.String() + ")"
			}
			counts[state]++
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s |", name, state, s.RunTime.Round(time.Second), reason))
		}
	}
	sort.Strings(rows)
	states := make([]string, 0, len(counts))
	for s, n := range counts {
		states = append(states, fmt.Sprintf("%s %d", s, n))
	}
	sort.Strings(states)
	fmt.Fprintf(&b, "karpenter core regression specs: %s\n\n| spec | result | time | cause or reason |\n| --- | --- | --- | --- |\n%s\n", strings.Join(states, ", "), strings.Join(rows, "\n"))
	return b.String(), nil
}

func skippedReason(name string) string {
	for spec, reason := range skipped {
		if strings.Contains(name, spec) {
			return reason
		}
	}
	return ""
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.ReplaceAll(s, "|", `\|`)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
