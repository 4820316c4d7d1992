package instance

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/samber/lo"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/providers/launchtemplate"
	"github.com/azkarpenter/azkarpenter/pkg/providers/network"
)

// ReasonNetworkUnavailable is the condition reason of a launch whose NIC
// could not be decided because the cluster's network could not be read.
const ReasonNetworkUnavailable = "NetworkUnavailable"

// interfaceBody is the PUT body of a node's NIC: what the cluster's
// network setup and resources give it (package network), in the launch
// spec's subnet, with one secondary IP configuration per pod the kubelet
// is told it may run (spec.Bootstrap.Kubelet.MaxPods) where pods get
// subnet addresses.
func (p *DefaultProvider) interfaceBody(ctx context.Context, spec *launchtemplate.LaunchSpec, tags map[string]*string) (armnetwork.Interface, error) {
	cfg, err := p.opts.Network.Interface(ctx, spec.SubnetID)
	if err != nil {
		return armnetwork.Interface{}, err
	}
	var maxPods int32
	if spec.Bootstrap != nil {
		maxPods = spec.Bootstrap.Kubelet.MaxPods
	}
	if cfg.PodIPConfigurations && maxPods <= 0 {
		return armnetwork.Interface{}, fmt.Errorf("the %s network setup gives a NIC one IP configuration per pod, and the launch spec sets no max pods", cfg.Setup)
	}
	return buildInterface(p.opts.Location, spec.SubnetID, spec.AcceleratedNetworking, maxPods, cfg, tags), nil
}

// interfaceError is the launch error of a NIC that could not be decided:
// a cluster network that is missing something or contradicts itself keeps
// the AKSNodeClass not Ready (its NetworkReady condition says the same),
// so no NodeClaim churns against it; anything else fails this launch.
func (p *DefaultProvider) interfaceError(err error) error {
	if network.IsConfigError(err) {
		return cloudprovider.NewNodeClassNotReadyError(err)
	}
	return cloudprovider.NewCreateError(err, ReasonNetworkUnavailable, truncate("deciding the NIC: "+err.Error()))
}

// buildInterface is a node's NIC. The primary IP configuration is the
// node's address and the one that joins the load balancer backend pools
// (NAP joins only it: pods' addresses are not load-balanced). Node subnet
// setups add maxPods secondary IP configurations in the same subnet, each
// an address the CNI hands to a pod (AKS's node pools have max pods + 1
// addresses per node; network.Setup.PodIPConfigurations cites it).
func buildInterface(location, subnetID string, acceleratedNetworking bool, maxPods int32, cfg *network.Interface, tags map[string]*string) armnetwork.Interface {
	subnet := func() *armnetwork.Subnet { return &armnetwork.Subnet{ID: to.Ptr(subnetID)} }
	primary := &armnetwork.InterfaceIPConfiguration{
		Name: to.Ptr("ipconfig1"),
		Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{
			Primary:                   to.Ptr(true),
			PrivateIPAllocationMethod: to.Ptr(armnetwork.IPAllocationMethodDynamic),
			Subnet:                    subnet(),
		},
	}
	if len(cfg.BackendPoolIDs) > 0 {
		primary.Properties.LoadBalancerBackendAddressPools = lo.Map(cfg.BackendPoolIDs, func(id string, _ int) *armnetwork.BackendAddressPool {
			return &armnetwork.BackendAddressPool{ID: to.Ptr(id)}
		})
	}
	ipcs := []*armnetwork.InterfaceIPConfiguration{primary}
	if cfg.PodIPConfigurations {
		for i := range maxPods {
			ipcs = append(ipcs, &armnetwork.InterfaceIPConfiguration{
				Name: to.Ptr(fmt.Sprintf("ipconfig%d", i+2)),
				Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{
					Primary:                   to.Ptr(false),
					PrivateIPAllocationMethod: to.Ptr(armnetwork.IPAllocationMethodDynamic),
					Subnet:                    subnet(),
				},
			})
		}
	}
	nic := armnetwork.Interface{
		Location: to.Ptr(location),
		Tags:     tags,
		Properties: &armnetwork.InterfacePropertiesFormat{
			EnableAcceleratedNetworking: to.Ptr(acceleratedNetworking),
			EnableIPForwarding:          to.Ptr(cfg.IPForwarding),
			IPConfigurations:            ipcs,
		},
	}
	if cfg.SecurityGroupID != "" {
		nic.Properties.NetworkSecurityGroup = &armnetwork.SecurityGroup{ID: to.Ptr(cfg.SecurityGroupID)}
	}
	return nic
}

// createNIC creates (or finds, as PUT is idempotent) the VM's NIC and
// returns its ID.
func (p *DefaultProvider) createNIC(ctx context.Context, vmName string, nic armnetwork.Interface) (string, error) {
	poller, err := p.nics.BeginCreateOrUpdate(ctx, p.opts.ResourceGroup, NICName(vmName), nic, nil)
	if err != nil {
		return "", err
	}
	resp, err := poller.PollUntilDone(ctx, p.pollOptions())
	if err != nil {
		return "", err
	}
	if resp.ID == nil {
		return "", fmt.Errorf("NIC %s created without an ID", NICName(vmName))
	}
	return *resp.ID, nil
}
