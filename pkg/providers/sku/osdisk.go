package sku

import (
	"fmt"
	"slices"
	"strings"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
)

// Ephemeral OS disk placements, in order of preference: NVMe is fastest and
// largest, the cache disk keeps the resource disk free for pods.
var ephemeralPlacementPreference = []string{"NvmeDisk", "CacheDisk", "ResourceDisk"}

// EphemeralPlacement returns where an ephemeral OS disk of sizeGiB would live
// on the size ("" when it fits nowhere), and the largest ephemeral OS disk the
// size can hold in GiB.
func EphemeralPlacement(s *SKU, sizeGiB int32) (placement string, maxGiB int64) {
	supported := s.EphemeralOSDiskPlacements()
	for _, p := range ephemeralPlacementPreference {
		if !slices.ContainsFunc(supported, func(x string) bool { return strings.EqualFold(x, p) }) {
			continue
		}
		capacity := placementGiB(s, p)
		if capacity > maxGiB {
			maxGiB = capacity
		}
		if placement == "" && int64(sizeGiB) <= capacity {
			placement = p
		}
	}
	return placement, maxGiB
}

func placementGiB(s *SKU, placement string) int64 {
	switch placement {
	case "NvmeDisk":
		return s.Int(CapNvmeDiskSizeInMiB) / 1024
	case "CacheDisk":
		return s.Int(CapCachedDiskBytes) / (1 << 30)
	case "ResourceDisk":
		return s.Int(CapMaxResourceVolumeMB) / 1024
	}
	return 0
}

// OSDisk is the OS disk a node of the size gets under a NodeClass.
type OSDisk struct {
	SizeGiB int32
	// EphemeralPlacement is where the ephemeral disk lives; "" for a managed disk.
	EphemeralPlacement string
}

// Ephemeral reports whether the OS disk is ephemeral.
func (d OSDisk) Ephemeral() bool { return d.EphemeralPlacement != "" }

func (d OSDisk) String() string {
	if d.Ephemeral() {
		return fmt.Sprintf("ephemeral %dGiB (%s)", d.SizeGiB, d.EphemeralPlacement)
	}
	return fmt.Sprintf("managed %dGiB", d.SizeGiB)
}

// ChooseOSDisk applies the NodeClass's osDiskType to a size: Auto takes an
// ephemeral disk when it fits, Ephemeral requires one, Managed never uses one.
// The reason is non-empty when the size cannot satisfy the NodeClass.
func ChooseOSDisk(s *SKU, nc *v1beta1.AKSNodeClass) (OSDisk, string) {
	size := nc.GetOSDiskSizeGB()
	placement, maxGiB := EphemeralPlacement(s, size)
	if guestState(nc) {
		placement, maxGiB = ephemeralPlacementWithGuestState(s, size, confidentialVM(nc))
	}
	switch nc.GetOSDiskType() {
	case v1beta1.OSDiskTypeManaged:
		return OSDisk{SizeGiB: size}, ""
	case v1beta1.OSDiskTypeEphemeral:
		if placement == "" {
			if maxGiB == 0 {
				return OSDisk{}, "osDiskType Ephemeral: the size supports no ephemeral OS disk"
			}
			return OSDisk{}, fmt.Sprintf("osDiskType Ephemeral: a %dGiB OS disk does not fit the size's largest ephemeral placement (%dGiB)", size, maxGiB)
		}
	}
	return OSDisk{SizeGiB: size, EphemeralPlacement: placement}, ""
}

// EphemeralCapacity is one place an ephemeral OS disk can live on a size,
// and how large a disk it holds.
type EphemeralCapacity struct {
	Placement string
	GiB       int64
}

// EphemeralCapacities lists where the size can hold an ephemeral OS disk, in
// order of preference, with each placement's capacity; empty when the size
// supports none.
func EphemeralCapacities(s *SKU) []EphemeralCapacity {
	supported := s.EphemeralOSDiskPlacements()
	var out []EphemeralCapacity
	for _, p := range ephemeralPlacementPreference {
		if slices.ContainsFunc(supported, func(x string) bool { return strings.EqualFold(x, p) }) {
			out = append(out, EphemeralCapacity{Placement: p, GiB: placementGiB(s, p)})
		}
	}
	return out
}

// VMGuestStateReserveGiB is what a Trusted Launch or confidential VM's guest
// state (VMGS) takes of its ephemeral OS disk's placement: "Ephemeral OS
// disks for Azure VMs" (Trusted Launch for Ephemeral OS disks; Confidential
// VMs using Ephemeral OS disks): "by default 1 GiB from the OS cache or temp
// storage based on the chosen placement option is reserved for VMGS".
const VMGuestStateReserveGiB = 1

func guestState(nc *v1beta1.AKSNodeClass) bool {
	return nc.TrustedLaunch() || confidentialVM(nc)
}

func confidentialVM(nc *v1beta1.AKSNodeClass) bool {
	return nc.Spec.Security != nil && nc.Spec.Security.ConfidentialVM != nil && *nc.Spec.Security.ConfidentialVM
}

// ephemeralPlacementWithGuestState is EphemeralPlacement for a VM whose
// guest state lives beside its ephemeral OS disk: each placement holds
// VMGuestStateReserveGiB less, and a confidential VM cannot use NVMe ("NVMe
// Disk placement is currently not supported for Confidential VMs", the same
// page).
func ephemeralPlacementWithGuestState(s *SKU, sizeGiB int32, confidential bool) (placement string, maxGiB int64) {
	supported := s.EphemeralOSDiskPlacements()
	for _, p := range ephemeralPlacementPreference {
		if !slices.ContainsFunc(supported, func(x string) bool { return strings.EqualFold(x, p) }) || (confidential && p == "NvmeDisk") {
			continue
		}
		capacity := placementGiB(s, p) - VMGuestStateReserveGiB
		if capacity > maxGiB {
			maxGiB = capacity
		}
		if placement == "" && int64(sizeGiB) <= capacity {
			placement = p
		}
	}
	return placement, maxGiB
}
