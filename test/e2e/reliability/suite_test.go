//go:build e2e

// Package reliability checks that nothing is lost or leaked: garbage
// collection of what no NodeClaim owns, ARM throttling and 5xx storms, a
// controller killed during a scale-up, and a create that outlives its NodeClaim.
package reliability

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

var env *framework.Environment

func TestReliability(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Reliability")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	var err error
	// 50x faster than Azure: a VM takes about 0.7s to provision.
	env, err = framework.Start(ctx, framework.Options{Name: "reliability", TimeScale: 0.02, Log: GinkgoWriter})
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
