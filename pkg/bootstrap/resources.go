package bootstrap

import (
	"math"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// This file holds the one rule for a node's resources, which both sides of
// the bootstrap contract use: the provider (the scheduler's view of a VM size,
// and the kubelet settings it writes into the node's bootstrap data) and a
// node (the memory a VM's guest reports, and the allocatable the kubelet
// derives from the bootstrap data). Kept on this floor so that neither side
// imports the other and the two cannot disagree.

// Reserved is what a node holds back from pods: kube-reserved CPU and memory
// and the hard eviction threshold. It is computed once, here, for both the
// scheduler's view of a VM size (InstanceType overhead) and the node's
// bootstrap data (kubelet flags), so the two cannot disagree.
type Reserved struct {
	CPUMillis          int64
	MemoryMiB          int64
	EvictionHardMemory resource.Quantity
}

// EvictionHardMemoryAvailable is AKS's eviction-hard memory.available threshold.
var EvictionHardMemoryAvailable = resource.MustParse("750Mi")

// AKS's other hard eviction thresholds: a kubelet given --eviction-hard
// keeps only the signals named there, so AKS names disk and inodes too
// (--eviction-hard=memory.available<750Mi,nodefs.available<10%,nodefs.inodesFree<5%
// in AgentBaker's e2e/node_config.go base template and NAP's
// staticvalues.go).
const (
	EvictionHardNodefsAvailable  = "10%"
	EvictionHardNodefsInodesFree = "5%"
)

// DefaultVMMemoryOverheadPercent is the share of a VM size's memory that the
// hypervisor and firmware keep, as a fraction: a node reports less than the
// size's MemoryGB. NAP's and Karpenter's AWS default (their
// vmMemoryOverheadPercent, also a fraction); the controller's
// --vm-memory-overhead-percent overrides it for the scheduler's view.
const DefaultVMMemoryOverheadPercent = 0.075

// KubeReserved returns the reservations for a VM size with vcpus vCPUs and
// memoryGiB GiB of memory, by the AKS table:
//
//	CPU:    6% of the 1st core, 4% of the 2nd, 2% of the 3rd and 4th, 1% of each further core
//	memory: 25% of the first 4 GiB, 20% of the next 4, 10% of the next 8,
//	        6% of the next 112, 2% of the rest
//
// Newer AKS versions size memory from max pods instead; the formula lives
// only here so it can change in one place.
func KubeReserved(vcpus int64, memoryGiB float64) Reserved {
	var cpu float64
	for core := int64(1); core <= vcpus; core++ {
		switch {
		case core == 1:
			cpu += 60
		case core == 2:
			cpu += 40
		case core <= 4:
			cpu += 20
		default:
			cpu += 10
		}
	}
	memory := 0.0
	remaining := memoryGiB
	for _, tier := range []struct{ size, share float64 }{{4, 0.25}, {4, 0.20}, {8, 0.10}, {112, 0.06}, {math.Inf(1), 0.02}} {
		take := math.Min(remaining, tier.size)
		if take <= 0 {
			break
		}
		memory += take * tier.share
		remaining -= take
	}
	return Reserved{
		CPUMillis:          int64(math.Round(cpu)),
		MemoryMiB:          int64(math.Round(memory * 1024)),
		EvictionHardMemory: EvictionHardMemoryAvailable,
	}
}

// KubeReservedList is the kube-reserved resource list.
func (r Reserved) KubeReservedList() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(r.CPUMillis, resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(r.MemoryMiB*1024*1024, resource.BinarySI),
	}
}

// EvictionHard is the node's --eviction-hard, by signal.
func (r Reserved) EvictionHard() map[string]string {
	return map[string]string{
		"memory.available":  r.EvictionHardMemory.String(),
		"nodefs.available":  EvictionHardNodefsAvailable,
		"nodefs.inodesFree": EvictionHardNodefsInodesFree,
	}
}

// EvictionThresholdList is what the hard eviction thresholds hold back from
// pods on a node with an OS disk of osDiskGiB: memory, and the node
// filesystem's share of ephemeral storage.
func (r Reserved) EvictionThresholdList(osDiskGiB int64) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceMemory:           r.EvictionHardMemory,
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(ThresholdBytes(osDiskGiB<<30, EvictionHardNodefsAvailable), resource.BinarySI),
	}
}

// ThresholdBytes is an eviction threshold (a quantity or a percentage of
// capacity) in bytes, as the kubelet computes it: a percentage is of the
// capacity, truncated. Both sides of the contract (instance types' overhead
// and a node's allocatable) use it, so they cannot round differently.
func ThresholdBytes(capacity int64, threshold string) int64 {
	if pct, ok := strings.CutSuffix(threshold, "%"); ok {
		f, err := strconv.ParseFloat(pct, 64)
		if err != nil {
			return 0
		}
		return int64(float64(capacity) * f / 100)
	}
	q, err := resource.ParseQuantity(threshold)
	if err != nil {
		return 0
	}
	return q.Value()
}

// NodeMemoryMiB is the memory a node of a size with memoryGiB reports as
// capacity, after a VM memory overhead (a fraction): with the controller's
// overhead, what the provider promises the scheduler; with the default,
// what a simulated VM's guest reports.
func NodeMemoryMiB(memoryGiB, overheadPercent float64) int64 {
	return int64(math.Floor(memoryGiB * 1024 * (1 - overheadPercent)))
}
