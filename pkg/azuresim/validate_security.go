package azuresim

// The security profile: encryption at host, security type and UEFI.

// validateSecurityProfile checks securityProfile against the size.
func validateSecurityProfile(req *vmRequest) *ARMError {
	p, sku := req.vm.Properties, req.sku
	if p.SecurityProfile != nil && p.SecurityProfile.EncryptionAtHost != nil && *p.SecurityProfile.EncryptionAtHost && !sku.EncryptionAtHost {
		return errInvalidParameter("securityProfile.encryptionAtHost", "The VM size '%s' does not support encryption at host.", sku.Name)
	}
	return nil
}
