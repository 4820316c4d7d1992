package instancetype_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instancetype"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
)

func nodePool(reqs ...karpv1.NodeSelectorRequirementWithMinValues) *karpv1.NodePool {
	return &karpv1.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "np"}, Spec: karpv1.NodePoolSpec{Template: karpv1.NodeClaimTemplate{
		Spec: karpv1.NodeClaimTemplateSpec{Requirements: reqs},
	}}}
}

func in(key string, values ...string) karpv1.NodeSelectorRequirementWithMinValues {
	return karpv1.NodeSelectorRequirementWithMinValues{Key: key, Operator: corev1.NodeSelectorOpIn, Values: values}
}

// offered lists the sizes with an available offering, and checks that the
// others are still returned (core prices running nodes from them).
func offered(t *testing.T, all, its []*cloudprovider.InstanceType) map[string]bool {
	t.Helper()
	if len(its) != len(all) {
		t.Fatalf("ForNodePool returned %d instance types of %d: it must mark sizes, not drop them", len(its), len(all))
	}
	out := map[string]bool{}
	for i, it := range its {
		if len(it.Offerings.Available()) > 0 {
			out[it.Name] = true
			if it != all[i] {
				t.Errorf("%s is offered but was copied", it.Name)
			}
		} else if len(it.Offerings) != len(all[i].Offerings) || it.Offerings[0].Price != all[i].Offerings[0].Price {
			t.Errorf("%s: a left-out size keeps its offerings and prices", it.Name)
		}
	}
	return out
}

func TestForNodePool(t *testing.T) {
	// Prices are 0.1/vCPU on demand and 0.02/vCPU spot (newProvider), so at
	// equal vCPUs a size with more memory dominates one with less.
	d4 := newSKU("Standard_D4s_v5", "standardDSv5Family", 4, 16, sku.CapPremiumIO, "True")
	d4constrained := newSKU("Standard_D4-2s_v5", "standardDSv5Family", 4, 16, sku.CapPremiumIO, "True", sku.CapVCPUsAvailable, "2")
	d4lowmem := newSKU("Standard_D4ls_v5", "standardDLSv5Family", 4, 8, sku.CapPremiumIO, "True")
	d4nopremium := newSKU("Standard_D4_v5", "standardDv5Family", 4, 8)
	d8 := newSKU("Standard_D8s_v5", "standardDSv5Family", 8, 32, sku.CapPremiumIO, "True")
	arm := newSKU("Standard_D4ps_v5", "standardDPSv5Family", 4, 4, sku.CapPremiumIO, "True", sku.CapCPUArchitectureType, "Arm64", sku.CapHyperVGenerations, "V2")
	e4 := newSKU("Standard_E4s_v5", "standardESv5Family", 4, 32, sku.CapPremiumIO, "True")
	m416 := newSKU("Standard_M416ms_v2", "standardMSv2Family", 416, 11400, sku.CapPremiumIO, "True")
	p, cache, prices := newProvider(d4, d4constrained, d4lowmem, d4nopremium, d8, arm, e4, m416)
	// Azure prices a constrained-vCPU size as its parent: it exists for
	// per-core software licences.
	prices.linux[d4constrained.Name], prices.spot[d4constrained.Name] = prices.linux[d4.Name], prices.spot[d4.Name]
	ctx := context.Background()
	nc := nodeClass(nil)
	all, err := p.List(ctx, nc)
	if err != nil {
		t.Fatal(err)
	}

	its, err := p.ForNodePool(ctx, nc, nodePool())
	if err != nil {
		t.Fatal(err)
	}
	got := offered(t, all, its)
	for name, want := range map[string]bool{
		"Standard_D4s_v5":    true,
		"Standard_D4-2s_v5":  false, // 2 of 4 vCPUs usable, at the price of D4s_v5
		"Standard_D4ls_v5":   false, // D4s_v5 has more memory at the same price
		"Standard_D4_v5":     true,  // not premium-storage capable: a different kind, pods with premium disks need the other
		"Standard_D8s_v5":    true,  // more of everything, but dearer
		"Standard_D4ps_v5":   true,  // Arm64: a different kind
		"Standard_E4s_v5":    true,  // family E: a different kind
		"Standard_M416ms_v2": false, // outsized
	} {
		if got[name] != want {
			t.Errorf("%s offered=%t, want %t", name, got[name], want)
		}
	}
	reasons := instancetype.ExcludedForNodePool(all, nc, nodePool())
	if r := reasons["Standard_D4ls_v5"]; !strings.Contains(r, "dominated in NodePool np by Standard_D4") {
		t.Errorf("Standard_D4ls_v5 reason %q", r)
	}
	if r := reasons["Standard_M416ms_v2"]; !strings.Contains(r, "outsized") || !strings.Contains(r, "416 vCPU") {
		t.Errorf("Standard_M416ms_v2 reason %q", r)
	}

	// A NodePool that names a size, or chooses sizes by their figures, or
	// opts out, is offered it.
	for _, np := range []*karpv1.NodePool{
		nodePool(in(corev1.LabelInstanceTypeStable, "Standard_M416ms_v2", "Standard_D4ls_v5")),
		nodePool(in(v1beta1.LabelSKUName, "Standard_M416ms_v2", "Standard_D4ls_v5")),
	} {
		its, _ := p.ForNodePool(ctx, nc, np)
		if got := offered(t, all, its); !got["Standard_M416ms_v2"] || !got["Standard_D4ls_v5"] {
			t.Errorf("named sizes not offered: %v", got)
		}
	}
	gt := nodePool(karpv1.NodeSelectorRequirementWithMinValues{Key: v1beta1.LabelSKUCPU, Operator: corev1.NodeSelectorOpGt, Values: []string{"100"}})
	its, _ = p.ForNodePool(ctx, nc, gt)
	if got := offered(t, all, its); !got["Standard_M416ms_v2"] {
		t.Errorf("a sku-cpu > 100 NodePool is not offered M416ms_v2: %v", got)
	}
	optOut := nodePool()
	optOut.Annotations = map[string]string{instancetype.AnnotationOfferAllSizes: "true"}
	its, _ = p.ForNodePool(ctx, nc, optOut)
	if got := offered(t, all, its); len(got) != len(all) {
		t.Errorf("opted out, yet offered %d of %d", len(got), len(all))
	}

	// Dominance is judged within what the NodePool allows: a v5 "ls" pool
	// keeps D4ls_v5.
	its, _ = p.ForNodePool(ctx, nc, nodePool(in(v1beta1.LabelSKUFamily, "D"), in(v1beta1.LabelSKUSeries, "Dls")))
	if got := offered(t, all, its); !got["Standard_D4ls_v5"] {
		t.Errorf("Dls pool: %v", got)
	}

	// A dominating size that cannot be launched dominates nothing: when
	// D4s_v5 is out of capacity everywhere, D4ls_v5 is offered again.
	for _, z := range []string{"eastus-1", "eastus-2", "eastus-3"} {
		for _, ct := range []string{karpv1.CapacityTypeSpot, karpv1.CapacityTypeOnDemand} {
			cache.MarkUnavailable(ctx, "ZonalAllocationFailed", "Standard_D4s_v5", z, ct, time.Hour)
		}
	}
	all, _ = p.List(ctx, nc)
	its, _ = p.ForNodePool(ctx, nc, nodePool())
	if got := offered(t, all, its); !got["Standard_D4ls_v5"] {
		t.Errorf("D4ls_v5 still dominated by sizes that cannot launch: %v", got)
	}
}

// A size that would get an ephemeral OS disk is only dominated by one that
// would too: the node's OS disk is part of what the NodeClass asked for.
func TestForNodePoolEphemeralOSDisk(t *testing.T) {
	withCache := newSKU("Standard_D4ds_v5", "standardDDSv5Family", 4, 16, sku.CapEphemeralOSDiskSupported, "True",
		sku.CapSupportedEphemeralPlacements, "ResourceDisk", sku.CapMaxResourceVolumeMB, "153600")
	without := newSKU("Standard_D4d_v5", "standardDDv5Family", 4, 32)
	p, _, _ := newProvider(withCache, without)
	ctx := context.Background()
	for _, tc := range []struct {
		disk      v1beta1.OSDiskType
		wantCache bool
	}{{v1beta1.OSDiskTypeAuto, true}, {v1beta1.OSDiskTypeManaged, false}} {
		nc := nodeClass(func(nc *v1beta1.AKSNodeClass) {
			nc.Spec.OSDiskType = &tc.disk
			size := int32(128)
			nc.Spec.OSDiskSizeGB = &size
		})
		all, _ := p.List(ctx, nc)
		its, _ := p.ForNodePool(ctx, nc, nodePool())
		if got := offered(t, all, its); got["Standard_D4ds_v5"] != tc.wantCache {
			t.Errorf("osDiskType %s: D4ds_v5 offered=%t, want %t (%v)", tc.disk, got["Standard_D4ds_v5"], tc.wantCache, instancetype.ExcludedForNodePool(all, nc, nodePool()))
		}
	}
}
