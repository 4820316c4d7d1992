package v1beta1_test

import (
	"context"
	"testing"

	. "github.com/onsi/ginkgo/v2"

	"github.com/azkarpenter/azkarpenter/pkg/test/environment"
)

// The validation suite runs against a real kube-apiserver (envtest) with the
// generated CRDs installed, so every CEL rule, default and schema bound is
// exercised exactly as a user's kubectl apply would. Its specs create only
// objects of their own names, so they run in random order without a Reset
// between them (which would double the suite's time).
var (
	ctx context.Context
	env *environment.Environment
)

func TestAPIs(t *testing.T) {
	environment.RunSuite(t, "APIs")
}

var _ = BeforeSuite(func() {
	ctx = context.Background()
	env = environment.New(ctx, environment.WithoutAzure())
})

var _ = AfterSuite(func() { env.Stop() })
