//go:build e2e

package burst

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/controllers/burst"
	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

var _ = Describe("Burst-then-settle", func() {
	It("runs an opted-in Deployment on ACI within seconds while VMs launch, then moves it onto the VMs and leaves no container group", func(ctx SpecContext) {
		const ns, pool, replicas = "e2e-burst", "burst", 6
		aci, err := framework.NewContainerInstances(env.Azure)
		Expect(err).NotTo(HaveOccurred())

		np := framework.NodePool(pool, "default", framework.Requirement(karpv1.CapacityTypeLabelKey, karpv1.CapacityTypeOnDemand),
			framework.Requirement("karpenter.azure.com/sku-family", "D"))
		deploy := framework.Deployment(ns, "web", pool, replicas, "500m", "1Gi")
		deploy.Spec.Template.Annotations = map[string]string{burst.Annotation: burst.AnnotationValue}
		deploy.Spec.Template.Spec.AutomountServiceAccountToken = lo.ToPtr(false)
		start := time.Now()
		env.Run(ctx, ns, 0, np, deploy)

		By("every pod runs on the virtual node within seconds, before any VM is Ready")
		Eventually(func(g Gomega) {
			pods, err := framework.Pods(ctx, env.Client, ns, client.MatchingLabels{"app": "web"})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(pods).To(HaveLen(replicas))
			for _, p := range pods {
				g.Expect(p.Spec.NodeName).To(Equal(burst.DefaultVirtualNodeName))
				g.Expect(p.Status.Phase).To(Equal(corev1.PodRunning))
			}
		}).WithContext(ctx).WithTimeout(60 * time.Second).WithPolling(time.Second).Should(Succeed())
		onACI := time.Since(start)
		nodes, _, err := framework.PoolNodes(ctx, env.Client, pool)
		Expect(err).NotTo(HaveOccurred())
		readyVMs := lo.CountBy(nodes, func(n corev1.Node) bool {
			return lo.ContainsBy(n.Status.Conditions, func(c corev1.NodeCondition) bool {
				return c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
			})
		})
		GinkgoWriter.Printf("all %d pods Running on ACI %.1fs after apply; %d VM nodes Ready then\n", replicas, onACI.Seconds(), readyVMs)
		Expect(readyVMs).To(BeZero(), "the pods ran before their VMs")

		By("once the VMs are Ready the pods run there, no placeholder and no container group is left")
		Eventually(func(g Gomega) {
			pods, err := framework.Pods(ctx, env.Client, ns)
			g.Expect(err).NotTo(HaveOccurred())
			running := 0
			for _, p := range pods {
				g.Expect(burst.IsPlaceholder(&p)).To(BeFalse(), "placeholder %s left", p.Name)
				g.Expect(p.Spec.NodeName).NotTo(Equal(burst.DefaultVirtualNodeName))
				if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp.IsZero() {
					running++
				}
			}
			g.Expect(running).To(Equal(replicas))
			groups, err := aci.GroupsOf(ctx, ns)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(groups).To(BeEmpty())
		}).WithContext(ctx).WithTimeout(5 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		GinkgoWriter.Printf("settled onto VMs %.1fs after apply\n", time.Since(start).Seconds())
		pods, err := framework.Pods(ctx, env.Client, ns)
		Expect(err).NotTo(HaveOccurred())
		for _, p := range pods {
			node := &corev1.Node{}
			Expect(env.Client.Get(ctx, client.ObjectKey{Name: p.Spec.NodeName}, node)).To(Succeed())
			Expect(node.Labels).To(HaveKeyWithValue(karpv1.NodePoolLabelKey, pool), "pod %s runs on a VM of the NodePool", p.Name)
		}
	})
})

// eventsOf are the events recorded for the pods of a namespace, by reason.
func eventsOf(ctx context.Context, ns, reason string) ([]corev1.Event, error) {
	var list corev1.EventList
	if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	return lo.Filter(list.Items, func(e corev1.Event, _ int) bool {
		return e.Reason == reason && e.InvolvedObject.Kind == "Pod"
	}), nil
}

// expectOnPoolVMs waits until the namespace's workload pods all run on VMs
// of the pool and no container group of the namespace is left.
func expectOnPoolVMs(ctx context.Context, aci *framework.ContainerInstances, ns, pool string, replicas int) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		pods, err := framework.Pods(ctx, env.Client, ns, client.MatchingLabels{"app": "web"})
		g.Expect(err).NotTo(HaveOccurred())
		running := 0
		for _, p := range pods {
			if p.Status.Phase != corev1.PodRunning || !p.DeletionTimestamp.IsZero() {
				continue
			}
			node := &corev1.Node{}
			g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: p.Spec.NodeName}, node)).To(Succeed())
			g.Expect(node.Labels).To(HaveKeyWithValue(karpv1.NodePoolLabelKey, pool), "pod %s runs on a VM of the NodePool", p.Name)
			running++
		}
		g.Expect(running).To(Equal(replicas))
		groups, err := aci.GroupsOf(ctx, ns)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(groups).To(BeEmpty())
	}).WithContext(ctx).WithTimeout(5 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
}

var _ = Describe("Burst-then-settle refusals", func() {
	var aci *framework.ContainerInstances
	BeforeEach(func() {
		var err error
		aci, err = framework.NewContainerInstances(env.Azure)
		Expect(err).NotTo(HaveOccurred())
	})

	It("explains with an event naming the field why a pod above ACI's per-group limit cannot burst, and the pod waits for a VM", func(ctx SpecContext) {
		const ns, pool = "e2e-burst-refused", "burst-refused"
		np := framework.NodePool(pool, "default", framework.Requirement(karpv1.CapacityTypeLabelKey, karpv1.CapacityTypeOnDemand),
			framework.Requirement("karpenter.azure.com/sku-family", "D"))
		// 5 vCPUs: above ACI's 4 vCPUs per container group.
		deploy := framework.Deployment(ns, "web", pool, 1, "5", "2Gi")
		deploy.Spec.Template.Annotations = map[string]string{burst.Annotation: burst.AnnotationValue}
		deploy.Spec.Template.Spec.AutomountServiceAccountToken = lo.ToPtr(false)
		env.Run(ctx, ns, 0, np, deploy)

		Eventually(func(g Gomega) {
			events, err := eventsOf(ctx, ns, burst.ReasonBurstRefused)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(events).NotTo(BeEmpty())
			g.Expect(events[0].Type).To(Equal(corev1.EventTypeWarning))
			g.Expect(events[0].Message).To(ContainSubstring("cpu"))
		}).WithContext(ctx).WithTimeout(60 * time.Second).WithPolling(time.Second).Should(Succeed())
		expectOnPoolVMs(ctx, aci, ns, pool, 1)
	})

	It("sends pods back to wait for VMs when ACI's quota is exhausted, losing none", func(ctx SpecContext) {
		const ns, pool, replicas = "e2e-burst-quota", "burst-quota", 3
		// Every container group create is refused as ACI refuses one past
		// the subscription's quota (azuresim's own quota rule's code and
		// status, validate_containerinstance.go).
		Expect(env.Sim.AddError(ctx, azuresim.ErrorRule{Operation: azuresim.OpPutContainerGroup, Code: "ContainerGroupQuotaReached", Status: 409,
			Message: "Resource type 'Microsoft.ContainerInstance/containerGroups' container group quota 'StandardCores' exceeded in region 'eastus'."})).To(Succeed())
		DeferCleanup(func(ctx SpecContext) {
			Expect(env.Sim.UpdateConfig(ctx, func(c *azuresim.Config) { c.Errors = nil })).To(Succeed())
			// The next spec needs ACI: wait out the virtual node's back-off
			// (the suite sets it to 30 s).
			Eventually(func(g Gomega) {
				node := &corev1.Node{}
				g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: burst.DefaultVirtualNodeName}, node)).To(Succeed())
				g.Expect(node.Status.Conditions).NotTo(ContainElement(And(
					HaveField("Type", burst.ConditionContainerInstancesAvailable), HaveField("Status", corev1.ConditionFalse))))
			}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		})
		np := framework.NodePool(pool, "default", framework.Requirement(karpv1.CapacityTypeLabelKey, karpv1.CapacityTypeOnDemand),
			framework.Requirement("karpenter.azure.com/sku-family", "D"))
		deploy := framework.Deployment(ns, "web", pool, replicas, "500m", "1Gi")
		deploy.Spec.Template.Annotations = map[string]string{burst.Annotation: burst.AnnotationValue}
		deploy.Spec.Template.Spec.AutomountServiceAccountToken = lo.ToPtr(false)
		env.Run(ctx, ns, 0, np, deploy)

		expectOnPoolVMs(ctx, aci, ns, pool, replicas)
		var list corev1.EventList
		Expect(env.Client.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
		Expect(list.Items).To(ContainElement(HaveField("Message", ContainSubstring("ContainerGroupQuotaReached"))),
			"a pod's events name ACI's refusal")
	})
})
