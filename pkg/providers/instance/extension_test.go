package instance_test

import (
	"context"
	"errors"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instance"
)

const windowsExtension = "windows-cse-agent-azkarpenter"

func windowsNodeClass() *v1beta1.AKSNodeClass {
	return nodeClass(func(nc *v1beta1.AKSNodeClass) { nc.Spec.ImageFamily = to.Ptr(v1beta1.ImageFamilyWindows2022) })
}

// On Windows the extension runs the node's setup: its failure fails the
// launch (VM and NIC removed, the extension's code as the reason), and the
// offering stays available.
func TestWindowsExtensionFailureFailsTheLaunch(t *testing.T) {
	e := newEnv(t, func(c *azuresim.Config) {
		c.Errors = append(c.Errors, azuresim.ErrorRule{Operation: azuresim.OpPutVMExtension, Code: "VMExtensionProvisioningError", Async: true, Count: 1})
	})
	nc := windowsNodeClass()
	_, err := e.provider.Create(e.ctx, nc, nodeClaim([]string{"Standard_D2s_v5"}, []string{karpv1.CapacityTypeOnDemand}), e.instanceTypes(nc))
	if err == nil || !instance.IsLaunchFailed(err) || instance.ErrorReason(err) != "VMExtensionProvisioningError" {
		t.Fatalf("launch whose setup extension fails: %v (reason %s)", err, instance.ErrorReason(err))
	}
	if st := e.state(); len(st.VMs) != 0 || len(st.NICs) != 0 {
		t.Fatalf("the failed launch left %d VMs and %d NICs", len(st.VMs), len(st.NICs))
	}
	for _, zone := range []string{region + "-1", region + "-2", region + "-3"} {
		if reason := e.cache.Unavailable(e.offering(e.sku("Standard_D2s_v5"), zone, karpv1.CapacityTypeOnDemand)); reason != "" {
			t.Errorf("the extension's failure marked %s unavailable: %s", zone, reason)
		}
	}
	e.expectNoLeaks()
}

// failingExtensions loses the first extension PUT, as a crash or a lost
// connection between the VM's creation and its extension's would.
type failingExtensions struct {
	instance.ExtensionsAPI
	failed bool
}

func (f *failingExtensions) BeginCreateOrUpdate(ctx context.Context, rg, vm, ext string, body armcompute.VirtualMachineExtension, o *armcompute.VirtualMachineExtensionsClientBeginCreateOrUpdateOptions) (*runtime.Poller[armcompute.VirtualMachineExtensionsClientCreateOrUpdateResponse], error) {
	if !f.failed {
		f.failed = true
		return nil, errors.New("connection reset by peer")
	}
	return f.ExtensionsAPI.BeginCreateOrUpdate(ctx, rg, vm, ext, body, o)
}

// A Windows VM an earlier attempt created without its extension is given
// it when the NodeClaim's next attempt adopts the VM.
func TestWindowsExtensionCreatedOnAdoption(t *testing.T) {
	e := newEnv(t, nil)
	nc := windowsNodeClass()
	claim := nodeClaim([]string{"Standard_D2s_v5"}, []string{karpv1.CapacityTypeOnDemand})
	exts := &failingExtensions{ExtensionsAPI: e.clients.Compute.NewVirtualMachineExtensionsClient()}
	p := instance.NewDefaultProvider(e.opts, e.clients.Compute.NewVirtualMachinesClient(), e.clients.Network.NewInterfacesClient(), exts,
		e.clients.Compute.NewDisksClient(), e.skus, e.launch, e.cache, e.quota)
	if _, err := p.Create(e.ctx, nc, claim, e.instanceTypes(nc)); err == nil || instance.IsLaunchFailed(err) {
		t.Fatalf("first attempt, extension PUT lost: %v, want a retryable error that keeps the VM", err)
	}
	st := e.state()
	if len(st.VMs) != 1 {
		t.Fatalf("the VM of the first attempt: %+v", st.VMs)
	}
	inst, err := p.Create(e.ctx, nc, claim, e.instanceTypes(nc))
	if err != nil {
		t.Fatalf("second attempt: %v", err)
	}
	if inst.Name != st.VMs[0].Name {
		t.Errorf("adopted %s, want the first attempt's %s", inst.Name, st.VMs[0].Name)
	}
	waitExtension(t, e, inst.Name, windowsExtension, "CustomScriptExtension")
}
