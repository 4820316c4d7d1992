//go:build e2e

// Package imagedrift checks node image upgrades end to end: AKS publishes a
// newer node image in its community gallery (here through azuresim's admin
// API), the controller's next image refresh sees it, every node drifts, and
// karpenter core replaces them under the NodePool's disruption budget. While
// the gallery cannot be read, nothing drifts.
package imagedrift

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

const (
	nodeClassName = "imagedrift"
	nodePoolName  = "roll"
	namespace     = "imagedrift"
	// nodes is the fleet size: one pod per node.
	nodes = 6
	// budget is the NodePool's disruption budget.
	budget = "33%"
	// imageRefresh is how often the controller reads the galleries here
	// (an hour by default).
	imageRefresh = 5 * time.Second
)

var env *framework.Environment

func TestImageDrift(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Node image drift")
}

// VM creation and deletion take seconds (Azure's latencies / 20), so the
// budget, not the simulator, paces the roll.
var _ = framework.Suite(&env, framework.Options{Name: "imagedrift", TimeScale: 0.05,
	ControllerEnv: []string{"IMAGE_REFRESH_PERIOD=" + imageRefresh.String()}}, nodeClassName)

var _ = Describe("a newer node image in the gallery", func() {
	It("rolls every node onto it within the NodePool's disruption budget, and not while the gallery cannot be read", func(ctx SpecContext) {
		Expect(framework.Namespace(ctx, env.Client, namespace)).To(Succeed())
		pool := framework.NodePool(nodePoolName, nodeClassName,
			framework.Requirement(corev1.LabelInstanceTypeStable, "Standard_D2s_v5"),
			framework.Requirement(karpv1.CapacityTypeLabelKey, karpv1.CapacityTypeOnDemand))
		// Drift is the only disruption: no consolidation while the spec runs.
		pool.Spec.Disruption.ConsolidationPolicy = karpv1.ConsolidationPolicyWhenEmpty
		pool.Spec.Disruption.ConsolidateAfter = karpv1.MustParseNillableDuration("30m")
		pool.Spec.Disruption.Budgets = []karpv1.Budget{{Nodes: budget}}
		Expect(env.Client.Create(ctx, pool)).To(Succeed())
		// 1.2 CPU per pod: one pod per Standard_D2s_v5 (1.9 CPU allocatable).
		app := framework.Deployment(namespace, "app", nodePoolName, nodes, "1200m", "1Gi")
		Expect(env.Client.Create(ctx, app)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) {
			Expect(client.IgnoreNotFound(env.Client.Delete(ctx, app))).To(Succeed())
			Expect(client.IgnoreNotFound(env.Client.Delete(ctx, pool))).To(Succeed())
			Expect(env.Eventually(ctx, 3*time.Minute, "the pool's nodes gone", func(ctx context.Context) (bool, error) {
				n, c, err := framework.NodesOf(ctx, env.Client, nodePoolName)
				return n+c == 0, err
			})).To(Succeed())
		}, NodeTimeout(4*time.Minute))

		start := time.Now()
		Expect(env.Eventually(ctx, 5*time.Minute, fmt.Sprintf("%d pods Running on %d nodes", nodes, nodes), func(ctx context.Context) (bool, error) {
			running, total, err := framework.PodsRunning(ctx, env.Client, namespace)
			if err != nil || running != nodes || total != nodes {
				return false, err
			}
			f, err := fleet(ctx)
			return len(f.claims) == nodes && len(f.images) == 1 && f.readyNodes == nodes, err
		})).To(Succeed())
		f, err := fleet(ctx)
		Expect(err).NotTo(HaveOccurred())
		oldImage := f.claims[0].Status.ImageID
		gallery, definition, oldVersion := parseImageID(oldImage)
		Expect(definition).NotTo(BeEmpty(), "image ID %s", oldImage)
		GinkgoWriter.Printf("%d nodes on %s after %s\n", nodes, oldImage, time.Since(start).Round(time.Second))

		// AKS publishes a newer image while the gallery cannot be read: the
		// controller keeps what it knows and nothing drifts.
		newVersion := time.Now().UTC().Format("200601.02") + ".7"
		Expect(newVersion).NotTo(Equal(oldVersion))
		Expect(env.Sim.AddError(ctx, azuresim.ErrorRule{Operation: azuresim.OpListGalleryImageVersions, Code: "AuthorizationFailed", Status: 403})).To(Succeed())
		Expect(env.Sim.PublishImageVersion(ctx, gallery, definition, newVersion, azuresim.ImageVersionSpec{})).To(Succeed())
		Expect(env.Consistently(ctx, 4*imageRefresh, "no NodeClaim drifts or is disrupted while the gallery cannot be read", func(ctx context.Context) (bool, error) {
			f, err := fleet(ctx)
			if err != nil {
				return false, err
			}
			if f.drifted > 0 || f.disrupting > 0 || !slices.Equal(f.images, []string{oldImage}) {
				return false, fmt.Errorf("%d drifted, %d disrupting, images %v", f.drifted, f.disrupting, f.images)
			}
			return true, nil
		})).To(Succeed())
		stats, err := env.Sim.Stats(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(stats.Operations[azuresim.OpListGalleryImageVersions].StatusCodes).To(HaveKey("403"), "the controller kept listing during the outage")

		// The gallery is readable again: the next refresh sees the image
		// and the nodes roll, sampled continuously against the budget.
		newImage := imagefamily.ImageID(gallery, definition, newVersion)
		newLabel := imagefamily.NodeImageVersion(newImage)
		s := &sampler{}
		sampleCtx, stopSampling := context.WithCancel(context.Background())
		done := s.run(sampleCtx)
		Expect(env.Sim.UpdateConfig(ctx, func(c *azuresim.Config) { c.Errors = nil })).To(Succeed())
		rollStart := time.Now()
		err = env.Eventually(ctx, 15*time.Minute, "every node on "+newVersion, func(ctx context.Context) (bool, error) {
			f, err := fleet(ctx)
			if err != nil {
				return false, err
			}
			running, total, err := framework.PodsRunning(ctx, env.Client, namespace)
			return len(f.claims) == nodes && f.readyNodes == nodes && len(f.images) == 1 && f.images[0] == newImage &&
				len(f.labels) == 1 && f.labels[0] == newLabel && running == nodes && total == nodes, err
		})
		roll := time.Since(rollStart)
		stopSampling()
		<-done
		Expect(err).NotTo(HaveOccurred())

		staticAllowed := int(math.Ceil(0.33 * nodes))
		s.mu.Lock()
		defer s.mu.Unlock()
		GinkgoWriter.Printf("rolled %d nodes from %s to %s in %s: %d samples, at most %d nodes disrupted at once (budget %s: %d of %d nodes, up to %d while replacements count), %d drifted with reasons %v\n",
			nodes, oldVersion, newVersion, roll.Round(time.Second), s.samples, s.maxDisrupting, budget, staticAllowed, nodes, s.maxAllowed, len(s.driftedClaims), s.reasons)
		Expect(s.errs).To(BeEmpty())
		Expect(s.samples).To(BeNumerically(">", 10), "the sampler must have watched the roll")
		Expect(s.over).To(BeEmpty(), "more nodes disrupted at once than the budget allows")
		Expect(s.maxDisrupting).To(BeNumerically(">=", 1), "no node was ever seen being replaced")
		Expect(len(s.driftedClaims)).To(BeNumerically(">=", nodes), "every original node drifts")
		Expect(s.reasons).To(ConsistOf("ImageDrift"))

		var nc v1beta1.AKSNodeClass
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: nodeClassName}, &nc)).To(Succeed())
		Expect(nc.Status.Images).NotTo(BeEmpty())
		Expect(nc.Status.Images[0].ID).To(Equal(newImage))
		Expect(env.Monitor.Err()).NotTo(HaveOccurred())
	}, SpecTimeout(25*time.Minute))
})

// snapshot is the NodePool's fleet at one moment.
type snapshot struct {
	claims []karpv1.NodeClaim
	// images are the distinct NodeClaim image IDs, labels the distinct
	// node-image-version labels of the Nodes.
	images, labels []string
	readyNodes     int
	// initialized counts what karpenter core counts toward the budget:
	// initialized NodeClaims whose instance is not yet terminating.
	initialized int
	// disrupting counts those being replaced: marked with the disrupted
	// taint or deleting.
	disrupting int
	drifted    int
	driftedBy  map[string]string // NodeClaim -> drift reason
	details    []string
}

func fleet(ctx context.Context) (snapshot, error) {
	var s snapshot
	var claims karpv1.NodeClaimList
	if err := env.Client.List(ctx, &claims, client.MatchingLabels{karpv1.NodePoolLabelKey: nodePoolName}); err != nil {
		return s, err
	}
	var nodeList corev1.NodeList
	if err := env.Client.List(ctx, &nodeList, client.MatchingLabels{karpv1.NodePoolLabelKey: nodePoolName}); err != nil {
		return s, err
	}
	nodeByName := map[string]*corev1.Node{}
	labels := map[string]bool{}
	for i := range nodeList.Items {
		n := &nodeList.Items[i]
		nodeByName[n.Name] = n
		labels[n.Labels[v1beta1.AKSLabelNodeImageVersion]] = true
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				s.readyNodes++
			}
		}
	}
	images := map[string]bool{}
	s.driftedBy = map[string]string{}
	for _, c := range claims.Items {
		s.claims = append(s.claims, c)
		images[c.Status.ImageID] = true
		if d := c.StatusConditions().Get(karpv1.ConditionTypeDrifted); d.IsTrue() {
			s.drifted++
			s.driftedBy[c.Name] = d.Reason
		}
		if !c.StatusConditions().Get(karpv1.ConditionTypeInitialized).IsTrue() || c.StatusConditions().Get(karpv1.ConditionTypeInstanceTerminating).IsTrue() {
			continue
		}
		s.initialized++
		n := nodeByName[c.Status.NodeName]
		if !c.DeletionTimestamp.IsZero() || (n != nil && (!n.DeletionTimestamp.IsZero() || tainted(n))) {
			s.disrupting++
			s.details = append(s.details, fmt.Sprintf("%s (deleting=%t)", c.Name, !c.DeletionTimestamp.IsZero()))
		}
	}
	s.images = slices.Collect(maps.Keys(images))
	s.labels = slices.Collect(maps.Keys(labels))
	return s, nil
}

func tainted(n *corev1.Node) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == karpv1.DisruptedTaintKey {
			return true
		}
	}
	return false
}

// sampler watches the fleet during the roll and records every moment more
// nodes are being replaced than the budget allows, as karpenter core
// computes it: ceil(33% of the initialized nodes, replacements included).
type sampler struct {
	mu            sync.Mutex
	samples       int
	maxDisrupting int
	maxAllowed    int
	over          []string
	errs          []error
	driftedClaims map[string]bool
	reasons       []string
}

func (s *sampler) run(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	s.driftedClaims = map[string]bool{}
	go func() {
		defer close(done)
		defer GinkgoRecover()
		for ctx.Err() == nil {
			f, err := fleet(ctx)
			s.mu.Lock()
			switch {
			case err != nil && ctx.Err() == nil:
				s.errs = append(s.errs, err)
			case err == nil:
				s.samples++
				allowed := int(math.Ceil(0.33 * float64(f.initialized)))
				s.maxAllowed = max(s.maxAllowed, allowed)
				s.maxDisrupting = max(s.maxDisrupting, f.disrupting)
				if f.disrupting > allowed {
					s.over = append(s.over, fmt.Sprintf("%s: %d of %d initialized nodes disrupted, budget allows %d: %s",
						time.Now().Format(time.TimeOnly), f.disrupting, f.initialized, allowed, strings.Join(f.details, ", ")))
				}
				for claim, reason := range f.driftedBy {
					if !s.driftedClaims[claim] {
						s.driftedClaims[claim] = true
						if !slices.Contains(s.reasons, reason) {
							s.reasons = append(s.reasons, reason)
						}
					}
				}
			}
			s.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	return done
}

// parseImageID splits /CommunityGalleries/<gallery>/images/<definition>/versions/<version>.
func parseImageID(id string) (gallery, definition, version string) {
	p := strings.Split(strings.Trim(id, "/"), "/")
	if len(p) != 6 {
		return "", "", ""
	}
	return p[1], p[3], p[5]
}
