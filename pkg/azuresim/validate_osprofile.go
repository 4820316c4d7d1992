package azuresim

import (
	"encoding/base64"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"
	"golang.org/x/crypto/ssh"
)

// The OS profile: what the VM's operating system is set up with. Which OS
// that is comes from the image (vmOSTypeLocked).

// validateOSProfileLocked checks osProfile: custom data, the computer name,
// the administrator account, and the Linux SSH keys or Windows password.
func (s *Server) validateOSProfileLocked(req *vmRequest) *ARMError {
	p := req.vm.Properties
	osp := p.OSProfile
	if osp == nil {
		// A VM made from an image is provisioned from its OS profile
		// (Compute: "Required parameter 'osProfile' is missing (null).",
		// kevoreilly/CAPEv2#2250, ansible-collections/azure#378).
		if p.StorageProfile != nil && p.StorageProfile.OSDisk != nil &&
			strings.EqualFold(string(lo.FromPtr(p.StorageProfile.OSDisk.CreateOption)), string(armcompute.DiskCreateOptionTypesFromImage)) {
			return errInvalidParameter("osProfile", "Required parameter 'osProfile' is missing (null).")
		}
		return nil
	}
	if osp.CustomData != nil {
		cd := *osp.CustomData
		if _, err := base64.StdEncoding.DecodeString(cd); err != nil || len(cd) > 87380 {
			return errInvalidParameter("customData", "Custom data in OSProfile must be in Base64 encoding and with a maximum length of 87380 characters.")
		}
		req.customData = cd
	}
	osType := s.vmOSTypeLocked(p)
	windows := osType == armcompute.OperatingSystemTypesWindows
	// The image decides the OS; the OS profile must configure that OS. The
	// wording follows Compute's for a parameter that does not belong
	// ("Parameter 'osProfile' is not allowed.",
	// hashicorp/terraform-provider-azurerm#83).
	if windows && osp.LinuxConfiguration != nil {
		return errInvalidParameter("linuxConfiguration", "Parameter 'linuxConfiguration' is not allowed.")
	}
	if !windows && osp.WindowsConfiguration != nil {
		return errInvalidParameter("windowsConfiguration", "Parameter 'windowsConfiguration' is not allowed.")
	}
	if aerr := validateComputerName(lo.FromPtr(osp.ComputerName), req.name, windows); aerr != nil {
		return aerr
	}
	if aerr := validateAdminUsername(osp.AdminUsername, windows); aerr != nil {
		return aerr
	}
	// A password is write-only: a create must carry it, an update may
	// leave it out.
	if windows {
		return validateAdminPassword(osp.AdminPassword, true, !req.update)
	}
	lc := osp.LinuxConfiguration
	passwordless := lc != nil && lo.FromPtr(lc.DisablePasswordAuthentication)
	if aerr := validateAdminPassword(osp.AdminPassword, false, !passwordless && !req.update); aerr != nil {
		return aerr
	}
	if lc != nil && lc.SSH != nil {
		for _, key := range lc.SSH.PublicKeys {
			if aerr := validateSSHPublicKey(key, lo.FromPtr(osp.AdminUsername)); aerr != nil {
				return aerr
			}
		}
	}
	return nil
}

// Computer names (resource-name-rules, Microsoft.Compute/virtualMachines,
// and the SDK's OSProfile.ComputerName): Windows at most 15 characters,
// Linux at most 64; no spaces, control characters or
// ~ ! @ # $ % ^ & * ( ) = + _ [ ] { } \ | ; : ' " , < > / ?; Windows names
// have no period, cannot end with a hyphen or be only digits; Linux names
// cannot end with a period or a hyphen. A VM without a computer name gets
// its resource name, which must then follow the same rules.
const computerNameForbidden = "`~!@#$%^&*()=+_[]{}\\|;:'\",<>/?"

func validateComputerName(name, vmName string, windows bool) *ARMError {
	if name == "" {
		name = vmName
	}
	bad := strings.ContainsAny(name, computerNameForbidden) || strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
	if windows {
		allDigits := strings.TrimFunc(name, unicode.IsDigit) == ""
		if bad || len(name) > 15 || allDigits || strings.Contains(name, ".") || strings.HasSuffix(name, "-") {
			return errInvalidParameter("computerName", "Windows computer name cannot be more than 15 characters long, be entirely numeric, or contain the following characters: ` ~ ! @ # $ %% ^ & * ( ) = + _ [ ] { } \\ | ; : . ' \" , < > / ?.")
		}
		return nil
	}
	if bad || len(name) > 64 || strings.HasSuffix(name, ".") || strings.HasSuffix(name, "-") {
		return errInvalidParameter("computerName", "Linux host name cannot exceed 64 characters in length or contain the following characters: ` ~ ! @ # $ %% ^ & * ( ) = + _ [ ] { } \\ | ; : ' \" , < > / ?.")
	}
	return nil
}

// disallowedAdminUsernames are the SDK's OSProfile.AdminUsername
// "Disallowed values", plus "sa" (MicrosoftDocs/azure-docs#106743 adds it
// to the documented list).
var disallowedAdminUsernames = []string{"administrator", "admin", "user", "user1", "test", "user2", "test1", "user3", "admin1", "1", "123",
	"a", "actuser", "adm", "admin2", "aspnet", "backup", "console", "david", "guest", "john", "owner", "root", "server", "sql", "support",
	"support_388945a0", "sys", "test2", "test3", "user4", "user5", "sa"}

// validateAdminUsername applies the SDK's OSProfile.AdminUsername rules
// (from the specification): not a disallowed value, 1–64 characters on
// Linux, at most 20 on Windows, and on Windows not ending in ".". Compute
// answers "The Admin Username specified is not allowed." (target
// adminUsername: MicrosoftDocs/azure-docs#27881, Azure/azure-cli#582).
func validateAdminUsername(user *string, windows bool) *ARMError {
	if user == nil || *user == "" {
		return errInvalidParameter("adminUsername", "Required parameter 'adminUsername' is missing (null).")
	}
	u := *user
	if slices.Contains(disallowedAdminUsernames, lower(u)) || len(u) > lo.Ternary(windows, 20, 64) || (windows && strings.HasSuffix(u, ".")) {
		return errInvalidParameter("adminUsername", "The Admin Username specified is not allowed.")
	}
	return nil
}

// disallowedPasswords are the SDK's OSProfile.AdminPassword "Disallowed
// values".
var disallowedPasswords = []string{"abc@123", "P@$$w0rd", "P@ssw0rd", "P@ssword123", "Pa$$word", "pass@word1", "Password!", "Password1", "Password22", "iloveyou!"}

// validateAdminPassword applies the SDK's OSProfile.AdminPassword rules:
// 8–123 characters on Windows, 6–72 on Linux, three of lower, upper, digit
// and special characters, no control characters, not a disallowed value.
// Compute's message is quoted in many public templates ("The supplied
// password must be between 6-72 characters long and must satisfy at least 3
// of password complexity requirements from the following: …").
func validateAdminPassword(pw *string, windows, required bool) *ARMError {
	if pw == nil || *pw == "" {
		if required {
			return errInvalidParameter("adminPassword", "Required parameter 'adminPassword' is missing (null).")
		}
		return nil
	}
	minLen, maxLen := 6, 72
	if windows {
		minLen, maxLen = 8, 123
	}
	p := *pw
	classes := 0
	for _, has := range []func(rune) bool{unicode.IsLower, unicode.IsUpper, unicode.IsDigit, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }} {
		if strings.ContainsFunc(p, has) {
			classes++
		}
	}
	if len(p) < minLen || len(p) > maxLen || classes < 3 || strings.ContainsFunc(p, unicode.IsControl) || slices.Contains(disallowedPasswords, p) {
		return armErr(http.StatusBadRequest, "InvalidParameter",
			"The supplied password must be between %d-%d characters long and must satisfy at least 3 of password complexity requirements from the following:\r\n1) Contains an uppercase character\r\n2) Contains a lowercase character\r\n3) Contains a numeric digit\r\n4) Contains a special character\r\n5) Control characters are not allowed", minLen, maxLen)
	}
	return nil
}

// sshKeyPath is the only destination Compute takes for a key.
var sshKeyPath = regexp.MustCompile(`^/home/([^/]+)/\.ssh/authorized_keys$`)

// validateSSHPublicKey checks one linuxConfiguration.ssh.publicKeys entry.
// Key types (learn.microsoft.com, "Detailed steps: Create and manage SSH
// keys … Supported SSH key formats"): SSH-2 RSA of at least 2048 bits and
// ED25519; others are refused with "The value of parameter
// linuxConfiguration.ssh.publicKeys.keyData is invalid." (target included:
// MicrosoftDocs/azure-docs#74103, Azure/azure-quickstart-templates#680).
// The path can only be the admin user's authorized_keys: "Destination path
// for SSH public keys is currently limited to its default value
// /home/<user>/.ssh/authorized_keys due to a known issue in Linux
// provisioning agent." (Azure/azure-cli#12459, Azure/WALinuxAgent#1852).
func validateSSHPublicKey(key *armcompute.SSHPublicKey, user string) *ARMError {
	if key == nil {
		return errInvalidParameter("linuxConfiguration.ssh.publicKeys", "Required parameter 'linuxConfiguration.ssh.publicKeys' is missing (null).")
	}
	if m := sshKeyPath.FindStringSubmatch(lo.FromPtr(key.Path)); key.Path != nil && (m == nil || m[1] != user) {
		return errInvalidParameter("linuxConfiguration.ssh.publicKeys.path",
			"Destination path for SSH public keys is currently limited to its default value /home/%s/.ssh/authorized_keys due to a known issue in Linux provisioning agent.", user)
	}
	invalid := errInvalidParameter("linuxConfiguration.ssh.publicKeys.keyData", "The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid.")
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(lo.FromPtr(key.KeyData)))
	if err != nil {
		return invalid
	}
	switch pub.Type() {
	case ssh.KeyAlgoED25519:
		return nil
	case ssh.KeyAlgoRSA:
		if ck, ok := pub.(ssh.CryptoPublicKey); ok {
			if rsa, ok := ck.CryptoPublicKey().(interface{ Size() int }); ok && rsa.Size()*8 >= 2048 {
				return nil
			}
		}
	}
	return invalid
}
