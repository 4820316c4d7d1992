package azuresim

import (
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/samber/lo"
)

// routeTableRecord is a route table as PUT; the subnets associated with it
// are derived from the subnets at every read.
type routeTableRecord struct {
	id, sub, rg, name string
	rt                armnetwork.RouteTable
}

// putRouteTable creates or replaces a route table. With kubenet, AKS
// creates aks-agentpool-<number>-routetable in the node resource group and
// associates it with the node subnet; cloud-provider-azure adds a route per
// node's pod CIDR, and the nodes' NICs forward IP ("Use kubenet networking
// with your own IP address ranges in AKS",
// https://learn.microsoft.com/azure/aks/configure-kubenet).
func (s *Server) putRouteTable(w http.ResponseWriter, r *http.Request) {
	sub, rg, name := r.PathValue("sub"), r.PathValue("rg"), r.PathValue("name")
	var rt armnetwork.RouteTable
	if !decodeTrackedResource(w, r, "routeTables", name, &rt, func(t *armnetwork.RouteTable) *string { return t.Location }) {
		return
	}
	if _, ok := s.cat.Region(lower(*rt.Location)); !ok {
		writeARMError(w, armErr(http.StatusBadRequest, "LocationNotAvailableForResourceType", "The provided location '%s' is not available for resource type 'Microsoft.Network/routeTables'.", *rt.Location))
		return
	}
	id := networkResourceID(sub, rg, "routeTables", name)
	rt.ID, rt.Name, rt.Type, rt.Location = lo.ToPtr(id), lo.ToPtr(name), lo.ToPtr("Microsoft.Network/routeTables"), lo.ToPtr(lower(*rt.Location))
	if rt.Properties == nil {
		rt.Properties = &armnetwork.RouteTablePropertiesFormat{}
	}
	for _, route := range rt.Properties.Routes {
		if route == nil || route.Name == nil || !validName(*route.Name) {
			writeARMError(w, errInvalidName("routeTables/routes", lo.FromPtr(lo.FromPtr(route).Name)))
			return
		}
		route.ID = lo.ToPtr(childID(id, "routes", *route.Name))
		if route.Properties != nil {
			route.Properties.ProvisioningState = provisioned()
		}
	}
	rt.Properties.ProvisioningState = provisioned()
	s.mu.Lock()
	defer s.mu.Unlock()
	_, exists := s.netres.routeTables[lower(id)]
	rec := &routeTableRecord{id: id, sub: sub, rg: rg, name: name, rt: rt}
	s.netres.routeTables[lower(id)] = rec
	writeJSON(w, lo.Ternary(exists, http.StatusOK, http.StatusCreated), s.renderRouteTableLocked(rec))
}

// renderRouteTableLocked is the route table with the subnets associated
// with it (subnets, read-only in the REST specification).
func (s *Server) renderRouteTableLocked(rec *routeTableRecord) armnetwork.RouteTable {
	out := rec.rt
	props := *rec.rt.Properties
	props.Subnets = s.subnetsReferringLocked(rec.id, func(sr *subnetRecord) string { return sr.routeTableKey })
	out.Properties = &props
	return out
}

func (s *Server) getRouteTable(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec, ok := s.netres.routeTables[lower(networkResourceID(r.PathValue("sub"), r.PathValue("rg"), "routeTables", r.PathValue("name")))]
	if !ok {
		writeARMError(w, errNotFound("Microsoft.Network/routeTables", r.PathValue("name"), r.PathValue("rg")))
		return
	}
	writeJSON(w, http.StatusOK, s.renderRouteTableLocked(rec))
}

func (s *Server) listRouteTables(w http.ResponseWriter, r *http.Request) {
	listInRG(s, w, r, func() map[string]*routeTableRecord { return s.netres.routeTables }, func(t *routeTableRecord) (string, string, string) { return t.sub, t.rg, t.id },
		s.renderRouteTableLocked,
		func(items []armnetwork.RouteTable, next *string) any {
			return armnetwork.RouteTableListResult{Value: lo.ToSlicePtr(items), NextLink: next}
		})
}
