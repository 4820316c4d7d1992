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
			sr, err := s.subnetFrom(id, *vnet.Location, *sn.Name, *sn, rec.subnets[lower(*sn.Name)])
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

// subnetFrom validates a subnet body, keeping allocations of a previous
// version. s.mu is held: the NSG and route table it names must exist in the
// VNet's location.
func (s *Server) subnetFrom(vnetID, location, name string, sn armnetwork.Subnet, prev *subnetRecord) (*subnetRecord, *ARMError) {
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
	if sn.Properties != nil {
		nsg, err := s.nsgLocked(sn.Properties.NetworkSecurityGroup, location, id, "properties.networkSecurityGroup.id")
		if err != nil {
			return nil, err
		}
		rt, err := s.routeTableLocked(sn.Properties.RouteTable, location, id, "properties.routeTable.id")
		if err != nil {
			return nil, err
		}
		if nsg != nil {
			rec.nsgKey = lower(nsg.id)
			sn.Properties.NetworkSecurityGroup = &armnetwork.SecurityGroup{ID: lo.ToPtr(nsg.id)}
		}
		if rt != nil {
			rec.routeTableKey = lower(rt.id)
			sn.Properties.RouteTable = &armnetwork.RouteTable{ID: lo.ToPtr(rt.id)}
		}
	}
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
	rec, err := s.subnetFrom(v.id, lo.FromPtr(v.vnet.Location), name, sn, prev)
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
	id := nicID(sub, rg, name)
	ipcs, subnetRef, aerr := nicIPConfigurations(id, name, nic.Properties)
	if aerr != nil {
		writeARMError(w, aerr)
		return
	}
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
		writeARMError(w, errLinkedInvalidPropertyID(subnetRef, "properties.ipConfigurations[0].properties.subnet.id"))
		return
	}
	sr, aerr := s.findSubnetLocked(ssub, srg, svnet, ssubnet)
	if aerr != nil {
		writeARMError(w, errInvalidReference(subnetRef, id))
		return
	}
	rec := &nicRecord{id: id, sub: sub, rg: rg, name: name, subnetKey: lower(sr.id), pools: map[string][]string{}, state: stateSucceeded}
	nsg, aerr := s.nsgLocked(nic.Properties.NetworkSecurityGroup, loc, id, "properties.networkSecurityGroup.id")
	if aerr != nil {
		writeARMError(w, aerr)
		return
	}
	if nsg != nil {
		rec.nsgKey = lower(nsg.id)
		nic.Properties.NetworkSecurityGroup = &armnetwork.SecurityGroup{ID: lo.ToPtr(nsg.id)}
	}
	for i, ipc := range ipcs {
		for j, ref := range ipc.Properties.LoadBalancerBackendAddressPools {
			poolID, aerr := s.backendPoolLocked(ref, loc, id, fmt.Sprintf("properties.ipConfigurations[%d].properties.loadBalancerBackendAddressPools[%d].id", i, j))
			if aerr != nil {
				writeARMError(w, aerr)
				return
			}
			ref.ID = lo.ToPtr(poolID)
			rec.pools[lower(poolID)] = append(rec.pools[lower(poolID)], *ipc.ID)
		}
	}
	if err := s.pickErrorLocked(OpPutNIC, sr.id, "", loc, "", "", false); err != nil {
		writeARMError(w, err)
		return
	}
	// Every IP configuration takes an address of the subnet; a NIC that
	// does not fit is refused whole, naming how many it asked for: "Subnet
	// … with address prefix … does not have enough capacity for 31 IP
	// addresses." (400 SubnetIsFull for a NIC: Azure/karpenter-provider-azure#734;
	// the count is the addresses asked for: Azure/AKS#2531 for 30 nodes,
	// Azure/AKS#2119 for a max-pods-100 Azure CNI node's 101.)
	want := len(ipcs)
	if len(sr.allocated)+want > s.subnetCapacityLocked(svnet, sr) {
		writeARMError(w, errSubnetIsFull(sr.id, sr.prefix.String(), want))
		return
	}
	ips, ok := s.allocateIPsLocked(sr, want)
	if !ok {
		writeARMError(w, errSubnetIsFull(sr.id, sr.prefix.String(), want))
		return
	}
	for i, ipc := range ipcs {
		sr.allocated[ips[i]] = *ipc.ID
		ipc.Properties.PrivateIPAddress = lo.ToPtr(ips[i].String())
		ipc.Properties.PrivateIPAllocationMethod = lo.ToPtr(armnetwork.IPAllocationMethodDynamic)
		ipc.Properties.PrivateIPAddressVersion = lo.ToPtr(armnetwork.IPVersionIPv4)
		ipc.Properties.ProvisioningState = provisioned()
		ipc.Properties.Subnet = &armnetwork.Subnet{ID: lo.ToPtr(sr.id)}
		if lo.FromPtr(ipc.Properties.Primary) {
			rec.ip = ips[i]
		}
	}
	rec.ips = ips
	nic.Properties.IPConfigurations = ipcs
	// Azure reports enableIPForwarding false unless it was asked for.
	nic.Properties.EnableIPForwarding = lo.ToPtr(lo.FromPtr(nic.Properties.EnableIPForwarding))
	nic.ID, nic.Name, nic.Type, nic.Location = lo.ToPtr(id), lo.ToPtr(name), lo.ToPtr("Microsoft.Network/networkInterfaces"), lo.ToPtr(loc)
	nic.Properties.MacAddress = lo.ToPtr(macFor(rec.ip))
	nic.Properties.VirtualMachine = nil
	rec.nic = nic
	now := time.Now()
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

// maxIPConfigurationsPerNIC is Azure's limit of private IP addresses per
// network interface ("Networking limits",
// https://learn.microsoft.com/azure/azure-resource-manager/management/azure-subscription-service-limits#azure-networking-limits).
const maxIPConfigurationsPerNIC = 256

// nicIPConfigurations checks a NIC body's IP configurations as Network
// does, names and identifies them, and returns them with the subnet they
// share. The rules and their sources:
//   - at least one IP configuration (properties.ipConfigurations);
//   - every one names a subnet: "Subnet reference is required for
//     ipconfiguration <id>." (Azure/azure-cli#1238);
//   - all in the same subnet: "IPConfigurations on a Nic cannot belong to
//     different subnets." (Azure/azure-sdk-for-java#1865, and the Azure SDK
//     for .NET's NetworkInterfaceTests; the code is not published: the one
//     here is a stand-in);
//   - exactly one primary when there are several ("Each network interface
//     is assigned one primary IP configuration", "Configure IP addresses for
//     an Azure network interface", learn.microsoft.com; the code and wording
//     are not published: these are stand-ins); a lone one is the primary;
//   - at most 256 (maxIPConfigurationsPerNIC; code and wording stand-ins);
//   - IPv4 and dynamic allocation only: azuresim models no other, and says
//     so rather than pretend.
func nicIPConfigurations(nicID, name string, props *armnetwork.InterfacePropertiesFormat) ([]*armnetwork.InterfaceIPConfiguration, string, *ARMError) {
	if props == nil || len(props.IPConfigurations) == 0 {
		return nil, "", errInvalidParameter("ipConfigurations", "Network interface %s must have one or more IP configurations.", name)
	}
	ipcs := props.IPConfigurations
	if len(ipcs) > maxIPConfigurationsPerNIC {
		return nil, "", armErr(http.StatusBadRequest, "PrivateIPAddressesPerNicLimitExceeded", "Network interface %s has %d IP configurations; a network interface can have at most %d private IP addresses.", nicID, len(ipcs), maxIPConfigurationsPerNIC)
	}
	subnet, primaries := "", 0
	for i, ipc := range ipcs {
		if ipc == nil {
			return nil, "", errInvalidParameter("ipConfigurations", "IP configuration %d of network interface %s is empty.", i, name)
		}
		if ipc.Name == nil || *ipc.Name == "" {
			ipc.Name = lo.ToPtr(fmt.Sprintf("ipconfig%d", i+1))
		}
		if !validName(*ipc.Name) {
			return nil, "", errInvalidName("networkInterfaces/ipConfigurations", *ipc.Name)
		}
		ipc.ID = lo.ToPtr(nicID + "/ipConfigurations/" + *ipc.Name)
		ipc.Type = lo.ToPtr("Microsoft.Network/networkInterfaces/ipConfigurations")
		if ipc.Properties == nil || ipc.Properties.Subnet == nil || lo.FromPtr(ipc.Properties.Subnet.ID) == "" {
			return nil, "", errInvalidParameter("ipConfigurations.subnet", "Subnet reference is required for ipconfiguration %s.", *ipc.ID)
		}
		if v := ipc.Properties.PrivateIPAddressVersion; v != nil && *v != armnetwork.IPVersionIPv4 {
			return nil, "", armErr(http.StatusBadRequest, "NotModelledByAzuresim", "azuresim models IPv4 IP configurations only (%s asks for %s).", *ipc.ID, *v)
		}
		if m := ipc.Properties.PrivateIPAllocationMethod; m != nil && *m != armnetwork.IPAllocationMethodDynamic {
			return nil, "", armErr(http.StatusBadRequest, "NotModelledByAzuresim", "azuresim models dynamic private IP allocation only (%s asks for %s).", *ipc.ID, *m)
		}
		ref := *ipc.Properties.Subnet.ID
		if i == 0 {
			subnet = ref
		} else if !strings.EqualFold(ref, subnet) {
			return nil, "", armErr(http.StatusBadRequest, "IpConfigurationsOnSameNicCannotBelongToDifferentSubnets", "IPConfigurations on a Nic cannot belong to different subnets.")
		}
		if lo.FromPtr(ipc.Properties.Primary) {
			primaries++
		}
	}
	switch {
	case len(ipcs) == 1:
		ipcs[0].Properties.Primary = lo.ToPtr(true)
	case primaries != 1:
		return nil, "", armErr(http.StatusBadRequest, "NetworkInterfaceMustHaveOnePrimaryIpConfiguration", "Network interface %s has %d primary IP configurations; exactly one of its %d IP configurations must be primary.", nicID, primaries, len(ipcs))
	default:
		for _, ipc := range ipcs {
			ipc.Properties.Primary = lo.ToPtr(lo.FromPtr(ipc.Properties.Primary))
		}
	}
	return ipcs, subnet, nil
}

// allocateIPsLocked takes n free addresses of the subnet, lowest first:
// Azure hands out dynamic addresses from .4 upward (the first four and the
// last are reserved: "Are there any restrictions on using IP addresses
// within these subnets?", Azure Virtual Network FAQ).
func (s *Server) allocateIPsLocked(sr *subnetRecord, n int) ([]netip.Addr, bool) {
	out := make([]netip.Addr, 0, n)
	addr := sr.prefix.Addr()
	for range 4 {
		addr = addr.Next()
	}
	for ; len(out) < n && sr.prefix.Contains(addr) && sr.prefix.Contains(addr.Next()); addr = addr.Next() {
		if _, used := sr.allocated[addr]; !used {
			out = append(out, addr)
		}
	}
	return out, len(out) == n
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
