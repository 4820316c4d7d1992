//go:build e2e

// Package nodejoin checks how nodes join through their bootstrap data, and
// what happens when they are told the wrong cluster: a bootstrap token the
// API server does not know, a CA that is not the cluster's, an API server
// name that does not resolve. As on Azure, the node never joins; the
// simulator says why; karpenter core's registration liveness deletes the
// NodeClaim and makes a new one; our Delete leaves no VM or NIC behind. Told
// the right cluster again, nodes join, Windows ones as windows.
package nodejoin

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/cert"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

// tagNodeClaim is the ownership tag naming a VM's NodeClaim.
const tagNodeClaim = "karpenter.sh_nodeclaim"

// registrationTTL is karpenter core's registration timeout (a constant in
// pkg/controllers/nodeclaim/lifecycle/liveness.go, not configurable).
const registrationTTL = 15 * time.Minute

var env *framework.Environment

func TestNodeJoin(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Nodes told the wrong cluster")
}

var _ = framework.Suite(&env, framework.Options{Name: "nodejoin", TimeScale: 0}, "nodejoin")

// wrongCluster is one way of telling nodes the wrong cluster: controller
// environment that makes the provider write it into the custom data, and
// what the node's kubelet fails with.
type wrongCluster struct {
	name  string
	setup func(ctx context.Context) []string
	// joinError is part of what the simulator reports for the VM.
	joinError string
}

var wrongClusters = []wrongCluster{
	{
		name: "a bootstrap token the API server does not know",
		// A well-formed token Secret outside kube-system: the controller
		// accepts it, the API server only authenticates kube-system's.
		setup: func(ctx context.Context) []string {
			token, err := bootstraputil.GenerateBootstrapToken()
			Expect(err).NotTo(HaveOccurred())
			id, secret, _ := strings.Cut(token, ".")
			s := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceDefault, Name: bootstraputil.BootstrapTokenSecretName(id)},
				Type:       bootstrapapi.SecretTypeBootstrapToken,
				StringData: map[string]string{
					bootstrapapi.BootstrapTokenIDKey: id, bootstrapapi.BootstrapTokenSecretKey: secret,
					bootstrapapi.BootstrapTokenUsageAuthentication: "true",
				},
			}
			Expect(env.Client.Create(ctx, s)).To(Succeed())
			return []string{"BOOTSTRAP_TOKEN_SECRET=" + s.Namespace + "/" + s.Name}
		},
		joinError: "cannot create certificate signing request: Unauthorized",
	},
	{
		name: "a CA that is not the cluster's",
		setup: func(context.Context) []string {
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			Expect(err).NotTo(HaveOccurred())
			ca, err := cert.NewSelfSignedCACert(cert.Config{CommonName: "another-cluster-ca"}, key)
			Expect(err).NotTo(HaveOccurred())
			path := filepath.Join(GinkgoT().TempDir(), "other-ca.crt")
			Expect(os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), 0o644)).To(Succeed())
			return []string{"CLUSTER_CA_FILE=" + path}
		},
		joinError: "x509: certificate signed by unknown authority",
	},
	{
		name: "an API server name that does not resolve",
		setup: func(context.Context) []string {
			return []string{"CLUSTER_ENDPOINT=https://azkarpenter-wrong-dns-00000000.hcp.eastus.azmk8s.io"}
		},
		joinError: "lookup azkarpenter-wrong-dns-00000000.hcp.eastus.azmk8s.io on 168.63.129.16:53: no such host",
	},
}

var _ = Describe("nodes told the wrong cluster", Ordered, Label("fast"), func() {
	for i, wc := range wrongClusters {
		It(fmt.Sprintf("never join when told %s; the NodeClaim fails registration, is replaced, and no VM leaks", wc.name), func(ctx SpecContext) {
			Expect(env.RestartController(ctx, wc.setup(ctx)...)).To(Succeed())
			pool := fmt.Sprintf("wrong-%d", i)
			DeferCleanup(removeWorkload, pool)
			startWorkload(ctx, pool)

			By("launching a VM whose node cannot join, and saying why")
			first := launchedClaim(ctx, pool, "")
			vm := vmOf(ctx, first)
			Expect(env.Eventually(ctx, 2*time.Minute, "the simulator to report why "+vm.Name+" cannot join", func(ctx context.Context) (bool, error) {
				vm = vmOf(ctx, first)
				return strings.Contains(vm.NodeJoinError, wc.joinError), nil
			})).To(Succeed(), "the VM's node should fail with %q", wc.joinError)
			GinkgoWriter.Printf("VM %s: %s\n", vm.Name, vm.NodeJoinError)
			var nodes corev1.NodeList
			Expect(env.Client.List(ctx, &nodes)).To(Succeed())
			Expect(lo.ContainsBy(nodes.Items, func(n corev1.Node) bool { return n.Spec.ProviderID == first.Status.ProviderID })).To(BeFalse(), "no Node may stand for %s", vm.Name)

			By("failing registration liveness: the claim is deleted, and its VM and NIC with it")
			expireRegistration(ctx, first.Name)
			Expect(env.Eventually(ctx, 3*time.Minute, "NodeClaim "+first.Name+", its VM and its NIC gone", func(ctx context.Context) (bool, error) {
				if err := env.Client.Get(ctx, client.ObjectKey{Name: first.Name}, &karpv1.NodeClaim{}); err == nil {
					expireRegistration(ctx, first.Name) // in case a status write of core's raced ours
					return false, nil
				}
				st, err := env.Sim.State(ctx)
				if err != nil {
					return false, err
				}
				return !lo.ContainsBy(st.VMs, func(v azuresim.VMState) bool { return strings.EqualFold(v.ID, vm.ID) }) &&
					!lo.ContainsBy(st.NICs, func(n azuresim.NICState) bool {
						return lo.ContainsBy(vm.NICs, func(id string) bool { return strings.EqualFold(id, n.ID) })
					}), nil
			})).To(Succeed())
			Expect(disruptedForRegistrationTimeout(ctx, pool)).To(BeNumerically(">=", 1),
				"karpenter core's liveness check, not something else, should have deleted the claim")

			By("replacing the claim for the pending pod: it cannot join either")
			replacement := launchedClaim(ctx, pool, first.Name)
			Expect(env.Eventually(ctx, 2*time.Minute, "the replacement's join error", func(ctx context.Context) (bool, error) {
				return strings.Contains(vmOf(ctx, replacement).NodeJoinError, wc.joinError), nil
			})).To(Succeed())
		}, SpecTimeout(8*time.Minute))
	}

	It("join again once the controller is told the right cluster", func(ctx SpecContext) {
		Expect(env.RestartController(ctx)).To(Succeed())
		const pool = "right"
		DeferCleanup(removeWorkload, pool)
		startWorkload(ctx, pool)
		Expect(env.Eventually(ctx, 4*time.Minute, "the pod Running on a node that joined", func(ctx context.Context) (bool, error) {
			running, total, err := framework.PodsRunning(ctx, env.Client, pool)
			return total == 1 && running == 1, err
		})).To(Succeed())
		// The pod runs once kube-scheduler sees the Node; karpenter core
		// marks the NodeClaim Registered on its own reconcile, which may
		// come a moment later (the controller has just restarted).
		claim := launchedClaim(ctx, pool, "")
		Expect(env.Eventually(ctx, time.Minute, "the NodeClaim Registered with its Node", func(ctx context.Context) (bool, error) {
			err := env.Client.Get(ctx, client.ObjectKeyFromObject(claim), claim)
			return err == nil && claim.StatusConditions().IsTrue(karpv1.ConditionTypeRegistered) && claim.Status.NodeName != "", err
		})).To(Succeed())
		Expect(vmOf(ctx, claim).NodeJoinError).To(BeEmpty())
		Expect(vmOf(ctx, claim).Node).To(Equal(claim.Status.NodeName))
	}, SpecTimeout(6*time.Minute))

	It("join a Windows Server 2025 node as windows, with its build", func(ctx SpecContext) {
		nodeClass := framework.NodeClass("windows")
		nodeClass.Spec.ImageFamily = lo.ToPtr(v1beta1.ImageFamilyWindows2025)
		Expect(env.Client.Create(ctx, nodeClass)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) {
			Expect(client.IgnoreNotFound(env.Client.Delete(ctx, nodeClass))).To(Succeed())
		})
		const pool = "windows"
		DeferCleanup(removeWorkload, pool)
		Expect(framework.Namespace(ctx, env.Client, pool)).To(Succeed())
		Expect(env.Client.Create(ctx, framework.NodePool(pool, nodeClass.Name, framework.Requirement(karpv1.CapacityTypeLabelKey, karpv1.CapacityTypeOnDemand)))).To(Succeed())
		app := framework.Deployment(pool, "app", pool, 1, "500m", "512Mi")
		app.Spec.Template.Spec.NodeSelector[corev1.LabelOSStable] = string(corev1.Windows)
		Expect(env.Client.Create(ctx, app)).To(Succeed())
		Expect(env.Eventually(ctx, 4*time.Minute, "the Windows pod Running on a node that joined", func(ctx context.Context) (bool, error) {
			running, total, err := framework.PodsRunning(ctx, env.Client, pool)
			return total == 1 && running == 1, err
		})).To(Succeed())
		claim := launchedClaim(ctx, pool, "")
		node := &corev1.Node{}
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: claim.Status.NodeName}, node)).To(Succeed())
		Expect(node.Labels).To(HaveKeyWithValue(corev1.LabelOSStable, "windows"))
		Expect(node.Labels).To(HaveKeyWithValue(corev1.LabelWindowsBuild, "10.0.26100"))
		Expect(node.Status.NodeInfo.OperatingSystem).To(Equal("windows"))
		Expect(node.Status.NodeInfo.OSImage).To(Equal("Windows Server 2025 Datacenter"))
	}, SpecTimeout(6*time.Minute))
})

// startWorkload creates a NodePool and one pending pod that needs a node
// from it, in a namespace of the same name.
func startWorkload(ctx context.Context, pool string) {
	Expect(framework.Namespace(ctx, env.Client, pool)).To(Succeed())
	Expect(env.Client.Create(ctx, framework.NodePool(pool, "nodejoin", framework.Requirement(karpv1.CapacityTypeLabelKey, karpv1.CapacityTypeOnDemand)))).To(Succeed())
	Expect(env.Client.Create(ctx, framework.Deployment(pool, "app", pool, 1, "500m", "512Mi"))).To(Succeed())
}

// removeWorkload deletes what startWorkload made and waits until the
// NodePool's claims, nodes and VMs are gone, so no spec spoils the next.
func removeWorkload(ctx SpecContext, pool string) {
	Expect(client.IgnoreNotFound(env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: pool}}))).To(Succeed())
	Expect(client.IgnoreNotFound(env.Client.Delete(ctx, &karpv1.NodePool{ObjectMeta: metav1.ObjectMeta{Name: pool}}))).To(Succeed())
	Expect(env.Eventually(ctx, 3*time.Minute, "NodePool "+pool+"'s claims, nodes and VMs gone", func(ctx context.Context) (bool, error) {
		nodes, claims, err := framework.NodesOf(ctx, env.Client, pool)
		if err != nil || nodes+claims > 0 {
			return false, err
		}
		st, err := env.Sim.State(ctx)
		return err == nil && !lo.ContainsBy(st.VMs, func(vm azuresim.VMState) bool { return vm.Tags["karpenter.sh_nodepool"] == pool }), err
	})).To(Succeed())
}

// launchedClaim waits for a NodeClaim of the pool, other than except, to be
// Launched (its VM exists) and returns it.
func launchedClaim(ctx context.Context, pool, except string) *karpv1.NodeClaim {
	var found *karpv1.NodeClaim
	Expect(env.Eventually(ctx, 3*time.Minute, "a launched NodeClaim of NodePool "+pool, func(ctx context.Context) (bool, error) {
		var claims karpv1.NodeClaimList
		if err := env.Client.List(ctx, &claims, client.MatchingLabels{karpv1.NodePoolLabelKey: pool}); err != nil {
			return false, err
		}
		for i := range claims.Items {
			c := &claims.Items[i]
			if c.Name != except && c.DeletionTimestamp.IsZero() && c.StatusConditions().IsTrue(karpv1.ConditionTypeLaunched) {
				found = c
				return true, nil
			}
		}
		return false, nil
	})).To(Succeed())
	return found
}

// vmOf is the simulator's state of the claim's VM.
func vmOf(ctx context.Context, claim *karpv1.NodeClaim) azuresim.VMState {
	st, err := env.Sim.State(ctx)
	Expect(err).NotTo(HaveOccurred())
	vm, ok := lo.Find(st.VMs, func(v azuresim.VMState) bool { return v.Tags[tagNodeClaim] == claim.Name })
	Expect(ok).To(BeTrue(), "NodeClaim %s has no VM", claim.Name)
	return vm
}

// disruptedForRegistrationTimeout reads the controller's
// karpenter_nodeclaims_disrupted_total for the NodePool and reason
// registration_timeout.
func disruptedForRegistrationTimeout(ctx context.Context, pool string) float64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.Cluster.ControllerMetricsURL(), nil)
	Expect(err).NotTo(HaveOccurred())
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	total := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "karpenter_nodeclaims_disrupted_total{") && strings.Contains(line, `nodepool="`+pool+`"`) &&
			strings.Contains(line, `reason="registration_timeout"`) {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			Expect(err).NotTo(HaveOccurred())
			total += v
		}
	}
	return total
}

// expireRegistration makes the claim's registration as old as karpenter
// core's registration timeout, so its liveness check acts now rather than
// after 15 minutes: the time since Registered last changed is all it reads.
func expireRegistration(ctx context.Context, name string) {
	claim := &karpv1.NodeClaim{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, claim); err != nil {
		return
	}
	stored := claim.DeepCopy()
	expired := metav1.NewTime(time.Now().Add(-registrationTTL - time.Minute))
	for i := range claim.Status.Conditions {
		if c := &claim.Status.Conditions[i]; c.Type == karpv1.ConditionTypeRegistered && c.Status != metav1.ConditionTrue && c.LastTransitionTime.After(expired.Time) {
			c.LastTransitionTime = expired
		}
	}
	// A conflict or a vanished claim is retried by the caller's loop.
	_ = env.Client.Status().Patch(ctx, claim, client.MergeFromWithOptions(stored, client.MergeFromWithOptimisticLock{}))
}
