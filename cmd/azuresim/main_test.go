package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHelpDocumentsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"--help"}, &out, nil)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, f := range []string{"addr", "cert-dir", "admin-token", "config", "time-scale", "no-throttling", "regional-quota",
		"family-quota", "spot-quota", "spot-eviction-rate", "spot-notice", "page-size", "seed", "kubeconfig", "route", "log-level"} {
		if !strings.Contains(out.String(), "-"+f) {
			t.Errorf("--help does not document -%s", f)
		}
	}
}

func TestServeStartsFastAndStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--cert-dir", dir, "--time-scale", "0.01"}, io.Discard, func(u string) { urls <- u })
	}()
	var url string
	select {
	case url = <-urls:
	case err := <-done:
		t.Fatalf("exited early: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("not ready after 5s")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("ready after %v, want under a second", d)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.crt holds no certificate")
	}
	token, err := os.ReadFile(filepath.Join(dir, "admin-token"))
	if err != nil || len(token) == 0 {
		t.Fatalf("admin-token: %v", err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", url+"/admin/state", nil)
	req.Header.Set("Authorization", "Bearer "+string(token))
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("admin state with the written token: %d", resp.StatusCode)
	}
	tr.CloseIdleConnections()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop")
	}
}

func TestRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--addr", "127.0.0.1:0"}, // no --cert-dir
		{"--cert-dir", t.TempDir(), "--log-level", "loud"},
		{"--cert-dir", t.TempDir(), "--config", "/nonexistent.yaml"},
	} {
		if err := run(context.Background(), args, io.Discard, nil); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
