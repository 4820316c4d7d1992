package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/azkarpenter/azkarpenter/pkg/providers/instancetype"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

func TestExplainAgainstAzureSim(t *testing.T) {
	_, cfg := testutil.StartAzureSim(t, nil)
	root, err := testutil.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	common := []string{
		"--region=eastus", "--subscription-id=" + testutil.SubscriptionID,
		"--arm-endpoint=" + cfg.ARMEndpoint, "--prices-endpoint=" + cfg.ARMEndpoint,
		"--ca-bundle=" + cfg.CABundle, "--credential=static-token", "--static-token-file=" + tokenFile(t),
	}

	// The spot example asks for ephemeral 64GiB OS disks, D or E family, > 3 vCPU, spot.
	var out bytes.Buffer
	args := append([]string{"-f", filepath.Join(root, "examples", "spot.yaml"), "--nodepool", filepath.Join(root, "examples", "spot.yaml"), "-o", "json"}, common...)
	if err := explain(args, &out); err != nil {
		t.Fatal(err)
	}
	var ds []instancetype.Decision
	if err := json.Unmarshal(out.Bytes(), &ds); err != nil {
		t.Fatal(err)
	}
	fit := 0
	for _, d := range ds {
		if !d.Included {
			if len(d.Reasons) == 0 {
				t.Errorf("%s excluded without a reason", d.Name)
			}
			continue
		}
		fit++
		if !strings.HasPrefix(d.Name, "Standard_D") && !strings.HasPrefix(d.Name, "Standard_E") {
			t.Errorf("%s fits but the NodePool allows only D and E", d.Name)
		}
		if d.VCPUs <= 3 || !strings.HasPrefix(d.OSDisk, "ephemeral") || d.SpotPrice == 0 || d.SpotPrice > 0.5 {
			t.Errorf("%s fits but breaks a constraint: %+v", d.Name, d)
		}
	}
	if fit == 0 {
		t.Fatal("no size fits the spot example")
	}
	if d, ok := find(ds, "Standard_D2ds_v5"); !ok || d.Included || !strings.Contains(strings.Join(d.Reasons, ";"), "NodePool spot") {
		t.Errorf("Standard_D2ds_v5 should be excluded by the NodePool's sku-cpu requirement: %+v", d)
	}

	// Table output names the sizes and ends with a summary.
	out.Reset()
	args = append([]string{"-f", filepath.Join(root, "examples", "general-purpose.yaml")}, common...)
	if err := explain(args, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Standard_D4s_v5") || !strings.Contains(out.String(), "VM sizes usable in eastus") {
		t.Errorf("unexpected table:\n%.2000s", out.String())
	}

	// Missing inputs are all reported at once.
	err = explain([]string{"--credential=static-token"}, &out)
	for _, want := range []string{"-f nodeclass.yaml is required", "--region", "--subscription-id", "needs a token"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
}

func find(ds []instancetype.Decision, name string) (instancetype.Decision, bool) {
	for _, d := range ds {
		if d.Name == name {
			return d, true
		}
	}
	return instancetype.Decision{}, false
}

// tokenFile writes a static token for azuresim and returns its path: the
// CLI, like the controller, takes tokens from files only.
func tokenFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
