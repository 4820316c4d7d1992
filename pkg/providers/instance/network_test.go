package instance_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instance"
	"github.com/azkarpenter/azkarpenter/pkg/providers/launchtemplate"
	"github.com/azkarpenter/azkarpenter/pkg/providers/network"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

// withNetwork makes the env's cluster a cluster of setup: AKS's network
// resources in the node resource group (load balancer, NSG, route table
// when routeTable), the provider deciding NICs from them as the controller
// does, and nodes told maxPods.
func (e *env) withNetwork(setup cluster.NetworkSetup, maxPods int32, routeTable bool) testutil.AKSNetworkIDs {
	e.t.Helper()
	ids, err := testutil.CreateAKSNetwork(e.ctx, e.clients, testutil.AKSNetwork{Location: region, ResourceGroup: rg, Number: "12345678", LoadBalancer: true, RouteTable: routeTable})
	if err != nil {
		e.t.Fatal(err)
	}
	e.opts.DefaultMaxPods = maxPods
	e.opts.Network = network.NewDefaultProviderFromClients(network.Options{SubscriptionID: sub, NodeResourceGroup: rg, Setup: setup, Clock: e.clock}, e.clients.Network)
	e.launch = launchtemplate.NewDefaultProvider(e.opts.LaunchTemplateOptions(), e.images, testutil.ClusterInputs())
	e.provider = instance.NewDefaultProviderFromClients(e.opts, e.clients, e.skus, e.launch, e.cache, e.quota)
	return ids
}

func (e *env) nic(name string) armnetwork.Interface {
	e.t.Helper()
	got, err := e.clients.Network.NewInterfacesClient().Get(e.ctx, rg, instance.NICName(name), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return got.Interface
}

// An Azure CNI node-subnet node's NIC has a primary and max pods secondary
// IP configurations, joins the cluster's pools with its primary and, in a
// VNet that is not AKS's, carries the AKS NSG; a /25 holds three such
// nodes at 30 pods, and the fourth is refused as a full subnet (the
// offering stays available, the subnet is marked) with nothing leaked.
func TestCreateNodeSubnetNICsFillTheSubnetAtMaxPodsPlusOne(t *testing.T) {
	e := newEnv(t, nil)
	e.network("10.1.0.0/25")
	var mu sync.Mutex
	var full []string
	e.opts.SubnetFull = func(id string) { mu.Lock(); full = append(full, id); mu.Unlock() }
	ids := e.withNetwork(cluster.NetworkSetupAzureCNINodeSubnet, 30, false)
	nc := nodeClass(nil)
	its := e.instanceTypes(nc)
	for i := range 3 {
		claim := nodeClaim([]string{"Standard_D2s_v5"}, []string{karpv1.CapacityTypeOnDemand})
		inst, err := e.provider.Create(e.ctx, nc, claim, its)
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		nic := e.nic(inst.Name)
		ipcs := nic.Properties.IPConfigurations
		if len(ipcs) != 31 {
			t.Fatalf("node %d's NIC has %d IP configurations, want 1 + 30 pods", i, len(ipcs))
		}
		if got := ipcs[0].Properties.LoadBalancerBackendAddressPools; len(got) != 2 || !strings.EqualFold(*got[0].ID, ids.OutboundPool) || !strings.EqualFold(*got[1].ID, ids.InboundPool) {
			t.Fatalf("primary IP configuration's pools %v, want %v", got, ids.Pools())
		}
		if len(ipcs[1].Properties.LoadBalancerBackendAddressPools) != 0 {
			t.Fatal("a pod's IP configuration joined a load balancer pool")
		}
		if nic.Properties.NetworkSecurityGroup == nil || !strings.EqualFold(*nic.Properties.NetworkSecurityGroup.ID, ids.SecurityGroup) || *nic.Properties.EnableIPForwarding {
			t.Fatalf("NIC NSG %v, IP forwarding %v: want the AKS NSG (the VNet is not AKS's) and no forwarding", nic.Properties.NetworkSecurityGroup, *nic.Properties.EnableIPForwarding)
		}
	}
	claim := nodeClaim([]string{"Standard_D2s_v5"}, []string{karpv1.CapacityTypeOnDemand})
	_, err := e.provider.Create(e.ctx, nc, claim, its)
	if !cloudprovider.IsInsufficientCapacityError(err) || !strings.Contains(err.Error(), instance.ReasonSubnetFull) || !strings.Contains(err.Error(), "does not have enough capacity for 31 IP addresses") {
		t.Fatalf("fourth node: %v, want insufficient capacity for SubnetIsFull of 31 addresses", err)
	}
	mu.Lock()
	if len(full) != 1 || !strings.EqualFold(full[0], subnetID) {
		t.Fatalf("subnets marked full: %v", full)
	}
	mu.Unlock()
	st := e.state()
	if len(st.VMs) != 3 || len(st.NICs) != 3 {
		t.Fatalf("%d VMs and %d NICs, want 3 of each", len(st.VMs), len(st.NICs))
	}
	if sn := st.Subnets[0]; sn.Used != 93 || sn.Available != 30 {
		t.Fatalf("subnet use %d, free %d; want 93 and 30", sn.Used, sn.Available)
	}
	e.expectNoLeaks()
}

// kubenet NICs forward IP; a kubenet subnet with no route table makes the
// NodeClass not Ready before anything is created.
func TestCreateKubenetNICs(t *testing.T) {
	e := newEnv(t, nil)
	ids := e.withNetwork(cluster.NetworkSetupKubenet, 110, true)
	nc := nodeClass(nil)
	its := e.instanceTypes(nc)
	_, err := e.provider.Create(e.ctx, nc, nodeClaim([]string{"Standard_D2s_v5"}, []string{karpv1.CapacityTypeOnDemand}), its)
	if !cloudprovider.IsNodeClassNotReadyError(err) || !strings.Contains(err.Error(), "route table") {
		t.Fatalf("kubenet without a route table: %v, want the NodeClass not ready naming the route table", err)
	}
	if st := e.state(); len(st.NICs) != 0 || len(st.VMs) != 0 {
		t.Fatalf("a refused launch created %d NICs and %d VMs", len(st.NICs), len(st.VMs))
	}
	poller, err := e.clients.Network.NewSubnetsClient().BeginCreateOrUpdate(e.ctx, rg, "vnet", "nodes", armnetwork.Subnet{Properties: &armnetwork.SubnetPropertiesFormat{
		AddressPrefix: to.Ptr("10.1.0.0/24"), RouteTable: &armnetwork.RouteTable{ID: to.Ptr(ids.RouteTable)}}}, nil)
	if err == nil {
		_, err = poller.PollUntilDone(e.ctx, lroPoll)
	}
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Step(network.DefaultRefresh)
	inst, err := e.provider.Create(e.ctx, nc, nodeClaim([]string{"Standard_D2s_v5"}, []string{karpv1.CapacityTypeOnDemand}), its)
	if err != nil {
		t.Fatal(err)
	}
	nic := e.nic(inst.Name)
	if !*nic.Properties.EnableIPForwarding || len(nic.Properties.IPConfigurations) != 1 {
		t.Fatalf("kubenet NIC: IP forwarding %v, %d IP configurations", *nic.Properties.EnableIPForwarding, len(nic.Properties.IPConfigurations))
	}
}

// A cluster network that cannot be read fails the launch, not the class.
func TestCreateNetworkUnreadable(t *testing.T) {
	e := newEnv(t, nil)
	e.opts.Network = network.Static{Err: errors.New("connection reset")}
	e.provider = instance.NewDefaultProviderFromClients(e.opts, e.clients, e.skus, e.launch, e.cache, e.quota)
	nc := nodeClass(nil)
	_, err := e.provider.Create(e.ctx, nc, nodeClaim([]string{"Standard_D2s_v5"}, []string{karpv1.CapacityTypeOnDemand}), e.instanceTypes(nc))
	var ce *cloudprovider.CreateError
	if !errors.As(err, &ce) || ce.ConditionReason != instance.ReasonNetworkUnavailable {
		t.Fatalf("got %v, want a CreateError %s", err, instance.ReasonNetworkUnavailable)
	}
}
