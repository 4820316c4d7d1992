package cloudprovider_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/awslabs/operatorpkg/status"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	corecloudprovider "sigs.k8s.io/karpenter/pkg/cloudprovider"
	coretest "sigs.k8s.io/karpenter/pkg/test"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	"github.com/azkarpenter/azkarpenter/pkg/cloudprovider"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
	"github.com/azkarpenter/azkarpenter/pkg/test/environment"
)

var (
	ctx context.Context
	env *environment.Environment
)

func TestCloudProvider(t *testing.T) {
	environment.RunSuite(t, "CloudProvider")
}

var _ = BeforeSuite(func() {
	ctx = context.Background()
	env = environment.New(ctx)
})

var _ = BeforeEach(func() { env.Reset(ctx) })

var _ = AfterSuite(func() { env.Stop() })

// readyNodeClass creates an AKSNodeClass marked Ready, as the status
// controller would.
func readyNodeClass(spec v1beta1.AKSNodeClassSpec) *v1beta1.AKSNodeClass {
	nc := &v1beta1.AKSNodeClass{Spec: spec}
	nc.GenerateName = "nc-"
	Expect(env.Client.Create(ctx, nc)).To(Succeed())
	nc.Status.KubernetesVersion = lo.ToPtr("v1.35.4")
	nc.StatusConditions().SetTrue(status.ConditionReady)
	for _, t := range []string{v1beta1.ConditionTypeValidationSucceeded, v1beta1.ConditionTypeImagesReady, v1beta1.ConditionTypeKubernetesVersionReady, v1beta1.ConditionTypeSubnetsReady, v1beta1.ConditionTypeBootstrapReady} {
		nc.StatusConditions().SetTrue(t)
	}
	Expect(env.Client.Status().Update(ctx, nc)).To(Succeed())
	return nc
}

func nodeClaimFor(nc *v1beta1.AKSNodeClass, reqs ...karpv1.NodeSelectorRequirementWithMinValues) *karpv1.NodeClaim {
	claim := &karpv1.NodeClaim{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "default-", Labels: map[string]string{karpv1.NodePoolLabelKey: "default"}},
		Spec: karpv1.NodeClaimSpec{
			NodeClassRef: &karpv1.NodeClassReference{Group: "karpenter.azure.com", Kind: "AKSNodeClass", Name: nc.Name},
			// As core makes them: the NodePool's requirements, the NodeClass
			// label and a custom label.
			Requirements: append([]karpv1.NodeSelectorRequirementWithMinValues{
				{Key: "karpenter.azure.com/aksnodeclass", Operator: corev1.NodeSelectorOpIn, Values: []string{nc.Name}},
				{Key: karpv1.NodePoolLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{"default"}},
				{Key: "team", Operator: corev1.NodeSelectorOpIn, Values: []string{"payments"}},
			}, reqs...),
			Resources: karpv1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resourceMust("1")}},
		},
	}
	Expect(env.Client.Create(ctx, claim)).To(Succeed())
	return claim
}

var _ = Describe("CloudProvider", func() {
	var cp *cloudprovider.CloudProvider
	BeforeEach(func() { cp = env.Providers.CloudProvider })

	It("launches the cheapest compatible offering and reports it as the NodeClaim core expects", func() {
		nc := readyNodeClass(v1beta1.AKSNodeClassSpec{})
		claim := nodeClaimFor(nc,
			karpv1.NodeSelectorRequirementWithMinValues{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"Standard_D2s_v5", "Standard_D4s_v5", "Standard_D8s_v5"}},
			karpv1.NodeSelectorRequirementWithMinValues{Key: karpv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{karpv1.CapacityTypeOnDemand}},
		)
		created, err := cp.Create(ctx, claim)
		Expect(err).NotTo(HaveOccurred())
		Expect(created.Labels).To(HaveKeyWithValue(corev1.LabelInstanceTypeStable, "Standard_D2s_v5"))
		Expect(created.Labels).To(HaveKeyWithValue(karpv1.CapacityTypeLabelKey, karpv1.CapacityTypeOnDemand))
		Expect(created.Labels[corev1.LabelTopologyZone]).To(MatchRegexp(`^eastus-[123]$`))
		Expect(created.Labels).To(HaveKeyWithValue(v1beta1.LabelSKUFamily, "D"))
		// What the VM has: nobody asked for Ultra Disks.
		Expect(created.Labels).To(HaveKeyWithValue(v1beta1.LabelSKUStorageUltraSSD, "false"))
		// As cloud-provider-azure writes the Node's: the group lower-cased.
		Expect(created.Status.ProviderID).To(HavePrefix("azure:///subscriptions/" + testutil.SubscriptionID + "/resourceGroups/" + strings.ToLower(testutil.ResourceGroup) + "/providers/Microsoft.Compute/virtualMachines/"))
		Expect(created.Status.Capacity.Cpu().Value()).To(Equal(int64(2)))
		Expect(created.Status.Allocatable.Cpu().MilliValue()).To(Equal(int64(1900)))
		Expect(created.Status.ImageID).NotTo(BeEmpty())
		Expect(created.Annotations).To(HaveKeyWithValue(cloudprovider.AnnotationNodeClassHash, nc.Hash()))

		got, err := cp.Get(ctx, created.Status.ProviderID)
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Labels).To(HaveKeyWithValue(corev1.LabelInstanceTypeStable, "Standard_D2s_v5"))
		Eventually(func(g Gomega) {
			all, err := cp.List(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(lo.Map(all, func(c *karpv1.NodeClaim, _ int) string { return c.Status.ProviderID })).To(ContainElement(created.Status.ProviderID))
		}).WithTimeout(10 * time.Second).Should(Succeed())

		// Delete returns nil while deletion runs and NodeClaimNotFound once the VM is gone.
		claim.Status.ProviderID = created.Status.ProviderID
		Eventually(func() bool {
			return corecloudprovider.IsNodeClaimNotFoundError(cp.Delete(ctx, claim))
		}).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).Should(BeTrue())
		_, err = cp.Get(ctx, created.Status.ProviderID)
		Expect(corecloudprovider.IsNodeClaimNotFoundError(err)).To(BeTrue())
	})

	It("reports drift of the NodeClass spec, the node image and the Kubernetes version", func() {
		nc := readyNodeClass(v1beta1.AKSNodeClassSpec{})
		claim := nodeClaimFor(nc, karpv1.NodeSelectorRequirementWithMinValues{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"Standard_D2s_v5"}})
		created, err := cp.Create(ctx, claim)
		Expect(err).NotTo(HaveOccurred())
		claim.Labels = lo.Assign(claim.Labels, created.Labels)
		claim.Annotations = created.Annotations
		claim.Status.ProviderID = created.Status.ProviderID
		claim.Status.ImageID = created.Status.ImageID

		Expect(cp.IsDrifted(ctx, claim)).To(BeEmpty())

		image := claim.Status.ImageID
		claim.Status.ImageID = "/CommunityGalleries/x/images/y/versions/202401.01.0"
		Expect(cp.IsDrifted(ctx, claim)).To(Equal(cloudprovider.DriftImage))
		claim.Status.ImageID = image

		claim.Annotations[cloudprovider.AnnotationKubernetesVersion] = "v1.34.2"
		Expect(cp.IsDrifted(ctx, claim)).To(Equal(cloudprovider.DriftKubernetesVersion))
		claim.Annotations[cloudprovider.AnnotationKubernetesVersion] = "v1.35.4"

		nc.Spec.OSDiskSizeGB = lo.ToPtr[int32](64)
		Expect(env.Client.Update(ctx, nc)).To(Succeed())
		Expect(cp.IsDrifted(ctx, claim)).To(Equal(cloudprovider.DriftNodeClass))
	})

	// Issue 9: the Kubernetes version was read once at start, so after a
	// cluster upgrade every node drifted and was replaced by a node
	// bootstrapped with the old version.
	It("after a cluster upgrade, drifts old nodes and bootstraps replacements with the new version", func() {
		nc := readyNodeClass(v1beta1.AKSNodeClassSpec{})
		launch := func() (*karpv1.NodeClaim, *bootstrap.Config) {
			claim := nodeClaimFor(nc, karpv1.NodeSelectorRequirementWithMinValues{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"Standard_D2s_v5"}})
			created, err := cp.Create(ctx, claim)
			Expect(err).NotTo(HaveOccurred())
			claim.Labels = lo.Assign(claim.Labels, created.Labels)
			claim.Annotations = created.Annotations
			claim.Status.ProviderID = created.Status.ProviderID
			claim.Status.ImageID = created.Status.ImageID
			view, ok := env.Sim.LookupVM(strings.TrimPrefix(created.Status.ProviderID, "azure://"))
			Expect(ok).To(BeTrue())
			b, err := bootstrap.Decode(bootstrap.Linux, view.CustomData)
			Expect(err).NotTo(HaveOccurred())
			return claim, b
		}
		old, oldBootstrap := launch()
		Expect(oldBootstrap.KubernetesVersion).To(Equal("1.35.4"))
		Expect(old.Annotations).To(HaveKeyWithValue(cloudprovider.AnnotationKubernetesVersion, "v1.35.4"))
		Expect(cp.IsDrifted(ctx, old)).To(BeEmpty())

		// The control plane is upgraded: the next read of the cluster's
		// version says so, with no restart of the controller.
		env.ClusterInputs.Set(func(i *cluster.Inputs) { i.KubernetesVersion = "v1.36.0" }, nil)
		Expect(cp.IsDrifted(ctx, old)).To(Equal(cloudprovider.DriftKubernetesVersion))
		replacement, newBootstrap := launch()
		Expect(newBootstrap.KubernetesVersion).To(Equal("1.36.0"), "a replacement must join with the cluster's new version")
		Expect(replacement.Annotations).To(HaveKeyWithValue(cloudprovider.AnnotationKubernetesVersion, "v1.36.0"))
		Expect(cp.IsDrifted(ctx, replacement)).To(BeEmpty(), "a replacement must not drift in turn")
	})

	It("drifts nodes to a newly published image once the images are refreshed, and never while the gallery cannot be read", func() {
		nc := readyNodeClass(v1beta1.AKSNodeClassSpec{ImageFamily: lo.ToPtr(v1beta1.ImageFamilyAzureLinux)})
		launch := func() *karpv1.NodeClaim {
			claim := nodeClaimFor(nc, karpv1.NodeSelectorRequirementWithMinValues{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"Standard_D2s_v5"}})
			created, err := cp.Create(ctx, claim)
			Expect(err).NotTo(HaveOccurred())
			claim.Labels = lo.Assign(claim.Labels, created.Labels)
			claim.Annotations = created.Annotations
			claim.Status.ProviderID = created.Status.ProviderID
			claim.Status.ImageID = created.Status.ImageID
			return claim
		}
		old := launch()
		Expect(old.Status.ImageID).To(HaveSuffix("/images/V3gen2/versions/202611.10.0"))
		Expect(old.Labels).To(HaveKeyWithValue(v1beta1.AKSLabelNodeImageVersion, "AKSAzureLinux-V3gen2-202611.10.0"))

		Expect(env.Sim.PublishImageVersion(imagefamily.GalleryAzureLinux, "V3gen2", "202611.24.0", azuresim.ImageVersionSpec{})).To(Succeed())
		Expect(cp.IsDrifted(ctx, old)).To(BeEmpty(), "nothing drifts before the images are refreshed")

		// The gallery cannot be read (a role assignment went missing; unlike
		// a 5xx it is not retried, which keeps the spec quick): the last
		// known version stays, and nothing drifts.
		Expect(env.Sim.UpdateConfig(func(c *azuresim.Config) {
			c.Errors = append(c.Errors, azuresim.ErrorRule{Operation: azuresim.OpListGalleryImageVersions, Code: "AuthorizationFailed", Status: 403})
		})).To(Succeed())
		Expect(env.Providers.Images.Refresh(ctx)).To(HaveOccurred())
		Expect(cp.IsDrifted(ctx, old)).To(BeEmpty())

		Expect(env.Sim.UpdateConfig(func(c *azuresim.Config) { c.Errors = nil })).To(Succeed())
		Expect(env.Providers.Images.Refresh(ctx)).To(Succeed())
		Expect(cp.IsDrifted(ctx, old)).To(Equal(cloudprovider.DriftImage))
		replacement := launch()
		Expect(replacement.Status.ImageID).To(HaveSuffix("/images/V3gen2/versions/202611.24.0"))
		Expect(cp.IsDrifted(ctx, replacement)).To(BeEmpty())
	})

	// A NodeClaim created by an earlier version records the resource group
	// as configured (MC_...); core compares providerIDs exactly, so List
	// must report the VM with the NodeClaim's spelling or core's garbage
	// collection deletes the NodeClaim of a live VM.
	It("matches the NodeClaims of an earlier version, whose providerID has the resource group as configured", func() {
		nc := readyNodeClass(v1beta1.AKSNodeClassSpec{})
		claim := nodeClaimFor(nc,
			karpv1.NodeSelectorRequirementWithMinValues{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"Standard_D2s_v5"}},
			karpv1.NodeSelectorRequirementWithMinValues{Key: karpv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{karpv1.CapacityTypeOnDemand}},
		)
		created, err := cp.Create(ctx, claim)
		Expect(err).NotTo(HaveOccurred())
		old := strings.Replace(created.Status.ProviderID, strings.ToLower(testutil.ResourceGroup), testutil.ResourceGroup, 1)
		Expect(old).NotTo(Equal(created.Status.ProviderID))
		claim.Status.ProviderID = old
		Expect(env.Client.Status().Update(ctx, claim)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(env.Client.Delete(ctx, claim))).To(Succeed()) })

		Eventually(func(g Gomega) {
			all, err := cp.List(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			ids := lo.Map(all, func(c *karpv1.NodeClaim, _ int) string { return c.Status.ProviderID })
			g.Expect(ids).To(ContainElement(old), "the VM is listed as the NodeClaim recorded it")
			g.Expect(ids).NotTo(ContainElement(created.Status.ProviderID))
		}).WithTimeout(10 * time.Second).Should(Succeed())
		got, err := cp.Get(ctx, old)
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Status.ProviderID).To(Equal(old))
		Expect(cp.Delete(ctx, claim)).To(Succeed())
	})

	// Issue 12: after a restart, the quota the VM itself holds made its size
	// unavailable, and Create refused the NodeClaim whose VM existed.
	It("adopts the VM of a NodeClaim after a restart even when the VM's own quota use fills the family", func() {
		Expect(env.Sim.UpdateConfig(func(c *azuresim.Config) {
			c.Quota.Families = []azuresim.FamilyQuota{{Family: "standardDSv5Family", Limit: 2}}
		})).To(Succeed())
		nc := readyNodeClass(v1beta1.AKSNodeClassSpec{})
		claim := nodeClaimFor(nc,
			karpv1.NodeSelectorRequirementWithMinValues{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"Standard_D2s_v5"}},
			karpv1.NodeSelectorRequirementWithMinValues{Key: karpv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{karpv1.CapacityTypeOnDemand}},
		)
		first, err := cp.Create(ctx, claim)
		Expect(err).NotTo(HaveOccurred())

		// A restarted controller: fresh caches, and a quota reading in which
		// the family is full (by this very VM).
		restarted := env.NewProviders(ctx, env.ControllerOptions())
		Expect(restarted.Quota.Refresh(ctx)).To(Succeed())
		adopted, err := restarted.CloudProvider.Create(ctx, claim)
		Expect(err).NotTo(HaveOccurred())
		Expect(adopted.Status.ProviderID).To(Equal(first.Status.ProviderID))
		Expect(adopted.Labels).To(HaveKeyWithValue(corev1.LabelInstanceTypeStable, "Standard_D2s_v5"))
		Expect(adopted.Status.Capacity.Cpu().Value()).To(Equal(int64(2)), "the adopted NodeClaim needs its capacity")
		Expect(adopted.Status.Allocatable).NotTo(BeEmpty())
		Expect(lo.CountBy(env.Sim.Snapshot().VMs, func(v azuresim.VMState) bool { return v.Tags["karpenter.sh_nodeclaim"] == claim.Name })).To(Equal(1))
	})

	// Issue 21: Windows bootstrap follows AKS's contract but has not been
	// seen joining a real cluster; every Windows launch says so.
	It("says on a Windows NodeClaim that Windows bootstrap is a preview", func() {
		recorder := coretest.NewEventRecorder()
		cp.UseRecorder(recorder)
		DeferCleanup(func() { cp.UseRecorder(nil) })
		windows := readyNodeClass(v1beta1.AKSNodeClassSpec{ImageFamily: lo.ToPtr(v1beta1.ImageFamilyWindows2022)})
		_, err := cp.Create(ctx, nodeClaimFor(windows,
			karpv1.NodeSelectorRequirementWithMinValues{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"Standard_D4s_v5"}}))
		Expect(err).NotTo(HaveOccurred())
		Expect(recorder.Calls(cloudprovider.ReasonWindowsBootstrapPreview)).To(Equal(1))
		linux := readyNodeClass(v1beta1.AKSNodeClassSpec{})
		_, err = cp.Create(ctx, nodeClaimFor(linux,
			karpv1.NodeSelectorRequirementWithMinValues{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"Standard_D4s_v5"}}))
		Expect(err).NotTo(HaveOccurred())
		Expect(recorder.Calls(cloudprovider.ReasonWindowsBootstrapPreview)).To(Equal(1), "only Windows launches")
	})

	// Issue 15: Create waited for the VM to provision, and while any
	// NodeClaim lacked a providerID core counted its state unsynced and
	// provisioned nothing else.
	It("returns once Azure accepts the VM, and deletes the NodeClaim of a VM Azure then fails", func() {
		recorder := coretest.NewEventRecorder()
		cp.UseRecorder(recorder)
		DeferCleanup(func() { cp.UseRecorder(nil) })
		Expect(env.Sim.UpdateConfig(func(c *azuresim.Config) {
			c.Errors = append(c.Errors, azuresim.ErrorRule{Operation: azuresim.OpPutVM, Code: "ZonalAllocationFailed", Async: true, SKU: "Standard_D4s_v5", Count: 1})
			// Slow enough that a Create that waited would be seen to.
			c.Latency.VMCreate = azuresim.Latency{Distribution: "constant", Mean: azuresim.Duration{Duration: 20 * time.Minute}}
		})).To(Succeed())
		nc := readyNodeClass(v1beta1.AKSNodeClassSpec{})
		onDemandD4 := []karpv1.NodeSelectorRequirementWithMinValues{
			{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"Standard_D4s_v5"}},
			{Key: karpv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{karpv1.CapacityTypeOnDemand}},
		}
		claim := nodeClaimFor(nc, onDemandD4...)
		created, err := cp.Create(ctx, claim)
		Expect(err).NotTo(HaveOccurred(), "Azure accepted the PUT")
		Expect(created.Status.ProviderID).NotTo(BeEmpty())
		failedZone := created.Labels[corev1.LabelTopologyZone]
		// Core records the launch.
		claim.Status.ProviderID = created.Status.ProviderID
		claim.StatusConditions().SetTrue(karpv1.ConditionTypeLaunched)
		Expect(env.Client.Status().Update(ctx, claim)).To(Succeed())

		Eventually(func() bool {
			return errors.IsNotFound(env.Client.Get(ctx, client.ObjectKeyFromObject(claim), &karpv1.NodeClaim{}))
		}).WithTimeout(20*time.Second).Should(BeTrue(), "the NodeClaim of the failed VM is deleted")
		cp.WaitForLaunches()
		Expect(recorder.Calls(cloudprovider.ReasonLaunchFailed)).To(Equal(1))
		Expect(lo.CountBy(env.Sim.Snapshot().VMs, func(v azuresim.VMState) bool { return v.Tags["karpenter.sh_nodeclaim"] == claim.Name })).To(BeZero(), "the failed VM is removed")

		// Core provisions the pods again: the failed zone is avoided.
		retry, err := cp.Create(ctx, nodeClaimFor(nc, onDemandD4...))
		Expect(err).NotTo(HaveOccurred())
		Expect(retry.Labels[corev1.LabelTopologyZone]).NotTo(Equal(failedZone))
		vm, ok := lo.Find(env.Sim.Snapshot().VMs, func(v azuresim.VMState) bool {
			return strings.EqualFold(v.ID, strings.TrimPrefix(retry.Status.ProviderID, "azure://"))
		})
		Expect(ok).To(BeTrue())
		Expect(vm.ProvisioningState).To(Equal("Creating"), "Create returned before the VM provisioned")
	})

	It("waits up to --vm-create-wait for the VM, and reports a failure within it from Create", func() {
		opts := env.ControllerOptions()
		opts.VMCreateWait = time.Minute
		waiting := env.NewProviders(ctx, opts)
		nc := readyNodeClass(v1beta1.AKSNodeClassSpec{})
		d2 := karpv1.NodeSelectorRequirementWithMinValues{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"Standard_D2s_v5"}}
		created, err := waiting.CloudProvider.Create(ctx, nodeClaimFor(nc, d2))
		Expect(err).NotTo(HaveOccurred())
		vm, ok := lo.Find(env.Sim.Snapshot().VMs, func(v azuresim.VMState) bool {
			return strings.EqualFold(v.ID, strings.TrimPrefix(created.Status.ProviderID, "azure://"))
		})
		Expect(ok).To(BeTrue())
		// Updating: the provisioning extension the launch started still runs.
		Expect(vm.ProvisioningState).To(BeElementOf("Succeeded", "Updating"), "Create waited for the VM")

		Expect(env.Sim.UpdateConfig(func(c *azuresim.Config) {
			c.Errors = append(c.Errors, azuresim.ErrorRule{Operation: azuresim.OpPutVM, Code: "ZonalAllocationFailed", Async: true, SKU: "Standard_D2s_v5", Count: 1})
		})).To(Succeed())
		_, err = waiting.CloudProvider.Create(ctx, nodeClaimFor(nc, d2))
		Expect(corecloudprovider.IsInsufficientCapacityError(err)).To(BeTrue(), "%v", err)
	})

	It("reports a failed launch from Create for a standalone NodeClaim, which nothing would replace", func() {
		Expect(env.Sim.UpdateConfig(func(c *azuresim.Config) {
			c.Errors = append(c.Errors, azuresim.ErrorRule{Operation: azuresim.OpPutVM, Code: "ZonalAllocationFailed", Async: true, SKU: "Standard_D8s_v5", Count: 1})
		})).To(Succeed())
		nc := readyNodeClass(v1beta1.AKSNodeClassSpec{})
		claim := nodeClaimFor(nc, karpv1.NodeSelectorRequirementWithMinValues{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"Standard_D8s_v5"}})
		delete(claim.Labels, karpv1.NodePoolLabelKey)
		_, err := cp.Create(ctx, claim)
		Expect(corecloudprovider.IsInsufficientCapacityError(err)).To(BeTrue(), "%v", err)
	})

	It("refuses to launch for a NodeClass that is not Ready, and for one that does not exist", func() {
		nc := &v1beta1.AKSNodeClass{}
		nc.GenerateName = "nc-"
		Expect(env.Client.Create(ctx, nc)).To(Succeed())
		nc.StatusConditions().SetFalse(v1beta1.ConditionTypeSubnetsReady, "SubnetFull", "no free IPs")
		Expect(env.Client.Status().Update(ctx, nc)).To(Succeed())
		_, err := cp.Create(ctx, nodeClaimFor(nc))
		Expect(corecloudprovider.IsNodeClassNotReadyError(err)).To(BeTrue(), "%v", err)

		missing := nodeClaimFor(&v1beta1.AKSNodeClass{ObjectMeta: metav1.ObjectMeta{Name: "missing"}})
		_, err = cp.Create(ctx, missing)
		Expect(corecloudprovider.IsInsufficientCapacityError(err)).To(BeTrue(), "%v", err)
	})

	It("returns instance types for a NodePool and none for a missing NodeClass", func() {
		nc := readyNodeClass(v1beta1.AKSNodeClassSpec{})
		np := &karpv1.NodePool{Spec: karpv1.NodePoolSpec{Template: karpv1.NodeClaimTemplate{Spec: karpv1.NodeClaimTemplateSpec{
			NodeClassRef: &karpv1.NodeClassReference{Group: "karpenter.azure.com", Kind: "AKSNodeClass", Name: nc.Name},
		}}}}
		its, err := cp.GetInstanceTypes(ctx, np)
		Expect(err).NotTo(HaveOccurred())
		Expect(len(its)).To(BeNumerically(">", 300))
		np.Spec.Template.Spec.NodeClassRef.Name = "missing"
		its, err = cp.GetInstanceTypes(ctx, np)
		Expect(err).NotTo(HaveOccurred())
		Expect(its).To(BeEmpty())
	})

	It("answers Name, supported NodeClasses and repair policies", func() {
		Expect(cp.Name()).To(Equal("azure"))
		Expect(cp.GetSupportedNodeClasses()).To(HaveLen(1))
		Expect(lo.Map(cp.RepairPolicies(), func(p corecloudprovider.RepairPolicy, _ int) corev1.NodeConditionType { return p.ConditionType })).
			To(ContainElements(corev1.NodeReady, cloudprovider.ConditionPreemptionScheduled, cloudprovider.ConditionNodeHealthy))
		// --repair-policies replaces NAP's.
		own := []corecloudprovider.RepairPolicy{{ConditionType: "example.com/Broken", ConditionStatus: corev1.ConditionTrue, TolerationDuration: time.Minute}}
		Expect(cloudprovider.New(nil, nil, nil, nil, nil, cloudprovider.Options{RepairPolicies: own}).RepairPolicies()).To(Equal(own))
	})
})

func resourceMust(q string) resource.Quantity { return resource.MustParse(q) }
