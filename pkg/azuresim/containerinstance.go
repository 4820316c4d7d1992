package azuresim

import (
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	"github.com/samber/lo"
)

// Container Instances (Microsoft.ContainerInstance/containerGroups) at the
// api-version the SDK's armcontainerinstance/v2 client sends: create as a
// long-running operation, get, list by resource group and subscription,
// delete, container logs and the region's usages (quota). The rules it
// enforces are in validate_containerinstance.go.

const containerInstanceRP = "/providers/Microsoft.ContainerInstance"

// Container group provisioning states and instance-view states as ACI
// reports them: the group is Pending until its containers are placed and
// running, then Succeeded with instance view Running (the instance view of
// the 2023-05-01 specification's ContainerGroupPropertiesInstanceView and
// ContainerState; state strings from the specification's examples,
// specification/containerinstance/.../2023-05-01/examples/ContainerGroupsGet_Succeeded.json).
const (
	cgPending   = "Pending"
	cgSucceeded = "Succeeded"
	cgFailed    = "Failed"
	cgDeleting  = "Deleting"

	ciRunning = "Running"
	ciWaiting = "Waiting"
	ciPending = "Pending"
	ciStopped = "Stopped"
)

// containerGroupRecord is one container group.
type containerGroupRecord struct {
	id, sub, rg, name string
	location          string
	cg                armcontainerinstance.ContainerGroup // as PUT, with server-set fields
	state             string
	failure           *ARMError
	created           time.Time
	started           time.Time // when the containers started running
	cores             int       // quota cores: the CPU requests summed and rounded up
	cpu, memoryGB     float64
	spot              bool
	subnetKey         string // lower(subnet ID) of a VNet-injected group
	ip                netip.Addr
	deleteOp          string
}

func containerGroupID(sub, rg, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.ContainerInstance/containerGroups/" + name
}

func (c *containerGroupRecord) capacityType() string {
	return lo.Ternary(c.spot, "spot", "on-demand")
}

func (s *Server) containerInstanceRoutes(arm func(pattern, op string, class armClass, buckets []string, h http.HandlerFunc)) {
	cg := rgPath + containerInstanceRP + "/containerGroups"
	creates := []string{BucketContainerGroupCreates5Min, BucketContainerGroupCreates1Hour}
	deletes := []string{BucketContainerGroupDeletes5Min, BucketContainerGroupDeletes1Hour}
	arm("PUT "+cg+"/{name}", OpPutContainerGroup, armWrite, creates, s.checkedBody("armcontainerinstance.ContainerGroup", s.putContainerGroup))
	arm("GET "+cg+"/{name}", OpGetContainerGroup, armRead, nil, s.getContainerGroup)
	arm("DELETE "+cg+"/{name}", OpDeleteContainerGroup, armDelete, deletes, s.deleteContainerGroup)
	arm("GET "+cg, OpListContainerGroups, armRead, nil, s.listContainerGroups)
	arm("GET "+subPath+containerInstanceRP+"/containerGroups", OpListContainerGroups, armRead, nil, s.listContainerGroups)
	arm("GET "+cg+"/{name}/containers/{container}/logs", OpContainerLogs, armRead, nil, s.containerLogs)
	arm("GET "+subPath+containerInstanceRP+"/locations/{loc}/usages", OpListACIUsages, armRead, nil, s.listContainerInstanceUsages)
	arm("GET "+subPath+containerInstanceRP+"/locations/{loc}/operations/{op}", OpGetOperation, armRead, nil, s.getOperation)
}

func (s *Server) putContainerGroup(w http.ResponseWriter, r *http.Request) {
	sub, rg, name := r.PathValue("sub"), r.PathValue("rg"), r.PathValue("name")
	if !validACIName(name) {
		writeARMError(w, errInvalidName("containerGroups", name))
		return
	}
	var cg armcontainerinstance.ContainerGroup
	if !decodeTrackedResource(w, r, "containerGroups", name, &cg, func(c *armcontainerinstance.ContainerGroup) *string { return c.Location }) {
		return
	}
	id := containerGroupID(sub, rg, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if existing, ok := s.containerGroups[lower(id)]; ok && existing.state != cgFailed {
		if existing.state == cgDeleting {
			writeARMError(w, armErr(http.StatusConflict, "Conflict", "The container group '%s' is being deleted.", name))
			return
		}
		// A re-PUT of a live group updates its tags and nothing else here:
		// azuresim does not restart containers for a changed spec.
		existing.cg.Tags = cg.Tags
		writeJSON(w, http.StatusOK, s.renderContainerGroup(existing))
		return
	}
	req, aerr := s.validateContainerGroupLocked(sub, cg)
	if aerr == nil {
		aerr = s.pickErrorLocked(OpPutContainerGroup, id, "", req.location, "", lo.Ternary(req.spot, "spot", "on-demand"), false)
	}
	if aerr == nil {
		aerr = s.containerQuotaLocked(sub, req)
	}
	if aerr == nil {
		aerr = s.containerCapacityLocked(req)
	}
	if aerr != nil {
		s.log.Debug("azuresim container group PUT rejected", "group", name, "code", aerr.Code)
		writeARMError(w, aerr)
		return
	}
	now := time.Now()
	rec := &containerGroupRecord{id: id, sub: sub, rg: rg, name: name, location: req.location, state: cgPending, created: now,
		cores: req.cores, cpu: req.cpu, memoryGB: req.memoryGB, spot: req.spot}
	if req.subnet != nil {
		ips, ok := s.allocateIPsLocked(req.subnet, 1)
		if !ok || len(req.subnet.allocated) >= s.subnetCapacityLocked(vnetOfSubnet(req.subnet.id), req.subnet) {
			writeARMError(w, errSubnetIsFull(req.subnet.id, req.subnet.prefix.String(), 1))
			return
		}
		req.subnet.allocated[ips[0]] = id
		rec.subnetKey, rec.ip = lower(req.subnet.id), ips[0]
	}
	stored := cg
	stored.ID, stored.Name, stored.Type = lo.ToPtr(id), lo.ToPtr(name), lo.ToPtr("Microsoft.ContainerInstance/containerGroups")
	stored.Location = lo.ToPtr(req.location)
	props := *cg.Properties
	if props.RestartPolicy == nil {
		props.RestartPolicy = lo.ToPtr(armcontainerinstance.ContainerGroupRestartPolicyAlways)
	}
	if props.SKU == nil {
		props.SKU = lo.ToPtr(armcontainerinstance.ContainerGroupSKUStandard)
	}
	stored.Properties = &props
	rec.cg = stored
	s.containerGroups[lower(id)] = rec
	failure := s.pickErrorLocked(OpPutContainerGroup, id, "", req.location, "", rec.capacityType(), true)
	delay := s.cfg.scale(s.cfg.Latency.ContainerGroupCreate.sample(s.rng))
	op := s.newOpLocked(id, now)
	s.afterLocked(delay, func() { s.finishContainerGroupCreate(rec, op, failure) })
	s.log.Info("azuresim container group creating", "group", id, "cpu", req.cpu, "memoryGB", req.memoryGB, "spot", req.spot, "delay", delay)
	setAsyncHeaders(w, r, "Microsoft.ContainerInstance", req.location, op.id)
	writeJSON(w, http.StatusCreated, s.renderContainerGroup(rec))
}

func vnetOfSubnet(subnetID string) string {
	_, _, vnet, _, _ := parseSubnetID(subnetID)
	return vnet
}

func (s *Server) finishContainerGroupCreate(rec *containerGroupRecord, op *asyncOp, failure *ARMError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	op.done, op.end, op.failure = true, time.Now(), failure
	if s.containerGroups[lower(rec.id)] != rec || rec.state != cgPending {
		return
	}
	if failure != nil {
		rec.state, rec.failure = cgFailed, failure
		s.releaseContainerGroupIPLocked(rec)
		s.log.Info("azuresim container group failed", "group", rec.id, "code", failure.Code)
		return
	}
	rec.state, rec.started = cgSucceeded, time.Now()
	s.log.Info("azuresim container group running", "group", rec.id)
}

func (s *Server) releaseContainerGroupIPLocked(rec *containerGroupRecord) {
	if rec.subnetKey == "" {
		return
	}
	for _, v := range s.vnets {
		for _, sr := range v.subnets {
			if lower(sr.id) == rec.subnetKey && sr.allocated[rec.ip] == rec.id {
				delete(sr.allocated, rec.ip)
			}
		}
	}
	rec.subnetKey = ""
}

// renderContainerGroup is the group as GET returns it: secure environment
// values are write-only, the instance view is the group's state now.
func (s *Server) renderContainerGroup(rec *containerGroupRecord) armcontainerinstance.ContainerGroup {
	out := rec.cg
	props := *rec.cg.Properties
	props.ProvisioningState = lo.ToPtr(rec.state)
	groupState := ciPending
	containerState, detail := ciWaiting, "ContainerCreating"
	switch rec.state {
	case cgSucceeded:
		groupState, containerState, detail = ciRunning, ciRunning, ""
	case cgFailed:
		groupState, containerState, detail = ciStopped, ciWaiting, rec.failure.Code
	case cgDeleting:
		groupState = ciStopped
	}
	props.InstanceView = &armcontainerinstance.ContainerGroupPropertiesInstanceView{State: lo.ToPtr(groupState), Events: []*armcontainerinstance.Event{}}
	props.Containers = make([]*armcontainerinstance.Container, len(rec.cg.Properties.Containers))
	for i, c := range rec.cg.Properties.Containers {
		cc := *c
		cp := *c.Properties
		cp.EnvironmentVariables = lo.Map(c.Properties.EnvironmentVariables, func(e *armcontainerinstance.EnvironmentVariable, _ int) *armcontainerinstance.EnvironmentVariable {
			return &armcontainerinstance.EnvironmentVariable{Name: e.Name, Value: e.Value}
		})
		st := &armcontainerinstance.ContainerState{State: lo.ToPtr(containerState)}
		if detail != "" {
			st.DetailStatus = lo.ToPtr(detail)
		}
		if !rec.started.IsZero() {
			st.StartTime = lo.ToPtr(rec.started.UTC())
		}
		cp.InstanceView = &armcontainerinstance.ContainerPropertiesInstanceView{CurrentState: st, RestartCount: lo.ToPtr[int32](0), Events: []*armcontainerinstance.Event{}}
		cc.Properties = &cp
		props.Containers[i] = &cc
	}
	if rec.subnetKey != "" {
		ipa := armcontainerinstance.IPAddress{Type: lo.ToPtr(armcontainerinstance.ContainerGroupIPAddressTypePrivate), IP: lo.ToPtr(rec.ip.String()), Ports: []*armcontainerinstance.Port{}}
		if props.IPAddress != nil {
			ipa.Ports = props.IPAddress.Ports
		}
		props.IPAddress = &ipa
	}
	out.Properties = &props
	return out
}

func (s *Server) lookupContainerGroupLocked(r *http.Request) (*containerGroupRecord, *ARMError) {
	sub, rg, name := r.PathValue("sub"), r.PathValue("rg"), r.PathValue("name")
	rec, ok := s.containerGroups[lower(containerGroupID(sub, rg, name))]
	if !ok {
		return nil, errNotFound("Microsoft.ContainerInstance/containerGroups", name, rg)
	}
	return rec, nil
}

func (s *Server) getContainerGroup(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	rec, aerr := s.lookupContainerGroupLocked(r)
	var out armcontainerinstance.ContainerGroup
	if aerr == nil {
		out = s.renderContainerGroup(rec)
	}
	s.mu.RUnlock()
	if aerr != nil {
		writeARMError(w, aerr)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listContainerGroups(w http.ResponseWriter, r *http.Request) {
	sub, rg := r.PathValue("sub"), r.PathValue("rg")
	s.mu.RLock()
	var recs []*containerGroupRecord
	for _, c := range s.containerGroups {
		if strings.EqualFold(c.sub, sub) && (rg == "" || strings.EqualFold(c.rg, rg)) {
			recs = append(recs, c)
		}
	}
	sort.Slice(recs, func(i, j int) bool { return lower(recs[i].id) < lower(recs[j].id) })
	items, next, aerr := page(r, recs, s.opts.PageSize)
	var out armcontainerinstance.ContainerGroupListResult
	if aerr == nil {
		// The list omits each group's instance view, as ACI's list does
		// (the 2023-05-01 ContainerGroupsList example has none).
		out = armcontainerinstance.ContainerGroupListResult{NextLink: next, Value: lo.Map(items, func(c *containerGroupRecord, _ int) *armcontainerinstance.ContainerGroup {
			g := s.renderContainerGroup(c)
			g.Properties.InstanceView = nil
			return &g
		})}
	}
	s.mu.RUnlock()
	if aerr != nil {
		writeARMError(w, aerr)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) deleteContainerGroup(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, aerr := s.lookupContainerGroupLocked(r)
	if aerr != nil {
		w.WriteHeader(http.StatusNoContent) // ARM: deleting what is not there succeeds
		return
	}
	if rec.state == cgDeleting {
		setAsyncHeaders(w, r, "Microsoft.ContainerInstance", rec.location, rec.deleteOp)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if err := s.pickErrorLocked(OpDeleteContainerGroup, rec.id, "", rec.location, "", rec.capacityType(), false); err != nil {
		writeARMError(w, err)
		return
	}
	rec.state = cgDeleting
	op := s.newOpLocked(rec.id, time.Now())
	rec.deleteOp = op.id
	delay := s.cfg.scale(s.cfg.Latency.ContainerGroupDelete.sample(s.rng))
	s.afterLocked(delay, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		op.done, op.end = true, time.Now()
		if s.containerGroups[lower(rec.id)] == rec {
			delete(s.containerGroups, lower(rec.id))
			s.releaseContainerGroupIPLocked(rec)
			s.log.Info("azuresim container group deleted", "group", rec.id)
		}
	})
	setAsyncHeaders(w, r, "Microsoft.ContainerInstance", rec.location, op.id)
	w.Header().Set("Location", w.Header().Get("Azure-AsyncOperation")+"&monitor=true")
	w.WriteHeader(http.StatusAccepted)
}

// containerLogs answers a container's logs. azuresim runs no container: the
// log is the lines the simulator can truthfully say (the start), which is
// what a test of the logs path needs. tail keeps the last n lines, as the
// 2023-05-01 specification's ContainerListLogs documents.
func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	container := r.PathValue("container")
	s.mu.RLock()
	rec, aerr := s.lookupContainerGroupLocked(r)
	var lines []string
	if aerr == nil {
		var c *armcontainerinstance.Container
		for _, cc := range rec.cg.Properties.Containers {
			if lo.FromPtr(cc.Name) == container {
				c = cc
			}
		}
		switch {
		case c == nil:
			aerr = errNotFound("Microsoft.ContainerInstance/containerGroups/containers", rec.name+"/"+container, rec.rg)
		case !rec.started.IsZero():
			lines = []string{fmt.Sprintf("azuresim: container %s started from image %s", container, lo.FromPtr(c.Properties.Image))}
			if r.URL.Query().Get("timestamps") == "true" {
				lines[0] = rec.started.UTC().Format(time.RFC3339Nano) + " " + lines[0]
			}
		}
	}
	s.mu.RUnlock()
	if aerr != nil {
		writeARMError(w, aerr)
		return
	}
	if t := r.URL.Query().Get("tail"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			writeARMError(w, errInvalidParameter("tail", "The value '%s' is not valid for tail.", t))
			return
		}
		lines = lines[max(len(lines)-n, 0):]
	}
	content := strings.Join(lines, "\n")
	if content != "" {
		content += "\n"
	}
	writeJSON(w, http.StatusOK, armcontainerinstance.Logs{Content: lo.ToPtr(content)})
}

// listContainerInstanceUsages is the region's Container Instances quota
// use, named as ACI names its usages (ContainerGroups, StandardCores; the
// 2023-05-01 ContainerGroupUsage example and Get-AzContainerInstanceUsage).
func (s *Server) listContainerInstanceUsages(w http.ResponseWriter, r *http.Request) {
	sub, loc := r.PathValue("sub"), lower(r.PathValue("loc"))
	s.mu.RLock()
	groups, cores := s.containerUsageLocked(sub, loc)
	cfg := s.cfg.ContainerInstances
	s.mu.RUnlock()
	usage := func(name, local string, cur, limit int) *armcontainerinstance.Usage {
		return &armcontainerinstance.Usage{CurrentValue: lo.ToPtr(int32(cur)), Limit: lo.ToPtr(int32(limit)), Unit: lo.ToPtr("Count"),
			Name: &armcontainerinstance.UsageName{Value: lo.ToPtr(name), LocalizedValue: lo.ToPtr(local)}}
	}
	writeJSON(w, http.StatusOK, armcontainerinstance.UsageListResult{Value: []*armcontainerinstance.Usage{
		usage("ContainerGroups", "Container Groups", groups, cfg.ContainerGroupsLimit),
		usage("StandardCores", "Standard Cores", cores, cfg.StandardCoresLimit),
	}})
}

// containerUsageLocked counts the groups and quota cores of a subscription
// in a location. A group counts from its PUT until it is deleted, except
// when its deployment failed.
func (s *Server) containerUsageLocked(sub, loc string) (groups, cores int) {
	for _, c := range s.containerGroups {
		if strings.EqualFold(c.sub, sub) && strings.EqualFold(c.location, loc) && c.state != cgFailed {
			groups++
			cores += c.cores
		}
	}
	return groups, cores
}
