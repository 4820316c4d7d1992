//go:build e2e

package virtualnode

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/azkarpenter/azkarpenter/pkg/localcluster"
	"github.com/azkarpenter/azkarpenter/pkg/virtualnode"
	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

var _ = Describe("Virtual node", Label("fast"), func() {
	It("runs a Deployment written for AKS's virtual nodes on ACI and leaves no container group when scaled to 0", func(ctx SpecContext) {
		const ns = "e2e-virtualnode"
		Expect(framework.Namespace(ctx, env.Client, ns)).To(Succeed())
		aci, err := framework.NewContainerInstances(env.Azure)
		Expect(err).NotTo(HaveOccurred())

		By("the Node is AKS's virtual node, and kwok does not manage it")
		// The process is healthy before it has registered its Node.
		node := &corev1.Node{}
		Eventually(func() error {
			return env.Client.Get(ctx, client.ObjectKey{Name: virtualnode.DefaultNodeName}, node)
		}).WithContext(ctx).WithTimeout(30 * time.Second).WithPolling(500 * time.Millisecond).Should(Succeed())
		Expect(node.Labels).To(HaveKeyWithValue("type", "virtual-kubelet"))
		Expect(node.Spec.Taints).To(ContainElement(virtualnode.Taint))
		Expect(node.Annotations).NotTo(HaveKey(localcluster.KwokNodeAnnotation))

		// The sample of learn.microsoft.com/azure/aks/virtual-nodes-cli
		// ("Deploy a sample app"): its nodeSelector and tolerations.
		deploy := framework.Deployment(ns, "aci-helloworld", "", 3, "500m", "1Gi")
		deploy.Spec.Template.Spec.NodeSelector = map[string]string{"kubernetes.io/role": "agent", "kubernetes.io/os": "linux", "type": "virtual-kubelet"}
		deploy.Spec.Template.Spec.Tolerations = []corev1.Toleration{
			{Key: "virtual-kubelet.io/provider", Operator: corev1.TolerationOpExists},
			{Key: "azure.com/aci", Effect: corev1.TaintEffectNoSchedule},
		}
		deploy.Spec.Template.Spec.AutomountServiceAccountToken = lo.ToPtr(false)
		Expect(env.Client.Create(ctx, deploy)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(env.Cleanup(ctx, deploy)).To(Succeed()) })

		Eventually(func(g Gomega) {
			pods, err := framework.Pods(ctx, env.Client, ns)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(pods).To(HaveLen(3))
			for _, p := range pods {
				g.Expect(p.Spec.NodeName).To(Equal(virtualnode.DefaultNodeName))
				g.Expect(p.Status.Phase).To(Equal(corev1.PodRunning))
			}
			groups, err := aci.GroupsOf(ctx, ns)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(groups).To(HaveLen(3))
		}).WithContext(ctx).WithTimeout(60 * time.Second).WithPolling(time.Second).Should(Succeed())

		By("scaling to 0 deletes every container group")
		Expect(env.Client.Patch(ctx, &appsv1.Deployment{ObjectMeta: deploy.ObjectMeta}, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"replicas":0}}`)))).To(Succeed())
		Eventually(func(g Gomega) {
			groups, err := aci.GroupsOf(ctx, ns)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(groups).To(BeEmpty())
			pods, err := framework.Pods(ctx, env.Client, ns)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(pods).To(BeEmpty())
		}).WithContext(ctx).WithTimeout(60 * time.Second).WithPolling(time.Second).Should(Succeed())
	})
})
