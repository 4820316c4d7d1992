package azuresim_test

import (
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
)

// Trusted Launch and confidential VMs keep 1 GiB of their ephemeral OS
// disk's placement for the VM guest state; confidential VMs cannot use NVMe.
func TestEphemeralOSDiskOfTrustedLaunchAndConfidentialVMs(t *testing.T) {
	e := newEnv(t, noRetries())
	subnet := e.network("eastus", "10.1.0.0/24")
	tlImage := "/CommunityGalleries/" + azuresim.GalleryAKSUbuntu + "/images/2204gen2TLcontainerd/versions/202611.10.0"
	// Standard_D2ds_v5: a 75 GiB resource disk.
	e.mustCreateVM(vmSpec{name: "tl74", size: "Standard_D2ds_v5", location: "eastus", zone: "1", imageID: tlImage, trustedLaunch: true,
		diskGB: 74, ephemeral: armcompute.DiffDiskPlacementResourceDisk}, subnet)
	e.mustCreateVM(vmSpec{name: "plain75", size: "Standard_D2ds_v5", location: "eastus", zone: "1", diskGB: 75, ephemeral: armcompute.DiffDiskPlacementResourceDisk}, subnet)
	_, putErr, _ := e.createVM(vmSpec{name: "tl75", size: "Standard_D2ds_v5", location: "eastus", zone: "1", imageID: tlImage, trustedLaunch: true,
		diskGB: 75, ephemeral: armcompute.DiffDiskPlacementResourceDisk}, subnet)
	if putErr == nil {
		t.Fatal("a Trusted Launch VM whose ephemeral OS disk leaves no room for its guest state was accepted")
	}
	if re := respErr(t, putErr); re.StatusCode != http.StatusBadRequest || re.ErrorCode != "InvalidParameter" ||
		errorMessage(t, re) != "OS disk of Ephemeral VM with size greater than 74 GB is not allowed for VM size Standard_D2ds_v5 when the DiffDiskPlacement is ResourceDisk." {
		t.Errorf("Trusted Launch 75 GiB: %d %s %q", re.StatusCode, re.ErrorCode, errorMessage(t, re))
	}

	nic, err := e.createNIC("cvm-nic", "eastus", subnet)
	if err != nil {
		t.Fatal(err)
	}
	body := e.vmBody(vmSpec{name: "cvm", size: "Standard_DC2ads_v6", location: "eastus", zone: "1",
		imageID: "/CommunityGalleries/" + azuresim.GalleryAKSUbuntu + "/images/2404gen2CVMcontainerd/versions/202611.10.0",
		diskGB:  64, ephemeral: armcompute.DiffDiskPlacementNvmeDisk}, *nic.ID)
	body.Properties.SecurityProfile = &armcompute.SecurityProfile{SecurityType: lo.ToPtr(armcompute.SecurityTypesConfidentialVM),
		UefiSettings: &armcompute.UefiSettings{SecureBootEnabled: lo.ToPtr(true), VTpmEnabled: lo.ToPtr(true)}}
	body.Properties.StorageProfile.OSDisk.ManagedDisk = &armcompute.ManagedDiskParameters{SecurityProfile: &armcompute.VMDiskSecurityProfile{
		SecurityEncryptionType: lo.ToPtr(armcompute.SecurityEncryptionTypesVMGuestStateOnly)}}
	_, err = e.vms.BeginCreateOrUpdate(e.ctx, testRG, "cvm", body, nil)
	if err == nil {
		t.Fatal("a confidential VM with its ephemeral OS disk on NVMe was accepted")
	}
	if re := respErr(t, err); re.StatusCode != http.StatusBadRequest || errorMessage(t, re) != "The DiffDiskPlacement NvmeDisk is not supported for Confidential VMs." {
		t.Errorf("confidential VM on NVMe: %d %s %q", re.StatusCode, re.ErrorCode, errorMessage(t, re))
	}
}
