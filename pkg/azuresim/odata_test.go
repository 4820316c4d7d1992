package azuresim

import (
	"strings"
	"testing"
)

func TestParseFilter(t *testing.T) {
	row := map[string]string{"armregionname": "eastus", "metername": "D2s v3 Spot", "retailprice": "0.02", "isprimarymeterregion": "true", "skuname": "it's"}
	get := func(f string) (string, bool) { v, ok := row[f]; return v, ok }
	cases := []struct {
		filter  string
		match   bool
		wantErr bool
	}{
		{"armRegionName eq 'eastus'", true, false},
		{"ArmRegionName eq 'eastus'", true, false},
		{"armRegionName eq 'EastUS'", false, false},
		{"armRegionName eq 'eastus' and contains(meterName, 'Spot')", true, false},
		{"contains(meterName, 'Low Priority')", false, false},
		{"retailPrice eq 0.020", true, false},
		{"isPrimaryMeterRegion eq true", true, false},
		{"skuName eq 'it''s'", true, false},
		{"unknownField eq 'x'", false, false},
		{"armRegionName eq 'eastus' and", false, true},
		{"armRegionName ne 'eastus'", false, true},
		{"armRegionName eq 'eastus' or armRegionName eq 'westus'", false, true},
		{"armRegionName eq 'unterminated", false, true},
		{"contains(meterName 'x')", false, true},
		{"(armRegionName eq 'eastus')", false, true},
		{"", false, true},
	}
	for _, tc := range cases {
		expr, err := parseFilter(tc.filter)
		if (err != nil) != tc.wantErr {
			t.Errorf("%q: err %v, wantErr %v", tc.filter, err, tc.wantErr)
			continue
		}
		if err == nil && expr.match(get) != tc.match {
			t.Errorf("%q: match %v, want %v", tc.filter, !tc.match, tc.match)
		}
	}
}

// FuzzODataFilter: any input either parses or returns an error; never panics,
// and a parsed filter can always be evaluated.
func FuzzODataFilter(f *testing.F) {
	for _, s := range []string{
		"serviceName eq 'Virtual Machines' and priceType eq 'Consumption' and armRegionName eq 'eastus'",
		"contains(meterName, 'Spot')", "retailPrice eq 1e3", "skuName eq 'a''b'", "location eq 'eastus'", "(", "'", "eq eq eq",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		expr, err := parseFilter(s)
		if err != nil {
			return
		}
		if len(expr.terms) == 0 {
			t.Fatalf("%q parsed to no terms", s)
		}
		for _, term := range expr.terms {
			if term.op != "eq" && term.op != "contains" {
				t.Fatalf("%q: unexpected op %q", s, term.op)
			}
		}
		expr.match(func(f string) (string, bool) { return strings.Repeat("x", len(f)), true })
	})
}
