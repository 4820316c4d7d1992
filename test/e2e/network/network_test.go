//go:build e2e

package network

import (
	"context"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/localcluster"
	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

func clients() *azure.Clients {
	GinkgoHelper()
	c, err := azure.NewClients(env.Azure, localcluster.SubscriptionID)
	Expect(err).NotTo(HaveOccurred())
	return c
}

// subnet creates a subnet of the local cluster's VNet (associated with no
// NSG: a NIC in it carries the AKS NSG itself) and returns its ID.
func subnet(ctx context.Context, name, prefix string, routeTable string) string {
	GinkgoHelper()
	props := &armnetwork.SubnetPropertiesFormat{AddressPrefix: to.Ptr(prefix)}
	if routeTable != "" {
		props.RouteTable = &armnetwork.RouteTable{ID: to.Ptr(routeTable)}
	}
	poller, err := clients().Network.NewSubnetsClient().BeginCreateOrUpdate(ctx, localcluster.ResourceGroup, localcluster.VNet, name, armnetwork.Subnet{Properties: props}, nil)
	Expect(err).NotTo(HaveOccurred())
	got, err := poller.PollUntilDone(ctx, nil)
	Expect(err).NotTo(HaveOccurred())
	return *got.ID
}

// apart are replicas pods that each need a node of their own.
func apart(ns, pool string, replicas int32) client.Object {
	d := framework.Deployment(ns, "apart", pool, replicas, "500m", "512Mi")
	d.Spec.Template.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
		TopologyKey: corev1.LabelHostname, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "apart"}},
	}}}}
	return d
}

// restartController runs the controller with env (a network setup of
// another cluster) for the rest of the spec, and as the suite started it
// afterwards; the spec's objects are cleaned up before it is restored.
func restartController(ctx context.Context, env0 ...string) {
	GinkgoHelper()
	Expect(env.RestartController(ctx, env0...)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) { Expect(env.RestartController(ctx)).To(Succeed()) }, NodeTimeout(2*time.Minute))
}

// poolMembers maps each backend pool of the kubernetes load balancer to
// the NICs (lower-cased IDs) whose IP configurations are in it, as Azure
// reports them.
func poolMembers(ctx context.Context) map[string]sets.Set[string] {
	GinkgoHelper()
	lb, err := clients().Network.NewLoadBalancersClient().Get(ctx, localcluster.ResourceGroup, "kubernetes", nil)
	Expect(err).NotTo(HaveOccurred())
	out := map[string]sets.Set[string]{}
	for _, p := range lb.Properties.BackendAddressPools {
		out[*p.Name] = sets.New[string]()
		for _, c := range p.Properties.BackendIPConfigurations {
			out[*p.Name].Insert(strings.ToLower(strings.Split(*c.ID, "/ipConfigurations/")[0]))
		}
	}
	return out
}

func nodeClassCondition(ctx context.Context, name, condition string) (*v1beta1.AKSNodeClass, bool, string) {
	var nc v1beta1.AKSNodeClass
	if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, &nc); err != nil {
		return nil, false, ""
	}
	c := nc.StatusConditions().Get(condition)
	if c == nil {
		return &nc, false, ""
	}
	return &nc, c.IsFalse(), c.Reason
}

var _ = Describe("node networking", func() {
	// On AKS's default cluster (Azure CNI Overlay, outbound type
	// loadBalancer, AKS's VNet with the NSG on its subnet) every node's NIC
	// is in the kubernetes load balancer's outbound and inbound pools, and
	// leaves them with its node.
	It("puts every node's NIC in the cluster's load balancer pools, and takes it out with the node", Label("fast"), func(ctx SpecContext) {
		ns, pool := "pools", "pools"
		env.Run(ctx, ns, 3, framework.NodePool(pool, "default"), apart(ns, pool, 3))
		st, err := env.Sim.State(ctx)
		Expect(err).NotTo(HaveOccurred())
		vms, err := env.VMsOf(ctx, pool)
		Expect(err).NotTo(HaveOccurred())
		Expect(vms).To(HaveLen(3))
		members := poolMembers(ctx)
		Expect(members).To(HaveKey("aksOutboundBackendPool"))
		Expect(members).To(HaveKey("kubernetes"))
		for _, vm := range vms {
			Expect(vm.NICs).To(HaveLen(1))
			nicID := strings.ToLower(vm.NICs[0])
			Expect(members["aksOutboundBackendPool"].Has(nicID)).To(BeTrue(), "node %s's NIC is not in the outbound pool", vm.Node)
			Expect(members["kubernetes"].Has(nicID)).To(BeTrue(), "node %s's NIC is not in the inbound pool", vm.Node)
			nic, ok := lo.Find(st.NICs, func(n azuresim.NICState) bool { return strings.EqualFold(n.ID, vm.NICs[0]) })
			Expect(ok).To(BeTrue())
			Expect(nic.IPConfigurations).To(Equal(1), "an overlay node takes one address")
			Expect(nic.NetworkSecurityGroup).To(BeEmpty(), "the NSG is on AKS's subnet, not on the NIC")
			Expect(nic.IPForwarding).To(BeFalse())
		}

		// The workload goes, the nodes go, and their pool entries with them.
		Expect(env.Cleanup(ctx, framework.NodePool(pool, "default"), apart(ns, pool, 3))).To(Succeed())
		Expect(env.Eventually(ctx, time.Minute, "the pools to hold none of the deleted nodes' NICs", func(ctx context.Context) (bool, error) {
			members := poolMembers(ctx)
			for _, vm := range vms {
				if members["aksOutboundBackendPool"].Has(strings.ToLower(vm.NICs[0])) || members["kubernetes"].Has(strings.ToLower(vm.NICs[0])) {
					return false, nil
				}
			}
			return true, nil
		})).To(Succeed())
	})

	// A /25 has 123 usable addresses: three nodes of 30 pods (31 addresses
	// each) fit, a fourth does not, where one address per NIC would have
	// taken 123 nodes.
	It("fills an Azure CNI node-subnet cluster's subnet at max pods + 1 addresses per node, with the NodeClass condition and no NodeClaim churn", Label("fast"), func(ctx SpecContext) {
		restartController(ctx, "NETWORK_PLUGIN=azure", "NETWORK_PLUGIN_MODE=")
		subnetID := subnet(ctx, "e2e-node-subnet", "10.226.0.0/25", "")
		ns, pool, class := "node-subnet", "node-subnet", "node-subnet"
		nc := framework.NodeClass(class)
		nc.Spec.VNETSubnetID = to.Ptr(subnetID)
		env.Run(ctx, ns, 0, nc, framework.NodePool(pool, class), apart(ns, pool, 4))
		Expect(env.Eventually(ctx, 3*time.Minute, "three of the four pods Running", func(ctx context.Context) (bool, error) {
			running, _, err := framework.PodsRunning(ctx, env.Client, ns)
			return running == 3, err
		})).To(Succeed())
		Expect(env.Eventually(ctx, 2*time.Minute, "AKSNodeClass node-subnet not Ready with reason SubnetFull", func(ctx context.Context) (bool, error) {
			_, isFalse, reason := nodeClassCondition(ctx, class, v1beta1.ConditionTypeSubnetsReady)
			return isFalse && reason == "SubnetFull", nil
		})).To(Succeed())
		// What was in flight settles: three NodeClaims, each with its node.
		registered := func(ctx context.Context) (sets.Set[string], bool, error) {
			nodes, claims, err := framework.PoolNodes(ctx, env.Client, pool)
			return sets.New(lo.Map(claims, func(c karpv1.NodeClaim, _ int) string { return c.Name })...), len(claims) == 3 && len(nodes) == 3, err
		}
		var seen sets.Set[string]
		Expect(env.Eventually(ctx, 2*time.Minute, "three NodeClaims, all registered", func(ctx context.Context) (bool, error) {
			names, ok, err := registered(ctx)
			seen = names
			return ok, err
		})).To(Succeed())
		Expect(env.Consistently(ctx, time.Minute, "no NodeClaim is created while the subnet cannot hold a node", func(ctx context.Context) (bool, error) {
			now, _, err := registered(ctx)
			if fresh := now.Difference(seen); err == nil && fresh.Len() > 0 {
				GinkgoWriter.Printf("new NodeClaims while the subnet is full: %v\n", sets.List(fresh))
				return false, nil
			}
			return true, err
		})).To(Succeed())
		running, total, err := framework.PodsRunning(ctx, env.Client, ns)
		Expect(err).NotTo(HaveOccurred())
		Expect(running).To(Equal(3))
		Expect(total).To(Equal(4))
		_, _, reason := nodeClassCondition(ctx, class, v1beta1.ConditionTypeSubnetsReady)
		Expect(reason).To(Equal("SubnetFull"))

		st, err := env.Sim.State(ctx)
		Expect(err).NotTo(HaveOccurred())
		sn, ok := lo.Find(st.Subnets, func(s azuresim.SubnetState) bool { return strings.EqualFold(s.ID, subnetID) })
		Expect(ok).To(BeTrue())
		Expect(sn.Used).To(Equal(93), "three nodes of 31 addresses")
		Expect(sn.Available).To(Equal(30))
		var nodes corev1.NodeList
		Expect(env.Client.List(ctx, &nodes, client.MatchingLabels{karpv1.NodePoolLabelKey: pool})).To(Succeed())
		for _, node := range nodes.Items {
			Expect(node.Status.Capacity.Pods().Value()).To(Equal(int64(30)), "node %s's pod capacity", node.Name)
			vm, err := env.VMOfNode(ctx, &node)
			Expect(err).NotTo(HaveOccurred())
			nic, ok := lo.Find(st.NICs, func(n azuresim.NICState) bool { return strings.EqualFold(n.ID, vm.NICs[0]) })
			Expect(ok).To(BeTrue())
			Expect(nic.IPConfigurations).To(Equal(31), "node %s: a primary and one per pod", node.Name)
			Expect(nic.NetworkSecurityGroup).To(ContainSubstring("aks-agentpool-"+localcluster.AKSNumber+"-nsg"), "the subnet has no NSG: the NIC carries AKS's")
			Expect(nic.BackendPools).To(HaveLen(2))
		}
	})

	// kubenet: nodes' NICs forward IP, and the node subnet must be
	// associated with the cluster's route table, which the NodeClass's
	// condition names until it is.
	It("gives kubenet NICs IP forwarding, and holds nodes until the subnet has the cluster's route table", Label("fast"), func(ctx SpecContext) {
		// AKS creates a kubenet cluster's route table with the cluster.
		f := clients().Network
		rtName := "aks-agentpool-" + localcluster.AKSNumber + "-routetable"
		poller, err := f.NewRouteTablesClient().BeginCreateOrUpdate(ctx, localcluster.ResourceGroup, rtName, armnetwork.RouteTable{Location: to.Ptr(localcluster.Location)}, nil)
		Expect(err).NotTo(HaveOccurred())
		rt, err := poller.PollUntilDone(ctx, nil)
		Expect(err).NotTo(HaveOccurred())
		restartController(ctx, "NETWORK_PLUGIN=kubenet", "NETWORK_PLUGIN_MODE=")
		subnetID := subnet(ctx, "e2e-kubenet", "10.227.0.0/24", "")
		ns, pool, class := "kubenet", "kubenet", "kubenet"
		nc := framework.NodeClass(class)
		nc.Spec.VNETSubnetID = to.Ptr(subnetID)
		env.Run(ctx, ns, 0, nc, framework.NodePool(pool, class), apart(ns, pool, 1))
		Expect(env.Eventually(ctx, 2*time.Minute, "AKSNodeClass kubenet not Ready with reason RouteTableNotAssociated", func(ctx context.Context) (bool, error) {
			got, isFalse, reason := nodeClassCondition(ctx, class, v1beta1.ConditionTypeNetworkReady)
			return isFalse && reason == "RouteTableNotAssociated" && strings.Contains(got.StatusConditions().Get(v1beta1.ConditionTypeNetworkReady).Message, rtName), nil
		})).To(Succeed())
		nodes, claims, err := framework.PoolNodes(ctx, env.Client, pool)
		Expect(err).NotTo(HaveOccurred())
		Expect(nodes).To(BeEmpty())
		Expect(claims).To(BeEmpty(), "no NodeClaim while the NodeClass is not Ready")

		subnet(ctx, "e2e-kubenet", "10.227.0.0/24", *rt.ID)
		Expect(env.WaitPodsRunning(ctx, ns, 1, 4*time.Minute)).To(Succeed())
		_, vm := env.NodeAndVM(ctx, ns, podName(ctx, ns))
		st, err := env.Sim.State(ctx)
		Expect(err).NotTo(HaveOccurred())
		nic, ok := lo.Find(st.NICs, func(n azuresim.NICState) bool { return strings.EqualFold(n.ID, vm.NICs[0]) })
		Expect(ok).To(BeTrue())
		Expect(nic.IPForwarding).To(BeTrue(), "kubenet nodes route their pods' traffic")
		Expect(nic.IPConfigurations).To(Equal(1))
		got, err := f.NewRouteTablesClient().Get(ctx, localcluster.ResourceGroup, rtName, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(lo.Map(got.Properties.Subnets, func(s *armnetwork.Subnet, _ int) string { return strings.ToLower(*s.ID) })).To(ContainElement(strings.ToLower(subnetID)))
	})
})

func podName(ctx context.Context, ns string) string {
	GinkgoHelper()
	pods, err := framework.Pods(ctx, env.Client, ns)
	Expect(err).NotTo(HaveOccurred())
	Expect(pods).NotTo(BeEmpty())
	return pods[0].Name
}
