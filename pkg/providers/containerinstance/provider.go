// Package containerinstance runs pods on Azure Container Instances: the
// container groups API (create, get, list, delete, logs, usages) behind an
// interface, Azure's refusals as typed errors, the translation of a pod to
// a container group and the check of whether a pod can run on ACI at all.
// It is the Azure side of the virtual node (docs/virtual-nodes.md); the
// virtual-kubelet provider that uses it comes later.
package containerinstance

import (
	"context"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	"github.com/samber/lo"
)

// Provider manages the container groups of one resource group.
type Provider interface {
	// Create starts a container group's deployment. Refusals (quota,
	// capacity, a bad body) come back at once as *QuotaExceededError,
	// *CapacityError or *BadRequestError; the Deployment follows the rest.
	Create(ctx context.Context, group armcontainerinstance.ContainerGroup) (*Deployment, error)
	// Get returns a group with its instance view; IsNotFound(err) when it
	// does not exist.
	Get(ctx context.Context, name string) (*armcontainerinstance.ContainerGroup, error)
	// List returns every group of the resource group.
	List(ctx context.Context) ([]*armcontainerinstance.ContainerGroup, error)
	// Delete deletes a group and waits until it is gone; a group that is not
	// there is not an error.
	Delete(ctx context.Context, name string) error
	// Logs returns a container's log, the last tail lines when tail > 0.
	Logs(ctx context.Context, group, container string, tail int32) (string, error)
	// Usage returns the region's quota use (StandardCores, ContainerGroups).
	Usage(ctx context.Context, region string) ([]Usage, error)
}

// Usage is one quota of the region: what is used and its limit.
type Usage struct {
	Name    string
	Current int
	Limit   int
}

// Options configure the DefaultProvider.
type Options struct {
	// ResourceGroup holds the container groups.
	ResourceGroup string
	// PollFrequency is how often a deployment's operation is polled;
	// default 2s.
	PollFrequency time.Duration
}

// GroupsAPI is the part of armcontainerinstance.ContainerGroupsClient the
// provider uses.
type GroupsAPI interface {
	BeginCreateOrUpdate(ctx context.Context, resourceGroupName, containerGroupName string, containerGroup armcontainerinstance.ContainerGroup, options *armcontainerinstance.ContainerGroupsClientBeginCreateOrUpdateOptions) (*runtime.Poller[armcontainerinstance.ContainerGroupsClientCreateOrUpdateResponse], error)
	Get(ctx context.Context, resourceGroupName, containerGroupName string, options *armcontainerinstance.ContainerGroupsClientGetOptions) (armcontainerinstance.ContainerGroupsClientGetResponse, error)
	NewListByResourceGroupPager(resourceGroupName string, options *armcontainerinstance.ContainerGroupsClientListByResourceGroupOptions) *runtime.Pager[armcontainerinstance.ContainerGroupsClientListByResourceGroupResponse]
	BeginDelete(ctx context.Context, resourceGroupName, containerGroupName string, options *armcontainerinstance.ContainerGroupsClientBeginDeleteOptions) (*runtime.Poller[armcontainerinstance.ContainerGroupsClientDeleteResponse], error)
}

// ContainersAPI is the part of armcontainerinstance.ContainersClient the
// provider uses.
type ContainersAPI interface {
	ListLogs(ctx context.Context, resourceGroupName, containerGroupName, containerName string, options *armcontainerinstance.ContainersClientListLogsOptions) (armcontainerinstance.ContainersClientListLogsResponse, error)
}

// LocationAPI is the part of armcontainerinstance.LocationClient the
// provider uses.
type LocationAPI interface {
	NewListUsagePager(location string, options *armcontainerinstance.LocationClientListUsageOptions) *runtime.Pager[armcontainerinstance.LocationClientListUsageResponse]
}

// DefaultProvider is the Provider over the Azure SDK's clients, whose
// pipeline retries 429 (honouring Retry-After) and transient 5xx.
type DefaultProvider struct {
	opts       Options
	groups     GroupsAPI
	containers ContainersAPI
	location   LocationAPI
}

var _ Provider = (*DefaultProvider)(nil)

// NewDefaultProvider builds a provider over the given clients.
func NewDefaultProvider(opts Options, groups GroupsAPI, containers ContainersAPI, location LocationAPI) *DefaultProvider {
	if opts.PollFrequency <= 0 {
		opts.PollFrequency = 2 * time.Second
	}
	return &DefaultProvider{opts: opts, groups: groups, containers: containers, location: location}
}

// NewDefaultProviderFromCredential builds the SDK's clients for a
// subscription and a provider over them.
func NewDefaultProviderFromCredential(opts Options, subscriptionID string, cred azcore.TokenCredential, clientOpts *arm.ClientOptions) (*DefaultProvider, error) {
	f, err := armcontainerinstance.NewClientFactory(subscriptionID, cred, clientOpts)
	if err != nil {
		return nil, fmt.Errorf("container instances clients: %w", err)
	}
	return NewDefaultProvider(opts, f.NewContainerGroupsClient(), f.NewContainersClient(), f.NewLocationClient()), nil
}

// Deployment is a container group Azure accepted, being deployed.
type Deployment struct {
	// Group is the group as it was sent (the SDK's poller keeps the PUT's
	// answer to itself); Get returns Azure's view.
	Group  *armcontainerinstance.ContainerGroup
	poller *runtime.Poller[armcontainerinstance.ContainerGroupsClientCreateOrUpdateResponse]
	freq   time.Duration
}

// Wait follows the deployment to its end: the group with its containers
// started, or *DeploymentFailedError / *CapacityError.
func (d *Deployment) Wait(ctx context.Context) (*armcontainerinstance.ContainerGroup, error) {
	resp, err := d.poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: d.freq})
	if err != nil {
		return nil, observe("create_wait", classify(err))
	}
	return &resp.ContainerGroup, nil
}

// ResumeToken lets another process follow the deployment.
func (d *Deployment) ResumeToken() (string, error) { return d.poller.ResumeToken() }

// Create implements Provider.
func (p *DefaultProvider) Create(ctx context.Context, group armcontainerinstance.ContainerGroup) (*Deployment, error) {
	name := lo.FromPtr(group.Name)
	if name == "" {
		return nil, fmt.Errorf("container group has no name")
	}
	poller, err := p.groups.BeginCreateOrUpdate(ctx, p.opts.ResourceGroup, name, group, nil)
	if err != nil {
		return nil, observe("create", classify(err))
	}
	succeeded("create")
	return &Deployment{poller: poller, freq: p.opts.PollFrequency, Group: &group}, nil
}

// Get implements Provider.
func (p *DefaultProvider) Get(ctx context.Context, name string) (*armcontainerinstance.ContainerGroup, error) {
	resp, err := p.groups.Get(ctx, p.opts.ResourceGroup, name, nil)
	if err != nil {
		return nil, observe("get", err)
	}
	succeeded("get")
	return &resp.ContainerGroup, nil
}

// List implements Provider.
func (p *DefaultProvider) List(ctx context.Context) ([]*armcontainerinstance.ContainerGroup, error) {
	var out []*armcontainerinstance.ContainerGroup
	for pager := p.groups.NewListByResourceGroupPager(p.opts.ResourceGroup, nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, observe("list", err)
		}
		out = append(out, page.Value...)
	}
	succeeded("list")
	return out, nil
}

// Delete implements Provider.
func (p *DefaultProvider) Delete(ctx context.Context, name string) error {
	poller, err := p.groups.BeginDelete(ctx, p.opts.ResourceGroup, name, nil)
	if err == nil {
		_, err = poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: p.opts.PollFrequency})
	}
	if err != nil && !IsNotFound(err) {
		return observe("delete", err)
	}
	succeeded("delete")
	return nil
}

// Logs implements Provider.
func (p *DefaultProvider) Logs(ctx context.Context, group, container string, tail int32) (string, error) {
	var o *armcontainerinstance.ContainersClientListLogsOptions
	if tail > 0 {
		o = &armcontainerinstance.ContainersClientListLogsOptions{Tail: lo.ToPtr(tail)}
	}
	resp, err := p.containers.ListLogs(ctx, p.opts.ResourceGroup, group, container, o)
	if err != nil {
		return "", observe("logs", err)
	}
	succeeded("logs")
	return lo.FromPtr(resp.Content), nil
}

// Usage implements Provider.
func (p *DefaultProvider) Usage(ctx context.Context, region string) ([]Usage, error) {
	var out []Usage
	for pager := p.location.NewListUsagePager(region, nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, observe("usage", err)
		}
		for _, u := range page.Value {
			if u == nil || u.Name == nil {
				continue
			}
			out = append(out, Usage{Name: lo.FromPtr(u.Name.Value), Current: int(lo.FromPtr(u.CurrentValue)), Limit: int(lo.FromPtr(u.Limit))})
		}
	}
	succeeded("usage")
	return out, nil
}
