package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
	"github.com/azkarpenter/azkarpenter/pkg/test/golden"
)

func TestPlanAgainstAzureSim(t *testing.T) {
	_, cfg := testutil.StartAzureSim(t, nil)
	common := []string{
		"-f", filepath.Join("testdata", "plan-workload.yaml"),
		"--region=eastus", "--subscription-id=" + testutil.SubscriptionID,
		"--arm-endpoint=" + cfg.ARMEndpoint, "--prices-endpoint=" + cfg.ARMEndpoint,
		"--ca-bundle=" + cfg.CABundle, "--credential=static-token", "--static-token-file=" + tokenFile(t),
	}
	var table bytes.Buffer
	if err := runPlan(common, &table); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "plan.txt", table.Bytes())

	var out bytes.Buffer
	if err := runPlan(append(common, "-o", "json"), &out); err != nil {
		t.Fatal(err)
	}
	var parsed planOutput
	if err := json.Unmarshal(out.Bytes(), &parsed); err != nil {
		t.Fatal(err)
	}
	if parsed.ScheduledPods() != 23 || len(parsed.Unschedulable) != 1 || parsed.Unschedulable[0].Examples[0] != "default/windows-tool" {
		t.Errorf("want 23 pods placed and the Windows pod unschedulable: %+v", parsed.Result)
	}
	// The solve time varies from run to run.
	normalized := regexp.MustCompile(`"solveSeconds": [0-9.e-]+`).ReplaceAll(out.Bytes(), []byte(`"solveSeconds": 0`))
	golden.Check(t, "plan.json", normalized)

	err := runPlan([]string{"--credential=static-token"}, &out)
	for _, want := range []string{"-f workload.yaml (or --kubeconfig) is required", "--region", "--subscription-id", "needs a token"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
}
