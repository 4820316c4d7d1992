package instancetype_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	clocktesting "k8s.io/utils/clock/testing"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/scheduling"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instancetype"
	"github.com/azkarpenter/azkarpenter/pkg/providers/offerings"
	"github.com/azkarpenter/azkarpenter/pkg/providers/quota"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
)

// Narrow in-memory stand-ins for the catalog, prices and quota; the
// providers themselves are tested against azuresim.
type staticCatalog struct{ c *sku.Catalog }

func (s staticCatalog) Catalog(context.Context) (*sku.Catalog, error) { return s.c, nil }
func (s staticCatalog) Refresh(context.Context) error                 { return nil }

type flatPrices struct {
	linux, spot, windows map[string]float64
	gen                  uint64
}

func (p *flatPrices) OnDemandPrice(n string) (float64, bool)    { v, ok := p.linux[n]; return v, ok }
func (p *flatPrices) SpotPrice(n string) (float64, bool)        { v, ok := p.spot[n]; return v, ok }
func (p *flatPrices) WindowsPrice(n string) (float64, bool)     { v, ok := p.windows[n]; return v, ok }
func (p *flatPrices) WindowsSpotPrice(n string) (float64, bool) { v, ok := p.spot[n]; return v, ok }
func (p *flatPrices) Generation() uint64                        { return p.gen }

type fixedQuota struct{ s *quota.Snapshot }

func (q fixedQuota) Snapshot(context.Context) *quota.Snapshot { return q.s }
func (q fixedQuota) Refresh(context.Context) error            { return nil }

// Real capabilities of the sizes the AKS docs use as ephemeral OS examples:
// Standard_DS2_v2 has an 86GiB cache and a 14GiB temp disk, Standard_D8s_v3
// a 200GiB cache.
var (
	ds2v2 = newSKU("Standard_DS2_v2", "standardDSv2Family", 2, 7,
		sku.CapEphemeralOSDiskSupported, "True", sku.CapSupportedEphemeralPlacements, "ResourceDisk,CacheDisk",
		sku.CapCachedDiskBytes, "92341796864", sku.CapMaxResourceVolumeMB, "14336", sku.CapEncryptionAtHost, "True")
	d8sv3 = newSKU("Standard_D8s_v3", "standardDSv3Family", 8, 32,
		sku.CapEphemeralOSDiskSupported, "True", sku.CapSupportedEphemeralPlacements, "ResourceDisk,CacheDisk",
		sku.CapCachedDiskBytes, "214748364800", sku.CapMaxResourceVolumeMB, "65536", sku.CapEncryptionAtHost, "True")
)

func nodeClass(mutate func(*v1beta1.AKSNodeClass)) *v1beta1.AKSNodeClass {
	nc := &v1beta1.AKSNodeClass{}
	nc.Name = "default"
	if mutate != nil {
		mutate(nc)
	}
	return nc
}

func TestEphemeralOSDiskExamples(t *testing.T) {
	for _, tc := range []struct {
		s          *sku.SKU
		diskType   v1beta1.OSDiskType
		size       int32
		want       string
		wantReason string
	}{
		{ds2v2, v1beta1.OSDiskTypeAuto, 100, "managed 100GiB", ""},
		{ds2v2, v1beta1.OSDiskTypeEphemeral, 100, "", "does not fit the size's largest ephemeral placement (86GiB)"},
		{ds2v2, v1beta1.OSDiskTypeAuto, 60, "ephemeral 60GiB (CacheDisk)", ""},
		{ds2v2, v1beta1.OSDiskTypeManaged, 60, "managed 60GiB", ""},
		{d8sv3, v1beta1.OSDiskTypeAuto, 100, "ephemeral 100GiB (CacheDisk)", ""},
		{d8sv3, v1beta1.OSDiskTypeEphemeral, 100, "ephemeral 100GiB (CacheDisk)", ""},
	} {
		nc := nodeClass(func(nc *v1beta1.AKSNodeClass) {
			nc.Spec.OSDiskType = lo.ToPtr(tc.diskType)
			nc.Spec.OSDiskSizeGB = lo.ToPtr(tc.size)
		})
		disk, reason := sku.ChooseOSDisk(tc.s, nc)
		if tc.wantReason != "" {
			if !strings.Contains(reason, tc.wantReason) {
				t.Errorf("%s %s %d: reason %q, want %q", tc.s.Name, tc.diskType, tc.size, reason, tc.wantReason)
			}
			continue
		}
		if reason != "" || disk.String() != tc.want {
			t.Errorf("%s %s %d: %s (%s), want %s", tc.s.Name, tc.diskType, tc.size, disk, reason, tc.want)
		}
	}
}

func TestNVMePreferred(t *testing.T) {
	l8 := newSKU("Standard_L8s_v3", "standardLSv3Family", 8, 64,
		sku.CapEphemeralOSDiskSupported, "True", sku.CapSupportedEphemeralPlacements, "ResourceDisk,NvmeDisk",
		sku.CapNvmeDiskSizeInMiB, "1831424", sku.CapMaxResourceVolumeMB, "81920")
	placement, maxGiB := sku.EphemeralPlacement(l8, 128)
	if placement != "NvmeDisk" || maxGiB != 1788 {
		t.Errorf("got %s / %dGiB, want NvmeDisk / 1788GiB", placement, maxGiB)
	}
}

func newProvider(skus ...*sku.SKU) (*instancetype.DefaultProvider, *offerings.Cache, *flatPrices) {
	catalog := &sku.Catalog{SKUs: map[string]*sku.SKU{}, Excluded: map[string]string{"Standard_NV6": "not available in eastus for this subscription (NotAvailableForSubscription)"}, Generation: 1}
	prices := &flatPrices{linux: map[string]float64{}, spot: map[string]float64{}, windows: map[string]float64{}, gen: 1}
	for _, s := range skus {
		catalog.SKUs[s.Name] = s
		prices.linux[s.Name] = 0.1 * float64(s.VCPUs())
		prices.spot[s.Name] = 0.02 * float64(s.VCPUs())
		prices.windows[s.Name] = 0.15 * float64(s.VCPUs())
	}
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	cache := offerings.NewCache(clk)
	q := fixedQuota{&quota.Snapshot{Known: true, Generation: 1, Limits: map[string]quota.Limit{
		"standardDSv5Family":   {Limit: 10, Current: 4},
		quota.RegionalCores:    {Limit: 1000},
		quota.LowPriorityCores: {Limit: 1000},
	}}}
	p := instancetype.NewDefaultProvider(instancetype.Options{Region: "eastus", ClusterName: "c1", DefaultMaxPods: 110}, staticCatalog{catalog}, prices, cache, q, clk)
	return p, cache, prices
}

// Each filter, shown with the reason `azkarpenter explain` gives.
func TestFilterReasons(t *testing.T) {
	d4 := newSKU("Standard_D4s_v5", "standardDSv5Family", 4, 16, sku.CapEncryptionAtHost, "True")
	arm := newSKU("Standard_D4ps_v5", "standardDPSv5Family", 4, 16, sku.CapCPUArchitectureType, "Arm64", sku.CapHyperVGenerations, "V2")
	gen1 := newSKU("Standard_D4_v2", "standardDv2Family", 8, 28, sku.CapHyperVGenerations, "V1")
	small := newSKU("Standard_B1ms", "standardBSFamily", 1, 2)
	retired := newSKU("Standard_D4_v3", "standardDv3Family", 4, 16, sku.CapRetirementDateUtc, "2026-09-30T00:00:00Z")
	confidential := newSKU("Standard_DC4as_v5", "standardDCASv5Family", 4, 16, sku.CapConfidentialComputingType, "SNP", sku.CapHyperVGenerations, "V2")
	bseries := newSKU("Standard_B4ms", "standardBSFamily", 4, 16)
	unknownGPU := newSKU("Standard_NX12s_v9", "standardNXSv9Family", 12, 112, sku.CapGPUs, "2")
	amdGPU := newSKU("Standard_NV8ads_V710_v5", "StandardNVadsV710v5Family", 8, 40, sku.CapGPUs, "1", sku.CapHyperVGenerations, "V2")
	noTL := newSKU("Standard_D4_v4", "standardDv4Family", 4, 16, sku.CapTrustedLaunchDisabled, "True")
	d2 := newSKU("Standard_D2s_v5", "standardDSv5Family", 2, 8)
	p, _, _ := newProvider(d4, arm, gen1, small, retired, confidential, bseries, unknownGPU, ds2v2, amdGPU, noTL, d2)

	for _, tc := range []struct {
		name   string
		nc     *v1beta1.AKSNodeClass
		size   string
		reason string
	}{
		{"restricted for the subscription", nodeClass(nil), "Standard_NV6", "NotAvailableForSubscription"},
		{"fewer than 2 vCPUs", nodeClass(nil), "Standard_B1ms", "1 vCPU: AKS nodes need at least 2"},
		{"less than 3.5GiB", nodeClass(nil), "Standard_B1ms", "2GiB memory: AKS nodes need at least 3.5GiB"},
		{"retired", nodeClass(nil), "Standard_D4_v3", "retired on 2026-09-30"},
		{"Windows on Arm64", nodeClass(func(nc *v1beta1.AKSNodeClass) { nc.Spec.ImageFamily = lo.ToPtr("Windows2022") }), "Standard_D4ps_v5", "Windows2022 images are x64 only"},
		{"HyperV generation", nodeClass(func(nc *v1beta1.AKSNodeClass) { nc.Spec.ImageFamily = lo.ToPtr("Windows2025") }), "Standard_D4_v2", "need HyperV generation V2; the size supports V1"},
		{"ephemeral does not fit", nodeClass(func(nc *v1beta1.AKSNodeClass) {
			nc.Spec.OSDiskType = lo.ToPtr(v1beta1.OSDiskTypeEphemeral)
			nc.Spec.OSDiskSizeGB = lo.ToPtr[int32](100)
		}), "Standard_DS2_v2", "does not fit the size's largest ephemeral placement (86GiB)"},
		{"ephemeral unsupported", nodeClass(func(nc *v1beta1.AKSNodeClass) { nc.Spec.OSDiskType = lo.ToPtr(v1beta1.OSDiskTypeEphemeral) }), "Standard_D4s_v5", "supports no ephemeral OS disk"},
		{"encryption at host", nodeClass(func(nc *v1beta1.AKSNodeClass) { nc.Spec.Security = &v1beta1.Security{EncryptionAtHost: lo.ToPtr(true)} }), "Standard_B4ms", "does not support encryption at host"},
		{"confidential NodeClass, ordinary size", nodeClass(func(nc *v1beta1.AKSNodeClass) { nc.Spec.Security = &v1beta1.Security{ConfidentialVM: lo.ToPtr(true)} }), "Standard_D4s_v5", "not a confidential VM size"},
		{"confidential size, ordinary NodeClass", nodeClass(nil), "Standard_DC4as_v5", "set security.confidentialVM to use it"},
		{"Kata needs nested virtualization", nodeClass(func(nc *v1beta1.AKSNodeClass) {
			nc.Spec.ImageFamily = lo.ToPtr("AzureLinux")
			nc.Spec.WorkloadRuntime = lo.ToPtr(v1beta1.WorkloadRuntimeKataVMIsolation)
		}), "Standard_B4ms", "does not support nested virtualization"},
		{"dedicated host family", nodeClass(func(nc *v1beta1.AKSNodeClass) {
			nc.Spec.DedicatedHostGroupID = lo.ToPtr("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/hostGroups/hg")
		}), "Standard_B4ms", "no dedicated hosts for the Bms series"},
		{"unknown GPU model", nodeClass(nil), "Standard_NX12s_v9", "unknown GPU model"},
		{"AMD GPU with gpu.mode Driver", nodeClass(nil), "Standard_NV8ads_V710_v5", "install no driver for AMD GPUs"},
		{"trusted launch unsupported", nodeClass(func(nc *v1beta1.AKSNodeClass) {
			nc.Spec.Security = &v1beta1.Security{TrustedLaunch: &v1beta1.TrustedLaunch{VTPM: lo.ToPtr(true)}}
		}), "Standard_D4_v4", "does not support Trusted Launch"},
		{"trusted launch on Arm64", nodeClass(func(nc *v1beta1.AKSNodeClass) {
			nc.Spec.Security = &v1beta1.Security{TrustedLaunch: &v1beta1.TrustedLaunch{SecureBoot: lo.ToPtr(true)}}
		}), "Standard_D4ps_v5", "Trusted Launch node images are x64 only"},
		{"trusted launch on Gen1", nodeClass(func(nc *v1beta1.AKSNodeClass) {
			nc.Spec.Security = &v1beta1.Security{TrustedLaunch: &v1beta1.TrustedLaunch{VTPM: lo.ToPtr(true)}}
		}), "Standard_D4_v2", "need HyperV generation V2"},
		{"artifact streaming on Arm64", nodeClass(func(nc *v1beta1.AKSNodeClass) {
			nc.Spec.ArtifactStreaming = &v1beta1.ArtifactStreaming{Enabled: lo.ToPtr(true)}
		}), "Standard_D4ps_v5", "Arm64 sizes cannot stream container images"},
		{"LocalDNS on 2 vCPUs", nodeClass(func(nc *v1beta1.AKSNodeClass) {
			nc.Status.LocalDNSState = lo.ToPtr(v1beta1.LocalDNSStateEnabled)
		}), "Standard_D2s_v5", "needs at least 4 vCPUs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := p.Explain(context.Background(), tc.nc)
			if err != nil {
				t.Fatal(err)
			}
			d, ok := lo.Find(ds, func(d instancetype.Decision) bool { return d.Name == tc.size })
			if !ok {
				t.Fatalf("%s not explained", tc.size)
			}
			if d.Included || !lo.ContainsBy(d.Reasons, func(r string) bool { return strings.Contains(r, tc.reason) }) {
				t.Errorf("%s: included=%v reasons=%q, want a reason containing %q", tc.size, d.Included, d.Reasons, tc.reason)
			}
		})
	}

	// The same sizes pass where the NodeClass asks nothing they lack.
	ds, err := p.Explain(context.Background(), nodeClass(func(nc *v1beta1.AKSNodeClass) {
		nc.Spec.ImageFamily = lo.ToPtr("AzureLinux")
		nc.Spec.WorkloadRuntime = lo.ToPtr(v1beta1.WorkloadRuntimeKataVMIsolation)
		nc.Spec.Security = &v1beta1.Security{EncryptionAtHost: lo.ToPtr(true)}
		nc.Spec.DedicatedHostGroupID = lo.ToPtr("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/hostGroups/hg")
	}))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := lo.Find(ds, func(d instancetype.Decision) bool { return d.Name == "Standard_D4s_v5" }); !d.Included {
		t.Errorf("Standard_D4s_v5 should serve Kata + encryption at host + dedicated host: %q", d.Reasons)
	}
	ds, err = p.Explain(context.Background(), nodeClass(func(nc *v1beta1.AKSNodeClass) {
		nc.Spec.GPU = &v1beta1.GPU{Mode: lo.ToPtr(v1beta1.GPUModeNone)}
		nc.Spec.Security = &v1beta1.Security{TrustedLaunch: &v1beta1.TrustedLaunch{VTPM: lo.ToPtr(true)}}
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []string{"Standard_NV8ads_V710_v5", "Standard_D4s_v5"} {
		if d, _ := lo.Find(ds, func(d instancetype.Decision) bool { return d.Name == size }); !d.Included {
			t.Errorf("%s should serve gpu.mode None + trusted launch: %q", size, d.Reasons)
		}
	}
}

func TestOfferings(t *testing.T) {
	ctx := context.Background()
	d4 := newSKU("Standard_D4s_v5", "standardDSv5Family", 4, 16)
	d8 := newSKU("Standard_D8s_v5", "standardDSv5Family", 8, 32)
	regional := newSKU("Standard_D4s_v4", "standardDSv4Family", 4, 16)
	regional.Zones = nil
	noSpot := newSKU("Standard_E4s_v5", "standardESv5Family", 4, 32, sku.CapLowPriorityCapable, "False")
	p, cache, prices := newProvider(d4, d8, regional, noSpot)

	its, err := p.List(ctx, nodeClass(nil))
	if err != nil {
		t.Fatal(err)
	}
	find := func(name string) *instancetypeView {
		for _, it := range its {
			if it.Name == name {
				return &instancetypeView{len(it.Offerings.Available()), len(it.Offerings)}
			}
		}
		return nil
	}
	// 3 zones × {on-demand, spot}.
	if v := find("Standard_D4s_v5"); v == nil || v.total != 6 || v.available != 6 {
		t.Errorf("D4s_v5 offerings = %+v, want 6 available", v)
	}
	// 10 vCPU family quota with 4 used: the 8-vCPU size does not fit on-demand
	// (spot uses lowPriorityCores).
	if v := find("Standard_D8s_v5"); v == nil || v.total != 6 || v.available != 3 {
		t.Errorf("D8s_v5 offerings = %+v, want 3 of 6 available (spot only)", v)
	}
	if v := find("Standard_D4s_v4"); v == nil || v.total != 2 {
		t.Errorf("regional size offerings = %+v, want zone 0 × 2", v)
	}
	if v := find("Standard_E4s_v5"); v == nil || v.total != 3 {
		t.Errorf("size without spot offerings = %+v, want 3 on-demand", v)
	}
	for _, it := range its {
		if it.Name == "Standard_D4s_v4" {
			if z := it.Requirements.Get("topology.kubernetes.io/zone").Values(); len(z) != 1 || z[0] != "0" {
				t.Errorf("regional zone label = %v", z)
			}
		}
	}

	// A cached list is returned for an unchanged NodeClass…
	again, _ := p.List(ctx, nodeClass(nil))
	if again[0] != its[0] {
		t.Error("unchanged inputs should hit the cache")
	}
	// …and rebuilt when availability changes.
	cache.MarkUnavailable(ctx, "ZonalAllocationFailed", "Standard_D4s_v5", "eastus-1", offerings.Any, offerings.AllocationTTL)
	rebuilt, _ := p.List(ctx, nodeClass(nil))
	for _, it := range rebuilt {
		if it.Name == "Standard_D4s_v5" && len(it.Offerings.Available()) != 4 {
			t.Errorf("after a zonal failure D4s_v5 has %d available offerings, want 4", len(it.Offerings.Available()))
		}
	}

	// The spot price cap hides spot offerings priced above it.
	prices.gen++
	capped, _ := p.List(ctx, nodeClass(func(nc *v1beta1.AKSNodeClass) { nc.Spec.Spot = &v1beta1.SpotConfiguration{MaxPrice: lo.ToPtr("0.1")} }))
	for _, it := range capped {
		spot := it.Offerings.Compatible(schedulingSpot())
		switch it.Name {
		case "Standard_D4s_v5": // spot 0.08 ≤ 0.1
			if len(spot) == 0 {
				t.Error("D4s_v5 spot (0.08/h) should be offered under a 0.1 cap")
			}
		case "Standard_D8s_v5": // spot 0.16 > 0.1
			if len(spot) != 0 {
				t.Error("D8s_v5 spot (0.16/h) should be hidden under a 0.1 cap")
			}
		}
	}
}

type instancetypeView struct{ available, total int }

func schedulingSpot() scheduling.Requirements {
	return scheduling.NewRequirements(scheduling.NewRequirement(karpv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, karpv1.CapacityTypeSpot))
}

// The labels AKS node auto-provisioning users select on have its values:
// the GPU count "0" on sizes without GPUs, the ephemeral OS disk limit in GB
// of the first of NVMe, cache and resource disk, Ultra Disk support per zone.
func TestNodeAutoProvisioningLabelValues(t *testing.T) {
	d8 := newSKU("Standard_D8s_v5", "standardDSv5Family", 8, 32)
	d8.Zones = []string{"1", "2", "3"}
	d8.UltraSSDZones = []string{"2", "3"}
	p, _, _ := newProvider(d8, d8sv3, ds2v2)
	its, err := p.List(context.Background(), nodeClass(nil))
	if err != nil {
		t.Fatal(err)
	}
	byName := lo.SliceToMap(its, func(it *cloudprovider.InstanceType) (string, *cloudprovider.InstanceType) { return it.Name, it })
	if got := byName["Standard_D8s_v5"].Requirements.Get(v1beta1.LabelSKUGPUCount).Values(); len(got) != 1 || got[0] != "0" {
		t.Errorf("sku-gpu-count %v, want [0]", got)
	}
	// 200 GiB cache disk: 214748364800 bytes = 214 GB; DS2_v2: 86 GiB → 92 GB.
	for size, want := range map[string]string{"Standard_D8s_v3": "214", "Standard_DS2_v2": "92"} {
		if got := byName[size].Requirements.Get(v1beta1.LabelSKUStorageEphemeralOSMaxSize).Values(); len(got) != 1 || got[0] != want {
			t.Errorf("%s ephemeralos-maxsize %v, want %s", size, got, want)
		}
	}
	if op := byName["Standard_D8s_v5"].Requirements.Get(v1beta1.LabelSKUStorageEphemeralOSMaxSize).Operator(); op != corev1.NodeSelectorOpDoesNotExist {
		t.Errorf("a size without ephemeral OS disks has ephemeralos-maxsize %s", op)
	}
	// A zone that can attach Ultra Disks offers nodes with and without them.
	for _, o := range byName["Standard_D8s_v5"].Offerings {
		want := []string{"false"}
		if o.Zone() != "eastus-1" {
			want = []string{"false", "true"}
		}
		got := o.Requirements.Get(v1beta1.LabelSKUStorageUltraSSD).Values()
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("offering %s: ultra-ssd %v, want %v", o.Zone(), got, want)
		}
	}
	if got := byName["Standard_D8s_v5"].Requirements.Get(v1beta1.LabelSKUStorageUltraSSD).Values(); len(got) != 2 {
		t.Errorf("instance type ultra-ssd values %v, want true and false", got)
	}
}
