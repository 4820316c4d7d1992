package launchtemplate_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/providers/launchtemplate"
)

func TestUltraSSDRequested(t *testing.T) {
	claim := func(op corev1.NodeSelectorOperator, values ...string) *karpv1.NodeClaim {
		c := &karpv1.NodeClaim{}
		if op != "" {
			c.Spec.Requirements = []karpv1.NodeSelectorRequirementWithMinValues{{Key: v1beta1.LabelSKUStorageUltraSSD, Operator: op, Values: values}}
		}
		return c
	}
	for _, tc := range []struct {
		name  string
		claim *karpv1.NodeClaim
		want  bool
	}{
		{"no requirement", claim(""), false},
		{"In true", claim(corev1.NodeSelectorOpIn, "true"), true},
		{"NotIn false", claim(corev1.NodeSelectorOpNotIn, "false"), true},
		{"In false", claim(corev1.NodeSelectorOpIn, "false"), false},
		{"either", claim(corev1.NodeSelectorOpIn, "true", "false"), false},
		{"Exists", claim(corev1.NodeSelectorOpExists), false},
	} {
		if got := launchtemplate.UltraSSDRequested(tc.claim); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
