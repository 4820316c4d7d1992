package azuresim

import (
	"net/http"
	"strings"

	"github.com/samber/lo"
)

// The network profile: the NICs a VM attaches.

// validateNetworkLocked checks the VM's NIC references: each must exist in
// the VM's location, be free (or already this VM's), and allow accelerated
// networking only on a size that supports it.
func (s *Server) validateNetworkLocked(req *vmRequest) *ARMError {
	p, sku := req.vm.Properties, req.sku
	if p.NetworkProfile == nil || len(p.NetworkProfile.NetworkInterfaces) == 0 {
		return errInvalidParameter("networkProfile", "Required parameter 'networkProfile' is missing (null).")
	}
	self := lower(req.id)
	for _, ref := range p.NetworkProfile.NetworkInterfaces {
		if ref == nil || ref.ID == nil {
			return errInvalidParameter("networkInterfaces", "Network interface reference must have an id.")
		}
		nic, ok := s.nics[lower(*ref.ID)]
		if !ok || !strings.EqualFold(*nic.nic.Location, req.location) {
			return armErr(http.StatusBadRequest, "InvalidResourceReference",
				"Resource %s referenced by resource %s was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.", *ref.ID, req.id)
		}
		if nic.vmID != "" && lower(nic.vmID) != self {
			return armErr(http.StatusBadRequest, "NicInUse", "Network Interface %s is used by existing resource %s. In order to delete the network interface, it must be dissociated from the resource.", nic.id, nic.vmID)
		}
		if nic.nic.Properties != nil && lo.FromPtr(nic.nic.Properties.EnableAcceleratedNetworking) && !sku.AcceleratedNetworking {
			return armErr(http.StatusBadRequest, "VMSizeIsNotPermittedToEnableAcceleratedNetworking",
				"VM size %s is not compatible with enabling Accelerated Networking on network interface(s) on the VM. Compatible VM sizes: see https://aka.ms/AcceleratedNetworking.", sku.Name)
		}
		req.nicIDs = append(req.nicIDs, nic.id)
	}
	return nil
}
