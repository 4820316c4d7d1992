package instance_test

import (
	"maps"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instance"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
	"github.com/azkarpenter/azkarpenter/pkg/test/poll"
)

func TestCreateOnDemandEphemeral(t *testing.T) {
	e := newEnv(t, nil)
	nc := nodeClass(func(nc *v1beta1.AKSNodeClass) { nc.Spec.OSDiskSizeGB = to.Ptr(int32(64)) })
	its := e.instanceTypes(nc)
	claim := nodeClaim([]string{"Standard_D2ds_v5"}, []string{karpv1.CapacityTypeOnDemand},
		karpv1.NodeSelectorRequirementWithMinValues{Key: corev1.LabelTopologyZone, Operator: corev1.NodeSelectorOpIn, Values: []string{"eastus-2"}})
	inst, err := e.provider.Create(e.ctx, nc, claim, its)
	if err != nil {
		t.Fatal(err)
	}
	name := instance.VMName(claim.Name)
	if inst.Name != name || inst.InstanceType != "Standard_D2ds_v5" || inst.Zone != "eastus-2" || inst.CapacityType != karpv1.CapacityTypeOnDemand || inst.ProvisioningState != "Succeeded" {
		t.Fatalf("instance %+v", inst)
	}
	// As cloud-provider-azure writes the Node's: the resource group lower-cased.
	wantPID := "azure:///subscriptions/" + sub + "/resourceGroups/" + strings.ToLower(rg) + "/providers/Microsoft.Compute/virtualMachines/" + name
	if inst.ProviderID != wantPID {
		t.Errorf("providerID %s, want %s", inst.ProviderID, wantPID)
	}
	if s, g, n, err := instance.ParseProviderID(inst.ProviderID); err != nil || s != sub || !strings.EqualFold(g, rg) || n != name {
		t.Errorf("ParseProviderID = %s %s %s %v", s, g, n, err)
	}
	if inst.NodePool != "general" || inst.NodeClaim != claim.Name || inst.CreationTime.IsZero() {
		t.Errorf("ownership/creation: %+v", inst)
	}

	vm, err := e.clients.Compute.NewVirtualMachinesClient().Get(e.ctx, rg, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := vm.Properties
	s := e.sku("Standard_D2ds_v5")
	img, err := e.images.Resolve(e.ctx, nc, "amd64", "2")
	if err != nil {
		t.Fatal(err)
	}
	if got := *p.StorageProfile.ImageReference.CommunityGalleryImageID; got != img.ID || !strings.Contains(got, "/images/2404gen2containerd/versions/") || inst.ImageID != got {
		t.Errorf("image %s (instance %s), want %s", got, inst.ImageID, img.ID)
	}
	if len(vm.Zones) != 1 || *vm.Zones[0] != "2" {
		t.Errorf("zones %v", vm.Zones)
	}
	if *p.Priority != armcompute.VirtualMachinePriorityTypesRegular || p.EvictionPolicy != nil || p.BillingProfile != nil {
		t.Errorf("priority %v eviction %v billing %v", *p.Priority, p.EvictionPolicy, p.BillingProfile)
	}
	disk, _ := sku.ChooseOSDisk(s, nc)
	od := p.StorageProfile.OSDisk
	if od.DiffDiskSettings == nil || *od.DiffDiskSettings.Option != armcompute.DiffDiskOptionsLocal || string(*od.DiffDiskSettings.Placement) != disk.EphemeralPlacement || disk.EphemeralPlacement != "ResourceDisk" {
		t.Errorf("OS disk %+v, want ephemeral on %s", od.DiffDiskSettings, disk.EphemeralPlacement)
	}
	if *od.DiskSizeGB != 64 || *od.DeleteOption != armcompute.DiskDeleteOptionTypesDelete {
		t.Errorf("OS disk size %d deleteOption %s", *od.DiskSizeGB, *od.DeleteOption)
	}
	if nic := p.NetworkProfile.NetworkInterfaces[0]; *nic.Properties.DeleteOption != armcompute.DeleteOptionsDelete {
		t.Errorf("NIC deleteOption %s", *nic.Properties.DeleteOption)
	}
	if *p.OSProfile.ComputerName != name {
		t.Errorf("computerName %s", *p.OSProfile.ComputerName)
	}
	for _, tags := range []map[string]*string{vm.Tags, e.nicTags(name)} {
		want := map[string]string{instance.TagCluster: clusterName, instance.TagNodePool: "general", instance.TagNodeClaim: claim.Name, "team": "platform",
			"app.kubernetes.io_part-of": "shop"}
		for k, v := range want {
			if tags[k] == nil || *tags[k] != v {
				t.Errorf("tag %s = %v, want %s", k, tags[k], v)
			}
		}
	}
	nic, err := e.clients.Network.NewInterfacesClient().Get(e.ctx, rg, instance.NICName(name), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !*nic.Properties.EnableAcceleratedNetworking {
		t.Error("accelerated networking off on a size that supports it")
	}

	waitExtension(t, e, name, "cse-agent-azkarpenter", "CustomScript")

	// The bootstrap data, read as the node agent (the contract's consumer) reads it.
	view, ok := e.sim.LookupVM(*vm.ID)
	if !ok {
		t.Fatal("VM not in simulator")
	}
	b, err := bootstrap.Decode(bootstrap.Linux, view.CustomData)
	if err != nil {
		t.Fatal(err)
	}
	r := bootstrap.KubeReserved(s.VCPUs(), s.MemoryGiB())
	if q := resource.MustParse(b.Kubelet.KubeReserved["cpu"]); q.MilliValue() != r.CPUMillis {
		t.Errorf("kubeReserved cpu %s, want %dm", b.Kubelet.KubeReserved["cpu"], r.CPUMillis)
	}
	if q := resource.MustParse(b.Kubelet.KubeReserved["memory"]); q.Value() != r.MemoryMiB<<20 {
		t.Errorf("kubeReserved memory %s, want %dMi", b.Kubelet.KubeReserved["memory"], r.MemoryMiB)
	}
	// AKS's hard eviction set: memory, and disk and inodes of the node's filesystem.
	if want := map[string]string{"memory.available": "750Mi", "nodefs.available": "10%", "nodefs.inodesFree": "5%"}; !maps.Equal(b.Kubelet.EvictionHard, want) {
		t.Errorf("evictionHard %v", b.Kubelet.EvictionHard)
	}
	if b.Kubelet.MaxPods != 110 || b.KubernetesVersion != "1.35.1" || b.Kubelet.ClusterDNS != "10.0.0.10" || b.Cluster.BootstrapToken != testutil.BootstrapToken {
		t.Errorf("bootstrap %+v", b)
	}
	wantLabels := map[string]string{
		karpv1.NodePoolLabelKey: "general", "workload": "web", "example.com/tier": "gold", karpv1.CapacityTypeLabelKey: "on-demand", corev1.LabelTopologyZone: "eastus-2",
		corev1.LabelInstanceTypeStable: "Standard_D2ds_v5", v1beta1.LabelSKUFamily: "D",
		v1beta1.AKSLabelMode: "user", v1beta1.AKSLabelScaleSetPriority: "regular",
		v1beta1.AKSLabelStorageProfile: "ephemeral", v1beta1.AKSLabelOSSKU: "Ubuntu", v1beta1.AKSLabelInstanceSKU: "Standard_D2ds_v5",
		v1beta1.AKSLabelCluster: rg, v1beta1.AKSLabelNodeImageVersion: img.NodeImageVersion,
	}
	for k, v := range wantLabels {
		if b.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, b.Labels[k], v)
		}
	}
	// NAP leaves the agent pool label unset: a NodePool's name may be a real
	// AKS agent pool's.
	if v, ok := b.Labels[v1beta1.AKSLabelAgentPool]; ok {
		t.Errorf("label %s=%q on a karpenter node", v1beta1.AKSLabelAgentPool, v)
	}
	if _, ok := b.Labels[v1beta1.AKSLabelFIPSEnabled]; ok {
		t.Error("fips_enabled on a non-FIPS node")
	}
	// Taints, startup taints, then the one core removes at registration.
	if len(b.Taints) != 3 || b.Taints[0].Key != "dedicated" || b.Taints[1].Key != "node.cilium.io/agent-not-ready" || b.Taints[2].Key != karpv1.UnregisteredTaintKey {
		t.Errorf("taints %v", b.Taints)
	}
	if inst.Labels[v1beta1.AKSLabelStorageProfile] != "ephemeral" || inst.NodeImageVersion != img.NodeImageVersion {
		t.Errorf("instance labels %v, image version %s", inst.Labels, inst.NodeImageVersion)
	}

	// Get and an idempotent second Create.
	got, err := e.provider.Get(e.ctx, name)
	if err != nil || got.ProviderID != inst.ProviderID || got.InstanceType != inst.InstanceType || got.Zone != inst.Zone {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	again, err := e.provider.Create(e.ctx, nc, claim, its)
	if err != nil || again.ProviderID != inst.ProviderID {
		t.Fatalf("second Create = %+v, %v", again, err)
	}
	if again.NodeImageVersion != inst.NodeImageVersion || again.Labels[v1beta1.AKSLabelStorageProfile] != "ephemeral" || again.Labels[corev1.LabelTopologyZone] != "eastus-2" {
		t.Errorf("adopted instance lacks launch details: %s %v", again.NodeImageVersion, again.Labels)
	}
	if n := len(e.state().VMs); n != 1 {
		t.Fatalf("%d VMs after two Creates of one NodeClaim", n)
	}
}

func (e *env) nicTags(name string) map[string]*string {
	e.t.Helper()
	nic, err := e.clients.Network.NewInterfacesClient().Get(e.ctx, rg, instance.NICName(name), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return nic.Tags
}

func TestCreateSpotManagedSecure(t *testing.T) {
	e := newEnv(t, nil)
	nc := nodeClass(func(nc *v1beta1.AKSNodeClass) {
		nc.Spec.Spot = &v1beta1.SpotConfiguration{MaxPrice: to.Ptr("0.5")}
		nc.Spec.Security = &v1beta1.Security{EncryptionAtHost: to.Ptr(true), TrustedLaunch: &v1beta1.TrustedLaunch{VTPM: to.Ptr(true), SecureBoot: to.Ptr(true)}}
		nc.Spec.ImageFamily = to.Ptr(v1beta1.ImageFamilyUbuntu2204)
		nc.Spec.MaxPods = to.Ptr(int32(50))
	})
	its := e.instanceTypes(nc)
	claim := nodeClaim([]string{"Standard_D2s_v5", "Standard_D4s_v5"}, []string{karpv1.CapacityTypeSpot, karpv1.CapacityTypeOnDemand})
	claim.Labels[v1beta1.AKSLabelMode] = v1beta1.ModeSystem
	inst, err := e.provider.Create(e.ctx, nc, claim, its)
	if err != nil {
		t.Fatal(err)
	}
	if inst.CapacityType != karpv1.CapacityTypeSpot || inst.InstanceType != "Standard_D2s_v5" {
		t.Fatalf("chose %s %s, want the cheapest: spot Standard_D2s_v5", inst.CapacityType, inst.InstanceType)
	}
	vm, err := e.clients.Compute.NewVirtualMachinesClient().Get(e.ctx, rg, inst.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := vm.Properties
	if *p.Priority != armcompute.VirtualMachinePriorityTypesSpot || *p.EvictionPolicy != armcompute.VirtualMachineEvictionPolicyTypesDelete || *p.BillingProfile.MaxPrice != 0.5 {
		t.Errorf("spot settings %v %v %v", *p.Priority, *p.EvictionPolicy, *p.BillingProfile.MaxPrice)
	}
	if p.SecurityProfile == nil || !*p.SecurityProfile.EncryptionAtHost {
		t.Error("encryption at host not set")
	}
	if sp := p.SecurityProfile; sp == nil || *sp.SecurityType != armcompute.SecurityTypesTrustedLaunch || !*sp.UefiSettings.VTpmEnabled || !*sp.UefiSettings.SecureBootEnabled {
		t.Errorf("Trusted Launch not set: %+v", sp)
	}
	od := p.StorageProfile.OSDisk
	if od.DiffDiskSettings != nil || *od.ManagedDisk.StorageAccountType != armcompute.StorageAccountTypesPremiumLRS || *od.DiskSizeGB != 128 {
		t.Errorf("OS disk %+v", od)
	}
	// AKS's Trusted Launch definition: Compute refuses Trusted Launch on one
	// without the feature.
	if !strings.Contains(*p.StorageProfile.ImageReference.CommunityGalleryImageID, "/images/2204gen2TLcontainerd/") {
		t.Errorf("image %s, want the Trusted Launch 22.04 Gen2 image", *p.StorageProfile.ImageReference.CommunityGalleryImageID)
	}
	view, _ := e.sim.LookupVM(*vm.ID)
	b, err := bootstrap.Decode(bootstrap.Linux, view.CustomData)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		v1beta1.AKSLabelScaleSetPriority: "spot", v1beta1.AKSLabelStorageProfile: "managed",
		v1beta1.AKSLabelMode: "system", karpv1.CapacityTypeLabelKey: "spot",
	} {
		if b.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, b.Labels[k], v)
		}
	}
	if b.Kubelet.MaxPods != 50 {
		t.Errorf("maxPods %d, want the NodeClass's 50", b.Kubelet.MaxPods)
	}
}

// A confidential VM is launched as Azure requires one: a confidential size,
// a CVM image definition, the OS disk's security encryption type and a
// vTPM with secure boot; azuresim refuses each of them missing
// (TestVMSecurityRules).
func TestCreateConfidentialVM(t *testing.T) {
	e := newEnv(t, nil)
	nc := nodeClass(func(nc *v1beta1.AKSNodeClass) {
		nc.Spec.Security = &v1beta1.Security{ConfidentialVM: to.Ptr(true)}
		nc.Spec.OSDiskType = to.Ptr(v1beta1.OSDiskTypeManaged)
	})
	inst, err := e.provider.Create(e.ctx, nc, nodeClaim([]string{"Standard_DC2as_v5"}, []string{karpv1.CapacityTypeOnDemand}), e.instanceTypes(nc))
	if err != nil {
		t.Fatal(err)
	}
	vm, err := e.clients.Compute.NewVirtualMachinesClient().Get(e.ctx, rg, inst.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := vm.Properties
	if *p.SecurityProfile.SecurityType != armcompute.SecurityTypesConfidentialVM || !*p.SecurityProfile.UefiSettings.VTpmEnabled ||
		p.StorageProfile.OSDisk.ManagedDisk.SecurityProfile == nil || !strings.Contains(*p.StorageProfile.ImageReference.CommunityGalleryImageID, "CVM") {
		t.Errorf("confidential VM %+v, image %s", p.SecurityProfile, *p.StorageProfile.ImageReference.CommunityGalleryImageID)
	}
}

func TestCreateWindowsComputerName(t *testing.T) {
	e := newEnv(t, nil)
	nc := nodeClass(func(nc *v1beta1.AKSNodeClass) { nc.Spec.ImageFamily = to.Ptr(v1beta1.ImageFamilyWindows2022) })
	its := e.instanceTypes(nc)
	claim := nodeClaim([]string{"Standard_D2s_v5"}, []string{karpv1.CapacityTypeOnDemand})
	inst, err := e.provider.Create(e.ctx, nc, claim, its)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := e.clients.Compute.NewVirtualMachinesClient().Get(e.ctx, rg, inst.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	cn := *vm.Properties.OSProfile.ComputerName
	if len(cn) > 15 || cn == inst.Name {
		t.Errorf("Windows computerName %q", cn)
	}
	if vm.Properties.OSProfile.WindowsConfiguration == nil || !strings.Contains(inst.ImageID, "AKSWindows") || *vm.Properties.StorageProfile.OSDisk.OSType != armcompute.OperatingSystemTypesWindows {
		t.Errorf("not a Windows VM: image %s", inst.ImageID)
	}
	// The Windows setup script runs from the Custom Script Extension.
	waitExtension(t, e, inst.Name, "windows-cse-agent-azkarpenter", "CustomScriptExtension")
}

// waitExtension checks that the VM's provisioning extension exists, keeps
// no protected settings visible, and reports the node's provisioning as
// succeeded.
func waitExtension(t *testing.T, e *env, vmName, extName, extType string) {
	t.Helper()
	client := e.clients.Compute.NewVirtualMachineExtensionsClient()
	poll.Until(t, 10*time.Second, "extension "+extName+" provisioned", func() bool {
		ext, err := client.Get(e.ctx, rg, vmName, extName, nil)
		if err != nil {
			t.Fatalf("extension %s: %v", extName, err)
		}
		p := ext.Properties
		if *p.Type != extType || p.ProtectedSettings != nil {
			t.Fatalf("extension %s: type %s, protected settings returned: %v", extName, *p.Type, p.ProtectedSettings != nil)
		}
		if *p.ProvisioningState == "Failed" {
			t.Fatalf("extension %s is %s", extName, *p.ProvisioningState)
		}
		return *p.ProvisioningState == "Succeeded"
	})
}

var attemptRE = regexp.MustCompile(`(Standard_\w+) (\S+)/(spot|on-demand)`)

// firstAttempt parses the offering an InsufficientCapacityError names.
func firstAttempt(t *testing.T, err error) (size, zone, capacityType string) {
	t.Helper()
	m := attemptRE.FindStringSubmatch(err.Error())
	if m == nil {
		t.Fatalf("error does not name the offering: %v", err)
	}
	return m[1], m[2], m[3]
}

// Nodes carry the kubelet identity on the VM, as AKS's do, so kubelets and
// node add-ons get its tokens from IMDS; an identity ARM would refuse fails
// the launch with ARM's error.
func TestCreateAttachesNodeIdentities(t *testing.T) {
	kubelet := "/subscriptions/" + sub + "/resourceGroups/identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/cluster-agentpool"
	e := newEnv(t, func(c *azuresim.Config) { c.UserAssignedIdentities = []string{kubelet} })
	e.opts.NodeIdentities = []string{kubelet}
	e.provider = instance.NewDefaultProviderFromClients(e.opts, e.clients, e.skus, e.launch, e.cache, e.quota)
	nc := nodeClass(nil)
	inst, err := e.provider.Create(e.ctx, nc, nodeClaim([]string{"Standard_D2s_v5"}, []string{karpv1.CapacityTypeOnDemand}), e.instanceTypes(nc))
	if err != nil {
		t.Fatal(err)
	}
	vm, err := e.clients.Compute.NewVirtualMachinesClient().Get(e.ctx, rg, inst.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	if vm.Identity == nil || *vm.Identity.Type != armcompute.ResourceIdentityTypeUserAssigned || len(vm.Identity.UserAssignedIdentities) != 1 {
		t.Fatalf("identity %+v, want the kubelet identity alone", vm.Identity)
	}
	if got := vm.Identity.UserAssignedIdentities[kubelet]; got == nil || got.ClientID == nil || got.PrincipalID == nil {
		t.Errorf("identity %s: %+v, want ARM's client and principal IDs", kubelet, got)
	}

	e.opts.NodeIdentities = []string{"/subscriptions/" + sub + "/resourceGroups/identities/providers/Microsoft.Compute/virtualMachines/not-an-identity"}
	e.provider = instance.NewDefaultProviderFromClients(e.opts, e.clients, e.skus, e.launch, e.cache, e.quota)
	_, err = e.provider.Create(e.ctx, nc, nodeClaim([]string{"Standard_D2s_v5"}, []string{karpv1.CapacityTypeOnDemand}), e.instanceTypes(nc))
	if err == nil || !strings.Contains(err.Error(), "InvalidIdentityValues") {
		t.Errorf("a VM with an identity ARM refuses: %v", err)
	}

	// An identity that does not exist (deleted, or a typo in
	// NODE_IDENTITIES) fails the launch with ARM's error and leaves no NIC.
	missing := "/subscriptions/" + sub + "/resourceGroups/identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/deleted"
	e.opts.NodeIdentities = []string{missing}
	e.provider = instance.NewDefaultProviderFromClients(e.opts, e.clients, e.skus, e.launch, e.cache, e.quota)
	claim := nodeClaim([]string{"Standard_D2s_v5"}, []string{karpv1.CapacityTypeOnDemand})
	_, err = e.provider.Create(e.ctx, nc, claim, e.instanceTypes(nc))
	if err == nil || !strings.Contains(err.Error(), "FailedIdentityOperation") || !strings.Contains(err.Error(), "deleted") {
		t.Errorf("a VM with an identity that does not exist: %v", err)
	}
	if _, gerr := e.clients.Network.NewInterfacesClient().Get(e.ctx, rg, instance.NICName(instance.VMName(claim.Name)), nil); !instance.IsARMNotFound(gerr) {
		t.Errorf("the NIC of the refused VM was left behind: %v", gerr)
	}
}

// The cluster-wide node settings reach every VM: additional tags under the
// class's (kept by an in-place tag update), the Linux administrator and its
// SSH key, and the disk encryption set of the OS disk, which Azure (and
// azuresim) refuse when it does not exist.
func TestCreateWithNodeSettings(t *testing.T) {
	e := newEnv(t, nil)
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHUBDJ0rQ1Tfu0cWUcpqx8VmA6ivPS2U0jqdkpTmPnXB ops@example"
	des := "/subscriptions/" + sub + "/resourceGroups/keys/providers/Microsoft.Compute/diskEncryptionSets/des1"
	e.opts.AdditionalTags = map[string]string{"cost-center": "1234", "team": "from-options"}
	e.opts.AdminUsername = "ops"
	e.opts.SSHPublicKey = key
	e.opts.DiskEncryptionSetID = des
	e.provider = instance.NewDefaultProviderFromClients(e.opts, e.clients, e.skus, e.launch, e.cache, e.quota)
	nc := nodeClass(nil)
	create := func() (*instance.Instance, error) {
		return e.provider.Create(e.ctx, nc, nodeClaim([]string{"Standard_D2s_v5"}, []string{karpv1.CapacityTypeOnDemand}), e.instanceTypes(nc))
	}

	_, err := create()
	if err == nil || !strings.Contains(err.Error(), "DiskEncryptionSet '"+des+"' was not found") {
		t.Fatalf("a VM whose disk encryption set does not exist: %v", err)
	}
	poller, err := e.clients.Compute.NewDiskEncryptionSetsClient().BeginCreateOrUpdate(e.ctx, "keys", "des1", armcompute.DiskEncryptionSet{Location: to.Ptr(region)}, nil)
	if err == nil {
		_, err = poller.PollUntilDone(e.ctx, lroPoll)
	}
	if err != nil {
		t.Fatal(err)
	}
	inst, err := create()
	if err != nil {
		t.Fatal(err)
	}
	vm, err := e.clients.Compute.NewVirtualMachinesClient().Get(e.ctx, rg, inst.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	tags := lo.MapValues(vm.Tags, func(v *string, _ string) string { return lo.FromPtr(v) })
	if tags["cost-center"] != "1234" || tags["team"] != "platform" || tags[instance.TagCluster] != clusterName {
		t.Errorf("VM tags %v: want the additional tags under the class's and the ownership tags", tags)
	}
	nic, err := e.clients.Network.NewInterfacesClient().Get(e.ctx, rg, instance.NICName(inst.Name), nil)
	if err != nil {
		t.Fatal(err)
	}
	if lo.FromPtr(nic.Tags["cost-center"]) != "1234" {
		t.Errorf("NIC tags %v: want the additional tags", nic.Tags)
	}
	osp := vm.Properties.OSProfile
	if lo.FromPtr(osp.AdminUsername) != "ops" || len(osp.LinuxConfiguration.SSH.PublicKeys) != 1 ||
		lo.FromPtr(osp.LinuxConfiguration.SSH.PublicKeys[0].KeyData) != key || lo.FromPtr(osp.LinuxConfiguration.SSH.PublicKeys[0].Path) != "/home/ops/.ssh/authorized_keys" {
		t.Errorf("OS profile: admin %q, keys %+v", lo.FromPtr(osp.AdminUsername), osp.LinuxConfiguration.SSH.PublicKeys)
	}
	md := vm.Properties.StorageProfile.OSDisk.ManagedDisk
	if md == nil || md.DiskEncryptionSet == nil || lo.FromPtr(md.DiskEncryptionSet.ID) != des {
		t.Errorf("OS disk %+v: want disk encryption set %s", md, des)
	}

	// An in-place tag update keeps the additional tags.
	if err := e.provider.UpdateTags(e.ctx, inst.Name, map[string]string{"team": "data"}); err != nil {
		t.Fatal(err)
	}
	vm, err = e.clients.Compute.NewVirtualMachinesClient().Get(e.ctx, rg, inst.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lo.FromPtr(vm.Tags["cost-center"]) != "1234" || lo.FromPtr(vm.Tags["team"]) != "data" {
		t.Errorf("after UpdateTags: %v", lo.MapValues(vm.Tags, func(v *string, _ string) string { return lo.FromPtr(v) }))
	}

	// A malformed ID fails ARM's linked-resource check.
	e.opts.DiskEncryptionSetID = "des1"
	e.provider = instance.NewDefaultProviderFromClients(e.opts, e.clients, e.skus, e.launch, e.cache, e.quota)
	if _, err := create(); err == nil || !strings.Contains(err.Error(), "LinkedInvalidPropertyId") {
		t.Errorf("a disk encryption set that is not a resource ID: %v", err)
	}
}
