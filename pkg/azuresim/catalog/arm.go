package catalog

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"
)

// OSVhdSizeMB is the largest OS disk every size accepts (1 TiB - 1 GiB).
const OSVhdSizeMB = 1047552

// ResourceSKU renders the SKU as the Resource SKUs API reports it in one
// region: capability names and string values exactly as Azure spells them.
func (c *Catalog) ResourceSKU(s *SKU, o Offering) *armcompute.ResourceSKU {
	caps := s.Capabilities()
	armCaps := make([]*armcompute.ResourceSKUCapabilities, len(caps))
	for i, kv := range caps {
		armCaps[i] = &armcompute.ResourceSKUCapabilities{Name: lo.ToPtr(kv[0]), Value: lo.ToPtr(kv[1])}
	}
	restrictions := make([]*armcompute.ResourceSKURestrictions, 0, len(o.Restrictions))
	for _, r := range o.Restrictions {
		info := &armcompute.ResourceSKURestrictionInfo{Locations: []*string{lo.ToPtr(o.Region.Name)}}
		if r.Type == "Zone" {
			info.Zones = lo.ToSlicePtr(r.Zones)
		}
		restrictions = append(restrictions, &armcompute.ResourceSKURestrictions{
			Type:            lo.ToPtr(armcompute.ResourceSKURestrictionsType(r.Type)),
			Values:          lo.ToSlicePtr(r.Values),
			RestrictionInfo: info,
			ReasonCode:      lo.ToPtr(armcompute.ResourceSKURestrictionsReasonCode(r.ReasonCode)),
		})
	}
	_, size, _ := strings.Cut(s.Name, "_")
	return &armcompute.ResourceSKU{
		ResourceType: lo.ToPtr("virtualMachines"),
		Name:         lo.ToPtr(s.Name),
		Tier:         lo.ToPtr("Standard"),
		Size:         lo.ToPtr(size),
		Family:       lo.ToPtr(s.Family),
		Locations:    []*string{lo.ToPtr(o.Region.Name)},
		LocationInfo: []*armcompute.ResourceSKULocationInfo{{
			Location:    lo.ToPtr(o.Region.Name),
			Zones:       lo.ToSlicePtr(lo.Ternary(o.Zones == nil, []string{}, o.Zones)),
			ZoneDetails: s.zoneDetails(o.Zones),
		}},
		Capabilities: armCaps,
		Restrictions: restrictions,
	}
}

// zoneDetails says in which zones the size can attach Ultra Disks. Azure
// offers them for the premium-storage sizes of recent general purpose,
// memory and compute optimised series, and not in every zone of a region;
// the simulator leaves out the first zone so that per-zone handling shows.
func (s *SKU) zoneDetails(zones []string) []*armcompute.ResourceSKUZoneDetails {
	if len(zones) < 2 || !s.PremiumIO || s.CPUArchitecture != "x64" || !ultraSSDSeries.MatchString(s.Name) {
		return []*armcompute.ResourceSKUZoneDetails{}
	}
	return []*armcompute.ResourceSKUZoneDetails{{
		Name:         lo.ToSlicePtr(zones[1:]),
		Capabilities: []*armcompute.ResourceSKUCapabilities{{Name: lo.ToPtr("UltraSSDAvailable"), Value: lo.ToPtr("True")}},
	}}
}

// UltraSSDAvailable reports whether the size can attach Ultra Disks in a
// zone of an offering whose zones are zones (what zoneDetails publishes).
func (s *SKU) UltraSSDAvailable(zones []string, zone string) bool {
	for _, d := range s.zoneDetails(zones) {
		for _, z := range d.Name {
			if z != nil && *z == zone {
				return true
			}
		}
	}
	return false
}

var ultraSSDSeries = regexp.MustCompile(`^Standard_(D|E|F|M)[0-9]+[a-z]*s_v[3-6]$`)

// Capabilities lists the SKU's capabilities as (name, value) pairs in the
// order and spelling of the Resource SKUs API; absent ones are omitted as
// Azure omits them.
func (s *SKU) Capabilities() [][2]string {
	b := func(v bool) string { return lo.Ternary(v, "True", "False") }
	itoa := strconv.Itoa
	caps := [][2]string{
		{"MaxResourceVolumeMB", strconv.FormatInt(s.MaxResourceVolumeMB, 10)},
		{"OSVhdSizeMB", itoa(OSVhdSizeMB)},
		{"vCPUs", itoa(s.VCPUs)},
		{"HyperVGenerations", s.HyperVGenerations},
	}
	if len(s.EphemeralOSDiskPlacements) > 0 {
		caps = append(caps, [2]string{"SupportedEphemeralOSDiskPlacements", strings.Join(s.EphemeralOSDiskPlacements, ",")})
	}
	caps = append(caps,
		[2]string{"MemoryGB", strconv.FormatFloat(s.MemoryGiB, 'f', -1, 64)},
		[2]string{"MaxDataDiskCount", itoa(s.MaxDataDiskCount)},
		[2]string{"CpuArchitectureType", s.CPUArchitecture},
		[2]string{"LowPriorityCapable", b(s.LowPriorityCapable)},
		[2]string{"PremiumIO", b(s.PremiumIO)},
		[2]string{"VMDeploymentTypes", "IaaS"},
		[2]string{"vCPUsAvailable", itoa(s.VCPUsAvailable)},
	)
	if s.GPUs > 0 {
		caps = append(caps, [2]string{"GPUs", itoa(s.GPUs)})
	}
	caps = append(caps, [2]string{"vCPUsPerCore", itoa(s.VCPUsPerCore)})
	if s.CachedDiskBytes > 0 {
		caps = append(caps, [2]string{"CachedDiskBytes", strconv.FormatInt(s.CachedDiskBytes, 10)})
	}
	if s.NvmeDiskSizeInMiB > 0 {
		caps = append(caps, [2]string{"NvmeDiskSizeInMiB", strconv.FormatInt(s.NvmeDiskSizeInMiB, 10)})
	}
	caps = append(caps,
		[2]string{"EphemeralOSDiskSupported", b(len(s.EphemeralOSDiskPlacements) > 0)},
		[2]string{"EncryptionAtHostSupported", b(s.EncryptionAtHost)},
		[2]string{"CapacityReservationSupported", "False"},
	)
	if s.TrustedLaunchDisabled {
		caps = append(caps, [2]string{"TrustedLaunchDisabled", "True"})
	}
	if s.ConfidentialComputingType != "" {
		caps = append(caps, [2]string{"ConfidentialComputingType", s.ConfidentialComputingType})
	}
	caps = append(caps,
		[2]string{"AcceleratedNetworkingEnabled", b(s.AcceleratedNetworking)},
		[2]string{"RdmaEnabled", b(s.RDMA)},
		[2]string{"MaxNetworkInterfaces", itoa(s.MaxNetworkInterfaces)},
	)
	return caps
}
