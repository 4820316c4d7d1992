package instancetype_test

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instancetype"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
)

// newSKU builds a catalog entry with the capabilities tests care about.
func newSKU(name, family string, vcpus int64, memoryGiB float64, caps ...string) *sku.SKU {
	s := &sku.SKU{Name: name, Family: family, Zones: []string{"1", "2", "3"}, Capabilities: map[string]string{
		sku.CapVCPUs:               fmt.Sprint(vcpus),
		sku.CapMemoryGB:            fmt.Sprint(memoryGiB),
		sku.CapHyperVGenerations:   "V1,V2",
		sku.CapCPUArchitectureType: "x64",
		sku.CapLowPriorityCapable:  "True",
	}}
	for i := 0; i+1 < len(caps); i += 2 {
		s.Capabilities[caps[i]] = caps[i+1]
	}
	return s
}

// The expected figures are worked out by hand from the AKS formulas, not by
// the code under test:
//
//	kube-reserved CPU:    60m + 40m + 20m×2 (cores 3–4) + 10m per further core
//	kube-reserved memory: 25% of the first 4GiB, 20% of the next 4, 10% of the
//	                      next 8, 6% of the next 112, 2% above 128, in MiB rounded
//	node memory:          floor(GiB × 1024 × 0.925) MiB
//	allocatable memory:   node memory − kube-reserved − 750Mi eviction threshold
//	allocatable ephemeral-storage: OS disk − 10% (nodefs.available eviction threshold)
func TestCapacityAndOverhead(t *testing.T) {
	for _, tc := range []struct {
		name, family  string
		vcpus         int64
		memoryGiB     float64
		gpus          int64
		reservedCPUm  int64
		reservedMemMi int64
		nodeMemMi     int64
		allocCPUm     int64
		allocMemMi    int64
	}{
		// 2 vCPU: 60+40 = 100m. 8GiB: 1 + 0.8 = 1.8GiB = 1843.2 → 1843Mi. node 7577.6 → 7577.
		{"Standard_D2s_v5", "standardDSv5Family", 2, 8, 0, 100, 1843, 7577, 1900, 7577 - 1843 - 750},
		// 4 vCPU: 100+20+20 = 140m. 16GiB: 1.8 + 0.8 = 2.6GiB = 2662.4 → 2662Mi. node 15155.2 → 15155.
		{"Standard_D4s_v5", "standardDSv5Family", 4, 16, 0, 140, 2662, 15155, 3860, 15155 - 2662 - 750},
		// 8 vCPU: 140+4×10 = 180m. 32GiB: 2.6 + 16×0.06 = 3.56GiB = 3645.44 → 3645Mi. node 30310.4 → 30310.
		{"Standard_D8s_v5", "standardDSv5Family", 8, 32, 0, 180, 3645, 30310, 7820, 30310 - 3645 - 750},
		// 16 vCPU: 180+8×10 = 260m. 64GiB: 2.6 + 48×0.06 = 5.48GiB = 5611.52 → 5612Mi. node 60620.8 → 60620.
		{"Standard_D16s_v5", "standardDSv5Family", 16, 64, 0, 260, 5612, 60620, 15740, 60620 - 5612 - 750},
		// 32 vCPU: 180m for the first 8, then 24×10 = 420m. 256GiB: 2.6 + 6.72 + 128×0.02 = 11.88GiB = 12165.12 → 12165Mi. node 242483.2 → 242483.
		{"Standard_E32s_v5", "standardESv5Family", 32, 256, 0, 420, 12165, 242483, 31580, 242483 - 12165 - 750},
		// 64 vCPU: 180 + 56×10 = 740m. 256GiB as above.
		{"Standard_D64s_v5", "standardDSv5Family", 64, 256, 0, 740, 12165, 242483, 63260, 242483 - 12165 - 750},
		// 2 vCPU, 7GiB: 1 + 3×0.2 = 1.6GiB = 1638.4 → 1638Mi. node 6630.4 → 6630.
		{"Standard_DS2_v2", "standardDSv2Family", 2, 7, 0, 100, 1638, 6630, 1900, 6630 - 1638 - 750},
		// 4 vCPU, 14GiB: 1.8 + 6×0.1 = 2.4GiB = 2457.6 → 2458Mi. node 13260.8 → 13260.
		{"Standard_DS3_v2", "standardDSv2Family", 4, 14, 0, 140, 2458, 13260, 3860, 13260 - 2458 - 750},
		// 4 vCPU, 8GiB: 1843Mi as for D2s_v5.
		{"Standard_F4s_v2", "standardFSv2Family", 4, 8, 0, 140, 1843, 7577, 3860, 7577 - 1843 - 750},
		// 24 vCPU: 180 + 16×10 = 340m. 220GiB: 9.32 + 92×0.02 = 11.16GiB = 11427.84 → 11428Mi. node 208384.
		{"Standard_NC24ads_A100_v4", "StandardNCADSA100v4Family", 24, 220, 1, 340, 11428, 208384, 23660, 208384 - 11428 - 750},
		// 96 vCPU: 180 + 88×10 = 1060m. 672GiB: 9.32 + 544×0.02 = 20.2GiB = 20684.8 → 20685Mi. node 636518.4 → 636518.
		{"Standard_E96as_v5", "standardEASv5Family", 96, 672, 0, 1060, 20685, 636518, 94940, 636518 - 20685 - 750},
		// 2 vCPU, 4GiB: 25% of 4GiB = 1024Mi. node 3788.8 → 3788.
		{"Standard_B2s", "standardBSFamily", 2, 4, 0, 100, 1024, 3788, 1900, 3788 - 1024 - 750},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSKU(tc.name, tc.family, tc.vcpus, tc.memoryGiB, sku.CapGPUs, fmt.Sprint(tc.gpus))
			size, ok := instancetype.ParseSize(tc.name)
			if !ok {
				t.Fatal("unparsed")
			}
			r := bootstrap.KubeReserved(s.VCPUs(), s.MemoryGiB())
			if r.CPUMillis != tc.reservedCPUm || r.MemoryMiB != tc.reservedMemMi {
				t.Errorf("kube-reserved = %dm / %dMi, want %dm / %dMi", r.CPUMillis, r.MemoryMiB, tc.reservedCPUm, tc.reservedMemMi)
			}
			capacity := instancetype.Capacity(s, size, 110, 128, bootstrap.DefaultVMMemoryOverheadPercent)
			if got := capacity.Memory().Value() / (1 << 20); got != tc.nodeMemMi {
				t.Errorf("node memory = %dMi, want %dMi", got, tc.nodeMemMi)
			}
			if got := capacity.Pods().Value(); got != 110 {
				t.Errorf("pods = %d", got)
			}
			if got := capacity.StorageEphemeral().Value(); got != 128<<30 {
				t.Errorf("ephemeral-storage = %d", got)
			}
			gpu := capacity[corev1.ResourceName("nvidia.com/gpu")]
			if gpu.Value() != tc.gpus {
				t.Errorf("nvidia.com/gpu = %d, want %d", gpu.Value(), tc.gpus)
			}
			it := &cloudprovider.InstanceType{Name: tc.name, Capacity: capacity, Overhead: instancetype.Overhead(s, 128)}
			alloc := it.Allocatable()
			if got := alloc.Cpu().MilliValue(); got != tc.allocCPUm {
				t.Errorf("allocatable cpu = %dm, want %dm", got, tc.allocCPUm)
			}
			if want := resource.NewQuantity(tc.allocMemMi<<20, resource.BinarySI); alloc.Memory().Cmp(*want) != 0 {
				t.Errorf("allocatable memory = %s, want %dMi", alloc.Memory(), tc.allocMemMi)
			}
			// 128GiB less 10%: 137438953472 − 13743895347 (truncated).
			if got := alloc.StorageEphemeral().Value(); got != 137438953472-13743895347 {
				t.Errorf("allocatable ephemeral-storage = %d, want %d", got, int64(137438953472-13743895347))
			}
		})
	}
}

func TestDefaultMaxPods(t *testing.T) {
	for _, tc := range []struct {
		plugin, mode string
		want         int32
	}{
		{"azure", "", 30},
		{"azure", "overlay", 250},
		{"none", "", 250},
		{"kubenet", "", 110},
		{"", "", 110},
	} {
		if got := instancetype.DefaultMaxPods(tc.plugin, tc.mode); got != tc.want {
			t.Errorf("DefaultMaxPods(%q, %q) = %d, want %d", tc.plugin, tc.mode, got, tc.want)
		}
	}
}
