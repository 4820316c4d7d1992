// Package sku lists the VM sizes (Resource SKUs) a subscription can use in a
// region, with their capabilities parsed, and caches them.
package sku

import (
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"
)

// Capability names of the Resource SKUs API used by the provider.
const (
	CapVCPUs                        = "vCPUs"
	CapVCPUsAvailable               = "vCPUsAvailable"
	CapMemoryGB                     = "MemoryGB"
	CapMaxResourceVolumeMB          = "MaxResourceVolumeMB"
	CapCachedDiskBytes              = "CachedDiskBytes"
	CapNvmeDiskSizeInMiB            = "NvmeDiskSizeInMiB"
	CapEphemeralOSDiskSupported     = "EphemeralOSDiskSupported"
	CapSupportedEphemeralPlacements = "SupportedEphemeralOSDiskPlacements"
	CapHyperVGenerations            = "HyperVGenerations"
	CapCPUArchitectureType          = "CpuArchitectureType"
	CapAcceleratedNetworking        = "AcceleratedNetworkingEnabled"
	CapEncryptionAtHost             = "EncryptionAtHostSupported"
	CapConfidentialComputingType    = "ConfidentialComputingType"
	CapTrustedLaunchDisabled        = "TrustedLaunchDisabled"
	CapGPUs                         = "GPUs"
	CapLowPriorityCapable           = "LowPriorityCapable"
	CapPremiumIO                    = "PremiumIO"
	CapRetirementDateUtc            = "RetirementDateUtc"
)

// SKU is one VM size of the region as the subscription sees it.
type SKU struct {
	// Name is the VM size, e.g. Standard_D4s_v5.
	Name string
	// Family is the quota family, e.g. standardDSv5Family.
	Family string
	// Zones are the availability zones the size can be placed in, after zone
	// restrictions; empty when the size (or the region) is not zonal.
	Zones []string
	// Capabilities are the API's name → value pairs (all strings).
	Capabilities map[string]string
	// UltraSSDZones are the zones where the size can attach Ultra Disks
	// (zoneDetails capability UltraSSDAvailable).
	UltraSSDZones []string
}

// FromAPI converts an API record for location, or returns a reason the
// subscription cannot use it there.
func FromAPI(r *armcompute.ResourceSKU, location string) (*SKU, string) {
	s := &SKU{Name: deref(r.Name), Family: deref(r.Family), Capabilities: map[string]string{}}
	for _, c := range r.Capabilities {
		if c != nil && c.Name != nil && c.Value != nil {
			s.Capabilities[*c.Name] = *c.Value
		}
	}
	restrictedZones := map[string]bool{}
	for _, rs := range r.Restrictions {
		if rs == nil || rs.Type == nil {
			continue
		}
		reason := "restricted"
		if rs.ReasonCode != nil {
			reason = string(*rs.ReasonCode)
		}
		switch *rs.Type {
		case armcompute.ResourceSKURestrictionsTypeLocation:
			for _, v := range rs.Values {
				if v != nil && strings.EqualFold(*v, location) {
					return nil, "not available in " + location + " for this subscription (" + reason + ")"
				}
			}
		case armcompute.ResourceSKURestrictionsTypeZone:
			if rs.RestrictionInfo != nil {
				for _, z := range rs.RestrictionInfo.Zones {
					if z != nil {
						restrictedZones[*z] = true
					}
				}
			}
		}
	}
	for _, li := range r.LocationInfo {
		if li == nil || !strings.EqualFold(deref(li.Location), location) {
			continue
		}
		for _, z := range li.Zones {
			if z != nil && !restrictedZones[*z] {
				s.Zones = append(s.Zones, *z)
			}
		}
		for _, zd := range li.ZoneDetails {
			if zd == nil || !lo.ContainsBy(zd.Capabilities, func(c *armcompute.ResourceSKUCapabilities) bool {
				return c != nil && deref(c.Name) == "UltraSSDAvailable" && strings.EqualFold(deref(c.Value), "true")
			}) {
				continue
			}
			for _, z := range zd.Name {
				if z != nil && !restrictedZones[*z] {
					s.UltraSSDZones = append(s.UltraSSDZones, *z)
				}
			}
		}
	}
	// A zonal size whose every zone is restricted cannot be placed at all.
	if len(s.Zones) == 0 && len(restrictedZones) > 0 {
		return nil, "every availability zone is restricted for this subscription"
	}
	return s, ""
}

// String returns a capability's value, or "" when absent.
func (s *SKU) String(name string) string { return s.Capabilities[name] }

// Int returns an integer capability, or 0 when absent or malformed.
func (s *SKU) Int(name string) int64 {
	v, _ := strconv.ParseInt(s.Capabilities[name], 10, 64)
	return v
}

// Float returns a numeric capability, or 0 when absent or malformed.
func (s *SKU) Float(name string) float64 {
	v, _ := strconv.ParseFloat(s.Capabilities[name], 64)
	return v
}

// Bool reports whether a capability is "True" (the API's spelling).
func (s *SKU) Bool(name string) bool { return strings.EqualFold(s.Capabilities[name], "true") }

// VCPUs is the number of vCPUs a VM of this size exposes; constrained-core
// sizes (Standard_E4-2s_v3) expose fewer than they are billed for.
func (s *SKU) VCPUs() int64 {
	if v := s.Int(CapVCPUsAvailable); v > 0 {
		return v
	}
	return s.Int(CapVCPUs)
}

// QuotaVCPUs is the number of vCPUs counted against quota (the full count).
func (s *SKU) QuotaVCPUs() int64 { return s.Int(CapVCPUs) }

// MemoryGiB is the memory of the size. The API calls it MemoryGB, but it is GiB.
func (s *SKU) MemoryGiB() float64 { return s.Float(CapMemoryGB) }

// Architecture is "amd64" or "arm64".
func (s *SKU) Architecture() string {
	if strings.EqualFold(s.String(CapCPUArchitectureType), "Arm64") {
		return "arm64"
	}
	return "amd64"
}

// HyperVGenerations are the supported generations, e.g. ["V1", "V2"].
func (s *SKU) HyperVGenerations() []string {
	return splitList(s.String(CapHyperVGenerations))
}

// EphemeralOSDiskPlacements are the placements an ephemeral OS disk may use.
func (s *SKU) EphemeralOSDiskPlacements() []string {
	if !s.Bool(CapEphemeralOSDiskSupported) {
		return nil
	}
	return splitList(s.String(CapSupportedEphemeralPlacements))
}

// Retired reports whether the size's retirement date has passed.
func (s *SKU) Retired(now time.Time) bool {
	v := s.String(CapRetirementDateUtc)
	if v == "" {
		return false
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02", "1/2/2006"} {
		if t, err := time.Parse(layout, v); err == nil {
			return !t.After(now)
		}
	}
	return false
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
