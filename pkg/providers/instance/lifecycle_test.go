package instance_test

import (
	"context"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/samber/lo"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instance"
	"github.com/azkarpenter/azkarpenter/pkg/test/poll"
)

// crashAfterPut cancels the create's context as soon as ARM accepted the VM
// PUT, as a controller crash between PUT and polling would.
type crashAfterPut struct {
	instance.VirtualMachinesAPI
	cancel context.CancelFunc
	puts   int
}

func (c *crashAfterPut) BeginCreateOrUpdate(ctx context.Context, rg, name string, vm armcompute.VirtualMachine, o *armcompute.VirtualMachinesClientBeginCreateOrUpdateOptions) (*runtime.Poller[armcompute.VirtualMachinesClientCreateOrUpdateResponse], error) {
	c.puts++
	p, err := c.VirtualMachinesAPI.BeginCreateOrUpdate(ctx, rg, name, vm, o)
	c.cancel()
	return p, err
}

func TestLifecycle(t *testing.T) {
	w := newWorld(t)

	t.Run("crash between PUT and poll, then retry", func(t *testing.T) {
		e := w.env(t, nil)
		nc := nodeClass(nil)
		its := e.instanceTypes(nc)
		claim := nodeClaim([]string{"Standard_D2s_v5"}, []string{karpv1.CapacityTypeOnDemand})
		ctx, cancel := context.WithCancel(e.ctx)
		vms := &crashAfterPut{VirtualMachinesAPI: e.clients.Compute.NewVirtualMachinesClient(), cancel: cancel}
		crashing := instance.NewDefaultProvider(e.opts, vms, e.clients.Network.NewInterfacesClient(), e.clients.Compute.NewVirtualMachineExtensionsClient(), nil, e.skus, e.launch, e.cache, e.quota)
		if _, err := crashing.Create(ctx, nc, claim, its); err == nil || vms.puts != 1 {
			t.Fatalf("Create with a crash after the PUT = %v (%d PUTs)", err, vms.puts)
		}
		if n := len(e.state().VMs); n != 1 {
			t.Fatalf("%d VMs after the accepted PUT", n)
		}
		// The restarted controller creates the same NodeClaim again.
		inst, err := e.provider.Create(e.ctx, nc, claim, its)
		if err != nil {
			t.Fatal(err)
		}
		st := e.state()
		if len(st.VMs) != 1 || len(st.NICs) != 1 || st.VMs[0].Name != inst.Name || inst.ProvisioningState != "Succeeded" {
			t.Fatalf("after the retry: %d VMs, %d NICs, instance %+v", len(st.VMs), len(st.NICs), inst)
		}
		if stats := e.sim.Stats(); stats.Operations[azuresim.OpPutVM].Requests != 1 {
			t.Errorf("%d VM PUTs, want 1: the retry must adopt the VM", stats.Operations[azuresim.OpPutVM].Requests)
		}
	})

	t.Run("failed VM of an earlier attempt is replaced", func(t *testing.T) {
		e := w.env(t, func(c *azuresim.Config) {
			c.Errors = []azuresim.ErrorRule{{Operation: azuresim.OpPutVM, Code: "AllocationFailed", Async: true, Count: 1}}
		})
		nc := nodeClass(nil)
		its := e.instanceTypes(nc)
		claim := nodeClaim([]string{"Standard_D2s_v5", "Standard_D2s_v3"}, []string{karpv1.CapacityTypeOnDemand})
		// An earlier controller created the VM, which then failed, and
		// crashed before cleaning up.
		if err := e.foreignVM(instance.VMName(claim.Name), map[string]*string{instance.TagCluster: to.Ptr(clusterName)}); err == nil {
			t.Fatal("injected allocation failure did not fire")
		}
		poll.Until(e.t, 5*time.Second, "VM failed", func() bool { st := e.state(); return len(st.VMs) == 1 && st.VMs[0].ProvisioningState == "Failed" })
		inst, err := e.provider.Create(e.ctx, nc, claim, its)
		if err != nil {
			t.Fatal(err)
		}
		st := e.state()
		// Updating: the provisioning extension Create started still runs.
		if len(st.VMs) != 1 || !lo.Contains([]string{"Succeeded", "Updating"}, st.VMs[0].ProvisioningState) || st.VMs[0].Name != inst.Name || len(st.NICs) != 1 || inst.InstanceType != "Standard_D2s_v3" {
			t.Fatalf("after replacing the failed VM: %+v, instance %s", st, inst.InstanceType)
		}
		// The failure was remembered: the size is avoided everywhere for an hour.
		if reason := e.cache.Unavailable(e.offering(e.sku("Standard_D2s_v5"), "eastus-2", karpv1.CapacityTypeOnDemand)); reason == "" {
			t.Error("the earlier AllocationFailed was not recorded")
		}
	})

	t.Run("delete", func(t *testing.T) {
		e := w.env(t, nil)
		if err := e.provider.Delete(e.ctx, "aks-missing"); !instance.IsNotFound(err) {
			t.Fatalf("Delete of a missing VM = %v, want not found", err)
		}
		if _, err := e.provider.Get(e.ctx, "aks-missing"); !instance.IsNotFound(err) {
			t.Fatalf("Get of a missing VM = %v, want not found", err)
		}
		nc := nodeClass(nil)
		inst, err := e.provider.Create(e.ctx, nc, nodeClaim([]string{"Standard_D2s_v5"}, []string{karpv1.CapacityTypeOnDemand}), e.instanceTypes(nc))
		if err != nil {
			t.Fatal(err)
		}
		// Delete returns once deletion started; core calls it until the VM is gone.
		calls := 0
		for {
			calls++
			err := e.provider.Delete(e.ctx, inst.Name)
			if instance.IsNotFound(err) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if calls > 100 {
				t.Fatal("VM never went away")
			}
		}
		poll.Until(e.t, 5*time.Second, "VM and NIC gone", func() bool { st := e.state(); return len(st.VMs) == 0 && len(st.NICs) == 0 })
		if st := e.sim.Stats(); st.Operations[azuresim.OpDeleteVM].Requests != 1 {
			t.Errorf("%d VM DELETEs for one deletion", st.Operations[azuresim.OpDeleteVM].Requests)
		}
	})

	t.Run("list owned VMs and NICs", func(t *testing.T) {
		e := w.env(t, func(c *azuresim.Config) { c.ListDelay = azuresim.Duration{} })
		nc := nodeClass(nil)
		its := e.instanceTypes(nc)
		var ours []string
		for range 3 {
			inst, err := e.provider.Create(e.ctx, nc, nodeClaim([]string{"Standard_D2s_v5"}, []string{karpv1.CapacityTypeOnDemand}), its)
			if err != nil {
				t.Fatal(err)
			}
			ours = append(ours, inst.Name)
		}
		for name, tags := range map[string]map[string]*string{"other-cluster-vm": {instance.TagCluster: to.Ptr("another-cluster")}, "untagged-vm": nil} {
			if err := e.foreignVM(name, tags); err != nil {
				t.Fatal(err)
			}
		}
		list, err := e.provider.List(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, i := range list {
			got[i.Name] = true
			if i.NodePool != "general" || i.ProviderID == "" || i.InstanceType != "Standard_D2s_v5" {
				t.Errorf("listed %+v", i)
			}
		}
		if len(list) != 3 || !got[ours[0]] || !got[ours[1]] || !got[ours[2]] {
			t.Fatalf("List = %v, want exactly %v", got, ours)
		}

		// An orphaned NIC (its VM creation never happened) is listed and deleted.
		np, err := e.clients.Network.NewInterfacesClient().BeginCreateOrUpdate(e.ctx, rg, "aks-orphan", armnetwork.Interface{
			Location: to.Ptr(region), Tags: map[string]*string{instance.TagCluster: to.Ptr(clusterName), instance.TagNodeClaim: to.Ptr("orphan")},
			Properties: &armnetwork.InterfacePropertiesFormat{IPConfigurations: []*armnetwork.InterfaceIPConfiguration{{
				Name: to.Ptr("ipconfig1"), Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{Subnet: &armnetwork.Subnet{ID: to.Ptr(subnetID)}},
			}}},
		}, nil)
		if err == nil {
			_, err = np.PollUntilDone(e.ctx, lroPoll)
		}
		if err != nil {
			t.Fatal(err)
		}
		nics, err := e.provider.ListNICs(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		orphans := 0
		for _, n := range nics {
			if n.VMID == "" {
				orphans++
				if n.Name != "aks-orphan" || n.NodeClaim != "orphan" {
					t.Errorf("orphan %+v", n)
				}
			} else if n.CreationTime.IsZero() {
				t.Errorf("NIC %s has no creation time", n.Name)
			}
		}
		if len(nics) != 4 || orphans != 1 {
			t.Fatalf("ListNICs: %d NICs, %d orphans; want 4 and 1", len(nics), orphans)
		}
		if err := e.provider.DeleteNIC(e.ctx, "aks-orphan"); err != nil {
			t.Fatal(err)
		}
		poll.Until(e.t, 5*time.Second, "orphan NIC gone", func() bool { return len(e.state().NICs) == 5 }) // 3 ours + 2 foreign
		if err := e.provider.DeleteNIC(e.ctx, "aks-orphan"); !instance.IsNotFound(err) {
			t.Fatalf("DeleteNIC of a missing NIC = %v", err)
		}
	})
}

func TestProviderID(t *testing.T) {
	pid := instance.ProviderID("sub", "rg", "aks-x")
	if pid != "azure:///subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/aks-x" {
		t.Fatal(pid)
	}
	for _, bad := range []string{"", "aws:///x", "azure:///subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/", "azure:///subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/x"} {
		if _, _, _, err := instance.ParseProviderID(bad); err == nil {
			t.Errorf("ParseProviderID(%q) succeeded", bad)
		}
	}
	long := instance.VMName("a-very-long-nodeclaim-name-that-goes-on-and-on-and-on-beyond-the-limit-of-azure")
	if len(long) > 64 || long != instance.VMName("a-very-long-nodeclaim-name-that-goes-on-and-on-and-on-beyond-the-limit-of-azure") {
		t.Errorf("VMName of a long NodeClaim: %q", long)
	}
}

// The provisioning extension's outcome is the VM's provisioning state
// (Updating while it runs, Failed with VMExtensionProvisioningError when it
// fails). A launch finds such a VM when an earlier attempt created it: one
// still Updating is followed to its end, and one that failed is replaced;
// neither marks the offering unavailable, as the size and zone were not
// the problem.
func TestExtensionOutcomeOfAnEarlierAttempt(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		name      string
		timeScale float64
		// failedFirst waits for the extension to fail before the launch.
		failedFirst bool
	}{
		{"failed", 0.001, true},
		{"still running", 0.02, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := w.env(t, func(c *azuresim.Config) { c.TimeScale = tc.timeScale })
			nc := nodeClass(nil)
			claim := nodeClaim([]string{"Standard_D2s_v5"}, []string{karpv1.CapacityTypeOnDemand})
			name := instance.VMName(claim.Name)
			// An earlier attempt created the VM with custom data no node
			// image provisions from, started its extension and crashed.
			if err := e.foreignVMWith(name, map[string]*string{instance.TagCluster: to.Ptr(clusterName), instance.TagNodeClaim: to.Ptr(claim.Name)},
				func(vm *armcompute.VirtualMachine) {
					vm.Properties.OSProfile.CustomData = to.Ptr("bm90IGEgYm9vdHN0cmFwIGFydGlmYWN0")
				}); err != nil {
				t.Fatal(err)
			}
			exts := e.clients.Compute.NewVirtualMachineExtensionsClient()
			if _, err := exts.BeginCreateOrUpdate(e.ctx, rg, name, "cse", armcompute.VirtualMachineExtension{Location: to.Ptr(region),
				Properties: &armcompute.VirtualMachineExtensionProperties{Publisher: to.Ptr("Microsoft.Azure.Extensions"), Type: to.Ptr("CustomScript"),
					TypeHandlerVersion: to.Ptr("2.1"), ProtectedSettings: map[string]any{"commandToExecute": "true"}}}, nil); err != nil {
				t.Fatal(err)
			}
			if tc.failedFirst {
				poll.Until(e.t, 5*time.Second, "the extension to fail the VM", func() bool { st := e.state(); return len(st.VMs) == 1 && st.VMs[0].ProvisioningState == "Failed" })
			} else if st := e.state(); len(st.VMs) != 1 || st.VMs[0].ProvisioningState != "Updating" {
				t.Fatalf("the VM is not Updating while its extension runs: %+v", st.VMs)
			}
			inst, err := e.provider.Create(e.ctx, nc, claim, e.instanceTypes(nc))
			if !tc.failedFirst {
				// Followed to its failure: removed, and the launch fails
				// with the extension's code for core to retry.
				if err == nil || instance.ErrorReason(err) != "VMExtensionProvisioningError" {
					t.Fatalf("launch over a VM whose extension fails: %v (reason %s)", err, instance.ErrorReason(err))
				}
				poll.Until(e.t, 5*time.Second, "the failed VM and its NIC to be removed", func() bool { st := e.state(); return len(st.VMs) == 0 && len(st.NICs) == 0 })
				inst, err = e.provider.Create(e.ctx, nc, claim, e.instanceTypes(nc))
			}
			if err != nil {
				t.Fatalf("the launch after the failed extension: %v", err)
			}
			if st := e.state(); len(st.VMs) != 1 || st.VMs[0].Name != inst.Name || len(st.NICs) != 1 {
				t.Fatalf("after the launch: %+v", st)
			}
			if reason := e.cache.Unavailable(e.offering(e.sku("Standard_D2s_v5"), inst.Zone, karpv1.CapacityTypeOnDemand)); reason != "" {
				t.Errorf("the extension's failure marked the offering unavailable: %s", reason)
			}
		})
	}
}
