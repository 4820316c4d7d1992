package nodeagent

import (
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// APIVersion identifies version 1 of the bootstrap contract (docs/bootstrap.md).
const APIVersion = "azkarpenter.azure.com/bootstrap/v1"

// Bootstrap is the node bootstrap document the provider writes into a VM's
// osProfile.customData (base64 of this JSON) and a node reads at boot.
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

// Kubelet carries the kubelet settings that shape the node's allocatable.
type Kubelet struct {
	MaxPods        int32             `json:"maxPods"`
	KubeReserved   map[string]string `json:"kubeReserved,omitempty"`
	SystemReserved map[string]string `json:"systemReserved,omitempty"`
	// EvictionHard uses kubelet signal names: memory.available,
	// nodefs.available (quantity or percentage), …
	EvictionHard map[string]string `json:"evictionHard,omitempty"`
	ClusterDNS   []string          `json:"clusterDNS,omitempty"`
}

// ParseBootstrap decodes and validates a bootstrap document.
func ParseBootstrap(data []byte) (*Bootstrap, error) {
	var b Bootstrap
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	if b.APIVersion != APIVersion {
		return nil, fmt.Errorf("bootstrap: apiVersion %q, want %q", b.APIVersion, APIVersion)
	}
	if b.ClusterName == "" {
		return nil, fmt.Errorf("bootstrap: clusterName is required")
	}
	if b.Kubelet.MaxPods < 10 || b.Kubelet.MaxPods > 250 {
		return nil, fmt.Errorf("bootstrap: kubelet.maxPods %d outside 10..250", b.Kubelet.MaxPods)
	}
	for _, m := range []map[string]string{b.Kubelet.KubeReserved, b.Kubelet.SystemReserved} {
		for k, v := range m {
			if _, err := resource.ParseQuantity(v); err != nil {
				return nil, fmt.Errorf("bootstrap: reserved %s=%q: %w", k, v, err)
			}
		}
	}
	for k, v := range b.Kubelet.EvictionHard {
		if strings.HasSuffix(v, "%") {
			continue
		}
		if _, err := resource.ParseQuantity(v); err != nil {
			return nil, fmt.Errorf("bootstrap: evictionHard %s=%q: %w", k, v, err)
		}
	}
	for _, t := range append(append([]corev1.Taint{}, b.Taints...), b.StartupTaints...) {
		switch t.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			return nil, fmt.Errorf("bootstrap: taint %s has invalid effect %q", t.Key, t.Effect)
		}
		if t.Key == "" {
			return nil, fmt.Errorf("bootstrap: taint with empty key")
		}
	}
	return &b, nil
}
