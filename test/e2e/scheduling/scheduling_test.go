//go:build e2e

package scheduling

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

func withSelector(p *corev1.Pod, sel map[string]string) *corev1.Pod {
	p.Spec.NodeSelector = lo.Assign(p.Spec.NodeSelector, sel)
	return p
}

// Where pods land (sizes, zones, architecture, OS, GPU, capacity type,
// NodePool weights, OS disk sizes, input no size serves) is checked in
// seconds by the placement specs of pkg/cloudprovider, on karpenter core's
// provisioner and the real CloudProvider against azuresim. These specs
// check what only a whole cluster shows: the labels and taints nodes
// register with from their bootstrap, a Windows node joining, the VM body.
var _ = Describe("scheduling", func() {
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

	It("runs Windows pods on Windows VMs", Label("fast"), func(ctx SpecContext) {
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
	})

	// The seed article's Standard_DS2_v2 has an 86 GB cache. Which size an
	// OS disk allows (Standard_D8s_v3 for an explicit 100 GB Ephemeral
	// disk) is a placement spec of pkg/cloudprovider; here the node
	// registers with its VM's disk in its storage-profile label.
	It("uses an ephemeral OS disk when it fits and a managed one when not, and the node says which", Label("fast"), func(ctx SpecContext) {
		ns := "osdisk"
		type tc struct {
			name      string
			sizeGB    int32
			sizes     []string
			ephemeral bool
			wantSize  string
		}
		cases := []tc{
			{name: "ds2-60", sizeGB: 60, sizes: []string{"Standard_DS2_v2"}, ephemeral: true, wantSize: "Standard_DS2_v2"},
			{name: "ds2-100", sizeGB: 100, sizes: []string{"Standard_DS2_v2"}, ephemeral: false, wantSize: "Standard_DS2_v2"},
		}
		var objs []client.Object
		for _, c := range cases {
			nc := framework.NodeClass("osdisk-" + c.name)
			nc.Spec.OSDiskSizeGB = lo.ToPtr(c.sizeGB)
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
})
