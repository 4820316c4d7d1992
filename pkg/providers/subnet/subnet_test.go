package subnet_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"

	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/providers/subnet"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

const (
	sub = testutil.SubscriptionID
	rg  = testutil.ResourceGroup
)

var poll = &runtime.PollUntilDoneOptions{Frequency: 2 * time.Millisecond}

func TestGet(t *testing.T) {
	ctx := context.Background()
	_, cfg := testutil.StartAzureSim(t, func(c *azuresim.Config) {
		c.Subnets = []azuresim.SubnetRule{{VNet: "vnet", Subnet: "capped", AvailableIPs: 3}}
	})
	clients, err := azure.NewClients(cfg, sub)
	if err != nil {
		t.Fatal(err)
	}
	vp, err := clients.Network.NewVirtualNetworksClient().BeginCreateOrUpdate(ctx, rg, "vnet", armnetwork.VirtualNetwork{
		Location:   to.Ptr("eastus"),
		Properties: &armnetwork.VirtualNetworkPropertiesFormat{AddressSpace: &armnetwork.AddressSpace{AddressPrefixes: []*string{to.Ptr("10.0.0.0/8")}}},
	}, nil)
	if err == nil {
		_, err = vp.PollUntilDone(ctx, poll)
	}
	if err != nil {
		t.Fatal(err)
	}
	for name, prefix := range map[string]string{"nodes": "10.1.0.0/24", "capped": "10.2.0.0/24"} {
		sp, err := clients.Network.NewSubnetsClient().BeginCreateOrUpdate(ctx, rg, "vnet", name, armnetwork.Subnet{
			Properties: &armnetwork.SubnetPropertiesFormat{AddressPrefix: to.Ptr(prefix)},
		}, nil)
		if err == nil {
			_, err = sp.PollUntilDone(ctx, poll)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	id := func(name string) string {
		return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Network/virtualNetworks/vnet/subnets/" + name
	}
	// One NIC in "nodes".
	np, err := clients.Network.NewInterfacesClient().BeginCreateOrUpdate(ctx, rg, "nic-1", armnetwork.Interface{
		Location: to.Ptr("eastus"),
		Properties: &armnetwork.InterfacePropertiesFormat{IPConfigurations: []*armnetwork.InterfaceIPConfiguration{{
			Name: to.Ptr("ipconfig1"), Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{Subnet: &armnetwork.Subnet{ID: to.Ptr(id("nodes"))}},
		}}},
	}, nil)
	if err == nil {
		_, err = np.PollUntilDone(ctx, poll)
	}
	if err != nil {
		t.Fatal(err)
	}

	p := subnet.NewDefaultProvider(sub, clients.Network.NewSubnetsClient(), clients.Network.NewVirtualNetworksClient())
	s, err := p.Get(ctx, id("nodes"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Capacity != 251 || s.UsedIPs != 1 || s.AvailableIPs != 250 || s.AddressPrefix != "10.1.0.0/24" || s.VNet != "vnet" || s.Name != "nodes" {
		t.Errorf("nodes: %+v", s)
	}
	c, err := p.Get(ctx, id("capped"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Capacity != 3 || c.AvailableIPs != 3 {
		t.Errorf("capped: %+v", c)
	}
	if _, err := p.Get(ctx, id("missing")); !errors.Is(err, subnet.ErrNotFound) {
		t.Errorf("missing subnet: %v", err)
	}
	if _, err := p.Get(ctx, "/subscriptions/other/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s"); err == nil {
		t.Error("subnet of another subscription accepted")
	}
	if _, err := subnet.ParseID("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v"); err == nil {
		t.Error("vnet ID parsed as a subnet ID")
	}
}
