package aksnodepool

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
)

// Catalog is what the mapping needs to know about the region's VM sizes:
// which exist, their family, ephemeral OS disk capacity, and retirement.
// FromSKUs builds it from the SKU catalog the controller reads.
type Catalog interface {
	// Region is the Azure region, e.g. eastus.
	Region() string
	// Size returns a size the subscription may use in the region.
	Size(name string) (*sku.SKU, bool)
	// Excluded returns why a size the region lists cannot be used.
	Excluded(name string) (string, bool)
	// Sizes returns every usable size, sorted by name.
	Sizes() []*sku.SKU
	// Now is the time retirement dates are compared with.
	Now() time.Time
}

type skuCatalog struct {
	region string
	c      *sku.Catalog
	now    time.Time
}

// FromSKUs wraps the SKU provider's catalog of a region.
func FromSKUs(region string, c *sku.Catalog, now time.Time) Catalog {
	return &skuCatalog{region: region, c: c, now: now}
}

func (s *skuCatalog) Region() string { return s.region }
func (s *skuCatalog) Now() time.Time { return s.now }
func (s *skuCatalog) Size(name string) (*sku.SKU, bool) {
	for n, v := range s.c.SKUs {
		if strings.EqualFold(n, name) {
			return v, true
		}
	}
	return nil, false
}
func (s *skuCatalog) Excluded(name string) (string, bool) {
	for n, v := range s.c.Excluded {
		if strings.EqualFold(n, name) {
			return v, true
		}
	}
	return "", false
}
func (s *skuCatalog) Sizes() []*sku.SKU {
	out := make([]*sku.SKU, 0, len(s.c.SKUs))
	for _, n := range s.c.Names() {
		out = append(out, s.c.SKUs[n])
	}
	return out
}

// retirement is a VM series Azure retired. Retired sizes disappear from the
// Resource SKUs API, so the catalog cannot name them: this table does, for
// the series AKS documentation and old scripts still use.
type retirement struct {
	pattern *regexp.Regexp
	series  string
	date    string
	// letters are the name letters of the family's current sizes
	// (Standard_NC6s_v3 → NC).
	letters string
}

var retirements = []retirement{
	{regexp.MustCompile(`(?i)^Standard_NC(6|12|24|24r)$`), "NC-series (v1)", "2023-09-06", "NC"},
	{regexp.MustCompile(`(?i)^Standard_NC(6|12|24|24r)s_v2$`), "NCv2-series", "2023-09-06", "NC"},
	{regexp.MustCompile(`(?i)^Standard_ND(6|12|24|24r)s$`), "ND-series (v1)", "2023-09-06", "ND"},
	{regexp.MustCompile(`(?i)^Standard_NV(6|12|24)(_Promo)?$`), "NV-series (v1)", "2023-09-06", "NV"},
	{regexp.MustCompile(`(?i)^(Basic|Standard)_A[0-7]$`), "Basic and Standard A0-A7 (Av1)", "2024-08-31", "A"},
	{regexp.MustCompile(`(?i)^Standard_A(8|9|10|11)$`), "A8-A11 (compute-intensive A)", "2021-03-01", "A"},
	{regexp.MustCompile(`(?i)^Standard_H(8|8m|16|16m|16r|16mr)(_Promo)?$`), "H-series (v1)", "2024-09-28", "H"},
}

var sizeLetters = regexp.MustCompile(`(?i)^(?:Standard|Basic)_([A-Z]+)\d`)

// familyLetters returns a size's family letters: Standard_D8ds_v4 → D.
func familyLetters(size string) string {
	m := sizeLetters.FindStringSubmatch(size)
	if m == nil {
		return ""
	}
	return strings.ToUpper(m[1])
}

// RetiredError says that a size was retired, when, and which sizes of its
// family the region offers now.
type RetiredError struct {
	Size, Series, Date string
	Current            []string
	// NoCatalog is set when no region was given to list Current from.
	NoCatalog bool
}

func (e *RetiredError) Error() string {
	cur := "the region offers no current size of the family"
	if e.NoCatalog {
		cur = "give --region and --subscription-id to list the family's current sizes"
	} else if len(e.Current) > 0 {
		cur = "current sizes of the family: " + strings.Join(e.Current, ", ")
	}
	return fmt.Sprintf("--node-vm-size %s: Azure retired the %s on %s; %s", e.Size, e.Series, e.Date, cur)
}

// checkSize reports why a size cannot back a pool: retired, not offered in
// the region, or excluded for the subscription.
func checkSize(cat Catalog, flag, size string) error {
	for _, r := range retirements {
		if r.pattern.MatchString(size) {
			return &RetiredError{Size: size, Series: r.series, Date: r.date, Current: currentSizes(cat, r.letters), NoCatalog: cat == nil}
		}
	}
	if cat == nil {
		return nil
	}
	s, ok := cat.Size(size)
	if !ok {
		if reason, ok := cat.Excluded(size); ok {
			return fmt.Errorf("%s %s cannot be used in %s: %s", flag, size, cat.Region(), reason)
		}
		return fmt.Errorf("%s %s is not offered in %s", flag, size, cat.Region())
	}
	if s.Retired(cat.Now()) {
		return &RetiredError{Size: s.Name, Series: s.Name, Date: s.String(sku.CapRetirementDateUtc), Current: currentSizes(cat, familyLetters(s.Name))}
	}
	return nil
}

func currentSizes(cat Catalog, letters string) []string {
	if cat == nil {
		return nil
	}
	var out []string
	for _, s := range cat.Sizes() {
		if familyLetters(s.Name) == letters && !s.Retired(cat.Now()) {
			out = append(out, s.Name)
		}
	}
	sort.Strings(out)
	return out
}
