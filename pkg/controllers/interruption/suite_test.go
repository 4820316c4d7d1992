package interruption_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/events"
	coretest "sigs.k8s.io/karpenter/pkg/test"

	"github.com/azkarpenter/azkarpenter/pkg/controllers/interruption"
	"github.com/azkarpenter/azkarpenter/pkg/providers/offerings"
	"github.com/azkarpenter/azkarpenter/pkg/test/environment"
)

var (
	ctx   context.Context
	env   *environment.Environment
	cache *offerings.Cache
	ctrl  *interruption.Controller
)

func TestInterruption(t *testing.T) {
	environment.RunSuite(t, "Interruption")
}

var _ = BeforeSuite(func() {
	ctx = context.Background()
	env = environment.New(ctx, environment.WithoutAzure(), environment.WithFieldIndexers(coretest.NodeClaimProviderIDFieldIndexer(ctx)))
})

var _ = BeforeEach(func() {
	env.Reset(ctx)
	cache = offerings.NewCache(clocktesting.NewFakeClock(time.Now()))
	ctrl = interruption.NewController(env.Client, events.NewRecorder(record.NewFakeRecorder(100)), cache)
})

var _ = AfterSuite(func() { env.Stop() })

func spotNode(name, providerID string, preempted bool) *corev1.Node {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			corev1.LabelInstanceTypeStable: "Standard_D4s_v5",
			corev1.LabelTopologyZone:       "eastus-2",
			karpv1.CapacityTypeLabelKey:    karpv1.CapacityTypeSpot,
		}},
		Spec: corev1.NodeSpec{ProviderID: providerID},
	}
	Expect(env.Client.Create(ctx, node)).To(Succeed())
	if preempted {
		node.Status.Conditions = []corev1.NodeCondition{{Type: interruption.ConditionPreemptionScheduled, Status: corev1.ConditionTrue, Reason: "SpotEvictionIncoming", LastTransitionTime: metav1.Now()}}
		Expect(env.Client.Status().Update(ctx, node)).To(Succeed())
	}
	return node
}

func nodeClaim(name, providerID string) *karpv1.NodeClaim {
	nc := &karpv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: karpv1.NodeClaimSpec{
		NodeClassRef: &karpv1.NodeClassReference{Group: "karpenter.azure.com", Kind: "AKSNodeClass", Name: "default"},
		Requirements: []karpv1.NodeSelectorRequirementWithMinValues{{Key: karpv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{karpv1.CapacityTypeSpot}}},
	}}
	Expect(env.Client.Create(ctx, nc)).To(Succeed())
	nc.Status.ProviderID = providerID
	Expect(env.Client.Status().Update(ctx, nc)).To(Succeed())
	Eventually(func(g Gomega) {
		list := &karpv1.NodeClaimList{}
		g.Expect(env.Client.List(ctx, list, client.MatchingFields{"status.providerID": providerID})).To(Succeed())
		g.Expect(list.Items).To(HaveLen(1))
	}).Should(Succeed())
	return nc
}

var _ = Describe("spot interruption", func() {
	It("deletes the NodeClaim and marks the spot offering unavailable on an eviction notice", func() {
		pid := "azure:///subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/evicted"
		nc := nodeClaim("evicted", pid)
		node := spotNode("evicted", pid, true)
		_, err := ctrl.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(node)})
		Expect(err).NotTo(HaveOccurred())
		Expect(errors.IsNotFound(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc))).To(BeTrue(), "the NodeClaim should be deleted")
		Expect(cache.Unavailable(offerings.Offering{SKU: "Standard_D4s_v5", Zone: "eastus-2", CapacityType: karpv1.CapacityTypeSpot})).To(Equal("SpotEvictionIncoming"))
		Expect(cache.Unavailable(offerings.Offering{SKU: "Standard_D4s_v5", Zone: "eastus-2", CapacityType: karpv1.CapacityTypeOnDemand})).To(BeEmpty(), "on-demand stays available")
	})

	It("leaves nodes without a notice alone", func() {
		pid := "azure:///subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/calm"
		nc := nodeClaim("calm", pid)
		node := spotNode("calm", pid, false)
		_, err := ctrl.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(node)})
		Expect(err).NotTo(HaveOccurred())
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
	})

	It("ignores nodes karpenter does not manage", func() {
		node := spotNode("unmanaged", "azure:///subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/unmanaged", true)
		_, err := ctrl.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(node)})
		Expect(err).NotTo(HaveOccurred())
	})
})
