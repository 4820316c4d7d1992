package instance

import (
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
)

// toInstance converts an ARM VM.
func (p *DefaultProvider) toInstance(vm *armcompute.VirtualMachine) *Instance {
	inst := &Instance{Tags: map[string]string{}}
	if vm.Name != nil {
		inst.Name = *vm.Name
	}
	if vm.ID != nil {
		inst.ID = *vm.ID
	} else {
		inst.ID = VMResourceID(p.opts.SubscriptionID, p.opts.ResourceGroup, inst.Name)
	}
	inst.ProviderID = ProviderIDFromResourceID(inst.ID)
	for k, v := range vm.Tags {
		if v != nil {
			inst.Tags[k] = *v
		}
	}
	inst.NodePool = inst.Tags[TagNodePool]
	inst.NodeClaim = inst.Tags[TagNodeClaim]
	location := p.opts.Location
	if vm.Location != nil {
		location = *vm.Location
	}
	zone := ""
	if len(vm.Zones) > 0 && vm.Zones[0] != nil {
		zone = *vm.Zones[0]
	}
	inst.Zone = v1beta1.ZoneLabel(location, zone)
	inst.CapacityType = karpv1.CapacityTypeOnDemand
	if pr := vm.Properties; pr != nil {
		if pr.Priority != nil && (*pr.Priority == armcompute.VirtualMachinePriorityTypesSpot || *pr.Priority == armcompute.VirtualMachinePriorityTypesLow) {
			inst.CapacityType = karpv1.CapacityTypeSpot
		}
		if pr.HardwareProfile != nil && pr.HardwareProfile.VMSize != nil {
			inst.InstanceType = string(*pr.HardwareProfile.VMSize)
		}
		if sp := pr.StorageProfile; sp != nil && sp.ImageReference != nil {
			ir := sp.ImageReference
			for _, id := range []*string{ir.CommunityGalleryImageID, ir.SharedGalleryImageID, ir.ID} {
				if id != nil && *id != "" {
					inst.ImageID = *id
					break
				}
			}
		}
		if pr.TimeCreated != nil {
			inst.CreationTime = *pr.TimeCreated
		}
		if pr.ProvisioningState != nil {
			inst.ProvisioningState = *pr.ProvisioningState
		}
		inst.UltraSSD = pr.AdditionalCapabilities != nil && lo.FromPtr(pr.AdditionalCapabilities.UltraSSDEnabled)
	}
	return inst
}
