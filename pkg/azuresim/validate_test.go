package azuresim_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"
	"golang.org/x/crypto/ssh"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/test/poll"
)

// refusal is what Azure answers a VM PUT with.
type refusal struct {
	status              int
	code, target, where string // where: a substring of the message
}

// putVM creates a NIC and PUTs a VM built from spec and edited by edit,
// through the SDK; it returns the initial PUT's error or the operation's.
func (e *env) putVM(spec vmSpec, subnet string, edit func(*armcompute.VirtualMachine)) error {
	e.t.Helper()
	nic, err := e.createNIC(spec.name+"-nic", spec.location, subnet)
	if err != nil {
		e.t.Fatal(err)
	}
	body := e.vmBody(spec, *nic.ID)
	if edit != nil {
		edit(&body)
	}
	p, err := e.vms.BeginCreateOrUpdate(e.ctx, testRG, spec.name, body, nil)
	if err != nil {
		return err
	}
	_, err = p.PollUntilDone(e.ctx, lroPoll)
	return err
}

func (r refusal) check(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want %d %s", r.status, r.code)
	}
	got := sdkARMError(t, err)
	if got.Status != r.status || got.Code != r.code || got.Target != r.target || !strings.Contains(got.Message, r.where) {
		t.Errorf("got %d %s target %q %q; want %d %s target %q containing %q", got.Status, got.Code, got.Target, got.Message, r.status, r.code, r.target, r.where)
	}
}

func communityImage(gallery, image string) string {
	return "/CommunityGalleries/" + gallery + "/Images/" + image + "/Versions/latest"
}

func confidential(encryption armcompute.SecurityEncryptionTypes, secureBoot, vTPM bool) func(*armcompute.VirtualMachine) {
	return func(vm *armcompute.VirtualMachine) {
		vm.Properties.SecurityProfile = &armcompute.SecurityProfile{SecurityType: lo.ToPtr(armcompute.SecurityTypesConfidentialVM),
			UefiSettings: &armcompute.UefiSettings{SecureBootEnabled: lo.ToPtr(secureBoot), VTpmEnabled: lo.ToPtr(vTPM)}}
		if encryption != "" {
			vm.Properties.StorageProfile.OSDisk.ManagedDisk = &armcompute.ManagedDiskParameters{
				SecurityProfile: &armcompute.VMDiskSecurityProfile{SecurityEncryptionType: lo.ToPtr(encryption)}}
		}
	}
}

// The security profile: UEFI settings need a security type; Trusted Launch
// needs a size that allows it; a confidential VM needs a confidential size,
// an image that supports it, an OS disk encryption type and a vTPM (and
// secure boot for DiskWithVMGuestState); only confidential VMs take an OS
// disk security profile.
func TestVMSecurityRules(t *testing.T) {
	e := newEnv(t)
	subnet := e.network("eastus", "10.50.0.0/22")
	cvmImage := communityImage(azuresim.GalleryAKSUbuntu, "2404gen2CVMcontainerd")
	plainImage := communityImage(azuresim.GalleryAKSUbuntu, "2404gen2containerd")
	cases := []struct {
		name string
		spec vmSpec
		edit func(*armcompute.VirtualMachine)
		want *refusal // nil: accepted
	}{
		{"UEFI settings without a security type", vmSpec{size: "Standard_D2s_v3"}, func(vm *armcompute.VirtualMachine) {
			vm.Properties.SecurityProfile = &armcompute.SecurityProfile{UefiSettings: &armcompute.UefiSettings{SecureBootEnabled: lo.ToPtr(true)}}
		}, &refusal{400, "BadRequest", "", "Use of UEFI settings is not supported when security type is not set."}},
		{"Trusted Launch on a size with it disabled", vmSpec{size: "Standard_B2ps_v2", trustedLaunch: true}, nil,
			&refusal{400, "BadRequest", "", "The VM size 'Standard_B2ps_v2' is not supported for creation of VMs and Virtual Machine Scale Set with 'TrustedLaunch' security type. For more information, see https://aka.ms/TrustedLaunch-FAQ"}},
		{"confidential VM on an ordinary size", vmSpec{size: "Standard_D2s_v5", imageID: cvmImage}, confidential(armcompute.SecurityEncryptionTypesVMGuestStateOnly, true, true),
			&refusal{400, "BadRequest", "", "The VM size 'Standard_D2s_v5' is not supported for creation of VMs and Virtual Machine Scale Set with 'ConfidentialVM' security type and managedDisk.securityProfile.securityEncryptionType set as 'VMGuestStateOnly'"}},
		{"confidential VM without an encryption type", vmSpec{size: "Standard_DC2as_v5", imageID: cvmImage}, confidential("", true, true),
			&refusal{400, "BadRequest", "", "Required parameter for Confidential VMs 'managedDisk.securityProfile.securityEncryptionType' is missing (null)."}},
		{"confidential VM without a vTPM", vmSpec{size: "Standard_DC2as_v5", imageID: cvmImage}, confidential(armcompute.SecurityEncryptionTypesVMGuestStateOnly, true, false),
			&refusal{400, "BadRequest", "", "vTpmEnabled"}},
		{"DiskWithVMGuestState without secure boot", vmSpec{size: "Standard_DC2as_v5", imageID: cvmImage}, confidential(armcompute.SecurityEncryptionTypesDiskWithVMGuestState, false, true),
			&refusal{400, "BadRequest", "", "secureBootEnabled"}},
		{"confidential VM from an image without the feature", vmSpec{size: "Standard_DC2as_v5", imageID: plainImage}, confidential(armcompute.SecurityEncryptionTypesVMGuestStateOnly, true, true),
			&refusal{400, "InvalidParameter", "securityProfile.securityType", "SecurityType 'ConfidentialVM' is not supported by given image."}},
		{"OS disk security profile on an ordinary VM", vmSpec{size: "Standard_D2s_v3"}, func(vm *armcompute.VirtualMachine) {
			vm.Properties.StorageProfile.OSDisk.ManagedDisk = &armcompute.ManagedDiskParameters{
				SecurityProfile: &armcompute.VMDiskSecurityProfile{SecurityEncryptionType: lo.ToPtr(armcompute.SecurityEncryptionTypesVMGuestStateOnly)}}
		}, &refusal{400, "BadRequest", "", "The parameter 'managedDisk.securityProfile' can only be set for Confidential VMs."}},
		{"confidential VM", vmSpec{size: "Standard_DC2as_v5", imageID: cvmImage}, confidential(armcompute.SecurityEncryptionTypesVMGuestStateOnly, true, true), nil},
		{"confidential VM with its disk encrypted", vmSpec{size: "Standard_DC2as_v5", imageID: cvmImage}, confidential(armcompute.SecurityEncryptionTypesDiskWithVMGuestState, true, true), nil},
		{"Trusted Launch VM", vmSpec{size: "Standard_D2s_v5", imageID: communityImage(azuresim.GalleryAKSUbuntu, "2404gen2TLcontainerd"), trustedLaunch: true}, nil, nil},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.name, tc.spec.location = fmt.Sprintf("sec-%d", i), "eastus"
			err := e.putVM(tc.spec, subnet, tc.edit)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			tc.want.check(t, err)
		})
	}
}

// The storage profile: the OS disk against the image (OS type, size) and
// the ephemeral OS disk's caching, delete option and eviction policy.
func TestVMStorageRules(t *testing.T) {
	e := newEnv(t)
	subnet := e.network("eastus", "10.51.0.0/22")
	ubuntu := communityImage(azuresim.GalleryAKSUbuntu, "2404gen2containerd")
	cases := []struct {
		name string
		spec vmSpec
		edit func(*armcompute.VirtualMachine)
		want *refusal
	}{
		{"disk smaller than the image", vmSpec{size: "Standard_D2s_v3", imageID: ubuntu, diskGB: 20}, nil,
			&refusal{409, "OperationNotAllowed", "osDisk.diskSizeGB", "The specified disk size 20 GB is smaller than the size of the corresponding disk in the VM image: 30 GB."}},
		{"OS type not the image's", vmSpec{size: "Standard_D2s_v3", imageID: ubuntu}, func(vm *armcompute.VirtualMachine) {
			vm.Properties.StorageProfile.OSDisk.OSType = lo.ToPtr(armcompute.OperatingSystemTypesWindows)
		}, &refusal{400, "InvalidParameter", "osDisk.osType", "does not match the operating system 'Linux' of the image"}},
		{"ephemeral OS disk with read-write caching", vmSpec{size: "Standard_D2s_v3", ephemeral: armcompute.DiffDiskPlacementCacheDisk}, func(vm *armcompute.VirtualMachine) {
			vm.Properties.StorageProfile.OSDisk.Caching = lo.ToPtr(armcompute.CachingTypesReadWrite)
		}, &refusal{400, "InvalidParameter", "osDisk.caching", "only ReadOnly"}},
		{"ephemeral OS disk kept after the VM", vmSpec{size: "Standard_D2s_v3", ephemeral: armcompute.DiffDiskPlacementCacheDisk}, func(vm *armcompute.VirtualMachine) {
			vm.Properties.StorageProfile.OSDisk.DeleteOption = lo.ToPtr(armcompute.DiskDeleteOptionTypesDetach)
		}, &refusal{400, "InvalidParameter", "osDisk.deleteOption", "ephemeral OS disk"}},
		{"spot VM with an ephemeral OS disk deallocated on eviction", vmSpec{size: "Standard_D2s_v3", ephemeral: armcompute.DiffDiskPlacementCacheDisk, spot: true,
			evictionPolicy: armcompute.VirtualMachineEvictionPolicyTypesDeallocate}, nil,
			&refusal{400, "InvalidParameter", "evictionPolicy", "must be Delete"}},
		{"spot VM with an ephemeral OS disk and the default eviction policy", vmSpec{size: "Standard_D2s_v3", ephemeral: armcompute.DiffDiskPlacementCacheDisk, spot: true},
			func(vm *armcompute.VirtualMachine) { vm.Properties.EvictionPolicy = nil },
			&refusal{400, "InvalidParameter", "evictionPolicy", "must be Delete"}},
		{"spot VM with an ephemeral OS disk deleted on eviction", vmSpec{size: "Standard_D2s_v3", ephemeral: armcompute.DiffDiskPlacementCacheDisk, spot: true}, nil, nil},
		{"no OS profile for a VM from an image", vmSpec{size: "Standard_D2s_v3"}, func(vm *armcompute.VirtualMachine) { vm.Properties.OSProfile = nil },
			&refusal{400, "InvalidParameter", "osProfile", "Required parameter 'osProfile' is missing (null)."}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.name, tc.spec.location = fmt.Sprintf("sto-%d", i), "eastus"
			err := e.putVM(tc.spec, subnet, tc.edit)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			tc.want.check(t, err)
		})
	}
	// An ephemeral OS disk of the image's size must fit the placement: an
	// image version with a 60 GB disk does not fit Standard_D2s_v3's 50 GB
	// cache.
	if status := e.admin(http.MethodPut, "/admin/galleries/"+azuresim.GalleryAKSUbuntu+"/images/2404gen2containerd/versions/202612.01.0", `{"diskSizeGB":60}`, nil); status != http.StatusNoContent {
		t.Fatalf("publishing a version: %d", status)
	}
	err := e.putVM(vmSpec{name: "sto-big-image", location: "eastus", size: "Standard_D2s_v3", imageID: ubuntu, ephemeral: armcompute.DiffDiskPlacementCacheDisk}, subnet, nil)
	(&refusal{400, "InvalidParameter", "osDisk.diskSizeGB", "greater than 50 GB is not allowed for VM size Standard_D2s_v3 when the DiffDiskPlacement is CacheDisk"}).check(t, err)
}

func sshKey(t *testing.T, key any) string {
	t.Helper()
	pub, err := ssh.NewPublicKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
}

// The OS profile: the image's OS decides which configuration it takes, and
// the computer name, administrator, password and SSH keys follow Compute's
// rules for that OS.
func TestVMOSProfileRules(t *testing.T) {
	e := newEnv(t)
	subnet := e.network("eastus", "10.52.0.0/22")
	windows := communityImage(azuresim.GalleryAKSWindows, "windows-2022-containerd-gen2")
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	asWindows := func(edit func(*armcompute.OSProfile)) func(*armcompute.VirtualMachine) {
		return func(vm *armcompute.VirtualMachine) {
			osp := vm.Properties.OSProfile
			osp.LinuxConfiguration = nil
			osp.WindowsConfiguration = &armcompute.WindowsConfiguration{ProvisionVMAgent: lo.ToPtr(true)}
			osp.ComputerName, osp.AdminPassword = lo.ToPtr("aksw0000001"), lo.ToPtr("Zq7!ph2-Kx9mLw4r")
			vm.Properties.StorageProfile.OSDisk.OSType = lo.ToPtr(armcompute.OperatingSystemTypesWindows)
			if edit != nil {
				edit(osp)
			}
		}
	}
	linux := func(edit func(*armcompute.OSProfile)) func(*armcompute.VirtualMachine) {
		return func(vm *armcompute.VirtualMachine) { edit(vm.Properties.OSProfile) }
	}
	key := func(data string) func(*armcompute.OSProfile) {
		return func(osp *armcompute.OSProfile) { osp.LinuxConfiguration.SSH.PublicKeys[0].KeyData = lo.ToPtr(data) }
	}
	invalidKey := &refusal{400, "InvalidParameter", "linuxConfiguration.ssh.publicKeys.keyData", "The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid."}
	cases := []struct {
		name  string
		image string
		edit  func(*armcompute.VirtualMachine)
		want  *refusal
	}{
		{"Windows configuration for a Linux image", communityImage(azuresim.GalleryAKSUbuntu, "2404gen2containerd"), linux(func(osp *armcompute.OSProfile) {
			osp.WindowsConfiguration = &armcompute.WindowsConfiguration{}
		}), &refusal{400, "InvalidParameter", "windowsConfiguration", "Parameter 'windowsConfiguration' is not allowed."}},
		{"Linux configuration for a Windows image", windows, asWindows(func(osp *armcompute.OSProfile) {
			osp.LinuxConfiguration = &armcompute.LinuxConfiguration{}
		}), &refusal{400, "InvalidParameter", "linuxConfiguration", "Parameter 'linuxConfiguration' is not allowed."}},
		{"Linux host name of 65 characters", "", linux(func(osp *armcompute.OSProfile) { osp.ComputerName = lo.ToPtr(strings.Repeat("a", 65)) }),
			&refusal{400, "InvalidParameter", "computerName", "Linux host name cannot exceed 64 characters"}},
		{"Linux host name with an underscore", "", linux(func(osp *armcompute.OSProfile) { osp.ComputerName = lo.ToPtr("node_1") }),
			&refusal{400, "InvalidParameter", "computerName", "Linux host name"}},
		{"Windows computer name of 16 characters", windows, asWindows(func(osp *armcompute.OSProfile) { osp.ComputerName = lo.ToPtr("aks0123456789abc") }),
			&refusal{400, "InvalidParameter", "computerName", "Windows computer name cannot be more than 15 characters long"}},
		{"Windows computer name of digits only", windows, asWindows(func(osp *armcompute.OSProfile) { osp.ComputerName = lo.ToPtr("12345") }),
			&refusal{400, "InvalidParameter", "computerName", "be entirely numeric"}},
		{"reserved administrator name", "", linux(func(osp *armcompute.OSProfile) { osp.AdminUsername = lo.ToPtr("Admin") }),
			&refusal{400, "InvalidParameter", "adminUsername", "The Admin Username specified is not allowed."}},
		{"Windows administrator name of 21 characters", windows, asWindows(func(osp *armcompute.OSProfile) { osp.AdminUsername = lo.ToPtr(strings.Repeat("u", 21)) }),
			&refusal{400, "InvalidParameter", "adminUsername", "The Admin Username specified is not allowed."}},
		{"Windows without a password", windows, asWindows(func(osp *armcompute.OSProfile) { osp.AdminPassword = nil }),
			&refusal{400, "InvalidParameter", "adminPassword", "Required parameter 'adminPassword' is missing (null)."}},
		{"Windows with a weak password", windows, asWindows(func(osp *armcompute.OSProfile) { osp.AdminPassword = lo.ToPtr("password") }),
			&refusal{400, "InvalidParameter", "", "The supplied password must be between 8-123 characters long and must satisfy at least 3 of password complexity requirements"}},
		{"Linux with passwords allowed and none given", "", linux(func(osp *armcompute.OSProfile) {
			osp.LinuxConfiguration.DisablePasswordAuthentication = lo.ToPtr(false)
		}), &refusal{400, "InvalidParameter", "adminPassword", "Required parameter 'adminPassword' is missing (null)."}},
		{"RSA key of 1024 bits", "", linux(key(sshKey(t, &rsa1024.PublicKey))), invalidKey},
		{"ECDSA key", "", linux(key(sshKey(t, &ec.PublicKey))), invalidKey},
		{"not a key", "", linux(key("ssh-rsa AAAA not-a-key")), invalidKey},
		{"key for another user's home", "", linux(func(osp *armcompute.OSProfile) {
			osp.LinuxConfiguration.SSH.PublicKeys[0].Path = lo.ToPtr("/root/.ssh/authorized_keys")
		}), &refusal{400, "InvalidParameter", "linuxConfiguration.ssh.publicKeys.path", "Destination path for SSH public keys is currently limited to its default value /home/azureuser/.ssh/authorized_keys"}},
		{"RSA key of 2048 bits", "", linux(key(sshKey(t, &rsa2048.PublicKey))), nil},
		{"Windows VM", windows, asWindows(nil), nil},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := e.putVM(vmSpec{name: fmt.Sprintf("osp-%d", i), location: "eastus", size: "Standard_D2s_v3", imageID: tc.image}, subnet, tc.edit)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			tc.want.check(t, err)
		})
	}
}

// A PUT of a VM that exists is an update: what is fixed at creation cannot
// change (409 PropertyChangeNotAllowed), the size can (a resize, within
// quota), and tags are applied.
func TestVMUpdateRules(t *testing.T) {
	e := newEnv(t, withConfig(func(c *azuresim.Config) {
		c.Quota.Families = []azuresim.FamilyQuota{{Family: "standardDSv3Family", Location: "eastus", Limit: 6}}
	}))
	subnet := e.network("eastus", "10.53.0.0/24")
	e.mustCreateVM(vmSpec{name: "upd", size: "Standard_D2s_v3", location: "eastus", zone: "1"}, subnet)
	current := func() armcompute.VirtualMachine {
		got, err := e.vms.Get(e.ctx, testRG, "upd", nil)
		if err != nil {
			t.Fatal(err)
		}
		return got.VirtualMachine
	}
	put := func(vm armcompute.VirtualMachine) error {
		p, err := e.vms.BeginCreateOrUpdate(e.ctx, testRG, "upd", vm, nil)
		if err == nil {
			_, err = p.PollUntilDone(e.ctx, lroPoll)
		}
		return err
	}
	changeNotAllowed := func(target string) *refusal {
		return &refusal{409, "PropertyChangeNotAllowed", target, "Changing property '" + target + "' is not allowed."}
	}
	cases := []struct {
		name string
		edit func(*armcompute.VirtualMachine)
		want *refusal
	}{
		{"computer name", func(vm *armcompute.VirtualMachine) { vm.Properties.OSProfile.ComputerName = lo.ToPtr("other") }, changeNotAllowed("osProfile.computerName")},
		{"administrator", func(vm *armcompute.VirtualMachine) { vm.Properties.OSProfile.AdminUsername = lo.ToPtr("ops") }, changeNotAllowed("osProfile.adminUsername")},
		{"custom data", func(vm *armcompute.VirtualMachine) { vm.Properties.OSProfile.CustomData = lo.ToPtr("e30=") }, changeNotAllowed("osProfile.customData")},
		{"zone", func(vm *armcompute.VirtualMachine) { vm.Zones = []*string{lo.ToPtr("2")} }, changeNotAllowed("zones")},
		{"OS disk create option", func(vm *armcompute.VirtualMachine) {
			vm.Properties.StorageProfile.OSDisk.CreateOption = lo.ToPtr(armcompute.DiskCreateOptionTypesAttach)
		}, changeNotAllowed("osDisk.createOption")},
		{"image", func(vm *armcompute.VirtualMachine) {
			vm.Properties.StorageProfile.ImageReference = &armcompute.ImageReference{CommunityGalleryImageID: lo.ToPtr(communityImage(azuresim.GalleryAKSUbuntu, "2404gen2containerd"))}
		}, changeNotAllowed("imageReference")},
		{"priority", func(vm *armcompute.VirtualMachine) {
			vm.Properties.Priority, vm.Properties.EvictionPolicy = lo.ToPtr(armcompute.VirtualMachinePriorityTypesSpot), lo.ToPtr(armcompute.VirtualMachineEvictionPolicyTypesDelete)
		}, changeNotAllowed("priority")},
		{"location", func(vm *armcompute.VirtualMachine) { vm.Location = lo.ToPtr("westus2"); vm.Zones = nil },
			&refusal{400, "InvalidResourceLocation", "", "The resource 'upd' already exists in location 'eastus'"}},
		{"resize beyond the family quota", func(vm *armcompute.VirtualMachine) {
			vm.Properties.HardwareProfile.VMSize = lo.ToPtr(armcompute.VirtualMachineSizeTypes("Standard_D8s_v3"))
		}, &refusal{409, "OperationNotAllowed", "", "exceeding approved standardDSv3Family Cores quota"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vm := current()
			tc.edit(&vm)
			tc.want.check(t, put(vm))
		})
	}
	// A resize within quota and a tag change are applied.
	vm := current()
	vm.Properties.HardwareProfile.VMSize = lo.ToPtr(armcompute.VirtualMachineSizeTypes("Standard_D4s_v3"))
	vm.Tags["team"] = lo.ToPtr("b")
	if err := put(vm); err != nil {
		t.Fatalf("resize: %v", err)
	}
	if got := current(); *got.Properties.HardwareProfile.VMSize != "Standard_D4s_v3" || lo.FromPtr(got.Tags["team"]) != "b" {
		t.Errorf("after the update: size %s, tags %v", *got.Properties.HardwareProfile.VMSize, got.Tags)
	}
	if st, ok := lo.Find(e.srv.Snapshot().VMs, func(v azuresim.VMState) bool { return v.Name == "upd" }); !ok || st.Size != "Standard_D4s_v3" || st.VCPUs != 4 {
		t.Errorf("state after the resize: %+v", st)
	}
}

// A user-assigned identity must exist: the ones the configuration seeds
// do; any other fails ARM's identity step.
func TestVMUserAssignedIdentityMustExist(t *testing.T) {
	kubelet := "/subscriptions/" + testSub + "/resourceGroups/mc_rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/agentpool"
	e := newEnv(t, withConfig(func(c *azuresim.Config) { c.UserAssignedIdentities = []string{kubelet} }))
	subnet := e.network("eastus", "10.54.0.0/24")
	withIdentity := func(id string) func(*armcompute.VirtualMachine) {
		return func(vm *armcompute.VirtualMachine) {
			vm.Identity = &armcompute.VirtualMachineIdentity{Type: lo.ToPtr(armcompute.ResourceIdentityTypeUserAssigned),
				UserAssignedIdentities: map[string]*armcompute.UserAssignedIdentitiesValue{id: {}}}
		}
	}
	missing := strings.Replace(kubelet, "agentpool", "deleted", 1)
	err := e.putVM(vmSpec{name: "id-missing", location: "eastus", size: "Standard_D2s_v3"}, subnet, withIdentity(missing))
	(&refusal{400, "FailedIdentityOperation", "", "Resource '" + missing + "' was not found."}).check(t, err)
	if err := e.putVM(vmSpec{name: "id-ok", location: "eastus", size: "Standard_D2s_v3"}, subnet, withIdentity(strings.ToUpper(kubelet[:1])+kubelet[1:])); err != nil {
		t.Fatalf("the seeded identity: %v", err)
	}
	if err := e.srv.SetConfig(azuresim.Config{TimeScale: 1, UserAssignedIdentities: []string{"/subscriptions/s/not-an-identity"}}); err == nil {
		t.Error("a configuration naming something other than an identity was accepted")
	}
}

// An extension's outcome is its VM's: Updating while it runs, then
// Succeeded, or Failed with VMExtensionProvisioningError in the instance
// view when it fails.
func TestVMExtensionOutcomeIsTheVMs(t *testing.T) {
	e := newEnv(t, withConfig(func(c *azuresim.Config) { c.TimeScale = 0.01 }))
	subnet := e.network("eastus", "10.55.0.0/24")
	e.mustCreateVM(vmSpec{name: "ext-bad", size: "Standard_D2s_v3", location: "eastus", customData: "bm90IGEgYm9vdHN0cmFwIGFydGlmYWN0"}, subnet)
	exts := lo.Must(armcompute.NewVirtualMachineExtensionsClient(testSub, e.srv.Credential(), e.srv.ClientOptions()))
	state := func() (string, *armcompute.VirtualMachineInstanceView) {
		got, err := e.vms.Get(e.ctx, testRG, "ext-bad", &armcompute.VirtualMachinesClientGetOptions{Expand: lo.ToPtr(armcompute.InstanceViewTypesInstanceView)})
		if err != nil {
			t.Fatal(err)
		}
		return lo.FromPtr(got.Properties.ProvisioningState), got.Properties.InstanceView
	}
	_, err := exts.BeginCreateOrUpdate(e.ctx, testRG, "ext-bad", "cse", armcompute.VirtualMachineExtension{
		Location: lo.ToPtr("eastus"),
		Properties: &armcompute.VirtualMachineExtensionProperties{Publisher: lo.ToPtr("Microsoft.Azure.Extensions"), Type: lo.ToPtr("CustomScript"),
			TypeHandlerVersion: lo.ToPtr("2.1"), ProtectedSettings: map[string]any{"commandToExecute": "true"}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := state(); s != "Updating" {
		t.Errorf("while the extension runs the VM is %s, want Updating", s)
	}
	poll.Until(t, 10*time.Second, "the VM to fail with its extension", func() bool { s, _ := state(); return s == "Failed" })
	_, iv := state()
	codes := lo.Map(iv.Statuses, func(s *armcompute.InstanceViewStatus, _ int) string { return lo.FromPtr(s.Code) })
	if !lo.Contains(codes, "ProvisioningState/failed/VMExtensionProvisioningError") || !lo.Contains(codes, "PowerState/running") {
		t.Errorf("instance view statuses %v", codes)
	}
}
