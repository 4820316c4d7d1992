package framework

import (
	"context"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
)

// Run creates a namespace and the objects, registers their cleanup (which
// waits until their NodePools' nodes and VMs are gone), and returns once
// the namespace has pods pods, all Running (0: returns at once).
func (e *Environment) Run(ctx context.Context, ns string, pods int, objs ...client.Object) {
	ginkgo.GinkgoHelper()
	gomega.Expect(Namespace(ctx, e.Client, ns)).To(gomega.Succeed())
	ginkgo.DeferCleanup(func(ctx ginkgo.SpecContext) {
		gomega.Expect(e.Cleanup(ctx, append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})...)).To(gomega.Succeed())
	}, ginkgo.NodeTimeout(5*time.Minute))
	for _, o := range objs {
		gomega.Expect(e.Client.Create(ctx, o)).To(gomega.Succeed())
	}
	if pods > 0 {
		gomega.Expect(e.WaitPodsRunning(ctx, ns, pods, 4*time.Minute)).To(gomega.Succeed())
	}
}

// Fault changes azuresim's fault model for the rest of the spec; the model
// before it is restored when the spec ends.
func (e *Environment) Fault(ctx context.Context, edit func(*azuresim.Config)) {
	ginkgo.GinkgoHelper()
	before, err := e.Sim.Config(ctx)
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	gomega.Expect(e.Sim.UpdateConfig(ctx, edit)).To(gomega.Succeed())
	ginkgo.DeferCleanup(func(ctx ginkgo.SpecContext) { gomega.Expect(e.Sim.SetConfig(ctx, before)).To(gomega.Succeed()) })
}

// NodeAndVM returns the node and the azuresim VM of a running pod, and
// checks that they agree on the size.
func (e *Environment) NodeAndVM(ctx context.Context, ns, name string) (*corev1.Node, azuresim.VMState) {
	ginkgo.GinkgoHelper()
	var pod corev1.Pod
	gomega.Expect(e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &pod)).To(gomega.Succeed())
	node, err := NodeOf(ctx, e.Client, &pod)
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	vm, err := e.VMOfNode(ctx, node)
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	gomega.Expect(vm.Size).To(gomega.Equal(node.Labels[corev1.LabelInstanceTypeStable]), "node %s and its VM disagree on the size", node.Name)
	return node, vm
}
