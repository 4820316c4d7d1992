package azuresim_test

import (
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
)

// A VM's NIC and managed OS disk go with it only when their deleteOption
// says Delete; Azure's default, Detach, leaves them behind.
func TestDeleteOptions(t *testing.T) {
	for _, tc := range []struct {
		name              string
		nicOpt            *armcompute.DeleteOptions
		diskOpt           *armcompute.DiskDeleteOptionTypes
		ephemeral         bool
		wantNIC, wantDisk bool
	}{
		{name: "delete both", nicOpt: lo.ToPtr(armcompute.DeleteOptionsDelete), diskOpt: lo.ToPtr(armcompute.DiskDeleteOptionTypesDelete)},
		{name: "defaults detach", wantNIC: true, wantDisk: true},
		{name: "detach explicitly", nicOpt: lo.ToPtr(armcompute.DeleteOptionsDetach), diskOpt: lo.ToPtr(armcompute.DiskDeleteOptionTypesDetach), wantNIC: true, wantDisk: true},
		{name: "ephemeral disk has no managed disk", nicOpt: lo.ToPtr(armcompute.DeleteOptionsDelete), ephemeral: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			subnet := e.network("eastus", "10.1.0.0/24")
			nic, err := e.createNIC("vm1-nic", "eastus", subnet)
			if err != nil {
				t.Fatal(err)
			}
			spec := vmSpec{name: "vm1", size: "Standard_D4s_v3", location: "eastus", zone: "1", diskGB: 40}
			if tc.ephemeral {
				spec.ephemeral = armcompute.DiffDiskPlacementCacheDisk
			}
			body := e.vmBody(spec, *nic.ID)
			body.Properties.StorageProfile.OSDisk.DeleteOption = tc.diskOpt
			body.Properties.StorageProfile.OSDisk.Name = lo.ToPtr("vm1-osdisk")
			if tc.nicOpt != nil {
				body.Properties.NetworkProfile.NetworkInterfaces[0].Properties = &armcompute.NetworkInterfaceReferenceProperties{DeleteOption: tc.nicOpt}
			}
			p, err := e.vms.BeginCreateOrUpdate(e.ctx, testRG, "vm1", body, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.PollUntilDone(e.ctx, lroPoll); err != nil {
				t.Fatal(err)
			}
			st := e.srv.Snapshot()
			if got := len(st.Disks); got != lo.Ternary(tc.ephemeral, 0, 1) {
				t.Fatalf("%d managed disks while the VM runs, want %d", got, lo.Ternary(tc.ephemeral, 0, 1))
			}
			if err := e.deleteVM("vm1"); err != nil {
				t.Fatal(err)
			}
			st = e.srv.Snapshot()
			if got := len(st.NICs) == 1; got != tc.wantNIC {
				t.Errorf("NIC left after the VM: %t, want %t", got, tc.wantNIC)
			}
			if got := len(st.Disks) == 1; got != tc.wantDisk {
				t.Errorf("OS disk left after the VM: %t, want %t", got, tc.wantDisk)
			}
			for _, sn := range st.Subnets {
				if want := lo.Ternary(tc.wantNIC, 1, 0); sn.Used != want {
					t.Errorf("subnet uses %d IPs after the VM went, want %d", sn.Used, want)
				}
			}
		})
	}
}

func TestHostGroupPlacement(t *testing.T) {
	e := newEnv(t)
	subnet := e.network("eastus", "10.1.0.0/24")
	hg := "/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.Compute/hostGroups/hosts"
	create := func(name string, spot bool) error {
		nic, err := e.createNIC(name+"-nic", "eastus", subnet)
		if err != nil {
			t.Fatal(err)
		}
		body := e.vmBody(vmSpec{name: name, size: "Standard_D4s_v3", location: "eastus", zone: "1", spot: spot}, *nic.ID)
		body.Properties.HostGroup = &armcompute.SubResource{ID: lo.ToPtr(hg)}
		p, err := e.vms.BeginCreateOrUpdate(e.ctx, testRG, name, body, nil)
		if err != nil {
			return err
		}
		_, err = p.PollUntilDone(e.ctx, lroPoll)
		return err
	}
	if err := create("missing-group", false); err == nil || respErr(t, err).StatusCode != http.StatusNotFound {
		t.Fatalf("VM on a host group that does not exist: %v, want 404", err)
	}
	put := func(auto bool) {
		status, _, body := e.raw(http.MethodPut, hg+"?api-version=2025-04-01",
			`{"location":"eastus","zones":["1"],"properties":{"platformFaultDomainCount":1,"supportAutomaticPlacement":`+lo.Ternary(auto, "true", "false")+`}}`,
			map[string]string{"Authorization": "Bearer x", "Content-Type": "application/json"})
		if status >= 300 {
			t.Fatalf("PUT host group: %d %s", status, body)
		}
	}
	put(false)
	if err := create("manual-group", false); err == nil || respErr(t, err).ErrorCode != "InvalidParameter" {
		t.Fatalf("VM on a host group without automatic placement: %v, want InvalidParameter", err)
	}
	// The failure dump of an e2e spec shows recent requests with their codes.
	var logged []azuresim.Request
	if e.admin(http.MethodGet, "/admin/requests?limit=5", "", &logged) != http.StatusOK ||
		!lo.ContainsBy(logged, func(r azuresim.Request) bool {
			return r.Operation == azuresim.OpPutVM && r.ErrorCode == "InvalidParameter"
		}) {
		t.Fatalf("recent requests %+v lack the refused PutVM", logged)
	}
	put(true)
	if err := create("spot-on-host", true); err == nil {
		t.Fatal("a spot VM was placed on a dedicated host group")
	}
	if err := create("on-host", false); err != nil {
		t.Fatal(err)
	}
	vm, ok := lo.Find(e.srv.Snapshot().VMs, func(v azuresim.VMState) bool { return v.Name == "on-host" })
	if !ok || vm.HostGroup != hg {
		t.Fatalf("VM state %+v, want host group %s", vm, hg)
	}
}
