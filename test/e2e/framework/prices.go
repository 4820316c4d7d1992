package framework

import (
	"context"
	"fmt"

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
	return e.Sim.OnDemandPrices(ctx, localcluster.Location, size)
}

func keyOf(name string) client.ObjectKey { return client.ObjectKey{Name: name} }
