package instance_test

import (
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/providers/hostgroup"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instancetype"
)

// A NodeClass on a dedicated host group launches the sizes its hosts run,
// in the group's zone, until the hosts are full; Azure's allocation failure
// of a full group makes the offering unavailable, and so does the group's
// own account of its capacity once it is read again.
func TestDedicatedHostGroupLaunchesUntilItsHostsAreFull(t *testing.T) {
	e := newEnv(t, nil)
	groups := e.clients.Compute.NewDedicatedHostGroupsClient()
	g, err := groups.CreateOrUpdate(e.ctx, rg, "hg", armcompute.DedicatedHostGroup{
		Location: to.Ptr(region), Zones: []*string{to.Ptr("1")},
		Properties: &armcompute.DedicatedHostGroupProperties{PlatformFaultDomainCount: to.Ptr[int32](1), SupportAutomaticPlacement: to.Ptr(true)},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A Dsv3-Type3 host takes at most 32 VMs of the smallest Dsv3 size.
	hp, err := e.clients.Compute.NewDedicatedHostsClient().BeginCreateOrUpdate(e.ctx, rg, "hg", "host-1", armcompute.DedicatedHost{
		Location: to.Ptr(region), SKU: &armcompute.SKU{Name: to.Ptr("DSv3-Type3")},
		Properties: &armcompute.DedicatedHostProperties{PlatformFaultDomain: to.Ptr[int32](0)},
	}, nil)
	if err == nil {
		_, err = hp.PollUntilDone(e.ctx, lroPoll)
	}
	if err != nil {
		t.Fatal(err)
	}
	hostID := *g.ID + "/hosts/host-1"

	hosts := hostgroup.NewDefaultProvider(hostgroup.NewClientFor(e.clients.Credential, e.clients.Options), e.clock)
	itp := instancetype.NewDefaultProvider(instancetype.Options{Region: region, ClusterName: clusterName, DefaultMaxPods: 110},
		e.skus, fakePrices{}, e.cache, e.quota, e.clock).WithHostGroups(hosts)
	nc := nodeClass(func(nc *v1beta1.AKSNodeClass) { nc.Spec.DedicatedHostGroupID = g.ID })
	its, err := itp.List(e.ctx, nc)
	if err != nil {
		t.Fatal(err)
	}
	// Of the priced sizes, only D2s_v3 is of the host's series.
	if names := lo.Map(its, func(it *cloudprovider.InstanceType, _ int) string { return it.Name }); len(names) != 1 || names[0] != "Standard_D2s_v3" {
		t.Fatalf("instance types %v, want Standard_D2s_v3", names)
	}
	for _, o := range its[0].Offerings {
		if o.Zone() != "eastus-1" || o.CapacityType() != karpv1.CapacityTypeOnDemand || !o.Available {
			t.Fatalf("offering %s/%s available=%v", o.Zone(), o.CapacityType(), o.Available)
		}
	}

	claim := func() (*cloudprovider.InstanceType, error) {
		_, err := e.provider.Create(e.ctx, nc, nodeClaim([]string{"Standard_D2s_v3"}, []string{onDemand, karpv1.CapacityTypeSpot}), its)
		return its[0], err
	}
	for i := range 32 {
		if _, err := claim(); err != nil {
			t.Fatalf("VM %d: %v", i+1, err)
		}
	}
	for _, vm := range e.state().VMs {
		iv, err := e.clients.Compute.NewVirtualMachinesClient().InstanceView(e.ctx, rg, vm.Name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if lo.FromPtr(iv.AssignedHost) != hostID || vm.Zone != "1" {
			t.Fatalf("VM %s on host %q in zone %q", vm.Name, lo.FromPtr(iv.AssignedHost), vm.Zone)
		}
	}
	if _, err := claim(); !cloudprovider.IsInsufficientCapacityError(err) {
		t.Fatalf("33rd VM on a full host: %v, want insufficient capacity", err)
	}
	e.expectNoLeaks()
	its, err = itp.List(e.ctx, nc)
	if err != nil {
		t.Fatal(err)
	}
	if len(its) != 1 || len(its[0].Offerings.Available()) != 0 {
		t.Fatalf("the full group still offers %v", its[0].Offerings.Available())
	}
	// Once the allocation failure's mark lapses, the group's own account
	// (read again after its TTL) keeps the size unavailable.
	e.cache.Flush()
	e.clock.Step(hostgroup.TTL + 1)
	if its, err = itp.List(e.ctx, nc); err != nil || len(its) != 1 || len(its[0].Offerings.Available()) != 0 {
		t.Fatalf("after reading the full group: %v, %v", its, err)
	}
}
