package burst_test

import (
	"context"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/karpenter/pkg/events"

	"github.com/azkarpenter/azkarpenter/pkg/controllers/burst"
	"github.com/azkarpenter/azkarpenter/pkg/providers/pricing"
	"github.com/azkarpenter/azkarpenter/pkg/test/environment"
)

var (
	ctx      context.Context
	env      *environment.Environment
	recorder *record.FakeRecorder
	ctrl     *burst.Controller
)

func TestBurst(t *testing.T) {
	environment.RunSuite(t, "Burst")
}

var _ = BeforeSuite(func() {
	ctx = context.Background()
	// Any indexer gives the cache-backed client, which indexes pods by
	// spec.nodeName as karpenter core's operator does.
	env = environment.New(ctx, environment.WithoutAzure(), environment.WithFieldIndexers(func(cache.Cache) error { return nil }))
})

var _ = BeforeEach(func() {
	env.Reset(ctx)
	recorder = record.NewFakeRecorder(100)
	ctrl = burst.NewController(env.Client, events.NewRecorder(recorder), clock.RealClock{}, burst.Options{
		Prices: burst.StaticPrices(pricing.ContainerPrices{Region: "eastus", Standard: pricing.ContainerRates{VCPUSecond: 0.0405 / 3600, GBSecond: 0.00445 / 3600}}),
	})
})

var _ = AfterSuite(func() { env.Stop() })

// virtualNode stands in for the virtual kubelet's Node: its labels, taint
// and status, set here since the virtual node is another component.
func virtualNode(ready bool, aci corev1.ConditionStatus, cpu string) *corev1.Node {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: burst.DefaultVirtualNodeName, Labels: map[string]string{
			"type": "virtual-kubelet", "kubernetes.io/role": "agent", corev1.LabelOSStable: "linux", corev1.LabelArchStable: "amd64",
		}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: burst.VirtualNodeTaintKey, Value: burst.VirtualNodeTaintValue, Effect: corev1.TaintEffectNoSchedule}}},
	}
	Expect(env.Client.Create(ctx, node)).To(Succeed())
	readyStatus := corev1.ConditionFalse
	if ready {
		readyStatus = corev1.ConditionTrue
	}
	node.Status.Conditions = []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: readyStatus, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()},
		{Type: burst.ConditionContainerInstancesAvailable, Status: aci, Reason: map[corev1.ConditionStatus]string{corev1.ConditionTrue: "ContainerInstancesAvailable", corev1.ConditionFalse: "QuotaExceeded"}[aci],
			Message: "ContainerGroupQuotaReached: Resource type 'Microsoft.ContainerInstance/containerGroups' container group quota 'StandardCores' exceeded", LastTransitionTime: metav1.Now()},
	}
	node.Status.Allocatable = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("400Gi"), corev1.ResourcePods: resource.MustParse("100")}
	node.Status.Capacity = node.Status.Allocatable
	Expect(env.Client.Status().Update(ctx, node)).To(Succeed())
	return node
}

// vmNode is a Ready node karpenter launched.
func vmNode(name string) *corev1.Node {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelOSStable: "linux"}}}
	Expect(env.Client.Create(ctx, node)).To(Succeed())
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	node.Status.Allocatable = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("30")}
	Expect(env.Client.Status().Update(ctx, node)).To(Succeed())
	return node
}

// replicaSet is the owner of the pods; no ReplicaSet controller runs here.
func replicaSet() *appsv1.ReplicaSet {
	name := "web-" + rand.String(5)
	labels := map[string]string{"app": name}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(int32(0)), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}}}},
	}
	Expect(env.Client.Create(ctx, rs)).To(Succeed())
	DeferCleanup(func() { Expect(client.IgnoreNotFound(env.Client.Delete(ctx, rs))).To(Succeed()) })
	return rs
}

// pendingPod is an opted-in pod of rs (nil: a bare pod) that kube-scheduler
// marked unschedulable.
func pendingPod(rs *appsv1.ReplicaSet, edit func(*corev1.Pod)) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-" + rand.String(6), Namespace: "default", Annotations: map[string]string{burst.Annotation: burst.AnnotationValue}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "nginx", Command: []string{"nginx"}, Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("1Gi")}}}},
			Tolerations: []corev1.Toleration{{Key: burst.VirtualNodeTaintKey, Operator: corev1.TolerationOpExists}},
		},
	}
	if rs != nil {
		pod.Labels = rs.Spec.Template.Labels
		pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr.To(true)}}
	}
	if edit != nil {
		edit(pod)
	}
	Expect(env.Client.Create(ctx, pod)).To(Succeed())
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
		Message: "0/1 nodes are available", LastTransitionTime: metav1.Now()}}
	Expect(env.Client.Status().Update(ctx, pod)).To(Succeed())
	Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
		g.Expect(pod.Status.Conditions).NotTo(BeEmpty())
	}).Should(Succeed())
	return pod
}

func reconcilePod(pod *corev1.Pod) reconcile.Result {
	GinkgoHelper()
	res, err := ctrl.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(pod)})
	Expect(err).NotTo(HaveOccurred())
	return res
}

// expectEvent waits for an event containing every substring.
func expectEvent(parts ...string) {
	GinkgoHelper()
	matchers := make([]types.GomegaMatcher, len(parts))
	for i, p := range parts {
		matchers[i] = ContainSubstring(p)
	}
	Eventually(recorder.Events).Should(Receive(And(matchers...)))
}

func placeholderOf(pod *corev1.Pod) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: burst.PlaceholderName(pod)}}
}

// burstPod bursts a fresh pod of rs and returns it bound, as the virtual
// node would report it (Running and Ready), with its placeholder.
func burstPod(rs *appsv1.ReplicaSet) (*corev1.Pod, *corev1.Pod) {
	GinkgoHelper()
	pod := pendingPod(rs, nil)
	reconcilePod(pod)
	Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
		g.Expect(pod.Spec.NodeName).To(Equal(burst.DefaultVirtualNodeName))
	}).Should(Succeed())
	pod.Status.Phase = corev1.PodRunning
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()})
	Expect(env.Client.Status().Update(ctx, pod)).To(Succeed())
	ph := placeholderOf(pod)
	Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(ph), ph)).To(Succeed())
	return pod, ph
}

// runOn binds the placeholder to node and reports it Running, as
// kube-scheduler and the node's kubelet would.
func runOn(ph *corev1.Pod, node *corev1.Node) {
	GinkgoHelper()
	Expect(env.Client.SubResource("binding").Create(ctx, ph, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: ph.Name, Namespace: ph.Namespace},
		Target: corev1.ObjectReference{Kind: "Node", Name: node.Name}})).To(Succeed())
	Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(ph), ph)).To(Succeed())
		g.Expect(ph.Spec.NodeName).To(Equal(node.Name))
	}).Should(Succeed())
	ph.Status.Phase = corev1.PodRunning
	Expect(env.Client.Status().Update(ctx, ph)).To(Succeed())
	Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(ph), ph)).To(Succeed())
		g.Expect(ph.Status.Phase).To(Equal(corev1.PodRunning))
	}).Should(Succeed())
}

// expectLeaving waits until the pod is gone or being deleted (a pod bound
// to a node is deleted gracefully; no kubelet finishes it here).
func expectLeaving(pod *corev1.Pod) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		p := &corev1.Pod{}
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(pod), p)
		if errors.IsNotFound(err) {
			return
		}
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(p.DeletionTimestamp).NotTo(BeNil())
	}).Should(Succeed())
}

func expectGone(pod *corev1.Pod) {
	GinkgoHelper()
	Eventually(func() bool {
		return errors.IsNotFound(env.Client.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{}))
	}).Should(BeTrue())
}

var _ = Describe("burst", func() {
	It("binds an opted-in unschedulable ReplicaSet pod to the virtual node and creates its placeholder", func() {
		virtualNode(true, corev1.ConditionTrue, "10")
		rs := replicaSet()
		pod := pendingPod(rs, func(p *corev1.Pod) {
			p.Spec.NodeSelector = map[string]string{corev1.LabelOSStable: "linux"}
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone,
				WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: rs.Spec.Template.Labels}}}
		})
		reconcilePod(pod)

		Eventually(func(g Gomega) {
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
			g.Expect(pod.Spec.NodeName).To(Equal(burst.DefaultVirtualNodeName))
			g.Expect(pod.Annotations).To(HaveKey(burst.AnnotationBurstedAt))
		}).Should(Succeed())
		expectEvent("Bursted", burst.DefaultVirtualNodeName)

		ph := placeholderOf(pod)
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(ph), ph)).To(Succeed())
		Expect(ph.Spec.NodeName).To(BeEmpty(), "the placeholder waits for kube-scheduler and karpenter")
		Expect(ph.Labels).To(HaveKeyWithValue(burst.LabelPlaceholderFor, string(pod.UID)))
		Expect(ph.OwnerReferences).To(ConsistOf(HaveField("UID", pod.UID)))
		Expect(ph.Spec.Containers).To(HaveLen(1))
		Expect(ph.Spec.Containers[0].Resources.Requests.Cpu().String()).To(Equal("500m"))
		Expect(ph.Spec.Containers[0].Resources.Requests.Memory().String()).To(Equal("1Gi"))
		Expect(ph.Spec.PriorityClassName).To(Equal(burst.PriorityClassName))
		Expect(ph.Spec.Priority).To(HaveValue(Equal(burst.PriorityValue)), "admission gave it the class's priority")
		Expect(ph.Spec.TerminationGracePeriodSeconds).To(HaveValue(BeZero()))
		Expect(ph.Spec.NodeSelector).To(Equal(pod.Spec.NodeSelector))
		Expect(ph.Spec.Tolerations).NotTo(ContainElement(HaveField("Key", burst.VirtualNodeTaintKey)))
		Expect(ph.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions).To(ContainElement(
			corev1.NodeSelectorRequirement{Key: "type", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"virtual-kubelet"}}))
		Expect(ph.Spec.TopologySpreadConstraints).To(HaveLen(1))
		Expect(ph.Spec.TopologySpreadConstraints[0].LabelSelector.MatchLabels).To(Equal(map[string]string{burst.LabelPlaceholderGroup: string(rs.UID)}),
			"placeholders spread among themselves as the pods will")
		pc := &schedulingv1.PriorityClass{}
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: burst.PriorityClassName}, pc)).To(Succeed())
		Expect(pc.Value).To(BeNumerically("<", 0))
		Expect(pc.PreemptionPolicy).To(HaveValue(Equal(corev1.PreemptNever)))
	})

	It("settles: evicts the burst pod and deletes the placeholder once the placeholder runs on a Ready VM", func() {
		virtualNode(true, corev1.ConditionTrue, "10")
		pod, ph := burstPod(replicaSet())
		reconcilePod(pod)
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
		Expect(pod.DeletionTimestamp).To(BeNil(), "nothing moves while the placeholder is pending")

		runOn(ph, vmNode("vm-1"))
		reconcilePod(pod)
		expectLeaving(pod)
		expectGone(ph)
		expectEvent("Settled", "vm-1", "on ACI")
	})

	It("does not settle while the placeholder's node is not Ready", func() {
		virtualNode(true, corev1.ConditionTrue, "10")
		pod, ph := burstPod(replicaSet())
		vm := vmNode("vm-2")
		runOn(ph, vm)
		vm.Status.Conditions[0].Status = corev1.ConditionFalse
		Expect(env.Client.Status().Update(ctx, vm)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(vm), vm)).To(Succeed())
			g.Expect(vm.Status.Conditions[0].Status).To(Equal(corev1.ConditionFalse))
		}).Should(Succeed())
		Expect(reconcilePod(pod).RequeueAfter).To(BeNumerically(">", 0))
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
		Expect(pod.DeletionTimestamp).To(BeNil())
	})

	It("leaves the pod on the virtual node while its PodDisruptionBudget allows no disruption, with an event", func() {
		virtualNode(true, corev1.ConditionTrue, "10")
		rs := replicaSet()
		pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: rs.Name, Namespace: "default"},
			Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(1)), Selector: rs.Spec.Selector}}
		Expect(env.Client.Create(ctx, pdb)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(env.Client.Delete(ctx, pdb))).To(Succeed()) })
		// What the disruption controller would report: one healthy pod, none to spare.
		pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, CurrentHealthy: 1, DesiredHealthy: 1, ExpectedPods: 1, DisruptionsAllowed: 0}
		Expect(env.Client.Status().Update(ctx, pdb)).To(Succeed())

		pod, ph := burstPod(rs)
		runOn(ph, vmNode("vm-3"))
		res := reconcilePod(pod)
		Expect(res.RequeueAfter).To(BeNumerically(">", 0), "retried with back-off")
		expectEvent("SettleBlockedByPDB", "disruption budget")
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
		Expect(pod.DeletionTimestamp).To(BeNil(), "the PDB is honoured: no eviction, no delete")
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(ph), ph)).To(Succeed(), "the VM capacity is kept for it")

		// While backing off, another reconcile does not call the API again.
		Expect(reconcilePod(pod).RequeueAfter).To(BeNumerically(">", 0))
		Consistently(recorder.Events).ShouldNot(Receive(ContainSubstring("Settled")))
	})

	It("evicts at once a burst pod the virtual node could not run, and keeps its workload off ACI for a while", func() {
		virtualNode(true, corev1.ConditionTrue, "10")
		rs := replicaSet()
		pod, ph := burstPod(rs)
		pod.Status.Phase = corev1.PodPending
		pod.Status.Reason = "ContainerGroupRefused"
		pod.Status.Message = "ContainerGroupQuotaReached: quota exceeded"
		pod.Status.Conditions = nil
		Expect(env.Client.Status().Update(ctx, pod)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
			g.Expect(pod.Status.Reason).To(Equal("ContainerGroupRefused"))
		}).Should(Succeed())
		reconcilePod(pod)
		expectLeaving(pod)
		expectGone(ph)
		expectEvent("Settled", "could not run it")

		next := pendingPod(rs, nil)
		reconcilePod(next)
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(next), next)).To(Succeed())
		Expect(next.Spec.NodeName).To(BeEmpty(), "its replacement waits for a VM")
		expectEvent("BurstRefused", "could not run another pod of ReplicaSet "+rs.Name)
	})

	It("refuses a pod ACI cannot run with an event naming each field, and leaves it waiting for a VM", func() {
		virtualNode(true, corev1.ConditionTrue, "10")
		pod := pendingPod(replicaSet(), func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log"}}}}
			p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("5")
		})
		reconcilePod(pod)
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
		Expect(pod.Spec.NodeName).To(BeEmpty())
		Expect(errors.IsNotFound(env.Client.Get(ctx, client.ObjectKeyFromObject(placeholderOf(pod)), &corev1.Pod{}))).To(BeTrue(), "no placeholder: karpenter provisions for the pod itself")
		var got []string
		for range 2 {
			var e string
			Eventually(recorder.Events).Should(Receive(&e))
			got = append(got, e)
		}
		Expect(got).To(ConsistOf(
			And(ContainSubstring("BurstRefused"), ContainSubstring("spec.volumes[0]"), ContainSubstring("hostPath")),
			And(ContainSubstring("BurstRefused"), ContainSubstring("resources.requests.cpu"), ContainSubstring("5.0 CPU")),
		))
		// Once per pod and reason.
		reconcilePod(pod)
		Consistently(recorder.Events).ShouldNot(Receive())
	})

	DescribeTable("refuses while the virtual node cannot take the pod",
		func(setup func(), want string) {
			setup()
			pod := pendingPod(replicaSet(), nil)
			Expect(reconcilePod(pod).RequeueAfter).To(BeNumerically(">", 0), "looked at again")
			Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
			Expect(pod.Spec.NodeName).To(BeEmpty())
			expectEvent("BurstRefused", want)
		},
		Entry("ContainerInstancesAvailable False", func() { virtualNode(true, corev1.ConditionFalse, "10") }, "QuotaExceeded"),
		Entry("not Ready", func() { virtualNode(false, corev1.ConditionTrue, "10") }, "not Ready"),
		Entry("missing", func() {}, "does not exist"),
		Entry("full", func() { virtualNode(true, corev1.ConditionTrue, "400m") }, "cpu left"),
	)

	It("counts pods already on the virtual node, including those it bound a moment ago", func() {
		virtualNode(true, corev1.ConditionTrue, "1")
		rs := replicaSet()
		first, second, third := pendingPod(rs, nil), pendingPod(rs, nil), pendingPod(rs, nil)
		reconcilePod(first)
		reconcilePod(second)
		reconcilePod(third)
		// The cache the test reads lags the bindings: poll.
		Eventually(func(g Gomega) {
			bound := 0
			for _, p := range []*corev1.Pod{first, second, third} {
				g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(p), p)).To(Succeed())
				if p.Spec.NodeName != "" {
					bound++
				}
			}
			g.Expect(bound).To(Equal(2), "1 CPU holds two 500m pods")
		}).Should(Succeed())
		expectEvent("BurstRefused", "0 cpu left of 1")
	})

	It("refuses a pod that needs another CPU architecture than the virtual node's, but not one pinned to a NodePool or zone", func() {
		virtualNode(true, corev1.ConditionTrue, "10")
		rs := replicaSet()
		arm := pendingPod(rs, func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
					{Key: corev1.LabelArchStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"arm64"}},
					{Key: corev1.LabelTopologyZone, Operator: corev1.NodeSelectorOpIn, Values: []string{"eastus-1"}},
				}}}}}}
		})
		reconcilePod(arm)
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(arm), arm)).To(Succeed())
		Expect(arm.Spec.NodeName).To(BeEmpty())
		expectEvent("BurstRefused", "nodeAffinity", "amd64")

		pinned := pendingPod(rs, func(p *corev1.Pod) {
			p.Spec.NodeSelector = map[string]string{"karpenter.sh/nodepool": "general", corev1.LabelArchStable: "amd64"}
		})
		reconcilePod(pinned)
		Eventually(func(g Gomega) {
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(pinned), pinned)).To(Succeed())
			g.Expect(pinned.Spec.NodeName).To(Equal(burst.DefaultVirtualNodeName), "VM placement is the placeholder's to keep")
		}).Should(Succeed())
	})

	It("refuses a bare pod, which nothing would replace on a VM", func() {
		virtualNode(true, corev1.ConditionTrue, "10")
		pod := pendingPod(nil, nil)
		reconcilePod(pod)
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
		Expect(pod.Spec.NodeName).To(BeEmpty())
		expectEvent("BurstRefused", "metadata.ownerReferences")
	})

	It("ignores pods that did not opt in, and pods kube-scheduler has not given up on", func() {
		virtualNode(true, corev1.ConditionTrue, "10")
		rs := replicaSet()
		plain := pendingPod(rs, func(p *corev1.Pod) { p.Annotations = nil })
		nominated := pendingPod(rs, nil)
		nominated.Status.NominatedNodeName = "vm-9"
		Expect(env.Client.Status().Update(ctx, nominated)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nominated), nominated)).To(Succeed())
			g.Expect(nominated.Status.NominatedNodeName).NotTo(BeEmpty())
		}).Should(Succeed())
		reconcilePod(plain)
		reconcilePod(nominated)
		for _, p := range []*corev1.Pod{plain, nominated} {
			Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(p), p)).To(Succeed())
			Expect(p.Spec.NodeName).To(BeEmpty())
		}
		Consistently(recorder.Events).ShouldNot(Receive())
	})

	It("removes the placeholder when the burst pod goes away", func() {
		virtualNode(true, corev1.ConditionTrue, "10")
		pod, ph := burstPod(replicaSet())
		Expect(env.Client.Delete(ctx, pod)).To(Succeed()) // graceful: the virtual node would finish it
		Eventually(func(g Gomega) {
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
			g.Expect(pod.DeletionTimestamp).NotTo(BeNil())
		}).Should(Succeed())
		reconcilePod(pod)
		expectGone(ph)
	})

	It("makes the placeholder again when it was preempted", func() {
		virtualNode(true, corev1.ConditionTrue, "10")
		pod, ph := burstPod(replicaSet())
		Expect(env.Client.Delete(ctx, ph, client.GracePeriodSeconds(0))).To(Succeed())
		expectGone(ph)
		reconcilePod(pod)
		Eventually(func() error { return env.Client.Get(ctx, client.ObjectKeyFromObject(ph), &corev1.Pod{}) }).Should(Succeed())
	})
})
