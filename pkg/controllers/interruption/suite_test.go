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
	if !preempted {
		return spotNodeWith(name, providerID)
	}
	return spotNodeWith(name, providerID, corev1.NodeCondition{Type: interruption.ConditionPreemptionScheduled, Status: corev1.ConditionTrue, Reason: "SpotEvictionIncoming", LastTransitionTime: metav1.Now()})
}

func spotNodeWith(name, providerID string, conds ...corev1.NodeCondition) *corev1.Node {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			corev1.LabelInstanceTypeStable: "Standard_D4s_v5",
			corev1.LabelTopologyZone:       "eastus-2",
			karpv1.CapacityTypeLabelKey:    karpv1.CapacityTypeSpot,
		}},
		Spec: corev1.NodeSpec{ProviderID: providerID},
	}
	Expect(env.Client.Create(ctx, node)).To(Succeed())
	if len(conds) > 0 {
		node.Status.Conditions = conds
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

	// The NodeClaims here carry a finalizer, as core's do, so what the
	// controller recorded can be read after the deletion it asked for.
	DescribeTable("acts on each signal AKS's node-problem-detector sets",
		func(name string, cond corev1.NodeCondition, wantDeadline string) {
			pid := "azure:///subscriptions/s/resourceGroups/mc_rg_c_eastus/providers/Microsoft.Compute/virtualMachines/" + name
			nc := nodeClaim(name, pid)
			nc.Finalizers = []string{karpv1.TerminationFinalizer}
			Expect(env.Client.Update(ctx, nc)).To(Succeed())
			node := spotNodeWith(name, pid, cond)
			_, err := ctrl.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(node)})
			Expect(err).NotTo(HaveOccurred())
			Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
			Expect(nc.DeletionTimestamp.IsZero()).To(BeFalse(), "the NodeClaim is being deleted")
			if wantDeadline == "" {
				Expect(nc.Annotations).NotTo(HaveKey(karpv1.NodeClaimTerminationTimestampAnnotationKey))
			} else {
				Expect(nc.Annotations).To(HaveKeyWithValue(karpv1.NodeClaimTerminationTimestampAnnotationKey, wantDeadline), "pods get until the eviction deadline")
			}
			nc.Finalizers = nil
			Expect(env.Client.Update(ctx, nc)).To(Succeed())
		},
		Entry("PreemptionScheduled (SpotEvictionIncoming) with its deadline", "notice-new",
			corev1.NodeCondition{Type: "PreemptionScheduled", Status: corev1.ConditionTrue, Reason: "SpotEvictionIncoming", LastTransitionTime: metav1.Now(),
				Message: "Preempt Scheduled: Sat, 01 Aug 2026 05:41:02 GMT. For more information, see https://aka.ms/x. EventId: 6A1C2D3E-0000-4000-8000-000000000001"},
			"2026-08-01T05:41:02Z"),
		Entry("VMEventScheduled for a Preempt event, as older AKS nodes report it", "notice-old",
			corev1.NodeCondition{Type: "VMEventScheduled", Status: corev1.ConditionTrue, Reason: "VMEventScheduled", LastTransitionTime: metav1.Now(),
				Message: "Preempt Scheduled: Mon, 02 Mar 2026 19:01:45 GMT"},
			"2026-03-02T19:01:45Z"),
		Entry("PreemptionScheduled once the eviction has started (no deadline)", "notice-started",
			corev1.NodeCondition{Type: "PreemptionScheduled", Status: corev1.ConditionTrue, Reason: "SpotEvictionIncoming", LastTransitionTime: metav1.Now(), Message: "Preempt Started."},
			""),
	)

	It("leaves a node whose VMEventScheduled is maintenance, not an eviction", func() {
		pid := "azure:///subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/rebooting"
		nc := nodeClaim("rebooting", pid)
		node := spotNodeWith("rebooting", pid, corev1.NodeCondition{Type: "VMEventScheduled", Status: corev1.ConditionTrue, Reason: "VMEventScheduled",
			LastTransitionTime: metav1.Now(), Message: "Reboot Scheduled: Mon, 02 Mar 2026 19:01:45 GMT"})
		_, err := ctrl.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(node)})
		Expect(err).NotTo(HaveOccurred())
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
		Expect(nc.DeletionTimestamp.IsZero()).To(BeTrue())
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
