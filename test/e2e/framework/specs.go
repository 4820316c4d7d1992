package framework

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2" //nolint:revive // the ginkgo DSL reads best unqualified
	. "github.com/onsi/gomega"    //nolint:revive // the gomega DSL reads best unqualified
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
)

// Run creates a namespace and the objects, registers their cleanup (which
// waits until their NodePools' nodes and VMs are gone), and returns once
// the namespace has pods pods, all Running (0: returns at once).
func (e *Environment) Run(ctx context.Context, ns string, pods int, objs ...client.Object) {
	GinkgoHelper()
	Expect(Namespace(ctx, e.Client, ns)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) {
		Expect(e.Cleanup(ctx, append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})...)).To(Succeed())
	}, NodeTimeout(5*time.Minute))
	for _, o := range objs {
		Expect(e.Client.Create(ctx, o)).To(Succeed())
	}
	if pods > 0 {
		Expect(e.WaitPodsRunning(ctx, ns, pods, 4*time.Minute)).To(Succeed())
	}
}

// NodeAndVM returns the node and the azuresim VM of a running pod, and
// checks that they agree on the size.
func (e *Environment) NodeAndVM(ctx context.Context, ns, name string) (*corev1.Node, azuresim.VMState) {
	GinkgoHelper()
	var pod corev1.Pod
	Expect(e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &pod)).To(Succeed())
	node, err := NodeOf(ctx, e.Client, &pod)
	Expect(err).NotTo(HaveOccurred())
	vm, err := e.VMOfNode(ctx, node)
	Expect(err).NotTo(HaveOccurred())
	Expect(vm.Size).To(Equal(node.Labels[corev1.LabelInstanceTypeStable]), "node %s and its VM disagree on the size", node.Name)
	return node, vm
}
