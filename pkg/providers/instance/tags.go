package instance

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/samber/lo"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
)

// isOwnershipTag reports whether a tag key is one the provider owns (users
// may not set these: the AKSNodeClass CRD refuses them).
func isOwnershipTag(key string) bool {
	return strings.HasPrefix(key, "karpenter.azure.com_") || strings.HasPrefix(key, "karpenter.sh_")
}

// AzureTagKey is the Azure tag name of an AKSNodeClass tag key. ARM refuses
// tag names containing '<', '>', '%', '&', '\', '?' or '/' ("Use tags to
// organize your Azure resources", Limitations; ARM's code
// InvalidTagNameCharacters), while Kubernetes-style keys such as
// app.kubernetes.io/team are common: as AKS node auto-provisioning does
// (launchtemplate.Tags, mapTags), '/' is written as '_'. The other
// characters are refused by the CRD.
func AzureTagKey(key string) string {
	return strings.ReplaceAll(key, "/", "_")
}

// AzureTags are an AKSNodeClass's tags as they are written to Azure.
func AzureTags(tags map[string]string) map[string]*string {
	out := make(map[string]*string, len(tags))
	for k, v := range tags {
		out[AzureTagKey(k)] = to.Ptr(v)
	}
	return out
}

// UpdateTags makes the tags of a VM and its NIC the additional tags, the
// AKSNodeClass's tags over them, plus the ownership tags the VM already has,
// without touching anything else:
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
	want := AzureTags(lo.Assign(p.opts.AdditionalTags, userTags))
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

// tags are the tags of every resource of the VM: the additional tags, the
// NodeClass's tags over them, and the ownership tags (which win).
func (p *DefaultProvider) tags(nc *v1beta1.AKSNodeClass, claim *karpv1.NodeClaim) map[string]*string {
	tags := AzureTags(lo.Assign(p.opts.AdditionalTags, nc.Spec.Tags))
	tags[TagCluster] = to.Ptr(p.opts.ClusterName)
	tags[TagNodePool] = to.Ptr(claim.Labels[karpv1.NodePoolLabelKey])
	tags[TagNodeClaim] = to.Ptr(claim.Name)
	tags[TagNodeClass] = to.Ptr(nc.Name)
	tags[TagCreationTimestamp] = to.Ptr(time.Now().UTC().Format(time.RFC3339))
	return tags
}
