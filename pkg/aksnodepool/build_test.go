package aksnodepool_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/utils/clock"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/azkarpenter/azkarpenter/pkg/aksnodepool"
	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
	"github.com/azkarpenter/azkarpenter/pkg/test/golden"
)

var (
	catOnce sync.Once
	cat     aksnodepool.Catalog
)

// eastus reads eastus's catalog from azuresim through the SKU provider, as
// the CLI does against Azure.
func eastus(t *testing.T) aksnodepool.Catalog {
	t.Helper()
	catOnce.Do(func() {
		_, cfg := testutil.StartAzureSim(t, nil)
		clients, err := azure.NewClients(cfg, testutil.SubscriptionID)
		if err != nil {
			t.Fatal(err)
		}
		c, err := sku.NewDefaultProvider(clients.Compute.NewResourceSKUsClient(), "eastus", clock.RealClock{}).Catalog(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		cat = aksnodepool.FromSKUs("eastus", c, time.Now())
	})
	if cat == nil {
		t.Fatal("no catalog")
	}
	return cat
}

func flags(name string, edit func(*aksnodepool.AddFlags)) aksnodepool.AddFlags {
	f := aksnodepool.NewAddFlags()
	f.Name = name
	if edit != nil {
		edit(&f)
	}
	return f
}

// The article's commands, and the other flags, each against a golden file.
func TestBuildGolden(t *testing.T) {
	for _, tc := range []struct {
		golden string
		flags  aksnodepool.AddFlags
	}{
		{"add-3-d8ds.yaml", flags("mynodepool", func(f *aksnodepool.AddFlags) { f.NodeVMSize = "Standard_D8ds_v4"; f.NodeCount = 3 })},
		{"add-spot-autoscaler.yaml", flags("myspotpool", func(f *aksnodepool.AddFlags) {
			f.NodeVMSize, f.Priority, f.EvictionPolicy, f.SpotMaxPrice = "Standard_D8ds_v4", "Spot", "Delete", "-1"
			f.EnableClusterAutoscaler, f.MinCount, f.MaxCount = true, 1, 3
		})},
		{"add-ephemeral-48.yaml", flags("mynewpool", func(f *aksnodepool.AddFlags) {
			f.NodeVMSize, f.OSDiskType, f.OSDiskSizeGB = "Standard_D8ds_v4", "Ephemeral", 48
		})},
		{"add-windows.yaml", flags("npwin", func(f *aksnodepool.AddFlags) { f.NodeVMSize, f.OSType, f.NodeCount = "Standard_D8ds_v4", "Windows", 1 })},
		{"add-system-zones-surge.yaml", flags("sys", func(f *aksnodepool.AddFlags) {
			f.Mode, f.Zones, f.MaxSurge, f.NodeCount = "System", []string{"1", "2"}, "33%", 2
			f.OSSKU, f.EnableFIPSImage, f.EnableEncryptionAtHost = "AzureLinux", true, true
		})},
		{"add-vm-sizes-taints-labels-tags.yaml", flags("gpu", func(f *aksnodepool.AddFlags) {
			f.VMSetType, f.VMSizes = "VirtualMachines", []string{"Standard_NC6s_v3", "Standard_NC12s_v3"}
			f.Taints = []string{"sku=gpu:NoSchedule"}
			f.Labels = map[string]string{"dept": "IT", "costcenter": "9999"}
			f.Tags = map[string]string{"team": "ml"}
			f.NodeCount = 0
		})},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			pool, err := aksnodepool.Build(tc.flags, eastus(t))
			if err != nil {
				t.Fatal(err)
			}
			got, err := pool.YAML()
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, tc.golden, got)
			// The golden YAML reads back as the API types, strictly.
			for _, doc := range strings.Split(string(got), "\n---\n") {
				var into any = &karpv1.NodePool{}
				if strings.HasPrefix(doc, "kind: AKSNodeClass") || strings.Contains(doc, "\nkind: AKSNodeClass") {
					into = &v1beta1.AKSNodeClass{}
				}
				if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
					t.Fatalf("%v\n%s", err, doc)
				}
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags aksnodepool.AddFlags
		want  []string
	}{
		{"retired NC6 names the retirement and the family's sizes", flags("mynodepool", func(f *aksnodepool.AddFlags) {
			f.NodeVMSize, f.Taints, f.Labels = "Standard_NC6", []string{"sku=gpu:NoSchedule"}, map[string]string{"dept": "IT", "costcenter": "9999"}
		}), []string{"Standard_NC6: Azure retired the NC-series (v1) on 2023-09-06", "Standard_NC6s_v3", "Standard_NC12s_v3"}},
		{"ephemeral too large for DS2_v2's cache", flags("eph", func(f *aksnodepool.AddFlags) {
			f.NodeVMSize, f.OSDiskType, f.OSDiskSizeGB = "Standard_DS2_v2", "Ephemeral", 128
		}), []string{"Standard_DS2_v2 cannot hold it", "cache disk 86 GB", "resource (temp) disk 14 GB"}},
		{"Windows name longer than 6", flags("mywindowsnodepool", func(f *aksnodepool.AddFlags) { f.OSType = "Windows" }),
			[]string{"Windows node pool names", "at most 6"}},
		{"Linux name rules", flags("My_Pool", nil), []string{"at most 12 lowercase letters and digits"}},
		{"Deallocate cannot be honoured", flags("spot", func(f *aksnodepool.AddFlags) { f.Priority, f.EvictionPolicy = "Spot", "Deallocate" }),
			[]string{"--eviction-policy Deallocate cannot be honoured", "Use --eviction-policy Delete"}},
		{"eviction policy without spot", flags("reg", func(f *aksnodepool.AddFlags) { f.EvictionPolicy = "Delete" }), []string{"need --priority Spot"}},
		{"reserved label prefixes", flags("lbl", func(f *aksnodepool.AddFlags) {
			f.Labels = map[string]string{"kubernetes.azure.com/mode": "user", "node.kubernetes.io/foo": "x", "agentpool": "x", "azkarpenter.io/agentpool": "y"}
		}), []string{"--labels kubernetes.azure.com/mode: the kubernetes.azure.com prefix is reserved", "--labels node.kubernetes.io/foo: the kubernetes.io prefix is reserved",
			"--labels agentpool: the label is reserved; AKS sets it", "--labels azkarpenter.io/agentpool: the label is reserved; it is the pool's name"}},
		{"six sizes", flags("vms", func(f *aksnodepool.AddFlags) {
			f.VMSetType, f.VMSizes = "VirtualMachines", []string{"Standard_D2s_v5", "Standard_D4s_v5", "Standard_D8s_v5", "Standard_D16s_v5", "Standard_D32s_v5", "Standard_D48s_v5"}
		}), []string{"6 sizes; a Virtual Machines node pool takes at most 5"}},
		{"sizes of two families", flags("vms", func(f *aksnodepool.AddFlags) {
			f.VMSetType, f.VMSizes = "VirtualMachines", []string{"Standard_D4s_v5", "Standard_E4s_v5"}
		}), []string{"takes sizes of one family", "standardDSv5Family", "standardESv5Family"}},
		{"vm-sizes without VirtualMachines", flags("vms", func(f *aksnodepool.AddFlags) { f.VMSizes = []string{"Standard_D4s_v5"} }), []string{"--vm-sizes needs --vm-set-type VirtualMachines"}},
		{"autoscaler without bounds", flags("as", func(f *aksnodepool.AddFlags) { f.EnableClusterAutoscaler = true }), []string{"needs --min-count and --max-count"}},
		{"min above max", flags("as", func(f *aksnodepool.AddFlags) { f.EnableClusterAutoscaler, f.MinCount, f.MaxCount = true, 4, 3 }), []string{"--min-count 4 is greater than --max-count 3"}},
		{"bounds without autoscaler", flags("as", func(f *aksnodepool.AddFlags) { f.MinCount = 1 }), []string{"need --enable-cluster-autoscaler"}},
		{"System spot", flags("sys", func(f *aksnodepool.AddFlags) { f.Mode, f.Priority = "System", "Spot" }), []string{"System node pools cannot use Spot VMs"}},
		{"System Windows", flags("win", func(f *aksnodepool.AddFlags) { f.Mode, f.OSType = "System", "Windows" }), []string{"System node pools must run Linux"}},
		{"os-sku against os-type", flags("win", func(f *aksnodepool.AddFlags) { f.OSType, f.OSSKU = "Windows", "Ubuntu" }), []string{"--os-sku Ubuntu does not match --os-type Windows"}},
		{"unknown size", flags("x", func(f *aksnodepool.AddFlags) { f.NodeVMSize = "Standard_Q4_v9" }), []string{"--node-vm-size Standard_Q4_v9 is not offered in eastus"}},
		{"bad taint", flags("x", func(f *aksnodepool.AddFlags) { f.Taints = []string{"sku=gpu:Sometimes", "nocolon"} }), []string{`effect "Sometimes"`, `"nocolon": want key=value:Effect`}},
		{"bad surge", flags("x", func(f *aksnodepool.AddFlags) { f.MaxSurge = "150%" }), []string{"between 1% and 100%"}},
		{"bad zone", flags("x", func(f *aksnodepool.AddFlags) { f.Zones = []string{"4"} }), []string{`--zones "4"`}},
		{"spot price", flags("x", func(f *aksnodepool.AddFlags) { f.Priority, f.SpotMaxPrice = "Spot", "0.123456" }), []string{"up to 5 decimals"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := aksnodepool.Build(tc.flags, eastus(t))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

// Without a catalog (no region given) the retirement table still answers.
func TestRetiredWithoutCatalog(t *testing.T) {
	_, err := aksnodepool.Build(flags("gpu", func(f *aksnodepool.AddFlags) { f.NodeVMSize = "Standard_NC6" }), nil)
	if err == nil || !strings.Contains(err.Error(), "retired the NC-series (v1) on 2023-09-06") {
		t.Fatalf("got %v", err)
	}
}

func TestParseKeyValues(t *testing.T) {
	got, err := aksnodepool.ParseKeyValues("--labels", []string{"dept=IT costcenter=9999", "a=b,c="})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"dept": "IT", "costcenter": "9999", "a": "b", "c": ""}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, err := aksnodepool.ParseKeyValues("--labels", []string{"novalue"}); err == nil {
		t.Error("accepted a label without =")
	}
}
