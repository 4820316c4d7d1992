package plan

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"k8s.io/utils/clock"

	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instancetype"
	"github.com/azkarpenter/azkarpenter/pkg/providers/offerings"
	"github.com/azkarpenter/azkarpenter/pkg/providers/pricing"
	"github.com/azkarpenter/azkarpenter/pkg/providers/quota"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
)

// CatalogOptions say where a region's catalog and prices come from: Azure or
// azuresim, reached exactly as the controller reaches them.
type CatalogOptions struct {
	Azure          azure.Config
	SubscriptionID string
	Region         string
	// PricesEndpoint is the Retail Prices API (pricing.DefaultEndpoint when empty).
	PricesEndpoint string
	ClusterName    string
	// MaxPods is the cluster's default pods per node (instancetype.DefaultMaxPods).
	MaxPods int32
	// Warn receives non-fatal problems (prices served from the embedded
	// snapshot); nil drops them.
	Warn func(format string, args ...any)
}

// Catalog is the instance-type provider the controller would build, with the
// prices it reads.
type Catalog struct {
	Region        string
	InstanceTypes *instancetype.DefaultProvider
	Prices        *pricing.DefaultProvider
	// SKUs is the region's VM size catalog the instance types are built from.
	SKUs *sku.DefaultProvider
	// ContainerPrices are the region's Azure Container Instances prices
	// (unknown rates when the Retail Prices API did not give them).
	ContainerPrices pricing.ContainerPrices
}

// NewCatalog builds the providers the controller's operator builds (SKU
// catalog, Retail Prices, quota, an empty unavailable-offerings cache) and
// loads the region's prices once.
func NewCatalog(ctx context.Context, o CatalogOptions) (*Catalog, error) {
	clients, err := azure.NewClients(o.Azure, o.SubscriptionID)
	if err != nil {
		return nil, err
	}
	prices, err := pricing.NewDefaultProvider(ctx, pricing.Options{
		Region:        o.Region,
		Endpoint:      o.PricesEndpoint,
		ClientOptions: policy.ClientOptions{Transport: clients.HTTPClient},
	})
	if err != nil {
		return nil, err
	}
	if err := prices.Refresh(ctx); err != nil && o.Warn != nil {
		o.Warn("using the embedded price snapshot: %v", err)
	}
	containerPrices := pricing.ContainerPrices{Region: o.Region}
	if pc, err := pricing.NewClient(o.PricesEndpoint, &policy.ClientOptions{Transport: clients.HTTPClient}); err != nil {
		return nil, err
	} else if items, err := pc.ListContainerInstancePrices(ctx, o.Region); err != nil {
		if o.Warn != nil {
			o.Warn("no Container Instances prices, so no ACI cost: %v", err)
		}
	} else {
		containerPrices = pricing.BuildContainerPrices(items, o.Region)
	}
	clk := clock.RealClock{}
	skus := sku.NewDefaultProvider(clients.Compute.NewResourceSKUsClient(), o.Region, clk)
	if _, err := skus.Catalog(ctx); err != nil {
		return nil, fmt.Errorf("reading the %s VM catalog: %w", o.Region, err)
	}
	q := quota.NewDefaultProvider(clients.Compute.NewUsageClient(), o.Region, clk)
	provider := instancetype.NewDefaultProvider(instancetype.Options{
		Region:         o.Region,
		ClusterName:    o.ClusterName,
		DefaultMaxPods: o.MaxPods,
	}, skus, prices, offerings.NewCache(clk), q, clk)
	return &Catalog{Region: o.Region, InstanceTypes: provider, Prices: prices, SKUs: skus, ContainerPrices: containerPrices}, nil
}
