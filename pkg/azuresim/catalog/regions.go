package catalog

import "regexp"

// Region is an Azure region the simulator serves, with the rules that decide
// which zones each SKU is offered in and which SKUs are restricted for the
// simulated subscription. The rules echo what the Resource SKUs API shows in
// the real regions: most sizes in every zone, some confidential and GPU sizes
// in fewer, and a few sizes not available to an ordinary subscription.
type Region struct {
	Name        string // armRegionName, e.g. eastus
	DisplayName string // ARM display name, e.g. East US
	PriceName   string // Retail Prices "location", e.g. US East
	Zones       []string
	// zoneRules narrows the zones for SKUs whose name starts with a prefix.
	zoneRules []prefixRule
	// restrictionRules restrict SKUs by name prefix.
	restrictionRules []restrictionRule
}

type prefixRule struct {
	sizes *regexp.Regexp // matched against the full SKU name
	zones []string
}

type restrictionRule struct {
	sizes *regexp.Regexp
	zones []string // nil restricts the whole region (type Location)
}

var re = regexp.MustCompile

// Regions returns the simulated regions: three zonal ones and westcentralus,
// which like the real one has no availability zones.
func Regions() []Region {
	return []Region{
		{
			Name: "eastus", DisplayName: "East US", PriceName: "US East", Zones: []string{"1", "2", "3"},
			zoneRules: []prefixRule{
				{sizes: re(`^Standard_DC\d+s_v3$`), zones: []string{"1", "2"}},
				{sizes: re(`^Standard_H[BC]`), zones: []string{"1"}},
			},
			restrictionRules: []restrictionRule{
				// GPU sizes not available in one zone: exercises zone restrictions.
				{sizes: re(`^Standard_N[CD]`), zones: []string{"3"}},
			},
		},
		{
			Name: "westus2", DisplayName: "West US 2", PriceName: "US West 2", Zones: []string{"1", "2", "3"},
			zoneRules: []prefixRule{
				{sizes: re(`^Standard_N[CDV]`), zones: []string{"2", "3"}},
			},
			restrictionRules: []restrictionRule{
				// Whole-region restriction: PUT answers SkuNotAvailable.
				{sizes: re(`^Standard_M`)},
			},
		},
		{
			Name: "southcentralus", DisplayName: "South Central US", PriceName: "US South Central", Zones: []string{"1", "2", "3"},
			zoneRules: []prefixRule{
				{sizes: re(`^Standard_(D\d+as_v6|M)`), zones: []string{"2", "3"}},
				{sizes: re(`^Standard_DC`), zones: []string{"1"}},
				{sizes: re(`^Standard_NC\d+ads_A100_v4$`), zones: []string{"1", "3"}},
				// Older GPU sizes are regional-only here, as in the real region.
				{sizes: re(`^Standard_NC\d+r?s_v3$`), zones: []string{}},
			},
		},
		{Name: "westcentralus", DisplayName: "West Central US", PriceName: "US West Central"},
	}
}

func (r Region) zonesFor(s *SKU) []string {
	if len(r.Zones) == 0 {
		return nil
	}
	for _, rule := range r.zoneRules {
		if rule.sizes.MatchString(s.Name) {
			return append([]string(nil), rule.zones...)
		}
	}
	return append([]string(nil), r.Zones...)
}

func (r Region) restrictionsFor(s *SKU) []Restriction {
	var out []Restriction
	for _, rule := range r.restrictionRules {
		if !rule.sizes.MatchString(s.Name) {
			continue
		}
		if rule.zones == nil {
			out = append(out, Restriction{Type: "Location", Values: []string{r.Name}, ReasonCode: "NotAvailableForSubscription"})
			continue
		}
		out = append(out, Restriction{Type: "Zone", Values: []string{r.Name}, Zones: rule.zones, ReasonCode: "NotAvailableForSubscription"})
	}
	return out
}
