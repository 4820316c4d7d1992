// Package catalog is azuresim's VM SKU catalog: capabilities, regional
// offering (zones, restrictions) and prices. The SKU rows live in skus.tsv,
// produced by ./gen from the project's series rules; regional rules live in
// regions.go so they can be read and changed without regenerating.
package catalog

import (
	_ "embed"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

//go:embed skus.tsv
var skusTSV string

// SKU is one VM size with the capabilities the Resource SKUs API reports.
type SKU struct {
	Name                      string
	Family                    string // Azure quota family, e.g. standardDSv3Family
	VCPUs                     int    // what quota counts; for constrained sizes the parent's count
	VCPUsAvailable            int    // cores usable by the guest
	VCPUsPerCore              int
	MemoryGiB                 float64
	MaxResourceVolumeMB       int64 // temp disk, MiB
	CachedDiskBytes           int64
	NvmeDiskSizeInMiB         int64
	EphemeralOSDiskPlacements []string // ResourceDisk, CacheDisk, NvmeDisk
	HyperVGenerations         string   // "V1,V2"
	CPUArchitecture           string   // x64 | Arm64
	PremiumIO                 bool
	AcceleratedNetworking     bool
	EncryptionAtHost          bool
	LowPriorityCapable        bool
	RDMA                      bool
	NestedVirtualization      bool // not an ARM capability; kept for the node agent and docs
	TrustedLaunchDisabled     bool
	ConfidentialComputingType string // SNP | TDX | ""
	GPUs                      int
	GPUModel                  string
	GPUManufacturer           string
	MaxDataDiskCount          int
	MaxNetworkInterfaces      int
	// LinuxOnDemandUSD is the pay-as-you-go Linux price per hour by region.
	// A region is offered iff it appears here.
	LinuxOnDemandUSD map[string]float64
}

// Catalog is an immutable set of SKUs and regions.
type Catalog struct {
	SKUs    []*SKU
	Regions []Region
	byName  map[string]*SKU
}

var (
	defaultOnce sync.Once
	defaultCat  *Catalog
	defaultErr  error
)

// Default returns the embedded catalog. It panics only if the embedded file is
// corrupt, which the package tests rule out.
func Default() *Catalog {
	defaultOnce.Do(func() { defaultCat, defaultErr = Parse(skusTSV) })
	if defaultErr != nil {
		panic(defaultErr)
	}
	return defaultCat
}

// SKU returns the SKU named name (case-insensitive, as ARM compares names).
func (c *Catalog) SKU(name string) (*SKU, bool) {
	s, ok := c.byName[strings.ToLower(name)]
	return s, ok
}

// Region returns the region named name.
func (c *Catalog) Region(name string) (Region, bool) {
	for _, r := range c.Regions {
		if strings.EqualFold(r.Name, name) {
			return r, true
		}
	}
	return Region{}, false
}

// Offering is where and how a SKU is offered in one region.
type Offering struct {
	Region       Region
	Zones        []string // empty in a region without zones
	Restrictions []Restriction
}

// Restriction mirrors armcompute.ResourceSKURestrictions.
type Restriction struct {
	Type       string   // Location | Zone
	Values     []string // region for Location, zones for Zone
	Zones      []string // restrictionInfo.zones
	ReasonCode string   // NotAvailableForSubscription | QuotaId
}

// Offering reports the SKU's offering in region, false when not offered.
func (c *Catalog) Offering(s *SKU, region string) (Offering, bool) {
	r, ok := c.Region(region)
	if !ok {
		return Offering{}, false
	}
	if _, ok := s.LinuxOnDemandUSD[r.Name]; !ok {
		return Offering{}, false
	}
	return Offering{Region: r, Zones: r.zonesFor(s), Restrictions: r.restrictionsFor(s)}, true
}

// RestrictedIn reports whether the SKU may not be deployed in region/zone
// ("" for a regional deployment) for this subscription.
func (o Offering) RestrictedIn(zone string) bool {
	for _, r := range o.Restrictions {
		switch r.Type {
		case "Location":
			return true
		case "Zone":
			if zone != "" && slices.Contains(r.Zones, zone) {
				return true
			}
		}
	}
	return false
}

// Price is the hourly USD price for an OS (linux|windows) and priority.
func (c *Catalog) Price(s *SKU, region string, windows, spot bool) (float64, bool) {
	od, ok := s.LinuxOnDemandUSD[region]
	if !ok {
		return 0, false
	}
	p := od
	if spot {
		p = od * (1 - SpotDiscount(s.Name, region))
	}
	if windows {
		lic := WindowsLicenceUSDPerVCPUHour * float64(s.VCPUsAvailable)
		if spot {
			lic *= 1 - SpotDiscount(s.Name, region)
		}
		p += lic
	}
	return roundPrice(p), true
}

// WindowsLicenceUSDPerVCPUHour is what Azure adds per vCPU-hour for the
// Windows Server licence on pay-as-you-go (D2s_v3: 0.188 vs 0.096 in eastus).
const WindowsLicenceUSDPerVCPUHour = 0.046

// SpotDiscount is a stable per-(SKU, region) discount in [0.60, 0.90): Azure's
// spot prices float in that band and differ by region and size.
func SpotDiscount(sku, region string) float64 {
	h := uint32(2166136261)
	for _, b := range []byte(sku + "/" + region) {
		h ^= uint32(b)
		h *= 16777619
	}
	return 0.60 + float64(h%3000)/10000
}

func roundPrice(p float64) float64 { return math.Round(p*1e6) / 1e6 }

// Columns of skus.tsv, in order.
var columns = []string{"name", "family", "vcpus", "vcpusAvailable", "vcpusPerCore", "memoryGiB",
	"maxResourceVolumeMB", "cachedDiskBytes", "nvmeDiskSizeInMiB", "ephemeralPlacements", "hyperV", "arch",
	"flags", "confidential", "gpus", "gpuModel", "gpuManufacturer", "maxDataDisks", "maxNICs", "linuxOnDemandUSD"}

// Flag letters in the flags column: compact and diff-friendly.
const (
	flagPremium    = 'P'
	flagAccel      = 'A'
	flagEAH        = 'E'
	flagLowPri     = 'L'
	flagRDMA       = 'R'
	flagNested     = 'N'
	flagNoTrustedL = 'T'
)

// Format renders SKUs as skus.tsv.
func Format(skus []*SKU) string {
	var b strings.Builder
	b.WriteString("# generated by go run ./pkg/azuresim/catalog/gen; edit the series rules there, not this file\n")
	b.WriteString(strings.Join(columns, "\t") + "\n")
	for _, s := range skus {
		flags := ""
		for _, f := range []struct {
			on bool
			c  byte
		}{{s.PremiumIO, flagPremium}, {s.AcceleratedNetworking, flagAccel}, {s.EncryptionAtHost, flagEAH},
			{s.LowPriorityCapable, flagLowPri}, {s.RDMA, flagRDMA}, {s.NestedVirtualization, flagNested}, {s.TrustedLaunchDisabled, flagNoTrustedL}} {
			if f.on {
				flags += string(f.c)
			}
		}
		regions := make([]string, 0, len(s.LinuxOnDemandUSD))
		for r := range s.LinuxOnDemandUSD {
			regions = append(regions, r)
		}
		sort.Strings(regions)
		prices := make([]string, len(regions))
		for i, r := range regions {
			prices[i] = r + "=" + strconv.FormatFloat(s.LinuxOnDemandUSD[r], 'f', -1, 64)
		}
		row := []string{s.Name, s.Family, strconv.Itoa(s.VCPUs), strconv.Itoa(s.VCPUsAvailable), strconv.Itoa(s.VCPUsPerCore),
			strconv.FormatFloat(s.MemoryGiB, 'f', -1, 64), strconv.FormatInt(s.MaxResourceVolumeMB, 10),
			strconv.FormatInt(s.CachedDiskBytes, 10), strconv.FormatInt(s.NvmeDiskSizeInMiB, 10),
			dash(strings.Join(s.EphemeralOSDiskPlacements, ",")), s.HyperVGenerations, s.CPUArchitecture, dash(flags),
			dash(s.ConfidentialComputingType), strconv.Itoa(s.GPUs), dash(s.GPUModel), dash(s.GPUManufacturer),
			strconv.Itoa(s.MaxDataDiskCount), strconv.Itoa(s.MaxNetworkInterfaces), strings.Join(prices, ";")}
		b.WriteString(strings.Join(row, "\t") + "\n")
	}
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func undash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// Parse reads skus.tsv.
func Parse(tsv string) (*Catalog, error) {
	c := &Catalog{Regions: Regions(), byName: map[string]*SKU{}}
	for i, line := range strings.Split(tsv, "\n") {
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "name\t") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != len(columns) {
			return nil, fmt.Errorf("skus.tsv line %d: %d fields, want %d", i+1, len(f), len(columns))
		}
		var perr error
		atoi := func(s string) int {
			v, err := strconv.Atoi(s)
			if err != nil && perr == nil {
				perr = err
			}
			return v
		}
		atoi64 := func(s string) int64 {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil && perr == nil {
				perr = err
			}
			return v
		}
		mem, err := strconv.ParseFloat(f[5], 64)
		if err != nil {
			return nil, fmt.Errorf("skus.tsv line %d: memory: %w", i+1, err)
		}
		flags := undash(f[12])
		s := &SKU{Name: f[0], Family: f[1], VCPUs: atoi(f[2]), VCPUsAvailable: atoi(f[3]), VCPUsPerCore: atoi(f[4]),
			MemoryGiB: mem, MaxResourceVolumeMB: atoi64(f[6]), CachedDiskBytes: atoi64(f[7]), NvmeDiskSizeInMiB: atoi64(f[8]),
			HyperVGenerations: f[10], CPUArchitecture: f[11],
			PremiumIO: strings.ContainsRune(flags, flagPremium), AcceleratedNetworking: strings.ContainsRune(flags, flagAccel),
			EncryptionAtHost: strings.ContainsRune(flags, flagEAH), LowPriorityCapable: strings.ContainsRune(flags, flagLowPri),
			RDMA: strings.ContainsRune(flags, flagRDMA), NestedVirtualization: strings.ContainsRune(flags, flagNested),
			TrustedLaunchDisabled:     strings.ContainsRune(flags, flagNoTrustedL),
			ConfidentialComputingType: undash(f[13]), GPUs: atoi(f[14]), GPUModel: undash(f[15]), GPUManufacturer: undash(f[16]),
			MaxDataDiskCount: atoi(f[17]), MaxNetworkInterfaces: atoi(f[18]), LinuxOnDemandUSD: map[string]float64{}}
		if p := undash(f[9]); p != "" {
			s.EphemeralOSDiskPlacements = strings.Split(p, ",")
		}
		for _, kv := range strings.Split(f[19], ";") {
			if kv == "" {
				continue
			}
			r, v, ok := strings.Cut(kv, "=")
			price, err := strconv.ParseFloat(v, 64)
			if !ok || err != nil {
				return nil, fmt.Errorf("skus.tsv line %d: bad price %q", i+1, kv)
			}
			s.LinuxOnDemandUSD[r] = price
		}
		if perr != nil {
			return nil, fmt.Errorf("skus.tsv line %d: %w", i+1, perr)
		}
		c.SKUs = append(c.SKUs, s)
		c.byName[strings.ToLower(s.Name)] = s
	}
	return c, nil
}
