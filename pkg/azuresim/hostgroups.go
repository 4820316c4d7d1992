package azuresim

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
)

// Dedicated hosts: the hosts of a host group, what each can still take, and
// automatic placement of VMs onto them.
//
// A host SKU is "the combination of a VM family and a certain hardware
// specification. You can only deploy VMs of the VM series that the Dedicated
// Host SKU specifies" ("General Purpose Azure Dedicated Host SKUs",
// MicrosoftDocs/azure-docs, articles/virtual-machines/
// dedicated-host-general-purpose-skus.md), which gives each SKU's vCPUs and
// RAM and the most VMs of each size a host packs (32 of the smallest size
// on every SKU listed). The simulator packs by vCPUs, RAM and that count.
type hostSKU struct {
	series    *regexp.Regexp
	vCPUs     int
	memoryGiB float64
	maxVMs    int
}

// hostSKUs are the host SKUs the simulator knows, by lower-cased name, with
// the figures of the page above.
var hostSKUs = map[string]hostSKU{
	"dsv5-type1":   {regexp.MustCompile(`^Standard_D\d+s_v5$`), 119, 768, 32},
	"ddsv5-type1":  {regexp.MustCompile(`^Standard_D\d+ds_v5$`), 119, 768, 32},
	"dasv5-type1":  {regexp.MustCompile(`^Standard_D\d+as_v5$`), 112, 768, 32},
	"dadsv5-type1": {regexp.MustCompile(`^Standard_D\d+ads_v5$`), 112, 768, 32},
	"dsv4-type2":   {regexp.MustCompile(`^Standard_D\d+s_v4$`), 119, 768, 32},
	"dsv3-type3":   {regexp.MustCompile(`^Standard_D\d+s_v3$`), 80, 504, 32},
}

// hostRecord is a dedicated host.
type hostRecord struct {
	host    armcompute.DedicatedHost
	id      string
	groupID string
	sku     hostSKU
}

func dedicatedHostID(groupID, name string) string { return groupID + "/hosts/" + name }

// hostedVMsLocked are the live VMs placed on a host.
func (s *Server) hostedVMsLocked(hostID string) []*vmRecord {
	var out []*vmRecord
	for _, v := range s.vms {
		if v.hostID != "" && strings.EqualFold(v.hostID, hostID) && v.state != stateFailed {
			out = append(out, v)
		}
	}
	return out
}

// allocatableLocked is how many more VMs of a size the host can take.
func (s *Server) allocatableLocked(h *hostRecord, size *catalog.SKU) int {
	if !h.sku.series.MatchString(size.Name) {
		return 0
	}
	vcpus, mem, n := h.sku.vCPUs, h.sku.memoryGiB, h.sku.maxVMs
	for _, v := range s.hostedVMsLocked(h.id) {
		vcpus -= v.sku.VCPUs
		mem -= v.sku.MemoryGiB
		n--
	}
	fit := min(n, vcpus/max(size.VCPUs, 1))
	if size.MemoryGiB > 0 {
		fit = min(fit, int(mem/size.MemoryGiB))
	}
	return max(fit, 0)
}

// groupHostsLocked are a group's hosts, ordered by name.
func (s *Server) groupHostsLocked(groupID string) []*hostRecord {
	var out []*hostRecord
	for _, h := range s.hosts {
		if strings.EqualFold(h.groupID, groupID) {
			out = append(out, h)
		}
	}
	sort.Slice(out, func(i, j int) bool { return lower(out[i].id) < lower(out[j].id) })
	return out
}

// placeOnHostLocked picks the host of a group that takes a VM of the size
// (automatic placement: the fullest host that still fits, which keeps
// capacity together), or "" when none can.
func (s *Server) placeOnHostLocked(groupID string, size *catalog.SKU) string {
	best, bestFree := "", 0
	for _, h := range s.groupHostsLocked(groupID) {
		free := s.allocatableLocked(h, size)
		if free > 0 && (best == "" || free < bestFree) {
			best, bestFree = h.id, free
		}
	}
	return best
}

// errHostGroupFull is the allocation failure of a VM no host of its group
// can take. Compute's wording for it is not published; the code is that of
// any allocation failure.
func errHostGroupFull(groupID string) *ARMError {
	return armErr(http.StatusOK, "AllocationFailed",
		"Allocation failed. No host of dedicated host group '%s' has the capacity for the requested VM size. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance", groupID)
}

// hostGroupInstanceViewLocked is what $expand=instanceView adds to a host
// group: each host's available capacity.
func (s *Server) hostGroupInstanceViewLocked(groupID string) *armcompute.DedicatedHostGroupInstanceView {
	iv := &armcompute.DedicatedHostGroupInstanceView{Hosts: []*armcompute.DedicatedHostInstanceViewWithName{}}
	for _, h := range s.groupHostsLocked(groupID) {
		iv.Hosts = append(iv.Hosts, &armcompute.DedicatedHostInstanceViewWithName{
			Name:              h.host.Name,
			AvailableCapacity: s.availableCapacityLocked(h),
			Statuses: []*armcompute.InstanceViewStatus{
				{Code: lo.ToPtr("ProvisioningState/succeeded"), Level: lo.ToPtr(armcompute.StatusLevelTypesInfo), DisplayStatus: lo.ToPtr("Provisioning succeeded")},
				{Code: lo.ToPtr("HealthState/available"), Level: lo.ToPtr(armcompute.StatusLevelTypesInfo), DisplayStatus: lo.ToPtr("Host available")},
			},
		})
	}
	return iv
}

// availableCapacityLocked lists, for each catalog size the host's SKU runs,
// how many more VMs of it the host takes.
func (s *Server) availableCapacityLocked(h *hostRecord) *armcompute.DedicatedHostAvailableCapacity {
	out := &armcompute.DedicatedHostAvailableCapacity{AllocatableVMs: []*armcompute.DedicatedHostAllocatableVM{}}
	for _, size := range s.cat.SKUs {
		if !h.sku.series.MatchString(size.Name) {
			continue
		}
		out.AllocatableVMs = append(out.AllocatableVMs, &armcompute.DedicatedHostAllocatableVM{
			VMSize: lo.ToPtr(size.Name), Count: lo.ToPtr(float64(s.allocatableLocked(h, size))),
		})
	}
	slices.SortFunc(out.AllocatableVMs, func(a, b *armcompute.DedicatedHostAllocatableVM) int { return strings.Compare(*a.VMSize, *b.VMSize) })
	return out
}

func (s *Server) renderHostLocked(h *hostRecord) armcompute.DedicatedHost {
	out := h.host
	props := *h.host.Properties
	props.ProvisioningState = lo.ToPtr(stateSucceeded)
	props.InstanceView = &armcompute.DedicatedHostInstanceView{AvailableCapacity: s.availableCapacityLocked(h)}
	props.VirtualMachines = []*armcompute.SubResourceReadOnly{}
	for _, v := range s.hostedVMsLocked(h.id) {
		props.VirtualMachines = append(props.VirtualMachines, &armcompute.SubResourceReadOnly{ID: lo.ToPtr(v.id)})
	}
	out.Properties = &props
	return out
}

func (s *Server) renderHostGroupLocked(hg *armcompute.DedicatedHostGroup, expand bool) armcompute.DedicatedHostGroup {
	out := *hg
	props := armcompute.DedicatedHostGroupProperties{}
	if hg.Properties != nil {
		props = *hg.Properties
	}
	props.Hosts = []*armcompute.SubResourceReadOnly{}
	for _, h := range s.groupHostsLocked(lo.FromPtr(hg.ID)) {
		props.Hosts = append(props.Hosts, &armcompute.SubResourceReadOnly{ID: lo.ToPtr(h.id)})
	}
	props.InstanceView = nil
	if expand {
		props.InstanceView = s.hostGroupInstanceViewLocked(lo.FromPtr(hg.ID))
	}
	out.Properties = &props
	return out
}

// putDedicatedHost creates a host in a group. The host takes the group's
// zone; its SKU must be one the simulator knows (Compute's wording for an
// unknown one is not published).
func (s *Server) putDedicatedHost(w http.ResponseWriter, r *http.Request) {
	sub, rg, group, name := r.PathValue("sub"), r.PathValue("rg"), r.PathValue("name"), r.PathValue("host")
	var host armcompute.DedicatedHost
	if !decodeTrackedResource(w, r, "hosts", name, &host, func(h *armcompute.DedicatedHost) *string { return h.Location }) {
		return
	}
	groupID := hostGroupID(sub, rg, group)
	s.mu.Lock()
	defer s.mu.Unlock()
	hg, ok := s.hostGroups[lower(groupID)]
	if !ok {
		writeARMError(w, errNotFound("Microsoft.Compute/hostGroups", group, rg))
		return
	}
	if !strings.EqualFold(lower(*host.Location), lo.FromPtr(hg.Location)) {
		writeARMError(w, errInvalidParameter("location", "The host's location '%s' is not the location '%s' of its host group.", *host.Location, lo.FromPtr(hg.Location)))
		return
	}
	skuName := ""
	if host.SKU != nil {
		skuName = lo.FromPtr(host.SKU.Name)
	}
	hs, ok := hostSKUs[lower(skuName)]
	if !ok {
		writeARMError(w, errInvalidParameter("sku.name", "The dedicated host SKU '%s' is not available in location '%s'.", skuName, lo.FromPtr(hg.Location)))
		return
	}
	id := dedicatedHostID(groupID, name)
	host.ID, host.Name, host.Type = lo.ToPtr(id), lo.ToPtr(name), lo.ToPtr("Microsoft.Compute/hostGroups/hosts")
	host.Location = hg.Location
	if host.Properties == nil {
		host.Properties = &armcompute.DedicatedHostProperties{}
	}
	_, exists := s.hosts[lower(id)]
	s.hosts[lower(id)] = &hostRecord{host: host, id: id, groupID: groupID, sku: hs}
	writeJSON(w, lo.Ternary(exists, http.StatusOK, http.StatusCreated), s.renderHostLocked(s.hosts[lower(id)]))
}

func (s *Server) getDedicatedHost(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	h, ok := s.hosts[lower(dedicatedHostID(hostGroupID(r.PathValue("sub"), r.PathValue("rg"), r.PathValue("name")), r.PathValue("host")))]
	if !ok {
		writeARMError(w, errNotFound("Microsoft.Compute/hostGroups/hosts", r.PathValue("name")+"/"+r.PathValue("host"), r.PathValue("rg")))
		return
	}
	writeJSON(w, http.StatusOK, s.renderHostLocked(h))
}

func (s *Server) listDedicatedHosts(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	groupID := hostGroupID(r.PathValue("sub"), r.PathValue("rg"), r.PathValue("name"))
	if _, ok := s.hostGroups[lower(groupID)]; !ok {
		writeARMError(w, errNotFound("Microsoft.Compute/hostGroups", r.PathValue("name"), r.PathValue("rg")))
		return
	}
	out := armcompute.DedicatedHostListResult{Value: []*armcompute.DedicatedHost{}}
	for _, h := range s.groupHostsLocked(groupID) {
		out.Value = append(out.Value, lo.ToPtr(s.renderHostLocked(h)))
	}
	writeJSON(w, http.StatusOK, out)
}

// String renders a host SKU for logs.
func (h hostSKU) String() string { return fmt.Sprintf("%d vCPUs, %g GiB", h.vCPUs, h.memoryGiB) }
