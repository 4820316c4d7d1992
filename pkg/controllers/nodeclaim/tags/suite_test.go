package tags_test

import (
	"context"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/controllers/nodeclaim/tags"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instance"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
	"github.com/azkarpenter/azkarpenter/pkg/test/environment"
)

var (
	ctx context.Context
	env *environment.Environment
)

func TestTags(t *testing.T) {
	environment.RunSuite(t, "In-place tag updates")
}

var _ = BeforeSuite(func() {
	ctx = context.Background()
	env = environment.New(ctx)
})

var _ = BeforeEach(func() { env.Reset(ctx) })

var _ = AfterSuite(func() { env.Stop() })

var _ = Describe("in-place tag updates", func() {
	It("applies changed AKSNodeClass tags to running VMs and NICs without replacing them", func() {
		nc := &v1beta1.AKSNodeClass{ObjectMeta: metav1.ObjectMeta{Name: "tagged"}, Spec: v1beta1.AKSNodeClassSpec{Tags: map[string]string{"team": "a", "cost-center": "42"}}}
		Expect(env.Client.Create(ctx, nc)).To(Succeed())
		claim := &karpv1.NodeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: "tagged-1", Labels: map[string]string{karpv1.NodePoolLabelKey: "default", "karpenter.azure.com/aksnodeclass": nc.Name}},
			Spec: karpv1.NodeClaimSpec{
				NodeClassRef: &karpv1.NodeClassReference{Group: "karpenter.azure.com", Kind: "AKSNodeClass", Name: nc.Name},
				Requirements: []karpv1.NodeSelectorRequirementWithMinValues{{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"Standard_D2s_v5"}}},
			},
		}
		Expect(env.Client.Create(ctx, claim)).To(Succeed())
		its, err := env.Providers.InstanceTypes.List(ctx, nc)
		Expect(err).NotTo(HaveOccurred())
		inst, err := env.Providers.Instances.Create(ctx, nc, claim, lo.Filter(its, func(it *cloudprovider.InstanceType, _ int) bool { return it.Name == "Standard_D2s_v5" }))
		Expect(err).NotTo(HaveOccurred())
		claim.Status.ProviderID = inst.ProviderID
		Expect(env.Client.Status().Update(ctx, claim)).To(Succeed())
		claim.Annotations = map[string]string{v1beta1.AnnotationInPlaceUpdateHash: nc.InPlaceUpdateHash()}
		Expect(env.Client.Update(ctx, claim)).To(Succeed())

		controller := tags.NewController(env.Client, env.Providers.Instances)
		vmTags := func() (map[string]*string, map[string]*string) {
			vm, err := env.Providers.Clients.Compute.NewVirtualMachinesClient().Get(ctx, testutil.ResourceGroup, inst.Name, nil)
			Expect(err).NotTo(HaveOccurred())
			nic, err := env.Providers.Clients.Network.NewInterfacesClient().Get(ctx, testutil.ResourceGroup, instance.NICName(inst.Name), nil)
			Expect(err).NotTo(HaveOccurred())
			return vm.Tags, nic.Tags
		}
		before, _ := vmTags()
		Expect(before).To(HaveKeyWithValue("team", to.Ptr("a")))

		// Unchanged tags: nothing to do.
		_, err = controller.Reconcile(ctx, claim)
		Expect(err).NotTo(HaveOccurred())

		nc.Spec.Tags = map[string]string{"team": "b", "env": "prod"}
		Expect(env.Client.Update(ctx, nc)).To(Succeed())
		_, err = controller.Reconcile(ctx, claim)
		Expect(err).NotTo(HaveOccurred())
		vm, nic := vmTags()
		for _, got := range []map[string]*string{vm, nic} {
			Expect(got).To(HaveKeyWithValue("team", to.Ptr("b")))
			Expect(got).To(HaveKeyWithValue("env", to.Ptr("prod")))
			Expect(got).NotTo(HaveKey("cost-center"), "a tag the class dropped goes")
			Expect(got).To(HaveKeyWithValue(instance.TagNodeClaim, to.Ptr(claim.Name)), "ownership tags stay")
			Expect(got).To(HaveKeyWithValue(instance.TagCreationTimestamp, before[instance.TagCreationTimestamp]))
		}
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(claim), claim)).To(Succeed())
		Expect(claim.Annotations).To(HaveKeyWithValue(v1beta1.AnnotationInPlaceUpdateHash, nc.InPlaceUpdateHash()))
		same, err := env.Providers.Instances.Get(ctx, inst.Name)
		Expect(err).NotTo(HaveOccurred())
		Expect(same.CreationTime).To(BeTemporally("~", inst.CreationTime, time.Second), "the VM was updated, not replaced")
	})
})
