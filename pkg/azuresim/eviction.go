package azuresim

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim/nodeagent"
)

// evictionTick is how often (wall time) the random-eviction clock runs.
const evictionTick = 200 * time.Millisecond

// evictionLoop evicts running spot VMs at the configured rate per
// simulated hour until the server closes.
func (s *Server) evictionLoop() {
	t := time.NewTicker(evictionTick)
	defer t.Stop()
	lastGC := time.Now()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.mu.Lock()
			if time.Since(lastGC) > time.Minute {
				s.forgetOldOpsLocked()
				lastGC = time.Now()
			}
			rate := s.cfg.Spot.EvictionRatePerHour
			if rate > 0 {
				// Probability per tick: rate/hour times the simulated time a tick spans.
				p := rate * (float64(evictionTick) / s.cfg.TimeScale) / float64(time.Hour)
				for _, v := range s.vms {
					if v.spot && v.running() && v.evictionNotBefore == nil && s.rng.Float64() < p {
						s.evictLocked(v, s.cfg.Spot.NoticePeriod.Duration)
					}
				}
			}
			s.mu.Unlock()
		}
	}
}

// opRetention is how long a finished async operation stays queryable;
// clients poll until done, so an hour is ample and bounds memory in long runs.
const opRetention = time.Hour

func (s *Server) forgetOldOpsLocked() {
	cutoff := time.Now().Add(-opRetention)
	for id, op := range s.ops {
		if op.done && op.end.Before(cutoff) {
			delete(s.ops, id)
		}
	}
}

// Evict schedules a spot eviction of the VM with the given resource ID: a
// Preempt notice now, and deletion (or deallocation, per evictionPolicy) once
// the notice period (simulated; 0 means the configured one) has passed.
func (s *Server) Evict(id string, notice time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vms[lower(id)]
	if !ok {
		return fmt.Errorf("VM %s not found", id)
	}
	if !v.spot {
		return fmt.Errorf("VM %s is not a spot VM", id)
	}
	if !v.running() {
		return fmt.Errorf("VM %s is %s/%s, not running", id, v.state, v.powerState)
	}
	if v.evictionNotBefore != nil {
		return nil
	}
	if notice <= 0 {
		notice = s.cfg.Spot.NoticePeriod.Duration
	}
	s.evictLocked(v, notice)
	return nil
}

func (s *Server) evictLocked(v *vmRecord, notice time.Duration) {
	d := s.cfg.scale(notice)
	nb := time.Now().Add(d)
	v.evictionNotBefore = &nb
	s.log.Info("azuresim spot eviction scheduled", "vm", v.id, "notBefore", nb)
	s.notifyLocked(v.id)
	s.afterLocked(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.vms[lower(v.id)] != v || v.state == stateDeleting {
			return
		}
		if p := v.vm.Properties.EvictionPolicy; p != nil && *p == armcompute.VirtualMachineEvictionPolicyTypesDelete {
			s.removeVMLocked(v)
			return
		}
		v.powerState = "deallocated"
		s.log.Info("azuresim spot VM deallocated", "vm", v.id)
		s.notifyLocked(v.id)
	})
}

func (s *Server) handleEvict(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID            string   `json:"id"`
		Subscription  string   `json:"subscription"`
		ResourceGroup string   `json:"resourceGroup"`
		Name          string   `json:"name"`
		NoticePeriod  Duration `json:"noticePeriod,omitzero"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeARMError(w, err)
		return
	}
	id := req.ID
	if id == "" {
		s.mu.RLock()
		for _, v := range s.vms {
			if strings.EqualFold(v.name, req.Name) && (req.ResourceGroup == "" || strings.EqualFold(v.rg, req.ResourceGroup)) &&
				(req.Subscription == "" || strings.EqualFold(v.sub, req.Subscription)) {
				id = v.id
			}
		}
		s.mu.RUnlock()
	}
	if err := s.Evict(id, req.NoticePeriod.Duration); err != nil {
		writeARMError(w, armErr(http.StatusBadRequest, "InvalidParameter", "%v", err))
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// LookupVM implements nodeagent.Source: the node agent's view of a VM.
func (s *Server) LookupVM(id string) (nodeagent.VM, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.vms[lower(id)]
	if !ok {
		return nodeagent.VM{}, false
	}
	return s.nodeView(v), true
}

// ReportNode implements nodeagent.Source: what became of a VM's node shows
// in the simulator's state.
func (s *Server) ReportNode(id string, r nodeagent.NodeReport) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.vms[lower(id)]; ok {
		if r.Node != "" && v.node.Node == "" && !v.provisioned.IsZero() {
			s.stats.record(OpNodeJoin, http.StatusOK, time.Since(v.provisioned))
		}
		v.node = r
	}
}

// ListVMs implements nodeagent.Source.
func (s *Server) ListVMs() []nodeagent.VM {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]nodeagent.VM, 0, len(s.vms))
	for _, v := range s.vms {
		out = append(out, s.nodeView(v))
	}
	return out
}

func (s *Server) nodeView(v *vmRecord) nodeagent.VM {
	out := nodeagent.VM{ID: v.id, Subscription: v.sub, ResourceGroup: v.rg, Name: v.name, Location: *v.vm.Location, Zone: v.zone,
		SKU: v.sku, Spot: v.spot, VMID: lo.FromPtr(v.vm.Properties.VMID), Created: v.created,
		Running: v.running(), EvictionNotBefore: v.evictionNotBefore, Tags: map[string]string{}}
	for k, t := range v.vm.Tags {
		out.Tags[k] = lo.FromPtr(t)
	}
	if osp := v.vm.Properties.OSProfile; osp != nil {
		out.ComputerName = lo.FromPtr(osp.ComputerName)
	}
	out.CustomData = v.customData
	if sp := v.vm.Properties.StorageProfile; sp != nil {
		if sp.OSDisk != nil && sp.OSDisk.DiskSizeGB != nil {
			out.OSDiskSizeGB = int(*sp.OSDisk.DiskSizeGB)
		}
		if sp.OSDisk != nil && sp.OSDisk.OSType != nil {
			out.Windows = *sp.OSDisk.OSType == armcompute.OperatingSystemTypesWindows
		}
		if ir := sp.ImageReference; ir != nil {
			out.ImageID = lo.CoalesceOrEmpty(lo.FromPtr(ir.CommunityGalleryImageID), lo.FromPtr(ir.SharedGalleryImageID), lo.FromPtr(ir.ID))
		}
	}
	if osp := v.vm.Properties.OSProfile; osp != nil && osp.WindowsConfiguration != nil {
		out.Windows = true
	}
	if len(v.nicIDs) > 0 {
		if n, ok := s.nics[lower(v.nicIDs[0])]; ok {
			out.PrivateIP = n.ip.String()
		}
	}
	return out
}
