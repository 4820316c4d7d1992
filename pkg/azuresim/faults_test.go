package azuresim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/test/poll"
)

func TestSubnetIsFull(t *testing.T) {
	e := newEnv(t, withConfig(func(c *azuresim.Config) {
		c.Subnets = []azuresim.SubnetRule{{VNet: "vnet", Subnet: "nodes", AvailableIPs: 2}}
	}))
	subnet := e.network("eastus", "10.5.0.0/24")
	for i := range 2 {
		if _, err := e.createNIC(fmt.Sprintf("nic-%d", i), "eastus", subnet); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.createNIC("nic-2", "eastus", subnet)
	re := respErr(t, err)
	if re.ErrorCode != "SubnetIsFull" || re.StatusCode != http.StatusBadRequest {
		t.Errorf("third NIC: %d %s", re.StatusCode, re.ErrorCode)
	}
	pager := e.vnets.NewListUsagePager(testRG, "vnet", nil)
	page, err := pager.NextPage(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u := page.Value[0]; *u.CurrentValue != 2 || *u.Limit != 2 {
		t.Errorf("vnet usage %v/%v", *u.CurrentValue, *u.Limit)
	}
}

func TestThrottling(t *testing.T) {
	e := newEnv(t, noRetries())
	subnet := e.network("eastus", "10.6.0.0/24")
	e.mustCreateVM(vmSpec{name: "t", size: "Standard_D2s_v5", location: "eastus", zone: "1"}, subnet)
	// Changing the buckets refills them, so counting starts here.
	if err := e.srv.UpdateConfig(func(c *azuresim.Config) {
		c.Throttling.Buckets = map[string]azuresim.BucketSpec{
			azuresim.BucketGetVM:             {Size: 3, RefillPerMinute: 1},
			azuresim.BucketSubscriptionReads: {Size: 1000, RefillPerMinute: 1},
		}
	}); err != nil {
		t.Fatal(err)
	}

	path := "/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.Compute/virtualMachines/t?api-version=2025-04-01"
	auth := map[string]string{"Authorization": "Bearer any"}
	remaining := []string{}
	for range 3 {
		status, h, _ := e.raw("GET", path, "", auth)
		if status != 200 {
			t.Fatalf("GET within bucket: %d", status)
		}
		remaining = append(remaining, h.Get("x-ms-ratelimit-remaining-resource"))
		if h.Get("x-ms-ratelimit-remaining-subscription-reads") == "" {
			t.Error("missing x-ms-ratelimit-remaining-subscription-reads")
		}
	}
	if remaining[0] != "Microsoft.Compute/LowCostGet3Min;2" || remaining[2] != "Microsoft.Compute/LowCostGet3Min;0" {
		t.Errorf("remaining-resource headers %v", remaining)
	}
	_, err := e.vms.Get(e.ctx, testRG, "t", nil)
	re := respErr(t, err)
	if re.StatusCode != http.StatusTooManyRequests || re.ErrorCode != "TooManyRequests" {
		t.Fatalf("4th GET: %d %s", re.StatusCode, re.ErrorCode)
	}
	retry, _ := strconv.Atoi(re.RawResponse.Header.Get("Retry-After"))
	if retry < 1 || retry > 60 {
		t.Errorf("Retry-After %q", re.RawResponse.Header.Get("Retry-After"))
	}
	var body struct {
		Error struct {
			Details []struct{ Target, Message string }
		}
	}
	_, _, raw := e.raw("GET", path, "", auth)
	if err := json.Unmarshal([]byte(raw), &body); err != nil || len(body.Error.Details) != 1 {
		t.Fatalf("429 body %s", raw)
	}
	var group map[string]any
	if err := json.Unmarshal([]byte(body.Error.Details[0].Message), &group); err != nil || group["operationgroup"] != "LowCostGet3Min" || group["allowedrequestcount"] != 3.0 {
		t.Errorf("operation group detail %s", body.Error.Details[0].Message)
	}
	if st := e.srv.Stats().Operations[azuresim.OpGetVM]; st.Throttled != 2 || st.Requests != 6 { // 1 final GET of the create poller + 3 + 2
		t.Errorf("stats for GetVM: %+v", st)
	}

	// ARM's own subscription bucket answers with its own code.
	if err := e.srv.UpdateConfig(func(c *azuresim.Config) {
		c.Throttling.Buckets = map[string]azuresim.BucketSpec{azuresim.BucketSubscriptionWrites: {Size: 1, RefillPerMinute: 1}}
	}); err != nil {
		t.Fatal(err)
	}
	_, _ = e.createNIC("w1", "eastus", subnet)
	_, err = e.createNIC("w2", "eastus", subnet)
	if re := respErr(t, err); re.ErrorCode != "SubscriptionRequestsThrottled" || re.StatusCode != 429 {
		t.Errorf("write throttling: %d %s", re.StatusCode, re.ErrorCode)
	}
}

func TestBadRequestsAnswerARMErrors(t *testing.T) {
	e := newEnv(t)
	vmPath := "/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.Compute/virtualMachines/"
	auth := map[string]string{"Authorization": "Bearer any"}
	cases := []struct {
		name, method, path, body string
		headers                  map[string]string
		status                   int
		code                     string
	}{
		{"no token", "GET", vmPath + "x?api-version=2025-04-01", "", nil, 401, "AuthenticationFailed"},
		{"no api-version", "GET", vmPath + "x", "", auth, 400, "MissingApiVersionParameter"},
		{"bad api-version", "GET", vmPath + "x?api-version=latest", "", auth, 400, "InvalidApiVersionParameter"},
		{"missing VM", "GET", vmPath + "x?api-version=2025-04-01", "", auth, 404, "ResourceNotFound"},
		{"malformed JSON", "PUT", vmPath + "x?api-version=2025-04-01", `{"location":`, auth, 400, "InvalidRequestContent"},
		{"empty body", "PUT", vmPath + "x?api-version=2025-04-01", ``, auth, 400, "InvalidRequestContent"},
		{"wrong types", "PUT", vmPath + "x?api-version=2025-04-01", `{"location":5}`, auth, 400, "InvalidRequestContent"},
		{"no location", "PUT", vmPath + "x?api-version=2025-04-01", `{"properties":{}}`, auth, 400, "LocationRequired"},
		{"unknown location", "PUT", vmPath + "x?api-version=2025-04-01", `{"location":"marsnorth"}`, auth, 400, "LocationNotAvailableForResourceType"},
		{"no size", "PUT", vmPath + "x?api-version=2025-04-01", `{"location":"eastus","properties":{}}`, auth, 400, "InvalidParameter"},
		{"no NIC", "PUT", vmPath + "x?api-version=2025-04-01", `{"location":"eastus","properties":{"hardwareProfile":{"vmSize":"Standard_D2s_v3"}}}`, auth, 400, "InvalidParameter"},
		{"missing NIC", "PUT", vmPath + "x?api-version=2025-04-01", `{"location":"eastus","properties":{"hardwareProfile":{"vmSize":"Standard_D2s_v3"},"networkProfile":{"networkInterfaces":[{"id":"/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/networkInterfaces/n"}]}}}`, auth, 400, "InvalidResourceReference"},
		{"bad customData", "PUT", vmPath + "x?api-version=2025-04-01", `{"location":"eastus","properties":{"hardwareProfile":{"vmSize":"Standard_D2s_v3"},"osProfile":{"customData":"%%%"}}}`, auth, 400, "InvalidParameter"},
		{"two zones", "PUT", vmPath + "x?api-version=2025-04-01", `{"location":"eastus","zones":["1","2"],"properties":{"hardwareProfile":{"vmSize":"Standard_D2s_v3"}}}`, auth, 400, "InvalidParameter"},
		{"bad name", "PUT", vmPath + "bad*name?api-version=2025-04-01", `{}`, auth, 400, "InvalidResourceName"},
		{"bad skiptoken", "GET", vmPath[:len(vmPath)-1] + "?api-version=2025-04-01&$skiptoken=x", "", auth, 400, "InvalidParameter"},
		{"bad sku filter", "GET", "/subscriptions/s/providers/Microsoft.Compute/skus?api-version=2021-07-01&$filter=name%20gt%203", "", auth, 400, "InvalidFilter"},
		{"unknown path", "GET", "/subscriptions/s/providers/Microsoft.Foo/bars?api-version=2021-07-01", "", auth, 404, "InvalidResourceType"},
		{"admin without token", "GET", "/admin/state", "", nil, 401, "AuthenticationFailed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := e.raw(tc.method, tc.path, tc.body, tc.headers)
			var got struct{ Error azuresim.ARMError }
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("non-JSON error body %q", body)
			}
			if status != tc.status || got.Error.Code != tc.code || got.Error.Message == "" {
				t.Errorf("got %d %s (%s), want %d %s", status, got.Error.Code, got.Error.Message, tc.status, tc.code)
			}
		})
	}
}

func TestSpotEvictionOnCommand(t *testing.T) {
	e := newEnv(t)
	subnet := e.network("eastus", "10.7.0.0/24")
	e.mustCreateVM(vmSpec{name: "spot-del", size: "Standard_D2s_v5", location: "eastus", zone: "1", spot: true}, subnet)
	e.mustCreateVM(vmSpec{name: "spot-dealloc", size: "Standard_D2s_v5", location: "eastus", zone: "1", spot: true,
		evictionPolicy: armcompute.VirtualMachineEvictionPolicyTypesDeallocate}, subnet)
	e.mustCreateVM(vmSpec{name: "regular", size: "Standard_D2s_v5", location: "eastus", zone: "1"}, subnet)

	if st := e.admin("POST", "/admin/evict", `{"resourceGroup":"`+testRG+`","name":"regular"}`, nil); st != 400 {
		t.Errorf("evicting a regular VM: %d", st)
	}
	for _, name := range []string{"spot-del", "spot-dealloc"} {
		if st := e.admin("POST", "/admin/evict", `{"name":"`+name+`","noticePeriod":"30s"}`, nil); st != 202 {
			t.Fatalf("evict %s: %d", name, st)
		}
	}
	var state azuresim.State
	e.admin("GET", "/admin/state", "", &state)
	notices := lo.CountBy(state.VMs, func(v azuresim.VMState) bool { return v.EvictionNotBefore != nil })
	if notices != 2 {
		t.Errorf("%d VMs carry an eviction notice, want 2", notices)
	}
	poll.Until(t, 10*time.Second, "Delete-policy spot VM gone", func() bool {
		_, err := e.vms.Get(e.ctx, testRG, "spot-del", nil)
		return err != nil && respErr(t, err).StatusCode == 404
	})
	poll.Until(t, 10*time.Second, "Deallocate-policy spot VM deallocated", func() bool {
		vm, err := e.vms.Get(e.ctx, testRG, "spot-dealloc", &armcompute.VirtualMachinesClientGetOptions{Expand: lo.ToPtr(armcompute.InstanceViewTypesInstanceView)})
		return err == nil && lo.ContainsBy(vm.Properties.InstanceView.Statuses, func(s *armcompute.InstanceViewStatus) bool { return *s.Code == "PowerState/deallocated" })
	})
}

func TestRandomSpotEvictions(t *testing.T) {
	e := newEnv(t, withConfig(func(c *azuresim.Config) {
		c.Spot.EvictionRatePerHour = 1e4 // with timeScale 0.001: near-certain within a tick
		c.Spot.NoticePeriod = azuresim.Duration{Duration: 30 * time.Second}
	}))
	subnet := e.network("eastus", "10.8.0.0/24")
	e.mustCreateVM(vmSpec{name: "doomed", size: "Standard_D2s_v5", location: "eastus", zone: "1", spot: true}, subnet)
	poll.Until(t, 10*time.Second, "random eviction", func() bool {
		_, err := e.vms.Get(e.ctx, testRG, "doomed", nil)
		return err != nil
	})
}

func TestAdminAPI(t *testing.T) {
	e := newEnv(t, noRetries())
	subnet := e.network("eastus", "10.9.0.0/24")
	if st := e.admin("POST", "/admin/errors", "operation: PutVM\ncode: ZonalAllocationFailed\nasync: true\ncount: 1\n", nil); st != 204 {
		t.Fatalf("add error rule: %d", st)
	}
	_, _, pollErr := e.createVM(vmSpec{name: "a", size: "Standard_D2s_v5", location: "eastus", zone: "1"}, subnet)
	if pollErr == nil || respErr(t, pollErr).ErrorCode != "ZonalAllocationFailed" {
		t.Errorf("injected async error via admin: %v", pollErr)
	}
	if st := e.admin("POST", "/admin/errors", `{"operation":"PutVM","code":"OperationNotAllowed","count":1}`, nil); st != 204 {
		t.Fatalf("add quota error rule: %d", st)
	}
	_, putErr, _ := e.createVM(vmSpec{name: "q", size: "Standard_D8s_v5", location: "eastus", zone: "1"}, subnet)
	if putErr == nil || !strings.Contains(putErr.Error(), "exceeding approved standardDSv5Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: eastus, Current Limit: 0, Current Usage: 0, Additional Required: 8") {
		t.Errorf("injected quota error: %v", putErr)
	}
	if st := e.admin("POST", "/admin/errors", `{"operation":"NoSuchOp","code":"X"}`, nil); st != 400 {
		t.Errorf("invalid rule accepted: %d", st)
	}
	if st := e.admin("PUT", "/admin/quota", `{"regionalLimit":1,"defaultFamilyLimit":1,"lowPriorityLimit":1}`, nil); st != 204 {
		t.Fatalf("set quota: %d", st)
	}
	_, putErr, _ = e.createVM(vmSpec{name: "b", size: "Standard_D2s_v5", location: "eastus", zone: "1"}, subnet)
	if putErr == nil || !strings.Contains(putErr.Error(), "Cores quota") {
		t.Errorf("quota via admin not enforced: %v", putErr)
	}
	var stats azuresim.Stats
	e.admin("GET", "/admin/stats", "", &stats)
	if put := stats.Operations[azuresim.OpPutVM]; put.Requests != 3 || put.Errors != 2 || put.P99Ms <= 0 {
		t.Errorf("PutVM stats %+v", put)
	}
	var state azuresim.State
	e.admin("GET", "/admin/state", "", &state)
	if len(state.VMs) != 1 || state.VMs[0].FailureCode != "ZonalAllocationFailed" || len(state.NICs) != 3 || state.Subnets[0].Used != 3 {
		t.Errorf("state %+v", state)
	}
	if st := e.admin("POST", "/admin/reset", "", nil); st != 204 {
		t.Fatalf("reset: %d", st)
	}
	state, stats = azuresim.State{}, azuresim.Stats{}
	e.admin("GET", "/admin/state", "", &state)
	e.admin("GET", "/admin/stats", "", &stats)
	if len(state.VMs)+len(state.NICs) != 0 || len(stats.Operations) != 1 {
		t.Errorf("after reset: %d VMs %d NICs, stats %v", len(state.VMs), len(state.NICs), stats.Operations)
	}
	var cfg azuresim.Config
	e.admin("GET", "/admin/config", "", &cfg)
	if cfg.Quota.RegionalLimit != 10000 || len(cfg.Errors) != 0 {
		t.Errorf("reset did not restore the start-up config: %+v", cfg.Quota)
	}
	if st := e.admin("PUT", "/admin/config", "timeScale: 0.5\nthrottling:\n  disabled: true\n", nil); st != 200 {
		t.Errorf("put config: %d", st)
	}
	if st := e.admin("PUT", "/admin/config", "timeScale: -1\n", nil); st != 400 {
		t.Errorf("invalid config accepted: %d", st)
	}
}

func TestLoadConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "faults.yaml")
	yaml := `timeScale: 0.01
latency:
  vmCreate: {distribution: uniform, min: 10s, max: 20s}
quota:
  regionalLimit: 100
  defaultFamilyLimit: 50
  lowPriorityLimit: 10
  families:
  - {location: eastus, family: standardDSv3Family, limit: 8}
capacity:
- {sku: Standard_D2s_v3, location: eastus, zone: "1", capacityType: spot, count: 0}
errors:
- {operation: PutVM, code: AllocationFailed, async: true, probability: 0.5}
subnets:
- {subnet: nodes, availableIPs: 10}
throttling:
  buckets:
    PutVM3Min: {size: 10, refillPerMinute: 5}
spot: {evictionRatePerHour: 0.5, noticePeriod: 30s}
listDelay: 5s
`
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := azuresim.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TimeScale != 0.01 || cfg.Latency.VMCreate.Max.Duration != 20*time.Second || cfg.Quota.Families[0].Limit != 8 ||
		cfg.Capacity[0].CapacityType != "spot" || !cfg.Errors[0].Async || cfg.Throttling.Buckets["PutVM3Min"].Size != 10 ||
		cfg.Spot.NoticePeriod.Duration != 30*time.Second || cfg.ListDelay.Duration != 5*time.Second || cfg.Latency.VMDelete.Distribution != "uniform" {
		t.Errorf("config not loaded as written: %+v", cfg)
	}
	for _, bad := range []string{"timeScale: 0\n", "bogusField: 1\n", "errors: [{operation: PutNIC, code: X, async: true}]\n", "throttling: {buckets: {Nope: {size: 1, refillPerMinute: 1}}}\n"} {
		if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := azuresim.LoadConfig(path); err == nil {
			t.Errorf("accepted invalid config %q", bad)
		}
	}
}

// The admin API hands out a VM's custom data (which ARM never returns), for
// a test that boots a real kubelet from it.
func TestAdminVMBootstrap(t *testing.T) {
	e := newEnv(t)
	subnet := e.network("eastus", "10.9.0.0/24")
	e.mustCreateVM(vmSpec{name: "booted", size: "Standard_D2s_v5", location: "eastus", zone: "1", customData: "Y3VzdG9tIGRhdGE="}, subnet)
	var b azuresim.VMBootstrap
	if st := e.admin("GET", "/admin/vms/booted/bootstrap", "", &b); st != 200 {
		t.Fatalf("GET bootstrap: %d", st)
	}
	if b.CustomData != "Y3VzdG9tIGRhdGE=" || b.Name != "booted" || b.ComputerName == "" || b.OSType != "Linux" || !strings.HasPrefix(b.PrivateIP, "10.9.0.") {
		t.Errorf("bootstrap %+v", b)
	}
	if st := e.admin("GET", "/admin/vms/missing/bootstrap", "", nil); st != 404 {
		t.Errorf("GET bootstrap of a missing VM: %d", st)
	}
}

// A rule's count survives edits that leave it alone, and a new rule in the
// slot of a removed one counts from zero (it used to inherit the old
// rule's count, and never fired).
func TestUpdateConfigCountsNewRulesAfresh(t *testing.T) {
	e := newEnv(t, noRetries())
	subnet := e.network("eastus", "10.7.0.0/24")
	setRules := func(rules ...azuresim.ErrorRule) {
		t.Helper()
		if err := e.srv.UpdateConfig(func(c *azuresim.Config) { c.Errors = rules }); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(name string) bool {
		t.Helper()
		_, err := e.createNIC(name, "eastus", subnet)
		return err != nil
	}
	setRules(azuresim.ErrorRule{Operation: azuresim.OpPutNIC, Code: "OperationNotAllowed", Message: "first", Count: 1})
	if !refused("a1") || refused("a2") {
		t.Fatal("the first rule must fire exactly once")
	}
	setRules()
	setRules(azuresim.ErrorRule{Operation: azuresim.OpPutNIC, Code: "OperationNotAllowed", Message: "second", Count: 1})
	if !refused("b1") {
		t.Fatal("a new rule in a removed rule's slot did not fire")
	}
	if err := e.srv.UpdateConfig(func(c *azuresim.Config) { c.Latency.NICCreate = azuresim.Latency{} }); err != nil {
		t.Fatal(err)
	}
	if refused("b2") {
		t.Fatal("an unchanged rule fired again after an unrelated edit")
	}
}
