package azuresim

import (
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim/nodeagent"
)

// Provisioning states as ARM reports them.
const (
	stateCreating  = "Creating"
	stateUpdating  = "Updating"
	stateSucceeded = "Succeeded"
	stateFailed    = "Failed"
	stateDeleting  = "Deleting"
)

type vmRecord struct {
	id, sub, rg, name string
	vm                armcompute.VirtualMachine // as PUT, with server-set fields; customData kept out of responses
	customData        string                    // base64, as sent
	sku               *catalog.SKU
	zone              string
	spot              bool
	state             string
	failure           *ARMError // why provisioning failed
	created           time.Time
	provisioned       time.Time // when provisioning succeeded
	listableAt        time.Time
	nicIDs            []string
	powerState        string // running | deallocated | stopped
	evictionNotBefore *time.Time
	deleteOp          string
	// consumesQuota: a VM counts against quota from its PUT until it is
	// deleted, except when allocation failed.
	consumesQuota bool
	// extensions by lower-cased name; they go with the VM.
	extensions map[string]*extensionRecord
	// node is what the node agent last reported of the VM's node.
	node nodeagent.NodeReport
	// hyperVGeneration is the generation the VM boots, from its image.
	hyperVGeneration armcompute.HyperVGeneration
	// osDiskID is the managed OS disk ("" for an ephemeral one).
	osDiskID string
}

// running reports whether the VM is allocated and running: provisioned once
// (its provisioning state may since be Updating, or Failed by an extension)
// and neither stopped nor being deleted.
func (v *vmRecord) running() bool {
	return !v.provisioned.IsZero() && v.powerState == "running" && v.state != stateDeleting && v.state != stateCreating
}

// windows reports whether the VM runs Windows.
func (v *vmRecord) windows() bool {
	p := v.vm.Properties
	if p == nil {
		return false
	}
	if p.OSProfile != nil && p.OSProfile.WindowsConfiguration != nil {
		return true
	}
	return p.StorageProfile != nil && p.StorageProfile.OSDisk != nil && p.StorageProfile.OSDisk.OSType != nil &&
		*p.StorageProfile.OSDisk.OSType == armcompute.OperatingSystemTypesWindows
}

func (v *vmRecord) capacityType() string {
	if v.spot {
		return "spot"
	}
	return "on-demand"
}

type nicRecord struct {
	id, sub, rg, name string
	nic               armnetwork.Interface
	subnetKey         string
	// ip is the primary IP configuration's address; ips every address the
	// NIC holds in its subnet, one per IP configuration.
	ip   netip.Addr
	ips  []netip.Addr
	vmID string
	// pools maps the lower-cased ID of each load balancer backend pool the
	// NIC's IP configurations join to those IP configurations' IDs; nsgKey
	// is the lower-cased ID of the NIC's network security group.
	pools  map[string][]string
	nsgKey string
	state  string
}

type vnetRecord struct {
	id, sub, rg, name string
	vnet              armnetwork.VirtualNetwork
	subnets           map[string]*subnetRecord // by lower(name)
}

type subnetRecord struct {
	id, name  string
	subnet    armnetwork.Subnet
	prefix    netip.Prefix
	allocated map[netip.Addr]string // ip -> ip configuration ID
	// nsgKey and routeTableKey are the lower-cased IDs of the NSG and the
	// route table associated with the subnet ("" when none).
	nsgKey, routeTableKey string
}

// usable counts the addresses Azure lets NICs use: the prefix minus the five
// Azure reserves (network, gateway, two DNS, broadcast).
func (s *subnetRecord) usable() int {
	bits := s.prefix.Addr().BitLen() - s.prefix.Bits()
	if bits >= 31 {
		return 1 << 20
	}
	return max((1<<bits)-5, 0)
}

// asyncOp is an Azure-AsyncOperation. Its outcome is decided when it
// starts; it reads InProgress until done.
type asyncOp struct {
	id       string
	start    time.Time
	end      time.Time
	done     bool
	failure  *ARMError
	resource string
}

func vmID(sub, rg, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Compute/virtualMachines/" + name
}

func nicID(sub, rg, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Network/networkInterfaces/" + name
}

func vnetID(sub, rg, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Network/virtualNetworks/" + name
}

// parseSubnetID splits .../virtualNetworks/{vnet}/subnets/{subnet}.
func parseSubnetID(id string) (sub, rg, vnet, subnet string, ok bool) {
	p := strings.Split(strings.Trim(id, "/"), "/")
	if len(p) != 10 || !strings.EqualFold(p[0], "subscriptions") || !strings.EqualFold(p[2], "resourceGroups") ||
		!strings.EqualFold(p[4], "providers") || !strings.EqualFold(p[5], "Microsoft.Network") ||
		!strings.EqualFold(p[6], "virtualNetworks") || !strings.EqualFold(p[8], "subnets") {
		return "", "", "", "", false
	}
	return p[1], p[3], p[7], p[9], true
}

// validName follows ARM's common resource-name rules.
func validName(name string) bool {
	if name == "" || len(name) > 80 || strings.HasSuffix(name, ".") {
		return false
	}
	return !strings.ContainsAny(name, `<>%&:\?/*#|"' `)
}

func errInvalidName(kind, name string) *ARMError {
	return armErr(http.StatusBadRequest, "InvalidResourceName", "Resource name %s is invalid. The name can be up to 80 characters long. It must begin with a word character, and it must end with a word character or with '_'. The name may contain word characters or '.', '-', '_'. (%s)", name, kind)
}
