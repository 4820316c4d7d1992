package azuresim

import (
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
)

// vmRequest is the validated content of a VM PUT.
type vmRequest struct {
	vm armcompute.VirtualMachine
	// id and name are the VM's resource ID and name, from the request path.
	id, name string
	// update is set for a PUT of a VM that exists: what only a create must
	// carry (passwords) may be left out.
	update     bool
	location   string
	sku        *catalog.SKU
	offering   catalog.Offering
	zone       string
	spot       bool
	customData string
	nicIDs     []string
	// hyperVGeneration is the generation the VM boots (its image's).
	hyperVGeneration armcompute.HyperVGeneration
}

// validateVMLocked checks a VM PUT as Compute does before accepting it, one
// profile after the other in the order Compute reports them: where the VM
// goes and on what hardware, its OS profile, security, identity, storage
// (image and OS disk) and network. Each step fills in what later steps need
// (the size, the zone, the image's generation). It needs s.mu held for the
// image and NIC lookups.
func (s *Server) validateVMLocked(sub, rg, name string, vm armcompute.VirtualMachine, update bool) (*vmRequest, *ARMError) {
	req := &vmRequest{vm: vm, id: vmID(sub, rg, name), name: name, update: update}
	for _, check := range []func(*vmRequest) *ARMError{
		s.validateLocation,
		s.validateHardware,
		s.validatePriority,
		s.validateOSProfileLocked,
		validateSecurityProfile,
		s.validateIdentityLocked,
		s.validateStorageLocked,
		s.validateNetworkLocked,
	} {
		if aerr := check(req); aerr != nil {
			return nil, aerr
		}
	}
	return req, nil
}
