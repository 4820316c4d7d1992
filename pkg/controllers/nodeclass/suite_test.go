package nodeclass_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/awslabs/operatorpkg/status"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	corecloudprovider "sigs.k8s.io/karpenter/pkg/cloudprovider"
	coretest "sigs.k8s.io/karpenter/pkg/test"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/controllers/nodeclass"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	"github.com/azkarpenter/azkarpenter/pkg/providers/network"
	"github.com/azkarpenter/azkarpenter/pkg/providers/refusals"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
	"github.com/azkarpenter/azkarpenter/pkg/test/environment"
)

var (
	ctx        context.Context
	env        *environment.Environment
	controller *nodeclass.StatusController
	inputs     *cluster.DefaultProvider
	clients    *azure.Clients
)

func TestNodeClassStatus(t *testing.T) {
	environment.RunSuite(t, "NodeClass status")
}

// The cluster inputs come from the envtest API server, as the controller's
// do from its cluster: its version, its CA, a bootstrap token Secret and the
// kube-dns Service.
var _ = BeforeSuite(func() {
	ctx = context.Background()
	env = environment.New(ctx, environment.WithClusterInputs(func(kube *coretest.Environment) cluster.Provider {
		discovery := kubernetes.NewForConfigOrDie(kube.Config).Discovery()
		return cluster.NewDefaultProvider(cluster.Options{ClusterEndpoint: "https://test-cluster.hcp.eastus.azmk8s.io", RESTConfig: kube.Config,
			NetworkPlugin: "azure", NetworkPluginMode: "overlay", NetworkDataplane: "azure",
			TenantID: "00000000-0000-0000-0000-0000000000aa",
			// What the network provider finds in an AKS node resource group.
			NetworkResources: func(ctx context.Context) (cluster.NetworkResources, error) {
				in, err := testutil.ClusterInputs().Inputs(ctx)
				return in.NetworkResources, err
			}},
			kube.Client, discovery.ServerVersion, clock.RealClock{})
	}))
	Expect(env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}})).To(Or(Succeed(), MatchError(ContainSubstring("already exists"))))
})

var _ = BeforeEach(func() {
	env.Reset(ctx)
	// A spec may have deleted or replaced them: every spec starts with both.
	for _, o := range bootstrapObjects() {
		Expect(client.IgnoreNotFound(env.Client.Delete(ctx, o))).To(Succeed())
		Eventually(func() error { return env.Client.Create(ctx, o) }).Should(Succeed())
	}
	inputs = env.Cluster.(*cluster.DefaultProvider)
	opts := env.ControllerOptions()
	controller = nodeclass.NewStatusController(env.Client, env.Providers.Images, env.Providers.InstanceTypes, env.Providers.Subnets, inputs, testutil.SubnetID).
		WithSubnetMarks(env.Providers.SubnetMarks).WithRefusals(env.Providers.Refusals).WithHostGroups(env.Providers.HostGroups, testutil.Region).
		WithNetwork(env.Providers.Network, opts.NetworkSetup(), opts.DefaultMaxPods())
	if clients == nil {
		var err error
		clients, err = azure.NewClients(env.Azure, testutil.SubscriptionID)
		Expect(err).NotTo(HaveOccurred())
	}
})

var _ = AfterSuite(func() { env.Stop() })

// bootstrapObjects are the bootstrap token Secret and the kube-dns Service
// nodes need.
func bootstrapObjects() []client.Object {
	return []client.Object{
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "bootstrap-token-abcdef"},
			Type:       "bootstrap.kubernetes.io/token",
			StringData: map[string]string{"token-id": "abcdef", "token-secret": "0123456789abcdef", "usage-bootstrap-authentication": "true"},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-dns"},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 53}}},
		},
	}
}

// controllerFor is the status controller of a cluster of another network
// setup, on the same simulated Azure.
func controllerFor(setup cluster.NetworkSetup) *nodeclass.StatusController {
	return controllerWith(network.Options{SubscriptionID: testutil.SubscriptionID, NodeResourceGroup: testutil.ResourceGroup, Setup: setup})
}

// controllerWith is controllerFor with the network options given.
func controllerWith(opts network.Options) *nodeclass.StatusController {
	setup := opts.Setup
	clients, err := azure.NewClients(env.Azure, testutil.SubscriptionID)
	Expect(err).NotTo(HaveOccurred())
	net := network.NewDefaultProviderFromClients(opts, clients.Network)
	return nodeclass.NewStatusController(env.Client, env.Providers.Images, env.Providers.InstanceTypes, env.Providers.Subnets, inputs, testutil.SubnetID).
		WithNetwork(net, setup, network.DefaultMaxPods(setup))
}

func reconciledBy(c *nodeclass.StatusController, spec v1beta1.AKSNodeClassSpec) *v1beta1.AKSNodeClass {
	nc := &v1beta1.AKSNodeClass{Spec: spec}
	nc.GenerateName = "nc-"
	Expect(env.Client.Create(ctx, nc)).To(Succeed())
	_, err := c.Reconcile(ctx, nc)
	Expect(err).NotTo(HaveOccurred())
	Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
	return nc
}

func reconciled(spec v1beta1.AKSNodeClassSpec) *v1beta1.AKSNodeClass {
	nc := &v1beta1.AKSNodeClass{Spec: spec}
	nc.GenerateName = "nc-"
	Expect(env.Client.Create(ctx, nc)).To(Succeed())
	_, err := controller.Reconcile(ctx, nc)
	Expect(err).NotTo(HaveOccurred())
	Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
	return nc
}

var _ = Describe("AKSNodeClass status", func() {
	It("is Ready with images, the Kubernetes version and a usable subnet", func() {
		nc := reconciled(v1beta1.AKSNodeClassSpec{})
		Expect(nc.StatusConditions().Get(status.ConditionReady).IsTrue()).To(BeTrue(), "%v", nc.Status.Conditions)
		Expect(nc.Status.Images).NotTo(BeEmpty())
		Expect(nc.Status.KubernetesVersion).To(Equal(lo.ToPtr("1.35.4")), "as AKS node auto-provisioning reports it")
		Expect(nc.Finalizers).To(ContainElement(v1beta1.TerminationFinalizer))
		Expect(nc.StatusConditions().Get(v1beta1.ConditionTypeBootstrapReady).IsTrue()).To(BeTrue())
	})

	It("is not Ready, naming the input, while nodes could not join: no bootstrap token, then no kube-dns", func() {
		token := bootstrapObjects()[0].(*corev1.Secret)
		Expect(env.Client.Delete(ctx, token)).To(Succeed())
		Expect(inputs.Refresh(ctx)).To(Succeed())
		nc := reconciled(v1beta1.AKSNodeClassSpec{})
		cond := nc.StatusConditions().Get(v1beta1.ConditionTypeBootstrapReady)
		Expect(cond.IsFalse()).To(BeTrue())
		Expect(cond.Reason).To(Equal("BootstrapTokenNotFound"))
		Expect(cond.Message).To(ContainSubstring("bootstrap token"))
		Expect(nc.StatusConditions().Get(status.ConditionReady).IsFalse()).To(BeTrue())

		// A token of the wrong form is named as such; the secret never is.
		bad := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "bootstrap-token-abcdef"},
			Type:       "bootstrap.kubernetes.io/token",
			StringData: map[string]string{"token-id": "abcdef", "token-secret": "TOO-SHORT", "usage-bootstrap-authentication": "true"},
		}
		Expect(env.Client.Create(ctx, bad)).To(Succeed())
		Expect(inputs.Refresh(ctx)).To(Succeed())
		nc = reconciled(v1beta1.AKSNodeClassSpec{})
		cond = nc.StatusConditions().Get(v1beta1.ConditionTypeBootstrapReady)
		Expect(cond.Reason).To(Equal("BootstrapTokenInvalid"))
		Expect(cond.Message).NotTo(ContainSubstring("TOO-SHORT"))

		Expect(env.Client.Delete(ctx, bad)).To(Succeed())
		token.ResourceVersion = ""
		Expect(env.Client.Create(ctx, token)).To(Succeed())
		dns := bootstrapObjects()[1].(*corev1.Service)
		Expect(env.Client.Delete(ctx, dns)).To(Succeed())
		Expect(inputs.Refresh(ctx)).To(Succeed())
		nc = reconciled(v1beta1.AKSNodeClassSpec{})
		cond = nc.StatusConditions().Get(v1beta1.ConditionTypeBootstrapReady)
		Expect(cond.Reason).To(Equal("ClusterDNSNotFound"))
		Expect(cond.Message).To(ContainSubstring("kube-system/kube-dns"))

		dns.ResourceVersion = ""
		dns.Spec.ClusterIP, dns.Spec.ClusterIPs = "", nil
		Expect(env.Client.Create(ctx, dns)).To(Succeed())
		Expect(inputs.Refresh(ctx)).To(Succeed())
		nc = reconciled(v1beta1.AKSNodeClassSpec{})
		Expect(nc.StatusConditions().Get(status.ConditionReady).IsTrue()).To(BeTrue(), "%v", nc.Status.Conditions)
	})

	// Issue 21: what Windows nodes need beyond Linux ones, and a pinned node
	// image below the floor, keep the NodeClass not Ready with a reason
	// that names it.
	It("is not Ready for Windows without the cluster's address ranges, naming the flags", func() {
		nc := reconciled(v1beta1.AKSNodeClassSpec{ImageFamily: lo.ToPtr(v1beta1.ImageFamilyWindows2022)})
		cond := nc.StatusConditions().Get(v1beta1.ConditionTypeBootstrapReady)
		Expect(cond.IsFalse()).To(BeTrue(), "%v", nc.Status.Conditions)
		Expect(cond.Reason).To(Equal("WindowsNetworkRangesUnknown"))
		Expect(cond.Message).To(ContainSubstring("--service-cidr, --pod-cidr, --vnet-cidr"))
		linux := reconciled(v1beta1.AKSNodeClassSpec{})
		Expect(linux.StatusConditions().Get(v1beta1.ConditionTypeBootstrapReady).IsTrue()).To(BeTrue(), "Linux nodes do not need them")
	})

	It("is not Ready with a pinned node image below the floor, naming the floor", func() {
		opts := env.ControllerOptions()
		opts.NodeImageVersion = "202511.07.0"
		pinned := env.NewProviders(ctx, opts)
		for _, def := range []string{"2404gen2containerd", "2404containerd", "2404gen2arm64containerd"} {
			// Published when AKS published it: older than every seeded version.
			Expect(env.Sim.PublishImageVersion(imagefamily.GalleryUbuntu, def, "202511.07.0", azuresim.ImageVersionSpec{PublishedDate: lo.ToPtr(time.Date(2025, 11, 10, 0, 0, 0, 0, time.UTC))})).To(Succeed())
		}
		c := nodeclass.NewStatusController(env.Client, pinned.Images, pinned.InstanceTypes, pinned.Subnets, inputs, testutil.SubnetID)
		nc := &v1beta1.AKSNodeClass{Spec: v1beta1.AKSNodeClassSpec{ImageFamily: lo.ToPtr(v1beta1.ImageFamilyUbuntu2404)}}
		nc.GenerateName = "nc-"
		Expect(env.Client.Create(ctx, nc)).To(Succeed())
		_, err := c.Reconcile(ctx, nc)
		Expect(err).NotTo(HaveOccurred())
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
		cond := nc.StatusConditions().Get(v1beta1.ConditionTypeImagesReady)
		Expect(cond.IsFalse()).To(BeTrue(), "%v", nc.Status.Conditions)
		Expect(cond.Reason).To(Equal(imagefamily.ReasonImageBelowFloor))
		Expect(cond.Message).To(ContainSubstring("older than the node-image floor 202511.12.0"))
		Expect(nc.StatusConditions().Get(status.ConditionReady).IsFalse()).To(BeTrue())
	})

	It("reports the subnet as SubnetsReady, as NAP names it, and drops the SubnetReady of earlier versions", func() {
		nc := reconciled(v1beta1.AKSNodeClassSpec{})
		nc.Status.Conditions = append(nc.Status.Conditions, status.Condition{Type: v1beta1.ConditionTypeSubnetReadyV0, Status: metav1.ConditionTrue,
			Reason: v1beta1.ConditionTypeSubnetReadyV0, LastTransitionTime: metav1.Now(), ObservedGeneration: nc.Generation})
		Expect(env.Client.Status().Update(ctx, nc)).To(Succeed())
		_, err := controller.Reconcile(ctx, nc)
		Expect(err).NotTo(HaveOccurred())
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
		Expect(nc.StatusConditions().Get(v1beta1.ConditionTypeSubnetsReady).IsTrue()).To(BeTrue())
		Expect(nc.StatusConditions().Get(v1beta1.ConditionTypeSubnetReadyV0)).To(BeNil())
	})

	It("resolves localDNS.mode into status.localDNSState", func() {
		zone := func(name, dest string) v1beta1.LocalDNSZoneOverride {
			return v1beta1.LocalDNSZoneOverride{Zone: name, QueryLogging: "Error", Protocol: "PreferUDP", ForwardDestination: v1beta1.LocalDNSForwardDestination(dest),
				ForwardPolicy: "Sequential", MaxConcurrent: lo.ToPtr[int32](100), CacheDuration: karpv1.MustParseNillableDuration("1h"),
				ServeStaleDuration: karpv1.MustParseNillableDuration("30m"), ServeStale: "Verify"}
		}
		spec := func(mode v1beta1.LocalDNSMode) v1beta1.AKSNodeClassSpec {
			return v1beta1.AKSNodeClassSpec{LocalDNS: &v1beta1.LocalDNS{Mode: mode,
				VNetDNSOverrides: []v1beta1.LocalDNSZoneOverride{zone(".", "VnetDNS"), zone("cluster.local", "ClusterCoreDNS")},
				KubeDNSOverrides: []v1beta1.LocalDNSZoneOverride{zone(".", "ClusterCoreDNS"), zone("cluster.local", "ClusterCoreDNS")}}}
		}
		for mode, want := range map[v1beta1.LocalDNSMode]v1beta1.LocalDNSState{
			v1beta1.LocalDNSModeRequired: v1beta1.LocalDNSStateEnabled,
			v1beta1.LocalDNSModeDisabled: v1beta1.LocalDNSStateDisabled,
			// This cluster runs Kubernetes 1.35: Preferred waits for 1.36.
			v1beta1.LocalDNSModePreferred: v1beta1.LocalDNSStateDisabled,
		} {
			nc := reconciled(spec(mode))
			Expect(nc.Status.LocalDNSState).To(Equal(lo.ToPtr(want)), "mode %s", mode)
			Expect(nc.StatusConditions().Get(v1beta1.ConditionTypeLocalDNSReady).IsTrue()).To(BeTrue())
		}
		Expect(reconciled(v1beta1.AKSNodeClassSpec{}).Status.LocalDNSState).To(Equal(lo.ToPtr(v1beta1.LocalDNSStateDisabled)))
	})

	It("is not Ready when an image definition it needs is missing, naming it", func() {
		// Azure Linux's Trusted Launch definition is used by no other spec.
		Expect(env.Sim.DeleteGalleryImage(imagefamily.GalleryAzureLinux, "V3gen2TL")).To(Succeed())
		nc := reconciled(v1beta1.AKSNodeClassSpec{ImageFamily: lo.ToPtr(v1beta1.ImageFamilyAzureLinux),
			Security: &v1beta1.Security{TrustedLaunch: &v1beta1.TrustedLaunch{SecureBoot: lo.ToPtr(true)}}})
		cond := nc.StatusConditions().Get(v1beta1.ConditionTypeImagesReady)
		Expect(cond.IsFalse()).To(BeTrue())
		Expect(cond.Reason).To(Equal(imagefamily.ReasonImageDefinitionNotFound))
		Expect(cond.Message).To(ContainSubstring("image definition V3gen2TL does not exist in community gallery " + imagefamily.GalleryAzureLinux))
		Expect(nc.Status.Images).To(BeEmpty())
		Expect(nc.StatusConditions().Get(status.ConditionReady).IsFalse()).To(BeTrue())
	})

	DescribeTable("is not Ready, saying what to change, for images AKS does not publish",
		func(spec v1beta1.AKSNodeClassSpec, reason, words string) {
			nc := reconciled(spec)
			cond := nc.StatusConditions().Get(v1beta1.ConditionTypeImagesReady)
			Expect(cond.IsFalse()).To(BeTrue(), "%v", nc.Status.Conditions)
			Expect(cond.Reason).To(Equal(reason))
			Expect(cond.Message).To(ContainSubstring(words))
			Expect(nc.StatusConditions().Get(status.ConditionReady).IsFalse()).To(BeTrue())
		},
		Entry("FIPS (AKS publishes FIPS images only in its own galleries)",
			v1beta1.AKSNodeClassSpec{ImageFamily: lo.ToPtr(v1beta1.ImageFamilyAzureLinux), FIPSMode: lo.ToPtr(v1beta1.FIPSModeFIPS)},
			imagefamily.ReasonFIPSNotPublished, "remove fipsMode"),
		Entry("Trusted Launch on Windows",
			v1beta1.AKSNodeClassSpec{ImageFamily: lo.ToPtr(v1beta1.ImageFamilyWindows2022), Security: &v1beta1.Security{TrustedLaunch: &v1beta1.TrustedLaunch{VTPM: lo.ToPtr(true)}}},
			imagefamily.ReasonNoTrustedLaunchImage, "use a Linux imageFamily"),
	)

	It("says, before any VM, that a spot price cap below every listed spot price launches no spot node", func() {
		nc := reconciled(v1beta1.AKSNodeClassSpec{Spot: &v1beta1.SpotConfiguration{MaxPrice: lo.ToPtr("0.00001")}})
		cond := nc.StatusConditions().Get(v1beta1.ConditionTypeSpotOfferingsAvailable)
		Expect(cond.IsFalse()).To(BeTrue(), "%v", nc.Status.Conditions)
		Expect(cond.Reason).To(Equal("SpotMaxPriceBelowSpotPrices"))
		Expect(cond.Message).To(ContainSubstring("spot.maxPrice 0.00001 USD/hour is below the spot price of every VM size"))
		Expect(cond.Message).To(ContainSubstring("raise spot.maxPrice or set it to -1"))
		// On-demand NodePools still launch from it.
		Expect(nc.StatusConditions().Get(status.ConditionReady).IsTrue()).To(BeTrue(), "%v", nc.Status.Conditions)

		for _, cap := range []string{"-1", "5"} {
			nc := reconciled(v1beta1.AKSNodeClassSpec{Spot: &v1beta1.SpotConfiguration{MaxPrice: lo.ToPtr(cap)}})
			Expect(nc.StatusConditions().Get(v1beta1.ConditionTypeSpotOfferingsAvailable).IsTrue()).To(BeTrue(), "cap %s: %v", cap, nc.Status.Conditions)
		}
	})

	It("shows what Azure refused for the NodeClass's settings until the NodeClass changes", func() {
		nc := reconciled(v1beta1.AKSNodeClassSpec{ImageFamily: lo.ToPtr(v1beta1.ImageFamilyUbuntu2204)})
		Expect(nc.StatusConditions().Get(status.ConditionReady).IsTrue()).To(BeTrue(), "%v", nc.Status.Conditions)
		env.Providers.Refusals.Refuse(nc.Name, refusals.Refusal{ConditionType: v1beta1.ConditionTypeImagesReady, Reason: imagefamily.ReasonImageRefused,
			Message: "Azure refused to create a VM from image x: BadRequest: Use of TrustedLaunch setting is not supported for the provided image.", Generation: nc.Generation})
		_, err := controller.Reconcile(ctx, nc)
		Expect(err).NotTo(HaveOccurred())
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
		cond := nc.StatusConditions().Get(v1beta1.ConditionTypeImagesReady)
		Expect(cond.IsFalse()).To(BeTrue())
		Expect(cond.Reason).To(Equal(imagefamily.ReasonImageRefused))
		Expect(cond.Message).To(ContainSubstring("Use of TrustedLaunch setting is not supported"))
		Expect(nc.StatusConditions().Get(status.ConditionReady).IsFalse()).To(BeTrue())

		// The user changes the NodeClass: the refusal was about the old spec.
		nc.Spec.ImageFamily = lo.ToPtr(v1beta1.ImageFamilyUbuntu2404)
		Expect(env.Client.Update(ctx, nc)).To(Succeed())
		_, err = controller.Reconcile(ctx, nc)
		Expect(err).NotTo(HaveOccurred())
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
		Expect(nc.StatusConditions().Get(status.ConditionReady).IsTrue()).To(BeTrue(), "%v", nc.Status.Conditions)
	})

	It("lists the newest image version, and the next one once the images are refreshed", func() {
		// Windows Server 2025 has a single image.
		nc := reconciled(v1beta1.AKSNodeClassSpec{ImageFamily: lo.ToPtr(v1beta1.ImageFamilyWindows2025)})
		Expect(nc.StatusConditions().Get(v1beta1.ConditionTypeImagesReady).IsTrue()).To(BeTrue(), "%v", nc.Status.Conditions)
		Expect(nc.Status.Images).To(HaveLen(1))
		Expect(nc.Status.Images[0].ID).To(Equal(imagefamily.ImageID(imagefamily.GalleryWindows, "windows-2025-gen2", "26100.7171.261112")))

		Expect(env.Sim.PublishImageVersion(imagefamily.GalleryWindows, "windows-2025-gen2", "26100.7262.261126", azuresim.ImageVersionSpec{})).To(Succeed())
		Expect(env.Providers.Images.Refresh(ctx)).To(Succeed())
		_, err := controller.Reconcile(ctx, nc)
		Expect(err).NotTo(HaveOccurred())
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
		Expect(nc.Status.Images[0].ID).To(Equal(imagefamily.ImageID(imagefamily.GalleryWindows, "windows-2025-gen2", "26100.7262.261126")))
	})

	It("is not Ready when its subnet does not exist", func() {
		missing := "/subscriptions/" + testutil.SubscriptionID + "/resourceGroups/" + testutil.ResourceGroup + "/providers/Microsoft.Network/virtualNetworks/vnet/subnets/missing"
		nc := reconciled(v1beta1.AKSNodeClassSpec{VNETSubnetID: lo.ToPtr(missing)})
		cond := nc.StatusConditions().Get(v1beta1.ConditionTypeSubnetsReady)
		Expect(cond.IsFalse()).To(BeTrue())
		Expect(cond.Reason).To(Equal("SubnetNotFound"))
		Expect(nc.StatusConditions().Get(status.ConditionReady).IsFalse()).To(BeTrue())
	})

	It("is not Ready when no VM size can serve it, and says how to find out why", func() {
		// No confidential VM size supports encryption at host.
		nc := reconciled(v1beta1.AKSNodeClassSpec{Security: &v1beta1.Security{ConfidentialVM: lo.ToPtr(true), EncryptionAtHost: lo.ToPtr(true)}})
		cond := nc.StatusConditions().Get(v1beta1.ConditionTypeValidationSucceeded)
		Expect(cond.IsFalse()).To(BeTrue())
		Expect(cond.Reason).To(Equal("NoInstanceTypes"))
		Expect(cond.Message).To(ContainSubstring("azkarpenter explain"))
	})

	Describe("on a dedicated host group", func() {
		// createHostGroup creates a host group in zone 1 through ARM, with a
		// host of each SKU given.
		createHostGroup := func(name string, automatic bool, hostSKUs ...string) string {
			g, err := clients.Compute.NewDedicatedHostGroupsClient().CreateOrUpdate(ctx, testutil.ResourceGroup, name, armcompute.DedicatedHostGroup{
				Location: lo.ToPtr(testutil.Region), Zones: []*string{lo.ToPtr("1")},
				Properties: &armcompute.DedicatedHostGroupProperties{PlatformFaultDomainCount: lo.ToPtr[int32](1), SupportAutomaticPlacement: lo.ToPtr(automatic)},
			}, nil)
			Expect(err).NotTo(HaveOccurred())
			for i, sku := range hostSKUs {
				poller, err := clients.Compute.NewDedicatedHostsClient().BeginCreateOrUpdate(ctx, testutil.ResourceGroup, name, fmt.Sprintf("host-%d", i), armcompute.DedicatedHost{
					Location: lo.ToPtr(testutil.Region), SKU: &armcompute.SKU{Name: lo.ToPtr(sku)},
					Properties: &armcompute.DedicatedHostProperties{PlatformFaultDomain: lo.ToPtr[int32](0)},
				}, nil)
				Expect(err).NotTo(HaveOccurred())
				_, err = poller.PollUntilDone(ctx, nil)
				Expect(err).NotTo(HaveOccurred())
			}
			return *g.ID
		}
		validation := func(spec v1beta1.AKSNodeClassSpec) *status.Condition {
			nc := reconciled(spec)
			return nc.StatusConditions().Get(v1beta1.ConditionTypeValidationSucceeded)
		}

		It("is Ready on a group whose hosts have room, with only their series, on demand, in the group's zone", func() {
			id := createHostGroup("hg-ready", true, "DSv3-Type3")
			nc := reconciled(v1beta1.AKSNodeClassSpec{DedicatedHostGroupID: lo.ToPtr(id)})
			Expect(nc.StatusConditions().Get(status.ConditionReady).IsTrue()).To(BeTrue(), "%v", nc.Status.Conditions)
			its, err := env.Providers.InstanceTypes.List(ctx, nc)
			Expect(err).NotTo(HaveOccurred())
			Expect(its).NotTo(BeEmpty())
			for _, it := range its {
				Expect(it.Name).To(MatchRegexp(`^Standard_D\d+s_v3$`))
				for _, o := range it.Offerings {
					Expect(o.CapacityType()).To(Equal(karpv1.CapacityTypeOnDemand))
					Expect(o.Zone()).To(Equal(testutil.Region + "-1"))
				}
			}
		})

		It("is not Ready, naming the group, when it does not exist, has no hosts, or does not place VMs", func() {
			missing := "/subscriptions/" + testutil.SubscriptionID + "/resourceGroups/" + testutil.ResourceGroup + "/providers/Microsoft.Compute/hostGroups/missing"
			cond := validation(v1beta1.AKSNodeClassSpec{DedicatedHostGroupID: lo.ToPtr(missing)})
			Expect(cond.IsFalse()).To(BeTrue())
			Expect(cond.Reason).To(Equal("DedicatedHostGroupNotFound"))
			Expect(cond.Message).To(ContainSubstring(missing))

			empty := createHostGroup("hg-empty", true)
			cond = validation(v1beta1.AKSNodeClassSpec{DedicatedHostGroupID: lo.ToPtr(empty)})
			Expect(cond.Reason).To(Equal("DedicatedHostGroupHasNoHosts"))

			manual := createHostGroup("hg-manual", false, "DSv3-Type3")
			cond = validation(v1beta1.AKSNodeClassSpec{DedicatedHostGroupID: lo.ToPtr(manual)})
			Expect(cond.Reason).To(Equal("DedicatedHostGroupWithoutAutomaticPlacement"))
		})

		It("is not Ready when the rest of the NodeClass leaves no size its hosts run", func() {
			// No Dsv3 size has a cache or resource disk of 2 TiB for an
			// ephemeral OS disk; larger sizes of other series do.
			id := createHostGroup("hg-series", true, "DSv3-Type3")
			cond := validation(v1beta1.AKSNodeClassSpec{DedicatedHostGroupID: lo.ToPtr(id),
				OSDiskType: lo.ToPtr(v1beta1.OSDiskTypeEphemeral), OSDiskSizeGB: lo.ToPtr[int32](2048)})
			Expect(cond.IsFalse()).To(BeTrue())
			Expect(cond.Reason).To(Equal("NoInstanceTypesOnDedicatedHostGroup"))
			Expect(cond.Message).To(ContainSubstring(id))
		})
	})

	It("is NetworkReady on the default cluster, and not while a kubenet subnet has no route table, naming it", func() {
		nc := reconciled(v1beta1.AKSNodeClassSpec{})
		Expect(nc.StatusConditions().Get(v1beta1.ConditionTypeNetworkReady).IsTrue()).To(BeTrue(), "%v", nc.Status.Conditions)

		nc = reconciledBy(controllerFor(cluster.NetworkSetupKubenet), v1beta1.AKSNodeClassSpec{})
		cond := nc.StatusConditions().Get(v1beta1.ConditionTypeNetworkReady)
		Expect(cond.IsFalse()).To(BeTrue(), "%v", nc.Status.Conditions)
		Expect(cond.Reason).To(Equal("RouteTableNotAssociated"))
		Expect(cond.Message).To(ContainSubstring("subnet " + testutil.SubnetID + " is associated with none"))
		Expect(nc.StatusConditions().Get(status.ConditionReady).IsFalse()).To(BeTrue())
	})

	It("is not NetworkReady while the cluster's NSG, which every node's cloud configuration names, cannot be found", func() {
		clients, err := azure.NewClients(env.Azure, testutil.SubscriptionID)
		Expect(err).NotTo(HaveOccurred())
		// A subnet without an NSG, a node resource group without AKS's, and
		// NICs told to carry none: the NIC can be built, the node's
		// azure.json cannot.
		subnet, err := testutil.CreateVNet(ctx, clients, testutil.Region, "no-nsg-rg", "no-nsg-vnet", "10.30.0.0/16", "nodes", "10.30.0.0/24", "", "")
		Expect(err).NotTo(HaveOccurred())
		c := controllerWith(network.Options{SubscriptionID: testutil.SubscriptionID, NodeResourceGroup: "no-nsg-rg", Setup: cluster.NetworkSetupAzureCNIOverlay, SecurityGroupID: network.None})
		nc := reconciledBy(c, v1beta1.AKSNodeClassSpec{VNETSubnetID: lo.ToPtr(subnet)})
		cond := nc.StatusConditions().Get(v1beta1.ConditionTypeNetworkReady)
		Expect(cond.IsFalse()).To(BeTrue(), "%v", nc.Status.Conditions)
		Expect(cond.Reason).To(Equal("SecurityGroupNotFound"))
		Expect(cond.Message).To(ContainSubstring("set --network-security-group-id"))
		Expect(nc.StatusConditions().Get(status.ConditionReady).IsFalse()).To(BeTrue())
	})

	It("counts a subnet full when it cannot hold a node subnet node's max pods + 1 addresses", func() {
		clients, err := azure.NewClients(env.Azure, testutil.SubscriptionID)
		Expect(err).NotTo(HaveOccurred())
		// A /27: 27 usable addresses.
		poller, err := clients.Network.NewSubnetsClient().BeginCreateOrUpdate(ctx, testutil.ResourceGroup, "vnet", "small", armnetwork.Subnet{Properties: &armnetwork.SubnetPropertiesFormat{AddressPrefix: lo.ToPtr("10.0.128.0/27")}}, nil)
		Expect(err).NotTo(HaveOccurred())
		small, err := poller.PollUntilDone(ctx, nil)
		Expect(err).NotTo(HaveOccurred())
		nodeSubnet := controllerFor(cluster.NetworkSetupAzureCNINodeSubnet)
		nc := reconciledBy(nodeSubnet, v1beta1.AKSNodeClassSpec{VNETSubnetID: small.ID})
		cond := nc.StatusConditions().Get(v1beta1.ConditionTypeSubnetsReady)
		Expect(cond.IsFalse()).To(BeTrue(), "%v", nc.Status.Conditions)
		Expect(cond.Reason).To(Equal("SubnetFull"))
		Expect(cond.Message).To(ContainSubstring("has 27 free IP addresses and a node takes 31"))
		// At 10 pods a node takes 11: it fits. Overlay nodes take one.
		Expect(reconciledBy(nodeSubnet, v1beta1.AKSNodeClassSpec{VNETSubnetID: small.ID, MaxPods: lo.ToPtr[int32](10)}).
			StatusConditions().Get(v1beta1.ConditionTypeSubnetsReady).IsTrue()).To(BeTrue())
		Expect(reconciled(v1beta1.AKSNodeClassSpec{VNETSubnetID: small.ID}).StatusConditions().Get(v1beta1.ConditionTypeSubnetsReady).IsTrue()).To(BeTrue())
	})

	// Issue 12: a NIC refused with SubnetIsFull left the NodeClass Ready
	// until the next periodic check, and core kept creating NodeClaims.
	It("is not Ready as soon as Azure refuses a NIC with SubnetIsFull, and is told so at once", func() {
		nc := reconciled(v1beta1.AKSNodeClassSpec{})
		Expect(nc.StatusConditions().Get(status.ConditionReady).IsTrue()).To(BeTrue(), "%v", nc.Status.Conditions)
		Expect(env.Sim.UpdateConfig(func(c *azuresim.Config) {
			c.Errors = append(c.Errors, azuresim.ErrorRule{Operation: azuresim.OpPutNIC, Code: "SubnetIsFull", Count: 1})
		})).To(Succeed())
		its, err := env.Providers.InstanceTypes.List(ctx, nc)
		Expect(err).NotTo(HaveOccurred())
		claim := &karpv1.NodeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: "subnet-full", Labels: map[string]string{karpv1.NodePoolLabelKey: "default"}},
			Spec: karpv1.NodeClaimSpec{
				NodeClassRef: &karpv1.NodeClassReference{Group: "karpenter.azure.com", Kind: "AKSNodeClass", Name: nc.Name},
				Requirements: []karpv1.NodeSelectorRequirementWithMinValues{{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"Standard_D2s_v5"}}},
			},
		}
		_, err = env.Providers.Instances.Create(ctx, nc, claim, lo.Filter(its, func(it *corecloudprovider.InstanceType, _ int) bool { return it.Name == "Standard_D2s_v5" }))
		Expect(corecloudprovider.IsInsufficientCapacityError(err)).To(BeTrue(), "%v", err)
		Eventually(env.Providers.SubnetMarks.Events()).Should(Receive(), "the status controller is told at once")

		// The subnet's usage still shows free addresses; the refusal decides.
		nc = reconciled(v1beta1.AKSNodeClassSpec{})
		cond := nc.StatusConditions().Get(v1beta1.ConditionTypeSubnetsReady)
		Expect(cond.IsFalse()).To(BeTrue(), "%v", nc.Status.Conditions)
		Expect(cond.Reason).To(Equal("SubnetFull"))
		Expect(cond.Message).To(ContainSubstring(testutil.SubnetID))
		Expect(nc.StatusConditions().Get(status.ConditionReady).IsFalse()).To(BeTrue())
	})
})
