package launchtemplate_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
)

// The kubelet refuses to start with kubernetes.io labels it may not set;
// karpenter core puts those on the Node from the NodeClaim instead.
func TestKubeletLabels(t *testing.T) {
	spec, err := provider().Build(context.Background(), input(karpv1.CapacityTypeOnDemand, "eastus-1", func(_ *v1beta1.AKSNodeClass, c *karpv1.NodeClaim) {
		c.Labels["example.kubernetes.io/owner"] = "team-a"
		c.Labels["node-role.kubernetes.io/worker"] = ""
		c.Labels["node.kubernetes.io/pool-tier"] = "gold"
	}))
	if err != nil {
		t.Fatal(err)
	}
	kubelet := spec.Bootstrap.Labels
	for _, k := range []string{"example.kubernetes.io/owner", "node-role.kubernetes.io/worker"} {
		if _, ok := kubelet[k]; ok {
			t.Errorf("kubelet would refuse --node-labels %s", k)
		}
		if _, ok := spec.Labels[k]; !ok {
			t.Errorf("node label %s missing from the launch spec", k)
		}
	}
	for _, k := range []string{"node.kubernetes.io/pool-tier", corev1.LabelInstanceTypeStable, corev1.LabelTopologyZone, karpv1.NodePoolLabelKey} {
		if _, ok := kubelet[k]; !ok {
			t.Errorf("kubelet label %s dropped", k)
		}
	}
}

// A pod selecting kubernetes.azure.com/mode=system reaches the NodeClaim as
// a requirement only (core keeps well-known labels out of NodeClaim
// labels); the node must still be labelled system, or the pod never
// schedules and core launches for it again and again.
func TestModeFromRequirements(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		want   string
	}{
		{"pod asks for system", []string{v1beta1.ModeSystem}, v1beta1.ModeSystem},
		{"either mode", []string{v1beta1.ModeSystem, v1beta1.ModeUser}, v1beta1.ModeUser},
		{"no requirement", nil, v1beta1.ModeUser},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := provider().Build(context.Background(), input(karpv1.CapacityTypeOnDemand, "eastus-1", func(_ *v1beta1.AKSNodeClass, c *karpv1.NodeClaim) {
				if tc.values != nil {
					c.Spec.Requirements = append(c.Spec.Requirements, karpv1.NodeSelectorRequirementWithMinValues{Key: v1beta1.AKSLabelMode, Operator: corev1.NodeSelectorOpIn, Values: tc.values})
				}
			}))
			if err != nil {
				t.Fatal(err)
			}
			if got := spec.Labels[v1beta1.AKSLabelMode]; got != tc.want {
				t.Errorf("mode label %q, want %q", got, tc.want)
			}
		})
	}
}
