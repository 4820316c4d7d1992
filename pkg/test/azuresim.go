package test

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
)

// Subscription and resource group the provider suites use in azuresim. The
// group is named as AKS names node resource groups (MC_<rg>_<cluster>_<region>,
// upper-case prefix), so every suite meets the lower-cased resource group of
// the providerID.
const (
	SubscriptionID = "00000000-0000-0000-0000-00000000a2c0"
	ResourceGroup  = "MC_azkarpenter_test_eastus"
)

// TB is the part of testing.TB the helpers use; ginkgo's GinkgoT() has it too.
type TB interface {
	Helper()
	Fatal(args ...any)
	TempDir() string
	Cleanup(func())
}

// StartAzureSim starts an in-process azuresim over HTTPS and returns it with
// the client configuration a controller would use to reach it: endpoint
// override, the simulator's CA as the CA bundle, and a static token. The
// server stops when the test ends. edit, when given, changes the fault model.
func StartAzureSim(t TB, edit func(*azuresim.Config)) (*azuresim.Server, azure.Config) {
	t.Helper()
	return StartAzureSimWith(t, azuresim.Options{}, edit)
}

// StartAzureSimWith is StartAzureSim with server options (page size, seed);
// the certificate directory, logger and fault model are set here.
func StartAzureSimWith(t TB, opts azuresim.Options, edit func(*azuresim.Config)) (*azuresim.Server, azure.Config) {
	t.Helper()
	cfg := azuresim.DefaultConfig()
	// Simulated time runs 1000x faster so long-running operations finish in
	// milliseconds.
	cfg.TimeScale = 0.001
	if edit != nil {
		edit(&cfg)
	}
	certDir := t.TempDir()
	opts.Config, opts.CertDir, opts.Logger = &cfg, certDir, slog.New(slog.NewTextHandler(io.Discard, nil))
	if opts.Seed == 0 {
		opts.Seed = 7
	}
	srv, err := azuresim.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	// Tokens reach the controller's options through a file only.
	tokenFile := filepath.Join(certDir, "token")
	if err := os.WriteFile(tokenFile, []byte("test-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, azure.Config{
		ARMEndpoint:     srv.URL(),
		CABundle:        filepath.Join(certDir, "ca.crt"),
		Credential:      azure.CredentialStaticToken,
		StaticTokenFile: tokenFile,
		UserAgent:       "azkarpenter-test",
		// Same policy shape as production, with delays short enough for tests.
		Retry: policy.RetryOptions{MaxRetries: 3, RetryDelay: 5 * time.Millisecond, MaxRetryDelay: 50 * time.Millisecond, TryTimeout: 30 * time.Second},
	}
}
