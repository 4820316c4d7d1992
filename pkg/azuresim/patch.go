package azuresim

import (
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
)

// PATCH of a VM and of a NIC's tags: the updates a controller makes to
// running resources without replacing them. The simulator applies tags;
// other properties of a VM PATCH are refused, as changing them in place
// (size, image, OS profile) is not something the provider does.

func (s *Server) patchVM(w http.ResponseWriter, r *http.Request) {
	var upd armcompute.VirtualMachineUpdate
	if err := decodeBody(r, &upd); err != nil {
		writeARMError(w, err)
		return
	}
	if upd.Properties != nil || upd.Zones != nil || upd.Identity != nil || upd.Plan != nil {
		writeARMError(w, errInvalidParameter("properties", "azuresim applies only tags in a VM PATCH."))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, aerr := s.lookupVM(r)
	if aerr != nil {
		writeARMError(w, aerr)
		return
	}
	if v.state == stateDeleting {
		writeARMError(w, armErr(http.StatusConflict, "OperationNotAllowed", "Operation 'PATCH' is not allowed on VM '%s' since the VM is marked for deletion.", v.name))
		return
	}
	if upd.Tags != nil {
		v.vm.Tags = upd.Tags
	}
	op := s.newOpLocked(v.id, time.Now())
	op.done, op.end = true, time.Now()
	setAsyncHeaders(w, r, "Microsoft.Compute", *v.vm.Location, op.id)
	writeJSON(w, http.StatusOK, s.renderVM(v, false))
}

func (s *Server) patchNICTags(w http.ResponseWriter, r *http.Request) {
	var tags armnetwork.TagsObject
	if err := decodeBody(r, &tags); err != nil {
		writeARMError(w, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nics[lower(nicID(r.PathValue("sub"), r.PathValue("rg"), r.PathValue("name")))]
	if !ok {
		writeARMError(w, errNotFound("Microsoft.Network/networkInterfaces", r.PathValue("name"), r.PathValue("rg")))
		return
	}
	n.nic.Tags = tags.Tags
	writeJSON(w, http.StatusOK, s.renderNIC(n))
}
