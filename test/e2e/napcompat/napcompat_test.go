//go:build e2e

package napcompat

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/controllers/nodeclass/termination"
	"github.com/azkarpenter/azkarpenter/pkg/localcluster"
	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

// ciliumStartupTaint is the startup taint NAP's examples put on nodes; the
// Cilium agent removes it once it runs on the node.
const ciliumStartupTaint = "node.cilium.io/agent-not-ready"

var _ = Describe("NAP's published examples", func() {
	It("apply unchanged and provision nodes labelled and tainted as NAP's are", Label("fast"), func(ctx SpecContext) {
		objs, err := localcluster.ReadObjects("testdata/nap-examples/*.yaml")
		Expect(err).NotTo(HaveOccurred())
		for _, o := range objs {
			// As kubectl does: namespaced objects without one go to the
			// context's namespace.
			if o.GetKind() == "Deployment" && o.GetNamespace() == "" {
				o.SetNamespace(metav1.NamespaceDefault)
			}
		}
		Expect(localcluster.Apply(ctx, env.Client, objs)).To(Succeed())
		inflate := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceDefault, Name: "inflate"}}
		addon := systemAddon()
		DeferCleanup(func(ctx SpecContext) {
			Expect(env.Cleanup(ctx, inflate, addon,
				&karpv1.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "general-purpose"}},
				&karpv1.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "system-surge"}},
				&v1beta1.AKSNodeClass{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
				&v1beta1.AKSNodeClass{ObjectMeta: metav1.ObjectMeta{Name: "system-surge"}})).To(Succeed())
		}, NodeTimeout(5*time.Minute))

		// The examples apply as NAP's users wrote them; both classes become
		// Ready with NAP's status fields.
		Expect(env.Eventually(ctx, 2*time.Minute, "the examples' AKSNodeClasses Ready", func(ctx context.Context) (bool, error) {
			for _, name := range []string{"default", "system-surge"} {
				var nc v1beta1.AKSNodeClass
				if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, &nc); err != nil {
					return false, err
				}
				if !nc.StatusConditions().Root().IsTrue() || len(nc.Status.Images) == 0 || nc.Status.KubernetesVersion == nil {
					return false, nil
				}
			}
			return true, nil
		})).To(Succeed())

		// Cilium's part: it removes its startup taint once its agent runs on
		// the node. Until then karpenter core does not count the node as
		// initialized, as on a NAP cluster.
		agentCtx, stopAgent := context.WithCancel(context.Background())
		DeferCleanup(stopAgent)
		go playCiliumAgent(agentCtx)

		// Scaled as NAP's documentation scales it: one CPU per replica. The
		// simulated pods keep their grace period when deleted (docs/e2e.md,
		// "What a simulated pod does"); the example's default 30 s would
		// only slow the cleanup's drain, so the pods get none.
		Expect(env.Client.Patch(ctx, inflate, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"replicas":5,"template":{"spec":{"terminationGracePeriodSeconds":0}}}}`)))).To(Succeed())
		Expect(env.Client.Create(ctx, addon)).To(Succeed())
		Expect(env.WaitPodsRunning(ctx, metav1.NamespaceDefault, 6, 4*time.Minute)).To(Succeed())
		// Pods run as soon as Cilium's taint is gone; karpenter core labels
		// the node initialized in its own reconcile, a moment later.
		Expect(env.Eventually(ctx, time.Minute, "the pods' nodes initialized", func(ctx context.Context) (bool, error) {
			pods, err := framework.Pods(ctx, env.Client, metav1.NamespaceDefault)
			if err != nil {
				return false, err
			}
			for _, pod := range pods {
				node, err := framework.NodeOf(ctx, env.Client, &pod)
				if err != nil || node.Labels[karpv1.NodeInitializedLabelKey] != "true" {
					return false, err
				}
			}
			return true, nil
		})).To(Succeed())

		pods, err := framework.Pods(ctx, env.Client, metav1.NamespaceDefault)
		Expect(err).NotTo(HaveOccurred())
		for _, pod := range pods {
			node, err := framework.NodeOf(ctx, env.Client, &pod)
			Expect(err).NotTo(HaveOccurred())
			pool, mode := "general-purpose", "user"
			if pod.Name == addon.Name {
				pool, mode = "system-surge", "system"
				Expect(node.Spec.Taints).To(ContainElement(corev1.Taint{Key: "CriticalAddonsOnly", Value: "true", Effect: corev1.TaintEffectNoSchedule}))
			}
			Expect(node.Labels).To(And(
				HaveKeyWithValue(karpv1.NodePoolLabelKey, pool),
				HaveKeyWithValue(karpv1.NodeInitializedLabelKey, "true"),
				HaveKeyWithValue(v1beta1.AKSLabelEBPFDataplane, "cilium"),
				HaveKeyWithValue(v1beta1.AKSLabelMode, mode),
				HaveKeyWithValue(corev1.LabelArchStable, "amd64"),
				HaveKeyWithValue(corev1.LabelOSStable, "linux"),
				HaveKeyWithValue(karpv1.CapacityTypeLabelKey, karpv1.CapacityTypeOnDemand),
				HaveKeyWithValue(v1beta1.LabelSKUFamily, "D"),
				HaveKeyWithValue(v1beta1.AKSLabelOSSKU, "Ubuntu"),
				HaveKeyWithValue(v1beta1.LabelSKUName, node.Labels[corev1.LabelInstanceTypeStable]),
			), "node %s of pod %s", node.Name, pod.Name)
			Expect(node.Labels[corev1.LabelInstanceTypeStable]).To(HavePrefix("Standard_D"))
			Expect(lo.ContainsBy(node.Spec.Taints, func(t corev1.Taint) bool { return t.Key == ciliumStartupTaint })).To(BeFalse())
			vm, err := env.VMOfNode(ctx, node)
			Expect(err).NotTo(HaveOccurred())
			Expect(vm.Size).To(Equal(node.Labels[corev1.LabelInstanceTypeStable]))
			Expect(vm.CapacityType).To(Equal(karpv1.CapacityTypeOnDemand))
		}
		Expect(env.Monitor.Err()).NotTo(HaveOccurred())
	}, SpecTimeout(12*time.Minute))
})

var _ = Describe("an AKSNodeClass over its life", func() {
	const name, ns = "lifecycle", "lifecycle"

	It("changes the tags of running VMs and NICs in place, and is deleted only after its NodeClaims", func(ctx SpecContext) {
		nc := framework.NodeClass(name)
		nc.Spec.Tags = map[string]string{"team": "a", "env": "dev"}
		pool := framework.NodePool(name, name,
			framework.Requirement(corev1.LabelInstanceTypeStable, "Standard_D2s_v5"),
			framework.Requirement(karpv1.CapacityTypeLabelKey, karpv1.CapacityTypeOnDemand))
		// Nothing but this spec disrupts nodes while it runs.
		pool.Spec.Disruption.ConsolidationPolicy = karpv1.ConsolidationPolicyWhenEmpty
		pool.Spec.Disruption.ConsolidateAfter = karpv1.MustParseNillableDuration("30m")
		// 1.2 CPU per pod: one pod per Standard_D2s_v5.
		app := framework.Deployment(ns, "app", name, 3, "1200m", "1Gi")
		env.Run(ctx, ns, 3, nc, pool, app)

		claims := func(ctx context.Context) ([]karpv1.NodeClaim, error) {
			_, cs, err := framework.PoolNodes(ctx, env.Client, name)
			return cs, err
		}
		before, err := claims(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(before).To(HaveLen(3))
		names := lo.Map(before, func(c karpv1.NodeClaim, _ int) string { return c.Name })
		vms, err := env.VMsOf(ctx, name)
		Expect(err).NotTo(HaveOccurred())
		for _, vm := range vms {
			Expect(vm.Tags).To(And(HaveKeyWithValue("team", "a"), HaveKeyWithValue("env", "dev")))
		}

		// New tags, one changed, one added, one removed.
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
		nc.Spec.Tags = map[string]string{"team": "b", "cost-center": "42"}
		Expect(env.Client.Update(ctx, nc)).To(Succeed())
		start := time.Now()
		Expect(env.Eventually(ctx, 2*time.Minute, "the new tags on every VM and NIC", func(ctx context.Context) (bool, error) {
			st, err := env.Sim.State(ctx)
			if err != nil {
				return false, err
			}
			return tagsUpdated(st, name) == 3, nil
		})).To(Succeed())
		GinkgoWriter.Printf("tags updated on 3 VMs and their NICs %s after the change\n", time.Since(start).Round(100*time.Millisecond))

		// In place: the same NodeClaims, none drifted, none disrupted.
		Expect(env.Consistently(ctx, 20*time.Second, "the tag change replaces no node", func(ctx context.Context) (bool, error) {
			now, err := claims(ctx)
			if err != nil {
				return false, err
			}
			for _, c := range now {
				if !c.DeletionTimestamp.IsZero() || c.StatusConditions().Get(karpv1.ConditionTypeDrifted).IsTrue() {
					return false, nil
				}
			}
			return lo.ElementsMatch(lo.Map(now, func(c karpv1.NodeClaim, _ int) string { return c.Name }), names), nil
		})).To(Succeed())

		// Deleting the class while the pool's NodeClaims use it waits for
		// them, and says which.
		Expect(env.Client.Delete(ctx, nc)).To(Succeed())
		Expect(env.Eventually(ctx, time.Minute, "an event naming the NodeClaims the deletion waits on", func(ctx context.Context) (bool, error) {
			var evs corev1.EventList
			if err := env.Client.List(ctx, &evs, client.MatchingFields{"involvedObject.name": name}); err != nil {
				return false, err
			}
			return lo.ContainsBy(evs.Items, func(e corev1.Event) bool {
				return e.Reason == termination.ReasonWaitingOnNodeClaimTermination && e.InvolvedObject.Kind == "AKSNodeClass" &&
					lo.SomeBy(names, func(n string) bool { return strings.Contains(e.Message, n) })
			}), nil
		})).To(Succeed())
		Expect(env.Consistently(ctx, 10*time.Second, "the AKSNodeClass and its nodes stay while NodeClaims use it", func(ctx context.Context) (bool, error) {
			var got v1beta1.AKSNodeClass
			if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, &got); err != nil {
				return false, err
			}
			now, err := claims(ctx)
			return !got.DeletionTimestamp.IsZero() && len(now) == 3, err
		})).To(Succeed())

		// Once the NodePool and its nodes are gone, so is the class.
		Expect(env.Client.Delete(ctx, pool)).To(Succeed())
		Expect(env.Eventually(ctx, 4*time.Minute, "the AKSNodeClass gone after its NodeClaims", func(ctx context.Context) (bool, error) {
			err := env.Client.Get(ctx, client.ObjectKey{Name: name}, &v1beta1.AKSNodeClass{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return false, err
		})).To(Succeed())
		vms, err = env.VMsOf(ctx, name)
		Expect(err).NotTo(HaveOccurred())
		Expect(vms).To(BeEmpty())
		Expect(env.Monitor.Err()).NotTo(HaveOccurred())
	}, SpecTimeout(10*time.Minute))
})

// tagsUpdated counts the pool's VMs that, with their NICs, carry the new
// tags, not the removed one, and still the ownership tags.
func tagsUpdated(st azuresim.State, pool string) int {
	nics := lo.SliceToMap(st.NICs, func(n azuresim.NICState) (string, azuresim.NICState) { return strings.ToLower(n.ID), n })
	want := func(tags map[string]string) bool {
		_, removed := tags["env"]
		return tags["team"] == "b" && tags["cost-center"] == "42" && !removed && tags[framework.TagNodePool] == pool && tags[framework.TagNodeClaim] != ""
	}
	n := 0
	for _, vm := range st.VMs {
		if vm.Tags[framework.TagNodePool] != pool || !want(vm.Tags) || len(vm.NICs) == 0 {
			continue
		}
		if lo.EveryBy(vm.NICs, func(id string) bool { nic, ok := nics[strings.ToLower(id)]; return ok && want(nic.Tags) }) {
			n++
		}
	}
	return n
}

// systemAddon is a pod as AKS's system add-ons are scheduled: onto system
// nodes, tolerating CriticalAddonsOnly. It names the surge pool too: as in
// NAP, every NodePool's instance types allow kubernetes.azure.com/mode
// system or user, so without it karpenter core may serve the pod from
// general-purpose (first by name) with a node labelled system.
func systemAddon() *corev1.Pod {
	p := framework.Pod(metav1.NamespaceDefault, "system-addon", "", "500m", "512Mi")
	p.Spec.NodeSelector = map[string]string{v1beta1.AKSLabelMode: "system", karpv1.NodePoolLabelKey: "system-surge"}
	p.Spec.Tolerations = []corev1.Toleration{{Key: "CriticalAddonsOnly", Operator: corev1.TolerationOpExists}}
	return p
}

// playCiliumAgent removes Cilium's startup taint from every registered
// node, as Cilium's agent does once it starts on the node.
func playCiliumAgent(ctx context.Context) {
	defer GinkgoRecover()
	for ctx.Err() == nil {
		var nodes corev1.NodeList
		if err := env.Client.List(ctx, &nodes); err == nil {
			for _, n := range nodes.Items {
				if !lo.ContainsBy(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == ciliumStartupTaint }) {
					continue
				}
				patched := n.DeepCopy()
				patched.Spec.Taints = lo.Reject(n.Spec.Taints, func(t corev1.Taint, _ int) bool { return t.Key == ciliumStartupTaint })
				if err := env.Client.Patch(ctx, patched, client.MergeFromWithOptions(&n, client.MergeFromWithOptimisticLock{})); err != nil && ctx.Err() == nil {
					fmt.Fprintf(GinkgoWriter, "cilium agent: %s: %v\n", n.Name, err)
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}
