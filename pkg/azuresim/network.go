package azuresim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/samber/lo"
)

// decodeTrackedResource reads the body of a PUT of a named resource with a
// location (vnet, NIC) into v, answering ARM's error itself when the name,
// the body or the location is unusable.
func decodeTrackedResource[T any](w http.ResponseWriter, r *http.Request, resourceType, name string, v *T, location func(*T) *string) bool {
	if !validName(name) {
		writeARMError(w, errInvalidName(resourceType, name))
		return false
	}
	if err := decodeBody(r, v); err != nil {
		writeARMError(w, err)
		return false
	}
	if loc := location(v); loc == nil || *loc == "" {
		writeARMError(w, armErr(http.StatusBadRequest, "LocationRequired", "The location property is required for this definition."))
		return false
	}
	return true
}

// --- Virtual networks and subnets ---

func (s *Server) putVNet(w http.ResponseWriter, r *http.Request) {
	sub, rg, name := r.PathValue("sub"), r.PathValue("rg"), r.PathValue("vnet")
	var vnet armnetwork.VirtualNetwork
	if !decodeTrackedResource(w, r, "virtualNetworks", name, &vnet, func(v *armnetwork.VirtualNetwork) *string { return v.Location }) {
		return
	}
	id := vnetID(sub, rg, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, exists := s.vnets[lower(id)]
	if !exists {
		rec = &vnetRecord{id: id, sub: sub, rg: rg, name: name, subnets: map[string]*subnetRecord{}}
	}
	newSubnets := map[string]*subnetRecord{}
	if vnet.Properties != nil {
		for _, sn := range vnet.Properties.Subnets {
			if sn == nil || sn.Name == nil {
				writeARMError(w, errInvalidParameter("subnets", "Every subnet needs a name."))
				return
			}
			sr, err := s.subnetFrom(id, *sn.Name, *sn, rec.subnets[lower(*sn.Name)])
			if err != nil {
				writeARMError(w, err)
				return
			}
			newSubnets[lower(*sn.Name)] = sr
		}
	}
	vnet.ID, vnet.Name, vnet.Type = lo.ToPtr(id), lo.ToPtr(name), lo.ToPtr("Microsoft.Network/virtualNetworks")
	if vnet.Properties == nil {
		vnet.Properties = &armnetwork.VirtualNetworkPropertiesFormat{}
	}
	vnet.Properties.ProvisioningState = lo.ToPtr(armnetwork.ProvisioningStateSucceeded)
	vnet.Properties.Subnets = nil
	rec.vnet = vnet
	rec.subnets = newSubnets
	s.vnets[lower(id)] = rec
	writeJSON(w, lo.Ternary(exists, http.StatusOK, http.StatusCreated), s.renderVNet(rec))
}

// subnetFrom validates a subnet body, keeping allocations of a previous version.
func (s *Server) subnetFrom(vnetID, name string, sn armnetwork.Subnet, prev *subnetRecord) (*subnetRecord, *ARMError) {
	if !validName(name) {
		return nil, errInvalidName("subnets", name)
	}
	var prefixStr string
	if sn.Properties != nil {
		if sn.Properties.AddressPrefix != nil {
			prefixStr = *sn.Properties.AddressPrefix
		} else if len(sn.Properties.AddressPrefixes) > 0 && sn.Properties.AddressPrefixes[0] != nil {
			prefixStr = *sn.Properties.AddressPrefixes[0]
		}
	}
	prefix, err := netip.ParsePrefix(prefixStr)
	if err != nil || !prefix.Addr().Is4() || prefix.Bits() > 29 {
		return nil, armErr(http.StatusBadRequest, "InvalidAddressPrefixFormat", "Address prefix '%s' of subnet %s is not in a valid IPv4 CIDR format of /29 or larger.", prefixStr, name)
	}
	prefix = prefix.Masked()
	id := vnetID + "/subnets/" + name
	rec := &subnetRecord{id: id, name: name, prefix: prefix, allocated: map[netip.Addr]string{}}
	if prev != nil {
		if prev.prefix != prefix && len(prev.allocated) > 0 {
			return nil, armErr(http.StatusBadRequest, "InUseSubnetCannotBeUpdated", "Subnet %s is in use and cannot be updated.", id)
		}
		rec.allocated = prev.allocated
	}
	sn.ID, sn.Name, sn.Type = lo.ToPtr(id), lo.ToPtr(name), lo.ToPtr("Microsoft.Network/virtualNetworks/subnets")
	if sn.Properties == nil {
		sn.Properties = &armnetwork.SubnetPropertiesFormat{}
	}
	sn.Properties.AddressPrefix = lo.ToPtr(prefix.String())
	sn.Properties.ProvisioningState = lo.ToPtr(armnetwork.ProvisioningStateSucceeded)
	sn.Properties.IPConfigurations = nil
	rec.subnet = sn
	return rec, nil
}

func (s *Server) renderSubnet(sr *subnetRecord) *armnetwork.Subnet {
	out := sr.subnet
	props := *sr.subnet.Properties
	ids := lo.Values(sr.allocated)
	sort.Strings(ids)
	props.IPConfigurations = lo.Map(ids, func(id string, _ int) *armnetwork.IPConfiguration {
		return &armnetwork.IPConfiguration{ID: lo.ToPtr(id)}
	})
	out.Properties = &props
	return &out
}

func (s *Server) renderVNet(v *vnetRecord) armnetwork.VirtualNetwork {
	out := v.vnet
	props := *v.vnet.Properties
	names := lo.Keys(v.subnets)
	sort.Strings(names)
	props.Subnets = lo.Map(names, func(n string, _ int) *armnetwork.Subnet { return s.renderSubnet(v.subnets[n]) })
	out.Properties = &props
	return out
}

func (s *Server) getVNet(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.vnets[lower(vnetID(r.PathValue("sub"), r.PathValue("rg"), r.PathValue("vnet")))]
	if !ok {
		writeARMError(w, errNotFound("Microsoft.Network/virtualNetworks", r.PathValue("vnet"), r.PathValue("rg")))
		return
	}
	writeJSON(w, http.StatusOK, s.renderVNet(v))
}

func (s *Server) putSubnet(w http.ResponseWriter, r *http.Request) {
	var sn armnetwork.Subnet
	if err := decodeBody(r, &sn); err != nil {
		writeARMError(w, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vnets[lower(vnetID(r.PathValue("sub"), r.PathValue("rg"), r.PathValue("vnet")))]
	if !ok {
		writeARMError(w, errNotFound("Microsoft.Network/virtualNetworks", r.PathValue("vnet"), r.PathValue("rg")))
		return
	}
	name := r.PathValue("subnet")
	prev, exists := v.subnets[lower(name)]
	rec, err := s.subnetFrom(v.id, name, sn, prev)
	if err != nil {
		writeARMError(w, err)
		return
	}
	v.subnets[lower(name)] = rec
	writeJSON(w, lo.Ternary(exists, http.StatusOK, http.StatusCreated), s.renderSubnet(rec))
}

func (s *Server) getSubnet(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sr, err := s.findSubnetLocked(r.PathValue("sub"), r.PathValue("rg"), r.PathValue("vnet"), r.PathValue("subnet"))
	if err != nil {
		writeARMError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.renderSubnet(sr))
}

func (s *Server) findSubnetLocked(sub, rg, vnet, subnet string) (*subnetRecord, *ARMError) {
	v, ok := s.vnets[lower(vnetID(sub, rg, vnet))]
	if !ok {
		return nil, errNotFound("Microsoft.Network/virtualNetworks", vnet, rg)
	}
	sr, ok := v.subnets[lower(subnet)]
	if !ok {
		return nil, errNotFound("Microsoft.Network/virtualNetworks/subnets", vnet+"/"+subnet, rg)
	}
	return sr, nil
}

// subnetCapacityLocked is the usable IP count after fault-model caps.
func (s *Server) subnetCapacityLocked(vnet string, sr *subnetRecord) int {
	limit := sr.usable()
	for _, rule := range s.cfg.Subnets {
		if strings.EqualFold(rule.Subnet, sr.name) && (rule.VNet == "" || strings.EqualFold(rule.VNet, vnet)) {
			limit = min(limit, rule.AvailableIPs)
		}
	}
	return limit
}

func (s *Server) listVNetUsages(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.vnets[lower(vnetID(r.PathValue("sub"), r.PathValue("rg"), r.PathValue("vnet")))]
	if !ok {
		writeARMError(w, errNotFound("Microsoft.Network/virtualNetworks", r.PathValue("vnet"), r.PathValue("rg")))
		return
	}
	names := lo.Keys(v.subnets)
	sort.Strings(names)
	out := armnetwork.VirtualNetworkListUsageResult{Value: []*armnetwork.VirtualNetworkUsage{}}
	for _, n := range names {
		sr := v.subnets[n]
		out.Value = append(out.Value, &armnetwork.VirtualNetworkUsage{
			ID: lo.ToPtr(sr.id), CurrentValue: lo.ToPtr(float64(len(sr.allocated))), Limit: lo.ToPtr(float64(s.subnetCapacityLocked(v.name, sr))),
			Unit: lo.ToPtr("Count"), Name: &armnetwork.VirtualNetworkUsageName{Value: lo.ToPtr("Subnet size and usage"), LocalizedValue: lo.ToPtr("Subnet size and usage")},
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// --- Network interfaces ---

func (s *Server) renderNIC(n *nicRecord) armnetwork.Interface {
	out := n.nic
	props := *n.nic.Properties
	props.ProvisioningState = lo.ToPtr(armnetwork.ProvisioningState(n.state))
	out.Properties = &props
	return out
}

func (s *Server) putNIC(w http.ResponseWriter, r *http.Request) {
	sub, rg, name := r.PathValue("sub"), r.PathValue("rg"), r.PathValue("name")
	var nic armnetwork.Interface
	if !decodeTrackedResource(w, r, "networkInterfaces", name, &nic, func(n *armnetwork.Interface) *string { return n.Location }) {
		return
	}
	loc := lower(*nic.Location)
	if _, ok := s.cat.Region(loc); !ok {
		writeARMError(w, armErr(http.StatusBadRequest, "LocationNotAvailableForResourceType", "The provided location '%s' is not available for resource type 'Microsoft.Network/networkInterfaces'.", *nic.Location))
		return
	}
	if nic.Properties == nil || len(nic.Properties.IPConfigurations) == 0 || nic.Properties.IPConfigurations[0] == nil {
		writeARMError(w, errInvalidParameter("ipConfigurations", "Network interface %s must have one or more IP configurations.", name))
		return
	}
	ipc := nic.Properties.IPConfigurations[0]
	if ipc.Properties == nil || ipc.Properties.Subnet == nil || ipc.Properties.Subnet.ID == nil {
		writeARMError(w, errInvalidParameter("ipConfigurations.subnet", "IP configuration of network interface %s must reference a subnet.", name))
		return
	}
	subnetRef := *ipc.Properties.Subnet.ID
	id := nicID(sub, rg, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if existing, ok := s.nics[lower(id)]; ok {
		if existing.state == stateDeleting {
			writeARMError(w, armErr(http.StatusConflict, "AnotherOperationInProgress", "Another operation on this or dependent resource is in progress."))
			return
		}
		if nic.Tags != nil {
			existing.nic.Tags = nic.Tags
		}
		writeJSON(w, http.StatusOK, s.renderNIC(existing))
		return
	}
	ssub, srg, svnet, ssubnet, ok := parseSubnetID(subnetRef)
	if !ok {
		writeARMError(w, armErr(http.StatusBadRequest, "LinkedInvalidPropertyId", "Property id '%s' at path 'properties.ipConfigurations[0].properties.subnet.id' is invalid. Expect fully qualified resource Id that start with '/subscriptions/{subscriptionId}' or '/providers/{resourceProviderNamespace}/'.", subnetRef))
		return
	}
	sr, aerr := s.findSubnetLocked(ssub, srg, svnet, ssubnet)
	if aerr != nil {
		writeARMError(w, armErr(http.StatusBadRequest, "InvalidResourceReference", "Resource %s referenced by resource %s was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.", subnetRef, id))
		return
	}
	if err := s.pickErrorLocked(OpPutNIC, sr.id, "", loc, "", "", false); err != nil {
		writeARMError(w, err)
		return
	}
	if len(sr.allocated) >= s.subnetCapacityLocked(svnet, sr) {
		writeARMError(w, errSubnetIsFull(sr.id, sr.prefix.String()))
		return
	}
	ip, ok := s.allocateIPLocked(sr)
	if !ok {
		writeARMError(w, errSubnetIsFull(sr.id, sr.prefix.String()))
		return
	}
	ipcName := lo.FromPtr(ipc.Name)
	if ipcName == "" {
		ipcName = "ipconfig1"
	}
	ipcID := id + "/ipConfigurations/" + ipcName
	sr.allocated[ip] = ipcID
	ipc.ID, ipc.Name = lo.ToPtr(ipcID), lo.ToPtr(ipcName)
	ipc.Properties.PrivateIPAddress = lo.ToPtr(ip.String())
	ipc.Properties.PrivateIPAllocationMethod = lo.ToPtr(armnetwork.IPAllocationMethodDynamic)
	ipc.Properties.PrivateIPAddressVersion = lo.ToPtr(armnetwork.IPVersionIPv4)
	ipc.Properties.Primary = lo.ToPtr(true)
	ipc.Properties.ProvisioningState = lo.ToPtr(armnetwork.ProvisioningStateSucceeded)
	ipc.Properties.Subnet = &armnetwork.Subnet{ID: lo.ToPtr(sr.id)}
	nic.Properties.IPConfigurations = []*armnetwork.InterfaceIPConfiguration{ipc}
	nic.ID, nic.Name, nic.Type, nic.Location = lo.ToPtr(id), lo.ToPtr(name), lo.ToPtr("Microsoft.Network/networkInterfaces"), lo.ToPtr(loc)
	nic.Properties.MacAddress = lo.ToPtr(macFor(ip))
	nic.Properties.VirtualMachine = nil
	now := time.Now()
	rec := &nicRecord{id: id, sub: sub, rg: rg, name: name, nic: nic, subnetKey: lower(sr.id), ip: ip, state: stateSucceeded}
	op := s.newOpLocked(id, now)
	if d := s.cfg.scale(s.cfg.Latency.NICCreate.sample(s.rng)); d > 0 {
		rec.state = stateUpdating
		s.afterLocked(d, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			op.done, op.end = true, time.Now()
			if rec.state == stateUpdating {
				rec.state = stateSucceeded
			}
		})
	} else {
		op.done, op.end = true, now
	}
	s.nics[lower(id)] = rec
	setAsyncHeaders(w, r, "Microsoft.Network", loc, op.id)
	writeJSON(w, http.StatusCreated, s.renderNIC(rec))
}

func (s *Server) allocateIPLocked(sr *subnetRecord) (netip.Addr, bool) {
	// Azure hands out addresses from .4 upward; the last is broadcast.
	addr := sr.prefix.Addr()
	for range 4 {
		addr = addr.Next()
	}
	for ; sr.prefix.Contains(addr); addr = addr.Next() {
		if !sr.prefix.Contains(addr.Next()) {
			break
		}
		if _, used := sr.allocated[addr]; !used {
			return addr, true
		}
	}
	return netip.Addr{}, false
}

// macFor derives a stable MAC in Azure's 00-0D-3A prefix from the IP.
func macFor(ip netip.Addr) string {
	b := ip.As4()
	return fmt.Sprintf("00-0D-3A-%02X-%02X-%02X", b[1], b[2], b[3])
}

func (s *Server) getNIC(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, ok := s.nics[lower(nicID(r.PathValue("sub"), r.PathValue("rg"), r.PathValue("name")))]
	if !ok {
		writeARMError(w, errNotFound("Microsoft.Network/networkInterfaces", r.PathValue("name"), r.PathValue("rg")))
		return
	}
	writeJSON(w, http.StatusOK, s.renderNIC(n))
}

func (s *Server) listNICs(w http.ResponseWriter, r *http.Request) {
	sub, rg := r.PathValue("sub"), r.PathValue("rg")
	s.mu.RLock()
	var recs []*nicRecord
	for _, n := range s.nics {
		if strings.EqualFold(n.sub, sub) && (rg == "" || strings.EqualFold(n.rg, rg)) {
			recs = append(recs, n)
		}
	}
	sort.Slice(recs, func(i, j int) bool { return lower(recs[i].id) < lower(recs[j].id) })
	items, next, err := page(r, recs, s.opts.PageSize)
	var body []byte
	if err == nil {
		out := armnetwork.InterfaceListResult{Value: lo.Map(items, func(n *nicRecord, _ int) *armnetwork.Interface { return lo.ToPtr(s.renderNIC(n)) }), NextLink: next}
		body, _ = json.Marshal(out)
	}
	s.mu.RUnlock()
	if err != nil {
		writeARMError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(body)
}

func (s *Server) deleteNIC(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := nicID(r.PathValue("sub"), r.PathValue("rg"), r.PathValue("name"))
	n, ok := s.nics[lower(id)]
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if n.vmID != "" {
		writeARMError(w, armErr(http.StatusBadRequest, "NicInUse", "Network Interface %s is used by existing resource %s. In order to delete the network interface, it must be dissociated from the resource. To learn more, see aka.ms/deletenic.", n.id, n.vmID))
		return
	}
	if err := s.pickErrorLocked(OpDeleteNIC, n.id, "", *n.nic.Location, "", "", false); err != nil {
		writeARMError(w, err)
		return
	}
	op := s.newOpLocked(id, time.Now())
	finish := func() {
		op.done, op.end = true, time.Now()
		if s.nics[lower(id)] != n {
			return
		}
		s.removeNICLocked(n)
	}
	n.state = stateDeleting
	if d := s.cfg.scale(s.cfg.Latency.NICDelete.sample(s.rng)); d > 0 {
		s.afterLocked(d, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			finish()
		})
	} else {
		finish()
	}
	setAsyncHeaders(w, r, "Microsoft.Network", *n.nic.Location, op.id)
	w.Header().Set("Location", w.Header().Get("Azure-AsyncOperation")+"&monitor=true")
	w.WriteHeader(http.StatusAccepted)
}
