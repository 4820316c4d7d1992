package plan_test

import (
	"context"
	"os"
	"testing"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/plan"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instancetype"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

func TestMain(m *testing.M) {
	// Karpenter core's scheduler logs through controller-runtime; the
	// benchmarks and tests report what matters themselves.
	ctrllog.SetLogger(logr.Discard())
	os.Exit(m.Run())
}

// testCatalog is eastus's whole catalog and prices from an in-process azuresim.
func testCatalog(t testutil.TB) *plan.Catalog {
	t.Helper()
	_, cfg := testutil.StartAzureSim(t, nil)
	c, err := plan.NewCatalog(context.Background(), plan.CatalogOptions{
		Azure: cfg, SubscriptionID: testutil.SubscriptionID, Region: "eastus", PricesEndpoint: cfg.ARMEndpoint,
		ClusterName: testutil.ClusterName, MaxPods: instancetype.DefaultMaxPods("azure", "overlay"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// eastusCatalog is every instance type of eastus for a default NodeClass.
func eastusCatalog(t testutil.TB) []*cloudprovider.InstanceType {
	t.Helper()
	its, err := testCatalog(t).InstanceTypes.List(context.Background(), &v1beta1.AKSNodeClass{})
	if err != nil {
		t.Fatal(err)
	}
	return its
}

var _ testutil.TB = (*testing.B)(nil)
