package azuresim_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
)

// armError reads an ARM error body.
func armError(t *testing.T, body string) azuresim.ARMError {
	t.Helper()
	var got struct{ Error azuresim.ARMError }
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("non-JSON error body %q", body)
	}
	return got.Error
}

// sdkARMError is the ARM error of an SDK call's failure, with its status.
func sdkARMError(t *testing.T, err error) azuresim.ARMError {
	t.Helper()
	re := respErr(t, err)
	body, rerr := runtime.Payload(re.RawResponse)
	if rerr != nil {
		t.Fatal(rerr)
	}
	got := armError(t, string(body))
	got.Status = re.StatusCode
	return got
}

// Bodies that no SDK call can produce: members the definition lacks and
// values of the wrong JSON type, answered as ARM and the resource providers
// answer them.
func TestBodyCheckerRefusesWhatTheDefinitionLacks(t *testing.T) {
	e := newEnv(t)
	auth := map[string]string{"Authorization": "Bearer x"}
	vm := "/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.Compute/virtualMachines/x?api-version=2025-04-01"
	nic := "/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.Network/networkInterfaces/n?api-version=2025-01-01"
	cases := []struct {
		name, path, body, code, message, target string
	}{
		{"top-level member", vm, `{"location":"eastus","foo":1}`, "InvalidRequestContent",
			"The request content was invalid and could not be deserialized: 'Could not find member 'foo' on object of type 'ResourceDefinition'. Path 'foo', line 1, position 26.'.", ""},
		{"nested member", vm, `{"location":"eastus","properties":{"storageProfile":{"destinationVhdsContainer":"x"}}}`, "BadRequest",
			"Could not find member 'destinationVhdsContainer' on object of type 'StorageProfile'. Path 'properties.storageProfile.destinationVhdsContainer', line 1, position", ""},
		{"member of a network array element", nic, `{"location":"eastus","properties":{"ipConfigurations":[{"name":"a","propertes":{}}]}}`, "InvalidRequestFormat",
			"Cannot parse the request.", ""},
		{"string for an integer", vm, `{"location":"eastus","properties":{"storageProfile":{"osDisk":{"createOption":"FromImage","diskSizeGB":"30"}}}}`, "BadRequest",
			"Error converting value \"30\" to type 'System.Int32'. Path 'properties.storageProfile.osDisk.diskSizeGB'", ""},
		{"integer out of range", vm, `{"location":"eastus","properties":{"storageProfile":{"osDisk":{"createOption":"FromImage","diskSizeGB":4294967296}}}}`, "BadRequest",
			"Error converting value 4294967296 to type 'System.Int32'", ""},
		{"object for a string", vm, `{"location":{"name":"eastus"}}`, "InvalidRequestContent", "Cannot convert it to type 'System.String'. Path 'location'", ""},
		{"string for a list", vm, `{"location":"eastus","zones":"1"}`, "InvalidRequestContent", "Error converting value \"1\" to type 'System.Collections.Generic.IList`1[System.String]'. Path 'zones'", ""},
		{"number for a network boolean", nic, `{"location":"eastus","properties":{"enableAcceleratedNetworking":1}}`, "InvalidRequestFormat",
			"Cannot parse the request.", ""},
		{"trailing content", vm, `{"location":"eastus"} {}`, "InvalidRequestContent", "Additional text encountered after finished reading JSON content", ""},
		{"an array body", vm, `[]`, "InvalidRequestContent", "to type 'VirtualMachine'. Path ''", ""},
		{"tracked resource without location", nic, `{"properties":{}}`, "LocationRequired", "The location property is required for this definition.", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := e.raw(http.MethodPut, tc.path, tc.body, auth)
			got := armError(t, body)
			if status != http.StatusBadRequest || got.Code != tc.code || !strings.Contains(got.Message, tc.message) || got.Target != tc.target {
				t.Errorf("got %d %s %q (target %q), want 400 %s containing %q", status, got.Code, got.Message, got.Target, tc.code, tc.message)
			}
		})
	}
	// Network's refusal names the property in its details.
	_, _, body0 := e.raw(http.MethodPut, nic, `{"location":"eastus","properties":{"ipConfigurations":[{"name":"a","propertes":{}}]}}`, auth)
	if got := armError(t, body0); len(got.Details) != 1 || !strings.Contains(got.Details[0].Message, "Path 'properties.ipConfigurations[0].propertes'") {
		t.Errorf("Network's refusal does not name the property: %+v", got)
	}
	// Enum values match case-insensitively, as JSON.NET matches them.
	status, _, body := e.raw(http.MethodPut, vm, `{"location":"eastus","properties":{"storageProfile":{"osDisk":{"createOption":"fromimage","caching":"readonly"}}}}`, auth)
	if got := armError(t, body); status != http.StatusBadRequest || got.Code == "BadRequest" {
		t.Errorf("enum values in another case refused: %d %+v", status, got)
	}
}

// What the SDK can send but Azure refuses: values outside an enum, required
// properties left out, and read-only properties set.
func TestBodyCheckerThroughTheSDK(t *testing.T) {
	e := newEnv(t)
	subnet := e.network("eastus", "10.40.0.0/24")
	nic, err := e.createNIC("sdk-nic", "eastus", subnet)
	if err != nil {
		t.Fatal(err)
	}
	put := func(name string, edit func(*armcompute.VirtualMachine)) error {
		body := e.vmBody(vmSpec{name: name, size: "Standard_D2s_v3", location: "eastus", zone: "1"}, *nic.ID)
		edit(&body)
		p, err := e.vms.BeginCreateOrUpdate(e.ctx, testRG, name, body, nil)
		if err == nil {
			_, err = p.PollUntilDone(e.ctx, lroPoll)
		}
		return err
	}
	cases := []struct {
		name          string
		edit          func(*armcompute.VirtualMachine)
		code, message string
		target        string
	}{
		{"value outside an enum", func(vm *armcompute.VirtualMachine) {
			vm.Properties.StorageProfile.OSDisk.Caching = lo.ToPtr(armcompute.CachingTypes("Sometimes"))
		}, "BadRequest", "Error converting value \"Sometimes\" to type 'CachingTypes'. Path 'properties.storageProfile.osDisk.caching'", ""},
		{"required property missing", func(vm *armcompute.VirtualMachine) {
			vm.Properties.StorageProfile.OSDisk.CreateOption = nil
		}, "InvalidParameter", "Required parameter 'osDisk.createOption' is missing (null).", "osDisk.createOption"},
		{"read-only property on a create", func(vm *armcompute.VirtualMachine) {
			vm.Properties.VMID = lo.ToPtr("0a5f8f59-6f0e-4b5e-9a25-3c8b8a9f1f00")
		}, "InvalidParameter", "The property 'properties.vmId' is read-only", "properties.vmId"},
		{"another resource's id", func(vm *armcompute.VirtualMachine) {
			vm.ID = lo.ToPtr("/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.Compute/virtualMachines/other")
		}, "InvalidParameter", "The property 'id' is read-only", "id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := put("sdk", tc.edit)
			if err == nil {
				t.Fatal("accepted")
			}
			got := sdkARMError(t, err)
			if got.Status != http.StatusBadRequest || got.Code != tc.code || !strings.Contains(got.Message, tc.message) || got.Target != tc.target {
				t.Errorf("got %d %s %q (target %q), want 400 %s with %q (target %q)", got.Status, got.Code, got.Message, got.Target, tc.code, tc.message, tc.target)
			}
		})
	}
	// Its own id, name and type are what a create gives it: accepted.
	if err := put("named", func(vm *armcompute.VirtualMachine) {
		vm.ID = lo.ToPtr("/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.Compute/virtualMachines/named")
		vm.Name, vm.Type = lo.ToPtr("named"), lo.ToPtr("Microsoft.Compute/virtualMachines")
	}); err != nil {
		t.Fatalf("create naming itself: %v", err)
	}
}

// A GET, modified and PUT back carries every read-only property the GET
// returned: the values match the server's and are ignored; a value that
// does not is refused.
func TestBodyCheckerReadOnlyOnUpdate(t *testing.T) {
	e := newEnv(t)
	subnet := e.network("eastus", "10.41.0.0/24")
	e.mustCreateVM(vmSpec{name: "rw", size: "Standard_D2s_v3", location: "eastus", zone: "1"}, subnet)
	got, err := e.vms.Get(e.ctx, testRG, "rw", nil)
	if err != nil {
		t.Fatal(err)
	}
	vm := got.VirtualMachine
	vm.Tags["team"] = lo.ToPtr("a")
	p, err := e.vms.BeginCreateOrUpdate(e.ctx, testRG, "rw", vm, nil)
	if err == nil {
		_, err = p.PollUntilDone(e.ctx, lroPoll)
	}
	if err != nil {
		t.Fatalf("PUT of a GET's body: %v", err)
	}
	vm.Properties.ProvisioningState = lo.ToPtr("Failed")
	_, err = e.vms.BeginCreateOrUpdate(e.ctx, testRG, "rw", vm, nil)
	if got := sdkARMError(t, err); got.Status != http.StatusBadRequest || got.Code != "InvalidParameter" || got.Target != "properties.provisioningState" {
		t.Errorf("changed provisioningState: %+v", got)
	}
	// A NIC's read-only MAC address in a tags PATCH body has no place: the
	// TagsObject definition has only tags.
	status, _, body := e.raw(http.MethodPatch, "/subscriptions/"+testSub+"/resourceGroups/"+testRG+"/providers/Microsoft.Network/networkInterfaces/rw-nic?api-version=2025-01-01",
		`{"tags":{"a":"b"},"properties":{"macAddress":"00-0D-3A-00-00-01"}}`, map[string]string{"Authorization": "Bearer x"})
	if got := armError(t, body); status != http.StatusBadRequest || got.Code != "InvalidRequestContent" || !strings.Contains(got.Message, "Could not find member 'properties' on object of type 'TagsObject'") {
		t.Errorf("NIC tags PATCH with properties: %d %+v", status, got)
	}
	if _, err := e.nics.UpdateTags(e.ctx, testRG, "rw-nic", armnetwork.TagsObject{Tags: map[string]*string{"a": lo.ToPtr("b")}}, nil); err != nil {
		t.Errorf("NIC tags PATCH: %v", err)
	}
}

// Only the api-versions the SDK's clients send are served.
func TestOnlyTheSDKsAPIVersionsAreServed(t *testing.T) {
	e := newEnv(t)
	auth := map[string]string{"Authorization": "Bearer x"}
	rg := "/subscriptions/" + testSub + "/resourceGroups/" + testRG
	cases := []struct {
		name, method, path, code, message string
	}{
		{"VM at an older version", http.MethodGet, rg + "/providers/Microsoft.Compute/virtualMachines/x?api-version=2024-07-01", "NoRegisteredProviderFound",
			"No registered resource provider found for location '' and API version '2024-07-01' for type 'virtualMachines'. The supported api-versions are '2025-04-01'. The supported locations are 'eastus"},
		{"extension", http.MethodPut, rg + "/providers/Microsoft.Compute/virtualMachines/x/extensions/e?api-version=2018-06-30", "NoRegisteredProviderFound", "for type 'virtualMachines/extensions'"},
		{"SKUs at Compute's VM version", http.MethodGet, "/subscriptions/" + testSub + "/providers/Microsoft.Compute/skus?api-version=2025-04-01", "NoRegisteredProviderFound",
			"for type 'skus'. The supported api-versions are '2021-07-01'"},
		{"NIC at Compute's version", http.MethodGet, rg + "/providers/Microsoft.Network/networkInterfaces/n?api-version=2025-04-01", "NoRegisteredProviderFound", "for type 'networkInterfaces'"},
		{"usages", http.MethodGet, "/subscriptions/" + testSub + "/providers/Microsoft.Compute/locations/eastus/usages?api-version=2021-07-01", "NoRegisteredProviderFound",
			"for location 'eastus' and API version '2021-07-01' for type 'locations/usages'"},
		{"not a date", http.MethodGet, rg + "/providers/Microsoft.Compute/virtualMachines/x?api-version=latest", "InvalidApiVersionParameter",
			"The api-version 'latest' is invalid. The supported versions are '2025-04-01'."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := e.raw(tc.method, tc.path, `{}`, auth)
			got := armError(t, body)
			if status != http.StatusBadRequest || got.Code != tc.code || !strings.Contains(got.Message, tc.message) {
				t.Errorf("got %d %s %q, want 400 %s containing %q", status, got.Code, got.Message, tc.code, tc.message)
			}
		})
	}
	// The SDK's own versions, including an operation's status at the
	// version of the request that started it, are served.
	subnet := e.network("eastus", "10.42.0.0/24")
	e.mustCreateVM(vmSpec{name: "v", size: "Standard_D2s_v3", location: "eastus", zone: "1"}, subnet)
	if _, err := e.skus.NewListPager(nil).NextPage(e.ctx); err != nil {
		t.Errorf("SKUs at the SDK's version: %v", err)
	}
}
