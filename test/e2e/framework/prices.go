package framework

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/localcluster"
	"github.com/azkarpenter/azkarpenter/pkg/operator"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

// OfferingPrice is the price in USD/hour the controller's instance-type
// code gives the VM's offering (size, zone, capacity type) for the
// NodeClass: the same providers the controller runs, on the same azuresim.
func (e *Environment) OfferingPrice(ctx context.Context, nodeClass string, vm azuresim.VMState) (float64, error) {
	opts := testutil.Options(e.Azure)
	opts.ClusterName, opts.SubscriptionID, opts.ResourceGroup = localcluster.ClusterName, localcluster.SubscriptionID, localcluster.ResourceGroup
	opts.Location, opts.VNETSubnetID = localcluster.Location, localcluster.SubnetID()
	providers, err := operator.NewProviders(ctx, opts, e.Client, testutil.ClusterInputs(), clock.RealClock{})
	if err != nil {
		return 0, err
	}
	var nc v1beta1.AKSNodeClass
	if err := e.Client.Get(ctx, keyOf(nodeClass), &nc); err != nil {
		return 0, err
	}
	its, err := providers.InstanceTypes.List(ctx, &nc)
	if err != nil {
		return 0, err
	}
	zone := v1beta1.ZoneLabel(vm.Location, vm.Zone)
	for _, it := range its {
		if it.Name != vm.Size {
			continue
		}
		for _, o := range it.Offerings {
			if o.Zone() == zone && o.CapacityType() == vm.CapacityType {
				return o.Price, nil
			}
		}
	}
	return 0, fmt.Errorf("no offering of %s in %s (%s) for AKSNodeClass %s", vm.Size, zone, vm.CapacityType, nodeClass)
}

// RetailPrices returns the on-demand Linux and Windows prices of a size in
// the local cluster's region, as azuresim's Retail Prices API serves them.
func (e *Environment) RetailPrices(ctx context.Context, size string) (linux, windows float64, err error) {
	rows, err := e.Sim.RetailPrices(ctx, fmt.Sprintf("armRegionName eq '%s' and armSkuName eq '%s' and priceType eq 'Consumption'", localcluster.Location, size))
	if err != nil {
		return 0, 0, err
	}
	for _, r := range rows {
		if strings.HasSuffix(r.SkuName, " Spot") || strings.HasSuffix(r.SkuName, " Low Priority") {
			continue
		}
		if strings.HasSuffix(r.ProductName, " Windows") {
			windows = r.RetailPrice
		} else {
			linux = r.RetailPrice
		}
	}
	if linux == 0 || windows == 0 {
		return linux, windows, fmt.Errorf("%s: Linux $%v/h, Windows $%v/h in %d rows", size, linux, windows, len(rows))
	}
	return linux, windows, nil
}

func keyOf(name string) client.ObjectKey { return client.ObjectKey{Name: name} }
