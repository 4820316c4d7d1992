package test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"sync"

	"k8s.io/client-go/util/cert"

	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
)

// BootstrapToken is the TLS bootstrap token of ClusterInputs.
const BootstrapToken = "abcdef.0123456789abcdef"

var (
	caOnce sync.Once
	caPEM  []byte
)

// TestCA is a self-signed CA certificate (PEM), made once per test binary.
func TestCA() []byte {
	caOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		ca, err := cert.NewSelfSignedCACert(cert.Config{CommonName: "azkarpenter-test-ca"}, key)
		if err != nil {
			panic(err)
		}
		caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})
	})
	return caPEM
}

// StaticClusterInputs serves fixed cluster inputs: unit and provider suites
// that do not test where the inputs come from.
type StaticClusterInputs struct {
	mu     sync.Mutex
	inputs cluster.Inputs
	err    error
}

// ClusterInputs returns valid inputs for a cluster at Kubernetes v1.35.4.
func ClusterInputs() *StaticClusterInputs {
	return &StaticClusterInputs{inputs: cluster.Inputs{
		APIServerName: "test-cluster-dns-12345678.hcp.eastus.azmk8s.io", CACertificate: TestCA(), BootstrapToken: BootstrapToken,
		KubernetesVersion: "v1.35.4", ClusterDNS: "10.0.0.10", TenantID: "00000000-0000-0000-0000-0000000000aa",
		KubeletIdentityClientID: "00000000-0000-0000-0000-0000000000bb", NetworkPlugin: "azure", NetworkPluginMode: "overlay",
		NetworkResources: cluster.NetworkResources{SecurityGroupName: "aks-agentpool-12345678-nsg", RouteTableName: "aks-agentpool-12345678-routetable"},
		ServiceCIDR:      "10.0.0.0/16", PodCIDR: "10.244.0.0/16", VNetCIDR: "10.224.0.0/12",
	}}
}

// Set changes the inputs; a non-nil err makes Inputs fail with it.
func (s *StaticClusterInputs) Set(edit func(*cluster.Inputs), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if edit != nil {
		edit(&s.inputs)
	}
	s.err = err
}

// Inputs implements cluster.Provider.
func (s *StaticClusterInputs) Inputs(context.Context) (*cluster.Inputs, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.inputs
	return &in, s.err
}

// KubernetesVersion implements cluster.Provider.
func (s *StaticClusterInputs) KubernetesVersion(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inputs.KubernetesVersion, nil
}
