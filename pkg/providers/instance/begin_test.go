package instance_test

import (
	"testing"
	"time"

	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instance"
)

// slowVMs makes a VM take about 3 wall seconds to provision (at the
// tests' time scale of 0.001): long enough that a BeginCreate that waited
// for it could not go unnoticed.
func slowVMs(c *azuresim.Config) {
	c.Latency.VMCreate = azuresim.Latency{Distribution: "constant", Mean: azuresim.Duration{Duration: 50 * time.Minute}}
}

func vmState(e *env, name string) (azuresim.VMState, bool) {
	for _, v := range e.state().VMs {
		if v.Name == name {
			return v, true
		}
	}
	return azuresim.VMState{}, false
}

// BeginCreate returns the VM as Azure accepted it, with everything a
// NodeClaim needs, while it is still being created; its Launch then
// returns the same VM provisioned.
func TestBeginCreateReturnsOnceAzureAccepts(t *testing.T) {
	e := newEnv(t, slowVMs)
	nc := nodeClass(nil)
	claim := nodeClaim([]string{"Standard_D2s_v5"}, []string{onDemand})
	inst, launch, err := e.provider.BeginCreate(e.ctx, nc, claim, e.instanceTypes(nc))
	if err != nil {
		t.Fatal(err)
	}
	if launch == nil {
		t.Fatal("no Launch for a VM being created")
	}
	vm, ok := vmState(e, inst.Name)
	if !ok || vm.ProvisioningState != "Creating" {
		t.Fatalf("BeginCreate returned with the VM in state %q (found %v), want it still Creating", vm.ProvisioningState, ok)
	}
	if inst.ProvisioningState != instance.StateCreating || inst.ProviderID == "" || inst.InstanceType != "Standard_D2s_v5" ||
		inst.Zone == "" || inst.CapacityType != onDemand || inst.ImageID == "" || inst.NodeImageVersion == "" || len(inst.Labels) == 0 {
		t.Fatalf("accepted instance lacks what a NodeClaim needs: %+v", inst)
	}
	done, err := launch.Wait(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if done.ProvisioningState != instance.StateSucceeded || done.ProviderID != inst.ProviderID || done.Zone != inst.Zone ||
		done.InstanceType != inst.InstanceType || done.ImageID != inst.ImageID || done.NodeImageVersion != inst.NodeImageVersion {
		t.Fatalf("provisioned instance %+v differs from the accepted one %+v", done, inst)
	}
	if again, err := launch.Wait(e.ctx); err != nil || again != done {
		t.Fatalf("a second Wait returned %v, %v; want the first result", again, err)
	}

	// A retry of the same NodeClaim while its VM is being created adopts
	// that VM and follows it: one VM, never two.
	claim2 := nodeClaim([]string{"Standard_D2s_v5"}, []string{onDemand})
	first, _, err := e.provider.BeginCreate(e.ctx, nc, claim2, e.instanceTypes(nc))
	if err != nil {
		t.Fatal(err)
	}
	adopted, launch2, err := e.provider.BeginCreate(e.ctx, nc, claim2, e.instanceTypes(nc))
	if err != nil {
		t.Fatal(err)
	}
	if launch2 == nil || adopted.ProviderID != first.ProviderID || len(adopted.Labels) == 0 {
		t.Fatalf("retry: launch %v, instance %+v; want the first VM adopted and followed", launch2, adopted)
	}
	if got, err := launch2.Wait(e.ctx); err != nil || got.ProvisioningState != instance.StateSucceeded || len(got.Labels) == 0 {
		t.Fatalf("following the adopted VM: %+v, %v", got, err)
	}
	if n := len(e.state().VMs); n != 2 {
		t.Fatalf("%d VMs, want 2", n)
	}
}

// An allocation failure arrives after Azure accepted the VM: the Launch
// reports it as a failed launch, with the VM and NIC removed and the
// offering marked unavailable, and as the same InsufficientCapacityError
// Create returns.
func TestLaunchFailedAfterAccept(t *testing.T) {
	e := newEnv(t, func(c *azuresim.Config) {
		c.Errors = []azuresim.ErrorRule{{Operation: azuresim.OpPutVM, Code: "ZonalAllocationFailed", Async: true, Count: 1}}
	})
	nc := nodeClass(nil)
	inst, launch, err := e.provider.BeginCreate(e.ctx, nc, nodeClaim([]string{"Standard_D2s_v5"}, []string{onDemand}), e.instanceTypes(nc))
	if err != nil {
		t.Fatalf("the PUT was accepted, so BeginCreate must succeed: %v", err)
	}
	_, err = launch.Wait(e.ctx)
	if !instance.IsLaunchFailed(err) || !cloudprovider.IsInsufficientCapacityError(err) {
		t.Fatalf("Wait = %v; want a failed launch that is an InsufficientCapacityError", err)
	}
	e.expectUnavailable("Standard_D2s_v5", inst.Zone, onDemand, true)
	if st := e.state(); len(st.VMs) != 0 || len(st.NICs) != 0 {
		t.Fatalf("left %d VMs and %d NICs after a failed launch", len(st.VMs), len(st.NICs))
	}
}

// A Launch that runs out of time is not a failed launch: the VM is still
// being created and may come up, so nothing is removed.
func TestLaunchTimeoutIsNotAFailure(t *testing.T) {
	e := newEnv(t, slowVMs)
	e.opts.CreateTimeout = time.Second
	e.provider = instance.NewDefaultProviderFromClients(e.opts, e.clients, e.skus, e.launch, e.cache, e.quota)
	nc := nodeClass(nil)
	inst, launch, err := e.provider.BeginCreate(e.ctx, nc, nodeClaim([]string{"Standard_D2s_v5"}, []string{onDemand}), e.instanceTypes(nc))
	if err != nil {
		t.Fatal(err)
	}
	_, err = launch.Wait(e.ctx)
	if err == nil || instance.IsLaunchFailed(err) {
		t.Fatalf("Wait = %v; want a timeout that is not a failed launch", err)
	}
	if vm, ok := vmState(e, inst.Name); !ok || vm.ProvisioningState != "Creating" {
		t.Fatalf("the VM must be left creating: found %v, state %q", ok, vm.ProvisioningState)
	}
}

// A VM deleted while being created (its NodeClaim deleted first) ends its
// launch, but is no failure of the offering: nothing is marked.
func TestLaunchOfADeletedVMIsNotAFailure(t *testing.T) {
	e := newEnv(t, slowVMs)
	nc := nodeClass(nil)
	inst, launch, err := e.provider.BeginCreate(e.ctx, nc, nodeClaim([]string{"Standard_D2s_v5"}, []string{onDemand}), e.instanceTypes(nc))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.provider.Delete(e.ctx, inst.Name); err != nil {
		t.Fatal(err)
	}
	_, err = launch.Wait(e.ctx)
	if err == nil || instance.IsLaunchFailed(err) {
		t.Fatalf("Wait = %v; want an error that is not a failed launch", err)
	}
	e.expectUnavailable("Standard_D2s_v5", inst.Zone, onDemand, false)
}
