//go:build e2e

// Package realkubelet runs a real kubelet (v1.35, built from the pinned
// k8s.io/kubernetes into bin/) from the custom data the provider wrote into
// a VM, as an AKS node image runs it: the controller provisions a
// NodeClaim, azuresim creates the VM and leaves its kubelet to this test
// (the VM's AKSNodeClass tags it azuresim_kubelet=external), and the test
// reads the VM's AKSNodeConfig, checks it against the image's contract
// (package contract: a value the image needs that is missing fails the
// spec), renders containerd's configuration and the kubelet's command line
// from it as the image does (package aksnode), imports the only pause
// image under the exact name the custom data gives, and starts containerd
// and the kubelet. The kubelet TLS-bootstraps with the custom data's token,
// registers with its labels and taints, requests its serving certificate,
// goes Ready, and runs a pod. What this machine runs differently from an
// AKS node is aksnode.Differences, in one place.
//
// It needs root and Debian's containerd, runc and containernetworking-plugins
// (make kubelet-deps); without them it skips, naming what is missing. It
// runs with `make e2e-kubelet` (label realkubelet), not in make test's fast
// subset: docs/e2e.md says why.
package realkubelet

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim/nodeagent"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/contract"
	"github.com/azkarpenter/azkarpenter/pkg/localcluster"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
	"github.com/azkarpenter/azkarpenter/test/e2e/realkubelet/aksnode"
)

func TestRealKubelet(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "A real kubelet from the rendered artifact")
}

const (
	pool       = "realkubelet"
	ns         = "realkubelet"
	size       = "Standard_D2s_v5"
	labelKey   = "azkarpenter.test/kubelet"
	taintKey   = "azkarpenter.test/realkubelet"
	kubeletVer = "v1.35.4"
)

var _ = Describe("A real kubelet", Label("realkubelet"), func() {
	It("joins from a VM's custom data with its labels, taints and providerID, goes Ready and runs a pod", func(ctx SpecContext) {
		specStart := time.Now()
		root, err := testutil.RepoRoot()
		Expect(err).NotTo(HaveOccurred())
		kubeletBin := filepath.Join(root, "bin", "kubelet")
		if missing := missingDeps(kubeletBin); len(missing) > 0 {
			Skip("a real kubelet needs what this machine lacks: " + strings.Join(missing, "; ") + ". Run `make kubelet-deps` as root (Debian: apt-get install containerd runc containernetworking-plugins).")
		}
		logDir := filepath.Join(root, ".e2e", "realkubelet-host")
		Expect(os.RemoveAll(logDir)).To(Succeed())
		Expect(os.MkdirAll(logDir, 0o755)).To(Succeed())

		// The machine: the program the pause and pod images are built from.
		// Its cleanup runs last (DeferCleanup is last in, first out).
		dir, err := os.MkdirTemp("", "azk-rk-")
		Expect(err).NotTo(HaveOccurred())
		h, err := newHost(dir, logDir, func(f string, a ...any) { fmt.Fprintf(GinkgoWriter, f+"\n", a...) })
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(h.cleanup()).To(Succeed(), "putting the machine back") })
		Expect(h.buildProgram(ctx)).To(Succeed())
		By(fmt.Sprintf("the image program built after %s", time.Since(specStart).Round(time.Second)))

		env, err := framework.Start(ctx, framework.Options{Name: "realkubelet", TimeScale: 0, Log: GinkgoWriter,
			// The real kubelet reports this machine's capacity, not a D2s_v5's.
			MonitorRealMachine: func(n *corev1.Node) bool { return n.Labels[labelKey] == "real" }})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(env.Stop)
		DeferCleanup(func(ctx SpecContext) {
			if CurrentSpecReport().Failed() {
				env.Dump(ctx, GinkgoWriter)
				fmt.Fprintf(GinkgoWriter, "---- last lines of the kubelet's log (%s) ----\n%s\n", filepath.Join(logDir, "kubelet.log"), tail(filepath.Join(logDir, "kubelet.log"), 60))
			}
		})
		// The kubelet stops after the workload's cleanup (registered below,
		// so it runs before this), which needs it to end the pod.
		var kubelet *exec.Cmd
		DeferCleanup(func() { stopProcess(kubelet) })

		nodeClass := framework.NodeClass(pool)
		nodeClass.Spec.Tags = map[string]string{nodeagent.TagKubelet: nodeagent.KubeletExternal}
		nodePool := framework.NodePool(pool, pool, framework.Requirement(corev1.LabelInstanceTypeStable, size),
			framework.Requirement(karpv1.CapacityTypeLabelKey, karpv1.CapacityTypeOnDemand))
		nodePool.Spec.Template.Labels[labelKey] = "real"
		nodePool.Spec.Template.Spec.Taints = []corev1.Taint{framework.Taint(taintKey, "true")}
		nodePool.Spec.Disruption.ConsolidateAfter = karpv1.MustParseNillableDuration("Never")
		pod := framework.Pod(ns, "app", pool, "10m", "16Mi")
		pod.Spec.Containers[0].Image = appImage
		pod.Spec.Tolerations = []corev1.Toleration{{Key: taintKey, Operator: corev1.TolerationOpEqual, Value: "true", Effect: corev1.TaintEffectNoSchedule}}
		pod.Spec.Containers[0].ImagePullPolicy = corev1.PullNever
		pod.Spec.AutomountServiceAccountToken = lo.ToPtr(false)
		env.Run(ctx, ns, 0, nodeClass, nodePool, pod)

		By("waiting for the controller to create the NodeClaim's VM")
		var vm azuresim.VMBootstrap
		Expect(env.Eventually(ctx, 2*time.Minute, "the NodePool's VM running", func(ctx context.Context) (bool, error) {
			vms, err := env.VMsOf(ctx, pool)
			if err != nil || len(vms) != 1 {
				return false, err
			}
			vm, err = env.Sim.VMBootstrap(ctx, vms[0].Name)
			return err == nil && vm.Running, err
		})).To(Succeed())

		By("reading the VM's AKSNodeConfig as the node image does, and checking it against the image's contract")
		cfg, err := bootstrap.DecodeNodeConfig(vm.CustomData)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.APIServerConfig.APIServerName).To(Equal(localcluster.APIServerFQDN))
		combination, ok := contract.NodeOf(vm.ImageID, cfg)
		Expect(ok).To(BeTrue(), "the VM boots an AKS node image (%s)", vm.ImageID)
		Expect(contract.Check(cfg, combination)).To(BeEmpty(), "every value the %s image needs is in the custom data", combination)
		boot, err := bootstrap.Decode(bootstrap.Linux, vm.CustomData)
		Expect(err).NotTo(HaveOccurred())
		nodeName := nodeagent.NodeName(nodeagent.VM{Name: vm.Name, ComputerName: vm.ComputerName})
		providerID := nodeagent.ProviderID(vm.ID)
		ports := freePorts(2)
		files, err := aksnode.Render(cfg, aksnode.Node{Name: nodeName}, aksnode.Options{
			Root: filepath.Join(dir, "node"),
			// The simulated network's route for <api server name>:443.
			APIServerAddress: env.Cluster.APIServerAddress(),
			Machine:          h.machine(ports[0], ports[1]),
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(files.Write()).To(Succeed())
		Expect(os.WriteFile(filepath.Join(logDir, "containerd.toml"), files.Contents[files.ContainerdConfig], 0o644)).To(Succeed())
		fmt.Fprintf(GinkgoWriter, "kubelet %s\n", strings.Join(files.KubeletArgs, " "))
		fmt.Fprintf(GinkgoWriter, "this machine differs from an AKS node in:\n  - %s\n", strings.Join(aksnode.Differences, "\n  - "))

		By("starting containerd with the configuration the custom data renders; the pause image under the exact name it gives")
		Expect(h.startContainerd(ctx, files.ContainerdConfig)).To(Succeed())
		Expect(files.SandboxImage).To(Equal(boot.PauseImage))
		Expect(h.importImage(ctx, files.SandboxImage)).To(Succeed())
		Expect(h.importImage(ctx, appImage)).To(Succeed())
		refs, err := h.images(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(refs).To(ConsistOf(files.SandboxImage, appImage), "the only pause image is the one the custom data names, as the node image caches it")

		By("starting the kubelet")
		kubeletLog, err := os.Create(filepath.Join(logDir, "kubelet.log"))
		Expect(err).NotTo(HaveOccurred())
		defer func() { _ = kubeletLog.Close() }()
		kubelet = exec.Command(kubeletBin, files.KubeletArgs...)
		kubelet.Stdout, kubelet.Stderr = kubeletLog, kubeletLog
		kubelet.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		kubeletStart := time.Now()
		Expect(kubelet.Start()).To(Succeed())
		exited := make(chan error, 1)
		go func() { exited <- kubelet.Wait() }()
		// The kubelet's resident set, sampled every 200ms while it runs.
		var maxRSS atomic.Int64
		samplerDone := make(chan struct{})
		DeferCleanup(func() { close(samplerDone) })
		go func(pid int) {
			for {
				if rss := processRSS(pid); rss > maxRSS.Load() {
					maxRSS.Store(rss)
				}
				select {
				case <-samplerDone:
					return
				case <-time.After(200 * time.Millisecond):
				}
			}
		}(kubelet.Process.Pid)
		kubeletAlive := func() error {
			select {
			case err := <-exited:
				exited <- err
				return fmt.Errorf("the kubelet exited: %w; see %s", err, kubeletLog.Name())
			default:
				return nil
			}
		}

		By("waiting for the Node to register and go Ready")
		var node corev1.Node
		var registered time.Duration
		Expect(env.Eventually(ctx, 3*time.Minute, "node "+nodeName+" Ready", func(ctx context.Context) (bool, error) {
			Expect(kubeletAlive()).To(Succeed())
			if err := env.Client.Get(ctx, client.ObjectKey{Name: nodeName}, &node); err != nil {
				return false, client.IgnoreNotFound(err)
			}
			if registered == 0 {
				registered = time.Since(kubeletStart)
			}
			// The providerID comes from the cloud's node manager after
			// registration (the image passes none), as on AKS.
			return nodeReady(&node) && node.Spec.ProviderID != "", nil
		})).To(Succeed())
		ready := time.Since(kubeletStart)

		By("checking the Node is what the custom data said")
		for k, v := range boot.Labels {
			Expect(node.Labels).To(HaveKeyWithValue(k, v), "label from the custom data's kubelet_node_labels")
		}
		Expect(node.Labels).To(HaveKeyWithValue(labelKey, "real"))
		Expect(node.Labels).To(HaveKeyWithValue(corev1.LabelHostname, nodeName))
		// The cloud's part (azuresim's cloud-node-manager) sets it, as on
		// AKS: the image passes no --provider-id.
		Expect(node.Spec.ProviderID).To(Equal(providerID))
		Expect(node.Annotations).NotTo(HaveKey(localcluster.KwokNodeAnnotation), "kwok must not manage a real kubelet's node")
		Expect(node.Status.NodeInfo.KubeletVersion).To(Equal(kubeletVer))
		Expect(node.Status.NodeInfo.ContainerRuntimeVersion).To(HavePrefix("containerd://"))
		Expect(node.Status.Capacity.Pods().Value()).To(Equal(int64(boot.Kubelet.MaxPods)), "max pods from the custom data")
		// Every taint the custom data registers is on the Node, except those
		// whose owners removed them: karpenter's unregistered taint once the
		// node registered.
		for _, t := range boot.Taints {
			if t.Key == karpv1.UnregisteredTaintKey {
				continue
			}
			Expect(node.Spec.Taints).To(ContainElement(HaveField("Key", t.Key)), "taint %s from --register-with-taints", t.ToString())
		}
		Expect(node.Spec.Taints).To(ContainElement(framework.Taint(taintKey, "true")))
		Expect(boot.Taints).To(ContainElement(framework.Taint(taintKey, "true")))

		By("checking the kubelet TLS-bootstrapped with the custom data's token")
		tokenID, _, _ := strings.Cut(boot.Cluster.BootstrapToken, ".")
		var csrs certificatesv1.CertificateSigningRequestList
		Expect(env.Client.List(ctx, &csrs)).To(Succeed())
		Expect(csrs.Items).To(ContainElement(And(
			HaveField("Spec.SignerName", certificatesv1.KubeAPIServerClientKubeletSignerName),
			HaveField("Spec.Username", "system:bootstrap:"+tokenID),
			HaveField("Status.Certificate", Not(BeEmpty())),
		)))
		certPEM, err := os.ReadFile(filepath.Join(dir, "kubelet", "pki", "kubelet-client-current.pem"))
		Expect(err).NotTo(HaveOccurred())
		cert := firstCertificate(certPEM)
		Expect(cert).NotTo(BeNil())
		Expect(cert.Subject.CommonName).To(Equal("system:node:" + nodeName))
		Expect(cert.Subject.Organization).To(Equal([]string{"system:nodes"}))

		By("checking the kubelet requests its serving certificate, as --rotate-server-certificates has it, and gets it once approved")
		var serving certificatesv1.CertificateSigningRequest
		Expect(env.Eventually(ctx, time.Minute, "a kubelet-serving CSR from "+nodeName, func(ctx context.Context) (bool, error) {
			Expect(kubeletAlive()).To(Succeed())
			var csrs certificatesv1.CertificateSigningRequestList
			if err := env.Client.List(ctx, &csrs); err != nil {
				return false, err
			}
			found, ok := lo.Find(csrs.Items, func(c certificatesv1.CertificateSigningRequest) bool {
				return c.Spec.SignerName == certificatesv1.KubeletServingSignerName && c.Spec.Username == "system:node:"+nodeName
			})
			serving = found
			return ok, nil
		})).To(Succeed())
		// AKS's control plane approves the serving CSRs of nodes labelled
		// kubernetes.azure.com/kubelet-serving-ca=cluster; here the test does.
		Expect(node.Labels).To(HaveKeyWithValue(bootstrap.LabelKubeletServingCA, bootstrap.KubeletServingCA))
		serving.Status.Conditions = append(serving.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "AKSKubeletServingCA", Message: "approved as AKS approves kubelet-serving-ca=cluster nodes"})
		clientset, err := kubernetes.NewForConfig(env.Cluster.Config)
		Expect(err).NotTo(HaveOccurred())
		Expect(clientset.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, serving.Name, &serving, metav1.UpdateOptions{})).Error().NotTo(HaveOccurred())
		Expect(env.Eventually(ctx, time.Minute, "the kubelet's serving certificate", func(context.Context) (bool, error) {
			_, err := os.Stat(filepath.Join(dir, "kubelet", "pki", "kubelet-server-current.pem"))
			return err == nil, nil
		})).To(Succeed())

		By("waiting for the pod to run on the node")
		var running corev1.Pod
		Expect(env.Eventually(ctx, 3*time.Minute, "pod app Running on "+nodeName, func(ctx context.Context) (bool, error) {
			Expect(kubeletAlive()).To(Succeed())
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, &running); err != nil {
				return false, err
			}
			return running.Status.Phase == corev1.PodRunning, nil
		})).To(Succeed())
		podRunning := time.Since(kubeletStart)
		Expect(running.Spec.NodeName).To(Equal(nodeName))
		Expect(running.Status.ContainerStatuses).To(ConsistOf(HaveField("State.Running", Not(BeNil()))))
		_, subnet, _ := net.ParseCIDR(podSubnet)
		Expect(subnet.Contains(net.ParseIP(running.Status.PodIP))).To(BeTrue(), "pod IP %s from the bridge network %s", running.Status.PodIP, podSubnet)

		var claims karpv1.NodeClaimList
		Expect(env.Client.List(ctx, &claims, client.MatchingLabels{karpv1.NodePoolLabelKey: pool})).To(Succeed())
		Expect(claims.Items).To(ConsistOf(HaveField("Status.NodeName", nodeName)))
		Expect(claims.Items[0].StatusConditions().Get(karpv1.ConditionTypeInitialized).IsTrue()).To(BeTrue(), "NodeClaim initialized")
		Expect(kubeletAlive()).To(Succeed())

		AddReportEntry("differences from an AKS node", strings.Join(aksnode.Differences, "; "))
		AddReportEntry("real kubelet", fmt.Sprintf("node registered %s and Ready %s after the kubelet started; pod Running after %s; kubelet RSS up to %d MiB; %s into the spec",
			registered.Round(100*time.Millisecond), ready.Round(100*time.Millisecond), podRunning.Round(100*time.Millisecond), maxRSS.Load()>>20, time.Since(specStart).Round(time.Second)))
	})
})

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func firstCertificate(data []byte) *x509.Certificate {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil
		}
		if block.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil
			}
			return c
		}
	}
}

// stopProcess stops a process it started: SIGTERM, then SIGKILL.
func stopProcess(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
			return
		}
		if cmd.ProcessState != nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
}

func freePorts(n int) []int32 {
	var ports []int32
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		ls = append(ls, l)
		ports = append(ports, int32(l.Addr().(*net.TCPAddr).Port))
	}
	for _, l := range ls {
		_ = l.Close()
	}
	return ports
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
