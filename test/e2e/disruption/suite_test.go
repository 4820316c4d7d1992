//go:build e2e

// Package disruption checks what karpenter core decides through the provider:
// consolidation, drift under a budget, budget schedules, expiration, limits,
// weights and spot eviction, on the cluster and on azuresim's VMs.
package disruption

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

var env *framework.Environment

func TestDisruption(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Disruption")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	var err error
	// 50x faster than Azure: a VM takes about 0.7s to provision.
	env, err = framework.Start(ctx, framework.Options{Name: "disruption", TimeScale: 0.02, Log: GinkgoWriter})
	Expect(err).NotTo(HaveOccurred())
	Expect(env.Client.Create(ctx, framework.NodeClass("default"))).To(Succeed())
}, NodeTimeout(5*time.Minute))

var _ = AfterSuite(func() {
	if env != nil {
		env.Stop()
	}
})

// AfterEach runs before the spec's DeferCleanup, so the dump shows the
// fleet as the failure left it.
var _ = AfterEach(func() {
	if CurrentSpecReport().Failed() && env != nil {
		env.Dump(context.Background(), GinkgoWriter)
	}
})
