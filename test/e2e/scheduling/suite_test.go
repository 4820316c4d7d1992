//go:build e2e

// Package scheduling checks where pods land: mixed sizes, selection on the
// Azure well-known labels, spread and anti-affinity, NodePool labels,
// taints and NodeClass tags, the system surge pool, Windows, GPU and Arm
// sizes, OS disks, and input no size can serve. Every spec asserts on the
// cluster and on azuresim's VMs.
package scheduling

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

var env *framework.Environment

func TestScheduling(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Scheduling")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	var err error
	// 50x faster than Azure: a VM takes about 0.7s to provision.
	env, err = framework.Start(ctx, framework.Options{Name: "scheduling", TimeScale: 0.02, Log: GinkgoWriter})
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
