package test

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"

	"github.com/azkarpenter/azkarpenter/pkg/azure"
)

// AKSNetwork describes the network resources AKS creates in a cluster's
// node resource group, created through ARM as AKS creates them: the
// `kubernetes` load balancer with its outbound and inbound pools (outbound
// type loadBalancer), the `kubernetes-internal` one cloud-provider-azure
// adds for a first internal Service, the agent pool NSG, and kubenet's
// route table.
type AKSNetwork struct {
	Location      string
	ResourceGroup string
	// Number is the eight digits in AKS's resource names
	// (aks-agentpool-<Number>-nsg, aks-vnet-<Number>).
	Number               string
	LoadBalancer         bool
	InternalLoadBalancer bool
	RouteTable           bool
}

// AKSNetworkIDs are the IDs of what CreateAKSNetwork made ("" when not).
type AKSNetworkIDs struct {
	SecurityGroup, RouteTable          string
	OutboundPool, InboundPool          string
	InternalPool                       string
	LoadBalancer, InternalLoadBalancer string
}

// Pools are the backend pools a node's NIC joins.
func (ids AKSNetworkIDs) Pools() []string {
	var out []string
	for _, id := range []string{ids.OutboundPool, ids.InboundPool, ids.InternalPool} {
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}

// CreateAKSNetwork creates the resources n describes.
func CreateAKSNetwork(ctx context.Context, clients *azure.Clients, n AKSNetwork) (AKSNetworkIDs, error) {
	var ids AKSNetworkIDs
	f := clients.Network
	p, err := f.NewSecurityGroupsClient().BeginCreateOrUpdate(ctx, n.ResourceGroup, "aks-agentpool-"+n.Number+"-nsg", armnetwork.SecurityGroup{Location: to.Ptr(n.Location)}, nil)
	nsg, err := pollDone(ctx, p, err)
	if err != nil {
		return ids, fmt.Errorf("creating the AKS NSG: %w", err)
	}
	ids.SecurityGroup = *nsg.ID
	if n.RouteTable {
		p, err := f.NewRouteTablesClient().BeginCreateOrUpdate(ctx, n.ResourceGroup, "aks-agentpool-"+n.Number+"-routetable", armnetwork.RouteTable{Location: to.Ptr(n.Location)}, nil)
		rt, err := pollDone(ctx, p, err)
		if err != nil {
			return ids, fmt.Errorf("creating the AKS route table: %w", err)
		}
		ids.RouteTable = *rt.ID
	}
	lb := func(name string, pools ...string) (string, []string, error) {
		bps := make([]*armnetwork.BackendAddressPool, 0, len(pools))
		for _, p := range pools {
			bps = append(bps, &armnetwork.BackendAddressPool{Name: to.Ptr(p)})
		}
		p, err := f.NewLoadBalancersClient().BeginCreateOrUpdate(ctx, n.ResourceGroup, name, armnetwork.LoadBalancer{
			Location:   to.Ptr(n.Location),
			SKU:        &armnetwork.LoadBalancerSKU{Name: to.Ptr(armnetwork.LoadBalancerSKUNameStandard), Tier: to.Ptr(armnetwork.LoadBalancerSKUTierRegional)},
			Properties: &armnetwork.LoadBalancerPropertiesFormat{BackendAddressPools: bps},
		}, nil)
		got, err := pollDone(ctx, p, err)
		if err != nil {
			return "", nil, fmt.Errorf("creating load balancer %s: %w", name, err)
		}
		out := make([]string, 0, len(pools))
		for _, p := range got.Properties.BackendAddressPools {
			out = append(out, *p.ID)
		}
		return *got.ID, out, nil
	}
	if n.LoadBalancer {
		id, pools, err := lb("kubernetes", "aksOutboundBackendPool", "kubernetes")
		if err != nil {
			return ids, err
		}
		ids.LoadBalancer, ids.OutboundPool, ids.InboundPool = id, pools[0], pools[1]
	}
	if n.InternalLoadBalancer {
		id, pools, err := lb("kubernetes-internal", "kubernetes")
		if err != nil {
			return ids, err
		}
		ids.InternalLoadBalancer, ids.InternalPool = id, pools[0]
	}
	return ids, nil
}

// CreateVNet creates a virtual network with one subnet, associated with
// the NSG and route table given (either may be "").
func CreateVNet(ctx context.Context, clients *azure.Clients, location, resourceGroup, vnet, addressSpace, subnet, subnetPrefix, nsgID, routeTableID string) (string, error) {
	props := &armnetwork.SubnetPropertiesFormat{AddressPrefix: to.Ptr(subnetPrefix)}
	if nsgID != "" {
		props.NetworkSecurityGroup = &armnetwork.SecurityGroup{ID: to.Ptr(nsgID)}
	}
	if routeTableID != "" {
		props.RouteTable = &armnetwork.RouteTable{ID: to.Ptr(routeTableID)}
	}
	p, err := clients.Network.NewVirtualNetworksClient().BeginCreateOrUpdate(ctx, resourceGroup, vnet, armnetwork.VirtualNetwork{
		Location: to.Ptr(location),
		Properties: &armnetwork.VirtualNetworkPropertiesFormat{
			AddressSpace: &armnetwork.AddressSpace{AddressPrefixes: []*string{to.Ptr(addressSpace)}},
			Subnets:      []*armnetwork.Subnet{{Name: to.Ptr(subnet), Properties: props}},
		},
	}, nil)
	got, err := pollDone(ctx, p, err)
	if err != nil {
		return "", fmt.Errorf("creating virtual network %s: %w", vnet, err)
	}
	return *got.ID + "/subnets/" + subnet, nil
}

// pollDone follows a Begin call's poller to its end.
func pollDone[T any](ctx context.Context, p *runtime.Poller[T], err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	r, err := p.PollUntilDone(ctx, nil)
	return &r, err
}
