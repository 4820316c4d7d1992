//go:build e2e

// Package fallback checks that launches find capacity when Azure refuses:
// spot over on-demand and back, other zones and families, a full subnet,
// and a restart that must adopt the VM an earlier attempt created.
package fallback

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

var env *framework.Environment

func TestFallback(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Fallback")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	var err error
	// 50x faster than Azure: a VM takes about 0.7s to provision.
	env, err = framework.Start(ctx, framework.Options{Name: "fallback", TimeScale: 0.02, Log: GinkgoWriter})
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
