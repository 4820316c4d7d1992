package azuresim

import (
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	"github.com/samber/lo"
	"sigs.k8s.io/yaml"
)

// The admin API: fault model, evictions, introspection and reset. It lives
// under /admin and needs the admin bearer token.
func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.Handle("GET /admin/state", s.adminMiddleware(s.handleState))
	mux.Handle("GET /admin/stats", s.adminMiddleware(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.stats.snapshot()) }))
	mux.Handle("POST /admin/reset", s.adminMiddleware(s.handleReset))
	mux.Handle("GET /admin/config", s.adminMiddleware(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.config()) }))
	mux.Handle("PUT /admin/config", s.adminMiddleware(s.handlePutConfig))
	mux.Handle("POST /admin/errors", s.adminMiddleware(s.handleAddError))
	mux.Handle("POST /admin/capacity", s.adminMiddleware(s.handleAddCapacity))
	mux.Handle("PUT /admin/quota", s.adminMiddleware(s.handlePutQuota))
	mux.Handle("POST /admin/evict", s.adminMiddleware(s.handleEvict))
	mux.Handle("GET /admin/requests", s.adminMiddleware(s.handleRequests))
	mux.Handle("GET /admin/vms/{name}/bootstrap", s.adminMiddleware(s.handleVMBootstrap))
	// Community galleries: what an image publisher does.
	mux.Handle("GET /admin/galleries", s.adminMiddleware(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.GalleryImages()) }))
	mux.Handle("PUT /admin/galleries/{gallery}/images/{image}/versions/{version}", s.adminMiddleware(s.handlePublishImageVersion))
	mux.Handle("DELETE /admin/galleries/{gallery}/images/{image}/versions/{version}", s.adminMiddleware(s.handleDeleteImageVersion))
	mux.Handle("DELETE /admin/galleries/{gallery}/images/{image}", s.adminMiddleware(s.handleDeleteGalleryImage))
}

func (s *Server) handlePublishImageVersion(w http.ResponseWriter, r *http.Request) {
	var spec ImageVersionSpec
	if r.ContentLength != 0 {
		if err := readYAML(r, &spec); err != nil {
			writeARMError(w, err)
			return
		}
	}
	writeGalleryResult(w, s.PublishImageVersion(r.PathValue("gallery"), r.PathValue("image"), r.PathValue("version"), spec))
}

func (s *Server) handleDeleteImageVersion(w http.ResponseWriter, r *http.Request) {
	writeGalleryResult(w, s.DeleteImageVersion(r.PathValue("gallery"), r.PathValue("image"), r.PathValue("version")))
}

func (s *Server) handleDeleteGalleryImage(w http.ResponseWriter, r *http.Request) {
	writeGalleryResult(w, s.DeleteGalleryImage(r.PathValue("gallery"), r.PathValue("image")))
}

func writeGalleryResult(w http.ResponseWriter, err error) {
	var missing *ErrGalleryImageMissing
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.As(err, &missing):
		writeARMError(w, armErr(http.StatusNotFound, "NotFound", "%v", err))
	default:
		writeARMError(w, errInvalidParameter("version", "%v", err))
	}
}

// SetConfig replaces the fault model at run time.
func (s *Server) SetConfig(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg = cfg
	s.fired = map[int]int{}
	s.throttle.configure(cfg.Throttling, cfg.TimeScale)
	return nil
}

// UpdateConfig edits the fault model in place under the server lock.
func (s *Server) UpdateConfig(edit func(*Config)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg := s.cfg
	cfg.Errors = append([]ErrorRule(nil), cfg.Errors...)
	cfg.Capacity = append([]CapacityRule(nil), cfg.Capacity...)
	cfg.Subnets = append([]SubnetRule(nil), cfg.Subnets...)
	edit(&cfg)
	if err := cfg.Validate(); err != nil {
		return err
	}
	throttleChanged := !sameThrottling(cfg.Throttling, s.cfg.Throttling) || cfg.TimeScale != s.cfg.TimeScale
	// A rule keeps its count only while it stays as it was where it was: a
	// new rule in the slot of a removed one starts from zero.
	fired := map[int]int{}
	for i, rule := range cfg.Errors {
		if i < len(s.cfg.Errors) && s.cfg.Errors[i] == rule {
			fired[i] = s.fired[i]
		}
	}
	s.fired = fired
	s.cfg = cfg
	if throttleChanged {
		s.throttle.configure(cfg.Throttling, cfg.TimeScale)
	}
	return nil
}

func sameThrottling(a, b ThrottlingConfig) bool {
	if a.Disabled != b.Disabled || len(a.Buckets) != len(b.Buckets) {
		return false
	}
	for k, v := range a.Buckets {
		if b.Buckets[k] != v {
			return false
		}
	}
	return true
}

// Reset drops every resource, restores the start-up fault model and clears stats.
func (s *Server) Reset() {
	s.mu.Lock()
	ids := lo.Map(lo.Values(s.vms), func(v *vmRecord, _ int) string { return v.id })
	s.resetStateLocked()
	s.cfg = s.startCfg
	s.throttle.configure(s.cfg.Throttling, s.cfg.TimeScale)
	for _, id := range ids {
		s.notifyLocked(id)
	}
	s.mu.Unlock()
	s.stats.reset()
	s.requests.reset()
}

func (s *Server) handleReset(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Query().Get("scope") {
	case "", "all":
		s.Reset()
	case "stats":
		s.stats.reset()
	default:
		writeARMError(w, errInvalidParameter("scope", "scope must be all or stats"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func readYAML(r *http.Request, v any) *ARMError {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(raw) > maxBody {
		return armErr(http.StatusBadRequest, "InvalidRequestContent", "The request body could not be read or exceeds %d bytes.", maxBody)
	}
	if err := yaml.UnmarshalStrict(raw, v); err != nil {
		return armErr(http.StatusBadRequest, "InvalidRequestContent", "The request content could not be parsed as YAML or JSON: %v", err)
	}
	return nil
}

func (s *Server) handlePutConfig(w http.ResponseWriter, r *http.Request) {
	cfg := DefaultConfig()
	if err := readYAML(r, &cfg); err != nil {
		writeARMError(w, err)
		return
	}
	if err := s.SetConfig(cfg); err != nil {
		writeARMError(w, errInvalidParameter("config", "%v", err))
		return
	}
	writeJSON(w, http.StatusOK, s.config())
}

func (s *Server) handleAddError(w http.ResponseWriter, r *http.Request) {
	var rule ErrorRule
	if err := readYAML(r, &rule); err != nil {
		writeARMError(w, err)
		return
	}
	if err := s.UpdateConfig(func(c *Config) { c.Errors = append(c.Errors, rule) }); err != nil {
		writeARMError(w, errInvalidParameter("errors", "%v", err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleAddCapacity(w http.ResponseWriter, r *http.Request) {
	var rule CapacityRule
	if err := readYAML(r, &rule); err != nil {
		writeARMError(w, err)
		return
	}
	if err := s.UpdateConfig(func(c *Config) { c.Capacity = append(c.Capacity, rule) }); err != nil {
		writeARMError(w, errInvalidParameter("capacity", "%v", err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handlePutQuota(w http.ResponseWriter, r *http.Request) {
	var q QuotaConfig
	if err := readYAML(r, &q); err != nil {
		writeARMError(w, err)
		return
	}
	if err := s.UpdateConfig(func(c *Config) { c.Quota = q }); err != nil {
		writeARMError(w, errInvalidParameter("quota", "%v", err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// VMState is a VM in GET /admin/state.
type VMState struct {
	ID                string            `json:"id"`
	Name              string            `json:"name"`
	ResourceGroup     string            `json:"resourceGroup"`
	Location          string            `json:"location"`
	Size              string            `json:"size"`
	Family            string            `json:"family"`
	VCPUs             int               `json:"vcpus"`
	Zone              string            `json:"zone,omitempty"`
	CapacityType      string            `json:"capacityType"`
	ProvisioningState string            `json:"provisioningState"`
	PowerState        string            `json:"powerState"`
	FailureCode       string            `json:"failureCode,omitempty"`
	EvictionNotBefore *time.Time        `json:"evictionNotBefore,omitempty"`
	NICs              []string          `json:"nics"`
	Tags              map[string]string `json:"tags,omitempty"`
	// Node is the Node the VM joined the cluster as (node agent).
	Node string `json:"node,omitempty"`
	// NodeJoinError says why the VM's node has not joined: what its kubelet
	// would log (TLS bootstrap refused, API server unreachable, …).
	NodeJoinError string `json:"nodeJoinError,omitempty"`
	// OSDisk is the managed OS disk's ID ("" when ephemeral); HostGroup the
	// dedicated host group the VM was placed on.
	OSDisk    string    `json:"osDisk,omitempty"`
	HostGroup string    `json:"hostGroup,omitempty"`
	Created   time.Time `json:"created"`
	// OSType is Linux or Windows; EphemeralOSDisk the placement of an
	// ephemeral OS disk ("" when managed).
	OSType          string `json:"osType"`
	EphemeralOSDisk string `json:"ephemeralOSDisk,omitempty"`
}

// DiskState is a managed disk in GET /admin/state.
type DiskState struct {
	ID     string            `json:"id"`
	SizeGB int32             `json:"sizeGB"`
	VM     string            `json:"vm,omitempty"`
	Tags   map[string]string `json:"tags,omitempty"`
}

// NICState is a NIC in GET /admin/state.
type NICState struct {
	ID        string `json:"id"`
	PrivateIP string `json:"privateIP"`
	Subnet    string `json:"subnet"`
	VM        string `json:"vm,omitempty"`
	// IPConfigurations counts the NIC's IP configurations, one subnet
	// address each.
	IPConfigurations int `json:"ipConfigurations"`
	// BackendPools are the load balancer backend pools (lower-cased IDs)
	// its IP configurations are in; NetworkSecurityGroup its NSG's
	// lower-cased ID.
	BackendPools         []string `json:"backendPools,omitempty"`
	NetworkSecurityGroup string   `json:"networkSecurityGroup,omitempty"`
	IPForwarding         bool     `json:"ipForwarding,omitempty"`
	// Tags are the NIC's ARM tags.
	Tags map[string]string `json:"tags,omitempty"`
}

// UsageState is quota use per subscription, location and family.
type UsageState struct {
	Subscription string         `json:"subscription"`
	Location     string         `json:"location"`
	Regional     int            `json:"regionalVCPUs"`
	LowPriority  int            `json:"lowPriorityVCPUs"`
	VMs          int            `json:"vms"`
	Families     map[string]int `json:"families"`
}

// SubnetState is IP use per subnet.
type SubnetState struct {
	ID        string `json:"id"`
	Prefix    string `json:"prefix"`
	Used      int    `json:"used"`
	Available int    `json:"available"`
}

// ContainerGroupState is a Container Instances group in GET /admin/state.
type ContainerGroupState struct {
	ID                string            `json:"id"`
	Name              string            `json:"name"`
	ResourceGroup     string            `json:"resourceGroup"`
	Location          string            `json:"location"`
	ProvisioningState string            `json:"provisioningState"`
	FailureCode       string            `json:"failureCode,omitempty"`
	CPU               float64           `json:"cpu"`
	MemoryGB          float64           `json:"memoryGB"`
	Cores             int               `json:"quotaCores"`
	CapacityType      string            `json:"capacityType"`
	Containers        []string          `json:"containers"`
	Subnet            string            `json:"subnet,omitempty"`
	PrivateIP         string            `json:"privateIP,omitempty"`
	Tags              map[string]string `json:"tags,omitempty"`
	Created           time.Time         `json:"created"`
	// Started is when its containers started running (zero until then).
	Started time.Time `json:"started,omitzero"`
}

// State is the body of GET /admin/state.
type State struct {
	VMs             []VMState             `json:"vms"`
	NICs            []NICState            `json:"nics"`
	Subnets         []SubnetState         `json:"subnets"`
	Usage           []UsageState          `json:"usage"`
	Disks           []DiskState           `json:"disks"`
	ContainerGroups []ContainerGroupState `json:"containerGroups"`
}

// Snapshot returns the simulator's resources.
func (s *Server) Snapshot() State {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := State{VMs: []VMState{}, NICs: []NICState{}, Subnets: []SubnetState{}, Usage: []UsageState{}, Disks: []DiskState{}, ContainerGroups: []ContainerGroupState{}}
	type key struct{ sub, loc string }
	seen := map[key]bool{}
	for _, v := range s.vms {
		fc := ""
		if v.failure != nil {
			fc = v.failure.Code
		}
		st.VMs = append(st.VMs, VMState{ID: v.id, Name: v.name, ResourceGroup: v.rg, Location: *v.vm.Location, Size: v.sku.Name,
			Family: v.sku.Family, VCPUs: v.sku.VCPUs, Zone: v.zone, CapacityType: v.capacityType(), ProvisioningState: v.state,
			PowerState: v.powerState, FailureCode: fc, EvictionNotBefore: v.evictionNotBefore, NICs: v.nicIDs,
			Tags: lo.MapValues(v.vm.Tags, func(t *string, _ string) string { return lo.FromPtr(t) }), OSDisk: v.osDiskID, Created: v.created,
			Node: v.node.Node, NodeJoinError: v.node.JoinError})
		st.VMs[len(st.VMs)-1].OSType = lo.Ternary(v.windows(), "Windows", "Linux")
		if sp := v.vm.Properties.StorageProfile; sp != nil && sp.OSDisk != nil && sp.OSDisk.DiffDiskSettings != nil {
			st.VMs[len(st.VMs)-1].EphemeralOSDisk = string(lo.FromPtrOr(sp.OSDisk.DiffDiskSettings.Placement, "CacheDisk"))
		}
		if hg := v.vm.Properties.HostGroup; hg != nil {
			st.VMs[len(st.VMs)-1].HostGroup = lo.FromPtr(hg.ID)
		}
		seen[key{lower(v.sub), lower(*v.vm.Location)}] = true
	}
	for _, n := range s.nics {
		pools := lo.Keys(n.pools)
		sort.Strings(pools)
		st.NICs = append(st.NICs, NICState{ID: n.id, PrivateIP: n.ip.String(), Subnet: n.subnetKey, VM: n.vmID,
			IPConfigurations: len(n.ips), BackendPools: pools, NetworkSecurityGroup: n.nsgKey, IPForwarding: lo.FromPtr(n.nic.Properties.EnableIPForwarding),
			Tags: lo.MapValues(n.nic.Tags, func(t *string, _ string) string { return lo.FromPtr(t) })})
	}
	for _, d := range s.disks {
		st.Disks = append(st.Disks, DiskState{ID: d.id, SizeGB: d.sizeGB, VM: d.vmID, Tags: lo.MapValues(d.tags, func(t *string, _ string) string { return lo.FromPtr(t) })})
	}
	sort.Slice(st.Disks, func(i, j int) bool { return st.Disks[i].ID < st.Disks[j].ID })
	for _, c := range s.containerGroups {
		cs := ContainerGroupState{ID: c.id, Name: c.name, ResourceGroup: c.rg, Location: c.location, ProvisioningState: c.state,
			CPU: c.cpu, MemoryGB: c.memoryGB, Cores: c.cores, CapacityType: c.capacityType(), Subnet: c.subnetKey, Created: c.created, Started: c.started,
			Containers: lo.Map(c.cg.Properties.Containers, func(x *armcontainerinstance.Container, _ int) string { return lo.FromPtr(x.Name) }),
			Tags:       lo.MapValues(c.cg.Tags, func(t *string, _ string) string { return lo.FromPtr(t) })}
		if c.failure != nil {
			cs.FailureCode = c.failure.Code
		}
		if c.subnetKey != "" {
			cs.PrivateIP = c.ip.String()
		}
		st.ContainerGroups = append(st.ContainerGroups, cs)
	}
	sort.Slice(st.ContainerGroups, func(i, j int) bool { return st.ContainerGroups[i].ID < st.ContainerGroups[j].ID })
	for _, v := range s.vnets {
		for _, sr := range v.subnets {
			st.Subnets = append(st.Subnets, SubnetState{ID: sr.id, Prefix: sr.prefix.String(), Used: len(sr.allocated), Available: s.subnetCapacityLocked(v.name, sr) - len(sr.allocated)})
		}
	}
	for k := range seen {
		reg, low, n, fam := s.usageLocked(k.sub, k.loc)
		st.Usage = append(st.Usage, UsageState{Subscription: k.sub, Location: k.loc, Regional: reg, LowPriority: low, VMs: n, Families: fam})
	}
	sort.Slice(st.VMs, func(i, j int) bool { return st.VMs[i].ID < st.VMs[j].ID })
	sort.Slice(st.NICs, func(i, j int) bool { return st.NICs[i].ID < st.NICs[j].ID })
	sort.Slice(st.Subnets, func(i, j int) bool { return st.Subnets[i].ID < st.Subnets[j].ID })
	sort.Slice(st.Usage, func(i, j int) bool { return st.Usage[i].Location < st.Usage[j].Location })
	return st
}

func (s *Server) handleState(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Snapshot())
}

// Stats returns per-operation request statistics.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// RecentRequests returns up to n of the latest ARM requests, oldest first.
func (s *Server) RecentRequests(n int) []Request { return s.requests.last(n) }

// handleRequests answers GET /admin/requests[?limit=n] (default 200).
func (s *Server) handleRequests(w http.ResponseWriter, r *http.Request) {
	n := 200
	if v := r.URL.Query().Get("limit"); v != "" {
		parsed, err := strconv.Atoi(v)
		if err != nil || parsed <= 0 {
			writeARMError(w, errInvalidParameter("limit", "limit must be a positive number"))
			return
		}
		n = parsed
	}
	writeJSON(w, http.StatusOK, s.requests.last(n))
}

// VMBootstrap is what a VM's node boots with: its identity and the custom
// data ARM received (which ARM itself never returns), for a test that runs
// a real kubelet from it (GET /admin/vms/{name}/bootstrap).
type VMBootstrap struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	ComputerName string            `json:"computerName"`
	OSType       string            `json:"osType"`
	PrivateIP    string            `json:"privateIP,omitempty"`
	Running      bool              `json:"running"`
	Tags         map[string]string `json:"tags,omitempty"`
	// ImageID is the image reference the VM was created from.
	ImageID string `json:"imageID,omitempty"`
	// CustomData is osProfile.customData (base64).
	CustomData string `json:"customData"`
}

func (s *Server) handleVMBootstrap(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var found []VMBootstrap
	for _, vm := range s.ListVMs() {
		if !strings.EqualFold(vm.Name, name) {
			continue
		}
		found = append(found, VMBootstrap{ID: vm.ID, Name: vm.Name, ComputerName: vm.ComputerName, OSType: lo.Ternary(vm.Windows, "Windows", "Linux"),
			PrivateIP: vm.PrivateIP, Running: vm.Running, Tags: vm.Tags, ImageID: vm.ImageID, CustomData: vm.CustomData})
	}
	switch len(found) {
	case 0:
		writeARMError(w, armErr(http.StatusNotFound, "ResourceNotFound", "no virtual machine named %s", name))
	case 1:
		writeJSON(w, http.StatusOK, found[0])
	default:
		writeARMError(w, armErr(http.StatusConflict, "Conflict", "%d virtual machines are named %s", len(found), name))
	}
}
