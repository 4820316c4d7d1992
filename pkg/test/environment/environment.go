// Package environment is the shared test environment of the envtest and
// azuresim suites, after the AWS provider's pkg/test.Environment: a real
// kube-apiserver with the project's CRDs (karpenter core's envtest
// environment), an in-process azuresim with the node subnet, and the
// providers built on both as the controller builds them. Reset, called
// before every spec, gives each spec the same start whatever ran before it,
// so the suites can run their specs in random order.
package environment

import (
	"context"
	"testing"

	"github.com/awslabs/operatorpkg/option"
	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/apis/v1alpha1"
	coretest "sigs.k8s.io/karpenter/pkg/test"
	"sigs.k8s.io/karpenter/pkg/test/expectations"

	"github.com/azkarpenter/azkarpenter/pkg/apis/crds"
	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/operator"
	"github.com/azkarpenter/azkarpenter/pkg/operator/options"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

// Environment is a suite's kube-apiserver and, unless WithoutAzure, its
// azuresim and providers.
type Environment struct {
	// Kube is karpenter core's envtest environment: Client, Config.
	*coretest.Environment

	// Sim is the simulator; Azure reaches it as the controller would.
	Sim   *azuresim.Server
	Azure azure.Config
	// ClusterInputs are the cluster's inputs for new nodes, fixed unless
	// WithClusterInputs made the providers read them from the API server.
	ClusterInputs *testutil.StaticClusterInputs
	// Cluster is what the providers read the cluster's inputs from.
	Cluster cluster.Provider
	// Providers are built anew on every Reset: every cache (unavailable
	// offerings, SKUs, quota, images, subnet marks) starts empty.
	Providers *operator.Providers

	opts Options
}

// Options configure an Environment.
type Options struct {
	fieldIndexers []func(cache.Cache) error
	noAzure       bool
	simConfig     func(*azuresim.Config)
	clusterInputs func(*coretest.Environment) cluster.Provider
	controllerOpt func(*options.Options)
}

// WithFieldIndexers adds the client's field indexers (core's
// NodeClaimProviderIDFieldIndexer and the like).
func WithFieldIndexers(indexers ...func(cache.Cache) error) option.Function[Options] {
	return func(o *Options) { o.fieldIndexers = append(o.fieldIndexers, indexers...) }
}

// WithoutAzure leaves azuresim and the providers out: suites of the API and
// of controllers that make no Azure call.
func WithoutAzure() option.Function[Options] {
	return func(o *Options) { o.noAzure = true }
}

// WithSimConfig edits the simulator's start-up fault model, which Reset
// restores.
func WithSimConfig(edit func(*azuresim.Config)) option.Function[Options] {
	return func(o *Options) { o.simConfig = edit }
}

// WithClusterInputs builds the providers on the cluster inputs that inputs
// returns (made again on every Reset), instead of fixed ones.
func WithClusterInputs(inputs func(*coretest.Environment) cluster.Provider) option.Function[Options] {
	return func(o *Options) { o.clusterInputs = inputs }
}

// WithControllerOptions edits the controller options the providers are
// built from.
func WithControllerOptions(edit func(*options.Options)) option.Function[Options] {
	return func(o *Options) { o.controllerOpt = edit }
}

// RunSuite runs a Ginkgo suite of envtest specs against the local control
// plane in bin/, in random order: a spec that depends on another's
// leftovers fails here rather than by chance.
func RunSuite(t *testing.T, description string) {
	t.Helper()
	if err := testutil.UseLocalControlPlane(); err != nil {
		t.Fatal(err)
	}
	gomega.RegisterFailHandler(ginkgo.Fail)
	suiteConfig, reporterConfig := ginkgo.GinkgoConfiguration()
	suiteConfig.RandomizeAllSpecs = true
	ginkgo.RunSpecs(t, description, suiteConfig, reporterConfig)
}

// New starts the environment; call it from BeforeSuite, and Stop from
// AfterSuite.
func New(ctx context.Context, opts ...option.Function[Options]) *Environment {
	ginkgo.GinkgoHelper()
	o := option.Resolve(opts...)
	env := &Environment{opts: *o}
	env.Environment = coretest.NewEnvironment(coretest.WithCRDs(crds.All()...), coretest.WithFieldIndexers(o.fieldIndexers...))
	if o.noAzure {
		return env
	}
	env.Sim, env.Azure = testutil.StartAzureSim(ginkgo.GinkgoT(), o.simConfig)
	env.reset(ctx)
	return env
}

// Reset gives the next spec a fresh start: launches still followed in the
// background end, every NodePool, NodeClaim, Node, pod and AKSNodeClass is
// deleted, the simulator drops every resource and restores its start-up
// fault model (errors, capacity, quota, latency), the node subnet is made
// again, and the providers are rebuilt with empty caches. Call it from
// BeforeEach.
func (env *Environment) Reset(ctx context.Context) {
	ginkgo.GinkgoHelper()
	if env.Providers != nil {
		env.Providers.CloudProvider.WaitForLaunches()
	}
	env.cleanUp(ctx)
	if env.Sim == nil {
		return
	}
	env.Sim.Reset()
	env.reset(ctx)
}

// cleanedUp are the kinds the suites create, in the order they go.
var cleanedUp = []func() client.ObjectList{
	func() client.ObjectList { return &corev1.PodList{} },
	func() client.ObjectList { return &karpv1.NodePoolList{} },
	func() client.ObjectList { return &karpv1.NodeClaimList{} },
	func() client.ObjectList { return &corev1.NodeList{} },
	func() client.ObjectList { return &v1beta1.AKSNodeClassList{} },
	func() client.ObjectList { return &v1alpha1.NodeOverlayList{} },
}

// cleanUp deletes every object of the kinds the suites create, finalizers
// first, and waits until they are gone. It lists before deleting, which
// costs a few milliseconds where a spec left nothing (core's
// ExpectCleanedUp deletes every kind in every namespace, which costs the
// API suite's hundred specs most of a minute).
func (env *Environment) cleanUp(ctx context.Context) {
	ginkgo.GinkgoHelper()
	for _, newList := range cleanedUp {
		list := newList()
		gomega.Expect(env.Client.List(ctx, list)).To(gomega.Succeed())
		if meta.LenList(list) == 0 {
			continue
		}
		expectations.ExpectFinalizersRemovedFromList(ctx, env.Client, list)
		gomega.Expect(meta.EachListItem(list, func(o runtime.Object) error {
			return client.IgnoreNotFound(env.Client.Delete(ctx, o.(client.Object), client.GracePeriodSeconds(0)))
		})).To(gomega.Succeed())
		gomega.Eventually(func(g gomega.Gomega) {
			list := newList()
			g.Expect(env.Client.List(ctx, list)).To(gomega.Succeed())
			g.Expect(meta.LenList(list)).To(gomega.BeZero())
		}).Should(gomega.Succeed())
	}
}

func (env *Environment) reset(ctx context.Context) {
	ginkgo.GinkgoHelper()
	gomega.Expect(testutil.CreateSubnet(ctx, env.Azure)).To(gomega.Succeed())
	env.ClusterInputs = testutil.ClusterInputs()
	env.Cluster = env.ClusterInputs
	if env.opts.clusterInputs != nil {
		env.Cluster = env.opts.clusterInputs(env.Environment)
	}
	var err error
	env.Providers, err = operator.NewProviders(ctx, env.ControllerOptions(), env.Client, env.Cluster, clock.RealClock{})
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
}

// ControllerOptions are the controller options the providers are built
// from: they reach the simulator.
func (env *Environment) ControllerOptions() *options.Options {
	opts := testutil.Options(env.Azure)
	if env.opts.controllerOpt != nil {
		env.opts.controllerOpt(opts)
	}
	return opts
}

// NewProviders builds another set of providers on the same simulator and
// API server, with empty caches: a restarted controller.
func (env *Environment) NewProviders(ctx context.Context, opts *options.Options) *operator.Providers {
	ginkgo.GinkgoHelper()
	p, err := operator.NewProviders(ctx, opts, env.Client, testutil.ClusterInputs(), clock.RealClock{})
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	return p
}

// Stop stops the API server (the simulator stops with the suite).
func (env *Environment) Stop() {
	ginkgo.GinkgoHelper()
	if env != nil && env.Environment != nil {
		gomega.Expect(env.Environment.Stop()).To(gomega.Succeed())
	}
}
