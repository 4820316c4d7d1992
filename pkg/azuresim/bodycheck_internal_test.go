package azuresim

import (
	"encoding/json"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
)

// BenchmarkCheckBody measures the body checker on a VM body of the size the
// controller sends (custom data dominates it).
func BenchmarkCheckBody(b *testing.B) {
	vm := armcompute.VirtualMachine{
		Location: to.Ptr("eastus"), Zones: []*string{to.Ptr("1")},
		Tags: map[string]*string{"karpenter.sh_nodepool": to.Ptr("default"), "karpenter.sh_nodeclaim": to.Ptr("default-abcde")},
		Properties: &armcompute.VirtualMachineProperties{
			HardwareProfile: &armcompute.HardwareProfile{VMSize: to.Ptr(armcompute.VirtualMachineSizeTypes("Standard_D4s_v5"))},
			StorageProfile: &armcompute.StorageProfile{
				ImageReference: &armcompute.ImageReference{CommunityGalleryImageID: to.Ptr("/CommunityGalleries/" + GalleryAKSUbuntu + "/Images/2404gen2containerd/Versions/202611.10.0")},
				OSDisk: &armcompute.OSDisk{CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesFromImage), DiskSizeGB: to.Ptr[int32](128),
					Caching: to.Ptr(armcompute.CachingTypesReadOnly), DiffDiskSettings: &armcompute.DiffDiskSettings{Option: to.Ptr(armcompute.DiffDiskOptionsLocal)}},
			},
			OSProfile: &armcompute.OSProfile{ComputerName: to.Ptr("aks-default-abcde"), AdminUsername: to.Ptr("azureuser"), CustomData: to.Ptr(string(make([]byte, 16<<10)))},
			NetworkProfile: &armcompute.NetworkProfile{NetworkInterfaces: []*armcompute.NetworkInterfaceReference{{ID: to.Ptr("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/n"),
				Properties: &armcompute.NetworkInterfaceReferenceProperties{Primary: to.Ptr(true), DeleteOption: to.Ptr(armcompute.DeleteOptionsDelete)}}}},
		},
	}
	body, err := json.Marshal(vm)
	if err != nil {
		b.Fatal(err)
	}
	schemaFor("armcompute.VirtualMachine")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, aerr := checkBody(body, "armcompute.VirtualMachine"); aerr != nil {
			b.Fatal(aerr)
		}
	}
}
