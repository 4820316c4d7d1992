package instance_test

import (
	"testing"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
)

// A node labelled for Ultra Disks must be created able to attach them, in a
// zone where its size can; other nodes are not.
func TestUltraSSDOnlyWhenTheNodeClaimRequiresIt(t *testing.T) {
	e := newEnv(t, nil)
	nc := nodeClass(nil)
	its := e.instanceTypes(nc)
	ultra := karpv1.NodeSelectorRequirementWithMinValues{Key: v1beta1.LabelSKUStorageUltraSSD, Operator: corev1.NodeSelectorOpIn, Values: []string{"true"}}
	for range 4 {
		inst, err := e.provider.Create(e.ctx, nc, nodeClaim([]string{"Standard_D2s_v5"}, []string{onDemand}, ultra), its)
		if err != nil {
			t.Fatal(err)
		}
		vm, err := e.clients.Compute.NewVirtualMachinesClient().Get(e.ctx, rg, inst.Name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ac := vm.Properties.AdditionalCapabilities; ac == nil || !lo.FromPtr(ac.UltraSSDEnabled) {
			t.Errorf("%s: ultraSSDEnabled not set", inst.Name)
		}
		// The simulated eastus offers Ultra Disks for the size in zones 2 and 3.
		if inst.Zone == "eastus-1" || !inst.UltraSSD {
			t.Errorf("%s: zone %s, ultra %v", inst.Name, inst.Zone, inst.UltraSSD)
		}
	}
	inst, err := e.provider.Create(e.ctx, nc, nodeClaim([]string{"Standard_D2s_v5"}, []string{onDemand}), its)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := e.clients.Compute.NewVirtualMachinesClient().Get(e.ctx, rg, inst.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	if vm.Properties.AdditionalCapabilities != nil || inst.UltraSSD {
		t.Errorf("a node nobody asked Ultra Disks for has them: %+v", vm.Properties.AdditionalCapabilities)
	}
}
