package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/providers/pricing"
)

func TestGenerateFromAzuresim(t *testing.T) {
	dir := t.TempDir()
	sim, err := azuresim.NewServer(azuresim.Options{CertDir: dir, Seed: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	out := filepath.Join(dir, "snapshot.json.gz")

	err = run([]string{"--endpoint", sim.URL(), "--ca-file", filepath.Join(dir, "ca.crt"), "--source", "azuresim",
		"--regions", "eastus, westcentralus,eastus", "--out", out})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	snap, err := pricing.DecodeSnapshot(f)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Source != "azuresim" || snap.GeneratedAt.IsZero() || len(snap.Regions) != 2 {
		t.Fatalf("snapshot header: source=%q generatedAt=%v regions=%d", snap.Source, snap.GeneratedAt, len(snap.Regions))
	}
	for _, region := range []string{"eastus", "westcentralus"} {
		if got := snap.Regions[region]["Standard_D2s_v3"]; got.Linux <= 0 || got.Windows <= got.Linux || got.LinuxSpot <= 0 || got.WindowsSpot <= 0 {
			t.Errorf("%s Standard_D2s_v3 = %+v", region, got)
		}
	}

	// No CA, no trust: the generator must not fall back to skipping TLS checks.
	if err := run([]string{"--endpoint", sim.URL(), "--regions", "eastus", "--timeout", "2s", "--out", filepath.Join(dir, "x.gz")}); err == nil {
		t.Error("generator accepted azuresim's certificate without --ca-file")
	}
	// A region without prices writes nothing.
	if err := run([]string{"--endpoint", sim.URL(), "--ca-file", filepath.Join(dir, "ca.crt"), "--regions", "northpole", "--out", filepath.Join(dir, "y.gz")}); err == nil {
		t.Error("generator wrote a snapshot for a region without prices")
	}
	if _, err := os.Stat(filepath.Join(dir, "y.gz")); !os.IsNotExist(err) {
		t.Error("a failed run left a file behind")
	}
}
