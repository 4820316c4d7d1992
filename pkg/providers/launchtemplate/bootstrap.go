package launchtemplate

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// BootstrapAPIVersion is version 1 of the node bootstrap contract
// (docs/bootstrap.md).
const BootstrapAPIVersion = "azkarpenter.azure.com/bootstrap/v1"

// BootstrapKind is the document's kind.
const BootstrapKind = "NodeBootstrap"

// MaxCustomDataLength is ARM's limit on osProfile.customData (base64 characters).
const MaxCustomDataLength = 87380

// Bootstrap is the node bootstrap document (docs/bootstrap.md).
type Bootstrap struct {
	APIVersion        string            `json:"apiVersion"`
	Kind              string            `json:"kind,omitempty"`
	ClusterName       string            `json:"clusterName"`
	APIServerEndpoint string            `json:"apiServerEndpoint,omitempty"`
	KubernetesVersion string            `json:"kubernetesVersion,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Taints            []corev1.Taint    `json:"taints,omitempty"`
	StartupTaints     []corev1.Taint    `json:"startupTaints,omitempty"`
	Kubelet           Kubelet           `json:"kubelet"`
}

// Kubelet is the kubelet part of the bootstrap document.
type Kubelet struct {
	MaxPods        int32             `json:"maxPods"`
	KubeReserved   map[string]string `json:"kubeReserved,omitempty"`
	SystemReserved map[string]string `json:"systemReserved,omitempty"`
	EvictionHard   map[string]string `json:"evictionHard,omitempty"`
	ClusterDNS     []string          `json:"clusterDNS,omitempty"`
}

// Encode returns the document as osProfile.customData: standard base64 of
// its JSON.
func (b *Bootstrap) Encode() (string, error) {
	raw, err := json.Marshal(b)
	if err != nil {
		return "", err
	}
	s := base64.StdEncoding.EncodeToString(raw)
	if len(s) > MaxCustomDataLength {
		return "", fmt.Errorf("bootstrap data is %d base64 characters, over ARM's limit of %d: too many labels or taints", len(s), MaxCustomDataLength)
	}
	return s, nil
}

// DecodeBootstrap parses osProfile.customData back into a document,
// rejecting unknown fields as consumers do.
func DecodeBootstrap(customData string) (*Bootstrap, error) {
	raw, err := base64.StdEncoding.DecodeString(customData)
	if err != nil {
		return nil, fmt.Errorf("customData is not base64: %w", err)
	}
	var b Bootstrap
	if err := strictUnmarshal(raw, &b); err != nil {
		return nil, err
	}
	if b.APIVersion != BootstrapAPIVersion {
		return nil, fmt.Errorf("bootstrap apiVersion %q, want %q", b.APIVersion, BootstrapAPIVersion)
	}
	return &b, nil
}
