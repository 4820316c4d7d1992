package azuresim

import (
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/samber/lo"
)

// lbRecord is a load balancer as PUT. Its backend pools' members are the
// NICs whose IP configurations name them (netresources.go).
type lbRecord struct {
	id, sub, rg, name string
	lb                armnetwork.LoadBalancer
	// pools maps each backend pool's lower-cased name to its ID.
	pools map[string]string
}

// putLoadBalancer creates or replaces a load balancer. AKS creates the
// cluster's `kubernetes` load balancer (outbound pool aksOutboundBackendPool,
// inbound pool kubernetes) in the node resource group, and
// cloud-provider-azure `kubernetes-internal` for internal Services
// (kubernetes-sigs/cloud-provider-azure, "Azure LoadBalancer"); the local
// cluster creates them through this call as AKS would.
func (s *Server) putLoadBalancer(w http.ResponseWriter, r *http.Request) {
	sub, rg, name := r.PathValue("sub"), r.PathValue("rg"), r.PathValue("name")
	var lb armnetwork.LoadBalancer
	if !decodeTrackedResource(w, r, "loadBalancers", name, &lb, func(l *armnetwork.LoadBalancer) *string { return l.Location }) {
		return
	}
	if _, ok := s.cat.Region(lower(*lb.Location)); !ok {
		writeARMError(w, armErr(http.StatusBadRequest, "LocationNotAvailableForResourceType", "The provided location '%s' is not available for resource type 'Microsoft.Network/loadBalancers'.", *lb.Location))
		return
	}
	id := networkResourceID(sub, rg, "loadBalancers", name)
	rec := &lbRecord{id: id, sub: sub, rg: rg, name: name, pools: map[string]string{}}
	if lb.Properties == nil {
		lb.Properties = &armnetwork.LoadBalancerPropertiesFormat{}
	}
	for _, p := range lb.Properties.BackendAddressPools {
		if p == nil || p.Name == nil || !validName(*p.Name) {
			writeARMError(w, errInvalidName("loadBalancers/backendAddressPools", lo.FromPtr(lo.FromPtr(p).Name)))
			return
		}
		rec.pools[lower(*p.Name)] = childID(id, "backendAddressPools", *p.Name)
	}
	lb.ID, lb.Name, lb.Type, lb.Location = lo.ToPtr(id), lo.ToPtr(name), lo.ToPtr("Microsoft.Network/loadBalancers"), lo.ToPtr(lower(*lb.Location))
	lb.Properties.ProvisioningState = provisioned()
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, exists := s.netres.lbs[lower(id)]
	if exists {
		// A pool NICs are in cannot go: Azure refuses to remove a pool
		// that still has members (the NIC's reference would dangle).
		// (Code and wording not found in a public source.)
		for key, poolID := range prev.pools {
			if _, kept := rec.pools[key]; !kept && len(s.poolMembersLocked(poolID)) > 0 {
				writeARMError(w, armErr(http.StatusBadRequest, "InUseBackendAddressPoolCannotBeDeleted", "Backend address pool %s is in use by existing resources and cannot be deleted.", poolID))
				return
			}
		}
	}
	rec.lb = lb
	s.netres.lbs[lower(id)] = rec
	writeJSON(w, lo.Ternary(exists, http.StatusOK, http.StatusCreated), s.renderLoadBalancerLocked(rec))
}

// renderLoadBalancerLocked is the load balancer with each backend pool's
// members (backendIPConfigurations, read-only in the REST specification).
func (s *Server) renderLoadBalancerLocked(rec *lbRecord) armnetwork.LoadBalancer {
	out := rec.lb
	props := *rec.lb.Properties
	props.BackendAddressPools = lo.Map(rec.lb.Properties.BackendAddressPools, func(p *armnetwork.BackendAddressPool, _ int) *armnetwork.BackendAddressPool {
		return s.renderBackendPoolLocked(rec, p)
	})
	out.Properties = &props
	return out
}

func (s *Server) renderBackendPoolLocked(rec *lbRecord, p *armnetwork.BackendAddressPool) *armnetwork.BackendAddressPool {
	id := rec.pools[lower(*p.Name)]
	pool := &armnetwork.BackendAddressPool{ID: lo.ToPtr(id), Name: p.Name, Type: lo.ToPtr("Microsoft.Network/loadBalancers/backendAddressPools")}
	props := armnetwork.BackendAddressPoolPropertiesFormat{}
	if p.Properties != nil {
		props = *p.Properties
	}
	props.BackendIPConfigurations = s.poolMembersLocked(id)
	props.ProvisioningState = provisioned()
	pool.Properties = &props
	return pool
}

func (s *Server) getLoadBalancer(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec, ok := s.netres.lbs[lower(networkResourceID(r.PathValue("sub"), r.PathValue("rg"), "loadBalancers", r.PathValue("name")))]
	if !ok {
		writeARMError(w, errNotFound("Microsoft.Network/loadBalancers", r.PathValue("name"), r.PathValue("rg")))
		return
	}
	writeJSON(w, http.StatusOK, s.renderLoadBalancerLocked(rec))
}

func (s *Server) getBackendPool(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec, ok := s.netres.lbs[lower(networkResourceID(r.PathValue("sub"), r.PathValue("rg"), "loadBalancers", r.PathValue("name")))]
	if !ok {
		writeARMError(w, errNotFound("Microsoft.Network/loadBalancers", r.PathValue("name"), r.PathValue("rg")))
		return
	}
	for _, p := range rec.lb.Properties.BackendAddressPools {
		if lower(*p.Name) == lower(r.PathValue("pool")) {
			writeJSON(w, http.StatusOK, s.renderBackendPoolLocked(rec, p))
			return
		}
	}
	writeARMError(w, errNotFound("Microsoft.Network/loadBalancers/backendAddressPools", r.PathValue("name")+"/"+r.PathValue("pool"), r.PathValue("rg")))
}

func (s *Server) listLoadBalancers(w http.ResponseWriter, r *http.Request) {
	listInRG(s, w, r, func() map[string]*lbRecord { return s.netres.lbs }, func(l *lbRecord) (string, string, string) { return l.sub, l.rg, l.id },
		s.renderLoadBalancerLocked,
		func(items []armnetwork.LoadBalancer, next *string) any {
			return armnetwork.LoadBalancerListResult{Value: lo.ToSlicePtr(items), NextLink: next}
		})
}
