package test

import (
	"context"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"

	"github.com/azkarpenter/azkarpenter/pkg/operator/options"
	"github.com/azkarpenter/azkarpenter/pkg/providers/azure"
)

// Region and node subnet of the provider suites.
const (
	Region      = "eastus"
	ClusterName = "azkarpenter-test"
)

// SubnetID is the node subnet CreateSubnet makes.
var SubnetID = fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/virtualNetworks/vnet/subnets/nodes", SubscriptionID, ResourceGroup)

// CreateSubnet creates the node subnet (a /20) in the simulator through ARM.
func CreateSubnet(ctx context.Context, cfg azure.Config) error {
	clients, err := azure.NewClients(cfg, SubscriptionID)
	if err != nil {
		return err
	}
	poller, err := clients.Network.NewVirtualNetworksClient().BeginCreateOrUpdate(ctx, ResourceGroup, "vnet", armnetwork.VirtualNetwork{
		Location: to.Ptr(Region),
		Properties: &armnetwork.VirtualNetworkPropertiesFormat{
			AddressSpace: &armnetwork.AddressSpace{AddressPrefixes: []*string{to.Ptr("10.0.0.0/16")}},
			Subnets:      []*armnetwork.Subnet{{Name: to.Ptr("nodes"), Properties: &armnetwork.SubnetPropertiesFormat{AddressPrefix: to.Ptr("10.0.0.0/20")}}},
		},
	}, nil)
	if err != nil {
		return err
	}
	_, err = poller.PollUntilDone(ctx, nil)
	return err
}

// Options are controller options that reach the simulator at cfg.
func Options(cfg azure.Config) *options.Options {
	return &options.Options{
		ClusterName:       ClusterName,
		SubscriptionID:    SubscriptionID,
		ResourceGroup:     ResourceGroup,
		Location:          Region,
		VNETSubnetID:      SubnetID,
		NetworkPlugin:     "azure",
		NetworkPluginMode: "overlay",
		ARMEndpoint:       cfg.ARMEndpoint,
		PricesEndpoint:    cfg.ARMEndpoint,
		CABundle:          cfg.CABundle,
		CredentialMode:    string(azure.CredentialStaticToken),
		StaticTokenFile:   cfg.StaticTokenFile,
		// The simulator runs its clock fast; poll its operations as often.
		ARMPollInterval: 5 * time.Millisecond,
		NodeSettings:    options.DefaultNodeSettings(),
	}
}
