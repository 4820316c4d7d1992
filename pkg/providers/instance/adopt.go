package instance

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	"github.com/azkarpenter/azkarpenter/pkg/providers/launchtemplate"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
)

// The launch of a VM that already exists under the NodeClaim's name: an
// earlier attempt (before a crash, a restart or a timeout) created it, and
// GET-before-PUT finds it. It is adopted, followed, or removed and created
// afresh.

// launchExisting launches the VM an earlier attempt left under the
// NodeClaim's name (see adopt). done is false when that VM had failed and
// was removed: the caller then creates the VM afresh.
func (p *DefaultProvider) launchExisting(ctx context.Context, nc *v1beta1.AKSNodeClass, claim *karpv1.NodeClaim, instanceTypes []*cloudprovider.InstanceType, catalog *sku.Catalog, vm armcompute.VirtualMachine) (*Instance, follow, string, bool, error) {
	inst, capacityType, wait, done, err := p.adopt(ctx, vm, catalog)
	if !done {
		return nil, nil, "", false, nil
	}
	if err != nil {
		return nil, nil, capacityType, true, err
	}
	spec := p.describe(ctx, nc, claim, instanceTypes, catalog, inst)
	if wait == nil {
		if err := p.ensureExtension(ctx, nc, claim, inst, spec, catalog); err != nil {
			return nil, nil, capacityType, true, err
		}
		return inst, nil, capacityType, true, nil
	}
	return inst, func(ctx context.Context) (*Instance, error) {
		got, err := wait(ctx)
		if err != nil {
			return nil, err
		}
		if err := p.ensureExtension(ctx, nc, claim, got, spec, catalog); err != nil {
			return nil, err
		}
		return withLaunchFields(got, inst), nil
	}, capacityType, true, nil
}

// adopt handles a VM that already exists under the NodeClaim's name. done
// is false when the caller should create the VM afresh (a failed VM was
// removed); wait is non-nil for a VM still being created.
func (p *DefaultProvider) adopt(ctx context.Context, vm armcompute.VirtualMachine, catalog *sku.Catalog) (inst *Instance, capacityType string, wait follow, done bool, err error) {
	inst = p.toInstance(&vm)
	log := logFrom(ctx).WithValues("instance-type", inst.InstanceType, "zone", inst.Zone, "capacity-type", inst.CapacityType, "state", inst.ProvisioningState)
	switch inst.ProvisioningState {
	case StateFailed:
		log.Info("removing the failed VM of an earlier attempt before creating it again")
		// Remember why it failed, so the new attempt avoids the offering.
		if got, err := p.vms.Get(ctx, p.opts.ResourceGroup, inst.Name, &armcompute.VirtualMachinesClientGetOptions{Expand: to.Ptr(armcompute.InstanceViewTypesInstanceView)}); err == nil {
			if f := failureOf(&got.VirtualMachine); f.Code != "Unknown" {
				_ = p.classify(ctx, f, p.attemptOf(inst, catalog), families(catalog))
			}
		}
		if err := p.cleanupErr(ctx, inst.Name); err != nil {
			return nil, inst.CapacityType, nil, true, cloudprovider.NewCreateError(err, ReasonVMCreationFailed, truncate("removing failed VM: "+err.Error()))
		}
		return nil, "", nil, false, nil
	case StateDeleting:
		return nil, inst.CapacityType, nil, true, cloudprovider.NewCreateError(fmt.Errorf("VM %s is being deleted", inst.Name), ReasonVMDeleting, "the VM of this NodeClaim is being deleted; retrying after it is gone")
	case StateSucceeded:
		log.Info("adopted existing VM")
		return inst, inst.CapacityType, nil, true, nil
	}
	log.Info("adopted the VM an earlier attempt is creating")
	a := p.attemptOf(inst, catalog)
	return inst, inst.CapacityType, func(ctx context.Context) (*Instance, error) {
		return p.awaitProvisioned(ctx, inst.Name, a, catalog)
	}, true, nil
}

// describe fills the launch-time fields (labels, node image version) of an
// adopted VM by rebuilding its launch spec; they are best effort, as the
// NodeClass may have changed since the VM was created.
func (p *DefaultProvider) describe(ctx context.Context, nc *v1beta1.AKSNodeClass, claim *karpv1.NodeClaim, instanceTypes []*cloudprovider.InstanceType, catalog *sku.Catalog, inst *Instance) *launchtemplate.LaunchSpec {
	inst.NodeImageVersion = imagefamily.NodeImageVersion(inst.ImageID)
	s := catalog.SKUs[inst.InstanceType]
	if s == nil {
		return nil
	}
	for _, it := range instanceTypes {
		if it == nil || it.Name != inst.InstanceType {
			continue
		}
		for _, o := range it.Offerings {
			if o.Zone() != inst.Zone || o.CapacityType() != inst.CapacityType {
				continue
			}
			spec, err := p.launch.Build(ctx, launchtemplate.Input{NodeClass: nc, NodeClaim: claim, InstanceType: it, Offering: o, SKU: s, VMName: inst.Name})
			if err != nil {
				return nil
			}
			inst.Labels = spec.Labels
			inst.KubernetesVersion = spec.KubernetesVersion
			if spec.Image.ID == inst.ImageID {
				return spec
			}
			// Launched from another image version than the NodeClass's now.
			inst.Labels[v1beta1.AKSLabelNodeImageVersion] = inst.NodeImageVersion
			if inst.NodeImageVersion == "" {
				delete(inst.Labels, v1beta1.AKSLabelNodeImageVersion)
			}
			return spec
		}
	}
	return nil
}

// attemptOf is the offering an existing VM was created on.
func (p *DefaultProvider) attemptOf(inst *Instance, catalog *sku.Catalog) attempt {
	s := catalog.SKUs[inst.InstanceType]
	if s == nil {
		s = &sku.SKU{Name: inst.InstanceType}
	}
	return attempt{sku: s, zone: inst.Zone, capacityType: inst.CapacityType}
}
