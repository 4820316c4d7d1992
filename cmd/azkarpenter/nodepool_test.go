package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

func TestNormalizeArgs(t *testing.T) {
	known := map[string]bool{"labels": true, "name": true, "zones": true, "node-taints": true, "dry-run": true}
	got, err := normalizeArgs(strings.Fields("--name np --labels dept=IT costcenter=9999 --zones 1 2 3 --node-taints a=b:NoSchedule --dry-run"), func(n string) bool { return known[n] })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--name", "np", "--labels", "dept=IT costcenter=9999", "--zones", "1 2 3", "--node-taints", "a=b:NoSchedule", "--dry-run"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q\nwant %q", got, want)
	}
	_, err = normalizeArgs(strings.Fields("--name np --max-pods 30 --enable-node-public-ip --ppg x"), func(n string) bool { return known[n] })
	for _, w := range []string{"--max-pods is an az aks nodepool flag", "set spec.maxPods of the AKSNodeClass", "--enable-node-public-ip", "--ppg"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error does not say %q: %v", w, err)
		}
	}
}

// The article's first command, pasted, prints what it would apply: the
// golden YAML of the mapping, with the region's catalog from azuresim.
func TestNodepoolAddDryRun(t *testing.T) {
	_, cfg := testutil.StartAzureSim(t, nil)
	region := []string{
		"--region=eastus", "--subscription-id=" + testutil.SubscriptionID,
		"--arm-endpoint=" + cfg.ARMEndpoint, "--prices-endpoint=" + cfg.ARMEndpoint,
		"--ca-bundle=" + cfg.CABundle, "--credential=static-token", "--static-token-file=" + tokenFile(t),
	}
	var out, errOut bytes.Buffer
	args := append(strings.Fields("add --resource-group myResourceGroup --cluster-name myAKSCluster --node-vm-size Standard_D8ds_v4 --name mynodepool --node-count 3 --dry-run"), region...)
	if err := runNodepool(args, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	root, err := testutil.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(root, "pkg", "aksnodepool", "testdata", "add-3-d8ds.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Errorf("dry-run output differs from the golden mapping:\n%s", out.String())
	}

	// The NC6 command fails before touching any cluster.
	out.Reset()
	args = append([]string{"add", "--name", "mynodepool", "--node-vm-size", "Standard_NC6", "--node-taints", "sku=gpu:NoSchedule", "--labels", "dept=IT", "costcenter=9999", "--kubeconfig", "/nonexistent"}, region...)
	err = runNodepool(args, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "retired the NC-series (v1) on 2023-09-06") || !strings.Contains(err.Error(), "Standard_NC6s_v3") {
		t.Errorf("NC6: %v", err)
	}
}

func TestVersionMatches(t *testing.T) {
	for _, tc := range []struct {
		asked, cp string
		want      bool
	}{
		{"1.35.4", "1.35.4", true}, {"v1.35.4", "1.35.4", true}, {"1.35", "1.35.4", true},
		{"1.35.3", "1.35.4", false}, {"1.34", "1.35.4", false}, {"1.3", "1.35.4", false}, {"1.35.4", "1.35.4+k3s1", true},
	} {
		if got := versionMatches(tc.asked, tc.cp); got != tc.want {
			t.Errorf("versionMatches(%q, %q) = %t", tc.asked, tc.cp, got)
		}
	}
}
