// Package bootstrap is the node bootstrap contract of docs/bootstrap.md: the
// document the provider writes into a VM's osProfile.customData and a node
// reads when it boots. Producer (pkg/providers/launchtemplate) and consumers
// (a node image's first-boot script; azuresim's node agent) share these types
// so the contract cannot drift between them.
package bootstrap

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// APIVersion identifies version 1 of the contract.
const APIVersion = "azkarpenter.azure.com/bootstrap/v1"

// Kind is the document's kind.
const Kind = "NodeBootstrap"

// MaxCustomDataLength is ARM's limit on customData, in base64 characters.
const MaxCustomDataLength = 87380

// Document is one node's bootstrap document.
type Document struct {
	APIVersion        string            `json:"apiVersion"`
	Kind              string            `json:"kind,omitempty"`
	ClusterName       string            `json:"clusterName"`
	APIServerEndpoint string            `json:"apiServerEndpoint,omitempty"`
	KubernetesVersion string            `json:"kubernetesVersion,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Taints            []corev1.Taint    `json:"taints,omitempty"`
	StartupTaints     []corev1.Taint    `json:"startupTaints,omitempty"`
	// WorkloadRuntime is OCIContainer (default) or KataVmIsolation.
	WorkloadRuntime string  `json:"workloadRuntime,omitempty"`
	Kubelet         Kubelet `json:"kubelet"`
}

// Kubelet is the node's kubelet configuration: the settings that shape
// allocatable (written from the provider's one overhead function) and the
// AKSNodeClass's kubelet block, with upstream KubeletConfiguration names.
type Kubelet struct {
	MaxPods        int32             `json:"maxPods"`
	KubeReserved   map[string]string `json:"kubeReserved,omitempty"`
	SystemReserved map[string]string `json:"systemReserved,omitempty"`
	// EvictionHard uses kubelet signal names: memory.available,
	// nodefs.available (quantity or percentage), …
	EvictionHard map[string]string `json:"evictionHard,omitempty"`
	ClusterDNS   []string          `json:"clusterDNS,omitempty"`

	CPUManagerPolicy            string   `json:"cpuManagerPolicy,omitempty"`
	CPUCFSQuota                 *bool    `json:"cpuCFSQuota,omitempty"`
	CPUCFSQuotaPeriod           string   `json:"cpuCFSQuotaPeriod,omitempty"`
	ImageGCHighThresholdPercent *int32   `json:"imageGCHighThresholdPercent,omitempty"`
	ImageGCLowThresholdPercent  *int32   `json:"imageGCLowThresholdPercent,omitempty"`
	TopologyManagerPolicy       string   `json:"topologyManagerPolicy,omitempty"`
	AllowedUnsafeSysctls        []string `json:"allowedUnsafeSysctls,omitempty"`
	ContainerLogMaxSize         string   `json:"containerLogMaxSize,omitempty"`
	ContainerLogMaxFiles        *int32   `json:"containerLogMaxFiles,omitempty"`
	PodPidsLimit                *int64   `json:"podPidsLimit,omitempty"`
}

// Encode returns the customData value: standard base64 of the JSON.
func (d *Document) Encode() (string, error) {
	raw, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	s := base64.StdEncoding.EncodeToString(raw)
	if len(s) > MaxCustomDataLength {
		return "", fmt.Errorf("bootstrap data is %d base64 characters, over ARM's limit of %d: too many labels or taints", len(s), MaxCustomDataLength)
	}
	return s, nil
}

// Decode parses a customData value (base64 of the JSON document).
func Decode(customData string) (*Document, error) {
	raw, err := base64.StdEncoding.DecodeString(customData)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: customData is not base64: %w", err)
	}
	return Parse(raw)
}

// Parse decodes and validates a JSON document. Unknown fields are an error:
// a consumer must not silently ignore a setting it does not understand.
func Parse(data []byte) (*Document, error) {
	var d Document
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	if d.APIVersion != APIVersion {
		return nil, fmt.Errorf("bootstrap: apiVersion %q, want %q", d.APIVersion, APIVersion)
	}
	if d.ClusterName == "" {
		return nil, fmt.Errorf("bootstrap: clusterName is required")
	}
	if d.Kubelet.MaxPods < 10 || d.Kubelet.MaxPods > 250 {
		return nil, fmt.Errorf("bootstrap: kubelet.maxPods %d outside 10..250", d.Kubelet.MaxPods)
	}
	for _, m := range []map[string]string{d.Kubelet.KubeReserved, d.Kubelet.SystemReserved} {
		for k, v := range m {
			if _, err := resource.ParseQuantity(v); err != nil {
				return nil, fmt.Errorf("bootstrap: reserved %s=%q: %w", k, v, err)
			}
		}
	}
	for k, v := range d.Kubelet.EvictionHard {
		if strings.HasSuffix(v, "%") {
			continue
		}
		if _, err := resource.ParseQuantity(v); err != nil {
			return nil, fmt.Errorf("bootstrap: evictionHard %s=%q: %w", k, v, err)
		}
	}
	for _, t := range append(append([]corev1.Taint{}, d.Taints...), d.StartupTaints...) {
		switch t.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			return nil, fmt.Errorf("bootstrap: taint %s has invalid effect %q", t.Key, t.Effect)
		}
		if t.Key == "" {
			return nil, fmt.Errorf("bootstrap: taint with empty key")
		}
	}
	switch d.WorkloadRuntime {
	case "", "OCIContainer", "KataVmIsolation":
	default:
		return nil, fmt.Errorf("bootstrap: workloadRuntime %q is not OCIContainer or KataVmIsolation", d.WorkloadRuntime)
	}
	return &d, nil
}
