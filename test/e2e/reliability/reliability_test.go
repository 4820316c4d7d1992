//go:build e2e

package reliability

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/localcluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instance"
	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

// vmWatch samples azuresim until stopped and remembers the most live VMs
// it ever saw for one NodeClaim.
type vmWatch struct {
	mu       sync.Mutex
	maxPerNC int
	worst    string
	stop     chan struct{}
	done     chan struct{}
}

func watchVMs(ctx context.Context) *vmWatch {
	w := &vmWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			if st, err := env.Sim.State(ctx); err == nil {
				perNC := lo.CountValues(lo.FilterMap(st.VMs, func(vm azuresim.VMState, _ int) (string, bool) {
					return vm.Tags[framework.TagNodeClaim], vm.Tags[framework.TagNodeClaim] != "" && vm.ProvisioningState != "Deleting"
				}))
				w.mu.Lock()
				for nc, n := range perNC {
					if n > w.maxPerNC {
						w.maxPerNC, w.worst = n, nc
					}
				}
				w.mu.Unlock()
			}
			select {
			case <-w.stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	return w
}

func (w *vmWatch) Stop() (int, string) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.maxPerNC, w.worst
}

// noLeaks waits until every VM of the pool belongs to a live NodeClaim and
// every NodeClaim of the pool is launched and initialized.
func noLeaks(ctx context.Context, pool string, timeout time.Duration) {
	GinkgoHelper()
	Expect(env.Eventually(ctx, timeout, "no VM without its NodeClaim and no NodeClaim stuck", func(ctx context.Context) (bool, error) {
		_, claims, err := framework.PoolNodes(ctx, env.Client, pool)
		if err != nil {
			return false, err
		}
		names := sets.New(lo.Map(claims, func(c karpv1.NodeClaim, _ int) string { return c.Name })...)
		vms, err := env.VMsOf(ctx, pool)
		if err != nil {
			return false, err
		}
		for _, vm := range vms {
			if !names.Has(vm.Tags[framework.TagNodeClaim]) {
				return false, nil
			}
		}
		return len(vms) == len(claims) && lo.EveryBy(claims, func(c karpv1.NodeClaim) bool {
			return c.DeletionTimestamp.IsZero() && c.StatusConditions().Get(karpv1.ConditionTypeInitialized).IsTrue()
		}), nil
	})).To(Succeed())
}

var _ = Describe("garbage collection", func() {
	It("collects a VM with our tags created out of band, and an orphan NIC", Label("fast"), func(ctx SpecContext) {
		clients, err := azure.NewClients(env.Azure, localcluster.SubscriptionID)
		Expect(err).NotTo(HaveOccurred())
		rg := localcluster.ResourceGroup
		tags := func(extra map[string]string) map[string]*string {
			t := map[string]*string{"karpenter.azure.com_cluster": to.Ptr(localcluster.ClusterName)}
			for k, v := range extra {
				t[k] = to.Ptr(v)
			}
			return t
		}
		nic := func(name string, t map[string]*string) (string, error) {
			p, err := clients.Network.NewInterfacesClient().BeginCreateOrUpdate(ctx, rg, name, armnetwork.Interface{
				Location: to.Ptr(localcluster.Location), Tags: t,
				Properties: &armnetwork.InterfacePropertiesFormat{IPConfigurations: []*armnetwork.InterfaceIPConfiguration{{
					Name: to.Ptr("ipconfig1"), Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{Subnet: &armnetwork.Subnet{ID: to.Ptr(localcluster.SubnetID())}, Primary: to.Ptr(true)},
				}}},
			}, nil)
			Expect(err).NotTo(HaveOccurred())
			res, err := p.PollUntilDone(ctx, nil)
			if err != nil {
				return "", err
			}
			return *res.ID, nil
		}
		// A VM launched for a NodeClaim that no longer exists, as a crashed
		// or timed-out create leaves it, and a NIC whose VM never came.
		created := time.Now().UTC().Format(time.RFC3339)
		vmTags := tags(map[string]string{framework.TagNodePool: "gc", framework.TagNodeClaim: "gc-gone", "karpenter.azure.com_creationtimestamp": created})
		nicID, err := nic("aks-gc-gone", vmTags)
		Expect(err).NotTo(HaveOccurred())
		p, err := clients.Compute.NewVirtualMachinesClient().BeginCreateOrUpdate(ctx, rg, "aks-gc-gone", armcompute.VirtualMachine{
			Location: to.Ptr(localcluster.Location), Tags: vmTags, Zones: []*string{to.Ptr("1")},
			Properties: &armcompute.VirtualMachineProperties{
				HardwareProfile: &armcompute.HardwareProfile{VMSize: to.Ptr(armcompute.VirtualMachineSizeTypes("Standard_D2s_v5"))},
				StorageProfile: &armcompute.StorageProfile{
					ImageReference: &armcompute.ImageReference{CommunityGalleryImageID: to.Ptr("/CommunityGalleries/" + azuresim.GalleryAKSUbuntu + "/Images/2404gen2containerd/Versions/latest")},
					OSDisk: &armcompute.OSDisk{CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesFromImage),
						DeleteOption: to.Ptr(armcompute.DiskDeleteOptionTypesDelete)}},
				// As Azure requires of a VM from an image: an OS profile with
				// an SSH key (one nobody holds the private half of).
				OSProfile: &armcompute.OSProfile{ComputerName: to.Ptr("aks-gc-gone"), AdminUsername: to.Ptr("azureuser"),
					LinuxConfiguration: &armcompute.LinuxConfiguration{DisablePasswordAuthentication: to.Ptr(true), SSH: &armcompute.SSHConfiguration{
						PublicKeys: []*armcompute.SSHPublicKey{{Path: to.Ptr("/home/azureuser/.ssh/authorized_keys"),
							KeyData: to.Ptr("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhWm8l1mzq0dMsWcY8b1tU2WQz2rj0y1sJX2dV3rKj1 e2e")}},
					}}},
				NetworkProfile: &armcompute.NetworkProfile{NetworkInterfaces: []*armcompute.NetworkInterfaceReference{{ID: to.Ptr(nicID),
					Properties: &armcompute.NetworkInterfaceReferenceProperties{DeleteOption: to.Ptr(armcompute.DeleteOptionsDelete)}}}},
			},
		}, nil)
		Expect(err).NotTo(HaveOccurred())
		_, err = p.PollUntilDone(ctx, nil)
		Expect(err).NotTo(HaveOccurred())
		// The orphan is collectable at once (its creation tag is an hour
		// old), so the collector may delete it before the create's poller
		// reads it back: a 404 there is the collection this spec waits for.
		// ARM accepted the PUT, so the NIC existed.
		_, err = nic("aks-gc-orphan", tags(map[string]string{framework.TagNodeClaim: "gc-never", "karpenter.azure.com_creationtimestamp": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}))
		if err != nil {
			Expect(instance.IsARMNotFound(err)).To(BeTrue(), "creating the orphan NIC: %v", err)
		}

		Expect(env.Eventually(ctx, 4*time.Minute, "the out-of-band VM and the orphan NIC collected", func(ctx context.Context) (bool, error) {
			st, err := env.Sim.State(ctx)
			if err != nil {
				return false, err
			}
			vmLeft := lo.ContainsBy(st.VMs, func(vm azuresim.VMState) bool { return vm.Name == "aks-gc-gone" })
			nicLeft := lo.ContainsBy(st.NICs, func(n azuresim.NICState) bool {
				return n.ID == nicID || lo.Contains([]string{"aks-gc-orphan"}, n.ID[len(n.ID)-len("aks-gc-orphan"):])
			})
			diskLeft := lo.ContainsBy(st.Disks, func(d azuresim.DiskState) bool { return d.VM != "" && d.Tags[framework.TagNodeClaim] == "gc-gone" })
			return !vmLeft && !nicLeft && !diskLeft, nil
		})).To(Succeed())
	})
})

var _ = Describe("faults", func() {
	for _, tc := range []struct {
		name  string
		edit  func(*azuresim.Config)
		check func(azuresim.Stats)
	}{{
		name: "a 429 storm",
		edit: func(c *azuresim.Config) {
			// Buckets a fraction of Azure's: every burst of creates is
			// throttled, and clients must honour Retry-After.
			c.Throttling.Buckets = map[string]azuresim.BucketSpec{
				azuresim.BucketPutVM:              {Size: 4, RefillPerMinute: 4},
				azuresim.BucketSubscriptionWrites: {Size: 10, RefillPerMinute: 30},
				azuresim.BucketGetVM:              {Size: 40, RefillPerMinute: 120},
			}
		},
		check: func(st azuresim.Stats) {
			throttled := lo.SumBy(lo.Values(st.Operations), func(o azuresim.OperationStats) int64 { return o.Throttled })
			Expect(throttled).To(BeNumerically(">", 0), "the storm throttled requests")
		},
	}, {
		name: "a 20% ARM 5xx rate",
		edit: func(c *azuresim.Config) {
			for _, op := range []string{azuresim.OpPutVM, azuresim.OpGetVM, azuresim.OpPutNIC, azuresim.OpGetNIC, azuresim.OpListVM, azuresim.OpDeleteVM, azuresim.OpGetOperation} {
				c.Errors = append(c.Errors, azuresim.ErrorRule{Operation: op, Code: lo.Ternary(op == azuresim.OpGetVM, "ServiceUnavailable", "InternalServerError"), Probability: 0.2})
			}
			c.Errors = append(c.Errors, azuresim.ErrorRule{Operation: azuresim.OpPutVM, Code: "InternalServerError", Async: true, Probability: 0.2})
		},
		check: func(st azuresim.Stats) {
			errs := lo.SumBy(lo.Values(st.Operations), func(o azuresim.OperationStats) int64 { return o.StatusCodes["500"] + o.StatusCodes["503"] })
			Expect(errs).To(BeNumerically(">", 0), "requests failed with 5xx")
		},
	}} {
		It("completes provisioning under "+tc.name+" with no NodeClaim stuck", Label("fast"), func(ctx SpecContext) {
			Expect(env.Sim.ResetStats(ctx)).To(Succeed())
			env.Fault(ctx, tc.edit)
			ns := "faults-" + lo.Ternary(tc.name == "a 429 storm", "429", "5xx")
			env.Run(ctx, ns, 12, framework.NodePool(ns, "default"), framework.AntiAffineDeployment(ns, "app", ns, 12, "500m", "512Mi"))
			noLeaks(ctx, ns, 3*time.Minute)
			st, err := env.Sim.Stats(ctx)
			Expect(err).NotTo(HaveOccurred())
			tc.check(st)
		})
	}
})

var _ = Describe("crash safety", func() {
	It("survives 5 SIGKILLs of the controller during a 50-node scale-up", func(ctx SpecContext) {
		ns, pool := "crash", "crash"
		np := framework.NodePool(pool, "default")
		np.Spec.Disruption.ConsolidationPolicy = karpv1.ConsolidationPolicyWhenEmpty
		np.Spec.Disruption.ConsolidateAfter = karpv1.MustParseNillableDuration("10m")
		watch := watchVMs(ctx)
		env.Run(ctx, ns, 0, np, framework.AntiAffineDeployment(ns, "app", pool, 50, "500m", "512Mi"))
		rng := rand.New(rand.NewPCG(uint64(GinkgoRandomSeed()), 12))
		for i := range 5 {
			wait := time.Duration(1000+rng.IntN(6000)) * time.Millisecond
			time.Sleep(wait)
			st, err := env.Sim.State(ctx)
			Expect(err).NotTo(HaveOccurred())
			GinkgoWriter.Printf("kill %d after %s: %d VMs\n", i+1, wait, len(st.VMs))
			Expect(env.KillController()).To(Succeed())
			Expect(env.StartController(ctx)).To(Succeed())
		}
		Expect(env.WaitPodsRunning(ctx, ns, 50, 8*time.Minute)).To(Succeed())
		noLeaks(ctx, pool, 5*time.Minute)
		most, worst := watch.Stop()
		Expect(most).To(BeNumerically("<=", 1), "NodeClaim %s had %d VMs at once", worst, most)
		Expect(env.Monitor.Err()).NotTo(HaveOccurred())
	})

	// Issue 12: the create timeout outlived core's launch timeout; liveness
	// deleted the NodeClaim, which had no providerID, so no Delete came and
	// the VM waited for garbage collection. Issue 15: Create now returns as
	// soon as Azure accepts the VM, so a slow VM's NodeClaim is launched at
	// once (core's state stays synced), and deleting it deletes the VM.
	It("launches the NodeClaim of a slow VM at once, and deletes the VM promptly with its NodeClaim", Label("fast"), func(ctx SpecContext) {
		// 8 wall minutes to provision: longer than core's launch timeout.
		env.Fault(ctx, func(c *azuresim.Config) {
			c.Latency.VMCreate = azuresim.Latency{Distribution: "constant", Mean: azuresim.Duration{Duration: 400 * time.Minute}}
		})
		ns, pool := "slow", "slow"
		env.Run(ctx, ns, 0, framework.NodePool(pool, "default"), framework.Pod(ns, "app", pool, "1", "1Gi"))
		var first azuresim.VMState
		Expect(env.Eventually(ctx, 2*time.Minute, "the slow VM being created", func(ctx context.Context) (bool, error) {
			vms, err := env.VMsOf(ctx, pool)
			if err != nil || len(vms) == 0 {
				return false, err
			}
			first = vms[0]
			return true, nil
		})).To(Succeed())
		finishes := first.Created.Add(8 * time.Minute)
		claim := &karpv1.NodeClaim{}
		Expect(env.Eventually(ctx, time.Minute, "the NodeClaim launched with the VM's providerID while the VM is created", func(ctx context.Context) (bool, error) {
			if err := env.Client.Get(ctx, client.ObjectKey{Name: first.Tags[framework.TagNodeClaim]}, claim); err != nil {
				return false, err
			}
			return claim.StatusConditions().Get(karpv1.ConditionTypeLaunched).IsTrue() && strings.EqualFold(claim.Status.ProviderID, "azure://"+first.ID), nil
		})).To(Succeed())
		vms, err := env.VMsOf(ctx, pool)
		Expect(err).NotTo(HaveOccurred())
		Expect(vms).To(HaveLen(1))
		Expect(vms[0].ProvisioningState).To(Equal("Creating"), "launched before the VM provisioned")

		// The workload goes, then its NodeClaim: the VM goes with it, long
		// before it would have finished provisioning.
		Expect(env.Client.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(ns))).To(Succeed())
		Expect(env.Client.Delete(ctx, claim)).To(Succeed())
		Expect(env.Eventually(ctx, time.Until(finishes), "the VM of the deleted NodeClaim deleted before it would have finished provisioning", func(ctx context.Context) (bool, error) {
			st, err := env.Sim.State(ctx)
			if err != nil {
				return false, err
			}
			vm, ok := lo.Find(st.VMs, func(v azuresim.VMState) bool { return v.ID == first.ID })
			if ok && vm.ProvisioningState == "Succeeded" {
				return false, fmt.Errorf("VM %s finished provisioning without a NodeClaim", vm.Name)
			}
			return !ok || vm.ProvisioningState == "Deleting", nil
		})).To(Succeed())
	})
})
