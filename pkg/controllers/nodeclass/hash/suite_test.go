package hash_test

import (
	"context"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	coretest "sigs.k8s.io/karpenter/pkg/test"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/controllers/nodeclass/hash"
	"github.com/azkarpenter/azkarpenter/pkg/controllers/nodeclass/termination"
	"github.com/azkarpenter/azkarpenter/pkg/test/environment"
)

var (
	ctx context.Context
	env *environment.Environment
)

func TestNodeClassLifecycle(t *testing.T) {
	environment.RunSuite(t, "AKSNodeClass hash and termination")
}

var _ = BeforeSuite(func() {
	ctx = context.Background()
	env = environment.New(ctx, environment.WithoutAzure())
})

var _ = BeforeEach(func() { env.Reset(ctx) })

var _ = AfterSuite(func() { env.Stop() })

func claimOf(nc *v1beta1.AKSNodeClass, name string, annotations map[string]string, drifted bool) *karpv1.NodeClaim {
	c := &karpv1.NodeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations, Labels: map[string]string{"karpenter.azure.com/aksnodeclass": nc.Name}},
		Spec: karpv1.NodeClaimSpec{
			NodeClassRef: &karpv1.NodeClassReference{Group: "karpenter.azure.com", Kind: "AKSNodeClass", Name: nc.Name},
			Requirements: []karpv1.NodeSelectorRequirementWithMinValues{{Key: "node.kubernetes.io/instance-type", Operator: "In", Values: []string{"Standard_D2s_v5"}}},
		},
	}
	Expect(env.Client.Create(ctx, c)).To(Succeed())
	if drifted {
		c.StatusConditions().SetTrue(karpv1.ConditionTypeDrifted)
		Expect(env.Client.Status().Update(ctx, c)).To(Succeed())
	}
	return c
}

var _ = Describe("hash versions", func() {
	It("re-stamps NodeClaims made under another hash version, except those already drifted", func() {
		nc := &v1beta1.AKSNodeClass{ObjectMeta: metav1.ObjectMeta{Name: "migrated"}, Spec: v1beta1.AKSNodeClassSpec{ImageFamily: lo.ToPtr("AzureLinux")}}
		Expect(env.Client.Create(ctx, nc)).To(Succeed())
		// Made by AKS node auto-provisioning (hash version v3, a hash of its
		// own struct), made by an older azkarpenter, drifted, and current.
		fromNAP := claimOf(nc, "from-nap", map[string]string{v1beta1.AnnotationNodeClassHash: "4108492229247269128", v1beta1.AnnotationNodeClassHashVersion: "v3"}, false)
		fromOld := claimOf(nc, "from-old", map[string]string{v1beta1.AnnotationNodeClassHash: "1", v1beta1.AnnotationNodeClassHashVersion: "v1"}, false)
		drifted := claimOf(nc, "drifted", map[string]string{v1beta1.AnnotationNodeClassHash: "2", v1beta1.AnnotationNodeClassHashVersion: "v3"}, true)
		current := claimOf(nc, "current", map[string]string{v1beta1.AnnotationNodeClassHash: "3", v1beta1.AnnotationNodeClassHashVersion: v1beta1.AKSNodeClassHashVersion}, false)

		_, err := hash.NewController(env.Client).Reconcile(ctx, nc)
		Expect(err).NotTo(HaveOccurred())

		get := func(c *karpv1.NodeClaim) map[string]string {
			Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(c), c)).To(Succeed())
			return c.Annotations
		}
		for _, c := range []*karpv1.NodeClaim{fromNAP, fromOld} {
			Expect(get(c)).To(HaveKeyWithValue(v1beta1.AnnotationNodeClassHash, nc.Hash()), "%s neither drifts nor stays undriftable", c.Name)
			Expect(get(c)).To(HaveKeyWithValue(v1beta1.AnnotationNodeClassHashVersion, v1beta1.AKSNodeClassHashVersion))
		}
		Expect(get(drifted)).To(HaveKeyWithValue(v1beta1.AnnotationNodeClassHash, "2"), "a drifted NodeClaim stays drifted")
		Expect(get(drifted)).To(HaveKeyWithValue(v1beta1.AnnotationNodeClassHashVersion, v1beta1.AKSNodeClassHashVersion))
		Expect(get(current)).To(HaveKeyWithValue(v1beta1.AnnotationNodeClassHash, "3"), "a current NodeClaim is left alone")

		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
		Expect(nc.Annotations).To(HaveKeyWithValue(v1beta1.AnnotationNodeClassHash, nc.Hash()))
		Expect(nc.Annotations).To(HaveKeyWithValue(v1beta1.AnnotationNodeClassHashVersion, v1beta1.AKSNodeClassHashVersion))
	})
})

var _ = Describe("termination", func() {
	It("keeps a deleted AKSNodeClass until its NodeClaims are gone, and says which", func() {
		nc := &v1beta1.AKSNodeClass{ObjectMeta: metav1.ObjectMeta{Name: "in-use", Finalizers: []string{v1beta1.TerminationFinalizer}}}
		Expect(env.Client.Create(ctx, nc)).To(Succeed())
		claim := claimOf(nc, "in-use-1", nil, false)
		Expect(env.Client.Delete(ctx, nc)).To(Succeed())
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())

		recorder := coretest.NewEventRecorder()
		controller := termination.NewController(env.Client, recorder)
		res, err := controller.Reconcile(ctx, nc)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.RequeueAfter).To(BeNumerically(">", 0))
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed(), "the class stays while a NodeClaim uses it")
		Expect(recorder.Calls(termination.ReasonWaitingOnNodeClaimTermination)).To(Equal(1))
		Expect(recorder.Events()).To(ContainElement(HaveField("Message", ContainSubstring("in-use-1"))))

		Expect(env.Client.Delete(ctx, claim)).To(Succeed())
		_, err = controller.Reconcile(ctx, nc)
		Expect(err).NotTo(HaveOccurred())
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(MatchError(ContainSubstring("not found")))
	})
})
