// Command gen writes pkg/azuresim/catalog/skus.tsv from the series rules
// below. Sizes come from the known-SKU list in ../shared/data (the sizes Azure
// offers) filtered through the series patterns; capabilities come from the
// rules, which follow Azure's published size tables; Linux on-demand prices
// come from the Retail Prices snapshot in ../shared/data.
//
//	go run ./pkg/azuresim/catalog/gen [-data ../shared/data] [-out pkg/azuresim/catalog/skus.tsv]
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
)

const gib = 1 << 30

// series describes one VM series. pattern is matched against the size name
// without "Standard_"; its first group is the vCPU count and an optional
// second group the active vCPUs of a constrained-core size (E16-4ds_v5).
type series struct {
	pattern  string
	family   string
	vcpus    map[int]int     // vCPUs by the number in the name, where they differ (D3_v2 has 4)
	memRatio float64         // GiB per vCPU
	mem      map[int]float64 // exceptions by vCPUs
	tempGiB  float64         // temp (resource) disk GiB per vCPU; 0 = diskless
	temp     map[int]int64   // exceptions, MiB
	cacheGiB float64         // cache GiB per vCPU (premium-storage series)
	cache    map[int]int64   // exceptions, bytes
	nvmeMiB  int64           // local NVMe MiB per vCPU
	nvme     map[int]int64   // exceptions, MiB
	// nvmeOS: ephemeral OS disks go on the NVMe disk (v6+) rather than the
	// cache/resource disk.
	nvmeOS      bool
	noEphemeral bool // series with a temp disk that still cannot hold an ephemeral OS disk
	hyperV      string
	arm         bool
	premium     bool
	accelFrom   int // accelerated networking from this many vCPUs; 0 = always, -1 = never
	noEAH       bool
	noSpot      bool
	cc          string
	perCore     int
	gpus        map[int]int
	gpuModel    string
	gpuMfr      string
	rdma        bool
	nested      bool
	noTrusted   bool
}

func main() {
	data := flag.String("data", "../shared/data", "directory with azure-known-vm-skus.csv and azure-vm-prices-linux-ondemand.csv")
	out := flag.String("out", "pkg/azuresim/catalog/skus.tsv", "output file")
	flag.Parse()
	if err := run(*data, *out); err != nil {
		slog.Error("catalog generation failed", "err", err)
		os.Exit(1)
	}
}

func run(dataDir, out string) error {
	known, err := readCSV(filepath.Join(dataDir, "azure-known-vm-skus.csv"))
	if err != nil {
		return err
	}
	pricesRows, err := readCSV(filepath.Join(dataDir, "azure-vm-prices-linux-ondemand.csv"))
	if err != nil {
		return err
	}
	regions := map[string]bool{}
	for _, r := range catalog.Regions() {
		regions[r.Name] = true
	}
	prices := map[string]map[string]float64{} // sku -> region -> usd
	for _, row := range pricesRows[1:] {
		if !regions[row[0]] {
			continue
		}
		p, err := strconv.ParseFloat(row[2], 64)
		if err != nil {
			return fmt.Errorf("price %v: %w", row, err)
		}
		if prices[row[1]] == nil {
			prices[row[1]] = map[string]float64{}
		}
		prices[row[1]][row[0]] = p
	}
	var skus []*catalog.SKU
	seen := map[string]bool{}
	for _, sr := range allSeries() {
		re := regexp.MustCompile("^Standard_" + sr.pattern + "$")
		var members []*catalog.SKU
		for _, row := range known[1:] {
			m := re.FindStringSubmatch(row[0])
			if m == nil || seen[row[0]] {
				continue
			}
			seen[row[0]] = true
			members = append(members, sr.build(row[0], m))
		}
		if len(members) == 0 {
			return fmt.Errorf("series %s matched no known size", sr.pattern)
		}
		priceSeries(members, prices)
		for _, s := range members {
			if len(s.LinuxOnDemandUSD) > 0 {
				skus = append(skus, s)
			}
		}
	}
	sort.Slice(skus, func(i, j int) bool { return skus[i].Name < skus[j].Name })
	slog.Info("catalog generated", "skus", len(skus), "out", out)
	return os.WriteFile(out, []byte(catalog.Format(skus)), 0o644)
}

// priceSeries takes snapshot prices where the snapshot has them and, for
// sizes it lacks, prices them per vCPU like their priced siblings in the
// same region (Azure prices a series linearly in vCPUs).
func priceSeries(members []*catalog.SKU, snapshot map[string]map[string]float64) {
	perVCPU := map[string][]float64{}
	for _, s := range members {
		for r, p := range snapshot[s.Name] {
			perVCPU[r] = append(perVCPU[r], p/float64(s.VCPUs))
		}
	}
	for _, s := range members {
		if p, ok := snapshot[s.Name]; ok {
			for r, v := range p {
				s.LinuxOnDemandUSD[r] = v
			}
			continue
		}
		for r, rates := range perVCPU {
			sort.Float64s(rates)
			s.LinuxOnDemandUSD[r] = math.Round(rates[len(rates)/2]*float64(s.VCPUs)*1e4) / 1e4
		}
	}
}

func (sr series) build(name string, m []string) *catalog.SKU {
	n, _ := strconv.Atoi(m[1])
	if v, ok := sr.vcpus[n]; ok {
		n = v
	}
	active := n
	if len(m) > 2 && m[2] != "" {
		active, _ = strconv.Atoi(m[2])
	}
	s := &catalog.SKU{Name: name, Family: sr.family, VCPUs: n, VCPUsAvailable: active, VCPUsPerCore: sr.perCore,
		HyperVGenerations: sr.hyperV, CPUArchitecture: "x64", PremiumIO: sr.premium,
		AcceleratedNetworking: sr.accelFrom >= 0 && n >= sr.accelFrom, EncryptionAtHost: !sr.noEAH,
		LowPriorityCapable: !sr.noSpot, RDMA: sr.rdma, NestedVirtualization: sr.nested,
		TrustedLaunchDisabled: sr.noTrusted || sr.arm, ConfidentialComputingType: sr.cc,
		GPUModel: sr.gpuModel, GPUManufacturer: sr.gpuMfr, LinuxOnDemandUSD: map[string]float64{}}
	if s.VCPUsPerCore == 0 {
		s.VCPUsPerCore = 2
	}
	if sr.arm {
		s.CPUArchitecture = "Arm64"
		s.VCPUsPerCore = 1
	}
	s.MemoryGiB = sr.memRatio * float64(n)
	if v, ok := sr.mem[n]; ok {
		s.MemoryGiB = v
	}
	s.MaxResourceVolumeMB = int64(sr.tempGiB * float64(n) * 1024)
	if v, ok := sr.temp[n]; ok {
		s.MaxResourceVolumeMB = v
	}
	s.CachedDiskBytes = int64(sr.cacheGiB * float64(n) * gib)
	if v, ok := sr.cache[n]; ok {
		s.CachedDiskBytes = v
	}
	s.NvmeDiskSizeInMiB = sr.nvmeMiB * int64(n)
	if v, ok := sr.nvme[n]; ok {
		s.NvmeDiskSizeInMiB = v
	}
	switch {
	case sr.noEphemeral:
	case sr.nvmeOS && s.NvmeDiskSizeInMiB > 0:
		s.EphemeralOSDiskPlacements = []string{"NvmeDisk"}
	case s.MaxResourceVolumeMB > 0:
		s.EphemeralOSDiskPlacements = []string{"ResourceDisk", "CacheDisk"}
	}
	s.GPUs = sr.gpus[n]
	// Azure's data-disk and NIC limits grow with size in these steps.
	s.MaxDataDiskCount = min(max(2*n, 2), 32)
	if n >= 128 {
		s.MaxDataDiskCount = 64
	}
	switch {
	case n >= 16:
		s.MaxNetworkInterfaces = 8
	case n >= 8:
		s.MaxNetworkInterfaces = 4
	default:
		s.MaxNetworkInterfaces = 2
	}
	return s
}

func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rows, nil
}

// Exact figures Azure publishes for sizes that do not follow their series'
// ratio, in MiB (temp) and bytes (cache).
var (
	v2VCPUs = map[int]int{1: 1, 2: 2, 3: 4, 4: 8, 5: 16}
	bsMem   = map[int]float64{1: 1, 2: 4, 4: 16, 8: 32, 12: 48, 16: 64, 20: 80}
	bsTemp  = map[int]int64{1: 4096, 2: 8192, 4: 32768, 8: 65536, 12: 98304, 16: 131072, 20: 163840}
	bsCache = map[int]int64{1: 30 * gib, 2: 30 * gib, 4: 30 * gib, 8: 30 * gib, 12: 30 * gib, 16: 30 * gib, 20: 30 * gib}
	eMem    = map[int]float64{96: 672}
	ev3Mem  = map[int]float64{64: 432}
	ev4Mem  = map[int]float64{64: 504, 96: 672}
	fsv2Mem = map[int]float64{72: 144}
)

func allSeries() []series {
	hv12 := "V1,V2"
	var out []series
	add := func(s ...series) { out = append(out, s...) }

	// B: burstable. No spot; Bv1 has a fixed 30 GiB cache.
	add(
		series{pattern: `B(\d+)m?s`, family: "standardBSFamily", mem: bsMem, temp: bsTemp, cache: bsCache, hyperV: hv12, premium: true, accelFrom: 4, noSpot: true, perCore: 1},
		series{pattern: `B(\d+)s_v2`, family: "standardBsv2Family", memRatio: 4, hyperV: hv12, premium: true, noSpot: true},
		series{pattern: `B(\d+)ls_v2`, family: "standardBsv2Family", memRatio: 2, hyperV: hv12, premium: true, noSpot: true},
		series{pattern: `B(\d+)as_v2`, family: "standardBasv2Family", memRatio: 4, hyperV: hv12, premium: true, noSpot: true},
		series{pattern: `B(\d+)als_v2`, family: "standardBasv2Family", memRatio: 2, hyperV: hv12, premium: true, noSpot: true},
		series{pattern: `B(\d+)ps_v2`, family: "standardBpsv2Family", memRatio: 4, hyperV: "V2", arm: true, premium: true, noSpot: true},
		series{pattern: `B(\d+)pls_v2`, family: "standardBpsv2Family", memRatio: 2, hyperV: "V2", arm: true, premium: true, noSpot: true},
	)
	// D general purpose, v2 to v6.
	add(
		series{pattern: `D([1-5])_v2`, family: "standardDv2Family", vcpus: v2VCPUs, mem: map[int]float64{1: 3.5, 2: 7, 4: 14, 8: 28, 16: 56}, tempGiB: 50, noEphemeral: true, hyperV: "V1", noEAH: true, perCore: 1},
		series{pattern: `DS([1-5])_v2`, family: "standardDSv2Family", vcpus: v2VCPUs, mem: map[int]float64{1: 3.5, 2: 7, 4: 14, 8: 28, 16: 56}, tempGiB: 7, cacheGiB: 43, hyperV: hv12, premium: true, perCore: 1},
		series{pattern: `D(\d+)_v3`, family: "standardDv3Family", memRatio: 4, tempGiB: 25, noEphemeral: true, hyperV: "V1", noEAH: true, nested: true},
		series{pattern: `D(\d+)s_v3`, family: "standardDSv3Family", memRatio: 4, tempGiB: 8, cacheGiB: 25, hyperV: hv12, premium: true, nested: true},
		series{pattern: `D(\d+)_v4`, family: "standardDv4Family", memRatio: 4, hyperV: hv12, nested: true},
		series{pattern: `D(\d+)s_v4`, family: "standardDSv4Family", memRatio: 4, hyperV: hv12, premium: true, nested: true},
		series{pattern: `D(\d+)d_v4`, family: "standardDDv4Family", memRatio: 4, tempGiB: 37.5, hyperV: hv12, nested: true},
		series{pattern: `D(\d+)ds_v4`, family: "standardDDSv4Family", memRatio: 4, tempGiB: 37.5, cacheGiB: 25, hyperV: hv12, premium: true, nested: true},
		series{pattern: `D(\d+)a_v4`, family: "standardDAv4Family", memRatio: 4, tempGiB: 8, hyperV: hv12, nested: true},
		series{pattern: `D(\d+)as_v4`, family: "standardDASv4Family", memRatio: 4, tempGiB: 8, cacheGiB: 25, hyperV: hv12, premium: true, nested: true},
		series{pattern: `D(\d+)_v5`, family: "standardDv5Family", memRatio: 4, hyperV: hv12, nested: true},
		series{pattern: `D(\d+)s_v5`, family: "standardDSv5Family", memRatio: 4, hyperV: hv12, premium: true, nested: true},
		series{pattern: `D(\d+)d_v5`, family: "standardDDv5Family", memRatio: 4, tempGiB: 37.5, hyperV: hv12, nested: true},
		series{pattern: `D(\d+)ds_v5`, family: "standardDDSv5Family", memRatio: 4, tempGiB: 37.5, cacheGiB: 25, hyperV: hv12, premium: true, nested: true},
		series{pattern: `D(\d+)as_v5`, family: "standardDASv5Family", memRatio: 4, hyperV: hv12, premium: true, nested: true},
		series{pattern: `D(\d+)ads_v5`, family: "standardDADSv5Family", memRatio: 4, tempGiB: 37.5, cacheGiB: 25, hyperV: hv12, premium: true, nested: true},
		series{pattern: `D(\d+)ls_v5`, family: "standardDLSv5Family", memRatio: 2, hyperV: hv12, premium: true, nested: true},
		series{pattern: `D(\d+)lds_v5`, family: "standardDLDSv5Family", memRatio: 2, tempGiB: 37.5, cacheGiB: 25, hyperV: hv12, premium: true, nested: true},
		series{pattern: `D(\d+)ps_v5`, family: "standardDPSv5Family", memRatio: 4, hyperV: "V2", arm: true, premium: true},
		series{pattern: `D(\d+)pds_v5`, family: "standardDPDSv5Family", memRatio: 4, tempGiB: 37.5, cacheGiB: 25, hyperV: "V2", arm: true, premium: true},
		series{pattern: `D(\d+)pls_v5`, family: "standardDPLSv5Family", memRatio: 2, hyperV: "V2", arm: true, premium: true},
		series{pattern: `D(\d+)plds_v5`, family: "standardDPLDSv5Family", memRatio: 2, tempGiB: 37.5, cacheGiB: 25, hyperV: "V2", arm: true, premium: true},
		series{pattern: `D(\d+)s_v6`, family: "StandardDsv6Family", memRatio: 4, hyperV: "V2", premium: true, nested: true},
		series{pattern: `D(\d+)ds_v6`, family: "StandardDdsv6Family", memRatio: 4, nvmeMiB: 56320, nvmeOS: true, hyperV: "V2", premium: true, nested: true},
		series{pattern: `D(\d+)ls_v6`, family: "StandardDlsv6Family", memRatio: 2, hyperV: "V2", premium: true, nested: true},
		series{pattern: `D(\d+)lds_v6`, family: "StandardDldsv6Family", memRatio: 2, nvmeMiB: 56320, nvmeOS: true, hyperV: "V2", premium: true, nested: true},
		series{pattern: `D(\d+)as_v6`, family: "standardDav6Family", memRatio: 4, hyperV: "V2", premium: true, nested: true},
		series{pattern: `D(\d+)ads_v6`, family: "standardDadv6Family", memRatio: 4, nvmeMiB: 56320, nvmeOS: true, hyperV: "V2", premium: true, nested: true},
		series{pattern: `D(\d+)als_v6`, family: "standardDalv6Family", memRatio: 2, hyperV: "V2", premium: true, nested: true},
		series{pattern: `D(\d+)alds_v6`, family: "standardDaldv6Family", memRatio: 2, nvmeMiB: 56320, nvmeOS: true, hyperV: "V2", premium: true, nested: true},
		series{pattern: `D(\d+)ps_v6`, family: "StandardDpsv6Family", memRatio: 4, hyperV: "V2", arm: true, premium: true},
		series{pattern: `D(\d+)pds_v6`, family: "StandardDpdsv6Family", memRatio: 4, nvmeMiB: 56320, nvmeOS: true, hyperV: "V2", arm: true, premium: true},
		series{pattern: `D(\d+)pls_v6`, family: "StandardDplsv6Family", memRatio: 2, hyperV: "V2", arm: true, premium: true},
		series{pattern: `D(\d+)plds_v6`, family: "StandardDpldsv6Family", memRatio: 2, nvmeMiB: 56320, nvmeOS: true, hyperV: "V2", arm: true, premium: true},
	)
	// DSv2 memory-optimised sizes (DS11–DS15) carry the same family as DS1–DS5.
	add(series{pattern: `DS(1[1-5])(?:-(\d+))?_v2`, family: "standardDSv2Family", vcpus: map[int]int{11: 2, 12: 4, 13: 8, 14: 16, 15: 20},
		mem:    map[int]float64{2: 14, 4: 28, 8: 56, 16: 112, 20: 140},
		temp:   map[int]int64{2: 28672, 4: 57344, 8: 114688, 16: 229376, 20: 286720},
		cache:  map[int]int64{2: 72 * gib, 4: 144 * gib, 8: 288 * gib, 16: 576 * gib, 20: 720 * gib},
		hyperV: hv12, premium: true, perCore: 1})
	// E memory optimised, v3 to v6, including constrained-core sizes.
	add(
		series{pattern: `E(\d+)_v3`, family: "standardEv3Family", memRatio: 8, mem: ev3Mem, tempGiB: 25, noEphemeral: true, hyperV: "V1", noEAH: true, nested: true},
		series{pattern: `E(\d+)(?:-(\d+))?s_v3`, family: "standardESv3Family", memRatio: 8, mem: ev3Mem, tempGiB: 16, cacheGiB: 25, hyperV: hv12, premium: true, nested: true},
		series{pattern: `E(\d+)_v4`, family: "standardEv4Family", memRatio: 8, mem: ev4Mem, hyperV: hv12, nested: true},
		series{pattern: `E(\d+)(?:-(\d+))?s_v4`, family: "standardESv4Family", memRatio: 8, mem: ev4Mem, hyperV: hv12, premium: true, nested: true},
		series{pattern: `E(\d+)d_v4`, family: "standardEDv4Family", memRatio: 8, mem: ev4Mem, tempGiB: 37.5, hyperV: hv12, nested: true},
		series{pattern: `E(\d+)(?:-(\d+))?ds_v4`, family: "standardEDSv4Family", memRatio: 8, mem: ev4Mem, tempGiB: 37.5, cacheGiB: 25, hyperV: hv12, premium: true, nested: true},
		series{pattern: `E(\d+)a_v4`, family: "standardEAv4Family", memRatio: 8, mem: eMem, tempGiB: 16, hyperV: hv12, nested: true},
		series{pattern: `E(\d+)(?:-(\d+))?as_v4`, family: "standardEASv4Family", memRatio: 8, mem: eMem, tempGiB: 16, cacheGiB: 25, hyperV: hv12, premium: true, nested: true},
		series{pattern: `E(\d+)_v5`, family: "standardEv5Family", memRatio: 8, mem: eMem, hyperV: hv12, nested: true},
		series{pattern: `E(\d+)(?:-(\d+))?s_v5`, family: "standardESv5Family", memRatio: 8, mem: eMem, hyperV: hv12, premium: true, nested: true},
		series{pattern: `E(\d+)d_v5`, family: "standardEDv5Family", memRatio: 8, mem: eMem, tempGiB: 37.5, hyperV: hv12, nested: true},
		series{pattern: `E(\d+)(?:-(\d+))?ds_v5`, family: "standardEDSv5Family", memRatio: 8, mem: eMem, tempGiB: 37.5, cacheGiB: 25, hyperV: hv12, premium: true, nested: true},
		series{pattern: `E(\d+)(?:-(\d+))?as_v5`, family: "standardEASv5Family", memRatio: 8, mem: eMem, hyperV: hv12, premium: true, nested: true},
		series{pattern: `E(\d+)(?:-(\d+))?ads_v5`, family: "standardEADSv5Family", memRatio: 8, mem: eMem, tempGiB: 37.5, cacheGiB: 25, hyperV: hv12, premium: true, nested: true},
		series{pattern: `E(\d+)ps_v5`, family: "standardEPSv5Family", memRatio: 8, hyperV: "V2", arm: true, premium: true},
		series{pattern: `E(\d+)pds_v5`, family: "standardEPDSv5Family", memRatio: 8, tempGiB: 37.5, cacheGiB: 25, hyperV: "V2", arm: true, premium: true},
		series{pattern: `E(\d+)(?:-(\d+))?s_v6`, family: "StandardEsv6Family", memRatio: 8, hyperV: "V2", premium: true, nested: true},
		series{pattern: `E(\d+)(?:-(\d+))?ds_v6`, family: "StandardEdsv6Family", memRatio: 8, nvmeMiB: 56320, nvmeOS: true, hyperV: "V2", premium: true, nested: true},
		series{pattern: `E(\d+)as_v6`, family: "standardEav6Family", memRatio: 8, hyperV: "V2", premium: true, nested: true},
		series{pattern: `E(\d+)(?:-(\d+))?ads_v6`, family: "standardEadv6Family", memRatio: 8, nvmeMiB: 56320, nvmeOS: true, hyperV: "V2", premium: true, nested: true},
		series{pattern: `E(\d+)ps_v6`, family: "StandardEpsv6Family", memRatio: 8, hyperV: "V2", arm: true, premium: true},
		series{pattern: `E(\d+)pds_v6`, family: "StandardEpdsv6Family", memRatio: 8, nvmeMiB: 56320, nvmeOS: true, hyperV: "V2", arm: true, premium: true},
	)
	// F compute optimised.
	add(
		series{pattern: `F(\d+)s`, family: "standardFSFamily", memRatio: 2, tempGiB: 4, cacheGiB: 12, hyperV: hv12, premium: true, perCore: 1},
		series{pattern: `F(\d+)s_v2`, family: "standardFSv2Family", memRatio: 2, mem: fsv2Mem, tempGiB: 8, cacheGiB: 16, hyperV: hv12, premium: true, nested: true},
		series{pattern: `F(\d+)as_v6`, family: "StandardFasv6Family", memRatio: 4, hyperV: "V2", premium: true, perCore: 1, nested: true},
		series{pattern: `F(\d+)als_v6`, family: "StandardFalsv6Family", memRatio: 2, hyperV: "V2", premium: true, perCore: 1, nested: true},
		series{pattern: `F(\d+)ams_v6`, family: "StandardFamsv6Family", memRatio: 8, hyperV: "V2", premium: true, perCore: 1, nested: true},
	)
	// L storage optimised: 1.92 TB NVMe per 8 vCPUs.
	lNvme := int64(1831055) / 8
	add(
		series{pattern: `L(\d+)s_v2`, family: "standardLSv2Family", memRatio: 8, tempGiB: 10, nvmeMiB: lNvme, hyperV: hv12, premium: true, nested: true},
		series{pattern: `L(\d+)s_v3`, family: "standardLSv3Family", memRatio: 8, tempGiB: 10, cacheGiB: 25, nvmeMiB: lNvme, hyperV: hv12, premium: true, nested: true},
		series{pattern: `L(\d+)as_v3`, family: "standardLASv3Family", memRatio: 8, tempGiB: 10, cacheGiB: 25, nvmeMiB: lNvme, hyperV: hv12, premium: true, nested: true},
	)
	// M memory optimised (v1): ms = 27.34 GiB per vCPU, temp 32 GiB and cache ~99 GiB per vCPU.
	add(
		series{pattern: `M(\d+)(?:-(\d+))?ms`, family: "standardMSFamily", memRatio: 27.34375, mem: map[int]float64{128: 3892},
			tempGiB: 32, cacheGiB: 99.125, hyperV: hv12, premium: true, noTrusted: true},
		series{pattern: `M(\d+)s`, family: "standardMSFamily", memRatio: 16, tempGiB: 32, cacheGiB: 99.125, hyperV: hv12, premium: true, noTrusted: true},
		series{pattern: `M(\d+)ls`, family: "standardMSFamily", memRatio: 8, tempGiB: 32, cacheGiB: 99.125, hyperV: hv12, premium: true, noTrusted: true},
		series{pattern: `M(208|416)(?:-(\d+))?ms_v2`, family: "standardMSv2Family", mem: map[int]float64{208: 5700, 416: 11400}, hyperV: "V1,V2", premium: true, noTrusted: true},
		series{pattern: `M(208|416)s_v2`, family: "standardMSv2Family", mem: map[int]float64{208: 2850, 416: 5700}, hyperV: "V1,V2", premium: true, noTrusted: true},
		series{pattern: `M(\d+)(?:-(\d+))?ms_v2`, family: "standardMSMediumMemoryv2Family", memRatio: 27.34375, mem: map[int]float64{128: 3892}, hyperV: "V1,V2", premium: true, noTrusted: true},
		series{pattern: `M(\d+)s_v2`, family: "standardMSMediumMemoryv2Family", memRatio: 16, hyperV: "V1,V2", premium: true, noTrusted: true},
		series{pattern: `M(\d+)ds_v2`, family: "standardMDSMediumMemoryv2Family", memRatio: 16, tempGiB: 32, cacheGiB: 99.125, hyperV: "V1,V2", premium: true, noTrusted: true},
		series{pattern: `M(\d+)dms_v2`, family: "standardMDSMediumMemoryv2Family", memRatio: 27.34375, mem: map[int]float64{128: 3892}, tempGiB: 32, cacheGiB: 99.125, hyperV: "V1,V2", premium: true, noTrusted: true},
	)
	// GPU.
	add(
		series{pattern: `NC(\d+)r?s_v3`, family: "standardNCSv3Family", memRatio: 112.0 / 6, temp: map[int]int64{6: 753664, 12: 1509376, 24: 3018752},
			cache: map[int]int64{6: 320 * gib, 12: 640 * gib, 24: 1280 * gib}, hyperV: hv12, premium: true, perCore: 1,
			gpus: map[int]int{6: 1, 12: 2, 24: 4}, gpuModel: "V100", gpuMfr: "nvidia"},
		series{pattern: `NC(\d+)as_T4_v3`, family: "Standard NCASv3_T4 Family", mem: map[int]float64{4: 28, 8: 56, 16: 110, 64: 440},
			temp:  map[int]int64{4: 180 * 1024, 8: 352 * 1024, 16: 352 * 1024, 64: 2816 * 1024},
			cache: map[int]int64{4: 36 * gib, 8: 72 * gib, 16: 144 * gib, 64: 576 * gib}, hyperV: hv12, premium: true, perCore: 1,
			gpus: map[int]int{4: 1, 8: 1, 16: 1, 64: 4}, gpuModel: "T4", gpuMfr: "nvidia"},
		series{pattern: `NC(\d+)ads_A100_v4`, family: "StandardNCADSA100v4Family", mem: map[int]float64{24: 220, 48: 440, 96: 880},
			temp: map[int]int64{24: 65536, 48: 131072, 96: 262144}, cache: map[int]int64{24: 256 * gib, 48: 512 * gib, 96: 1024 * gib},
			nvme: map[int]int64{24: 915527, 48: 1831054, 96: 3662108}, hyperV: "V2", premium: true, perCore: 1,
			gpus: map[int]int{24: 1, 48: 2, 96: 4}, gpuModel: "A100", gpuMfr: "nvidia"},
		series{pattern: `NC(\d+)ads_A10_v4`, family: "StandardNCADSA10v4Family", mem: map[int]float64{8: 110, 16: 220, 32: 440},
			temp: map[int]int64{8: 360 * 1024, 16: 720 * 1024, 32: 1440 * 1024}, cache: map[int]int64{8: 144 * gib, 16: 288 * gib, 32: 576 * gib},
			hyperV: "V2", premium: true, perCore: 1, gpus: map[int]int{8: 1, 16: 1, 32: 2}, gpuModel: "A10", gpuMfr: "nvidia"},
		series{pattern: `NC(\d+)ads_H100_v5`, family: "StandardNCadsH100v5Family", mem: map[int]float64{40: 320},
			nvme: map[int]int64{40: 3662108}, hyperV: "V2", premium: true, perCore: 1, gpus: map[int]int{40: 1}, gpuModel: "H100", gpuMfr: "nvidia"},
		series{pattern: `ND(96)asr_v4`, family: "Standard NDASv4_A100 Family", mem: map[int]float64{96: 900}, temp: map[int]int64{96: 6000 * 1024},
			hyperV: "V2", premium: true, perCore: 1, gpus: map[int]int{96: 8}, gpuModel: "A100", gpuMfr: "nvidia", rdma: true},
		series{pattern: `ND(96)amsr_A100_v4`, family: "Standard NDAMSv4_A100Family", mem: map[int]float64{96: 1900}, temp: map[int]int64{96: 6400 * 1024},
			hyperV: "V2", premium: true, perCore: 1, gpus: map[int]int{96: 8}, gpuModel: "A100", gpuMfr: "nvidia", rdma: true},
		series{pattern: `ND(96)isr_H100_v5`, family: "standardNDSH100v5Family", mem: map[int]float64{96: 1900}, nvme: map[int]int64{96: 28610 * 1024},
			hyperV: "V2", premium: true, perCore: 1, gpus: map[int]int{96: 8}, gpuModel: "H100", gpuMfr: "nvidia", rdma: true},
		series{pattern: `ND(40)rs_v2`, family: "standardNDSv2Family", mem: map[int]float64{40: 672}, temp: map[int]int64{40: 2948 * 1024},
			hyperV: hv12, premium: true, perCore: 1, gpus: map[int]int{40: 8}, gpuModel: "V100", gpuMfr: "nvidia", rdma: true},
		series{pattern: `NV(\d+)s_v3`, family: "standardNVSv3Family", mem: map[int]float64{12: 112, 24: 224, 48: 448},
			temp: map[int]int64{12: 320 * 1024, 24: 640 * 1024, 48: 1280 * 1024}, hyperV: hv12, premium: true, perCore: 1,
			gpus: map[int]int{12: 1, 24: 2, 48: 4}, gpuModel: "M60", gpuMfr: "nvidia"},
		series{pattern: `NV(36|72)ads_A10_v5`, family: "StandardNVADSA10v5Family", mem: map[int]float64{36: 440, 72: 880},
			temp: map[int]int64{36: 720 * 1024, 72: 1400 * 1024}, hyperV: "V2", premium: true, perCore: 1,
			gpus: map[int]int{36: 1, 72: 2}, gpuModel: "A10", gpuMfr: "nvidia"},
	)
	// Confidential: DCsv2/DCsv3 (SGX enclaves, no CVM type), DC/EC v5 and v6 (AMD SEV-SNP, Intel TDX).
	add(
		series{pattern: `DC(\d+)s_v3`, family: "standardDCSv3Family", memRatio: 8, hyperV: "V2", premium: true, perCore: 1},
		series{pattern: `DC(\d+)ds_v3`, family: "standardDDCSv3Family", memRatio: 8, tempGiB: 75, hyperV: "V2", premium: true, perCore: 1},
		series{pattern: `DC(\d+)as_v5`, family: "standardDCASv5Family", memRatio: 4, hyperV: "V2", premium: true, cc: "SNP", noEAH: true},
		series{pattern: `DC(\d+)ads_v5`, family: "standardDCADSv5Family", memRatio: 4, tempGiB: 37.5, hyperV: "V2", premium: true, cc: "SNP", noEAH: true},
		series{pattern: `DC(\d+)es_v5`, family: "standardDCEV5Family", memRatio: 4, hyperV: "V2", premium: true, cc: "TDX", noEAH: true},
		series{pattern: `DC(\d+)eds_v5`, family: "standardDCEDV5Family", memRatio: 4, tempGiB: 37.5, hyperV: "V2", premium: true, cc: "TDX", noEAH: true},
		series{pattern: `DC(\d+)as_v6`, family: "standardDCasv6Family", memRatio: 4, hyperV: "V2", premium: true, cc: "SNP", noEAH: true},
		series{pattern: `DC(\d+)ads_v6`, family: "standardDCadsv6Family", memRatio: 4, nvmeMiB: 56320, nvmeOS: true, hyperV: "V2", premium: true, cc: "SNP", noEAH: true},
		series{pattern: `EC(\d+)as_v5`, family: "standardECASv5Family", memRatio: 8, mem: eMem, hyperV: "V2", premium: true, cc: "SNP", noEAH: true},
		series{pattern: `EC(\d+)ads_v5`, family: "standardECADSv5Family", memRatio: 8, mem: eMem, tempGiB: 37.5, hyperV: "V2", premium: true, cc: "SNP", noEAH: true},
		series{pattern: `EC(\d+)es_v5`, family: "standardECEV5Family", memRatio: 8, hyperV: "V2", premium: true, cc: "TDX", noEAH: true},
		series{pattern: `EC(\d+)eds_v5`, family: "standardECEDV5Family", memRatio: 8, tempGiB: 37.5, hyperV: "V2", premium: true, cc: "TDX", noEAH: true},
		series{pattern: `EC(\d+)as_v6`, family: "standardECasv6Family", memRatio: 8, hyperV: "V2", premium: true, cc: "SNP", noEAH: true},
		series{pattern: `EC(\d+)ads_v6`, family: "standardECadsv6Family", memRatio: 8, nvmeMiB: 56320, nvmeOS: true, hyperV: "V2", premium: true, cc: "SNP", noEAH: true},
	)
	// HPC: InfiniBand (RDMA), single-threaded cores.
	add(
		series{pattern: `HB(120)(?:-(\d+))?rs_v2`, family: "standardHBrsv2Family", mem: map[int]float64{120: 456}, temp: map[int]int64{120: 480 * 1024}, hyperV: hv12, premium: true, perCore: 1, rdma: true},
		series{pattern: `HB(120)(?:-(\d+))?rs_v3`, family: "standardHBv3Family", mem: map[int]float64{120: 448}, temp: map[int]int64{120: 480 * 1024}, hyperV: hv12, premium: true, perCore: 1, rdma: true},
		series{pattern: `HB(176)(?:-(\d+))?rs_v4`, family: "standardHBv4Family", mem: map[int]float64{176: 768}, temp: map[int]int64{176: 480 * 1024}, hyperV: "V2", premium: true, perCore: 1, rdma: true},
		series{pattern: `HC(44)(?:-(\d+))?rs`, family: "standardHCSFamily", mem: map[int]float64{44: 352}, temp: map[int]int64{44: 700 * 1024}, hyperV: hv12, premium: true, perCore: 1, rdma: true},
	)
	return out
}
