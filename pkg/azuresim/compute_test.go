package azuresim_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
	"github.com/azkarpenter/azkarpenter/pkg/test/poll"
)

func TestVMLifecycleThroughSDK(t *testing.T) {
	e := newEnv(t, withPageSize(2))
	subnet := e.network("eastus", "10.1.0.0/24")

	vm := e.mustCreateVM(vmSpec{name: "node-a", size: "Standard_D2s_v3", location: "eastus", zone: "2"}, subnet)
	if got := lo.FromPtr(vm.Properties.ProvisioningState); got != "Succeeded" {
		t.Fatalf("provisioningState %q after PollUntilDone", got)
	}
	if vm.Properties.VMID == nil || vm.Properties.OSProfile.CustomData != nil {
		t.Errorf("want vmId set and customData withheld, got %+v", vm.Properties)
	}

	got, err := e.vms.Get(e.ctx, testRG, "node-a", &armcompute.VirtualMachinesClientGetOptions{Expand: lo.ToPtr(armcompute.InstanceViewTypesInstanceView)})
	if err != nil {
		t.Fatal(err)
	}
	codes := lo.Map(got.Properties.InstanceView.Statuses, func(s *armcompute.InstanceViewStatus, _ int) string { return *s.Code })
	if !lo.Contains(codes, "ProvisioningState/succeeded") || !lo.Contains(codes, "PowerState/running") {
		t.Errorf("instance view statuses %v", codes)
	}
	if *got.Zones[0] != "2" || *got.Properties.HardwareProfile.VMSize != "Standard_D2s_v3" {
		t.Errorf("zone/size not echoed: %v %v", *got.Zones[0], *got.Properties.HardwareProfile.VMSize)
	}

	nic, err := e.nics.Get(e.ctx, testRG, "node-a-nic", nil)
	if err != nil {
		t.Fatal(err)
	}
	if nic.Properties.VirtualMachine == nil || !strings.EqualFold(*nic.Properties.VirtualMachine.ID, *vm.ID) {
		t.Errorf("NIC not attached to VM: %+v", nic.Properties.VirtualMachine)
	}
	if ip := *nic.Properties.IPConfigurations[0].Properties.PrivateIPAddress; ip != "10.1.0.4" {
		t.Errorf("first NIC got %s, want 10.1.0.4 (Azure reserves .0-.3)", ip)
	}
	sn, err := e.subnets.Get(e.ctx, testRG, "vnet", "nodes", nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sn.Properties.IPConfigurations); n != 1 {
		t.Errorf("subnet shows %d IP configurations, want 1", n)
	}

	// Deleting an attached NIC is refused as in Azure.
	np, err := e.nics.BeginDelete(e.ctx, testRG, "node-a-nic", nil)
	if err == nil {
		_, err = np.PollUntilDone(e.ctx, lroPoll)
	}
	if re := respErr(t, err); re.ErrorCode != "NicInUse" || re.StatusCode != http.StatusBadRequest {
		t.Errorf("deleting attached NIC: %d %s", re.StatusCode, re.ErrorCode)
	}

	for i := range 4 {
		e.mustCreateVM(vmSpec{name: fmt.Sprintf("node-%d", i), size: "Standard_D4s_v3", location: "eastus", zone: "1"}, subnet)
	}
	var names []string
	poll.Until(t, 10*time.Second, "all VMs listed", func() bool {
		names = nil
		pager := e.vms.NewListPager(testRG, nil)
		pages := 0
		for pager.More() {
			page, err := pager.NextPage(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, v := range page.Value {
				names = append(names, *v.Name)
			}
		}
		if len(names) == 5 && pages != 3 {
			t.Fatalf("5 VMs in %d pages with page size 2", pages)
		}
		return len(names) == 5
	})
	all := 0
	allPager := e.vms.NewListAllPager(nil)
	for allPager.More() {
		page, err := allPager.NextPage(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		all += len(page.Value)
	}
	if all != 5 {
		t.Errorf("ListAll found %d VMs, want 5", all)
	}

	usage := map[string]int32{}
	up := e.usages.NewListPager("eastus", nil)
	for up.More() {
		page, err := up.NextPage(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range page.Value {
			usage[*u.Name.Value] = *u.CurrentValue
		}
	}
	if usage["standardDSv3Family"] != 2+4*4 || usage["cores"] != 18 || usage["virtualMachines"] != 5 {
		t.Errorf("usages: DSv3 %d cores %d vms %d", usage["standardDSv3Family"], usage["cores"], usage["virtualMachines"])
	}

	if err := e.deleteVM("node-a"); err != nil {
		t.Fatal(err)
	}
	_, err = e.vms.Get(e.ctx, testRG, "node-a", nil)
	if re := respErr(t, err); re.StatusCode != http.StatusNotFound || re.ErrorCode != "ResourceNotFound" {
		t.Errorf("GET after delete: %d %s", re.StatusCode, re.ErrorCode)
	}
	// Deleting again is a no-op success (204), and the NIC is now free to go.
	if err := e.deleteVM("node-a"); err != nil {
		t.Errorf("second delete: %v", err)
	}
	np, err = e.nics.BeginDelete(e.ctx, testRG, "node-a-nic", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := np.PollUntilDone(e.ctx, lroPoll); err != nil {
		t.Fatal(err)
	}
	if _, err := e.nics.Get(e.ctx, testRG, "node-a-nic", nil); respErr(t, err).StatusCode != http.StatusNotFound {
		t.Error("NIC still there after delete")
	}
}

func TestResourceSKUsPager(t *testing.T) {
	e := newEnv(t)
	cat := catalog.Default()
	for _, region := range []string{"eastus", "westcentralus"} {
		pager := e.skus.NewListPager(&armcompute.ResourceSKUsClientListOptions{Filter: lo.ToPtr("location eq '" + region + "'")})
		var skus []*armcompute.ResourceSKU
		pages := 0
		for pager.More() {
			page, err := pager.NextPage(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			skus = append(skus, page.Value...)
		}
		want := lo.CountBy(cat.SKUs, func(s *catalog.SKU) bool { _, ok := s.LinuxOnDemandUSD[region]; return ok })
		if len(skus) != want || pages < 2 {
			t.Errorf("%s: %d SKUs in %d pages, want %d over several pages", region, len(skus), pages, want)
		}
		byName := lo.KeyBy(skus, func(s *armcompute.ResourceSKU) string { return *s.Name })
		d2 := byName["Standard_D2s_v3"]
		if d2 == nil || *d2.Family != "standardDSv3Family" || *d2.LocationInfo[0].Location != region {
			t.Fatalf("%s: Standard_D2s_v3 missing or wrong: %+v", region, d2)
		}
		zones := len(d2.LocationInfo[0].Zones)
		if (region == "westcentralus") != (zones == 0) {
			t.Errorf("%s: D2s_v3 has %d zones", region, zones)
		}
		if region == "eastus" {
			nc := byName["Standard_NC24ads_A100_v4"]
			if nc == nil || len(nc.Restrictions) != 1 || *nc.Restrictions[0].Type != armcompute.ResourceSKURestrictionsTypeZone {
				t.Errorf("eastus NC24ads_A100_v4 should carry a zone restriction: %+v", nc)
			}
		}
	}
}

func TestVMCreateFailures(t *testing.T) {
	e := newEnv(t, noRetries(), withConfig(func(c *azuresim.Config) {
		c.Quota = azuresim.QuotaConfig{RegionalLimit: 20, DefaultFamilyLimit: 100, LowPriorityLimit: 4,
			Families: []azuresim.FamilyQuota{{Location: "eastus", Family: "standardDSv3Family", Limit: 4}}}
		c.Capacity = []azuresim.CapacityRule{
			{SKU: "Standard_F4s_v2", Location: "eastus", Zone: "3", Count: 0},
			{SKU: "Standard_F8s_v2", Location: "westcentralus", Count: 0},
		}
		c.Errors = []azuresim.ErrorRule{
			{Operation: azuresim.OpPutVM, SKU: "Standard_E2s_v5", Code: "OverconstrainedZonalAllocationRequest", Async: true, Count: 1},
			{Operation: azuresim.OpPutVM, SKU: "Standard_E4s_v5", Code: "InternalServerError", Count: 1},
		}
	}))
	subnet := e.network("eastus", "10.2.0.0/24")
	e.mustCreateVM(vmSpec{name: "ds-1", size: "Standard_D2s_v3", location: "eastus", zone: "1"}, subnet)
	e.mustCreateVM(vmSpec{name: "ds-2", size: "Standard_D2s_v3", location: "eastus", zone: "1"}, subnet)

	cases := []struct {
		name, wantCode, wantMsg string
		spec                    vmSpec
		async                   bool
		wantStatus              int
	}{
		{name: "family quota", spec: vmSpec{size: "Standard_D2s_v3", zone: "1"}, wantCode: "OperationNotAllowed", wantStatus: 409,
			wantMsg: "exceeding approved standardDSv3Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: eastus, Current Limit: 4, Current Usage: 4, Additional Required: 2"},
		{name: "regional quota", spec: vmSpec{size: "Standard_E32s_v5", zone: "1"}, wantCode: "OperationNotAllowed", wantStatus: 409,
			wantMsg: "exceeding approved Total Regional Cores quota. Additional details - Deployment Model: Resource Manager, Location: eastus, Current Limit: 20, Current Usage: 4, Additional Required: 32"},
		{name: "spot quota", spec: vmSpec{size: "Standard_E8s_v5", zone: "1", spot: true}, wantCode: "OperationNotAllowed", wantStatus: 409,
			wantMsg: "exceeding approved LowPriorityCores quota. Additional details - Deployment Model: Resource Manager, Location: eastus, Current Limit: 4, Current Usage: 0, Additional Required: 8"},
		{name: "zone restriction", spec: vmSpec{size: "Standard_NC24ads_A100_v4", zone: "3"}, wantCode: "SkuNotAvailable", wantStatus: 409, wantMsg: "is currently not available in location 'eastus' zones '3' for subscription"},
		{name: "region restriction", spec: vmSpec{size: "Standard_M8ms", location: "westus2"}, wantCode: "SkuNotAvailable", wantStatus: 409, wantMsg: "not available in location 'westus2' zones '' for subscription"},
		{name: "zone in zoneless region", spec: vmSpec{size: "Standard_D2s_v5", location: "westcentralus", zone: "1"}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "unknown size", spec: vmSpec{size: "Standard_Z9_v9", zone: "1"}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "spot on burstable", spec: vmSpec{size: "Standard_B2s", zone: "1", spot: true}, wantCode: "OperationNotAllowed", wantStatus: 409},
		{name: "ephemeral too big for cache", spec: vmSpec{size: "Standard_DS2_v2", zone: "1", diskGB: 100, ephemeral: armcompute.DiffDiskPlacementCacheDisk}, wantCode: "InvalidParameter", wantStatus: 400,
			wantMsg: "greater than 86 GB is not allowed for VM size Standard_DS2_v2"},
		{name: "injected 500", spec: vmSpec{size: "Standard_E4s_v5", zone: "1"}, wantCode: "InternalServerError", wantStatus: 500},
		{name: "zonal capacity", spec: vmSpec{size: "Standard_F4s_v2", zone: "3"}, async: true, wantCode: "ZonalAllocationFailed",
			wantMsg: "We do not have sufficient capacity for the requested VM size in this zone."},
		{name: "regional capacity", spec: vmSpec{size: "Standard_F8s_v2", location: "westcentralus"}, async: true, wantCode: "AllocationFailed"},
		{name: "injected async", spec: vmSpec{size: "Standard_E2s_v5", zone: "2"}, async: true, wantCode: "OverconstrainedZonalAllocationRequest"},
	}
	wcusSubnet := ""
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.name = fmt.Sprintf("fail-%d", i)
			tc.spec.location = lo.CoalesceOrEmpty(tc.spec.location, "eastus")
			sn := subnet
			if tc.spec.location != "eastus" {
				// NICs must live in the VM's region.
				if wcusSubnet == "" || !strings.Contains(wcusSubnet, tc.spec.location) {
					p, _ := e.vnets.BeginCreateOrUpdate(e.ctx, testRG, "vnet-"+tc.spec.location, vnetBody(tc.spec.location), nil)
					if _, err := p.PollUntilDone(e.ctx, lroPoll); err != nil {
						t.Fatal(err)
					}
					wcusSubnet = subnetID("vnet-"+tc.spec.location, "nodes")
				}
				sn = wcusSubnet
			}
			_, putErr, pollErr := e.createVM(tc.spec, sn)
			err := lo.Ternary(tc.async, pollErr, putErr)
			if tc.async && putErr != nil {
				t.Fatalf("PUT should be accepted, got %v", putErr)
			}
			if err == nil {
				t.Fatal("want an error")
			}
			re := respErr(t, err)
			if re.ErrorCode != tc.wantCode || (tc.wantStatus != 0 && re.StatusCode != tc.wantStatus) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("got %d %s: %v", re.StatusCode, re.ErrorCode, err)
			}
			if tc.async {
				got, err := e.vms.Get(e.ctx, testRG, tc.spec.name, nil)
				if err != nil || *got.Properties.ProvisioningState != "Failed" {
					t.Errorf("VM after async failure: %v %v", err, got.Properties)
				}
			}
		})
	}
	// Failed VMs hold no quota and can be deleted.
	if err := e.deleteVM("fail-10"); err != nil {
		t.Error(err)
	}
}

func TestConcurrentCreatesRespectQuota(t *testing.T) {
	e := newEnv(t, withConfig(func(c *azuresim.Config) {
		c.Quota.Families = []azuresim.FamilyQuota{{Family: "standardDSv5Family", Limit: 20}}
	}))
	subnet := e.network("eastus", "10.3.0.0/24")
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, quota := 0, 0
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, putErr, pollErr := e.createVM(vmSpec{name: fmt.Sprintf("c-%d", i), size: "Standard_D2s_v5", location: "eastus", zone: fmt.Sprint(i%3 + 1)}, subnet)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case putErr == nil && pollErr == nil:
				ok++
			case putErr != nil && strings.Contains(putErr.Error(), "standardDSv5Family Cores quota"):
				quota++
			default:
				t.Errorf("unexpected: %v %v", putErr, pollErr)
			}
		}()
	}
	wg.Wait()
	if ok != 10 || quota != 6 {
		t.Errorf("%d created, %d refused for quota; want 10 and 6", ok, quota)
	}
	st := e.srv.Snapshot()
	if len(st.VMs) != 10 || st.Usage[0].Families["standarddsv5family"] != 20 {
		t.Errorf("state: %d VMs, usage %+v", len(st.VMs), st.Usage)
	}
}

func TestIdempotentPut(t *testing.T) {
	e := newEnv(t)
	subnet := e.network("eastus", "10.4.0.0/24")
	vm := e.mustCreateVM(vmSpec{name: "same", size: "Standard_D2s_v5", location: "eastus", zone: "1"}, subnet)
	body := e.vmBody(vmSpec{name: "same", size: "Standard_D2s_v5", location: "eastus", zone: "1"}, *vm.Properties.NetworkProfile.NetworkInterfaces[0].ID)
	p, err := e.vms.BeginCreateOrUpdate(e.ctx, testRG, "same", body, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := p.PollUntilDone(e.ctx, lroPoll)
	if err != nil {
		t.Fatal(err)
	}
	if *again.Properties.VMID != *vm.Properties.VMID || len(e.srv.Snapshot().VMs) != 1 {
		t.Error("re-PUT created a second VM")
	}
}
