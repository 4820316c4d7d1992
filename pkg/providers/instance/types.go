// Package instance manages the lifecycle of the Azure VMs (and their NICs
// and OS disks) that back karpenter NodeClaims: idempotent creation with
// GET-before-PUT and a deadline on the long-running operation, classification
// of Azure's failures into the unavailable-offerings cache and karpenter core
// errors, deletion, and listing of the resources this cluster owns by tag.
package instance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/providers/launchtemplate"
	"github.com/azkarpenter/azkarpenter/pkg/providers/network"
	"github.com/azkarpenter/azkarpenter/pkg/providers/refusals"
)

// Ownership tags on every VM, NIC and OS disk the provider creates. Azure tag
// keys cannot contain '/', so the label-like keys use '_'.
const (
	TagCluster   = "karpenter.azure.com_cluster"
	TagNodePool  = "karpenter.sh_nodepool"
	TagNodeClaim = "karpenter.sh_nodeclaim"
	// TagNodeClass names the AKSNodeClass the resource was launched from.
	TagNodeClass = "karpenter.azure.com_aksnodeclass"
	// TagCreationTimestamp is the RFC 3339 time the provider created the
	// resource. NICs carry no creation time in ARM; garbage collection uses
	// this tag to give a NIC a grace period.
	TagCreationTimestamp = "karpenter.azure.com_creationtimestamp"
)

// Provider manages VMs and their NICs.
type Provider interface {
	// Create launches the VM of a NodeClaim on the cheapest available offering
	// of instanceTypes compatible with the NodeClaim's requirements, or
	// adopts the VM a previous attempt created. Capacity and quota failures
	// are returned as cloudprovider.InsufficientCapacityError (the offering
	// is marked unavailable first), other failures as
	// cloudprovider.CreateError.
	Create(ctx context.Context, nodeClass *v1beta1.AKSNodeClass, nodeClaim *karpv1.NodeClaim, instanceTypes []*cloudprovider.InstanceType) (*Instance, error)
	// BeginCreate is Create that returns as soon as Azure has accepted the
	// VM (its NIC created, its PUT answered), with the VM as requested and a
	// Launch to follow it to the end; the Launch is nil when an existing,
	// provisioned VM was adopted. The VM's resource ID, size, zone, capacity
	// type and image are all known at that point, so a NodeClaim need not
	// wait the minutes a VM takes to provision to be launched.
	BeginCreate(ctx context.Context, nodeClass *v1beta1.AKSNodeClass, nodeClaim *karpv1.NodeClaim, instanceTypes []*cloudprovider.InstanceType) (*Instance, *Launch, error)
	// Get returns the VM by name; a missing VM is an error for which
	// IsNotFound is true.
	Get(ctx context.Context, name string) (*Instance, error)
	// List returns every VM this cluster owns (by the cluster tag).
	List(ctx context.Context) ([]*Instance, error)
	// Delete starts deleting the VM and its NIC (and a managed OS disk the
	// VM leaves behind) and returns once deletion has started. A missing VM
	// is an error for which IsNotFound is true.
	Delete(ctx context.Context, name string) error
	// ListNICs returns every NIC this cluster owns (by the cluster tag).
	ListNICs(ctx context.Context) ([]*NIC, error)
	// DeleteNIC deletes a NIC; a missing NIC is an error for which
	// IsNotFound is true.
	DeleteNIC(ctx context.Context, name string) error
	// UpdateTags sets the user tags of a VM and its NIC in place, keeping
	// the ownership tags; a missing VM is an error for which IsNotFound is true.
	UpdateTags(ctx context.Context, name string, userTags map[string]string) error
}

// Launch is a VM creation Azure has accepted, followed to its end (at most
// the create timeout from its start) in a goroutine of its own.
type Launch struct {
	done chan struct{}
	inst *Instance
	err  error
}

func startLaunch(follow func() (*Instance, error)) *Launch {
	l := &Launch{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		l.inst, l.err = follow()
	}()
	return l
}

// Done is closed once the creation has ended.
func (l *Launch) Done() <-chan struct{} { return l.done }

// Wait returns the provisioned VM once the creation has ended, or ctx's
// error if ctx ends first (the creation goes on). Its errors are Create's;
// IsLaunchFailed tells a VM that Azure failed, and that was removed with
// its offering marked unavailable, from a creation that ended otherwise (a
// timeout, or a VM that could no longer be read), whose VM may still come
// up.
func (l *Launch) Wait(ctx context.Context) (*Instance, error) {
	select {
	case <-l.done:
		return l.inst, l.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// launchFailedError is a creation Azure accepted and then failed; the
// provider has removed the VM and its NIC.
type launchFailedError struct{ error }

func (e *launchFailedError) Unwrap() error { return e.error }

// IsLaunchFailed reports whether err ends a launch whose VM Azure failed
// and the provider removed: there is nothing left to wait for.
func IsLaunchFailed(err error) bool {
	var e *launchFailedError
	return errors.As(err, &e)
}

// Instance is a VM the provider manages.
type Instance struct {
	// Name is the VM name (VMName of the NodeClaim).
	Name string
	// ID is the ARM resource ID.
	ID string
	// ProviderID is the node's spec.providerID:
	// azure:///subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/<name>.
	ProviderID string
	// InstanceType is the VM size, e.g. Standard_D4s_v5.
	InstanceType string
	// Zone is the topology.kubernetes.io/zone value: <region>-<n>, or "0".
	Zone string
	// CapacityType is karpenter's capacity type: spot or on-demand.
	CapacityType string
	// ImageID is the image reference the VM was created from.
	ImageID string
	// NodeImageVersion is the kubernetes.azure.com/node-image-version value
	// (set by Create; "" on Get and List).
	NodeImageVersion string
	// KubernetesVersion is the version the node was bootstrapped with (set
	// by Create; "" for an adopted VM and on Get and List).
	KubernetesVersion string
	// Labels are the node labels written into the bootstrap data (set by
	// Create; nil on Get and List, since ARM never returns customData).
	Labels map[string]string
	// NodePool and NodeClaim are read from the ownership tags.
	NodePool  string
	NodeClaim string
	// Tags are the VM's Azure tags.
	Tags map[string]string
	// CreationTime is ARM's timeCreated (zero if ARM did not report it).
	CreationTime time.Time
	// ProvisioningState is ARM's provisioningState: Creating, Succeeded,
	// Failed, Deleting…
	ProvisioningState string
	// UltraSSD is whether the VM can attach Ultra Disks
	// (additionalCapabilities.ultraSSDEnabled).
	UltraSSD bool
}

// NIC is a network interface the provider created for a VM.
type NIC struct {
	Name string
	ID   string
	// VMID is the ARM ID of the VM the NIC is attached to, "" when none.
	VMID string
	// NodeClaim is read from the ownership tag.
	NodeClaim string
	Tags      map[string]string
	// CreationTime is from TagCreationTimestamp (zero when absent).
	CreationTime      time.Time
	ProvisioningState string
}

// Options are the cluster-wide inputs of the provider.
type Options struct {
	ClusterName    string
	SubscriptionID string
	ResourceGroup  string
	Location       string
	// SubnetID is the default subnet of NICs when the AKSNodeClass sets none.
	SubnetID string
	// DefaultMaxPods applies when the AKSNodeClass does not set maxPods.
	DefaultMaxPods int32
	// CreateTimeout bounds one Create, polling included (default 4m, inside
	// core's 5-minute launch timeout).
	CreateTimeout time.Duration
	// PollFrequency is how often long-running operations are polled
	// (default 5s; tests against a time-scaled simulator use milliseconds).
	PollFrequency time.Duration
	// SSHPublicKey is the admin SSH key of Linux nodes ("" generates one
	// whose private key is discarded).
	SSHPublicKey string
	// SubnetFull, when set, is told the subnet ID of every NIC creation
	// refused for lack of addresses (subnet.FullMarks.MarkFull).
	SubnetFull func(subnetID string)
	// Refusals, when set, records what Azure refused because of an
	// AKSNodeClass's settings, for its status (see refuse).
	Refusals *refusals.Marks
	// DeleteWait is how long Delete waits for the VM deletion to finish
	// before returning with deletion still in progress (default 2s).
	DeleteWait time.Duration
	// NodeIdentities are the resource IDs of user-assigned managed
	// identities attached to every VM (AKS's kubelet identity).
	NodeIdentities []string
	// Network decides each node's NIC (load balancer pools, NSG, IP
	// forwarding, pod IP configurations); nil builds Azure CNI Overlay
	// NICs that join nothing (network.StaticFor), for callers that manage
	// no cluster network.
	Network network.Provider
	// AdditionalTags go on every VM and NIC, under the AKSNodeClass's tags
	// (--additional-tags).
	AdditionalTags map[string]string
	// AdminUsername is the administrator of Linux VMs (default
	// AdminUsername, --linux-admin-username).
	AdminUsername string
	// DiskEncryptionSetID encrypts managed OS disks with customer-managed
	// keys (--node-osdisk-diskencryptionset-id).
	DiskEncryptionSetID string
}

// VirtualMachinesAPI is the subset of *armcompute.VirtualMachinesClient the
// provider uses.
type VirtualMachinesAPI interface {
	Get(ctx context.Context, resourceGroupName string, vmName string, options *armcompute.VirtualMachinesClientGetOptions) (armcompute.VirtualMachinesClientGetResponse, error)
	BeginCreateOrUpdate(ctx context.Context, resourceGroupName string, vmName string, parameters armcompute.VirtualMachine, options *armcompute.VirtualMachinesClientBeginCreateOrUpdateOptions) (*runtime.Poller[armcompute.VirtualMachinesClientCreateOrUpdateResponse], error)
	BeginDelete(ctx context.Context, resourceGroupName string, vmName string, options *armcompute.VirtualMachinesClientBeginDeleteOptions) (*runtime.Poller[armcompute.VirtualMachinesClientDeleteResponse], error)
	BeginUpdate(ctx context.Context, resourceGroupName string, vmName string, parameters armcompute.VirtualMachineUpdate, options *armcompute.VirtualMachinesClientBeginUpdateOptions) (*runtime.Poller[armcompute.VirtualMachinesClientUpdateResponse], error)
	NewListPager(resourceGroupName string, options *armcompute.VirtualMachinesClientListOptions) *runtime.Pager[armcompute.VirtualMachinesClientListResponse]
}

// InterfacesAPI is the subset of *armnetwork.InterfacesClient the provider uses.
type InterfacesAPI interface {
	Get(ctx context.Context, resourceGroupName string, networkInterfaceName string, options *armnetwork.InterfacesClientGetOptions) (armnetwork.InterfacesClientGetResponse, error)
	BeginCreateOrUpdate(ctx context.Context, resourceGroupName string, networkInterfaceName string, parameters armnetwork.Interface, options *armnetwork.InterfacesClientBeginCreateOrUpdateOptions) (*runtime.Poller[armnetwork.InterfacesClientCreateOrUpdateResponse], error)
	BeginDelete(ctx context.Context, resourceGroupName string, networkInterfaceName string, options *armnetwork.InterfacesClientBeginDeleteOptions) (*runtime.Poller[armnetwork.InterfacesClientDeleteResponse], error)
	UpdateTags(ctx context.Context, resourceGroupName string, networkInterfaceName string, parameters armnetwork.TagsObject, options *armnetwork.InterfacesClientUpdateTagsOptions) (armnetwork.InterfacesClientUpdateTagsResponse, error)
	NewListPager(resourceGroupName string, options *armnetwork.InterfacesClientListOptions) *runtime.Pager[armnetwork.InterfacesClientListResponse]
}

// ExtensionsAPI is the subset of *armcompute.VirtualMachineExtensionsClient
// the provider uses.
type ExtensionsAPI interface {
	BeginCreateOrUpdate(ctx context.Context, resourceGroupName string, vmName string, vmExtensionName string, extensionParameters armcompute.VirtualMachineExtension, options *armcompute.VirtualMachineExtensionsClientBeginCreateOrUpdateOptions) (*runtime.Poller[armcompute.VirtualMachineExtensionsClientCreateOrUpdateResponse], error)
	Get(ctx context.Context, resourceGroupName string, vmName string, vmExtensionName string, options *armcompute.VirtualMachineExtensionsClientGetOptions) (armcompute.VirtualMachineExtensionsClientGetResponse, error)
}

// DisksAPI is the subset of *armcompute.DisksClient the provider uses to
// remove a managed OS disk that outlived its VM.
type DisksAPI interface {
	BeginDelete(ctx context.Context, resourceGroupName string, diskName string, options *armcompute.DisksClientBeginDeleteOptions) (*runtime.Poller[armcompute.DisksClientDeleteResponse], error)
}

// ErrNotFound is the error (wrapped) for a VM or NIC that does not exist.
var ErrNotFound = errors.New("not found")

// NewNotFoundError returns an error for which IsNotFound is true.
func NewNotFoundError(kind, name string) error {
	return fmt.Errorf("%s %q: %w", kind, name, ErrNotFound)
}

// IsNotFound reports whether err says a VM or NIC does not exist. The cloud
// provider maps it to cloudprovider.NewNodeClaimNotFoundError.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

const providerIDPrefix = "azure://"

// ProviderID is the spec.providerID of the node of a VM, as AKS's cloud node
// manager writes it: the VM's resource ID with the resource group
// lower-cased (see ProviderIDFromResourceID).
func ProviderID(subscriptionID, resourceGroup, vmName string) string {
	return ProviderIDFromResourceID(VMResourceID(subscriptionID, resourceGroup, vmName))
}

// ProviderIDFromResourceID is the spec.providerID cloud-provider-azure's node
// manager gives the Node of the VM with an ARM resource ID: "azure://" and
// the ID with its resource group lower-cased. For a standalone VM,
// availabilitySet.GetInstanceIDByNodeName (kubernetes-sigs/cloud-provider-azure,
// pkg/provider/azure_standard.go) returns ConvertResourceGroupNameToLower of
// the ID ARM returned (pkg/provider/azure_wrap.go: "for historical reasons
// Azure providerID has the resource group name in lower case"); AKS node
// resource groups are MC_<rg>_<cluster>_<region>, so a providerID built from
// the group as configured never matches the Node's. The rest of the ID stays
// as ARM wrote it.
func ProviderIDFromResourceID(id string) string {
	return providerIDPrefix + lowerResourceGroup(id)
}

// lowerResourceGroup lower-cases the value of the resourceGroups segment of
// an ARM ID (segment names are case-insensitive in ARM).
func lowerResourceGroup(id string) string {
	parts := strings.Split(id, "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "resourceGroups") {
			parts[i+1] = strings.ToLower(parts[i+1])
			return strings.Join(parts, "/")
		}
	}
	return id
}

// SameProviderID reports whether two providerIDs name the same VM. ARM
// resource IDs are case-insensitive, and the case of the resource group
// differs between what ARM returns, what cloud-provider-azure writes on the
// Node and what an earlier version of this provider recorded on a
// NodeClaim; wherever VMs are matched to NodeClaims, IDs are compared with
// this.
func SameProviderID(a, b string) bool {
	return strings.EqualFold(a, b)
}

// VMResourceID is the ARM ID of a VM.
func VMResourceID(subscriptionID, resourceGroup, vmName string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s", subscriptionID, resourceGroup, vmName)
}

// ParseProviderID returns the subscription, resource group and VM name of a
// providerID of the form ProviderID writes.
func ParseProviderID(providerID string) (subscriptionID, resourceGroup, vmName string, err error) {
	rest, ok := strings.CutPrefix(providerID, providerIDPrefix)
	if !ok {
		return "", "", "", fmt.Errorf("providerID %q: want prefix %q", providerID, providerIDPrefix)
	}
	id, err := arm.ParseResourceID(rest)
	if err != nil || !strings.EqualFold(id.ResourceType.String(), "Microsoft.Compute/virtualMachines") || id.Name == "" || id.ResourceGroupName == "" {
		return "", "", "", fmt.Errorf("providerID %q is not azure:///subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/<name>", providerID)
	}
	return id.SubscriptionID, id.ResourceGroupName, id.Name, nil
}

// LaunchTemplateOptions are the launch-spec options implied by the
// provider's options, for launchtemplate.NewDefaultProvider.
func (o Options) LaunchTemplateOptions() launchtemplate.Options {
	return launchtemplate.Options{
		ClusterName:    o.ClusterName,
		SubscriptionID: o.SubscriptionID,
		ResourceGroup:  o.ResourceGroup,
		Location:       o.Location,
		SubnetID:       o.SubnetID,
		DefaultMaxPods: o.DefaultMaxPods,
		AdminUsername:  o.AdminUsername,
	}
}

// Defaults of Options.
const (
	// DefaultCreateTimeout stays a minute inside karpenter core's launch
	// timeout (5 minutes from the NodeClaim's Launched=Unknown): a create
	// that outlived it would return after core had deleted the NodeClaim,
	// and a NodeClaim without a providerID gets no Delete call, so its VM
	// would wait for garbage collection. An Azure VM that takes 4 minutes
	// has failed in all but name; a retry adopts it if it does come up.
	DefaultCreateTimeout = 4 * time.Minute
	DefaultPollFrequency = 5 * time.Second
	DefaultDeleteWait    = 2 * time.Second
)

// VMName is the VM name of a NodeClaim: "aks-" + the NodeClaim name,
// shortened with a hash suffix when over Azure's 64 characters. One NodeClaim
// always maps to one VM name, which makes Create idempotent.
func VMName(nodeClaimName string) string {
	return launchtemplate.ComputerName("aks-"+nodeClaimName, false)
}

// NICName is the NIC name of a VM.
func NICName(vmName string) string { return vmName }
