package nodeagent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/client-go/util/cert"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
)

func TestParseRoute(t *testing.T) {
	from, to, err := ParseRoute("API.example.azmk8s.io:443=127.0.0.1:6443")
	if err != nil || from != "api.example.azmk8s.io:443" || to != "127.0.0.1:6443" {
		t.Errorf("ParseRoute: %q %q %v", from, to, err)
	}
	for _, bad := range []string{"", "api:443", "api=127.0.0.1:1", "api:443=127.0.0.1", ":443=127.0.0.1:1", "api:0=127.0.0.1:1", "api:443=127.0.0.1:99999"} {
		if _, _, err := ParseRoute(bad); err == nil {
			t.Errorf("ParseRoute(%q) accepted", bad)
		}
	}
}

// A name without a route fails as a DNS lookup does on Azure; an IP without
// one is unreachable; a routed name reaches its address.
func TestRoutesDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	r := Routes{}
	r.Add("API.test:443", ln.Addr().String())
	ctx := context.Background()
	c, err := r.DialContext(ctx, "tcp", "api.test:443")
	if err != nil {
		t.Fatalf("routed dial: %v", err)
	}
	_ = c.Close()

	_, err = r.DialContext(ctx, "tcp", "other.test:443")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound || !strings.Contains(err.Error(), "lookup other.test on "+AzureDNS+": no such host") {
		t.Errorf("unrouted name: %v", err)
	}
	if _, err := r.DialContext(ctx, "tcp", "10.0.0.1:443"); err == nil || !strings.Contains(err.Error(), "no route to host") {
		t.Errorf("unrouted IP: %v", err)
	}
	// The route is for one port: the same name on another port has none.
	if _, err := r.DialContext(ctx, "tcp", "api.test:6443"); !errors.As(err, &dnsErr) {
		t.Errorf("unrouted port: %v", err)
	}
}

// fakeAPIServer is a TLS server for example.com (httptest's certificate)
// that refuses every request as kube-apiserver refuses an unknown token.
func fakeAPIServer(t *testing.T) (caPEM []byte, addr string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`))
	}))
	// The handshakes the wrong-CA and wrong-name cases fail are expected.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), srv.Listener.Addr().String()
}

func otherCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := cert.NewSelfSignedCACert(cert.Config{CommonName: "another-cluster-ca"}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})
}

// TestBootstrapFailures: each way a node's custom data can be wrong fails
// the TLS bootstrap the way it fails on Azure, and says so.
func TestBootstrapFailures(t *testing.T) {
	caPEM, addr := fakeAPIServer(t)
	routes := Routes{}
	routes.Add("example.com:443", addr)
	routes.Add("elsewhere.example.net:443", addr) // routed, but not a name the server's certificate has
	a := New(Options{Routes: routes, Logger: slog.New(slog.DiscardHandler)})
	cases := []struct {
		name, server string
		ca           []byte
		want         string
	}{
		{"the API server refuses the token", "example.com", caPEM, "Unauthorized"},
		{"the CA is not the cluster's", "example.com", otherCA(t), "certificate signed by unknown authority"},
		{"the server's certificate is not for the name", "elsewhere.example.net", caPEM, "not elsewhere.example.net"},
		{"the name does not resolve", "unknown.hcp.eastus.azmk8s.io", caPEM, "lookup unknown.hcp.eastus.azmk8s.io on " + AzureDNS + ": no such host"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			boot := bootstrapConfig()
			boot.Cluster.APIServerName, boot.Cluster.CACertificate = tc.server, tc.ca
			creds, err := a.bootstrapKubelet(context.Background(), boot, "node-1")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("bootstrap: %v (credentials %v), want an error containing %q", err, creds != nil, tc.want)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), "TLS bootstrap") {
				t.Errorf("%v does not say it was the TLS bootstrap that failed", err)
			}
		})
	}
	// One client per distinct (server, CA, token), bounded.
	if n := len(a.bootstrapClients); n == 0 || n > maxBootstrapClients {
		t.Errorf("%d bootstrap clients kept", n)
	}
	for _, c := range a.bootstrapClients {
		c.transport.CloseIdleConnections()
	}
}

func TestImageOS(t *testing.T) {
	const ubuntu, azl, win = "/CommunityGalleries/AKSUbuntu-38d80f77-467a-481f-a8d4-09b6d4220bd2", "/CommunityGalleries/AKSAzureLinux-f7c7cda5-1c9a-4bdc-a222-9614c968580b", "/CommunityGalleries/AKSWindows-cf00e6e0-d245-4a4e-8d8e-6ed6a3f7a8e8"
	cases := []struct {
		image                         string
		windows                       bool
		os, osImage, kernel, winBuild string
	}{
		{ubuntu + "/images/2204gen2containerd/versions/202611.10.0", false, "linux", "Ubuntu 22.04.5 LTS", "5.15.0-1092-azure", ""},
		{ubuntu + "/images/2404gen2arm64containerd/versions/202611.10.0", false, "linux", "Ubuntu 24.04.3 LTS", "6.8.0-1041-azure", ""},
		{azl + "/images/V3gen2/versions/202611.10.0", false, "linux", "Microsoft Azure Linux 3.0", "6.6.104.2-4.azl3", ""},
		{azl + "/images/V2gen2/versions/202511.02.0", false, "linux", "CBL-Mariner/Linux", "5.15.186.1-1.cm2", ""},
		{win + "/images/windows-2022-containerd-gen2/versions/20348.4405.261112", true, "windows", "Windows Server 2022 Datacenter", "10.0.20348.4405", "10.0.20348"},
		{win + "/images/windows-2025-gen2/versions/26100.7171.261112", true, "windows", "Windows Server 2025 Datacenter", "10.0.26100.7171", "10.0.26100"},
		{"", false, "linux", "Ubuntu 22.04.5 LTS", "5.15.0-1092-azure", ""},
		{"", true, "windows", "Windows Server 2022 Datacenter", "10.0.20348.4405", "10.0.20348"},
	}
	sku, _ := catalog.Default().SKU("Standard_D4s_v3")
	for _, tc := range cases {
		got := imageOS(VM{ImageID: tc.image, Windows: tc.windows, SKU: sku})
		if got.OS != tc.os || got.OSImage != tc.osImage || got.KernelVersion != tc.kernel || got.WindowsBuild != tc.winBuild || got.RuntimeVersion == "" {
			t.Errorf("%s: %+v", tc.image, got)
		}
	}
}
