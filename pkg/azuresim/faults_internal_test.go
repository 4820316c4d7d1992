package azuresim

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

func TestLatencySample(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	s := func(d time.Duration) Duration { return Duration{d} }
	cases := []struct {
		name     string
		l        Latency
		min, max time.Duration
	}{
		{"constant", Latency{Distribution: "constant", Mean: s(3 * time.Second)}, 3 * time.Second, 3 * time.Second},
		{"default is constant", Latency{Mean: s(time.Second)}, time.Second, time.Second},
		{"uniform", Latency{Distribution: "uniform", Min: s(time.Second), Max: s(2 * time.Second)}, time.Second, 2 * time.Second},
		{"normal clamped", Latency{Distribution: "normal", Mean: s(10 * time.Second), StdDev: s(20 * time.Second), Min: s(time.Second), Max: s(15 * time.Second)}, time.Second, 15 * time.Second},
		{"lognormal clamped", Latency{Distribution: "lognormal", Mean: s(35 * time.Second), StdDev: s(10 * time.Second), Min: s(15 * time.Second), Max: s(3 * time.Minute)}, 15 * time.Second, 3 * time.Minute},
		{"normal never negative", Latency{Distribution: "normal", Mean: s(0), StdDev: s(time.Second)}, 0, time.Hour},
	}
	for _, tc := range cases {
		var sum time.Duration
		for range 2000 {
			d := tc.l.sample(r)
			if d < tc.min || d > tc.max {
				t.Fatalf("%s: sample %v outside [%v, %v]", tc.name, d, tc.min, tc.max)
			}
			sum += d
		}
		if tc.name == "lognormal clamped" {
			if mean := sum / 2000; mean < 30*time.Second || mean > 42*time.Second {
				t.Errorf("lognormal mean %v, want about 35s", mean)
			}
		}
	}
	if err := (Latency{Distribution: "pareto"}).validate("x"); err == nil {
		t.Error("unknown distribution accepted")
	}
}

func TestDurationJSON(t *testing.T) {
	var d Duration
	if err := json.Unmarshal([]byte(`"1m30s"`), &d); err != nil || d.Duration != 90*time.Second {
		t.Fatalf("%v %v", d, err)
	}
	if err := json.Unmarshal([]byte(`90`), &d); err == nil {
		t.Error("bare number accepted as a duration")
	}
	b, _ := json.Marshal(Duration{2 * time.Second})
	if string(b) != `"2s"` {
		t.Errorf("marshal: %s", b)
	}
}

func TestConfigScale(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TimeScale = 0.01
	if got := cfg.scale(30 * time.Second); got != 300*time.Millisecond {
		t.Errorf("scale: %v", got)
	}
	cfg.Quota.Families = []FamilyQuota{{Family: "standardDSv3Family", Limit: 7}, {Location: "eastus", Family: "standardDSv3Family", Limit: 3}}
	if cfg.familyLimit("eastus", "standardDSv3Family") != 3 || cfg.familyLimit("westus2", "standardDSv3Family") != 7 || cfg.familyLimit("eastus", "other") != cfg.Quota.DefaultFamilyLimit {
		t.Error("family quota precedence")
	}
}
