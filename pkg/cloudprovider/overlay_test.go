package cloudprovider_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/apis/v1alpha1"
	corecloudprovider "sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/cloudprovider/overlay"
	"sigs.k8s.io/karpenter/pkg/controllers/nodeoverlay"
	"sigs.k8s.io/karpenter/pkg/controllers/state"
	coreoptions "sigs.k8s.io/karpenter/pkg/operator/options"
	"sigs.k8s.io/karpenter/pkg/scheduling"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
)

// A reserved-instance or savings-plan discount, the common ask, expressed as
// a karpenter NodeOverlay, must reach the prices the scheduler compares.
var _ = Describe("NodeOverlay", func() {
	It("applies price adjustments to Azure instance types", func() {
		nc := readyNodeClass(v1beta1.AKSNodeClassSpec{})
		np := &karpv1.NodePool{
			ObjectMeta: metav1.ObjectMeta{Name: "overlaid"},
			Spec: karpv1.NodePoolSpec{Template: karpv1.NodeClaimTemplate{Spec: karpv1.NodeClaimTemplateSpec{
				NodeClassRef: &karpv1.NodeClassReference{Group: "karpenter.azure.com", Kind: "AKSNodeClass", Name: nc.Name},
				Requirements: []karpv1.NodeSelectorRequirementWithMinValues{},
			}}},
		}
		Expect(env.Client.Create(ctx, np)).To(Succeed())
		Expect(env.Client.Create(ctx, &v1alpha1.NodeOverlay{
			ObjectMeta: metav1.ObjectMeta{Name: "d-family-savings-plan"},
			Spec: v1alpha1.NodeOverlaySpec{
				Requirements: []v1alpha1.NodeSelectorRequirement{
					{Key: v1beta1.LabelSKUFamily, Operator: corev1.NodeSelectorOpIn, Values: []string{"D"}},
					{Key: karpv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{karpv1.CapacityTypeOnDemand}},
				},
				PriceAdjustment: lo.ToPtr("-30%"),
			},
		})).To(Succeed())

		cp := env.Providers.CloudProvider
		clk := clocktesting.NewFakeClock(metav1.Now().Time)
		store := nodeoverlay.NewInstanceTypeStore()
		_, err := nodeoverlay.NewController(clk, env.Client, cp, store, state.NewCluster(clk, env.Client, cp)).Reconcile(ctx, reconcile.Request{})
		Expect(err).NotTo(HaveOccurred())

		octx := coreoptions.ToContext(ctx, &coreoptions.Options{FeatureGates: coreoptions.FeatureGates{NodeOverlay: true}})
		base, err := cp.GetInstanceTypes(octx, np)
		Expect(err).NotTo(HaveOccurred())
		overlaid, err := overlay.Decorate(cp, env.Client, store).GetInstanceTypes(octx, np)
		Expect(err).NotTo(HaveOccurred())

		price := func(its []*corecloudprovider.InstanceType, name, capacityType string) float64 {
			it, ok := lo.Find(its, func(it *corecloudprovider.InstanceType) bool { return it.Name == name })
			Expect(ok).To(BeTrue(), name)
			offers := it.Offerings.Compatible(scheduling.NewRequirements(scheduling.NewRequirement(karpv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, capacityType)))
			Expect(offers).NotTo(BeEmpty())
			return offers[0].Price
		}
		Expect(price(overlaid, "Standard_D4s_v5", karpv1.CapacityTypeOnDemand)).To(BeNumerically("~", 0.7*price(base, "Standard_D4s_v5", karpv1.CapacityTypeOnDemand), 1e-9))
		Expect(price(overlaid, "Standard_D4s_v5", karpv1.CapacityTypeSpot)).To(Equal(price(base, "Standard_D4s_v5", karpv1.CapacityTypeSpot)), "spot is not covered by the overlay")
		Expect(price(overlaid, "Standard_E4s_v5", karpv1.CapacityTypeOnDemand)).To(Equal(price(base, "Standard_E4s_v5", karpv1.CapacityTypeOnDemand)), "other families keep their price")
		// The provider's cached instance types are untouched by the overlay.
		again, err := cp.GetInstanceTypes(octx, np)
		Expect(err).NotTo(HaveOccurred())
		Expect(price(again, "Standard_D4s_v5", karpv1.CapacityTypeOnDemand)).To(Equal(price(base, "Standard_D4s_v5", karpv1.CapacityTypeOnDemand)))
	})
})
