// Package operator wires the Azure providers, the cloud provider and
// azkarpenter's controllers onto karpenter core's operator.
package operator

import (
	"context"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/awslabs/operatorpkg/controller"
	"github.com/awslabs/operatorpkg/status"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/karpenter/pkg/events"
	"sigs.k8s.io/karpenter/pkg/operator"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/cloudprovider"
	"github.com/azkarpenter/azkarpenter/pkg/controllers/burst"
	"github.com/azkarpenter/azkarpenter/pkg/controllers/garbagecollection"
	"github.com/azkarpenter/azkarpenter/pkg/controllers/interruption"
	"github.com/azkarpenter/azkarpenter/pkg/controllers/nodeclaim/tags"
	"github.com/azkarpenter/azkarpenter/pkg/controllers/nodeclass"
	"github.com/azkarpenter/azkarpenter/pkg/controllers/nodeclass/hash"
	"github.com/azkarpenter/azkarpenter/pkg/controllers/nodeclass/termination"
	"github.com/azkarpenter/azkarpenter/pkg/controllers/providers/refresh"
	"github.com/azkarpenter/azkarpenter/pkg/operator/options"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/hostgroup"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instance"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instancetype"
	"github.com/azkarpenter/azkarpenter/pkg/providers/launchtemplate"
	"github.com/azkarpenter/azkarpenter/pkg/providers/network"
	"github.com/azkarpenter/azkarpenter/pkg/providers/offerings"
	"github.com/azkarpenter/azkarpenter/pkg/providers/pricing"
	"github.com/azkarpenter/azkarpenter/pkg/providers/quota"
	"github.com/azkarpenter/azkarpenter/pkg/providers/refusals"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
	"github.com/azkarpenter/azkarpenter/pkg/providers/subnet"
)

// Providers are the Azure providers and the cloud provider composed from
// them, built from the options.
type Providers struct {
	Clients       *azure.Clients
	SKUs          *sku.DefaultProvider
	Pricing       *pricing.DefaultProvider
	Quota         *quota.DefaultProvider
	Unavailable   *offerings.Cache
	Images        *imagefamily.DefaultProvider
	InstanceTypes *instancetype.DefaultProvider
	Instances     *instance.DefaultProvider
	Subnets       *subnet.DefaultProvider
	// SubnetMarks carry NIC refusals for lack of addresses from the
	// instance provider to the NodeClass status controller.
	SubnetMarks *subnet.FullMarks
	// Refusals carry what Azure refused because of a NodeClass's settings
	// from the instance provider to the NodeClass status controller.
	Refusals *refusals.Marks
	// HostGroups reads the dedicated host groups NodeClasses name, for their
	// status and instance types.
	HostGroups *hostgroup.DefaultProvider
	// Network decides nodes' NICs from the cluster's network setup and
	// the node resource group's load balancers, NSG and route table.
	Network       *network.DefaultProvider
	Cluster       cluster.Provider
	CloudProvider *cloudprovider.CloudProvider
}

// NewProviders builds every provider on the cluster inputs given. It makes
// no Azure call: caches fill on first use and through the refresh
// controllers.
func NewProviders(ctx context.Context, opts *options.Options, kubeClient client.Client, clusterInputs cluster.Provider, clk clock.Clock) (*Providers, error) {
	clients, err := azure.NewClients(opts.AzureConfig(), opts.SubscriptionID)
	if err != nil {
		return nil, fmt.Errorf("building Azure clients: %w", err)
	}
	unavailable := offerings.NewCache(clk)
	skus := sku.NewDefaultProvider(clients.Compute.NewResourceSKUsClient(), opts.Location, clk)
	prices, err := pricing.NewDefaultProvider(ctx, pricing.Options{
		Region:        opts.Location,
		Endpoint:      opts.PricesEndpoint,
		ClientOptions: policy.ClientOptions{Transport: clients.HTTPClient},
		Clock:         clk,
	})
	if err != nil {
		return nil, fmt.Errorf("building the pricing provider: %w", err)
	}
	q := quota.NewDefaultProvider(clients.Compute.NewUsageClient(), opts.Location, clk)
	maxPods := opts.DefaultMaxPods()
	netOpts := opts.NetworkOptions()
	netOpts.Clock = clk
	net := network.NewDefaultProviderFromClients(netOpts, clients.Network)
	imageOpts := opts.ImageOptions()
	imageOpts.KubernetesVersion = clusterInputs.KubernetesVersion
	imageOpts.Clock = clk
	images := imagefamily.NewDefaultProviderFromFactory(clients.Compute, imageOpts)
	hostGroups := hostgroup.NewDefaultProvider(hostgroup.NewClientFor(clients.Credential, clients.Options), clk)
	instanceTypes := instancetype.NewDefaultProvider(instancetype.Options{
		Region:            opts.Location,
		ClusterName:       opts.ClusterName,
		NodeResourceGroup: opts.ResourceGroup,
		DefaultMaxPods:    maxPods,
		// One overhead for the scheduler's view and nothing else: the node
		// reports what its hypervisor leaves.
		VMMemoryOverheadPercent: &opts.VMMemoryOverheadPercent,
	}, skus, prices, unavailable, q, clk).WithHostGroups(hostGroups)
	instanceOpts := instance.Options{
		ClusterName:    opts.ClusterName,
		SubscriptionID: opts.SubscriptionID,
		ResourceGroup:  opts.ResourceGroup,
		Location:       opts.Location,
		SubnetID:       opts.VNETSubnetID,
		DefaultMaxPods: maxPods,
		PollFrequency:  opts.ARMPollInterval,
		NodeIdentities: opts.NodeIdentities,
		Network:        net,
		// The cluster-wide node settings (NAP's options of the same names).
		AdditionalTags:      opts.AdditionalTags,
		AdminUsername:       opts.LinuxAdminUsername,
		SSHPublicKey:        opts.SSHPublicKey,
		DiskEncryptionSetID: opts.DiskEncryptionSetID,
	}
	subnetMarks := subnet.NewFullMarks(clk)
	instanceOpts.SubnetFull = subnetMarks.MarkFull
	refusalMarks := refusals.NewMarks(clk)
	instanceOpts.Refusals = refusalMarks
	launch := launchtemplate.NewDefaultProvider(instanceOpts.LaunchTemplateOptions(), images, clusterInputs)
	instances := instance.NewDefaultProviderFromClients(instanceOpts, clients, skus, launch, unavailable, q)
	return &Providers{
		Clients: clients, SKUs: skus, Pricing: prices, Quota: q, Unavailable: unavailable, Images: images,
		InstanceTypes: instanceTypes, Instances: instances,
		Subnets:       subnet.NewDefaultProvider(opts.SubscriptionID, clients.Network.NewSubnetsClient(), clients.Network.NewVirtualNetworksClient()),
		SubnetMarks:   subnetMarks,
		Refusals:      refusalMarks,
		HostGroups:    hostGroups,
		Network:       net,
		Cluster:       clusterInputs,
		CloudProvider: cloudprovider.New(kubeClient, instanceTypes, instances, images, clusterInputs, cloudprovider.Options{VMCreateWait: opts.VMCreateWait, RepairPolicies: opts.RepairPolicies}),
	}, nil
}

// Operator is karpenter core's operator with the Azure providers.
type Operator struct {
	*operator.Operator
	*Providers
	Options *options.Options
	// ContainerPrices are ACI's prices, read when bursting is on.
	ContainerPrices *burst.RetailPrices
}

// NewOperator builds the providers from the options in ctx.
func NewOperator(ctx context.Context, op *operator.Operator) (*Operator, error) {
	opts := options.FromContext(ctx)
	if err := stripManagedFields(ctx, op.GetCache()); err != nil {
		return nil, err
	}
	// The network setup decides every NIC and the pods a node holds: a
	// setup azkarpenter cannot build, or options the cluster contradicts,
	// stop the controller here, before any VM is created.
	resolved, err := network.Resolve(ctx, op.GetAPIReader(), network.Declared{Plugin: opts.NetworkPlugin, PluginMode: opts.NetworkPluginMode, Dataplane: opts.NetworkDataplane})
	if err != nil {
		return nil, fmt.Errorf("the cluster's network setup: %w", err)
	}
	opts.NetworkPlugin, opts.NetworkPluginMode, opts.NetworkDataplane = resolved.Plugin, resolved.PluginMode, resolved.Dataplane
	log.FromContext(ctx).Info("network setup", "setup", resolved.Setup, "discovered", resolved.Discovered, "evidence", resolved.Evidence)
	// The controller reads Secrets (the bootstrap token) straight from the
	// API server: caching every Secret of the cluster would cost memory and
	// cluster-wide read access.
	clusterOpts := opts.ClusterInputs()
	clusterOpts.RESTConfig = op.GetConfig()
	// Nodes are told the route table and NSG the network provider finds;
	// it is built with the other providers, below, before any read.
	var net network.Provider
	clusterOpts.NetworkResources = func(ctx context.Context) (cluster.NetworkResources, error) {
		return net.NodeResources(ctx, opts.VNETSubnetID)
	}
	clusterInputs := cluster.NewDefaultProvider(clusterOpts, op.GetAPIReader(), op.KubernetesInterface.Discovery().ServerVersion, op.Clock)
	providers, err := NewProviders(ctx, opts, op.GetClient(), clusterInputs, op.Clock)
	if err != nil {
		return nil, err
	}
	net = providers.Network
	providers.CloudProvider.UseRecorder(op.EventRecorder)
	if in, err := clusterInputs.Inputs(ctx); err != nil {
		// Not fatal: the AKSNodeClasses say what is missing until it is fixed.
		log.FromContext(ctx).Error(err, "the cluster inputs nodes need are not all available; AKSNodeClasses stay not Ready until they are")
	} else {
		log.FromContext(ctx).Info("cluster inputs for new nodes", "inputs", in.String())
	}
	// Prices refresh on their own schedule (at start, then every 12h).
	if err := op.Add(providers.Pricing); err != nil {
		return nil, err
	}
	var containerPrices *burst.RetailPrices
	if opts.BurstToVirtualNode {
		// ACI prices for the burst controller's cost estimates.
		client, err := pricing.NewClient(opts.PricesEndpoint, &policy.ClientOptions{Transport: providers.Clients.HTTPClient})
		if err != nil {
			return nil, err
		}
		containerPrices = burst.NewRetailPrices(client, opts.Location)
		if err := op.Add(containerPrices); err != nil {
			return nil, err
		}
	}
	log.FromContext(ctx).Info("azure providers ready", "location", opts.Location, "cluster", opts.ClusterName)
	return &Operator{Operator: op, Providers: providers, Options: opts, ContainerPrices: containerPrices}, nil
}

// Controllers are azkarpenter's own controllers.
func (o *Operator) Controllers(ctx context.Context) []controller.Controller {
	recorder := events.NewRecorder(o.GetEventRecorderFor("karpenter")) //nolint:staticcheck // core's recorder takes the legacy interface
	nodeClassStatus := nodeclass.NewStatusController(o.GetClient(), o.Images, o.InstanceTypes, o.Subnets, o.Cluster, o.Options.VNETSubnetID).WithSubnetMarks(o.SubnetMarks).WithRefusals(o.Refusals).
		WithHostGroups(o.HostGroups, o.Options.Location).WithNetwork(o.Network, o.Options.NetworkSetup(), o.Options.DefaultMaxPods())
	o.Images.OnChange(nodeClassStatus.ImagesChanged)
	controllers := []controller.Controller{
		nodeClassStatus,
		status.NewController[*v1beta1.AKSNodeClass](o.GetClient(), o.GetEventRecorderFor("karpenter"), status.EmitDeprecatedMetrics, //nolint:staticcheck // operatorpkg takes the legacy recorder
			status.WithHistogramBuckets(prometheus.ExponentialBuckets(0.5, 2, 15))),
		hash.NewController(o.GetClient()),
		termination.NewController(o.GetClient(), recorder),
		tags.NewController(o.GetClient(), o.Instances),
		garbagecollection.NewController(o.GetClient(), o.Instances, o.Clock),
		interruption.NewController(o.GetClient(), recorder, o.Unavailable),
		refresh.NewController("providers.sku", o.SKUs, sku.RefreshPeriod, 10*time.Minute),
		refresh.NewController("providers.quota", o.Quota, quota.RefreshPeriod, time.Minute),
		// A failed listing keeps the last known versions; retry within a
		// minute, sooner when the period is shorter.
		refresh.NewController("providers.images", o.Images, o.Options.ImageRefreshPeriod, min(time.Minute, o.Options.ImageRefreshPeriod)),
	}
	if o.Options.BurstToVirtualNode {
		controllers = append(controllers, burst.NewController(o.GetClient(), recorder, o.Clock, burst.Options{
			VirtualNodeName:  o.Options.VirtualNodeName,
			PlaceholderImage: o.Options.BurstPlaceholderImage,
			Prices:           o.ContainerPrices,
		}))
	}
	return controllers
}
