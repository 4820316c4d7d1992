package azuresim

import (
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
)

// extensionRecord is a VM extension. Like ARM, the simulator keeps
// protectedSettings out of every response.
type extensionRecord struct {
	ext     armcompute.VirtualMachineExtension
	state   string
	failure *ARMError
}

// A Custom Script Extension that waits for (Linux) or runs (Windows) the
// node's provisioning finishes when the node's provisioning does: it fails
// when the VM's custom data is not an artifact a node image provisions from.
func (s *Server) putExtension(w http.ResponseWriter, r *http.Request) {
	extName := r.PathValue("ext")
	if !validName(extName) {
		writeARMError(w, errInvalidName("extensions", extName))
		return
	}
	var ext armcompute.VirtualMachineExtension
	if err := decodeBody(r, &ext); err != nil {
		writeARMError(w, err)
		return
	}
	if ext.Properties == nil || ext.Properties.Publisher == nil || ext.Properties.Type == nil || ext.Properties.TypeHandlerVersion == nil {
		writeARMError(w, errInvalidParameter("properties", "An extension needs publisher, type and typeHandlerVersion."))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, aerr := s.lookupVM(r)
	if aerr != nil {
		writeARMError(w, errNotFound("Microsoft.Compute/virtualMachines", r.PathValue("name"), r.PathValue("rg")))
		return
	}
	// An extension runs on a provisioned VM: one that succeeded, or whose
	// last extension failed (a PUT retries it). While one runs, the VM is
	// Updating and takes no other.
	if v.state != stateSucceeded && (v.state != stateFailed || v.provisioned.IsZero()) {
		writeARMError(w, armErr(http.StatusConflict, "OperationNotAllowed",
			"Operation 'PUT extension' is not allowed on VM '%s' since the VM is in provisioning state %s.", v.name, v.state))
		return
	}
	id := v.id + "/extensions/" + extName
	stored := ext
	stored.ID, stored.Name = lo.ToPtr(id), lo.ToPtr(extName)
	stored.Type = lo.ToPtr("Microsoft.Compute/virtualMachines/extensions")
	stored.Location = v.vm.Location
	props := *ext.Properties
	props.ProtectedSettings = nil
	stored.Properties = &props
	rec := &extensionRecord{ext: stored, state: stateCreating}
	if v.extensions == nil {
		v.extensions = map[string]*extensionRecord{}
	}
	v.extensions[lower(extName)] = rec
	var failure *ARMError
	if isCustomScript(&ext) {
		osType := bootstrap.Linux
		if v.windows() {
			osType = bootstrap.Windows
		}
		if _, err := bootstrap.Decode(osType, v.customData); err != nil {
			failure = armErr(http.StatusOK, "VMExtensionProvisioningError",
				"VM has reported a failure when processing extension '%s' (publisher '%s' and type '%s'). Error message: 'Enable failed: failed to execute command: command terminated with exit status=1\n[stdout]\nprovisioning failed: %s'.",
				extName, *ext.Properties.Publisher, *ext.Properties.Type, err)
		}
	}
	op := s.newOpLocked(id, time.Now())
	// The extension's outcome is the VM's: Updating while it runs, then
	// Succeeded, or Failed with VMExtensionProvisioningError in the instance
	// view (learn.microsoft.com, "States and billing status of Azure virtual
	// machines": Updating while an update such as an extension applies, Failed
	// when one fails; the error code is Compute's, see the message above).
	v.state, v.failure = stateUpdating, nil
	s.notifyLocked(v.id)
	// The extension reports once the node has provisioned: about the time
	// the image takes to join a node.
	s.afterLocked(s.cfg.scale(20*time.Second), func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		op.done, op.end, op.failure = true, time.Now(), failure
		rec.state, rec.failure = lo.Ternary(failure == nil, stateSucceeded, stateFailed), failure
		if s.vms[lower(v.id)] != v || v.state != stateUpdating || v.extensions[lower(extName)] != rec {
			return // deleted, or another operation since
		}
		v.state, v.failure = lo.Ternary(failure == nil, stateSucceeded, stateFailed), failure
		s.notifyLocked(v.id)
	})
	setAsyncHeaders(w, r, "Microsoft.Compute", *v.vm.Location, op.id)
	writeJSON(w, http.StatusCreated, renderExtension(rec))
}

func isCustomScript(ext *armcompute.VirtualMachineExtension) bool {
	t := lo.FromPtr(ext.Properties.Type)
	return t == "CustomScript" || t == "CustomScriptExtension"
}

func renderExtension(rec *extensionRecord) armcompute.VirtualMachineExtension {
	out := rec.ext
	props := *rec.ext.Properties
	props.ProvisioningState = lo.ToPtr(rec.state)
	if rec.failure != nil {
		props.InstanceView = &armcompute.VirtualMachineExtensionInstanceView{
			Name: out.Name,
			Statuses: []*armcompute.InstanceViewStatus{{
				Code: lo.ToPtr("ProvisioningState/failed/" + rec.failure.Code), Level: lo.ToPtr(armcompute.StatusLevelTypesError),
				DisplayStatus: lo.ToPtr("Provisioning failed"), Message: lo.ToPtr(rec.failure.Message),
			}},
		}
	}
	out.Properties = &props
	return out
}

func (s *Server) getExtension(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, aerr := s.lookupVM(r)
	if aerr != nil {
		writeARMError(w, aerr)
		return
	}
	rec, ok := v.extensions[lower(r.PathValue("ext"))]
	if !ok {
		writeARMError(w, errNotFound("Microsoft.Compute/virtualMachines/extensions", fmt.Sprintf("%s/%s", v.name, r.PathValue("ext")), v.rg))
		return
	}
	writeJSON(w, http.StatusOK, renderExtension(rec))
}

func (s *Server) deleteExtension(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, aerr := s.lookupVM(r)
	if aerr != nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if _, ok := v.extensions[lower(r.PathValue("ext"))]; !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if rec := v.extensions[lower(r.PathValue("ext"))]; rec.state == stateCreating && v.state == stateUpdating {
		v.state = stateSucceeded // the extension that was running is gone
		s.notifyLocked(v.id)
	}
	delete(v.extensions, lower(r.PathValue("ext")))
	op := s.newOpLocked(v.id+"/extensions/"+r.PathValue("ext"), time.Now())
	op.done, op.end = true, time.Now()
	setAsyncHeaders(w, r, "Microsoft.Compute", *v.vm.Location, op.id)
	w.WriteHeader(http.StatusAccepted)
}
