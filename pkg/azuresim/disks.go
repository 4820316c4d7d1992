package azuresim

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"
)

// Managed OS disks, dedicated host groups and what a VM's deleteOptions do
// to its NICs and disk when it goes.

// diskRecord is a managed disk. The simulator creates one for every VM with
// a managed (not ephemeral) OS disk; it outlives the VM unless the VM's
// osDisk.deleteOption is Delete, as in Azure, where the default is Detach.
type diskRecord struct {
	id, sub, rg, name string
	location          string
	zone              string
	sizeGB            int32
	tags              map[string]*string
	vmID              string // "" once detached
	created           time.Time
}

func diskID(sub, rg, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Compute/disks/" + name
}

func hostGroupID(sub, rg, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Compute/hostGroups/" + name
}

// osDiskLocked records the managed OS disk of a new VM, named as the VM
// body names it (Azure generates a name when the body has none).
func (s *Server) osDiskLocked(v *vmRecord) {
	p := v.vm.Properties
	if p == nil || p.StorageProfile == nil || p.StorageProfile.OSDisk == nil || p.StorageProfile.OSDisk.DiffDiskSettings != nil {
		return
	}
	d := p.StorageProfile.OSDisk
	name := lo.FromPtr(d.Name)
	if name == "" {
		name = v.name + "_OsDisk_1_" + strings.ReplaceAll(lo.FromPtr(p.VMID), "-", "")
	}
	rec := &diskRecord{id: diskID(v.sub, v.rg, name), sub: v.sub, rg: v.rg, name: name, location: *v.vm.Location, zone: v.zone,
		sizeGB: lo.FromPtr(d.DiskSizeGB), tags: v.vm.Tags, vmID: v.id, created: v.created}
	if rec.sizeGB == 0 {
		rec.sizeGB = 30
	}
	s.disks[lower(rec.id)] = rec
	v.osDiskID = rec.id
}

// releaseVMResourcesLocked applies the deleteOptions of a VM that is gone:
// NICs and the OS disk whose deleteOption is Delete go with it, the others
// are detached and stay, billed and owned by nobody, as in Azure.
func (s *Server) releaseVMResourcesLocked(v *vmRecord) {
	deleteNIC := map[string]bool{}
	if p := v.vm.Properties; p != nil && p.NetworkProfile != nil {
		for _, ref := range p.NetworkProfile.NetworkInterfaces {
			if ref != nil && ref.ID != nil && ref.Properties != nil && ref.Properties.DeleteOption != nil &&
				*ref.Properties.DeleteOption == armcompute.DeleteOptionsDelete {
				deleteNIC[lower(*ref.ID)] = true
			}
		}
	}
	for _, n := range v.nicIDs {
		nic, ok := s.nics[lower(n)]
		if !ok || !strings.EqualFold(nic.vmID, v.id) {
			continue
		}
		nic.vmID = ""
		nic.nic.Properties.VirtualMachine = nil
		if deleteNIC[lower(n)] {
			s.removeNICLocked(nic)
		}
	}
	if v.osDiskID == "" {
		return
	}
	disk, ok := s.disks[lower(v.osDiskID)]
	if !ok {
		return
	}
	disk.vmID = ""
	if d := v.vm.Properties.StorageProfile.OSDisk; d.DeleteOption != nil && *d.DeleteOption == armcompute.DiskDeleteOptionTypesDelete {
		delete(s.disks, lower(disk.id))
	}
}

// removeNICLocked drops a NIC and frees its addresses; its load balancer
// pool and NSG memberships go with it (network.go derives them from NICs).
func (s *Server) removeNICLocked(n *nicRecord) {
	delete(s.nics, lower(n.id))
	for _, v := range s.vnets {
		for _, sr := range v.subnets {
			if lower(sr.id) == n.subnetKey {
				for _, ip := range n.ips {
					delete(sr.allocated, ip)
				}
			}
		}
	}
}

// validateHostGroupLocked checks a VM placed on a dedicated host group: the
// group must exist in the VM's location, place VMs automatically (the VM
// names no host), cover the VM's zone, and spot VMs cannot use it.
func (s *Server) validateHostGroupLocked(req *vmRequest, vmName string) *ARMError {
	p := req.vm.Properties
	if p == nil || p.HostGroup == nil || p.HostGroup.ID == nil {
		return nil
	}
	id := *p.HostGroup.ID
	hg, ok := s.hostGroups[lower(id)]
	if !ok {
		return armErr(http.StatusNotFound, "ResourceNotFound", "The Resource '%s' was not found. The host group referenced by virtual machine '%s' must exist.", id, vmName)
	}
	if req.spot {
		return armErr(http.StatusBadRequest, "OperationNotAllowed", "Spot virtual machines cannot be deployed to a dedicated host group ('%s').", id)
	}
	if !strings.EqualFold(lo.FromPtr(hg.Location), req.location) {
		return errInvalidParameter("hostGroup", "The host group '%s' is in location '%s', the virtual machine in '%s'.", id, lo.FromPtr(hg.Location), req.location)
	}
	if hg.Properties == nil || !lo.FromPtr(hg.Properties.SupportAutomaticPlacement) {
		return errInvalidParameter("hostGroup", "The host group '%s' does not support automatic placement; specify a host or enable supportAutomaticPlacement.", id)
	}
	if len(hg.Zones) > 0 && !slices.ContainsFunc(hg.Zones, func(z *string) bool { return lo.FromPtr(z) == req.zone }) {
		return errInvalidParameter("zones", "The virtual machine's zone '%s' is not a zone of host group '%s'.", req.zone, id)
	}
	return nil
}

func (s *Server) putHostGroup(w http.ResponseWriter, r *http.Request) {
	sub, rg, name := r.PathValue("sub"), r.PathValue("rg"), r.PathValue("name")
	var hg armcompute.DedicatedHostGroup
	if !decodeTrackedResource(w, r, "hostGroups", name, &hg, func(h *armcompute.DedicatedHostGroup) *string { return h.Location }) {
		return
	}
	id := hostGroupID(sub, rg, name)
	hg.ID, hg.Name, hg.Type = lo.ToPtr(id), lo.ToPtr(name), lo.ToPtr("Microsoft.Compute/hostGroups")
	hg.Location = lo.ToPtr(lower(*hg.Location))
	s.mu.Lock()
	_, exists := s.hostGroups[lower(id)]
	s.hostGroups[lower(id)] = &hg
	s.mu.Unlock()
	writeJSON(w, lo.Ternary(exists, http.StatusOK, http.StatusCreated), hg)
}

func (s *Server) getHostGroup(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	hg, ok := s.hostGroups[lower(hostGroupID(r.PathValue("sub"), r.PathValue("rg"), r.PathValue("name")))]
	var out armcompute.DedicatedHostGroup
	if ok {
		out = *hg
	}
	s.mu.RUnlock()
	if !ok {
		writeARMError(w, errNotFound("Microsoft.Compute/hostGroups", r.PathValue("name"), r.PathValue("rg")))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) renderDisk(d *diskRecord) armcompute.Disk {
	state := armcompute.DiskStateUnattached
	if d.vmID != "" {
		state = armcompute.DiskStateAttached
	}
	out := armcompute.Disk{ID: lo.ToPtr(d.id), Name: lo.ToPtr(d.name), Type: lo.ToPtr("Microsoft.Compute/disks"), Location: lo.ToPtr(d.location), Tags: d.tags,
		Properties: &armcompute.DiskProperties{DiskSizeGB: lo.ToPtr(d.sizeGB), DiskState: lo.ToPtr(state), ProvisioningState: lo.ToPtr(stateSucceeded), TimeCreated: lo.ToPtr(d.created.UTC())}}
	if d.vmID != "" {
		out.ManagedBy = lo.ToPtr(d.vmID)
	}
	if d.zone != "" {
		out.Zones = []*string{lo.ToPtr(d.zone)}
	}
	return out
}

func (s *Server) getDisk(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	d, ok := s.disks[lower(diskID(r.PathValue("sub"), r.PathValue("rg"), r.PathValue("name")))]
	var out armcompute.Disk
	if ok {
		out = s.renderDisk(d)
	}
	s.mu.RUnlock()
	if !ok {
		writeARMError(w, errNotFound("Microsoft.Compute/disks", r.PathValue("name"), r.PathValue("rg")))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listDisks(w http.ResponseWriter, r *http.Request) {
	sub, rg := r.PathValue("sub"), r.PathValue("rg")
	s.mu.RLock()
	var recs []*diskRecord
	for _, d := range s.disks {
		if strings.EqualFold(d.sub, sub) && strings.EqualFold(d.rg, rg) {
			recs = append(recs, d)
		}
	}
	sort.Slice(recs, func(i, j int) bool { return lower(recs[i].id) < lower(recs[j].id) })
	items, next, err := page(r, recs, s.opts.PageSize)
	var out armcompute.DiskList
	if err == nil {
		out = armcompute.DiskList{Value: lo.Map(items, func(d *diskRecord, _ int) *armcompute.Disk { return lo.ToPtr(s.renderDisk(d)) }), NextLink: next}
	}
	s.mu.RUnlock()
	if err != nil {
		writeARMError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// deleteDisk removes an unattached disk at once (Azure's delete is an LRO;
// the SDK's poller accepts a synchronous 200 as well).
func (s *Server) deleteDisk(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := diskID(r.PathValue("sub"), r.PathValue("rg"), r.PathValue("name"))
	d, ok := s.disks[lower(id)]
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if d.vmID != "" {
		writeARMError(w, armErr(http.StatusConflict, "OperationNotAllowed", "Disk %s is attached to VM %s.", d.name, d.vmID))
		return
	}
	delete(s.disks, lower(id))
	w.WriteHeader(http.StatusOK)
}
