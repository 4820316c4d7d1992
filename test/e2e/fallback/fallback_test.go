//go:build e2e

package fallback

import (
	"context"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/localcluster"
	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

var _ = Describe("fallbacks", func() {
	// Spot when it is cheaper, on-demand when the spot quota is exhausted,
	// another family when a family's quota is: pkg/cloudprovider's
	// placement specs (Azure refuses those at the VM's PUT, so Create fails
	// and core provisions again). A zone out of capacity fails the VM after
	// Azure accepted it: the NodeClaim is deleted in the background and
	// core provisions again, which takes the whole cluster.
	It("moves to another zone when a zone has no capacity", func(ctx SpecContext) {
		size := "Standard_D4s_v5"
		env.Fault(ctx, func(c *azuresim.Config) {
			for _, z := range []string{"1", "3"} {
				c.Capacity = append(c.Capacity, azuresim.CapacityRule{SKU: size, Zone: z, CapacityType: "on-demand", Count: 0})
			}
		})
		ns, pool := "zones", "zones"
		env.Run(ctx, ns, 2, framework.NodePool(pool, "default", framework.Requirement(corev1.LabelInstanceTypeStable, size),
			framework.Requirement(karpv1.CapacityTypeLabelKey, karpv1.CapacityTypeOnDemand)),
			framework.Pod(ns, "a", pool, "3", "4Gi"), framework.Pod(ns, "b", pool, "3", "4Gi"))
		for _, p := range []string{"a", "b"} {
			node, vm := env.NodeAndVM(ctx, ns, p)
			Expect(node.Labels).To(HaveKeyWithValue(corev1.LabelTopologyZone, "eastus-2"))
			Expect(vm.Zone).To(Equal("2"))
		}
		vms, err := env.VMsOf(ctx, pool)
		Expect(err).NotTo(HaveOccurred())
		Expect(lo.CountBy(vms, func(vm azuresim.VMState) bool { return vm.ProvisioningState == "Failed" })).To(BeZero(), "failed VMs are cleaned up")
	})

	// Issue 12: after a restart the quota the VM itself holds made its size
	// unavailable, Create refused the NodeClaim, and the VM was orphaned.
	It("adopts, after a restart, the VM of a launch whose size the VM's own quota use made unavailable", Label("fast"), func(ctx SpecContext) {
		size := "Standard_D4s_v5"
		env.Fault(ctx, func(c *azuresim.Config) {
			c.Quota.Families = append(c.Quota.Families, azuresim.FamilyQuota{Location: "eastus", Family: "standardDSv5Family", Limit: 4})
			// Slow enough to crash the controller while the VM is created:
			// 15 simulated minutes are 18 wall seconds at this time scale.
			c.Latency.VMCreate = azuresim.Latency{Distribution: "constant", Mean: azuresim.Duration{Duration: 15 * time.Minute}}
		})
		ns, pool := "adopt", "adopt"
		Expect(framework.Namespace(ctx, env.Client, ns)).To(Succeed())
		np := framework.NodePool(pool, "default", framework.Requirement(corev1.LabelInstanceTypeStable, size),
			framework.Requirement(karpv1.CapacityTypeLabelKey, karpv1.CapacityTypeOnDemand))
		pod := framework.Pod(ns, "app", pool, "3", "4Gi")
		DeferCleanup(func(ctx SpecContext) {
			Expect(env.Cleanup(ctx, pod, np, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
		}, NodeTimeout(5*time.Minute))
		Expect(env.Client.Create(ctx, np)).To(Succeed())
		Expect(env.Client.Create(ctx, pod)).To(Succeed())

		var creating azuresim.VMState
		Expect(env.Eventually(ctx, 2*time.Minute, "the VM being created", func(ctx context.Context) (bool, error) {
			vms, err := env.VMsOf(ctx, pool)
			if err != nil || len(vms) == 0 {
				return false, err
			}
			creating = vms[0]
			return creating.ProvisioningState == "Creating", nil
		})).To(Succeed())
		claimName := creating.Tags[framework.TagNodeClaim]
		Expect(env.KillController()).To(Succeed())
		Expect(env.StartController(ctx)).To(Succeed())

		Expect(env.WaitPodsRunning(ctx, ns, 1, 3*time.Minute)).To(Succeed())
		node, vm := env.NodeAndVM(ctx, ns, "app")
		Expect(vm.ID).To(Equal(creating.ID), "the pod runs on the VM created before the crash")
		Expect(node.Labels).To(HaveKeyWithValue(corev1.LabelInstanceTypeStable, size))
		var claim karpv1.NodeClaim
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: claimName}, &claim)).To(Succeed(), "the NodeClaim of the VM survived the restart")
		Expect(claim.Status.ProviderID).To(Equal(node.Spec.ProviderID))
		Expect(claim.Status.Capacity.Cpu().Value()).To(Equal(int64(4)))
		vms, err := env.VMsOf(ctx, pool)
		Expect(err).NotTo(HaveOccurred())
		Expect(vms).To(HaveLen(1))
	})

	// Issue 12: SubnetIsFull did not make the NodeClass not Ready, so core
	// kept creating NodeClaims that failed on the NIC PUT for 5 minutes.
	It("reports a full subnet on the NodeClass and stops creating NodeClaims", Label("fast"), func(ctx SpecContext) {
		// A subnet of its own with room for one NIC, so the cluster's other
		// NodeClasses keep theirs.
		const subnetName = "e2e-full"
		clients, err := azure.NewClients(env.Azure, localcluster.SubscriptionID)
		Expect(err).NotTo(HaveOccurred())
		poller, err := clients.Network.NewSubnetsClient().BeginCreateOrUpdate(ctx, localcluster.ResourceGroup, localcluster.VNet, subnetName,
			armnetwork.Subnet{Properties: &armnetwork.SubnetPropertiesFormat{AddressPrefix: to.Ptr("10.225.0.0/24")}}, nil)
		Expect(err).NotTo(HaveOccurred())
		created, err := poller.PollUntilDone(ctx, nil)
		Expect(err).NotTo(HaveOccurred())
		env.Fault(ctx, func(c *azuresim.Config) {
			c.Subnets = append(c.Subnets, azuresim.SubnetRule{VNet: localcluster.VNet, Subnet: subnetName, AvailableIPs: 1})
		})
		ns, pool := "subnet", "subnet"
		nc := framework.NodeClass("subnet")
		nc.Spec.VNETSubnetID = created.ID
		apart := framework.AntiAffineDeployment(ns, "apart", pool, 3, "500m", "512Mi")
		env.Run(ctx, ns, 0, nc, framework.NodePool(pool, "subnet"), apart)

		Expect(env.Eventually(ctx, 3*time.Minute, "AKSNodeClass subnet not Ready with reason SubnetFull", func(ctx context.Context) (bool, error) {
			var got v1beta1.AKSNodeClass
			if err := env.Client.Get(ctx, client.ObjectKey{Name: "subnet"}, &got); err != nil {
				return false, err
			}
			cond := got.StatusConditions().Get(v1beta1.ConditionTypeSubnetsReady)
			return cond != nil && cond.IsFalse() && cond.Reason == "SubnetFull", nil
		})).To(Succeed())
		// Let what was in flight settle (every NodeClaim launched; those
		// Azure refused deleted), then watch for NodeClaims created over a
		// minute: none.
		Expect(env.Eventually(ctx, time.Minute, "every NodeClaim of the pool launched or gone", func(ctx context.Context) (bool, error) {
			_, claims, err := framework.PoolNodes(ctx, env.Client, pool)
			return err == nil && lo.EveryBy(claims, func(c karpv1.NodeClaim) bool {
				return c.DeletionTimestamp.IsZero() && c.StatusConditions().Get(karpv1.ConditionTypeLaunched).IsTrue()
			}), err
		})).To(Succeed())
		Expect(env.ConsistentlyNoNewNodeClaims(ctx, time.Minute, pool)).To(Succeed(), "no NodeClaim is created while the subnet is full")
		running, total, err := framework.PodsRunning(ctx, env.Client, ns)
		Expect(err).NotTo(HaveOccurred())
		Expect(running).To(BeNumerically("<", total), "pods wait for addresses")
		st, err := env.Sim.State(ctx)
		Expect(err).NotTo(HaveOccurred())
		full, ok := lo.Find(st.Subnets, func(s azuresim.SubnetState) bool { return s.ID == *created.ID })
		Expect(ok).To(BeTrue())
		Expect(full.Used).To(Equal(1), "one NIC fits")
	})
})
