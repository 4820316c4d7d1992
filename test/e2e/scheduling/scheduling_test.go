//go:build e2e

package scheduling

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/awslabs/operatorpkg/status"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

func withSelector(p *corev1.Pod, sel map[string]string) *corev1.Pod {
	p.Spec.NodeSelector = lo.Assign(p.Spec.NodeSelector, sel)
	return p
}

var armSizeRE = regexp.MustCompile(`^Standard_[A-Z]+\d+[a-z]*p[a-z]*_v\d+$`)

var _ = Describe("scheduling", func() {
	It("runs a mixed workload on nodes of several sizes", func(ctx SpecContext) {
		ns, pool := "mixed", "mixed"
		// Up to 16 vCPUs a node, and memory-heavy large pods: no single size
		// is the cheapest home for everything.
		np := framework.NodePool(pool, "default", framework.Requirement(karpv1.CapacityTypeLabelKey, karpv1.CapacityTypeOnDemand),
			karpv1.NodeSelectorRequirementWithMinValues{Key: v1beta1.LabelSKUCPU, Operator: corev1.NodeSelectorOpLt, Values: []string{"17"}})
		np.Spec.Disruption.ConsolidateAfter = karpv1.MustParseNillableDuration("10m")
		env.Run(ctx, ns, 30, np,
			framework.Deployment(ns, "small", pool, 20, "250m", "512Mi"),
			framework.Deployment(ns, "medium", pool, 8, "2", "4Gi"),
			framework.Deployment(ns, "large", pool, 2, "12", "100Gi"))
		nodes, claims, err := framework.PoolNodes(ctx, env.Client, pool)
		Expect(err).NotTo(HaveOccurred())
		vms, err := env.VMsOf(ctx, pool)
		Expect(err).NotTo(HaveOccurred())
		Expect(vms).To(HaveLen(len(nodes)), "one VM per node")
		Expect(claims).To(HaveLen(len(nodes)))
		sizes := lo.Uniq(lo.Map(nodes, func(n corev1.Node, _ int) string { return n.Labels[corev1.LabelInstanceTypeStable] }))
		Expect(len(sizes)).To(BeNumerically(">=", 2), "nodes of several sizes, got %v", sizes)
		Expect(lo.Uniq(lo.Map(vms, func(vm azuresim.VMState, _ int) string { return vm.Size }))).To(ConsistOf(sizes))
		for _, vm := range vms {
			Expect(vm.ProvisioningState).To(Equal("Succeeded"))
			Expect(vm.CapacityType).To(Equal("on-demand"))
		}
	})

	It("honours nodeSelector and node affinity on sku-family, sku-cpu, arch and zone", func(ctx SpecContext) {
		ns, pool := "selection", "selection"
		family := withSelector(framework.Pod(ns, "family-e", pool, "1", "1Gi"), map[string]string{v1beta1.LabelSKUFamily: "E"})
		cpu := framework.Pod(ns, "cpu-16", pool, "1", "1Gi")
		cpu.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: v1beta1.LabelSKUCPU, Operator: corev1.NodeSelectorOpIn, Values: []string{"16"}}}}},
		}}}
		arm := withSelector(framework.Pod(ns, "arm64", pool, "1", "1Gi"), map[string]string{corev1.LabelArchStable: "arm64"})
		zone := withSelector(framework.Pod(ns, "zone-2", pool, "1", "1Gi"), map[string]string{corev1.LabelTopologyZone: "eastus-2"})
		np := framework.NodePool(pool, "default", framework.Requirement(corev1.LabelArchStable, "amd64", "arm64"))
		env.Run(ctx, ns, 4, np, family, cpu, arm, zone)

		node, vm := env.NodeAndVM(ctx, ns, "family-e")
		Expect(node.Labels).To(HaveKeyWithValue(v1beta1.LabelSKUFamily, "E"))
		Expect(vm.Size).To(HavePrefix("Standard_E"))
		node, vm = env.NodeAndVM(ctx, ns, "cpu-16")
		Expect(node.Labels).To(HaveKeyWithValue(v1beta1.LabelSKUCPU, "16"))
		Expect(vm.VCPUs).To(Equal(16))
		node, vm = env.NodeAndVM(ctx, ns, "arm64")
		Expect(node.Labels).To(HaveKeyWithValue(corev1.LabelArchStable, "arm64"))
		Expect(vm.Size).To(MatchRegexp(armSizeRE.String()), "an Arm64 size (p in the name)")
		node, vm = env.NodeAndVM(ctx, ns, "zone-2")
		Expect(node.Labels).To(HaveKeyWithValue(corev1.LabelTopologyZone, "eastus-2"))
		Expect(vm.Zone).To(Equal("2"))
	})

	It("spreads pods over three zones and keeps anti-affine pods apart", func(ctx SpecContext) {
		ns, pool := "spread", "spread"
		spread := framework.Deployment(ns, "spread", pool, 6, "1", "2Gi")
		spread.Spec.Template.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.DoNotSchedule,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "spread"}},
		}}
		apart := framework.AntiAffineDeployment(ns, "apart", pool, 3, "250m", "256Mi")
		env.Run(ctx, ns, 9, framework.NodePool(pool, "default"), spread, apart)

		zonesOf := func(app string) (zones, nodes, vmZones []string) {
			pods, err := framework.Pods(ctx, env.Client, ns, client.MatchingLabels{"app": app})
			Expect(err).NotTo(HaveOccurred())
			for _, p := range pods {
				node, vm := env.NodeAndVM(ctx, ns, p.Name)
				zones = append(zones, node.Labels[corev1.LabelTopologyZone])
				nodes = append(nodes, node.Name)
				vmZones = append(vmZones, vm.Zone)
			}
			return zones, nodes, vmZones
		}
		zones, _, vmZones := zonesOf("spread")
		Expect(lo.CountValues(zones)).To(Equal(map[string]int{"eastus-1": 2, "eastus-2": 2, "eastus-3": 2}))
		Expect(lo.Uniq(vmZones)).To(ConsistOf("1", "2", "3"))
		_, nodes, _ := zonesOf("apart")
		Expect(lo.Uniq(nodes)).To(HaveLen(3), "anti-affine pods share a node: %v", nodes)
	})

	It("puts NodePool labels and taints on nodes, NodeClass tags on VMs, and AKS's reserved labels on every node", Label("fast"), func(ctx SpecContext) {
		ns, pool := "labels", "labels"
		nc := framework.NodeClass("tagged")
		nc.Spec.Tags = map[string]string{"team": "payments", "cost-center": "42"}
		np := framework.NodePool(pool, "tagged")
		np.Spec.Template.Labels["e2e/team"] = "payments"
		np.Spec.Template.Spec.Taints = []corev1.Taint{framework.Taint("dedicated", "payments")}
		pod := framework.Pod(ns, "payments", pool, "500m", "512Mi")
		pod.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "payments", Effect: corev1.TaintEffectNoSchedule}}
		env.Run(ctx, ns, 1, nc, np, pod)

		node, vm := env.NodeAndVM(ctx, ns, "payments")
		Expect(node.Labels).To(HaveKeyWithValue("e2e/team", "payments"))
		Expect(node.Spec.Taints).To(ContainElement(HaveField("Key", "dedicated")))
		Expect(vm.Tags).To(HaveKeyWithValue("team", "payments"))
		Expect(vm.Tags).To(HaveKeyWithValue("cost-center", "42"))
		Expect(vm.Tags).To(HaveKeyWithValue(framework.TagNodePool, pool))
		var all corev1.NodeList
		Expect(env.Client.List(ctx, &all)).To(Succeed())
		Expect(all.Items).NotTo(BeEmpty())
		for _, n := range all.Items {
			// NAP leaves kubernetes.azure.com/agentpool unset: a NodePool's
			// name may be a real AKS agent pool's.
			Expect(n.Labels).NotTo(HaveKey(v1beta1.AKSLabelAgentPool), "node %s", n.Name)
			for _, key := range []string{v1beta1.AKSLabelCluster, v1beta1.AKSLabelMode, v1beta1.AKSLabelRole, v1beta1.AKSLabelScaleSetPriority,
				v1beta1.AKSLabelStorageProfile, v1beta1.AKSLabelStorageTier, v1beta1.AKSLabelInstanceSKU, v1beta1.AKSLabelNodeImageVersion, v1beta1.AKSLabelOSSKU,
				corev1.LabelArchStable, corev1.LabelOSStable, corev1.LabelInstanceTypeStable, corev1.LabelTopologyRegion, corev1.LabelTopologyZone, corev1.LabelHostname} {
				Expect(n.Labels).To(HaveKey(key), "node %s lacks AKS label %s", n.Name, key)
			}
		}
	})

	It("gives the system surge pool only pods that tolerate CriticalAddonsOnly", func(ctx SpecContext) {
		ns := "system"
		system := framework.NodePool("system", "default")
		system.Spec.Template.Labels[v1beta1.AKSLabelMode] = "system"
		system.Spec.Template.Spec.Taints = []corev1.Taint{framework.Taint("CriticalAddonsOnly", "true")}
		// A user pool, as AKS makes one: its nodes are labelled mode=user, so
		// a pod that selects mode=system never fits it, whichever NodePool
		// core tries first and whatever node is in flight.
		user := framework.NodePool("user", "default")
		user.Spec.Template.Labels[v1beta1.AKSLabelMode] = "user"
		critical := withSelector(framework.Pod(ns, "coredns", "", "500m", "512Mi"), map[string]string{v1beta1.AKSLabelMode: "system"})
		critical.Spec.Tolerations = []corev1.Toleration{{Key: "CriticalAddonsOnly", Operator: corev1.TolerationOpExists}}
		regular := framework.Deployment(ns, "app", "", 4, "500m", "512Mi")
		regular.Spec.Template.Spec.NodeSelector = nil
		env.Run(ctx, ns, 5, system, user, critical, regular)

		node, _ := env.NodeAndVM(ctx, ns, "coredns")
		Expect(node.Labels).To(HaveKeyWithValue(karpv1.NodePoolLabelKey, "system"))
		Expect(node.Labels).To(HaveKeyWithValue(v1beta1.AKSLabelMode, "system"))
		pods, err := framework.Pods(ctx, env.Client, ns, client.MatchingLabels{"app": "app"})
		Expect(err).NotTo(HaveOccurred())
		for _, p := range pods {
			n, vm := env.NodeAndVM(ctx, ns, p.Name)
			Expect(n.Labels).NotTo(HaveKeyWithValue(karpv1.NodePoolLabelKey, "system"), "pod %s without the toleration landed on the system pool", p.Name)
			Expect(n.Labels).To(HaveKeyWithValue(v1beta1.AKSLabelMode, "user"))
			Expect(vm.Tags).To(HaveKeyWithValue(framework.TagNodePool, "user"))
		}
	})

	It("runs Windows pods on Windows VMs priced at Windows rates", Label("fast"), func(ctx SpecContext) {
		ns, pool := "windows", "windows"
		nc := framework.NodeClass("windows")
		nc.Spec.ImageFamily = lo.ToPtr(v1beta1.ImageFamilyWindows2022)
		np := framework.NodePool(pool, "windows", framework.Requirement(corev1.LabelOSStable, "windows"),
			framework.Requirement(karpv1.CapacityTypeLabelKey, karpv1.CapacityTypeOnDemand))
		pod := withSelector(framework.Pod(ns, "iis", pool, "1", "2Gi"), map[string]string{corev1.LabelOSStable: "windows"})
		env.Run(ctx, ns, 1, nc, np, pod)

		node, vm := env.NodeAndVM(ctx, ns, "iis")
		Expect(node.Labels).To(HaveKeyWithValue(corev1.LabelOSStable, "windows"))
		Expect(vm.OSType).To(Equal("Windows"))
		// The controller's price for the size is the Windows row of the
		// Retail Prices API, above the Linux one.
		linux, windows, err := env.RetailPrices(ctx, vm.Size)
		Expect(err).NotTo(HaveOccurred())
		Expect(windows).To(BeNumerically(">", linux), "%s: Windows $%v/h, Linux $%v/h", vm.Size, windows, linux)
		Expect(env.OfferingPrice(ctx, "windows", vm)).To(BeNumerically("~", windows, 1e-6), "the controller prices %s at the Windows rate", vm.Size)
	})

	It("gives a GPU pod a GPU size and an arm64 pod an Arm64 size", func(ctx SpecContext) {
		ns, pool := "accel", "accel"
		gpu := framework.Pod(ns, "cuda", pool, "2", "8Gi")
		gpu.Spec.Containers[0].Resources.Requests["nvidia.com/gpu"] = resource.MustParse("1")
		gpu.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}
		arm := withSelector(framework.Pod(ns, "arm", pool, "2", "4Gi"), map[string]string{corev1.LabelArchStable: "arm64"})
		np := framework.NodePool(pool, "default", framework.Requirement(corev1.LabelArchStable, "amd64", "arm64"),
			framework.Requirement(karpv1.CapacityTypeLabelKey, karpv1.CapacityTypeOnDemand))
		env.Run(ctx, ns, 2, np, gpu, arm)

		node, vm := env.NodeAndVM(ctx, ns, "cuda")
		Expect(node.Labels).To(HaveKey(v1beta1.LabelSKUGPUCount))
		Expect(vm.Size).To(MatchRegexp(`^Standard_N[CDV]`))
		gpus := node.Status.Capacity["nvidia.com/gpu"]
		Expect(gpus.Value()).To(BeNumerically(">=", 1))
		node, vm = env.NodeAndVM(ctx, ns, "arm")
		Expect(node.Labels).To(HaveKeyWithValue(corev1.LabelArchStable, "arm64"))
		Expect(vm.Size).To(MatchRegexp(armSizeRE.String()))
	})

	// The seed article's cases: Standard_DS2_v2 has an 86 GB cache,
	// Standard_D8s_v3 a 200 GB one.
	It("uses an ephemeral OS disk when it fits, a managed one when not, and never a size that cannot hold an explicit Ephemeral disk", Label("fast"), func(ctx SpecContext) {
		ns := "osdisk"
		type tc struct {
			name      string
			sizeGB    int32
			diskType  *v1beta1.OSDiskType
			sizes     []string
			ephemeral bool
			wantSize  string
		}
		cases := []tc{
			{name: "ds2-60", sizeGB: 60, sizes: []string{"Standard_DS2_v2"}, ephemeral: true, wantSize: "Standard_DS2_v2"},
			{name: "ds2-100", sizeGB: 100, sizes: []string{"Standard_DS2_v2"}, ephemeral: false, wantSize: "Standard_DS2_v2"},
			{name: "d8-100", sizeGB: 100, sizes: []string{"Standard_D8s_v3"}, ephemeral: true, wantSize: "Standard_D8s_v3"},
			{name: "explicit-100", sizeGB: 100, diskType: lo.ToPtr(v1beta1.OSDiskTypeEphemeral), sizes: []string{"Standard_DS2_v2", "Standard_D8s_v3"}, ephemeral: true, wantSize: "Standard_D8s_v3"},
		}
		var objs []client.Object
		for _, c := range cases {
			nc := framework.NodeClass("osdisk-" + c.name)
			nc.Spec.OSDiskSizeGB = lo.ToPtr(c.sizeGB)
			nc.Spec.OSDiskType = c.diskType
			np := framework.NodePool("osdisk-"+c.name, nc.Name, framework.Requirement(corev1.LabelInstanceTypeStable, c.sizes...),
				framework.Requirement(karpv1.CapacityTypeLabelKey, karpv1.CapacityTypeOnDemand))
			objs = append(objs, nc, np, framework.Pod(ns, c.name, np.Name, "500m", "1Gi"))
		}
		env.Run(ctx, ns, len(cases), objs...)
		for _, c := range cases {
			node, vm := env.NodeAndVM(ctx, ns, c.name)
			Expect(vm.Size).To(Equal(c.wantSize), c.name)
			if c.ephemeral {
				Expect(vm.EphemeralOSDisk).NotTo(BeEmpty(), "%s: want an ephemeral OS disk", c.name)
				Expect(vm.OSDisk).To(BeEmpty(), "%s: an ephemeral OS disk is no managed disk", c.name)
				Expect(node.Labels).To(HaveKeyWithValue(v1beta1.AKSLabelStorageProfile, "ephemeral"))
			} else {
				Expect(vm.EphemeralOSDisk).To(BeEmpty(), "%s: want a managed OS disk", c.name)
				Expect(vm.OSDisk).NotTo(BeEmpty())
				Expect(node.Labels).To(HaveKeyWithValue(v1beta1.AKSLabelStorageProfile, "managed"))
			}
		}
	})

	It("explains input no size can serve and creates no VM for it", Label("fast"), func(ctx SpecContext) {
		ns := "bad-input"
		// No confidential size supports encryption at host.
		impossible := framework.NodeClass("impossible")
		impossible.Spec.Security = &v1beta1.Security{ConfidentialVM: lo.ToPtr(true), EncryptionAtHost: lo.ToPtr(true)}
		noClass := framework.NodePool("bad-class", "impossible")
		noMatch := framework.NodePool("bad-reqs", "default", framework.Requirement(v1beta1.LabelSKUFamily, "ZZ"))
		huge := framework.NodePool("bad-pod", "default")
		env.Run(ctx, ns, 0, impossible, noClass, noMatch, huge,
			framework.Pod(ns, "on-impossible", "bad-class", "1", "1Gi"),
			framework.Pod(ns, "on-nothing", "bad-reqs", "1", "1Gi"),
			framework.Pod(ns, "too-big", "bad-pod", "1000", "1Gi"))

		Expect(env.Eventually(ctx, 2*time.Minute, "AKSNodeClass impossible not Ready with reason NoInstanceTypes", func(ctx context.Context) (bool, error) {
			var nc v1beta1.AKSNodeClass
			if err := env.Client.Get(ctx, client.ObjectKey{Name: "impossible"}, &nc); err != nil {
				return false, err
			}
			cond := nc.StatusConditions().Get(v1beta1.ConditionTypeValidationSucceeded)
			return cond != nil && cond.IsFalse() && cond.Reason == "NoInstanceTypes" && nc.StatusConditions().Get(status.ConditionReady).IsFalse(), nil
		})).To(Succeed())
		for _, pod := range []string{"on-nothing", "too-big"} {
			Expect(env.Eventually(ctx, 2*time.Minute, "a FailedScheduling event from karpenter for "+pod, func(ctx context.Context) (bool, error) {
				var events corev1.EventList
				if err := env.Client.List(ctx, &events, client.InNamespace(ns)); err != nil {
					return false, err
				}
				return lo.ContainsBy(events.Items, func(e corev1.Event) bool {
					return e.InvolvedObject.Name == pod && e.Reason == "FailedScheduling" && strings.Contains(e.Source.Component+e.ReportingController, "karpenter")
				}), nil
			})).To(Succeed())
		}
		Expect(env.Consistently(ctx, 30*time.Second, "no NodeClaim or VM is made for input no size serves", func(ctx context.Context) (bool, error) {
			for _, p := range []string{"bad-class", "bad-reqs", "bad-pod"} {
				_, claims, err := framework.PoolNodes(ctx, env.Client, p)
				if err != nil || len(claims) > 0 {
					return false, err
				}
				vms, err := env.VMsOf(ctx, p)
				if err != nil || len(vms) > 0 {
					return false, err
				}
			}
			running, _, err := framework.PodsRunning(ctx, env.Client, ns)
			return running == 0, err
		})).To(Succeed())
	})
})
