//go:build e2e

package drain

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

// podTimes is when a pod was first seen Terminating and first seen gone.
type podTimes struct{ terminating, gone time.Time }

// trackPods samples the pods every 200 ms until every one is gone (or the
// timeout passes) and returns when each started Terminating and went.
func trackPods(ctx context.Context, timeout time.Duration, pods ...*corev1.Pod) map[string]*podTimes {
	GinkgoHelper()
	seen := map[string]*podTimes{}
	for _, p := range pods {
		seen[p.Name] = &podTimes{}
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for {
		done := true
		for _, p := range pods {
			t := seen[p.Name]
			if !t.gone.IsZero() {
				continue
			}
			var now corev1.Pod
			err := env.Client.Get(ctx, client.ObjectKeyFromObject(p), &now)
			switch {
			case apierrors.IsNotFound(err):
				t.gone = time.Now()
				if t.terminating.IsZero() {
					t.terminating = t.gone
				}
				continue
			case err != nil:
				Fail(err.Error())
			case now.DeletionTimestamp != nil && t.terminating.IsZero():
				t.terminating = time.Now()
			}
			done = false
		}
		if done {
			return seen
		}
		select {
		case <-tick.C:
		case <-deadline:
			Fail(fmt.Sprintf("pods not all gone after %s: %s", timeout, describeTimes(seen)))
		case <-ctx.Done():
			Fail(ctx.Err().Error())
		}
	}
}

func describeTimes(seen map[string]*podTimes) string {
	return fmt.Sprint(lo.MapValues(seen, func(t *podTimes, _ string) string {
		return fmt.Sprintf("terminating %s gone %s", t.terminating.Format("15:04:05.0"), t.gone.Format("15:04:05.0"))
	}))
}

// onlyNodeClaim returns the NodePool's one NodeClaim.
func onlyNodeClaim(ctx context.Context, pool string) *karpv1.NodeClaim {
	GinkgoHelper()
	_, claims, err := framework.PoolNodes(ctx, env.Client, pool)
	Expect(err).NotTo(HaveOccurred())
	Expect(claims).To(HaveLen(1))
	return &claims[0]
}

var _ = Describe("drain", func() {
	// karpenter core drains a node in groups: non-critical pods, then
	// non-critical DaemonSet pods, then critical (system-*-critical) pods,
	// each group gone before the next is evicted. With the simulated pods
	// keeping their grace period, each group takes its grace period.
	It("evicts by priority, each group after the one before is gone, each pod after its grace period", func(ctx SpecContext) {
		ns, pool := "drain-order", "drain-order"
		const grace = 8
		np := framework.NodePool(pool, "default")
		np.Spec.Disruption.ConsolidateAfter = karpv1.MustParseNillableDuration("Never")
		withGrace := func(p *corev1.Pod) *corev1.Pod {
			p.Spec.TerminationGracePeriodSeconds = lo.ToPtr[int64](grace)
			return p
		}
		app := withGrace(framework.Pod(ns, "app", pool, "500m", "512Mi"))
		critical := withGrace(framework.Pod(ns, "critical", pool, "500m", "512Mi"))
		critical.Spec.PriorityClassName = "system-cluster-critical"
		dsPod := framework.Pod(ns, "agent", pool, "100m", "128Mi")
		dsPod.Spec.TerminationGracePeriodSeconds = lo.ToPtr[int64](grace)
		ds := &appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "agent"},
			Spec: appsv1.DaemonSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}}, Spec: dsPod.Spec},
			},
		}
		// Created together, the two pods share one node; the DaemonSet's pod
		// joins them there.
		env.Run(ctx, ns, 3, np, ds, app, critical)
		pods, err := framework.Pods(ctx, env.Client, ns, client.MatchingLabels{"app": "agent"})
		Expect(err).NotTo(HaveOccurred())
		Expect(pods).To(HaveLen(1))
		agent := &pods[0]
		for _, p := range []*corev1.Pod{app, critical} {
			Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(p), p)).To(Succeed())
			Expect(p.Spec.NodeName).To(Equal(agent.Spec.NodeName))
		}

		claim := onlyNodeClaim(ctx, pool)
		vm, err := env.VMOfNode(ctx, &corev1.Node{Spec: corev1.NodeSpec{ProviderID: claim.Status.ProviderID}})
		Expect(err).NotTo(HaveOccurred())
		vmID := vm.ID
		Expect(env.Client.Delete(ctx, claim)).To(Succeed())
		times := trackPods(ctx, 3*time.Minute, app, agent, critical)
		GinkgoWriter.Printf("drain: %s\n", describeTimes(times))
		order := []string{app.Name, agent.Name, critical.Name}
		for i, name := range order {
			t := times[name]
			// deletionTimestamp has whole seconds (a pod may go up to 1 s
			// early) and the sampling adds up to a few hundred ms.
			Expect(t.gone.Sub(t.terminating)).To(BeNumerically(">=", (grace-2)*time.Second), "pod %s went before its grace period ended", name)
			if i > 0 {
				before := times[order[i-1]]
				Expect(t.terminating).To(BeTemporally(">=", before.gone.Add(-300*time.Millisecond)), "pod %s was evicted before %s was gone", name, order[i-1])
			}
		}
		// Core launches capacity for the evicted pods while the node drains
		// (a new NodeClaim of the pool may stay, empty): only the drained
		// NodeClaim and its VM must go.
		Expect(env.Eventually(ctx, 2*time.Minute, "the drained NodeClaim and its VM gone", func(ctx context.Context) (bool, error) {
			err := env.Client.Get(ctx, client.ObjectKeyFromObject(claim), &karpv1.NodeClaim{})
			if !apierrors.IsNotFound(err) {
				return false, client.IgnoreNotFound(err)
			}
			vms, err := env.VMsOf(ctx, pool)
			return err == nil && !lo.ContainsBy(vms, func(v azuresim.VMState) bool { return v.ID == vmID }), err
		})).To(Succeed())
	})

	// A do-not-disrupt pod blocks the drain until the NodePool's
	// terminationGracePeriod is about to end: core deletes it so that its
	// own grace period ends with the node's.
	It("keeps a do-not-disrupt pod until the NodePool's terminationGracePeriod less its own grace period", func(ctx SpecContext) {
		ns, pool := "tgp", "tgp"
		const nodeGrace, podGrace = 30, 10
		np := framework.NodePool(pool, "default")
		np.Spec.Disruption.ConsolidateAfter = karpv1.MustParseNillableDuration("Never")
		np.Spec.Template.Spec.TerminationGracePeriod = &metav1.Duration{Duration: nodeGrace * time.Second}
		pod := framework.Pod(ns, "pinned", pool, "500m", "512Mi")
		pod.Annotations = map[string]string{karpv1.DoNotDisruptAnnotationKey: "true"}
		pod.Spec.TerminationGracePeriodSeconds = lo.ToPtr[int64](podGrace)
		env.Run(ctx, ns, 1, np, pod)

		claim := onlyNodeClaim(ctx, pool)
		Expect(env.Client.Delete(ctx, claim)).To(Succeed())
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(claim), claim)).To(Succeed())
		Expect(claim.DeletionTimestamp).NotTo(BeNil())
		deleted := claim.DeletionTimestamp.Time
		times := trackPods(ctx, 2*time.Minute, pod)[pod.Name]
		GinkgoWriter.Printf("NodeClaim deleted %s; pod terminating %s, gone %s\n", deleted.Format("15:04:05"), times.terminating.Format("15:04:05.0"), times.gone.Format("15:04:05.0"))
		// The NodeClaim's deletionTimestamp has whole seconds, as the pod's.
		Expect(times.terminating).To(BeTemporally(">=", deleted.Add((nodeGrace-podGrace-1)*time.Second)), "the do-not-disrupt pod was deleted before the NodePool's terminationGracePeriod less its own")
		// Whole-second timestamps and the 200 ms sampling: 2 s of slack.
		Expect(times.gone.Sub(times.terminating)).To(BeNumerically(">=", (podGrace-2)*time.Second), "the pod went before its grace period ended")
		Expect(times.gone).To(BeTemporally("<=", deleted.Add((nodeGrace+5)*time.Second)), "the pod outlived the NodePool's terminationGracePeriod")
		Expect(env.Eventually(ctx, 2*time.Minute, "the node and its NodeClaim gone", func(ctx context.Context) (bool, error) {
			nodes, claims, err := framework.PoolNodes(ctx, env.Client, pool)
			return err == nil && len(nodes)+len(claims) == 0, err
		})).To(Succeed())
	})
})

var _ = Describe("drift and unhealthy PodDisruptionBudgets", func() {
	// Pods whose readiness probe never passes (kwok's unhealthy stage) keep
	// their PDB unhealthy; core must not drift their nodes.
	It("disrupts no drifted node while the PDB of its pods is unhealthy", func(ctx SpecContext) {
		ns, pool := "drift-pdb", "drift-pdb"
		np := framework.NodePool(pool, "default")
		np.Spec.Disruption.ConsolidateAfter = karpv1.MustParseNillableDuration("Never")
		dep := framework.AntiAffineDeployment(ns, "unready", pool, 2, "500m", "512Mi")
		dep.Spec.Template.Labels["kwok.x-k8s.io/stage"] = "unhealthy"
		pdb := &policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "unready"},
			Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: lo.ToPtr(intstr.FromInt32(1)),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "unready"}}},
		}
		// Running, never Ready.
		env.Run(ctx, ns, 2, np, dep, pdb)
		// Before the cleanup drains the nodes: the PDB would block it.
		DeferCleanup(func(ctx SpecContext) { Expect(client.IgnoreNotFound(env.Client.Delete(ctx, pdb))).To(Succeed()) })
		pods, err := framework.Pods(ctx, env.Client, ns)
		Expect(err).NotTo(HaveOccurred())
		Expect(lo.CountBy(pods, func(p corev1.Pod) bool { return podReady(&p) })).To(BeZero(), "pods labelled unhealthy are Ready")
		Expect(env.Eventually(ctx, time.Minute, "the PDB to allow no disruption", func(ctx context.Context) (bool, error) {
			err := env.Client.Get(ctx, client.ObjectKeyFromObject(pdb), pdb)
			return err == nil && pdb.Status.ObservedGeneration == pdb.Generation && pdb.Status.CurrentHealthy == 0 && pdb.Status.DisruptionsAllowed == 0, err
		})).To(Succeed())
		_, claims, err := framework.PoolNodes(ctx, env.Client, pool)
		Expect(err).NotTo(HaveOccurred())
		Expect(claims).To(HaveLen(2))
		names := lo.Map(claims, func(c karpv1.NodeClaim, _ int) string { return c.Name })

		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(np), np)).To(Succeed())
		np.Spec.Template.Annotations = map[string]string{"e2e/drift": "1"}
		Expect(env.Client.Update(ctx, np)).To(Succeed())
		Expect(env.Eventually(ctx, 2*time.Minute, "both NodeClaims Drifted", func(ctx context.Context) (bool, error) {
			_, claims, err := framework.PoolNodes(ctx, env.Client, pool)
			return err == nil && len(claims) == 2 && lo.EveryBy(claims, func(c karpv1.NodeClaim) bool {
				return c.StatusConditions().IsTrue(karpv1.ConditionTypeDrifted)
			}), err
		})).To(Succeed())
		// karpenter core's disruption loop runs every few seconds: a minute
		// is many chances (core's own spec waits as long).
		Expect(env.Consistently(ctx, time.Minute, "the drifted nodes stay, none tainted for disruption", func(ctx context.Context) (bool, error) {
			nodes, claims, err := framework.PoolNodes(ctx, env.Client, pool)
			return err == nil && len(claims) == 2 && lo.Every(names, lo.Map(claims, func(c karpv1.NodeClaim, _ int) string { return c.Name })) &&
				!lo.ContainsBy(nodes, func(n corev1.Node) bool {
					return lo.ContainsBy(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == karpv1.DisruptedTaintKey })
				}), err
		})).To(Succeed())
	})
})
