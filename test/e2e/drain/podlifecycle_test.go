//go:build e2e

package drain

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

// podReady says whether the pod's Ready condition is True.
func podReady(pod *corev1.Pod) bool {
	return lo.ContainsBy(pod.Status.Conditions, func(c corev1.PodCondition) bool {
		return c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue
	})
}

// The local cluster's kwok pod stages (pkg/localcluster/kwok.yaml, docs/e2e.md
// "What a simulated pod does") keep a deleted pod until its grace period ends.
var _ = Describe("pod lifecycle", func() {
	It("keeps a pod deleted with a 30 s grace period Terminating and Ready for 30 s, then removes it", Label("fast"), func(ctx SpecContext) {
		ns, pool := "grace", "grace"
		np := framework.NodePool(pool, "default")
		pod := framework.Pod(ns, "app", pool, "1", "1Gi")
		pod.Spec.TerminationGracePeriodSeconds = lo.ToPtr[int64](30)
		env.Run(ctx, ns, 1, np, pod)

		Expect(env.Client.Delete(ctx, pod)).To(Succeed())
		deleted := time.Now()
		key := client.ObjectKeyFromObject(pod)
		Expect(env.Client.Get(ctx, key, pod)).To(Succeed())
		Expect(pod.DeletionTimestamp).NotTo(BeNil())
		Expect(pod.DeletionGracePeriodSeconds).To(HaveValue(BeEquivalentTo(30)))
		// deletionTimestamp is stored in whole seconds, so the pod may go up
		// to a second before 30 s have passed since the Delete call.
		Expect(env.Consistently(ctx, 29*time.Second-time.Since(deleted), "the pod Terminating, Running and Ready", func(ctx context.Context) (bool, error) {
			err := env.Client.Get(ctx, key, pod)
			return err == nil && pod.DeletionTimestamp != nil && pod.Status.Phase == corev1.PodRunning && podReady(pod), err
		})).To(Succeed())
		Expect(env.Eventually(ctx, 15*time.Second, "the pod gone once its grace period ended", func(ctx context.Context) (bool, error) {
			err := env.Client.Get(ctx, key, pod)
			return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
		})).To(Succeed())
		GinkgoWriter.Printf("the pod deleted with a 30 s grace period went after %s\n", time.Since(deleted).Round(100*time.Millisecond))
	})
})
