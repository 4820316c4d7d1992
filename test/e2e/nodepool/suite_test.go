//go:build e2e

// Package nodepool runs the AKS node-pool article's commands through
// `azkarpenter nodepool` against a local cluster and azuresim, and checks the
// nodes that result: sizes, count, capacity type, OS disk, taints, labels, OS.
package nodepool

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/azkarpenter/azkarpenter/pkg/localcluster"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

var (
	env *framework.Environment
	cli string
)

func TestNodePool(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "NodePool")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	root, err := testutil.RepoRoot()
	Expect(err).NotTo(HaveOccurred())
	cli = filepath.Join(GinkgoT().TempDir(), "azkarpenter")
	build := exec.CommandContext(ctx, "go", "build", "-o", cli, "./cmd/azkarpenter")
	build.Dir = root
	out, err := build.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), string(out))
	// 50x faster than Azure: a VM takes about 0.7s to provision.
	env, err = framework.Start(ctx, framework.Options{Name: "nodepool", TimeScale: 0.02, Log: GinkgoWriter})
	Expect(err).NotTo(HaveOccurred())
}, NodeTimeout(5*time.Minute))

var _ = AfterSuite(func() {
	if env != nil {
		env.Stop()
	}
})

var _ = AfterEach(func() {
	if CurrentSpecReport().Failed() && env != nil {
		env.Dump(context.Background(), GinkgoWriter)
	}
})

// nodepool runs `azkarpenter nodepool args...` against the local cluster and
// azuresim's eastus, as a user with the region's variables set would.
func nodepool(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, cli, append([]string{"nodepool"}, args...)...)
	cmd.Env = append(os.Environ(),
		"KUBECONFIG="+env.Cluster.Kubeconfig,
		"AZURE_LOCATION="+localcluster.Location,
		"AZURE_SUBSCRIPTION_ID="+localcluster.SubscriptionID,
		"AZURE_ARM_ENDPOINT="+env.Azure.ARMEndpoint,
		"AZURE_PRICES_ENDPOINT="+env.Azure.ARMEndpoint,
		"AZURE_CA_BUNDLE="+env.Azure.CABundle,
		"AZURE_CREDENTIAL_MODE=static-token",
		"AZURE_STATIC_TOKEN_FILE="+env.Azure.StaticTokenFile,
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	GinkgoWriter.Printf("$ azkarpenter nodepool %s\n%s", strings.Join(args, " "), out.String())
	return out.String(), err
}

// article is an az aks nodepool command of the article, as typed, with
// `az aks nodepool` replaced by `azkarpenter nodepool`.
func article(ctx context.Context, cmd string) (string, error) {
	return nodepool(ctx, strings.Fields(strings.TrimPrefix(cmd, "az aks nodepool "))...)
}
