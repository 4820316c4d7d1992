package options

import (
	"testing"

	coreoptions "sigs.k8s.io/karpenter/pkg/operator/options"
)

func TestWithDefaultFeatureGates(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "StaticCapacity=true"},
		{"NodeRepair=true", "NodeRepair=true,StaticCapacity=true"},
		{"StaticCapacity=false,NodeRepair=true", "NodeRepair=true,StaticCapacity=false"},
		{"StaticCapacity=true", "StaticCapacity=true"},
	} {
		got, err := WithDefaultFeatureGates(tc.in)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if got != tc.want {
			t.Errorf("WithDefaultFeatureGates(%q) = %q, want %q", tc.in, got, tc.want)
		}
		gates, err := coreoptions.ParseFeatureGates(got)
		if err != nil {
			t.Fatalf("core cannot parse %q: %v", got, err)
		}
		if want := tc.in != "StaticCapacity=false,NodeRepair=true"; gates.StaticCapacity != want {
			t.Errorf("%q: core's StaticCapacity = %t, want %t", got, gates.StaticCapacity, want)
		}
	}
	if _, err := WithDefaultFeatureGates("StaticCapacity=maybe"); err == nil {
		t.Error("a gate that is not a boolean was accepted")
	}
}

func TestApplyDefaultFeatureGates(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	setenv := func(k, v string) error { env[k] = v; return nil }

	env["FEATURE_GATES"] = "NodeRepair=true"
	if err := ApplyDefaultFeatureGates([]string{"--log-level", "info"}, getenv, setenv); err != nil {
		t.Fatal(err)
	}
	if env["FEATURE_GATES"] != "NodeRepair=true,StaticCapacity=true" {
		t.Errorf("FEATURE_GATES = %q", env["FEATURE_GATES"])
	}

	// The flag wins over the variable in core, so the flag is what is rewritten.
	env["FEATURE_GATES"] = "X"
	args := []string{"--feature-gates=SpotToSpotConsolidation=true"}
	if err := ApplyDefaultFeatureGates(args, getenv, setenv); err != nil {
		t.Fatal(err)
	}
	if args[0] != "--feature-gates=SpotToSpotConsolidation=true,StaticCapacity=true" || env["FEATURE_GATES"] != "X" {
		t.Errorf("args %q, FEATURE_GATES %q", args, env["FEATURE_GATES"])
	}
	args = []string{"-feature-gates", "StaticCapacity=false"}
	if err := ApplyDefaultFeatureGates(args, getenv, setenv); err != nil {
		t.Fatal(err)
	}
	if args[1] != "StaticCapacity=false" {
		t.Errorf("an explicit StaticCapacity=false was overridden: %q", args)
	}
}
