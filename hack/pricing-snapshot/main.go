// Command pricing-snapshot reads VM prices for a set of regions from a
// Retail Prices API endpoint and writes the snapshot pkg/providers/pricing embeds (the
// prices a controller serves until its first successful refresh).
//
// Against Azure:
//
//	go run ./hack/pricing-snapshot --regions eastus,westus2,westeurope
//
// Against azuresim (what the committed snapshot is generated from):
//
//	azuresim --cert-dir /tmp/azuresim &
//	go run ./hack/pricing-snapshot --endpoint https://127.0.0.1:8443 \
//	    --ca-file /tmp/azuresim/ca.crt --source azuresim \
//	    --regions eastus,westus2,southcentralus,westcentralus
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/azkarpenter/azkarpenter/pkg/providers/pricing"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "pricing-snapshot:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("pricing-snapshot", flag.ContinueOnError)
	endpoint := fs.String("endpoint", pricing.DefaultEndpoint, "Retail Prices API base URL")
	caFile := fs.String("ca-file", "", "PEM file of extra CAs to trust (azuresim's ca.crt)")
	regions := fs.String("regions", "eastus,westus2,southcentralus,westcentralus", "comma-separated ARM region names")
	out := fs.String("out", filepath.Join("pkg", "pricing", pricing.SnapshotFile), "snapshot file to write")
	source := fs.String("source", "", "what the snapshot was read from, recorded in the file (default: the endpoint)")
	timeout := fs.Duration("timeout", 10*time.Minute, "overall time limit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	names := splitRegions(*regions)
	if len(names) == 0 {
		return errors.New("--regions is empty")
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return err
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s holds no PEM certificate", *caFile)
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	client, err := pricing.NewClient(*endpoint, &policy.ClientOptions{Transport: &http.Client{Transport: transport}})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	snap := &pricing.Snapshot{GeneratedAt: time.Now().UTC().Truncate(time.Second), Source: *source, Regions: map[string]pricing.Table{}}
	if snap.Source == "" {
		snap.Source = *endpoint
	}
	for _, region := range names {
		items, err := client.ListVMPrices(ctx, region)
		if err != nil {
			return err
		}
		table := pricing.BuildTable(items, region)
		if table.Count() == 0 {
			return fmt.Errorf("%s: no usable VM price in %d rows; not writing a snapshot", region, len(items))
		}
		snap.Regions[region] = table
		fmt.Fprintf(os.Stderr, "%s: %d rows, %d SKUs, %d prices\n", region, len(items), len(table), table.Count())
	}
	var buf bytes.Buffer
	if err := snap.Encode(&buf); err != nil {
		return err
	}
	// Write then rename, so an interrupted run never leaves a torn file
	// that would break the build (the file is embedded).
	tmp := *out + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, *out); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s (%d bytes, %d regions)\n", *out, buf.Len(), len(names))
	return nil
}

func splitRegions(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range strings.Split(s, ",") {
		if r = strings.TrimSpace(r); r != "" && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}
