package framework

import (
	"context"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
)

// Suite gives a Ginkgo suite its local cluster: started before the first
// spec with opts (progress to GinkgoWriter unless opts.Log says otherwise),
// with an empty AKSNodeClass of each name given (the defaults NAP users
// write), and stopped after the last spec. After a failed spec, and before
// the spec's DeferCleanup undoes anything, the state that explains the
// failure is dumped. *env is set once the cluster is up. Call it at package
// level: var _ = framework.Suite(&env, ...).
func Suite(env **Environment, opts Options, nodeClasses ...string) bool {
	ginkgo.BeforeSuite(func(ctx ginkgo.SpecContext) {
		if opts.Log == nil {
			opts.Log = ginkgo.GinkgoWriter
		}
		e, err := Start(ctx, opts)
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		*env = e
		for _, name := range nodeClasses {
			gomega.Expect(e.Client.Create(ctx, NodeClass(name))).To(gomega.Succeed())
		}
	}, ginkgo.NodeTimeout(5*time.Minute))
	ginkgo.AfterSuite(func() {
		if *env != nil {
			(*env).Stop()
		}
	})
	// AfterEach runs before the spec's DeferCleanup, so the dump shows the
	// fleet as the failure left it.
	ginkgo.AfterEach(func() {
		if ginkgo.CurrentSpecReport().Failed() && *env != nil {
			(*env).Dump(context.Background(), ginkgo.GinkgoWriter)
		}
	})
	return true
}
