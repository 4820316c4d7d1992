package instance

import (
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/launchtemplate"
	"github.com/azkarpenter/azkarpenter/pkg/providers/network"
	"github.com/azkarpenter/azkarpenter/pkg/providers/offerings"
	"github.com/azkarpenter/azkarpenter/pkg/providers/quota"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
)

// ARM provisioning states.
const (
	StateSucceeded = "Succeeded"
	StateFailed    = "Failed"
	StateCreating  = "Creating"
	StateDeleting  = "Deleting"
)

// AdminUsername is the administrator account of node VMs. Linux nodes get
// only an SSH key (Options.SSHPublicKey, or a generated key whose private
// half is discarded); Windows nodes get a random password nobody keeps.
const AdminUsername = "azureuser"

// DefaultProvider implements Provider with the ARM compute and network clients.
type DefaultProvider struct {
	opts        Options
	vms         VirtualMachinesAPI
	nics        InterfacesAPI
	extensions  ExtensionsAPI
	disks       DisksAPI
	skus        sku.Provider
	launch      launchtemplate.Provider
	unavailable *offerings.Cache
	quotas      quota.Provider
	// retryAfter, when set, says which creations Azure's Retry-After still
	// holds back (throttle.go).
	retryAfter *azure.RetryAfterGate

	sshOnce sync.Once
	sshKey  string
	sshErr  error
}

var _ Provider = (*DefaultProvider)(nil)

// NewDefaultProvider returns a provider. disks may be nil (managed OS disks
// are then left to the deleteOption set at creation); quotas may be nil
// (a regional quota failure then does not refresh the quota reading).
func NewDefaultProvider(opts Options, vms VirtualMachinesAPI, nics InterfacesAPI, extensions ExtensionsAPI, disks DisksAPI, skus sku.Provider, launch launchtemplate.Provider, unavailable *offerings.Cache, quotas quota.Provider) *DefaultProvider {
	return &DefaultProvider{opts: opts.withDefaults(), vms: vms, nics: nics, extensions: extensions, disks: disks, skus: skus, launch: launch, unavailable: unavailable, quotas: quotas}
}

// NewDefaultProviderFromClients is NewDefaultProvider with the clients of an
// azure.Clients.
func NewDefaultProviderFromClients(opts Options, clients *azure.Clients, skus sku.Provider, launch launchtemplate.Provider, unavailable *offerings.Cache, quotas quota.Provider) *DefaultProvider {
	p := NewDefaultProvider(opts, clients.Compute.NewVirtualMachinesClient(), clients.Network.NewInterfacesClient(), clients.Compute.NewVirtualMachineExtensionsClient(),
		clients.Compute.NewDisksClient(), skus, launch, unavailable, quotas)
	p.retryAfter = clients.RetryAfter
	return p
}

func (o Options) withDefaults() Options {
	if o.CreateTimeout == 0 {
		o.CreateTimeout = DefaultCreateTimeout
	}
	if o.PollFrequency == 0 {
		o.PollFrequency = DefaultPollFrequency
	}
	if o.DeleteWait == 0 {
		o.DeleteWait = DefaultDeleteWait
	}
	if o.Network == nil {
		overlay, _ := network.SetupOf(cluster.NetworkSetupAzureCNIOverlay)
		o.Network = network.StaticFor(overlay)
	}
	if o.AdminUsername == "" {
		o.AdminUsername = AdminUsername
	}
	return o
}

func (p *DefaultProvider) pollOptions() *runtime.PollUntilDoneOptions {
	return &runtime.PollUntilDoneOptions{Frequency: p.opts.PollFrequency}
}
