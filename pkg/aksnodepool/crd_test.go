package aksnodepool_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/karpenter/pkg/test"
	"sigs.k8s.io/yaml"

	"github.com/azkarpenter/azkarpenter/pkg/aksnodepool"
	"github.com/azkarpenter/azkarpenter/pkg/apis/crds"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

// Every golden file applies to an API server with the project's CRDs, their
// CEL rules included, as the CLI applies it: server-side, with its field
// manager.
func TestGoldenAppliesToCRDs(t *testing.T) {
	if err := testutil.UseLocalControlPlane(); err != nil {
		t.Fatal(err)
	}
	env := test.NewEnvironment(test.WithCRDs(crds.All()...))
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(data), "\n---\n") {
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(aksnodepool.FieldManager), client.ForceOwnership, client.DryRunAll); err != nil {
				t.Errorf("%s: %s %s: %v", f, u.GetKind(), u.GetName(), err)
			}
		}
	}
}
