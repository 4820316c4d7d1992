package cluster_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

func token(id, secret string, extra map[string]string) *corev1.Secret {
	data := map[string][]byte{"token-id": []byte(id), "token-secret": []byte(secret), "usage-bootstrap-authentication": []byte("true")}
	for k, v := range extra {
		data[k] = []byte(v)
	}
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "bootstrap-token-" + id}, Type: "bootstrap.kubernetes.io/token", Data: data}
}

var (
	kubeDNS        = &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-dns"}, Spec: corev1.ServiceSpec{ClusterIP: "10.0.0.10"}}
	kubernetesSvc  = &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"}, Spec: corev1.ServiceSpec{ClusterIP: "10.0.0.1"}}
	serverVersion  = func() (*version.Info, error) { return &version.Info{GitVersion: "v1.35.4"}, nil }
	secretsByField = func(o client.Object) []string { return []string{string(o.(*corev1.Secret).Type)} }
)

func provider(t *testing.T, opts cluster.Options, clk *clocktesting.FakeClock, objs ...client.Object) *cluster.DefaultProvider {
	t.Helper()
	c := fake.NewClientBuilder().WithObjects(objs...).WithIndex(&corev1.Secret{}, "type", secretsByField).Build()
	if opts.RESTConfig == nil {
		opts.RESTConfig = &rest.Config{Host: "https://dev-dns-1a2b.hcp.eastus.azmk8s.io:443", TLSClientConfig: rest.TLSClientConfig{CAData: testutil.TestCA()}}
	}
	if opts.TenantID == "" {
		opts.TenantID = "00000000-0000-0000-0000-0000000000aa"
	}
	return cluster.NewDefaultProvider(opts, c, serverVersion, clk)
}

func TestInputs(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakeClock(time.Now())
	p := provider(t, cluster.Options{NetworkPlugin: "azure", NetworkPluginMode: "overlay"}, clk, token("abcdef", "0123456789abcdef", nil), kubeDNS)
	in, err := p.Inputs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if in.APIServerName != "dev-dns-1a2b.hcp.eastus.azmk8s.io" || in.BootstrapToken != "abcdef.0123456789abcdef" || in.ClusterDNS != "10.0.0.10" ||
		in.KubernetesVersion != "v1.35.4" || in.ImageNetworkPlugin() != "none" || string(in.CACertificate) != string(testutil.TestCA()) ||
		in.HTTPProxy != nil {
		t.Errorf("inputs %s", in)
	}
	if strings.Contains(in.String(), "0123456789abcdef") {
		t.Errorf("String() shows the token's secret: %s", in)
	}
}

func TestInputErrorsNameTheInput(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakeClock(time.Now())
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := token("abcdef", "0123456789abcdef", nil)
	elevenCAs := filepath.Join(dir, "eleven.crt")
	if err := os.WriteFile(elevenCAs, []byte(strings.Repeat(string(testutil.TestCA()), 11)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		opts   cluster.Options
		objs   []client.Object
		reason string
	}{
		{"loopback endpoint", cluster.Options{RESTConfig: &rest.Config{Host: "https://127.0.0.1:6443", TLSClientConfig: rest.TLSClientConfig{CAData: testutil.TestCA()}}},
			[]client.Object{good, kubeDNS}, "ClusterEndpointInvalid"},
		{"in-cluster service IP", cluster.Options{RESTConfig: &rest.Config{Host: "https://10.0.0.1:443", TLSClientConfig: rest.TLSClientConfig{CAData: testutil.TestCA()}}},
			[]client.Object{good, kubeDNS, kubernetesSvc}, "ClusterEndpointUnreachable"},
		{"endpoint on another port", cluster.Options{ClusterEndpoint: "https://api.example.com:6443"}, []client.Object{good, kubeDNS}, "ClusterEndpointInvalid"},
		{"CA not PEM", cluster.Options{ClusterCAFile: notPEM}, []client.Object{good, kubeDNS}, "ClusterCAInvalid"},
		{"no token", cluster.Options{}, []client.Object{kubeDNS}, "BootstrapTokenNotFound"},
		{"named token missing", cluster.Options{BootstrapTokenSecret: "kube-system/bootstrap-token-zzzzzz"}, []client.Object{good, kubeDNS}, "BootstrapTokenNotFound"},
		{"expired token", cluster.Options{BootstrapTokenSecret: "kube-system/bootstrap-token-abcdef"},
			[]client.Object{token("abcdef", "0123456789abcdef", map[string]string{"expiration": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}), kubeDNS}, "BootstrapTokenExpired"},
		{"malformed token", cluster.Options{BootstrapTokenSecret: "kube-system/bootstrap-token-abcdef"},
			[]client.Object{token("abcdef", "short", nil), kubeDNS}, "BootstrapTokenInvalid"},
		{"no kube-dns", cluster.Options{}, []client.Object{good}, "ClusterDNSNotFound"},
		{"bad DNS override", cluster.Options{ClusterDNS: "dns.example.com"}, []client.Object{good}, "ClusterDNSInvalid"},
		{"proxy URL that does not parse", cluster.Options{HTTPProxy: "http://proxy example.com:3128"}, []client.Object{good, kubeDNS}, "HTTPProxyInvalid"},
		{"proxy URL without scheme", cluster.Options{HTTPSProxy: "proxy.example.com:3128"}, []client.Object{good, kubeDNS}, "HTTPProxyInvalid"},
		{"no-proxy wildcard", cluster.Options{HTTPProxy: "http://proxy.example.com:3128", NoProxy: []string{"*.example.com"}}, []client.Object{good, kubeDNS}, "HTTPProxyInvalid"},
		{"proxy CA not PEM", cluster.Options{HTTPProxy: "http://proxy.example.com:3128", HTTPProxyTrustedCAFile: notPEM}, []client.Object{good, kubeDNS}, "HTTPProxyTrustedCAInvalid"},
		{"custom CA not PEM", cluster.Options{CustomCACertsFile: notPEM}, []client.Object{good, kubeDNS}, "CustomCACertsInvalid"},
		{"more custom CAs than AKS takes", cluster.Options{CustomCACertsFile: elevenCAs}, []client.Object{good, kubeDNS}, "CustomCACertsInvalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := provider(t, tc.opts, clk, tc.objs...).Inputs(ctx)
			var ie *cluster.InputError
			if !errors.As(err, &ie) || ie.Reason != tc.reason {
				t.Fatalf("error %v, want reason %s", err, tc.reason)
			}
			if strings.Contains(err.Error(), "0123456789abcdef") {
				t.Errorf("the error shows the token: %v", err)
			}
			if in == nil || in.KubernetesVersion != "v1.35.4" {
				t.Errorf("the Kubernetes version should still be known: %v", in)
			}
		})
	}
}

// The proxy and the CAs nodes trust reach the inputs, each certificate a
// PEM block of its own.
func TestProxyAndCustomCAs(t *testing.T) {
	dir := t.TempDir()
	cas := filepath.Join(dir, "cas.crt")
	if err := os.WriteFile(cas, append(append([]byte{}, testutil.TestCA()...), testutil.TestCA()...), 0o600); err != nil {
		t.Fatal(err)
	}
	p := provider(t, cluster.Options{HTTPProxy: "http://proxy.example.com:3128", HTTPSProxy: "https://proxy.example.com:3129",
		NoProxy: []string{"10.0.0.0/8", ".corp.example.com"}, HTTPProxyTrustedCAFile: cas, CustomCACertsFile: cas},
		clocktesting.NewFakeClock(time.Now()), token("abcdef", "0123456789abcdef", nil), kubeDNS)
	in, err := p.Inputs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if in.HTTPProxy == nil || in.HTTPProxy.HTTPProxy != "http://proxy.example.com:3128" || in.HTTPProxy.HTTPSProxy != "https://proxy.example.com:3129" ||
		len(in.HTTPProxy.NoProxy) != 2 || len(in.HTTPProxy.TrustedCA) == 0 {
		t.Errorf("proxy %+v", in.HTTPProxy)
	}
	if len(in.CustomCACerts) != 2 || string(in.CustomCACerts[0]) != string(testutil.TestCA()) {
		t.Errorf("custom CAs %d", len(in.CustomCACerts))
	}
}

// A rotated token is picked up at the next refresh, without a restart.
func TestTokenRotation(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakeClock(time.Now())
	c := fake.NewClientBuilder().WithObjects(token("abcdef", "0123456789abcdef", nil), kubeDNS).WithIndex(&corev1.Secret{}, "type", secretsByField).Build()
	p := cluster.NewDefaultProvider(cluster.Options{ClusterEndpoint: "https://api.example.com", ClusterCAFile: "", RESTConfig: &rest.Config{TLSClientConfig: rest.TLSClientConfig{CAData: testutil.TestCA()}},
		TenantID: "t"},
		c, serverVersion, clk)
	if in, err := p.Inputs(ctx); err != nil || in.BootstrapToken != "abcdef.0123456789abcdef" {
		t.Fatalf("%v %v", in, err)
	}
	if err := c.Delete(ctx, token("abcdef", "", nil)); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, token("ghijkl", "ghijklmnopqrstuv", nil)); err != nil {
		t.Fatal(err)
	}
	if in, _ := p.Inputs(ctx); in.BootstrapToken != "abcdef.0123456789abcdef" {
		t.Error("inputs should be cached within a minute")
	}
	clk.Step(2 * time.Minute)
	if in, err := p.Inputs(ctx); err != nil || in.BootstrapToken != "ghijkl.ghijklmnopqrstuv" {
		t.Errorf("after rotation: %v %v", in, err)
	}
}
