package test

import (
	"context"
	"fmt"
	"time"

	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/operator/options"
)

// Region and node subnet of the provider suites.
const (
	Region      = "eastus"
	ClusterName = "azkarpenter-test"
)

// SubnetID is the node subnet CreateSubnet makes.
var SubnetID = fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/virtualNetworks/vnet/subnets/nodes", SubscriptionID, ResourceGroup)

// CreateSubnet creates, through ARM, the node network of AKS's default
// cluster: the `kubernetes` load balancer with its outbound and inbound
// pools, the agent pool NSG, and the node subnet (a /20) associated with
// that NSG, as in the VNet AKS creates.
func CreateSubnet(ctx context.Context, cfg azure.Config) error {
	clients, err := azure.NewClients(cfg, SubscriptionID)
	if err != nil {
		return err
	}
	ids, err := CreateAKSNetwork(ctx, clients, AKSNetwork{Location: Region, ResourceGroup: ResourceGroup, Number: "12345678", LoadBalancer: true})
	if err != nil {
		return err
	}
	_, err = CreateVNet(ctx, clients, Region, ResourceGroup, "vnet", "10.0.0.0/16", "nodes", "10.0.0.0/20", ids.SecurityGroup, "")
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
