package instance

import (
	"crypto/ed25519"
	"crypto/rand"
	"math/big"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"
	"golang.org/x/crypto/ssh"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/providers/launchtemplate"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
)

// The VM PUT body and the administrator credentials it carries.

// vmBody is the VM PUT body: the size, the OS disk and image, the
// administrator, the NIC, the priority, placement and security profiles,
// and the node identities. Each profile is rendered by its own step below.
func (p *DefaultProvider) vmBody(nc *v1beta1.AKSNodeClass, s *sku.SKU, spec *launchtemplate.LaunchSpec, nicID string, tags map[string]*string) (armcompute.VirtualMachine, error) {
	osProfile, err := p.osProfile(nc, spec)
	if err != nil {
		return armcompute.VirtualMachine{}, err
	}
	props := &armcompute.VirtualMachineProperties{
		HardwareProfile: &armcompute.HardwareProfile{VMSize: to.Ptr(armcompute.VirtualMachineSizeTypes(s.Name))},
		StorageProfile: &armcompute.StorageProfile{
			ImageReference: &armcompute.ImageReference{CommunityGalleryImageID: to.Ptr(spec.Image.ID)},
			OSDisk:         p.osDisk(nc, s, spec),
		},
		OSProfile: osProfile,
		NetworkProfile: &armcompute.NetworkProfile{NetworkInterfaces: []*armcompute.NetworkInterfaceReference{{
			ID: to.Ptr(nicID),
			Properties: &armcompute.NetworkInterfaceReferenceProperties{
				Primary:      to.Ptr(true),
				DeleteOption: to.Ptr(armcompute.DeleteOptionsDelete),
			},
		}}},
		SecurityProfile: securityProfile(nc),
	}
	if spec.CapacityType == karpv1.CapacityTypeSpot {
		props.Priority = to.Ptr(armcompute.VirtualMachinePriorityTypesSpot)
		props.EvictionPolicy = to.Ptr(armcompute.VirtualMachineEvictionPolicyTypesDelete)
		props.BillingProfile = &armcompute.BillingProfile{MaxPrice: to.Ptr(nc.SpotMaxPrice())}
	} else {
		props.Priority = to.Ptr(armcompute.VirtualMachinePriorityTypesRegular)
	}
	if nc.Spec.DedicatedHostGroupID != nil && *nc.Spec.DedicatedHostGroupID != "" {
		props.HostGroup = &armcompute.SubResource{ID: nc.Spec.DedicatedHostGroupID}
	}
	if spec.UltraSSD {
		// Chosen only where the size can attach Ultra Disks in the zone
		// (the offering's sku-storage-ultra-ssd values).
		props.AdditionalCapabilities = &armcompute.AdditionalCapabilities{UltraSSDEnabled: to.Ptr(true)}
	}
	vm := armcompute.VirtualMachine{
		Location:   to.Ptr(p.opts.Location),
		Tags:       tags,
		Properties: props,
		Identity:   p.nodeIdentity(),
	}
	if spec.AzureZone != "" {
		vm.Zones = []*string{to.Ptr(spec.AzureZone)}
	}
	return vm, nil
}

func confidentialVM(nc *v1beta1.AKSNodeClass) bool {
	return nc.Spec.Security != nil && lo.FromPtr(nc.Spec.Security.ConfidentialVM)
}

func encryptionAtHost(nc *v1beta1.AKSNodeClass) bool {
	return nc.Spec.Security != nil && lo.FromPtr(nc.Spec.Security.EncryptionAtHost)
}

// osDisk is the VM's OS disk: ephemeral where the launch spec placed it
// on the host, else a managed disk (Premium where the size supports it).
func (p *DefaultProvider) osDisk(nc *v1beta1.AKSNodeClass, s *sku.SKU, spec *launchtemplate.LaunchSpec) *armcompute.OSDisk {
	osType := armcompute.OperatingSystemTypesLinux
	if nc.IsWindows() {
		osType = armcompute.OperatingSystemTypesWindows
	}
	osDisk := &armcompute.OSDisk{
		Name:         to.Ptr(spec.ComputerName + "-osdisk"),
		CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesFromImage),
		DeleteOption: to.Ptr(armcompute.DiskDeleteOptionTypesDelete),
		DiskSizeGB:   to.Ptr(spec.OSDisk.SizeGiB),
		OSType:       to.Ptr(osType),
		ManagedDisk:  &armcompute.ManagedDiskParameters{},
	}
	if spec.OSDisk.Ephemeral() {
		osDisk.Caching = to.Ptr(armcompute.CachingTypesReadOnly)
		osDisk.DiffDiskSettings = &armcompute.DiffDiskSettings{
			Option:    to.Ptr(armcompute.DiffDiskOptionsLocal),
			Placement: to.Ptr(armcompute.DiffDiskPlacement(spec.OSDisk.EphemeralPlacement)),
		}
	} else {
		osDisk.Caching = to.Ptr(armcompute.CachingTypesReadWrite)
		storage := armcompute.StorageAccountTypesStandardSSDLRS
		if s.Bool(sku.CapPremiumIO) {
			storage = armcompute.StorageAccountTypesPremiumLRS
		}
		osDisk.ManagedDisk.StorageAccountType = to.Ptr(storage)
	}
	if confidentialVM(nc) {
		osDisk.ManagedDisk.SecurityProfile = &armcompute.VMDiskSecurityProfile{
			SecurityEncryptionType: to.Ptr(armcompute.SecurityEncryptionTypesVMGuestStateOnly),
		}
	}
	if p.opts.DiskEncryptionSetID != "" {
		// Customer-managed keys, as NAP sets them.
		osDisk.ManagedDisk.DiskEncryptionSet = &armcompute.DiskEncryptionSetParameters{ID: to.Ptr(p.opts.DiskEncryptionSetID)}
	}
	return osDisk
}

// osProfile is the VM's computer name, custom data and administrator: an
// SSH key on Linux, a random password nobody keeps on Windows.
func (p *DefaultProvider) osProfile(nc *v1beta1.AKSNodeClass, spec *launchtemplate.LaunchSpec) (*armcompute.OSProfile, error) {
	// --linux-admin-username names Linux nodes' administrator; Windows
	// nodes keep AKS's.
	admin := p.opts.AdminUsername
	if nc.IsWindows() {
		admin = AdminUsername
	}
	osProfile := &armcompute.OSProfile{
		ComputerName:  to.Ptr(spec.ComputerName),
		AdminUsername: to.Ptr(admin),
		CustomData:    to.Ptr(spec.Artifact.CustomData),
	}
	if nc.IsWindows() {
		pw, err := randomPassword()
		if err != nil {
			return nil, err
		}
		osProfile.AdminPassword = to.Ptr(pw)
		osProfile.WindowsConfiguration = &armcompute.WindowsConfiguration{
			EnableAutomaticUpdates: to.Ptr(false),
			ProvisionVMAgent:       to.Ptr(true),
		}
		return osProfile, nil
	}
	key, err := p.sshPublicKey()
	if err != nil {
		return nil, err
	}
	osProfile.LinuxConfiguration = &armcompute.LinuxConfiguration{
		DisablePasswordAuthentication: to.Ptr(true),
		ProvisionVMAgent:              to.Ptr(true),
		SSH: &armcompute.SSHConfiguration{PublicKeys: []*armcompute.SSHPublicKey{{
			Path:    to.Ptr("/home/" + admin + "/.ssh/authorized_keys"),
			KeyData: to.Ptr(key),
		}}},
	}
	return osProfile, nil
}

// securityProfile is the VM's encryption at host and security type
// (Confidential VM, or Trusted Launch with the NodeClass's UEFI settings),
// or nil when the NodeClass asks for none of them.
func securityProfile(nc *v1beta1.AKSNodeClass) *armcompute.SecurityProfile {
	confidential, atHost := confidentialVM(nc), encryptionAtHost(nc)
	if !atHost && !confidential && !nc.TrustedLaunch() {
		return nil
	}
	sp := &armcompute.SecurityProfile{}
	if atHost {
		sp.EncryptionAtHost = to.Ptr(true)
	}
	switch {
	case confidential:
		sp.SecurityType = to.Ptr(armcompute.SecurityTypesConfidentialVM)
		sp.UefiSettings = &armcompute.UefiSettings{SecureBootEnabled: to.Ptr(true), VTpmEnabled: to.Ptr(true)}
	case nc.TrustedLaunch():
		tl := nc.Spec.Security.TrustedLaunch
		sp.SecurityType = to.Ptr(armcompute.SecurityTypesTrustedLaunch)
		sp.UefiSettings = &armcompute.UefiSettings{SecureBootEnabled: to.Ptr(lo.FromPtr(tl.SecureBoot)), VTpmEnabled: to.Ptr(lo.FromPtr(tl.VTPM))}
	}
	return sp
}

// nodeIdentity is the VM's user-assigned identities, or nil when the
// cluster gives nodes none. As on AKS, the kubelet identity is on the VM,
// so kubelets and node add-ons get its tokens from IMDS.
func (p *DefaultProvider) nodeIdentity() *armcompute.VirtualMachineIdentity {
	if len(p.opts.NodeIdentities) == 0 {
		return nil
	}
	return &armcompute.VirtualMachineIdentity{
		Type: to.Ptr(armcompute.ResourceIdentityTypeUserAssigned),
		UserAssignedIdentities: lo.SliceToMap(p.opts.NodeIdentities, func(id string) (string, *armcompute.UserAssignedIdentitiesValue) {
			return id, &armcompute.UserAssignedIdentitiesValue{}
		}),
	}
}

// sshPublicKey is Options.SSHPublicKey or, when unset, a key generated once
// whose private half is discarded: Linux VMs need some SSH key, and nobody
// should be able to log in with it.
func (p *DefaultProvider) sshPublicKey() (string, error) {
	if p.opts.SSHPublicKey != "" {
		return p.opts.SSHPublicKey, nil
	}
	p.sshOnce.Do(func() {
		public, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			p.sshErr = err
			return
		}
		pub, err := ssh.NewPublicKey(public)
		if err != nil {
			p.sshErr = err
			return
		}
		p.sshKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	})
	return p.sshKey, p.sshErr
}

// randomPassword returns a password meeting Azure's Windows complexity
// rules (lower, upper, digit and special characters, 12–123 long).
func randomPassword() (string, error) {
	const (
		lower   = "abcdefghijkmnopqrstuvwxyz"
		upper   = "ABCDEFGHJKLMNPQRSTUVWXYZ"
		digits  = "23456789"
		special = "!@#%^*-_+="
	)
	all := lower + upper + digits + special
	pick := func(set string) (byte, error) {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			return 0, err
		}
		return set[n.Int64()], nil
	}
	out := make([]byte, 0, 32)
	for _, set := range []string{lower, upper, digits, special} {
		c, err := pick(set)
		if err != nil {
			return "", err
		}
		out = append(out, c)
	}
	for len(out) < 32 {
		c, err := pick(all)
		if err != nil {
			return "", err
		}
		out = append(out, c)
	}
	return string(out), nil
}
