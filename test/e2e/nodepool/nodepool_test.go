//go:build e2e

package nodepool

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/aksnodepool"
	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

// poolNodes are the Nodes of an AKS-style pool (both of its NodePools).
func poolNodes(ctx context.Context, pool string) []corev1.Node {
	GinkgoHelper()
	var nodes corev1.NodeList
	Expect(env.Client.List(ctx, &nodes, client.MatchingLabels{aksnodepool.LabelAgentPool: pool})).To(Succeed())
	return nodes.Items
}

func poolClaims(ctx context.Context, pool string) []karpv1.NodeClaim {
	GinkgoHelper()
	var claims karpv1.NodeClaimList
	Expect(env.Client.List(ctx, &claims, client.MatchingLabels{aksnodepool.LabelAgentPool: pool})).To(Succeed())
	return claims.Items
}

func ready(n corev1.Node) bool {
	return lo.ContainsBy(n.Status.Conditions, func(c corev1.NodeCondition) bool {
		return c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
	})
}

// waitNodes waits until the pool has exactly want Ready nodes and NodeClaims.
func waitNodes(ctx context.Context, pool string, want int) []corev1.Node {
	GinkgoHelper()
	var nodes []corev1.Node
	Expect(env.Eventually(ctx, 4*time.Minute, fmt.Sprintf("%d ready nodes in pool %s", want, pool), func(ctx context.Context) (bool, error) {
		nodes = poolNodes(ctx, pool)
		claims := poolClaims(ctx, pool)
		return len(nodes) == want && len(claims) == want && lo.EveryBy(nodes, ready), nil
	})).To(Succeed())
	return nodes
}

// deletePool deletes the pool with the CLI and waits until its nodes and VMs
// are gone.
func deletePool(ctx context.Context, pool string) {
	GinkgoHelper()
	_, err := nodepool(ctx, "delete", "--name", pool, "--timeout", "4m")
	Expect(err).NotTo(HaveOccurred())
	Expect(env.Eventually(ctx, 4*time.Minute, "pool "+pool+" without nodes or VMs", func(ctx context.Context) (bool, error) {
		st, err := env.Sim.State(ctx)
		if err != nil {
			return false, err
		}
		vms := lo.Filter(st.VMs, func(vm azuresim.VMState, _ int) bool {
			return vm.Tags[framework.TagNodePool] == pool || vm.Tags[framework.TagNodePool] == pool+aksnodepool.AutoscaleSuffix
		})
		return len(poolNodes(ctx, pool)) == 0 && len(vms) == 0, nil
	})).To(Succeed())
	var nps karpv1.NodePoolList
	Expect(env.Client.List(ctx, &nps, client.MatchingLabels{aksnodepool.LabelPool: pool})).To(Succeed())
	Expect(nps.Items).To(BeEmpty())
}

// expectNodes checks every node of a pool: its size, capacity type, OS,
// labels and taints, and that its VM in azuresim agrees.
func expectNodes(ctx context.Context, nodes []corev1.Node, size, capacityType, os string, labels map[string]string, taints ...corev1.Taint) {
	GinkgoHelper()
	for _, n := range nodes {
		Expect(n.Labels).To(HaveKeyWithValue(corev1.LabelInstanceTypeStable, size), n.Name)
		Expect(n.Labels).To(HaveKeyWithValue(karpv1.CapacityTypeLabelKey, capacityType), n.Name)
		Expect(n.Labels).To(HaveKeyWithValue(corev1.LabelOSStable, os), n.Name)
		for k, v := range labels {
			Expect(n.Labels).To(HaveKeyWithValue(k, v), n.Name)
		}
		for _, t := range taints {
			Expect(n.Spec.Taints).To(ContainElement(t), n.Name)
		}
		vm, err := env.VMOfNode(ctx, &n)
		Expect(err).NotTo(HaveOccurred())
		Expect(vm.Size).To(Equal(size))
		Expect(vm.CapacityType).To(Equal(capacityType))
		Expect(strings.ToLower(vm.OSType)).To(Equal(os))
	}
}

func listPools(ctx context.Context) map[string]aksnodepool.Status {
	GinkgoHelper()
	out, err := nodepool(ctx, "list", "-o", "json")
	Expect(err).NotTo(HaveOccurred())
	var rows []aksnodepool.Status
	Expect(json.Unmarshal([]byte(out[strings.Index(out, "["):]), &rows)).To(Succeed(), out)
	return lo.SliceToMap(rows, func(s aksnodepool.Status) (string, aksnodepool.Status) { return s.Name, s })
}

var _ = Describe("az aks nodepool add --node-count 3, then scale --node-count 5", func() {
	It("keeps exactly 3, then 5, Standard_D8ds_v4 nodes, lists and deletes the pool", Label("fast"), func(ctx SpecContext) {
		DeferCleanup(deletePool, "mynodepool", NodeTimeout(5*time.Minute))
		_, err := article(ctx, `az aks nodepool add --resource-group myResourceGroup --cluster-name myAKSCluster --node-vm-size Standard_D8ds_v4 --name mynodepool --node-count 3`)
		Expect(err).NotTo(HaveOccurred())
		nodes := waitNodes(ctx, "mynodepool", 3)
		expectNodes(ctx, nodes, "Standard_D8ds_v4", karpv1.CapacityTypeOnDemand, "linux", map[string]string{aksnodepool.LabelAgentPool: "mynodepool", v1beta1.AKSLabelMode: "user"})

		// A static pool keeps its count with no pod asking for it.
		Expect(env.Consistently(ctx, 10*time.Second, "mynodepool keeps 3 nodes", func(ctx context.Context) (bool, error) {
			return len(poolClaims(ctx, "mynodepool")) == 3, nil
		})).To(Succeed())

		_, err = article(ctx, `az aks nodepool scale --resource-group myResourceGroup --cluster-name myAKSCluster --name mynodepool --node-count 5`)
		Expect(err).NotTo(HaveOccurred())
		nodes = waitNodes(ctx, "mynodepool", 5)
		expectNodes(ctx, nodes, "Standard_D8ds_v4", karpv1.CapacityTypeOnDemand, "linux", nil)

		row := listPools(ctx)["mynodepool"]
		Expect(row.Count).To(Equal(5))
		Expect(row.Ready).To(Equal(5))
		Expect(row.Desired).To(Equal(5))
		Expect(row.VMSizes).To(Equal([]string{"Standard_D8ds_v4"}))
		Expect(row.Priority).To(Equal("Regular"))
		Expect(row.EnableAutoScaling).To(BeFalse())
		linux, _, err := env.RetailPrices(ctx, "Standard_D8ds_v4")
		Expect(err).NotTo(HaveOccurred())
		Expect(row.PricePerHour).To(BeNumerically("~", 5*linux, 1e-6))
		table, err := nodepool(ctx, "list")
		Expect(err).NotTo(HaveOccurred())
		Expect(table).To(MatchRegexp(`mynodepool\s+User\s+Linux \(Ubuntu\)\s+Standard_D8ds_v4\s+Regular\s+5/5\s+-\s+10%`))
	})
})

var _ = Describe("the article's NC6 pool", func() {
	It("is refused at once, naming the retirement and the family's current sizes", Label("fast"), func(ctx SpecContext) {
		out, err := article(ctx, `az aks nodepool add --resource-group myResourceGroup --cluster-name myAKSCluster --name mynodepool --node-vm-size Standard_NC6 --node-taints sku=gpu:NoSchedule --labels dept=IT costcenter=9999`)
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("Standard_NC6: Azure retired the NC-series (v1) on 2023-09-06"))
		Expect(out).To(ContainSubstring("Standard_NC6s_v3"))
		var nps karpv1.NodePoolList
		Expect(env.Client.List(ctx, &nps, client.MatchingLabels{aksnodepool.LabelPool: "mynodepool"})).To(Succeed())
		Expect(nps.Items).To(BeEmpty())

		// The same flags on a current size of the family: taints and labels on every node.
		DeferCleanup(deletePool, "gpupool", NodeTimeout(5*time.Minute))
		_, err = nodepool(ctx, "add", "--name", "gpupool", "--node-vm-size", "Standard_NC6s_v3", "--node-count", "1", "--node-taints", "sku=gpu:NoSchedule", "--labels", "dept=IT", "costcenter=9999")
		Expect(err).NotTo(HaveOccurred())
		nodes := waitNodes(ctx, "gpupool", 1)
		expectNodes(ctx, nodes, "Standard_NC6s_v3", karpv1.CapacityTypeOnDemand, "linux", map[string]string{"dept": "IT", "costcenter": "9999"},
			corev1.Taint{Key: "sku", Value: "gpu", Effect: corev1.TaintEffectNoSchedule})
	})
})

var _ = Describe("a spot pool with the cluster autoscaler, 1 to 3", func() {
	It("keeps 1 spot node, grows to 3 for pending pods and never beyond", func(ctx SpecContext) {
		DeferCleanup(deletePool, "myspotpool", NodeTimeout(5*time.Minute))
		// The article's name (myspotnodepool) is 14 characters, over AKS's 12.
		out, err := article(ctx, `az aks nodepool add --resource-group myResourceGroup --cluster-name myAKSCluster --name myspotnodepool --node-vm-size Standard_D8ds_v4 --priority Spot --eviction-policy Delete --spot-max-price -1 --enable-cluster-autoscaler --min-count 1 --max-count 3 --no-wait`)
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("at most 12 lowercase letters and digits"))
		_, err = article(ctx, `az aks nodepool add --resource-group myResourceGroup --cluster-name myAKSCluster --name myspotpool --node-vm-size Standard_D8ds_v4 --priority Spot --eviction-policy Delete --spot-max-price -1 --enable-cluster-autoscaler --min-count 1 --max-count 3 --no-wait`)
		Expect(err).NotTo(HaveOccurred())
		spotTaint := corev1.Taint{Key: v1beta1.AKSLabelScaleSetPriority, Value: "spot", Effect: corev1.TaintEffectNoSchedule}
		nodes := waitNodes(ctx, "myspotpool", 1)
		expectNodes(ctx, nodes, "Standard_D8ds_v4", karpv1.CapacityTypeSpot, "linux", map[string]string{v1beta1.AKSLabelScaleSetPriority: "spot"}, spotTaint)

		// The floor survives a spot eviction: the static NodePool replaces the node.
		vm, err := env.VMOfNode(ctx, &nodes[0])
		Expect(err).NotTo(HaveOccurred())
		Expect(env.Sim.Evict(ctx, vm.ID, time.Second)).To(Succeed())
		Expect(env.Eventually(ctx, 3*time.Minute, "a new spot node in place of the evicted one", func(ctx context.Context) (bool, error) {
			now := poolNodes(ctx, "myspotpool")
			// A new Node object (its name may be reused with the NodeClaim's).
			return len(now) == 1 && now[0].UID != nodes[0].UID && ready(now[0]), nil
		})).To(Succeed())

		// Pods that need a node each: the pool grows to its max and stops.
		ns := "spotwork"
		Expect(framework.Namespace(ctx, env.Client, ns)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) {
			Expect(client.IgnoreNotFound(env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))).To(Succeed())
		})
		maxSeen := growOneByOne(ctx, wholeNodeDeployment(ns, "work", "myspotpool", 1, "6", true), "myspotpool", 4, 3)
		Expect(env.Consistently(ctx, 10*time.Second, "the pool stays at its max of 3", func(ctx context.Context) (bool, error) {
			n := len(poolClaims(ctx, "myspotpool"))
			maxSeen = max(maxSeen, n)
			return n <= 3, nil
		})).To(Succeed())
		Expect(maxSeen).To(Equal(3))
		expectNodes(ctx, waitNodes(ctx, "myspotpool", 3), "Standard_D8ds_v4", karpv1.CapacityTypeSpot, "linux", nil, spotTaint)
		row := listPools(ctx)["myspotpool"]
		Expect(row.Priority).To(Equal("Spot"))
		Expect(*row.MinCount).To(BeEquivalentTo(1))
		Expect(*row.MaxCount).To(BeEquivalentTo(3))
	})
})

var _ = Describe("an ephemeral OS disk", func() {
	It("puts a 48 GB ephemeral OS disk on Standard_D8ds_v4, and refuses one Standard_DS2_v2 cannot hold", func(ctx SpecContext) {
		out, err := nodepool(ctx, "add", "--name", "toobig", "--node-vm-size", "Standard_DS2_v2", "--node-osdisk-type", "Ephemeral", "--node-osdisk-size", "128")
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("Standard_DS2_v2 cannot hold it: cache disk 86 GB"))

		DeferCleanup(deletePool, "mynewpool", NodeTimeout(5*time.Minute))
		_, err = article(ctx, `az aks nodepool add --resource-group myResourceGroup --cluster-name myAKSCluster --name mynewpool --node-vm-size Standard_D8ds_v4 --node-osdisk-type Ephemeral --node-osdisk-size 48 --node-count 1`)
		Expect(err).NotTo(HaveOccurred())
		nodes := waitNodes(ctx, "mynewpool", 1)
		expectNodes(ctx, nodes, "Standard_D8ds_v4", karpv1.CapacityTypeOnDemand, "linux", nil)
		for _, n := range nodes {
			vm, err := env.VMOfNode(ctx, &n)
			Expect(err).NotTo(HaveOccurred())
			Expect(vm.EphemeralOSDisk).NotTo(BeEmpty(), "the OS disk should be ephemeral")
			Expect(vm.OSDisk).To(BeEmpty(), "an ephemeral OS disk is not a managed disk")
			Expect(n.Status.Capacity[corev1.ResourceEphemeralStorage]).To(Equal(resource.MustParse("48Gi")))
		}
	})
})

var _ = Describe("a Windows pool", func() {
	It("refuses the article's 17-character name and runs one Windows node under a short one", func(ctx SpecContext) {
		out, err := article(ctx, `az aks nodepool add --resource-group myResourceGroup --cluster-name myAKSCluster --name mywindowsnodepool --node-vm-size Standard_D8ds_v4 --os-type Windows --node-count 1`)
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("Windows node pool names"))

		DeferCleanup(deletePool, "npwin", NodeTimeout(5*time.Minute))
		_, err = article(ctx, `az aks nodepool add --resource-group myResourceGroup --cluster-name myAKSCluster --name npwin --node-vm-size Standard_D8ds_v4 --os-type Windows --node-count 1`)
		Expect(err).NotTo(HaveOccurred())
		nodes := waitNodes(ctx, "npwin", 1)
		expectNodes(ctx, nodes, "Standard_D8ds_v4", karpv1.CapacityTypeOnDemand, "windows", map[string]string{v1beta1.AKSLabelOSSKU: v1beta1.OSSKUWindows2022})
	})
})

var _ = Describe("the cluster autoscaler on a pool: 1 to 5, updated to 1 to 3, then disabled", func() {
	It("grows within the bounds and freezes at the current count", func(ctx SpecContext) {
		// The article's name (mynewnodepool) is 13 characters, over AKS's 12.
		out, err := article(ctx, `az aks nodepool add --resource-group myResourceGroup --cluster-name myAKSCluster --name mynewnodepool --node-vm-size Standard_D8ds_v4 --enable-cluster-autoscaler --min-count 1 --max-count 5`)
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("at most 12 lowercase letters and digits"))
		DeferCleanup(deletePool, "mynewpool", NodeTimeout(5*time.Minute))
		_, err = article(ctx, `az aks nodepool add --resource-group myResourceGroup --cluster-name myAKSCluster --name mynewpool --node-vm-size Standard_D8ds_v4 --enable-cluster-autoscaler --min-count 1 --max-count 5`)
		Expect(err).NotTo(HaveOccurred())
		waitNodes(ctx, "mynewpool", 1)
		_, err = article(ctx, `az aks nodepool update --resource-group myResourceGroup --cluster-name myAKSCluster --name mynewpool --update-cluster-autoscaler --min-count 1 --max-count 3`)
		Expect(err).NotTo(HaveOccurred())
		// scale is AKS's error on an autoscaled pool.
		out, err = nodepool(ctx, "scale", "--name", "mynewpool", "--node-count", "4")
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("has the cluster autoscaler enabled"))

		ns := "autoscale"
		Expect(framework.Namespace(ctx, env.Client, ns)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) {
			Expect(client.IgnoreNotFound(env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))).To(Succeed())
		})
		maxSeen := growOneByOne(ctx, wholeNodeDeployment(ns, "work", "mynewpool", 1, "6", false), "mynewpool", 5, 3)
		Expect(env.Consistently(ctx, 10*time.Second, "the pool stays at the updated max of 3", func(ctx context.Context) (bool, error) {
			n := len(poolClaims(ctx, "mynewpool"))
			maxSeen = max(maxSeen, n)
			return n <= 3, nil
		})).To(Succeed())
		Expect(maxSeen).To(Equal(3))
		row := listPools(ctx)["mynewpool"]
		Expect(*row.MinCount).To(BeEquivalentTo(1))
		Expect(*row.MaxCount).To(BeEquivalentTo(3))

		_, err = nodepool(ctx, "update", "--name", "mynewpool", "--disable-cluster-autoscaler", "--timeout", "4m")
		Expect(err).NotTo(HaveOccurred())
		var fixed karpv1.NodePool
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: "mynewpool"}, &fixed)).To(Succeed())
		Expect(fixed.Spec.Replicas).To(Equal(lo.ToPtr[int64](3)))
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: "mynewpool" + aksnodepool.AutoscaleSuffix}, &karpv1.NodePool{})).NotTo(Succeed())
		nodes := waitNodes(ctx, "mynewpool", 3)
		for _, n := range nodes {
			Expect(n.Labels).To(HaveKeyWithValue(karpv1.NodePoolLabelKey, "mynewpool"))
		}
		row = listPools(ctx)["mynewpool"]
		Expect(row.EnableAutoScaling).To(BeFalse())
		Expect(row.Desired).To(Equal(3))
	})
})

var _ = Describe("nodepool upgrade under max-surge 33%", func() {
	It("rolls every node, never replacing more than ceil(33%) at once", func(ctx SpecContext) {
		const count = 6
		allowed := int(math.Ceil(0.33 * count))
		DeferCleanup(deletePool, "surge", NodeTimeout(5*time.Minute))
		_, err := nodepool(ctx, "add", "--name", "surge", "--node-vm-size", "Standard_D4ds_v5", "--node-count", fmt.Sprint(count), "--max-surge", "33%")
		Expect(err).NotTo(HaveOccurred())
		before := lo.Map(waitNodes(ctx, "surge", count), func(n corev1.Node, _ int) string { return n.Name })
		// Node pools cannot run ahead of the control plane.
		out, err := nodepool(ctx, "upgrade", "--name", "surge", "--kubernetes-version", "1.99.0")
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("node pools run the control plane's version"))

		var (
			mu       sync.Mutex
			worst    int
			samples  int
			upgraded error
			done     = make(chan struct{})
		)
		go func() {
			defer GinkgoRecover()
			defer close(done)
			_, err := nodepool(ctx, "upgrade", "--name", "surge", "--node-image-only", "--timeout", "8m")
			mu.Lock()
			upgraded = err
			mu.Unlock()
		}()
		// In flight: replacements launched whose node is not yet being
		// deleted, i.e. live NodeClaims beyond the pool's count. Claims
		// already deleting (their replacement is up) are counted apart, for
		// the report.
		var worstWithDeleting int
		sampling := true
		for sampling {
			select {
			case <-done:
				sampling = false
			case <-time.After(200 * time.Millisecond):
			}
			var claims karpv1.NodeClaimList
			Expect(env.Client.List(ctx, &claims, client.MatchingLabels{karpv1.NodePoolLabelKey: "surge"})).To(Succeed())
			live := lo.CountBy(claims.Items, func(c karpv1.NodeClaim) bool { return c.DeletionTimestamp.IsZero() })
			worst = max(worst, live-count)
			worstWithDeleting = max(worstWithDeleting, len(claims.Items)-count)
			samples++
		}
		mu.Lock()
		Expect(upgraded).NotTo(HaveOccurred())
		mu.Unlock()
		GinkgoWriter.Printf("upgrade: at most %d replacements in flight over %d samples (max-surge 33%% of %d is %d); at most %d NodeClaims beyond the count including those being deleted\n", worst, samples, count, allowed, worstWithDeleting)
		Expect(worst).To(BeNumerically(">=", 1), "the upgrade replaced nodes without surging")
		Expect(worst).To(BeNumerically("<=", allowed))
		after := waitNodes(ctx, "surge", count)
		for _, n := range after {
			Expect(before).NotTo(ContainElement(n.Name), "node %s was not replaced", n.Name)
		}
		for _, c := range poolClaims(ctx, "surge") {
			Expect(c.Annotations).To(HaveKeyWithValue(aksnodepool.AnnotationUpgrade, HavePrefix("node-image@")))
		}
	})
})

// growOneByOne creates the Deployment with one pod, then adds pods one at a
// time up to replicas, each time waiting until min(pods, maxNodes) run, and
// returns the most NodeClaims the pool had meanwhile. One pod at a time,
// because karpenter core (v1.14) does not count limits.nodes within one
// scheduling pass: a burst of pending pods can overshoot a NodePool's node
// limit (kubernetes-sigs/karpenter#2915, docs/aks-node-pools.md).
func growOneByOne(ctx context.Context, dep *appsv1.Deployment, pool string, replicas, maxNodes int) int {
	GinkgoHelper()
	Expect(env.Client.Create(ctx, dep)).To(Succeed())
	maxSeen := 0
	for n := 1; n <= replicas; n++ {
		if n > 1 {
			Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(dep), dep)).To(Succeed())
			dep.Spec.Replicas = lo.ToPtr(int32(n))
			Expect(env.Client.Update(ctx, dep)).To(Succeed())
		}
		want := min(n, maxNodes)
		Expect(env.Eventually(ctx, 3*time.Minute, fmt.Sprintf("%d of %d pods running in pool %s", want, n, pool), func(ctx context.Context) (bool, error) {
			maxSeen = max(maxSeen, len(poolClaims(ctx, pool)))
			running, total, err := framework.PodsRunning(ctx, env.Client, dep.Namespace)
			return running == want && total == n, err
		})).To(Succeed())
	}
	return maxSeen
}

// wholeNodeDeployment is a Deployment whose pods each need most of a
// Standard_D8ds_v4 node, selecting the pool by its agentpool label.
func wholeNodeDeployment(ns, name, pool string, replicas int32, cpu string, tolerateSpot bool) *appsv1.Deployment {
	d := framework.Deployment(ns, name, "", replicas, cpu, "1Gi")
	d.Spec.Template.Spec.NodeSelector = map[string]string{aksnodepool.LabelAgentPool: pool}
	if tolerateSpot {
		d.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: v1beta1.AKSLabelScaleSetPriority, Operator: corev1.TolerationOpEqual, Value: "spot", Effect: corev1.TaintEffectNoSchedule}}
	}
	return d
}
