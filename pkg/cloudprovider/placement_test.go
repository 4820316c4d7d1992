package cloudprovider_test

import (
	"context"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/controllers/dynamicresources/deviceallocation"
	"sigs.k8s.io/karpenter/pkg/controllers/provisioning"
	"sigs.k8s.io/karpenter/pkg/controllers/state"
	"sigs.k8s.io/karpenter/pkg/events"
	coreoptions "sigs.k8s.io/karpenter/pkg/operator/options"
	"sigs.k8s.io/karpenter/pkg/state/virtualpods"
	coretest "sigs.k8s.io/karpenter/pkg/test"
	. "sigs.k8s.io/karpenter/pkg/test/expectations"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/cloudprovider"
)

// The placement specs: karpenter core's provisioner (its scheduler, cluster
// state and NodeClaim creation, as core's own provisioning suite builds
// them) drives the real CloudProvider, which creates VMs in azuresim through
// the Azure SDK. Each spec checks where pending pods land (the Node core's
// expectations make from the launched NodeClaim) and what VM backs it. They
// replace e2e specs that needed a whole local cluster for the same answer.

// armSize is an Arm64 size's name: a "p" among the feature letters.
var armSize = regexp.MustCompile(`^Standard_[A-Z]+\d+[a-z]*p[a-z]*_v\d+$`)

// placement is one spec's provisioner on the environment's CloudProvider.
type placement struct {
	ctx      context.Context
	cp       *cloudprovider.CloudProvider
	cluster  *state.Cluster
	prov     *provisioning.Provisioner
	recorder *record.FakeRecorder
}

func newPlacement(cp *cloudprovider.CloudProvider) *placement {
	p := &placement{ctx: coreoptions.ToContext(ctx, coretest.Options()), cp: cp, recorder: record.NewFakeRecorder(1000)}
	p.cluster = state.NewCluster(env.Clock, env.Client, cp)
	p.prov = provisioning.NewProvisioner(env.Client, events.NewRecorder(p.recorder), cp, p.cluster, env.Clock,
		deviceallocation.NewController(env.Client), virtualpods.NewVirtualPodCache(env.Client))
	return p
}

// provision applies the objects, then schedules and launches the pods as
// core's provisioner does, binding each pod to the Node of its NodeClaim.
func (p *placement) provision(objs []client.Object, pods ...*corev1.Pod) {
	GinkgoHelper()
	ExpectApplied(p.ctx, env.Client, objs...)
	ExpectProvisioned(p.ctx, env.Client, p.cluster, p.cp, p.prov, pods...)
}

// waitingForVMs is a placement whose launches wait for their VMs to
// finish, as --vm-create-wait makes the controller's: a VM Azure fails
// after accepting it fails the launch.
func waitingForVMs() *placement {
	GinkgoHelper()
	opts := env.ControllerOptions()
	opts.VMCreateWait = time.Minute
	return newPlacement(env.NewProviders(ctx, opts).CloudProvider)
}

// vmOf is the azuresim VM behind a Node.
func vmOf(node *corev1.Node) azuresim.VMState {
	GinkgoHelper()
	id := strings.TrimPrefix(node.Spec.ProviderID, "azure://")
	vm, ok := lo.Find(env.Sim.Snapshot().VMs, func(vm azuresim.VMState) bool { return strings.EqualFold(vm.ID, id) })
	Expect(ok).To(BeTrue(), "no VM %s behind node %s", id, node.Name)
	return vm
}

// nodePool is a NodePool of the NodeClass, as an app team writes one.
func nodePool(nc *v1beta1.AKSNodeClass, reqs ...karpv1.NodeSelectorRequirementWithMinValues) *karpv1.NodePool {
	return coretest.NodePool(karpv1.NodePool{Spec: karpv1.NodePoolSpec{Template: karpv1.NodeClaimTemplate{Spec: karpv1.NodeClaimTemplateSpec{
		NodeClassRef: &karpv1.NodeClassReference{Group: v1beta1.SchemeGroupVersion.Group, Kind: "AKSNodeClass", Name: nc.Name},
		Requirements: append([]karpv1.NodeSelectorRequirementWithMinValues{}, reqs...),
	}}}})
}

func req(key string, values ...string) karpv1.NodeSelectorRequirementWithMinValues {
	return karpv1.NodeSelectorRequirementWithMinValues{Key: key, Operator: corev1.NodeSelectorOpIn, Values: values}
}

func onDemand() karpv1.NodeSelectorRequirementWithMinValues {
	return req(karpv1.CapacityTypeLabelKey, karpv1.CapacityTypeOnDemand)
}

// pod is a pending pod requesting cpu and memory.
func pod(cpu, memory string, opts ...func(*coretest.PodOptions)) *corev1.Pod {
	o := coretest.PodOptions{ResourceRequirements: corev1.ResourceRequirements{Requests: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory),
	}}}
	for _, opt := range opts {
		opt(&o)
	}
	return coretest.UnschedulablePod(o)
}

func selecting(sel map[string]string) func(*coretest.PodOptions) {
	return func(o *coretest.PodOptions) { o.NodeSelector = sel }
}

func labelled(labels map[string]string) func(*coretest.PodOptions) {
	return func(o *coretest.PodOptions) { o.Labels = lo.Assign(o.Labels, labels) }
}

func pods(n int, cpu, memory string, opts ...func(*coretest.PodOptions)) []*corev1.Pod {
	return lo.Times(n, func(int) *corev1.Pod { return pod(cpu, memory, opts...) })
}

// provisionWithRetry provisions one pod until it is bound, as core's
// provisioner and NodeClaim lifecycle do together: a launch Azure refuses
// marks its offering unavailable and fails Create, the NodeClaim is
// deleted, and the next round chooses among the offerings left. The
// placement's CloudProvider must wait for its VMs (waitingForVMs), so that a
// VM Azure fails after accepting it fails Create too, rather than a
// NodeClaim core's expectations have already bound a pod to.
func provisionWithRetry(p *placement, w *corev1.Pod) *corev1.Node {
	GinkgoHelper()
	for range 5 {
		ExpectProvisioned(p.ctx, env.Client, p.cluster, p.cp, p.prov, w)
		if bound := ExpectPodExists(p.ctx, env.Client, w.Name, w.Namespace); bound.Spec.NodeName != "" {
			return ExpectScheduled(p.ctx, env.Client, w)
		}
		for _, claim := range ExpectNodeClaims(p.ctx, env.Client) {
			if claim.Status.ProviderID == "" {
				ExpectFinalizersRemoved(p.ctx, env.Client, claim)
				ExpectDeleted(p.ctx, env.Client, claim)
				p.cluster.DeleteNodeClaim(claim.Name)
			}
		}
	}
	Fail("the pod was not placed in 5 provisioning rounds")
	return nil
}

// offeringPrice is the price of the offering behind a Node (its size, zone
// and capacity type) among the NodePool's instance types.
func offeringPrice(ctx context.Context, np *karpv1.NodePool, node *corev1.Node) float64 {
	GinkgoHelper()
	its, err := env.Providers.CloudProvider.GetInstanceTypes(ctx, np)
	Expect(err).NotTo(HaveOccurred())
	for _, it := range its {
		if it.Name != node.Labels[corev1.LabelInstanceTypeStable] {
			continue
		}
		for _, o := range it.Offerings {
			if o.Zone() == node.Labels[corev1.LabelTopologyZone] && o.CapacityType() == node.Labels[karpv1.CapacityTypeLabelKey] {
				return o.Price
			}
		}
	}
	Fail("no offering for node " + node.Name)
	return 0
}

// drain returns the events recorded so far.
func drain(r *record.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-r.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

var _ = Describe("Placement", func() {
	var (
		p  *placement
		nc *v1beta1.AKSNodeClass
	)
	BeforeEach(func() {
		p = newPlacement(env.Providers.CloudProvider)
		nc = readyNodeClass(v1beta1.AKSNodeClassSpec{})
	})

	It("honours nodeSelector and node affinity on sku-family, sku-cpu, arch and zone", func() {
		family := pod("1", "1Gi", selecting(map[string]string{v1beta1.LabelSKUFamily: "E"}))
		cpu := pod("1", "1Gi", func(o *coretest.PodOptions) {
			o.NodeRequirements = []corev1.NodeSelectorRequirement{{Key: v1beta1.LabelSKUCPU, Operator: corev1.NodeSelectorOpIn, Values: []string{"16"}}}
		})
		arm := pod("1", "1Gi", selecting(map[string]string{corev1.LabelArchStable: "arm64"}))
		zone := pod("1", "1Gi", selecting(map[string]string{corev1.LabelTopologyZone: "eastus-2"}))
		p.provision([]client.Object{nodePool(nc, req(corev1.LabelArchStable, "amd64", "arm64"))}, family, cpu, arm, zone)

		node := ExpectScheduled(p.ctx, env.Client, family)
		Expect(node.Labels).To(HaveKeyWithValue(v1beta1.LabelSKUFamily, "E"))
		Expect(vmOf(node).Size).To(HavePrefix("Standard_E"))
		node = ExpectScheduled(p.ctx, env.Client, cpu)
		Expect(node.Labels).To(HaveKeyWithValue(v1beta1.LabelSKUCPU, "16"))
		Expect(vmOf(node).VCPUs).To(Equal(16))
		node = ExpectScheduled(p.ctx, env.Client, arm)
		Expect(node.Labels).To(HaveKeyWithValue(corev1.LabelArchStable, "arm64"))
		Expect(vmOf(node).Size).To(MatchRegexp(armSize.String()), "an Arm64 size (p in the name)")
		node = ExpectScheduled(p.ctx, env.Client, zone)
		Expect(node.Labels).To(HaveKeyWithValue(corev1.LabelTopologyZone, "eastus-2"))
		Expect(vmOf(node).Zone).To(Equal("2"))
	})

	It("runs a mixed workload on on-demand nodes of several sizes", func() {
		// Up to 16 vCPUs a node, and memory-heavy large pods: no single size
		// is the cheapest home for everything.
		np := nodePool(nc, onDemand(), karpv1.NodeSelectorRequirementWithMinValues{Key: v1beta1.LabelSKUCPU, Operator: corev1.NodeSelectorOpLt, Values: []string{"17"}})
		workload := append(append(pods(20, "250m", "512Mi"), pods(8, "2", "4Gi")...), pods(2, "12", "100Gi")...)
		p.provision([]client.Object{np}, workload...)

		sizes := map[string]bool{}
		for _, w := range workload {
			node := ExpectScheduled(p.ctx, env.Client, w)
			vm := vmOf(node)
			Expect(vm.Size).To(Equal(node.Labels[corev1.LabelInstanceTypeStable]))
			Expect(vm.CapacityType).To(Equal(karpv1.CapacityTypeOnDemand))
			Expect(vm.VCPUs).To(BeNumerically("<=", 16))
			sizes[vm.Size] = true
		}
		Expect(len(sizes)).To(BeNumerically(">=", 2), "nodes of several sizes, got %v", lo.Keys(sizes))
		Expect(env.Sim.Snapshot().VMs).To(HaveLen(len(ExpectNodes(p.ctx, env.Client))), "one VM per node")
	})

	It("spreads pods over three zones and keeps anti-affine pods apart", func() {
		spreadLabels := map[string]string{"app": "spread"}
		spread := pods(6, "1", "2Gi", labelled(spreadLabels), func(o *coretest.PodOptions) {
			o.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
				MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.DoNotSchedule,
				LabelSelector: &metav1.LabelSelector{MatchLabels: spreadLabels},
			}}
		})
		apartLabels := map[string]string{"app": "apart"}
		apart := pods(3, "250m", "256Mi", labelled(apartLabels), func(o *coretest.PodOptions) {
			o.PodAntiRequirements = []corev1.PodAffinityTerm{{TopologyKey: corev1.LabelHostname, LabelSelector: &metav1.LabelSelector{MatchLabels: apartLabels}}}
		})
		p.provision([]client.Object{nodePool(nc)}, append(spread, apart...)...)

		zones := lo.CountValuesBy(spread, func(w *corev1.Pod) string {
			node := ExpectScheduled(p.ctx, env.Client, w)
			Expect(v1beta1.ZoneLabel("eastus", vmOf(node).Zone)).To(Equal(node.Labels[corev1.LabelTopologyZone]), "the node's zone is its VM's")
			return node.Labels[corev1.LabelTopologyZone]
		})
		Expect(zones).To(Equal(map[string]int{"eastus-1": 2, "eastus-2": 2, "eastus-3": 2}))
		nodes := lo.Uniq(lo.Map(apart, func(w *corev1.Pod, _ int) string { return ExpectScheduled(p.ctx, env.Client, w).Name }))
		Expect(nodes).To(HaveLen(3), "anti-affine pods share a node: %v", nodes)
	})

	It("gives the system surge pool only pods that tolerate CriticalAddonsOnly", func() {
		system := nodePool(nc)
		system.Spec.Template.Labels[v1beta1.AKSLabelMode] = "system"
		system.Spec.Template.Spec.Taints = []corev1.Taint{{Key: "CriticalAddonsOnly", Value: "true", Effect: corev1.TaintEffectNoSchedule}}
		// A user pool, as AKS makes one: its nodes are labelled mode=user.
		user := nodePool(nc)
		user.Spec.Template.Labels[v1beta1.AKSLabelMode] = "user"
		critical := pod("500m", "512Mi", selecting(map[string]string{v1beta1.AKSLabelMode: "system"}), func(o *coretest.PodOptions) {
			o.Tolerations = []corev1.Toleration{{Key: "CriticalAddonsOnly", Operator: corev1.TolerationOpExists}}
		})
		regular := pods(4, "500m", "512Mi")
		p.provision([]client.Object{system, user}, append(regular, critical)...)

		node := ExpectScheduled(p.ctx, env.Client, critical)
		Expect(node.Labels).To(HaveKeyWithValue(karpv1.NodePoolLabelKey, system.Name))
		Expect(node.Labels).To(HaveKeyWithValue(v1beta1.AKSLabelMode, "system"))
		Expect(node.Spec.Taints).To(ContainElement(HaveField("Key", "CriticalAddonsOnly")))
		for _, w := range regular {
			node := ExpectScheduled(p.ctx, env.Client, w)
			Expect(node.Labels).To(HaveKeyWithValue(karpv1.NodePoolLabelKey, user.Name), "a pod without the toleration landed on the system pool")
			Expect(node.Labels).To(HaveKeyWithValue(v1beta1.AKSLabelMode, "user"))
		}
	})

	It("gives a GPU pod a GPU size and an arm64 pod an Arm64 size", func() {
		gpu := pod("2", "8Gi", func(o *coretest.PodOptions) {
			o.ResourceRequirements.Requests["nvidia.com/gpu"] = resource.MustParse("1")
			o.ResourceRequirements.Limits = corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}
		})
		arm := pod("2", "4Gi", selecting(map[string]string{corev1.LabelArchStable: "arm64"}))
		p.provision([]client.Object{nodePool(nc, req(corev1.LabelArchStable, "amd64", "arm64"), onDemand())}, gpu, arm)

		node := ExpectScheduled(p.ctx, env.Client, gpu)
		Expect(node.Labels).To(HaveKey(v1beta1.LabelSKUGPUCount))
		Expect(vmOf(node).Size).To(MatchRegexp(`^Standard_N[CDV]`))
		gpus := node.Status.Capacity["nvidia.com/gpu"]
		Expect(gpus.Value()).To(BeNumerically(">=", 1))
		node = ExpectScheduled(p.ctx, env.Client, arm)
		Expect(node.Labels).To(HaveKeyWithValue(corev1.LabelArchStable, "arm64"))
		Expect(vmOf(node).Size).To(MatchRegexp(armSize.String()))
	})

	It("runs Windows pods on Windows VMs priced at Windows rates", func() {
		Expect(env.Providers.Pricing.Refresh(p.ctx)).To(Succeed(), "prices from azuresim's Retail Prices API, not the snapshot")
		windows := readyNodeClass(v1beta1.AKSNodeClassSpec{ImageFamily: lo.ToPtr(v1beta1.ImageFamilyWindows2022)})
		np := nodePool(windows, req(corev1.LabelOSStable, "windows"), onDemand())
		iis := pod("1", "2Gi", selecting(map[string]string{corev1.LabelOSStable: "windows"}))
		p.provision([]client.Object{np}, iis)

		node := ExpectScheduled(p.ctx, env.Client, iis)
		Expect(node.Labels).To(HaveKeyWithValue(corev1.LabelOSStable, "windows"))
		vm := vmOf(node)
		Expect(vm.OSType).To(Equal("Windows"))
		// The oracle is azuresim's Retail Prices API, read with its own client.
		linuxPrice, windowsPrice, err := env.Sim.AdminClient().OnDemandPrices(p.ctx, "eastus", vm.Size)
		Expect(err).NotTo(HaveOccurred())
		Expect(windowsPrice).To(BeNumerically(">", linuxPrice), "%s: Windows $%v/h, Linux $%v/h", vm.Size, windowsPrice, linuxPrice)
		Expect(offeringPrice(p.ctx, np, node)).To(BeNumerically("~", windowsPrice, 1e-9), "the offering of %s is priced at the Windows rate", vm.Size)
	})

	// The seed article's cases: Standard_DS2_v2 has an 86 GB cache,
	// Standard_D8s_v3 a 200 GB one. The node's storage-profile label, which
	// the node's bootstrap carries, is the e2e scheduling suite's check.
	DescribeTable("uses an ephemeral OS disk when it fits, a managed one when not, and never a size that cannot hold an explicit Ephemeral disk",
		func(sizeGB int32, diskType *v1beta1.OSDiskType, sizes []string, wantSize string, ephemeral bool) {
			class := readyNodeClass(v1beta1.AKSNodeClassSpec{OSDiskSizeGB: lo.ToPtr(sizeGB), OSDiskType: diskType})
			w := pod("500m", "1Gi")
			p.provision([]client.Object{nodePool(class, req(corev1.LabelInstanceTypeStable, sizes...), onDemand())}, w)

			node := ExpectScheduled(p.ctx, env.Client, w)
			Expect(node.Labels).To(HaveKeyWithValue(corev1.LabelInstanceTypeStable, wantSize))
			vm := vmOf(node)
			Expect(vm.Size).To(Equal(wantSize))
			if ephemeral {
				Expect(vm.EphemeralOSDisk).NotTo(BeEmpty(), "want an ephemeral OS disk")
				Expect(vm.OSDisk).To(BeEmpty(), "an ephemeral OS disk is no managed disk")
			} else {
				Expect(vm.EphemeralOSDisk).To(BeEmpty(), "want a managed OS disk")
				Expect(vm.OSDisk).NotTo(BeEmpty())
			}
		},
		Entry("60 GB on DS2_v2: ephemeral", int32(60), nil, []string{"Standard_DS2_v2"}, "Standard_DS2_v2", true),
		Entry("100 GB on DS2_v2: managed", int32(100), nil, []string{"Standard_DS2_v2"}, "Standard_DS2_v2", false),
		Entry("100 GB on D8s_v3: ephemeral", int32(100), nil, []string{"Standard_D8s_v3"}, "Standard_D8s_v3", true),
		Entry("100 GB explicitly Ephemeral: D8s_v3, never DS2_v2", int32(100), lo.ToPtr(v1beta1.OSDiskTypeEphemeral), []string{"Standard_DS2_v2", "Standard_D8s_v3"}, "Standard_D8s_v3", true),
	)

	It("prefers the NodePool with the higher weight", func() {
		heavy, light := nodePool(nc), nodePool(nc)
		heavy.Spec.Weight, light.Spec.Weight = lo.ToPtr[int32](50), lo.ToPtr[int32](10)
		for _, np := range []*karpv1.NodePool{heavy, light} {
			np.Spec.Template.Labels["example.com/group"] = "weights"
		}
		workload := pods(3, "1", "1Gi", selecting(map[string]string{"example.com/group": "weights"}))
		p.provision([]client.Object{light, heavy}, workload...)
		for _, w := range workload {
			Expect(ExpectScheduled(p.ctx, env.Client, w).Labels).To(HaveKeyWithValue(karpv1.NodePoolLabelKey, heavy.Name))
		}
		for _, claim := range ExpectNodeClaims(p.ctx, env.Client) {
			Expect(claim.Labels).To(HaveKeyWithValue(karpv1.NodePoolLabelKey, heavy.Name))
		}
	})

	It("places no pod and creates no VM for input no size can serve", func() {
		// No confidential size supports encryption at host; the NodeClass
		// status controller's NoInstanceTypes condition is the nodeclass
		// suite's check.
		impossible := readyNodeClass(v1beta1.AKSNodeClassSpec{Security: &v1beta1.Security{ConfidentialVM: lo.ToPtr(true), EncryptionAtHost: lo.ToPtr(true)}})
		onImpossible := pod("1", "1Gi")
		impossiblePool := nodePool(impossible)
		p.provision([]client.Object{impossiblePool}, onImpossible)
		ExpectNotScheduled(p.ctx, env.Client, onImpossible)

		noMatch := nodePool(nc, req(v1beta1.LabelSKUFamily, "ZZ"))
		tooBig := pod("1000", "1Gi")
		ExpectDeleted(p.ctx, env.Client, impossiblePool)
		p.provision([]client.Object{noMatch}, onImpossible, tooBig)
		ExpectNotScheduled(p.ctx, env.Client, onImpossible)
		ExpectNotScheduled(p.ctx, env.Client, tooBig)

		Expect(ExpectNodeClaims(p.ctx, env.Client)).To(BeEmpty())
		Expect(env.Sim.Snapshot().VMs).To(BeEmpty())
		// Core tells the pod's owner why, as the e2e spec saw in the events.
		Expect(drain(p.recorder)).To(ContainElement(ContainSubstring("FailedScheduling")))
	})

	It("chooses spot when it is cheaper, and on-demand when the spot quota is exhausted", func() {
		p = waitingForVMs()
		both := req(karpv1.CapacityTypeLabelKey, karpv1.CapacityTypeSpot, karpv1.CapacityTypeOnDemand)
		np := nodePool(nc, both, req(corev1.LabelInstanceTypeStable, "Standard_D4s_v5"))
		w := pod("2", "4Gi")
		p.provision([]client.Object{np}, w)
		node := ExpectScheduled(p.ctx, env.Client, w)
		Expect(node.Labels).To(HaveKeyWithValue(karpv1.CapacityTypeLabelKey, karpv1.CapacityTypeSpot))
		Expect(vmOf(node).CapacityType).To(Equal(karpv1.CapacityTypeSpot))

		// The next pod does not fit beside the first: a second VM.
		Expect(env.Sim.UpdateConfig(func(c *azuresim.Config) { c.Quota.LowPriorityLimit = 0 })).To(Succeed())
		node = provisionWithRetry(p, pod("2", "4Gi"))
		Expect(node.Labels).To(HaveKeyWithValue(karpv1.CapacityTypeLabelKey, karpv1.CapacityTypeOnDemand))
		Expect(vmOf(node).CapacityType).To(Equal(karpv1.CapacityTypeOnDemand))
	})

	It("moves to another zone when a zone has no capacity", func() {
		p = waitingForVMs()
		size := "Standard_D4s_v5"
		Expect(env.Sim.UpdateConfig(func(c *azuresim.Config) {
			for _, z := range []string{"1", "3"} {
				c.Capacity = append(c.Capacity, azuresim.CapacityRule{SKU: size, Zone: z, CapacityType: karpv1.CapacityTypeOnDemand, Count: 0})
			}
		})).To(Succeed())
		ExpectApplied(p.ctx, env.Client, nodePool(nc, req(corev1.LabelInstanceTypeStable, size), onDemand()))
		for range 2 {
			node := provisionWithRetry(p, pod("3", "4Gi"))
			Expect(node.Labels).To(HaveKeyWithValue(corev1.LabelTopologyZone, "eastus-2"))
			Expect(vmOf(node).Zone).To(Equal("2"))
		}
		Expect(lo.CountBy(env.Sim.Snapshot().VMs, func(vm azuresim.VMState) bool { return vm.ProvisioningState == "Failed" })).To(BeZero(), "failed VMs are cleaned up")
	})

	It("moves to another family when a family's quota is exhausted", func() {
		p = waitingForVMs()
		Expect(env.Sim.UpdateConfig(func(c *azuresim.Config) {
			c.Quota.Families = append(c.Quota.Families, azuresim.FamilyQuota{Location: "eastus", Family: "standardDSv5Family", Limit: 0})
		})).To(Succeed())
		ExpectApplied(p.ctx, env.Client, nodePool(nc, req(corev1.LabelInstanceTypeStable, "Standard_D4s_v5", "Standard_D4as_v5", "Standard_D4ds_v5"), onDemand()))
		vm := vmOf(provisionWithRetry(p, pod("3", "4Gi")))
		Expect(vm.Family).NotTo(Equal("standardDSv5Family"))
		Expect(vm.Size).To(BeElementOf("Standard_D4as_v5", "Standard_D4ds_v5"))
	})
})
