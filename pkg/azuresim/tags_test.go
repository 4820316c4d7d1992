package azuresim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/samber/lo"
)

// badTags are tag sets ARM refuses, with the code and a part of the message
// it answers.
var badTags = []struct {
	name    string
	tags    map[string]*string
	code    string
	message string
}{
	{"a name with '/'", map[string]*string{"app.kubernetes.io/team": lo.ToPtr("a")}, "InvalidTagNameCharacters", "The tag names 'app.kubernetes.io/team' have reserved characters '<,>,%,&,\\,?,/' or control characters."},
	{"a name with '%'", map[string]*string{"50%": lo.ToPtr("a")}, "InvalidTagNameCharacters", "'50%'"},
	{"a name with a control character", map[string]*string{"a\tb": lo.ToPtr("a")}, "InvalidTagNameCharacters", "control characters"},
	{"an empty name", map[string]*string{" ": lo.ToPtr("a")}, "InvalidTagName", "non-empty and non-whitespace"},
	{"a name of 513 characters", map[string]*string{strings.Repeat("k", 513): lo.ToPtr("a")}, "InvalidTagName", "Maximum allowed length for tag name - '512' characters."},
	{"a value of 257 characters", map[string]*string{"k": lo.ToPtr(strings.Repeat("v", 257))}, "InvalidTagValueLength", "Maximum allowed length for tag value - '256' characters."},
	{"51 tags", manyTags(51), "InvalidTags", "Requested tag count - '51'. Maximum number of tags allowed - '50'."},
}

func manyTags(n int) map[string]*string {
	out := map[string]*string{}
	for i := range n {
		out[fmt.Sprintf("tag%02d", i)] = lo.ToPtr("v")
	}
	return out
}

func expectTagRefusal(t *testing.T, what string, err error, code, message string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: accepted, want %s", what, code)
	}
	re := respErr(t, err)
	if got := errorMessage(t, re); re.StatusCode != http.StatusBadRequest || re.ErrorCode != code || !strings.Contains(got, message) {
		t.Errorf("%s: got %d %s %q, want 400 %s with %q", what, re.StatusCode, re.ErrorCode, got, code, message)
	}
}

// errorMessage is error.message of an ARM error response.
func errorMessage(t *testing.T, re *azcore.ResponseError) string {
	t.Helper()
	body, err := runtime.Payload(re.RawResponse)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	return doc.Error.Message
}

// Every PUT and PATCH that carries tags is checked: VM, NIC, extension,
// and the tag updates of VMs and NICs (the OS disk takes the VM's tags).
func TestTagsAreValidatedOnEveryWrite(t *testing.T) {
	e := newEnv(t)
	subnet := e.network("eastus", "10.1.0.0/24")
	vm := e.mustCreateVM(vmSpec{name: "tagged", size: "Standard_D2s_v3", location: "eastus", zone: "1"}, subnet)
	ext := e.computeFactory().NewVirtualMachineExtensionsClient()
	for _, tc := range badTags {
		t.Run(tc.name, func(t *testing.T) {
			nic, err := e.createNICWithTags("n-"+lo.RandomString(6, lo.LowerCaseLettersCharset), "eastus", subnet, tc.tags)
			expectTagRefusal(t, "NIC PUT", err, tc.code, tc.message)
			if nic.ID != nil {
				t.Errorf("a NIC was created: %s", *nic.ID)
			}

			body := e.vmBody(vmSpec{name: "refused", size: "Standard_D2s_v3", location: "eastus", zone: "1"}, "/subscriptions/"+testSub+"/resourceGroups/"+testRG+"/providers/Microsoft.Network/networkInterfaces/tagged-nic")
			body.Tags = tc.tags
			_, err = e.vms.BeginCreateOrUpdate(e.ctx, testRG, "refused", body, nil)
			expectTagRefusal(t, "VM PUT", err, tc.code, tc.message)
			if _, err := e.vms.Get(e.ctx, testRG, "refused", nil); err == nil {
				t.Error("the refused VM exists")
			}

			_, err = e.vms.BeginUpdate(e.ctx, testRG, "tagged", armcompute.VirtualMachineUpdate{Tags: tc.tags}, nil)
			expectTagRefusal(t, "VM PATCH", err, tc.code, tc.message)

			_, err = e.nics.UpdateTags(e.ctx, testRG, "tagged-nic", armnetwork.TagsObject{Tags: tc.tags}, nil)
			expectTagRefusal(t, "NIC tags PATCH", err, tc.code, tc.message)

			_, err = ext.BeginCreateOrUpdate(e.ctx, testRG, "tagged", "cse", armcompute.VirtualMachineExtension{
				Location: lo.ToPtr("eastus"), Tags: tc.tags,
				Properties: &armcompute.VirtualMachineExtensionProperties{Publisher: lo.ToPtr("Microsoft.Azure.Extensions"), Type: lo.ToPtr("CustomScript"), TypeHandlerVersion: lo.ToPtr("2.0")},
			}, nil)
			expectTagRefusal(t, "extension PUT", err, tc.code, tc.message)
		})
	}
	// The VM kept its tags through every refused update.
	got, err := e.vms.Get(e.ctx, testRG, "tagged", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Tags) != len(vm.Tags) || lo.FromPtr(got.Tags["karpenter.sh_nodepool"]) != "default" {
		t.Errorf("tags changed by refused updates: %v", got.Tags)
	}
}

func TestTagsAtARMsLimitsAreAccepted(t *testing.T) {
	e := newEnv(t)
	subnet := e.network("eastus", "10.1.0.0/24")
	tags := manyTags(49)
	tags[strings.Repeat("k", 512)] = lo.ToPtr(strings.Repeat("v", 256))
	// '/' is refused; the '_' form AKS node auto-provisioning writes is not.
	delete(tags, "tag00")
	tags["app.kubernetes.io_team"] = lo.ToPtr("")
	if _, err := e.createNICWithTags("limits", "eastus", subnet, tags); err != nil {
		t.Fatalf("50 tags at the length limits refused: %v", err)
	}
}

func (e *env) computeFactory() *armcompute.ClientFactory {
	e.t.Helper()
	f, err := armcompute.NewClientFactory(testSub, e.srv.Credential(), e.srv.ClientOptions())
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}
