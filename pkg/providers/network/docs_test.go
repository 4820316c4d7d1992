package network_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instancetype"
	"github.com/azkarpenter/azkarpenter/pkg/providers/network"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

// The network setups table of docs/install.md is what the provider does:
// each row's setup, flags, IP configurations, IP forwarding, route table
// and default max pods are the provider's, row for row, and AKS's default
// max pods agree with the instance types' (instancetype.DefaultMaxPods).
func TestInstallDocsNetworkSetupsTable(t *testing.T) {
	root, err := testutil.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "install.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "### Network setups")
	if !ok {
		t.Fatal("docs/install.md has no \"### Network setups\" section")
	}
	var rows [][]string
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| ") {
			if len(rows) > 0 {
				break
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if cells[0] == "setup" || strings.HasPrefix(cells[0], "---") {
			continue
		}
		rows = append(rows, cells)
	}
	if len(rows) != len(network.Setups) {
		t.Fatalf("the table has %d setups, the provider %d", len(rows), len(network.Setups))
	}
	unquote := func(s string) string { return strings.Trim(strings.TrimSpace(s), "`\"") }
	for i, row := range rows {
		want := network.Setups[i]
		if len(row) != 6 {
			t.Fatalf("row %d has %d cells: %v", i, len(row), row)
		}
		if row[0] != want.Name {
			t.Errorf("row %d is %q, want %q", i, row[0], want.Name)
		}
		flags := strings.Split(row[1], "/")
		if len(flags) != 3 || unquote(flags[0]) != want.Plugin || unquote(flags[1]) != want.PluginMode || unquote(flags[2]) != want.Dataplane {
			t.Errorf("%s: networkProfile %q, want %s / %q / %s", want.Name, row[1], want.Plugin, want.PluginMode, want.Dataplane)
		}
		if got := row[2] == "1 + max pods"; got != want.PodIPConfigurations || (!got && row[2] != "1") {
			t.Errorf("%s: IP configurations %q, provider's pod IP configurations %v", want.Name, row[2], want.PodIPConfigurations)
		}
		if got := row[3] == "on"; got != want.IPForwarding {
			t.Errorf("%s: IP forwarding %q, provider's %v", want.Name, row[3], want.IPForwarding)
		}
		if got := row[4] == "required"; got != want.RouteTable {
			t.Errorf("%s: route table %q, provider's %v", want.Name, row[4], want.RouteTable)
		}
		if pods, err := strconv.Atoi(row[5]); err != nil || int32(pods) != want.DefaultMaxPods {
			t.Errorf("%s: default max pods %q, provider's %d", want.Name, row[5], want.DefaultMaxPods)
		}
		s, ok := cluster.NetworkSetupOf(want.Plugin, want.PluginMode, want.Dataplane)
		if !ok || s != want.Setup {
			t.Errorf("%s: its flags classify as %q", want.Name, s)
		}
		if got := instancetype.DefaultMaxPods(want.Plugin, want.PluginMode); got != want.DefaultMaxPods {
			t.Errorf("%s: instance types' default max pods %d, the setup's %d", want.Name, got, want.DefaultMaxPods)
		}
	}
}
