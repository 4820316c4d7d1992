package v1beta1_test

import (
	"context"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/karpenter/pkg/test"

	"github.com/azkarpenter/azkarpenter/pkg/apis/crds"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

// The validation suite runs against a real kube-apiserver (envtest) with the
// generated CRDs installed, so every CEL rule, default and schema bound is
// exercised exactly as a user's kubectl apply would.
var (
	ctx context.Context
	env *test.Environment
)

func TestAPIs(t *testing.T) {
	if err := testutil.UseLocalControlPlane(); err != nil {
		t.Fatal(err)
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "APIs")
}

var _ = BeforeSuite(func() {
	ctx = context.Background()
	env = test.NewEnvironment(test.WithCRDs(crds.All()...))
})

var _ = AfterSuite(func() {
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})
