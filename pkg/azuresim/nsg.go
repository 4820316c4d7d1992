package azuresim

import (
	"net/http"
	"sort"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/samber/lo"
)

// nsgRecord is a network security group as PUT. The NICs and subnets it
// is associated with are derived from them at every read.
type nsgRecord struct {
	id, sub, rg, name string
	nsg               armnetwork.SecurityGroup
}

// defaultSecurityRules are the rules Azure puts in every network security
// group, lowest precedence, which cannot be removed ("Default security
// rules", https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview#default-security-rules).
var defaultSecurityRules = []struct {
	name, direction, access, source, destination string
	priority                                     int32
}{
	{"AllowVnetInBound", "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork", 65000},
	{"AllowAzureLoadBalancerInBound", "Inbound", "Allow", "AzureLoadBalancer", "*", 65001},
	{"DenyAllInBound", "Inbound", "Deny", "*", "*", 65500},
	{"AllowVnetOutBound", "Outbound", "Allow", "VirtualNetwork", "VirtualNetwork", 65000},
	{"AllowInternetOutBound", "Outbound", "Allow", "*", "Internet", 65001},
	{"DenyAllOutBound", "Outbound", "Deny", "*", "*", 65500},
}

// putNetworkSecurityGroup creates or replaces an NSG. AKS creates one,
// aks-agentpool-<number>-nsg, in every cluster's node resource group: on
// the subnet of the VNet AKS creates, on each node's NIC when the VNet is
// the user's (NAP's networksecuritygroup provider and vminstance.go).
func (s *Server) putNetworkSecurityGroup(w http.ResponseWriter, r *http.Request) {
	sub, rg, name := r.PathValue("sub"), r.PathValue("rg"), r.PathValue("name")
	var nsg armnetwork.SecurityGroup
	if !decodeTrackedResource(w, r, "networkSecurityGroups", name, &nsg, func(n *armnetwork.SecurityGroup) *string { return n.Location }) {
		return
	}
	if _, ok := s.cat.Region(lower(*nsg.Location)); !ok {
		writeARMError(w, armErr(http.StatusBadRequest, "LocationNotAvailableForResourceType", "The provided location '%s' is not available for resource type 'Microsoft.Network/networkSecurityGroups'.", *nsg.Location))
		return
	}
	id := networkResourceID(sub, rg, "networkSecurityGroups", name)
	nsg.ID, nsg.Name, nsg.Type, nsg.Location = lo.ToPtr(id), lo.ToPtr(name), lo.ToPtr("Microsoft.Network/networkSecurityGroups"), lo.ToPtr(lower(*nsg.Location))
	if nsg.Properties == nil {
		nsg.Properties = &armnetwork.SecurityGroupPropertiesFormat{}
	}
	for _, rule := range nsg.Properties.SecurityRules {
		if rule == nil || rule.Name == nil || !validName(*rule.Name) {
			writeARMError(w, errInvalidName("networkSecurityGroups/securityRules", lo.FromPtr(lo.FromPtr(rule).Name)))
			return
		}
		rule.ID = lo.ToPtr(childID(id, "securityRules", *rule.Name))
	}
	nsg.Properties.DefaultSecurityRules = lo.Map(defaultSecurityRules, func(d struct {
		name, direction, access, source, destination string
		priority                                     int32
	}, _ int) *armnetwork.SecurityRule {
		return &armnetwork.SecurityRule{ID: lo.ToPtr(childID(id, "defaultSecurityRules", d.name)), Name: lo.ToPtr(d.name), Properties: &armnetwork.SecurityRulePropertiesFormat{
			Access: lo.ToPtr(armnetwork.SecurityRuleAccess(d.access)), Direction: lo.ToPtr(armnetwork.SecurityRuleDirection(d.direction)),
			Priority: lo.ToPtr(d.priority), Protocol: lo.ToPtr(armnetwork.SecurityRuleProtocolAsterisk),
			SourceAddressPrefix: lo.ToPtr(d.source), DestinationAddressPrefix: lo.ToPtr(d.destination),
			SourcePortRange: lo.ToPtr("*"), DestinationPortRange: lo.ToPtr("*"), ProvisioningState: provisioned(),
		}}
	})
	nsg.Properties.ProvisioningState = provisioned()
	s.mu.Lock()
	defer s.mu.Unlock()
	_, exists := s.netres.nsgs[lower(id)]
	rec := &nsgRecord{id: id, sub: sub, rg: rg, name: name, nsg: nsg}
	s.netres.nsgs[lower(id)] = rec
	writeJSON(w, lo.Ternary(exists, http.StatusOK, http.StatusCreated), s.renderNSGLocked(rec))
}

// renderNSGLocked is the NSG with the NICs and subnets associated with it
// (networkInterfaces and subnets, read-only in the REST specification).
func (s *Server) renderNSGLocked(rec *nsgRecord) armnetwork.SecurityGroup {
	out := rec.nsg
	props := *rec.nsg.Properties
	var nics []string
	for _, n := range s.nics {
		if n.nsgKey == lower(rec.id) {
			nics = append(nics, n.id)
		}
	}
	sort.Strings(nics)
	props.NetworkInterfaces = lo.Map(nics, func(id string, _ int) *armnetwork.Interface { return &armnetwork.Interface{ID: lo.ToPtr(id)} })
	props.Subnets = s.subnetsReferringLocked(rec.id, func(sr *subnetRecord) string { return sr.nsgKey })
	out.Properties = &props
	return out
}

func (s *Server) getNetworkSecurityGroup(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec, ok := s.netres.nsgs[lower(networkResourceID(r.PathValue("sub"), r.PathValue("rg"), "networkSecurityGroups", r.PathValue("name")))]
	if !ok {
		writeARMError(w, errNotFound("Microsoft.Network/networkSecurityGroups", r.PathValue("name"), r.PathValue("rg")))
		return
	}
	writeJSON(w, http.StatusOK, s.renderNSGLocked(rec))
}

func (s *Server) listNetworkSecurityGroups(w http.ResponseWriter, r *http.Request) {
	listInRG(s, w, r, func() map[string]*nsgRecord { return s.netres.nsgs }, func(n *nsgRecord) (string, string, string) { return n.sub, n.rg, n.id },
		s.renderNSGLocked,
		func(items []armnetwork.SecurityGroup, next *string) any {
			return armnetwork.SecurityGroupListResult{Value: lo.ToSlicePtr(items), NextLink: next}
		})
}
