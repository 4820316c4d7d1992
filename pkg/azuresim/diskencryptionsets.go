package azuresim

import (
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"
)

// Disk encryption sets: the customer-managed keys of managed disks. A VM's
// OS disk names one in storageProfile.osDisk.managedDisk.diskEncryptionSet.id
// (the Compute REST API's DiskEncryptionSetParameters); Compute refuses the
// VM when the ID is not a resource ID or names no disk encryption set.

func diskEncryptionSetID(sub, rg, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Compute/diskEncryptionSets/" + name
}

// diskEncryptionSetPath is where a VM body carries the set's ID.
const diskEncryptionSetPath = "properties.storageProfile.osDisk.managedDisk.diskEncryptionSet.id"

// validateDiskEncryptionSetLocked checks the OS disk's disk encryption set:
//   - an ID that is not a fully qualified resource ID fails ARM's linked
//     resource check, LinkedInvalidPropertyId, with ARM's wording (as for
//     a NIC's subnet ID);
//   - one that names no disk encryption set is 400 BadRequest
//     "DiskEncryptionSet '<id>' was not found." (Compute's answer, quoted
//     in Azure/azure-cli#18355).
func (s *Server) validateDiskEncryptionSetLocked(req *vmRequest) *ARMError {
	p := req.vm.Properties
	if p == nil || p.StorageProfile == nil || p.StorageProfile.OSDisk == nil || p.StorageProfile.OSDisk.ManagedDisk == nil ||
		p.StorageProfile.OSDisk.ManagedDisk.DiskEncryptionSet == nil {
		return nil
	}
	id := lo.FromPtr(p.StorageProfile.OSDisk.ManagedDisk.DiskEncryptionSet.ID)
	rid, err := arm.ParseResourceID(id)
	if err != nil || !strings.HasPrefix(id, "/subscriptions/") {
		return armErr(http.StatusBadRequest, "LinkedInvalidPropertyId",
			"Property id '%s' at path '%s' is invalid. Expect fully qualified resource Id that start with '/subscriptions/{subscriptionId}' or '/providers/{resourceProviderNamespace}/'.", id, diskEncryptionSetPath)
	}
	if !strings.EqualFold(rid.ResourceType.String(), "Microsoft.Compute/diskEncryptionSets") {
		return armErr(http.StatusBadRequest, "BadRequest", "DiskEncryptionSet '%s' was not found.", id)
	}
	if _, ok := s.diskEncryptionSets[lower(id)]; !ok {
		return armErr(http.StatusBadRequest, "BadRequest", "DiskEncryptionSet '%s' was not found.", id)
	}
	return nil
}

func (s *Server) putDiskEncryptionSet(w http.ResponseWriter, r *http.Request) {
	sub, rg, name := r.PathValue("sub"), r.PathValue("rg"), r.PathValue("name")
	var des armcompute.DiskEncryptionSet
	if !decodeTrackedResource(w, r, "diskEncryptionSets", name, &des, func(d *armcompute.DiskEncryptionSet) *string { return d.Location }) {
		return
	}
	id := diskEncryptionSetID(sub, rg, name)
	des.ID, des.Name, des.Type = lo.ToPtr(id), lo.ToPtr(name), lo.ToPtr("Microsoft.Compute/diskEncryptionSets")
	des.Location = lo.ToPtr(lower(*des.Location))
	if des.Properties == nil {
		des.Properties = &armcompute.EncryptionSetProperties{}
	}
	des.Properties.ProvisioningState = lo.ToPtr("Succeeded")
	s.mu.Lock()
	s.diskEncryptionSets[lower(id)] = &des
	s.mu.Unlock()
	// The disk RP's DiskEncryptionSets_CreateOrUpdate answers 200 or 202
	// (its REST API specification), never 201: finished at once here.
	writeJSON(w, http.StatusOK, des)
}

func (s *Server) getDiskEncryptionSet(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	des, ok := s.diskEncryptionSets[lower(diskEncryptionSetID(r.PathValue("sub"), r.PathValue("rg"), r.PathValue("name")))]
	var out armcompute.DiskEncryptionSet
	if ok {
		out = *des
	}
	s.mu.RUnlock()
	if !ok {
		writeARMError(w, errNotFound("Microsoft.Compute/diskEncryptionSets", r.PathValue("name"), r.PathValue("rg")))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// Operations of disk encryption sets (Stats, fault rules).
const (
	OpPutDiskEncryptionSet = "PutDiskEncryptionSet"
	OpGetDiskEncryptionSet = "GetDiskEncryptionSet"
)
