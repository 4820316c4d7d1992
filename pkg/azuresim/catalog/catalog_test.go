package catalog

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
)

// sharedData locates ../shared/data relative to the module root, skipping
// the test when the reference data is not checked out next to the repo.
// sharedData is the directory of Azure's public reference data: the
// AZKARPENTER_REFERENCE_DATA directory when set, else shared/data beside the
// repository, where CI lays it. Under CI (CI set, as CI sets it) missing data
// fails the test, so that the check cannot silently stop running; elsewhere
// it skips, naming what is missing.
func sharedData(t *testing.T) string {
	t.Helper()
	missing := t.Skipf
	if os.Getenv("CI") != "" {
		missing = t.Fatalf
	}
	data := os.Getenv("AZKARPENTER_REFERENCE_DATA")
	if data == "" {
		dir, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				missing("reference data check: no go.mod above the package directory")
				return ""
			}
			dir = parent
		}
		data = filepath.Join(dir, "..", "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(data, "azure-known-vm-skus.csv")); err != nil {
		missing("reference data check: %s not present (it lives beside the repository in the shared workspace; AZKARPENTER_REFERENCE_DATA names another directory): %v", data, err)
		return ""
	}
	return data
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows[1:]
}

func TestCatalogShape(t *testing.T) {
	c := Default()
	if len(c.SKUs) < 300 {
		t.Fatalf("catalog has %d SKUs, want at least 300", len(c.SKUs))
	}
	// Every series the issue names must be represented.
	for _, pattern := range []string{
		`^Standard_B\d+m?s$`, `^Standard_D\d+_v[2-5]$`, `^Standard_D\d+s_v[3-6]$`, `^Standard_D\d+ds_v[4-6]$`,
		`^Standard_D\d+as_v[4-6]$`, `^Standard_D\d+ads_v[5-6]$`, `^Standard_D\d+ps_v[5-6]$`, `^Standard_D\d+pds_v[5-6]$`,
		`^Standard_D\d+pls_v[5-6]$`, `^Standard_E\d+s_v[3-6]$`, `^Standard_E\d+ds_v[4-6]$`, `^Standard_E\d+as_v[4-6]$`,
		`^Standard_E\d+ads_v[5-6]$`, `^Standard_E\d+ps_v[5-6]$`, `^Standard_E\d+pds_v[5-6]$`, `^Standard_F\d+s_v2$`,
		`^Standard_L\d+s_v3$`, `^Standard_M\d+`, `^Standard_NC`, `^Standard_ND`, `^Standard_NV`, `^Standard_DC`, `^Standard_EC`,
		`^Standard_HB`, `^Standard_HC`,
	} {
		re := regexp.MustCompile(pattern)
		found := false
		for _, s := range c.SKUs {
			found = found || re.MatchString(s.Name)
		}
		if !found {
			t.Errorf("no SKU matches %s", pattern)
		}
	}
	if _, ok := c.Region("westcentralus"); !ok {
		t.Fatal("westcentralus missing")
	}
	zonal := 0
	for _, r := range c.Regions {
		if len(r.Zones) > 0 {
			zonal++
		}
	}
	if zonal < 3 {
		t.Errorf("%d zonal regions, want at least 3", zonal)
	}
	for _, s := range c.SKUs {
		if s.VCPUs <= 0 || s.MemoryGiB <= 0 || s.VCPUsAvailable <= 0 || s.VCPUsAvailable > s.VCPUs {
			t.Errorf("%s: implausible vCPUs/memory %d/%d/%v", s.Name, s.VCPUs, s.VCPUsAvailable, s.MemoryGiB)
		}
		if len(s.LinuxOnDemandUSD) == 0 {
			t.Errorf("%s: offered nowhere", s.Name)
		}
		for r := range s.LinuxOnDemandUSD {
			win, _ := c.Price(s, r, true, false)
			spot, _ := c.Price(s, r, false, true)
			od, _ := c.Price(s, r, false, false)
			if !(spot < od && od < win) {
				t.Errorf("%s in %s: want spot < on-demand < windows, got %v %v %v", s.Name, r, spot, od, win)
			}
		}
	}
}

func TestCatalogAgainstReferenceData(t *testing.T) {
	data := sharedData(t)
	c := Default()

	// Families in the reference CSV that contain spaces were cut at the first
	// space by its writer ("Standard NCASv3_T4 Family" became "Standard"), so
	// such entries are compared by their first word.
	known := map[string]string{}
	for _, row := range readCSV(t, filepath.Join(data, "azure-known-vm-skus.csv")) {
		known[row[0]] = row[1]
	}
	for _, s := range c.SKUs {
		fam, ok := known[s.Name]
		if !ok {
			t.Errorf("%s is not a known Azure VM size", s.Name)
			continue
		}
		want := s.Family
		if !strings.HasSuffix(fam, "Family") {
			want, _, _ = strings.Cut(s.Family, " ")
		}
		if !strings.EqualFold(fam, want) || (strings.HasSuffix(fam, "Family") && fam != s.Family) {
			t.Errorf("%s: family %q, reference says %q", s.Name, s.Family, fam)
		}
	}

	checked := 0
	for _, row := range readCSV(t, filepath.Join(data, "azure-vm-prices-linux-ondemand.csv")) {
		s, ok := c.SKU(row[1])
		if !ok {
			continue
		}
		ours, ok := s.LinuxOnDemandUSD[row[0]]
		if !ok {
			if _, served := c.Region(row[0]); served {
				t.Errorf("%s: snapshot prices it in %s, catalog does not offer it there", s.Name, row[0])
			}
			continue
		}
		ref, err := strconv.ParseFloat(row[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(ours-ref) > 0.01*ref {
			t.Errorf("%s in %s: $%v/h, snapshot $%v/h", s.Name, row[0], ours, ref)
		}
		checked++
	}
	if checked < 1000 {
		t.Errorf("only %d prices compared with the snapshot", checked)
	}

	var sample struct {
		Value []armcompute.ResourceSKU `json:"value"`
	}
	raw, err := os.ReadFile(filepath.Join(data, "azure-resource-skus-sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &sample); err != nil {
		t.Fatal(err)
	}
	compared := []string{"vCPUs", "vCPUsAvailable", "vCPUsPerCore", "MemoryGB", "MaxResourceVolumeMB", "CachedDiskBytes",
		"NvmeDiskSizeInMiB", "EphemeralOSDiskSupported", "SupportedEphemeralOSDiskPlacements", "HyperVGenerations",
		"CpuArchitectureType", "AcceleratedNetworkingEnabled", "EncryptionAtHostSupported", "ConfidentialComputingType",
		"GPUs", "LowPriorityCapable", "PremiumIO", "TrustedLaunchDisabled", "RdmaEnabled"}
	matched := 0
	for _, ref := range sample.Value {
		name := *ref.Name
		s, ok := c.SKU(name)
		if !ok {
			if _, current := known[name]; current {
				t.Errorf("sample SKU %s is a current size but missing from the catalog", name)
			}
			continue // retired sizes (Standard_A0) are deliberately not simulated
		}
		matched++
		refCaps := map[string]string{}
		for _, kv := range ref.Capabilities {
			refCaps[*kv.Name] = *kv.Value
		}
		region := *ref.Locations[0]
		o, ok := c.Offering(s, region)
		if !ok {
			t.Errorf("%s: sample lists it in %s, catalog does not offer it there", name, region)
			continue
		}
		ours := map[string]string{}
		for _, kv := range c.ResourceSKU(s, o).Capabilities {
			ours[*kv.Name] = *kv.Value
		}
		for _, k := range compared {
			if ours[k] != refCaps[k] {
				t.Errorf("%s capability %s: ours %q, Azure %q", name, k, ours[k], refCaps[k])
			}
		}
		if *ref.Family != s.Family {
			t.Errorf("%s family: ours %q, Azure %q", name, s.Family, *ref.Family)
		}
	}
	if matched < 30 {
		t.Errorf("only %d of the %d sample records compared", matched, len(sample.Value))
	}
}

// TestEphemeralFacts pins the ephemeral OS disk examples of AKS's
// documentation (learn.microsoft.com/azure/aks/concepts-storage, "Ephemeral OS disk").
func TestEphemeralFacts(t *testing.T) {
	c := Default()
	for name, wantCacheGB := range map[string]int64{"Standard_DS2_v2": 86, "Standard_D8s_v3": 200} {
		s, ok := c.SKU(name)
		if !ok {
			t.Fatalf("%s missing", name)
		}
		if got := s.CachedDiskBytes >> 30; got != wantCacheGB {
			t.Errorf("%s cache %d GiB, want %d", name, got, wantCacheGB)
		}
	}
	d6, _ := c.SKU("Standard_D8ds_v6")
	if len(d6.EphemeralOSDiskPlacements) != 1 || d6.EphemeralOSDiskPlacements[0] != "NvmeDisk" || d6.NvmeDiskSizeInMiB != 8*56320 {
		t.Errorf("Ddsv6 should place ephemeral OS disks on NVMe: %+v", d6)
	}
	for _, name := range []string{"Standard_D2_v3", "Standard_D2as_v6", "Standard_D2_v5"} {
		if s, _ := c.SKU(name); len(s.EphemeralOSDiskPlacements) != 0 {
			t.Errorf("%s must not support ephemeral OS disks", name)
		}
	}
}
