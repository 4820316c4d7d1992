package azuresim

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/samber/lo"
)

// netResources are the network resources nodes' NICs and subnets refer to:
// the load balancers, network security groups and route tables AKS creates
// in a cluster's node resource group (loadbalancer.go, nsg.go,
// routetable.go). Who refers to them is never stored on them: a load
// balancer's backendIPConfigurations, an NSG's networkInterfaces and
// subnets, a route table's subnets are derived from the NICs and subnets at
// every read, so a deleted NIC leaves no pool entry behind, as in Azure.
type netResources struct {
	lbs         map[string]*lbRecord // by lower(ID)
	nsgs        map[string]*nsgRecord
	routeTables map[string]*routeTableRecord
}

func newNetResources() *netResources {
	return &netResources{lbs: map[string]*lbRecord{}, nsgs: map[string]*nsgRecord{}, routeTables: map[string]*routeTableRecord{}}
}

func networkResourceID(sub, rg, kind, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Network/" + kind + "/" + name
}

// parseNetworkID splits /subscriptions/{sub}/resourceGroups/{rg}/providers/
// Microsoft.Network/{kind}/{name}[/{child}/{childName}].
func parseNetworkID(id string) (kind, name, child, childName string, ok bool) {
	p := strings.Split(strings.Trim(id, "/"), "/")
	if (len(p) != 8 && len(p) != 10) || !strings.EqualFold(p[0], "subscriptions") || !strings.EqualFold(p[2], "resourceGroups") ||
		!strings.EqualFold(p[4], "providers") || !strings.EqualFold(p[5], "Microsoft.Network") {
		return "", "", "", "", false
	}
	if len(p) == 10 {
		return p[6], p[7], p[8], p[9], true
	}
	return p[6], p[7], "", "", true
}

// errInvalidReference is Network's refusal of a reference to a resource
// that does not exist or is in another region, worded as Azure words it
// for a NIC's NSG (Azure/azure-cli#332) and subnet
// (microsoft/CromwellOnAzure#231): 400 InvalidResourceReference.
func errInvalidReference(referenced, referencing string) *ARMError {
	return armErr(http.StatusBadRequest, "InvalidResourceReference",
		"Resource %s referenced by resource %s was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.", referenced, referencing)
}

// errLinkedInvalidPropertyID is ARM's refusal of a reference that is not a
// resource ID (ernestio/ernest#476 for properties.networkSecurityGroup.id).
func errLinkedInvalidPropertyID(value, path string) *ARMError {
	return armErr(http.StatusBadRequest, "LinkedInvalidPropertyId",
		"Property id '%s' at path '%s' is invalid. Expect fully qualified resource Id that start with '/subscriptions/{subscriptionId}' or '/providers/{resourceProviderNamespace}/'.", value, path)
}

// nsgLocked finds the NSG a reference names, checking it is in location
// (“” skips the check); referencing and path word the refusal.
func (s *Server) nsgLocked(ref *armnetwork.SecurityGroup, location, referencing, path string) (*nsgRecord, *ARMError) {
	if ref == nil || ref.ID == nil {
		return nil, nil
	}
	id := *ref.ID
	if kind, _, child, _, ok := parseNetworkID(id); !ok || !strings.EqualFold(kind, "networkSecurityGroups") || child != "" {
		return nil, errLinkedInvalidPropertyID(id, path)
	}
	n, ok := s.netres.nsgs[lower(id)]
	if !ok || (location != "" && !strings.EqualFold(*n.nsg.Location, location)) {
		return nil, errInvalidReference(id, referencing)
	}
	return n, nil
}

// routeTableLocked is nsgLocked for a route table.
func (s *Server) routeTableLocked(ref *armnetwork.RouteTable, location, referencing, path string) (*routeTableRecord, *ARMError) {
	if ref == nil || ref.ID == nil {
		return nil, nil
	}
	id := *ref.ID
	if kind, _, child, _, ok := parseNetworkID(id); !ok || !strings.EqualFold(kind, "routeTables") || child != "" {
		return nil, errLinkedInvalidPropertyID(id, path)
	}
	rt, ok := s.netres.routeTables[lower(id)]
	if !ok || (location != "" && !strings.EqualFold(*rt.rt.Location, location)) {
		return nil, errInvalidReference(id, referencing)
	}
	return rt, nil
}

// backendPoolLocked finds the load balancer backend pool an IP
// configuration names; it returns the pool's canonical ID.
func (s *Server) backendPoolLocked(ref *armnetwork.BackendAddressPool, location, referencing, path string) (string, *ARMError) {
	if ref == nil || ref.ID == nil {
		return "", errLinkedInvalidPropertyID("", path)
	}
	id := *ref.ID
	kind, _, child, pool, ok := parseNetworkID(id)
	if !ok || !strings.EqualFold(kind, "loadBalancers") || !strings.EqualFold(child, "backendAddressPools") {
		return "", errLinkedInvalidPropertyID(id, path)
	}
	lbID := id[:len(id)-len("/"+child+"/"+pool)]
	lb, ok := s.netres.lbs[lower(lbID)]
	if !ok || (location != "" && !strings.EqualFold(*lb.lb.Location, location)) {
		return "", errInvalidReference(id, referencing)
	}
	canonical, ok := lb.pools[lower(pool)]
	if !ok {
		return "", errInvalidReference(id, referencing)
	}
	return canonical, nil
}

// poolMembersLocked lists, sorted, the IP configurations of NICs in the
// backend pool poolID.
func (s *Server) poolMembersLocked(poolID string) []*armnetwork.InterfaceIPConfiguration {
	var ids []string
	for _, n := range s.nics {
		ids = append(ids, n.pools[lower(poolID)]...)
	}
	sort.Strings(ids)
	return lo.Map(ids, func(id string, _ int) *armnetwork.InterfaceIPConfiguration {
		return &armnetwork.InterfaceIPConfiguration{ID: lo.ToPtr(id)}
	})
}

// subnetsReferringLocked lists, sorted, the subnets whose key(subnet) is id.
func (s *Server) subnetsReferringLocked(id string, key func(*subnetRecord) string) []*armnetwork.Subnet {
	var ids []string
	for _, v := range s.vnets {
		for _, sr := range v.subnets {
			if key(sr) == lower(id) {
				ids = append(ids, sr.id)
			}
		}
	}
	sort.Strings(ids)
	return lo.Map(ids, func(id string, _ int) *armnetwork.Subnet { return &armnetwork.Subnet{ID: lo.ToPtr(id)} })
}

// listInRG pages the records of a resource group (or of the subscription
// when rg is empty) with the server's page size, answering as ARM lists.
func listInRG[R any, T any](s *Server, w http.ResponseWriter, r *http.Request, all func() map[string]*R, sub func(*R) (string, string, string), render func(*R) T, result func([]T, *string) any) {
	subID, rg := r.PathValue("sub"), r.PathValue("rg")
	s.mu.RLock()
	var recs []*R
	for _, rec := range all() {
		rsub, rrg, _ := sub(rec)
		if strings.EqualFold(rsub, subID) && (rg == "" || strings.EqualFold(rrg, rg)) {
			recs = append(recs, rec)
		}
	}
	sort.Slice(recs, func(i, j int) bool {
		_, _, a := sub(recs[i])
		_, _, b := sub(recs[j])
		return lower(a) < lower(b)
	})
	items, next, err := page(r, recs, s.opts.PageSize)
	var out any
	if err == nil {
		out = result(lo.Map(items, func(rec *R, _ int) T { return render(rec) }), next)
	}
	s.mu.RUnlock()
	if err != nil {
		writeARMError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func provisioned() *armnetwork.ProvisioningState {
	return lo.ToPtr(armnetwork.ProvisioningStateSucceeded)
}

func childID(parent, kind, name string) string { return fmt.Sprintf("%s/%s/%s", parent, kind, name) }
