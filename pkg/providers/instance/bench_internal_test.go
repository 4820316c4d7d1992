package instance

import (
	"context"
	"sort"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instancetype"
	"github.com/azkarpenter/azkarpenter/pkg/providers/offerings"
	"github.com/azkarpenter/azkarpenter/pkg/providers/pricing"
	"github.com/azkarpenter/azkarpenter/pkg/providers/quota"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

// BenchmarkChooseOffering picks the offering a VM is created on, as Create
// does for every NodeClaim: core hands over up to 60 instance types (the
// cheapest that fit), any zone, spot or on-demand.
func BenchmarkChooseOffering(b *testing.B) {
	ctx := context.Background()
	_, cfg := testutil.StartAzureSim(b, nil)
	clients, err := azure.NewClients(cfg, testutil.SubscriptionID)
	if err != nil {
		b.Fatal(err)
	}
	clk := clock.RealClock{}
	skus := sku.NewDefaultProvider(clients.Compute.NewResourceSKUsClient(), "eastus", clk)
	catalog, err := skus.Catalog(ctx)
	if err != nil {
		b.Fatal(err)
	}
	prices, err := pricing.NewDefaultProvider(ctx, pricing.Options{Region: "eastus", Endpoint: cfg.ARMEndpoint, ClientOptions: policy.ClientOptions{Transport: clients.HTTPClient}})
	if err != nil {
		b.Fatal(err)
	}
	if err := prices.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	unavailable := offerings.NewCache(clk)
	its, err := instancetype.NewDefaultProvider(instancetype.Options{Region: "eastus", ClusterName: "c", DefaultMaxPods: 250}, skus, prices, unavailable,
		quota.NewDefaultProvider(clients.Compute.NewUsageClient(), "eastus", clk), clk).List(ctx, &v1beta1.AKSNodeClass{})
	if err != nil {
		b.Fatal(err)
	}
	cheapest := func(it *cloudprovider.InstanceType) float64 { return it.Offerings.Available().Cheapest().Price }
	sort.Slice(its, func(i, j int) bool { return cheapest(its[i]) < cheapest(its[j]) })
	its = its[:60]
	names := make([]string, len(its))
	for i, it := range its {
		names[i] = it.Name
	}
	claim := &karpv1.NodeClaim{Spec: karpv1.NodeClaimSpec{Requirements: []karpv1.NodeSelectorRequirementWithMinValues{
		{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: names},
		{Key: karpv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{karpv1.CapacityTypeSpot, karpv1.CapacityTypeOnDemand}},
	}}}
	p := &DefaultProvider{unavailable: unavailable}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := p.chooseOffering(claim, its, catalog); err != nil {
			b.Fatal(err)
		}
	}
}
