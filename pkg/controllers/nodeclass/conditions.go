package nodeclass

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	"github.com/azkarpenter/azkarpenter/pkg/providers/network"
	"github.com/azkarpenter/azkarpenter/pkg/providers/subnet"
)

// The steps of Reconcile, one per condition. Each returns retrySoon: what
// it read may change within minutes (a failed read, images not published
// yet, a full subnet), so the NodeClass is looked at again in a minute.

// kubernetesVersionReady sets KubernetesVersionReady and the status's
// Kubernetes version.
func (c *StatusController) kubernetesVersionReady(ctx context.Context, nc *v1beta1.AKSNodeClass) (retrySoon bool) {
	conditions := nc.StatusConditions()
	v, err := c.cluster.KubernetesVersion(ctx)
	if err != nil || v == "" {
		conditions.SetFalse(v1beta1.ConditionTypeKubernetesVersionReady, "KubernetesVersionUnknown", fmt.Sprintf("reading the cluster's Kubernetes version: %v", err))
		return true
	}
	// As AKS node auto-provisioning reports it: 1.35.4, no "v".
	nc.Status.KubernetesVersion = lo.ToPtr(strings.TrimPrefix(v, "v"))
	conditions.SetTrue(v1beta1.ConditionTypeKubernetesVersionReady)
	return false
}

// bootstrapReady sets BootstrapReady from what a node is told about the
// cluster: without it no node can join, so the NodeClass is not Ready and
// no VM is created.
func (c *StatusController) bootstrapReady(ctx context.Context, nc *v1beta1.AKSNodeClass) (retrySoon bool) {
	conditions := nc.StatusConditions()
	in, err := c.cluster.Inputs(ctx)
	if err != nil {
		reason := "BootstrapInputsUnavailable"
		if ie := (*cluster.InputError)(nil); errors.As(err, &ie) {
			reason = ie.Reason
		}
		conditions.SetFalse(v1beta1.ConditionTypeBootstrapReady, reason, err.Error())
		return true
	}
	if reason, msg := windowsInputs(nc, in); reason != "" {
		conditions.SetFalse(v1beta1.ConditionTypeBootstrapReady, reason, msg)
		return false
	}
	conditions.SetTrue(v1beta1.ConditionTypeBootstrapReady)
	return false
}

// imagesReady sets ImagesReady and the status's images.
func (c *StatusController) imagesReady(ctx context.Context, nc *v1beta1.AKSNodeClass) (retrySoon bool) {
	conditions := nc.StatusConditions()
	images, err := c.images.List(ctx, nc)
	if err != nil || len(images) == 0 {
		reason, msg := imagefamily.ReasonNoImage, "no node image exists for this image family"
		if err != nil {
			reason, msg = imagefamily.Reason(err), err.Error()
		}
		nc.Status.Images = nil
		conditions.SetFalse(v1beta1.ConditionTypeImagesReady, reason, msg)
		// Missing images may be published, and listings retried, soon.
		return true
	}
	nc.Status.Images = images
	conditions.SetTrue(v1beta1.ConditionTypeImagesReady)
	return false
}

// subnetsReady sets SubnetsReady: the subnet exists and has room for at
// least one more node.
func (c *StatusController) subnetsReady(ctx context.Context, nc *v1beta1.AKSNodeClass, subnetID string) (retrySoon bool) {
	conditions := nc.StatusConditions()
	perNode := network.AddressesPerNode(c.setup, lo.FromPtrOr(nc.Spec.MaxPods, c.defaultMaxPods))
	switch sn, err := c.subnets.Get(ctx, subnetID); {
	case errors.Is(err, subnet.ErrNotFound):
		conditions.SetFalse(v1beta1.ConditionTypeSubnetsReady, "SubnetNotFound", fmt.Sprintf("subnet %s does not exist", subnetID))
	case err != nil:
		conditions.SetFalse(v1beta1.ConditionTypeSubnetsReady, "SubnetCheckFailed", fmt.Sprintf("reading subnet %s: %v", subnetID, err))
		return true
	case c.subnetMarks != nil && c.subnetMarks.Full(subnetID):
		conditions.SetFalse(v1beta1.ConditionTypeSubnetsReady, "SubnetFull", fmt.Sprintf("Azure refused a network interface in subnet %s for lack of free IP addresses (SubnetIsFull); nodes wait until addresses are freed or the subnet grows", subnetID))
		return true
	case sn.AvailableIPs <= 0:
		conditions.SetFalse(v1beta1.ConditionTypeSubnetsReady, "SubnetFull", fmt.Sprintf("subnet %s has no free IP addresses; nodes cannot get a network interface", subnetID))
		return true
	case sn.AvailableIPs < perNode:
		// A node subnet NIC takes an address per pod: one that does not fit
		// is refused whole, so a subnet with fewer free addresses than a
		// node takes is as full as one with none.
		conditions.SetFalse(v1beta1.ConditionTypeSubnetsReady, "SubnetFull", fmt.Sprintf("subnet %s has %d free IP addresses and a node takes %d (its own and one per pod for %s at max pods %d); nodes wait until addresses are freed or the subnet grows",
			subnetID, sn.AvailableIPs, perNode, c.setup, perNode-1))
		return true
	default:
		conditions.SetTrue(v1beta1.ConditionTypeSubnetsReady)
	}
	return false
}

// localDNSReady sets LocalDNSReady and the status's resolved LocalDNS state.
func (c *StatusController) localDNSReady(ctx context.Context, nc *v1beta1.AKSNodeClass) (retrySoon bool) {
	conditions := nc.StatusConditions()
	state, err := c.localDNSState(ctx, nc)
	if err != nil {
		conditions.SetFalse(v1beta1.ConditionTypeLocalDNSReady, "CheckingClusterRequirementsFailed", fmt.Sprintf("resolving localDNS.mode %s: %v", nc.Spec.LocalDNS.Mode, err))
		return true
	}
	nc.Status.LocalDNSState = lo.ToPtr(state)
	conditions.SetTrue(v1beta1.ConditionTypeLocalDNSReady)
	return false
}

// validationSucceeded sets ValidationSucceeded: some VM size of the region
// (and of the dedicated host group, when one is named) serves the class.
func (c *StatusController) validationSucceeded(ctx context.Context, nc *v1beta1.AKSNodeClass) (retrySoon bool) {
	conditions := nc.StatusConditions()
	hostGroupReason, hostGroupMessage, hostGroupErr := c.hostGroup(ctx, nc)
	retrySoon = hostGroupErr != nil
	its, err := c.instanceTypes.List(ctx, nc)
	switch {
	case hostGroupReason != "":
		conditions.SetFalse(v1beta1.ConditionTypeValidationSucceeded, hostGroupReason, hostGroupMessage)
	case err != nil:
		conditions.SetFalse(v1beta1.ConditionTypeValidationSucceeded, "InstanceTypesUnavailable", fmt.Sprintf("listing VM sizes: %v", err))
		retrySoon = true
	case len(its) == 0:
		reason, msg := "NoInstanceTypes", "no VM size in the region satisfies this AKSNodeClass; `azkarpenter explain -f <this file>` lists each size with the reason it was left out"
		if nc.Spec.DedicatedHostGroupID != nil {
			reason, msg = c.noSizeOnHostGroup(ctx, nc)
		}
		conditions.SetFalse(v1beta1.ConditionTypeValidationSucceeded, reason, msg)
	default:
		conditions.SetTrue(v1beta1.ConditionTypeValidationSucceeded)
	}
	return retrySoon
}

// applyRefusals sets what Azure refused for this spec (refusals.Marks)
// over what the checks above concluded: they cannot see everything Azure
// checks.
func (c *StatusController) applyRefusals(nc *v1beta1.AKSNodeClass) (retrySoon bool) {
	if c.refusals == nil {
		return false
	}
	conditions := nc.StatusConditions()
	for _, r := range c.refusals.Of(nc.Name, nc.Generation) {
		conditions.SetFalse(r.ConditionType, r.Reason, r.Message)
		retrySoon = true
	}
	return retrySoon
}
