package azuresim

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"
)

// A PUT of a VM that exists is an update. Compute refuses to change what is
// fixed at creation with 409 PropertyChangeNotAllowed, "Changing property
// '<target>' is not allowed.", target the property (Azure/azure-powershell#7621
// for osDisk.createOption, MicrosoftDocs/azure-docs#12602 for osProfile).
// Which properties are fixed comes from the SDK's (the specification's)
// descriptions: osProfile.computerName, adminUsername and customData
// "cannot be updated after the VM is created"; the ephemeral OS disk's
// placement "can't be changed" (ephemeral-os-disks-faq); a VM's zone and its
// image are chosen at creation. A property the update leaves out is not
// changed (a GET never returns customData, and a GET's body PUT back is the
// documented way to update a VM). A different size is a resize, which
// Compute performs when the new size is offered where the VM is and its
// image boots on it (resize-vm docs); azuresim applies it at once.

// checkLocationUnchanged refuses an update in another location, as ARM
// does before the resource provider sees it: the name is taken there.
// (ARM's wording, InvalidResourceLocation; the status is 400 in azuresim.)
func checkLocationUnchanged(v *vmRecord, vm armcompute.VirtualMachine) *ARMError {
	loc := lower(strings.ReplaceAll(lo.FromPtr(vm.Location), " ", ""))
	if loc == "" || strings.EqualFold(lo.FromPtr(v.vm.Location), loc) {
		return nil
	}
	return armErr(http.StatusBadRequest, "InvalidResourceLocation",
		"The resource '%s' already exists in location '%s' in resource group '%s'. A resource with the same name cannot be created in location '%s'. Please select a new resource name.",
		v.name, lo.FromPtr(v.vm.Location), v.rg, loc)
}

// immutableVMProperty is a property fixed at creation: its target as
// Compute names it, and its value in a VM (nil when the body leaves it out).
type immutableVMProperty struct {
	target string
	get    func(*armcompute.VirtualMachine) any
}

var immutableVMProperties = []immutableVMProperty{
	{"zones", func(vm *armcompute.VirtualMachine) any { return lo.Ternary[any](vm.Zones == nil, nil, vm.Zones) }},
	{"priority", func(vm *armcompute.VirtualMachine) any { return ptrAny(vmProps(vm).Priority) }},
	{"osProfile.computerName", func(vm *armcompute.VirtualMachine) any { return ptrAny(osProfile(vm).ComputerName) }},
	{"osProfile.adminUsername", func(vm *armcompute.VirtualMachine) any { return ptrAny(osProfile(vm).AdminUsername) }},
	{"osProfile.customData", func(vm *armcompute.VirtualMachine) any { return ptrAny(osProfile(vm).CustomData) }},
	{"imageReference", func(vm *armcompute.VirtualMachine) any {
		if sp := vmProps(vm).StorageProfile; sp != nil && sp.ImageReference != nil {
			return sp.ImageReference
		}
		return nil
	}},
	{"osDisk.createOption", func(vm *armcompute.VirtualMachine) any { return ptrAny(osDisk(vm).CreateOption) }},
	{"osDisk.name", func(vm *armcompute.VirtualMachine) any { return ptrAny(osDisk(vm).Name) }},
	{"osDisk.diffDiskSettings", func(vm *armcompute.VirtualMachine) any {
		return lo.Ternary[any](osDisk(vm).DiffDiskSettings == nil, nil, osDisk(vm).DiffDiskSettings)
	}},
}

func vmProps(vm *armcompute.VirtualMachine) *armcompute.VirtualMachineProperties {
	return lo.FromPtrOr(&vm.Properties, &armcompute.VirtualMachineProperties{})
}

func osProfile(vm *armcompute.VirtualMachine) *armcompute.OSProfile {
	return lo.FromPtrOr(&vmProps(vm).OSProfile, &armcompute.OSProfile{})
}

func osDisk(vm *armcompute.VirtualMachine) *armcompute.OSDisk {
	if sp := vmProps(vm).StorageProfile; sp != nil && sp.OSDisk != nil {
		return sp.OSDisk
	}
	return &armcompute.OSDisk{}
}

// ptrAny is *p, or nil for a nil pointer (so that "left out" compares as nil).
func ptrAny[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// checkFixedProperties refuses an update that changes a property fixed at
// creation. It runs before the body is validated as a whole: a new
// administrator name is refused as a change, not for its key path.
func checkFixedProperties(v *vmRecord, vm armcompute.VirtualMachine) *ARMError {
	for _, prop := range immutableVMProperties {
		want := prop.get(&vm)
		if want == nil {
			continue
		}
		if !sameValue(prop.get(&v.vm), want) {
			e := armErr(http.StatusConflict, "PropertyChangeNotAllowed", "Changing property '%s' is not allowed.", prop.target)
			e.Target = prop.target
			return e
		}
	}
	if customData := lo.FromPtr(osProfile(&vm).CustomData); customData != "" && customData != v.customData {
		e := armErr(http.StatusConflict, "PropertyChangeNotAllowed", "Changing property 'osProfile.customData' is not allowed.")
		e.Target = "osProfile.customData"
		return e
	}
	return nil
}

// validateVMUpdateLocked checks what an update's validated request req
// needs beyond the body: a resize must fit the quota. The caller applies it.
func (s *Server) validateVMUpdateLocked(v *vmRecord, req *vmRequest) *ARMError {
	if !strings.EqualFold(req.sku.Name, v.sku.Name) && v.consumesQuota {
		// The VM's own cores are released by the resize.
		v.consumesQuota = false
		aerr := s.quotaLocked(v.sub, req)
		v.consumesQuota = true
		return aerr
	}
	return nil
}

// sameValue compares two property values by their JSON (case-insensitive
// strings, as ARM compares names and IDs).
func sameValue(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	var va, vb any
	_ = json.Unmarshal(ja, &va)
	_ = json.Unmarshal(jb, &vb)
	return sameJSONLoose(va, vb)
}

func sameJSONLoose(a, b any) bool {
	if sa, ok := a.(string); ok {
		sb, ok := b.(string)
		return ok && strings.EqualFold(sa, sb)
	}
	if ma, ok := a.(map[string]any); ok {
		mb, ok := b.(map[string]any)
		if !ok {
			return false
		}
		nonNil := func(m map[string]any) int { return len(lo.OmitByValues(m, []any{nil})) }
		if nonNil(ma) != nonNil(mb) {
			return false
		}
		for k, va := range ma {
			if va != nil && !sameJSONLoose(va, mb[k]) {
				return false
			}
		}
		return true
	}
	if aa, ok := a.([]any); ok {
		ab, ok := b.([]any)
		return ok && len(aa) == len(ab) && !slices.ContainsFunc(lo.Range(len(aa)), func(i int) bool { return !sameJSONLoose(aa[i], ab[i]) })
	}
	return reflect.DeepEqual(a, b)
}

// applyVMUpdateLocked makes an accepted update: tags, identity and size.
func (s *Server) applyVMUpdateLocked(v *vmRecord, req *vmRequest) {
	if req.vm.Tags != nil {
		v.vm.Tags = req.vm.Tags
	}
	if req.vm.Identity != nil {
		v.vm.Identity = req.vm.Identity
	}
	if !strings.EqualFold(req.sku.Name, v.sku.Name) {
		s.log.Info("azuresim VM resized", "vm", v.id, "from", v.sku.Name, "to", req.sku.Name)
		v.sku = req.sku
		props := *v.vm.Properties
		hw := *props.HardwareProfile
		hw.VMSize = lo.ToPtr(armcompute.VirtualMachineSizeTypes(req.sku.Name))
		props.HardwareProfile = &hw
		v.vm.Properties = &props
		s.notifyLocked(v.id)
	}
}
