package garbagecollection_test

import (
	"context"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/awslabs/operatorpkg/status"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/controllers/garbagecollection"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instance"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
	"github.com/azkarpenter/azkarpenter/pkg/test/environment"
)

var (
	ctx context.Context
	env *environment.Environment
)

func TestGarbageCollection(t *testing.T) {
	environment.RunSuite(t, "GarbageCollection")
}

var _ = BeforeSuite(func() {
	ctx = context.Background()
	env = environment.New(ctx)
})

var _ = BeforeEach(func() { env.Reset(ctx) })

var _ = AfterSuite(func() { env.Stop() })

func launch(nc *v1beta1.AKSNodeClass, name string, store bool) *instance.Instance {
	claim := &karpv1.NodeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{karpv1.NodePoolLabelKey: "default"}},
		Spec: karpv1.NodeClaimSpec{
			NodeClassRef: &karpv1.NodeClassReference{Group: "karpenter.azure.com", Kind: "AKSNodeClass", Name: nc.Name},
			Requirements: []karpv1.NodeSelectorRequirementWithMinValues{{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"Standard_D2s_v5"}}},
		},
	}
	if store {
		Expect(env.Client.Create(ctx, claim)).To(Succeed())
	}
	its, err := env.Providers.InstanceTypes.List(ctx, nc)
	Expect(err).NotTo(HaveOccurred())
	inst, err := env.Providers.Instances.Create(ctx, nc, claim, lo.Filter(its, func(it *cloudprovider.InstanceType, _ int) bool { return it.Name == "Standard_D2s_v5" }))
	Expect(err).NotTo(HaveOccurred())
	return inst
}

var _ = Describe("garbage collection", func() {
	It("deletes VMs and NICs no NodeClaim claims, after the grace period only", func() {
		nc := &v1beta1.AKSNodeClass{}
		nc.Name = "default"
		Expect(env.Client.Create(ctx, nc)).To(Succeed())
		nc.StatusConditions().SetTrue(status.ConditionReady)

		claimed := launch(nc, "claimed", true)
		leaked := launch(nc, "leaked", false)
		// A NIC left by a VM creation that failed after the NIC PUT.
		nicPoller, err := env.Providers.Clients.Network.NewInterfacesClient().BeginCreateOrUpdate(ctx, testutil.ResourceGroup, "leaked-nic", armnetwork.Interface{
			Location: to.Ptr(testutil.Region),
			Tags: map[string]*string{
				instance.TagCluster:           to.Ptr(testutil.ClusterName),
				instance.TagNodeClaim:         to.Ptr("never-created"),
				instance.TagCreationTimestamp: to.Ptr(time.Now().UTC().Format(time.RFC3339)),
			},
			Properties: &armnetwork.InterfacePropertiesFormat{IPConfigurations: []*armnetwork.InterfaceIPConfiguration{{
				Name:       to.Ptr("ipconfig1"),
				Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{Subnet: &armnetwork.Subnet{ID: to.Ptr(testutil.SubnetID)}, Primary: to.Ptr(true)},
			}}},
		}, nil)
		Expect(err).NotTo(HaveOccurred())
		_, err = nicPoller.PollUntilDone(ctx, nil)
		Expect(err).NotTo(HaveOccurred())

		names := func() ([]string, []string) {
			vms, err := env.Providers.Instances.List(ctx)
			Expect(err).NotTo(HaveOccurred())
			nics, err := env.Providers.Instances.ListNICs(ctx)
			Expect(err).NotTo(HaveOccurred())
			return lo.Map(vms, func(v *instance.Instance, _ int) string { return v.Name }), lo.Map(nics, func(n *instance.NIC, _ int) string { return n.Name })
		}
		Eventually(func(g Gomega) {
			vms, nics := names()
			g.Expect(vms).To(ContainElements(claimed.Name, leaked.Name))
			g.Expect(nics).To(ContainElement("leaked-nic"))
		}).WithTimeout(10 * time.Second).Should(Succeed())

		// The first sweep runs, as far as the controller can tell, the
		// moment the leaked VM was created.
		clk := clocktesting.NewFakeClock(lo.Ternary(leaked.CreationTime.IsZero(), time.Now(), leaked.CreationTime))
		gc := garbagecollection.NewController(env.Client, env.Providers.Instances, clk)
		_, err = gc.Reconcile(ctx)
		Expect(err).NotTo(HaveOccurred())
		vms, nics := names()
		Expect(vms).To(ContainElement(leaked.Name), "young resources are kept")
		Expect(nics).To(ContainElement("leaked-nic"))

		clk.Step(garbagecollection.GracePeriod + time.Minute)
		_, err = gc.Reconcile(ctx)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			vms, nics := names()
			g.Expect(vms).To(ContainElement(claimed.Name), "a claimed VM is never collected")
			g.Expect(vms).NotTo(ContainElement(leaked.Name))
			g.Expect(nics).NotTo(ContainElement("leaked-nic"))
			g.Expect(nics).NotTo(ContainElement(ContainSubstring("leaked")), "the leaked VM's NIC goes with it")
		}).WithTimeout(20 * time.Second).Should(Succeed())
	})

	// Issue 12: a create that outlives core's launch timeout loses its
	// NodeClaim, which has no providerID, so core never calls Delete.
	It("deletes a VM whose NodeClaim is gone well before the grace period of an unknown VM", func() {
		nc := &v1beta1.AKSNodeClass{}
		nc.Name = "claim-gone"
		Expect(env.Client.Create(ctx, nc)).To(Succeed())
		orphan := launch(nc, "deleted-claim", true)
		keep := launch(nc, "live-claim", true)
		Expect(env.Client.Delete(ctx, &karpv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{Name: "deleted-claim"}})).To(Succeed())
		Eventually(func(g Gomega) {
			vms, err := env.Providers.Instances.List(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(lo.Map(vms, func(v *instance.Instance, _ int) string { return v.Name })).To(ContainElements(orphan.Name, keep.Name))
		}).WithTimeout(10 * time.Second).Should(Succeed())

		clk := clocktesting.NewFakeClock(time.Now().Add(time.Minute))
		gc := garbagecollection.NewController(env.Client, env.Providers.Instances, clk)
		Eventually(func(g Gomega) {
			_, err := gc.Reconcile(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			vms, err := env.Providers.Instances.List(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			names := lo.Map(vms, func(v *instance.Instance, _ int) string { return v.Name })
			g.Expect(names).To(ContainElement(keep.Name))
			g.Expect(names).NotTo(ContainElement(orphan.Name))
		}).WithTimeout(20 * time.Second).Should(Succeed())
	})
})
