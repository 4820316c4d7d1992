package launchtemplate_test

import (
	"context"
	"testing"

	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
)

// BenchmarkBuild renders a VM's launch spec: image choice, the AKS
// bootstrap custom data (kubelet flags, labels, taints, reserved
// resources) and its encoding.
func BenchmarkBuild(b *testing.B) {
	p := provider()
	in := input(karpv1.CapacityTypeOnDemand, "eastus-2", nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Build(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
