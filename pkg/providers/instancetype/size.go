package instancetype

import (
	"regexp"
	"strconv"
	"strings"
)

// Size is a VM size name taken apart by Azure's naming convention:
// Standard_<family><vCPUs>[-<constrained vCPUs>]<features>[_<accelerator>][_v<version>].
type Size struct {
	Name string
	// Family is the letter(s) of the family: D, E, NC, DC, HB…
	Family string
	// Features are the additive feature letters: s (premium storage), d (local
	// disk), a (AMD), p (Arm64), l (low memory), m (more memory), r (RDMA)…
	Features string
	// Accelerator is the GPU or accelerator named in the size, e.g. A100.
	Accelerator string
	// Version is the generation, 1 when the name has none.
	Version int
}

var sizePattern = regexp.MustCompile(`^(?:Standard|Basic)_([A-Z]+)(\d+)(?:-\d+)?([a-z]*)(?:_([A-Z][A-Za-z0-9]*?))?(?:_v(\d+))?(?:_Promo)?$`)

// ParseSize parses a VM size name; ok is false for names outside the convention.
func ParseSize(name string) (Size, bool) {
	m := sizePattern.FindStringSubmatch(name)
	if m == nil {
		return Size{Name: name, Version: 1}, false
	}
	s := Size{Name: name, Family: m[1], Features: m[3], Accelerator: m[4], Version: 1}
	// Sizes of the first premium-storage generation spell the feature as a
	// capital S (Standard_DS2_v2 is a D with premium storage).
	if len(s.Family) > 1 && strings.HasSuffix(s.Family, "S") {
		s.Family = strings.TrimSuffix(s.Family, "S")
		s.Features = "s" + s.Features
	}
	if m[5] != "" {
		s.Version, _ = strconv.Atoi(m[5])
	}
	return s, true
}

// Series is the family with its features, accelerator and version, as the
// karpenter.azure.com/sku-series label shows it: Dpls_v6, NCads_A100_v4, Mms.
func (s Size) Series() string {
	series := s.Family + s.Features
	if s.Accelerator != "" {
		series += "_" + s.Accelerator
	}
	if s.Version > 1 {
		series += "_v" + strconv.Itoa(s.Version)
	}
	return series
}

// HasFeature reports whether the feature letter is in the name.
func (s Size) HasFeature(letter byte) bool { return strings.IndexByte(s.Features, letter) >= 0 }

// GPU is a GPU model a size carries.
type GPU struct {
	Name         string
	Manufacturer string
}

// gpuBySeries names the GPU of the GPU series whose names do not carry it.
var gpuBySeries = map[string]GPU{
	"NC":      {"K80", "nvidia"},
	"NCs_v2":  {"P100", "nvidia"},
	"NCs_v3":  {"V100", "nvidia"},
	"NCrs_v3": {"V100", "nvidia"},
	"NDs":     {"P40", "nvidia"},
	"NDrs_v2": {"V100", "nvidia"},
	"NV":      {"M60", "nvidia"},
	"NVs_v3":  {"M60", "nvidia"},
	"NVas_v4": {"MI25", "amd"},
}

// gpuByAccelerator names the GPU of sizes whose names carry it; the
// karpenter.azure.com/sku-gpu-name value is the name's own spelling, as AKS
// node auto-provisioning writes it (A100, T4).
var gpuByAccelerator = map[string]GPU{
	"T4":     {"T4", "nvidia"},
	"A10":    {"A10", "nvidia"},
	"A100":   {"A100", "nvidia"},
	"H100":   {"H100", "nvidia"},
	"H200":   {"H200", "nvidia"},
	"GB200":  {"GB200", "nvidia"},
	"V100":   {"V100", "nvidia"},
	"V620":   {"V620", "amd"},
	"V710":   {"V710", "amd"},
	"MI300X": {"MI300X", "amd"},
	"A10v5":  {"A10", "nvidia"},
}

// GPUModel returns the GPU model of a GPU size, if known.
func (s Size) GPUModel() (GPU, bool) {
	if g, ok := gpuByAccelerator[s.Accelerator]; ok {
		return g, true
	}
	g, ok := gpuBySeries[s.Series()]
	return g, ok
}

// dedicatedHostSeries are the series Azure offers dedicated host types for.
var dedicatedHostSeries = map[string]bool{
	"Ds_v3": true, "Es_v3": true, "Fs_v2": true,
	"Ds_v4": true, "Dds_v4": true, "Das_v4": true, "Es_v4": true, "Eds_v4": true, "Eas_v4": true,
	"Ds_v5": true, "Dds_v5": true, "Das_v5": true, "Dads_v5": true, "Es_v5": true, "Eds_v5": true, "Eas_v5": true, "Eads_v5": true, "Ebs_v5": true, "Ebds_v5": true,
	"Ls_v2": true, "Ls_v3": true, "Las_v3": true,
	"Ms": true, "Mms": true, "Ms_v2": true, "Mms_v2": true,
}

// SupportsDedicatedHost reports whether the size can run on a dedicated host.
func (s Size) SupportsDedicatedHost() bool { return dedicatedHostSeries[s.Series()] }

// SupportsNestedVirtualization reports whether the size runs nested
// hypervisors, which pod sandboxing (Kata VM isolation) needs. The Resource
// SKUs API does not expose this; Azure documents it for the x64 D, E, F, L
// and M series from v3 (Fsv2 too), and not for B-series, Arm64 or
// confidential sizes.
func (s Size) SupportsNestedVirtualization(arch string, confidential bool) bool {
	if arch != "amd64" || confidential {
		return false
	}
	switch s.Family {
	case "D", "E", "L":
		return s.Version >= 3
	case "M":
		return true
	case "F":
		return s.Version >= 2
	}
	return false
}
