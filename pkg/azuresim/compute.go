package azuresim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/google/uuid"
	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
)

const maxBody = 1 << 20

func baseURL(r *http.Request) string { return "https://" + r.Host }

// decodeBody reads a JSON body into v with the SDK model's own UnmarshalJSON.
func decodeBody(r *http.Request, v any) *ARMError {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return armErr(http.StatusBadRequest, "InvalidRequestContent", "The request content could not be read: %v", err)
	}
	if len(body) > maxBody {
		return armErr(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "The request content exceeds %d bytes.", maxBody)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return armErr(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: the body is empty.")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return armErr(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: %v", err)
	}
	return nil
}

// page returns one page of items and the nextLink for the rest, using
// $skiptoken as an offset as ARM's continuation tokens are opaque anyway.
func page[T any](r *http.Request, items []T, size int) ([]T, *string, *ARMError) {
	off := 0
	if tok := r.URL.Query().Get("$skiptoken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 {
			return nil, nil, armErr(http.StatusBadRequest, "InvalidParameter", "The $skiptoken '%s' is invalid.", tok)
		}
		off = min(n, len(items))
	}
	end := min(off+size, len(items))
	if end >= len(items) {
		return items[off:end], nil, nil
	}
	q := r.URL.Query()
	q.Set("$skiptoken", strconv.Itoa(end))
	next := baseURL(r) + r.URL.Path + "?" + q.Encode()
	return items[off:end], &next, nil
}

// --- Resource SKUs ---

func (s *Server) listSKUs(w http.ResponseWriter, r *http.Request) {
	var regions []catalog.Region
	if f := r.URL.Query().Get("$filter"); f != "" {
		loc, ok := parseLocationFilter(f)
		if !ok {
			writeARMError(w, armErr(http.StatusBadRequest, "InvalidFilter", "The $filter '%s' is not supported. Supported: location eq '<location>'.", f))
			return
		}
		reg, ok := s.cat.Region(loc)
		if !ok {
			writeJSON(w, http.StatusOK, armcompute.ResourceSKUsResult{Value: []*armcompute.ResourceSKU{}})
			return
		}
		regions = []catalog.Region{reg}
	} else {
		regions = s.cat.Regions
	}
	var all []*armcompute.ResourceSKU
	for _, reg := range regions {
		for _, sku := range s.cat.SKUs {
			if o, ok := s.cat.Offering(sku, reg.Name); ok {
				all = append(all, s.cat.ResourceSKU(sku, o))
			}
		}
	}
	items, next, err := page(r, all, 200)
	if err != nil {
		writeARMError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, armcompute.ResourceSKUsResult{Value: items, NextLink: next})
}

// parseLocationFilter accepts "location eq 'eastus'", the only filter the
// Resource SKUs API supports.
func parseLocationFilter(f string) (string, bool) {
	expr, err := parseFilter(f)
	if err != nil || len(expr.terms) != 1 || expr.terms[0].op != "eq" || !strings.EqualFold(expr.terms[0].field, "location") {
		return "", false
	}
	return expr.terms[0].value, true
}

// --- Usages ---

func familyDisplayName(f string) string {
	f = strings.TrimSuffix(strings.TrimSuffix(f, " Family"), "Family")
	f = strings.TrimPrefix(strings.TrimPrefix(f, "standard"), "Standard")
	return "Standard " + strings.TrimSpace(f) + " Family vCPUs"
}

func (s *Server) listUsages(w http.ResponseWriter, r *http.Request) {
	sub, loc := r.PathValue("sub"), lower(r.PathValue("loc"))
	if _, ok := s.cat.Region(loc); !ok {
		writeARMError(w, armErr(http.StatusNotFound, "NoRegisteredProviderFound", "No registered resource provider found for location '%s' and API version '%s' for type 'locations/usages'.", loc, r.URL.Query().Get("api-version")))
		return
	}
	s.mu.RLock()
	cfg := s.cfg
	regional, lowPri, vmCount, byFamily := s.usageLocked(sub, loc)
	s.mu.RUnlock()
	families := map[string]bool{}
	for _, sku := range s.cat.SKUs {
		if _, ok := sku.LinuxOnDemandUSD[loc]; ok {
			families[sku.Family] = true
		}
	}
	names := lo.Keys(families)
	sort.Strings(names)
	usage := func(value, local string, cur, limit int) *armcompute.Usage {
		return &armcompute.Usage{CurrentValue: lo.ToPtr(int32(cur)), Limit: lo.ToPtr(int64(limit)), Unit: lo.ToPtr("Count"),
			Name: &armcompute.UsageName{Value: lo.ToPtr(value), LocalizedValue: lo.ToPtr(local)}}
	}
	out := []*armcompute.Usage{
		usage("cores", "Total Regional vCPUs", regional, cfg.Quota.RegionalLimit),
		usage("virtualMachines", "Virtual Machines", vmCount, 25000),
		usage("lowPriorityCores", "Total Regional Low-priority vCPUs", lowPri, cfg.Quota.LowPriorityLimit),
	}
	for _, f := range names {
		out = append(out, usage(f, familyDisplayName(f), byFamily[lower(f)], cfg.familyLimit(loc, f)))
	}
	writeJSON(w, http.StatusOK, armcompute.ListUsagesResult{Value: out})
}

// usageLocked sums vCPUs of quota-consuming VMs in a location. Spot VMs
// count only against the low-priority quota, as in Azure.
func (s *Server) usageLocked(sub, loc string) (regional, lowPri, vms int, byFamily map[string]int) {
	byFamily = map[string]int{}
	for _, v := range s.vms {
		if !strings.EqualFold(v.sub, sub) || !strings.EqualFold(*v.vm.Location, loc) || !v.consumesQuota {
			continue
		}
		vms++
		if v.spot {
			lowPri += v.sku.VCPUs
			continue
		}
		regional += v.sku.VCPUs
		byFamily[lower(v.sku.Family)] += v.sku.VCPUs
	}
	return regional, lowPri, vms, byFamily
}

// --- Virtual machines ---

func (s *Server) renderVM(v *vmRecord, expand bool) armcompute.VirtualMachine {
	out := v.vm
	props := *v.vm.Properties
	props.ProvisioningState = lo.ToPtr(v.state)
	if props.OSProfile != nil {
		// customData and passwords are write-only in ARM.
		osp := *props.OSProfile
		osp.CustomData, osp.AdminPassword = nil, nil
		props.OSProfile = &osp
	}
	props.InstanceView = nil
	if expand {
		props.InstanceView = s.instanceView(v)
	}
	out.Properties = &props
	return out
}

func (s *Server) instanceView(v *vmRecord) *armcompute.VirtualMachineInstanceView {
	ts := lo.ToPtr(v.created.UTC())
	prov := &armcompute.InstanceViewStatus{Code: lo.ToPtr("ProvisioningState/" + lower(v.state)), Level: lo.ToPtr(armcompute.StatusLevelTypesInfo),
		DisplayStatus: lo.ToPtr("Provisioning " + lower(v.state)), Time: ts}
	switch v.state {
	case stateSucceeded:
		prov.DisplayStatus = lo.ToPtr("Provisioning succeeded")
	case stateFailed:
		prov.Level = lo.ToPtr(armcompute.StatusLevelTypesError)
		prov.DisplayStatus = lo.ToPtr("Provisioning failed")
		if v.failure != nil {
			prov.Code = lo.ToPtr("ProvisioningState/failed/" + v.failure.Code)
			prov.Message = lo.ToPtr(v.failure.Message)
		}
	case stateCreating:
		prov.DisplayStatus = lo.ToPtr("Creating")
	case stateUpdating:
		prov.DisplayStatus = lo.ToPtr("Updating")
	}
	statuses := []*armcompute.InstanceViewStatus{prov}
	if !v.provisioned.IsZero() || v.state == stateDeleting {
		ps := map[string]string{"running": "VM running", "deallocated": "VM deallocated", "stopped": "VM stopped"}[v.powerState]
		statuses = append(statuses, &armcompute.InstanceViewStatus{Code: lo.ToPtr("PowerState/" + v.powerState), Level: lo.ToPtr(armcompute.StatusLevelTypesInfo), DisplayStatus: lo.ToPtr(ps)})
	}
	iv := &armcompute.VirtualMachineInstanceView{Statuses: statuses, HyperVGeneration: lo.ToPtr(armcompute.HyperVGenerationType(v.hyperVGeneration))}
	if v.vm.Properties.OSProfile != nil {
		iv.ComputerName = v.vm.Properties.OSProfile.ComputerName
	}
	return iv
}

func (s *Server) lookupVM(r *http.Request) (*vmRecord, *ARMError) {
	sub, rg, name := r.PathValue("sub"), r.PathValue("rg"), r.PathValue("name")
	v, ok := s.vms[lower(vmID(sub, rg, name))]
	if !ok {
		return nil, errNotFound("Microsoft.Compute/virtualMachines", name, rg)
	}
	return v, nil
}

func (s *Server) getVM(w http.ResponseWriter, r *http.Request) {
	expand := strings.EqualFold(r.URL.Query().Get("$expand"), "instanceView")
	s.mu.RLock()
	v, err := s.lookupVM(r)
	var out armcompute.VirtualMachine
	if err == nil {
		out = s.renderVM(v, expand)
	}
	body, merr := json.Marshal(out)
	s.mu.RUnlock()
	if err != nil {
		writeARMError(w, err)
		return
	}
	if merr != nil {
		writeARMError(w, armErr(http.StatusInternalServerError, "InternalServerError", "encoding VM: %v", merr))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(body)
}

func (s *Server) getInstanceView(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, err := s.lookupVM(r)
	if err != nil {
		writeARMError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.instanceView(v))
}

func (s *Server) listVMs(w http.ResponseWriter, r *http.Request) {
	sub, rg := r.PathValue("sub"), r.PathValue("rg")
	now := time.Now()
	s.mu.RLock()
	var recs []*vmRecord
	for _, v := range s.vms {
		if strings.EqualFold(v.sub, sub) && (rg == "" || strings.EqualFold(v.rg, rg)) && !now.Before(v.listableAt) {
			recs = append(recs, v)
		}
	}
	sort.Slice(recs, func(i, j int) bool { return lower(recs[i].id) < lower(recs[j].id) })
	items, next, err := page(r, recs, s.opts.PageSize)
	var body []byte
	var merr error
	if err == nil {
		out := armcompute.VirtualMachineListResult{Value: make([]*armcompute.VirtualMachine, len(items)), NextLink: next}
		for i, v := range items {
			out.Value[i] = lo.ToPtr(s.renderVM(v, false))
		}
		body, merr = json.Marshal(out)
	}
	s.mu.RUnlock()
	if err != nil {
		writeARMError(w, err)
		return
	}
	if merr != nil {
		writeARMError(w, armErr(http.StatusInternalServerError, "InternalServerError", "encoding VMs: %v", merr))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(body)
}

// pickErrorLocked returns the first matching injected error rule that fires.
// target is the resource the request is about (see defaultMessage).
func (s *Server) pickErrorLocked(op, target, sku, location, zone, capacityType string, async bool) *ARMError {
	for i, rule := range s.cfg.Errors {
		if rule.Async != async || !rule.matches(op, sku, location, zone, capacityType) {
			continue
		}
		if rule.Count > 0 && s.fired[i] >= rule.Count {
			continue
		}
		if p := rule.Probability; p > 0 && p < 1 && s.rng.Float64() >= p {
			continue
		}
		s.fired[i]++
		status := rule.Status
		if status == 0 {
			status = defaultStatus(rule.Code)
		}
		if async {
			status = http.StatusOK
		}
		msg := rule.Message
		if msg == "" {
			msg = defaultMessage(rule.Code, target, zone, location)
			// Injected OperationNotAllowed defaults to the most common real
			// cause, an exhausted family quota (AZURE-FACTS: 94.5%).
			if s2, ok := s.cat.SKU(sku); ok && rule.Code == "OperationNotAllowed" {
				msg = errQuota(s2.Family+" Cores", location, 0, 0, s2.VCPUs).Message
			}
		}
		return &ARMError{Status: status, Code: rule.Code, Message: msg}
	}
	return nil
}

// quotaLocked checks the vCPU quotas a new VM needs, family first as
// Compute does.
func (s *Server) quotaLocked(sub string, req *vmRequest) *ARMError {
	regional, lowPri, _, byFamily := s.usageLocked(sub, req.location)
	need := req.sku.VCPUs
	if req.spot {
		if limit := s.cfg.Quota.LowPriorityLimit; lowPri+need > limit {
			return errQuota("LowPriorityCores", req.location, limit, lowPri, need)
		}
		return nil
	}
	if limit, used := s.cfg.familyLimit(req.location, req.sku.Family), byFamily[lower(req.sku.Family)]; used+need > limit {
		return errQuota(req.sku.Family+" Cores", req.location, limit, used, need)
	}
	if limit := s.cfg.Quota.RegionalLimit; regional+need > limit {
		return errQuota("Total Regional Cores", req.location, limit, regional, need)
	}
	return nil
}

// capacityLocked reports an allocation failure when a capacity rule for the
// placement is exhausted by VMs already allocated there.
func (s *Server) capacityLocked(req *vmRequest) *ARMError {
	capType := lo.Ternary(req.spot, "spot", "on-demand")
	for _, rule := range s.cfg.Capacity {
		if !rule.matches(req.sku.Name, req.location, req.zone, capType) {
			continue
		}
		used := 0
		for _, v := range s.vms {
			if v.consumesQuota && rule.matches(v.sku.Name, *v.vm.Location, v.zone, v.capacityType()) {
				used++
			}
		}
		if used >= rule.Count {
			if req.zone != "" {
				return errZonalAllocationFailed()
			}
			return errAllocationFailed()
		}
	}
	return nil
}

func (s *Server) putVM(w http.ResponseWriter, r *http.Request) {
	sub, rg, name := r.PathValue("sub"), r.PathValue("rg"), r.PathValue("name")
	if !validName(name) || len(name) > 64 {
		writeARMError(w, errInvalidName("virtualMachines", name))
		return
	}
	var vm armcompute.VirtualMachine
	if err := decodeBody(r, &vm); err != nil {
		writeARMError(w, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := vmID(sub, rg, name)
	// A VM whose allocation failed is created afresh; one that was provisioned
	// (even if an extension failed since) is updated.
	if existing, ok := s.vms[lower(id)]; ok && (existing.state != stateFailed || !existing.provisioned.IsZero()) {
		if existing.state == stateDeleting {
			writeARMError(w, armErr(http.StatusConflict, "OperationNotAllowed", "Operation 'PUT' is not allowed on VM '%s' since the VM is marked for deletion. You can only retry the Delete operation (or wait for an ongoing one to complete).", name))
			return
		}
		// Re-PUT of a live VM: an update (validate_update.go).
		aerr := checkLocationUnchanged(existing, vm)
		if aerr == nil {
			aerr = checkFixedProperties(existing, vm)
		}
		var req *vmRequest
		if aerr == nil {
			req, aerr = s.validateVMLocked(sub, rg, name, vm, true)
		}
		if aerr == nil {
			aerr = s.validateVMUpdateLocked(existing, req)
		}
		if aerr != nil {
			s.log.Debug("azuresim VM update rejected", "vm", name, "code", aerr.Code)
			writeARMError(w, aerr)
			return
		}
		s.applyVMUpdateLocked(existing, req)
		writeJSON(w, http.StatusOK, s.renderVM(existing, false))
		return
	}
	req, aerr := s.validateVMLocked(sub, rg, name, vm, false)
	capType := "on-demand"
	if req != nil && req.spot {
		capType = "spot"
	}
	if aerr == nil {
		aerr = s.validateHostGroupLocked(req, name)
	}
	if aerr == nil {
		aerr = s.validateDiskEncryptionSetLocked(req)
	}
	if aerr == nil {
		aerr = s.pickErrorLocked(OpPutVM, vmID(sub, rg, name), req.sku.Name, req.location, req.zone, capType, false)
	}
	if aerr == nil {
		aerr = s.quotaLocked(sub, req)
	}
	if aerr != nil {
		s.log.Debug("azuresim VM PUT rejected", "vm", name, "code", aerr.Code)
		writeARMError(w, aerr)
		return
	}
	now := time.Now()
	cfg := s.cfg
	// Decide the outcome now; the operation reports it when it completes.
	failure := s.pickErrorLocked(OpPutVM, vmID(sub, rg, name), req.sku.Name, req.location, req.zone, capType, true)
	if failure == nil {
		failure = s.capacityLocked(req)
	}
	delay := cfg.scale(cfg.Latency.VMCreate.sample(s.rng))
	if failure != nil {
		delay /= 3 // allocation failures come back faster than a full boot
	}
	stored := req.vm
	stored.ID = lo.ToPtr(id)
	stored.Name = lo.ToPtr(name)
	stored.Type = lo.ToPtr("Microsoft.Compute/virtualMachines")
	stored.Location = lo.ToPtr(req.location)
	props := *stored.Properties
	props.VMID = lo.ToPtr(uuid.NewString())
	props.TimeCreated = lo.ToPtr(now.UTC())
	if props.Priority != nil && *props.Priority == armcompute.VirtualMachinePriorityTypesSpot && props.EvictionPolicy == nil {
		props.EvictionPolicy = lo.ToPtr(armcompute.VirtualMachineEvictionPolicyTypesDeallocate)
	}
	if props.OSProfile != nil && props.OSProfile.ComputerName == nil {
		osp := *props.OSProfile
		osp.ComputerName = lo.ToPtr(name)
		props.OSProfile = &osp
	}
	stored.Properties = &props
	rec := &vmRecord{id: id, sub: sub, rg: rg, name: name, vm: stored, customData: req.customData, sku: req.sku, zone: req.zone,
		spot: req.spot, state: stateCreating, created: now, listableAt: now.Add(cfg.scale(cfg.ListDelay.Duration)),
		nicIDs: req.nicIDs, powerState: "running", consumesQuota: true, hyperVGeneration: req.hyperVGeneration}
	s.vms[lower(id)] = rec
	s.osDiskLocked(rec)
	for _, n := range req.nicIDs {
		nic := s.nics[lower(n)]
		nic.vmID = id
		nic.nic.Properties.VirtualMachine = &armnetwork.SubResource{ID: lo.ToPtr(id)}
	}
	op := s.newOpLocked(id, now)
	s.afterLocked(delay, func() { s.finishCreate(rec, op, failure) })
	s.notifyLocked(id)
	s.log.Info("azuresim VM creating", "vm", id, "size", req.sku.Name, "zone", req.zone, "spot", req.spot, "delay", delay, "willFail", failure != nil)
	setAsyncHeaders(w, r, "Microsoft.Compute", req.location, op.id)
	writeJSON(w, http.StatusCreated, s.renderVM(rec, false))
}

func (s *Server) finishCreate(rec *vmRecord, op *asyncOp, failure *ARMError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	op.done, op.end, op.failure = true, time.Now(), failure
	if s.vms[lower(rec.id)] != rec || rec.state != stateCreating {
		return // deleted or reset meanwhile
	}
	if failure != nil {
		rec.state, rec.failure, rec.consumesQuota = stateFailed, failure, false
		s.log.Info("azuresim VM provisioning failed", "vm", rec.id, "code", failure.Code)
	} else {
		rec.state, rec.provisioned = stateSucceeded, time.Now()
		s.log.Info("azuresim VM provisioned", "vm", rec.id)
	}
	s.notifyLocked(rec.id)
}

func setAsyncHeaders(w http.ResponseWriter, r *http.Request, provider, location, opID string) {
	u := fmt.Sprintf("%s/subscriptions/%s/providers/%s/locations/%s/operations/%s?api-version=%s",
		baseURL(r), r.PathValue("sub"), provider, location, opID, r.URL.Query().Get("api-version"))
	w.Header().Set("Azure-AsyncOperation", u)
	w.Header().Set("Azure-AsyncNotification", "Enabled")
}

func (s *Server) newOpLocked(resource string, now time.Time) *asyncOp {
	op := &asyncOp{id: uuid.NewString(), start: now, resource: resource}
	s.ops[op.id] = op
	return op
}

// asyncStatus is the body of an Azure-AsyncOperation status.
type asyncStatus struct {
	Name      string     `json:"name"`
	StartTime time.Time  `json:"startTime"`
	EndTime   *time.Time `json:"endTime,omitempty"`
	Status    string     `json:"status"`
	Error     *ARMError  `json:"error,omitempty"`
}

func (s *Server) getOperation(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	op, ok := s.ops[r.PathValue("op")]
	var st asyncStatus
	if ok {
		st = asyncStatus{Name: op.id, StartTime: op.start.UTC(), Status: "InProgress"}
		if op.done {
			st.EndTime = lo.ToPtr(op.end.UTC())
			st.Status = lo.Ternary(op.failure == nil, "Succeeded", "Failed")
			st.Error = op.failure
		}
	}
	s.mu.RUnlock()
	if !ok {
		writeARMError(w, armErr(http.StatusNotFound, "NotFound", "The operation '%s' was not found.", r.PathValue("op")))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) deleteVM(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, aerr := s.lookupVM(r)
	if aerr != nil {
		w.WriteHeader(http.StatusNoContent) // ARM: deleting what is not there succeeds
		return
	}
	loc := *v.vm.Location
	if v.state == stateDeleting {
		setAsyncHeaders(w, r, "Microsoft.Compute", loc, v.deleteOp)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if err := s.pickErrorLocked(OpDeleteVM, v.id, v.sku.Name, loc, v.zone, v.capacityType(), false); err != nil {
		writeARMError(w, err)
		return
	}
	failure := s.pickErrorLocked(OpDeleteVM, v.id, v.sku.Name, loc, v.zone, v.capacityType(), true)
	prev := v.state
	v.state = stateDeleting
	op := s.newOpLocked(v.id, time.Now())
	v.deleteOp = op.id
	delay := s.cfg.scale(s.cfg.Latency.VMDelete.sample(s.rng))
	s.afterLocked(delay, func() { s.finishDelete(v, op, failure, prev) })
	s.notifyLocked(v.id)
	s.log.Info("azuresim VM deleting", "vm", v.id, "delay", delay)
	setAsyncHeaders(w, r, "Microsoft.Compute", loc, op.id)
	w.Header().Set("Location", w.Header().Get("Azure-AsyncOperation")+"&monitor=true")
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) finishDelete(v *vmRecord, op *asyncOp, failure *ARMError, prev string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	op.done, op.end, op.failure = true, time.Now(), failure
	if s.vms[lower(v.id)] != v {
		return
	}
	if failure != nil {
		v.state, v.deleteOp = prev, ""
		s.notifyLocked(v.id)
		return
	}
	s.removeVMLocked(v)
}

// removeVMLocked deletes the VM; its NICs and OS disk go with it or stay
// detached as their deleteOptions say.
func (s *Server) removeVMLocked(v *vmRecord) {
	delete(s.vms, lower(v.id))
	s.releaseVMResourcesLocked(v)
	s.log.Info("azuresim VM deleted", "vm", v.id)
	s.notifyLocked(v.id)
}
