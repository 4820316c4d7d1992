package instance

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/samber/lo"
)

// isOwnershipTag reports whether a tag key is one the provider owns (users
// may not set these: the AKSNodeClass CRD refuses them).
func isOwnershipTag(key string) bool {
	return strings.HasPrefix(key, "karpenter.azure.com_") || strings.HasPrefix(key, "karpenter.sh_")
}

// UpdateTags makes the tags of a VM and its NIC the additional tags, the
// AKSNodeClass's tags over them, plus the ownership tags the VM already has, without touching anything else:
// tags are applied in place, not by replacing nodes. Tags nobody asked for
// any more (and tags others added) go. A missing VM is an error for which
// IsNotFound is true.
func (p *DefaultProvider) UpdateTags(ctx context.Context, name string, userTags map[string]string) error {
	got, err := p.vms.Get(ctx, p.opts.ResourceGroup, name, nil)
	if err != nil {
		if IsARMNotFound(err) {
			return NewNotFoundError("VM", name)
		}
		return fmt.Errorf("reading VM %s: %w", name, err)
	}
	want := map[string]*string{}
	for k, v := range lo.Assign(p.opts.AdditionalTags, userTags) {
		want[k] = to.Ptr(v)
	}
	for k, v := range got.Tags {
		if isOwnershipTag(k) {
			want[k] = v
		}
	}
	if !sameTags(got.Tags, want) {
		poller, err := p.vms.BeginUpdate(ctx, p.opts.ResourceGroup, name, armcompute.VirtualMachineUpdate{Tags: want}, nil)
		if err != nil {
			return fmt.Errorf("updating the tags of VM %s: %w", name, err)
		}
		if _, err := poller.PollUntilDone(ctx, p.pollOptions()); err != nil {
			return fmt.Errorf("updating the tags of VM %s: %w", name, err)
		}
		tagWritesTotal.Inc(map[string]string{"resource": "vm"})
	}
	nic, err := p.nics.Get(ctx, p.opts.ResourceGroup, NICName(name), nil)
	if err != nil {
		if IsARMNotFound(err) {
			return nil
		}
		return fmt.Errorf("reading NIC %s: %w", NICName(name), err)
	}
	if !sameTags(nic.Tags, want) {
		if _, err := p.nics.UpdateTags(ctx, p.opts.ResourceGroup, NICName(name), armnetwork.TagsObject{Tags: want}, nil); err != nil {
			return fmt.Errorf("updating the tags of NIC %s: %w", NICName(name), err)
		}
		tagWritesTotal.Inc(map[string]string{"resource": "nic"})
	}
	return nil
}

func sameTags(a, b map[string]*string) bool {
	return maps.EqualFunc(a, b, func(x, y *string) bool { return lo.FromPtr(x) == lo.FromPtr(y) })
}
