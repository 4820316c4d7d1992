package instancetype_test

import (
	"testing"

	"github.com/azkarpenter/azkarpenter/pkg/providers/instancetype"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		name, family, series, gpu string
		version                   int
	}{
		{"Standard_D4s_v5", "D", "Ds_v5", "", 5},
		{"Standard_D4pls_v6", "D", "Dpls_v6", "", 6},
		{"Standard_DS2_v2", "D", "Ds_v2", "", 2},
		{"Standard_E4-2s_v3", "E", "Es_v3", "", 3},
		{"Standard_M128ms", "M", "Mms", "", 1},
		{"Standard_F2s", "F", "Fs", "", 1},
		{"Standard_NC24ads_A100_v4", "NC", "NCads_A100_v4", "A100", 4},
		{"Standard_NC4as_T4_v3", "NC", "NCas_T4_v3", "T4", 3},
		{"Standard_NC6s_v3", "NC", "NCs_v3", "V100", 3},
		{"Standard_ND96isr_H100_v5", "ND", "NDisr_H100_v5", "H100", 5},
		{"Standard_NV32as_v4", "NV", "NVas_v4", "MI25", 4},
		{"Standard_HB120-16rs_v3", "HB", "HBrs_v3", "", 3},
		{"Standard_DC2as_v5", "DC", "DCas_v5", "", 5},
		{"Standard_L8s_v3", "L", "Ls_v3", "", 3},
		{"Standard_B2ats_v2", "B", "Bats_v2", "", 2},
	} {
		s, ok := instancetype.ParseSize(tc.name)
		if !ok {
			t.Errorf("%s: not parsed", tc.name)
			continue
		}
		if s.Family != tc.family || s.Series() != tc.series || s.Version != tc.version {
			t.Errorf("%s: family %q series %q version %d, want %q %q %d", tc.name, s.Family, s.Series(), s.Version, tc.family, tc.series, tc.version)
		}
		g, _ := s.GPUModel()
		if g.Name != tc.gpu {
			t.Errorf("%s: GPU %q, want %q", tc.name, g.Name, tc.gpu)
		}
	}
}
