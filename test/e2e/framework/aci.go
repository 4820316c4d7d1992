package framework

import (
	"context"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/localcluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/containerinstance"
)

// ContainerInstances is the local cluster's Container Instances, read
// through the product's own provider and the Azure SDK, as the virtual node
// reads them: the suites that run pods on ACI check what is left there.
type ContainerInstances struct {
	provider containerinstance.Provider
}

// NewContainerInstances connects to the simulator's Container Instances in
// the local cluster's node resource group.
func NewContainerInstances(cfg azure.Config) (*ContainerInstances, error) {
	clients, err := azure.NewClients(cfg, localcluster.SubscriptionID)
	if err != nil {
		return nil, err
	}
	provider, err := containerinstance.NewDefaultProviderFromCredential(containerinstance.Options{ResourceGroup: localcluster.ResourceGroup},
		localcluster.SubscriptionID, clients.Credential, clients.Options)
	if err != nil {
		return nil, err
	}
	return &ContainerInstances{provider: provider}, nil
}

// GroupsOf names the container groups that run pods of namespace ns.
func (c *ContainerInstances) GroupsOf(ctx context.Context, ns string) ([]string, error) {
	groups, err := c.provider.List(ctx)
	if err != nil {
		return nil, err
	}
	return lo.FilterMap(groups, func(g *armcontainerinstance.ContainerGroup, _ int) (string, bool) {
		podNS, _, _, ok := containerinstance.PodOf(g)
		return *g.Name, ok && podNS == ns
	}), nil
}
