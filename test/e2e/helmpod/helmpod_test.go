//go:build e2e

// Package helmpod runs the controller as the chart's pod on a real node:
// the image `make image` builds (hack/image, for this machine's
// architecture) is imported into the containerd of a real kubelet that
// joins the local cluster as a system node, both charts are installed with
// values that point at azuresim, and the controller runs from the image,
// as the chart's ServiceAccount, under the chart's security context and
// probes. It leads through the chart's Lease, provisions a node for a
// pending pod and deletes it; helm upgrade rolls the pod; helm uninstall
// leaves the CRDs and NodePools.
//
// It needs what the real-kubelet spec needs (root, Debian's containerd,
// runc and CNI plugins: make kubelet-deps); without them it skips, naming
// what is missing. Label realnode; make e2e-kubelet runs it.
package helmpod

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/azkarpenter/azkarpenter/pkg/localcluster"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
	"github.com/azkarpenter/azkarpenter/test/e2e/realkubelet"
)

func TestHelmPod(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "The chart's pod on a real node")
}

const (
	namespace = "kube-system"
	release   = "azkarpenter"
	imageRef  = "ghcr.io/azkarpenter/azkarpenter:e2e"
	nodeName  = "system-0"
)

var _ = Describe("The chart's pod", Label("realnode"), func() {
	It("runs the image on a real node, leads, provisions and deletes a node, rolls on upgrade", func(ctx SpecContext) {
		start := time.Now()
		root, err := testutil.RepoRoot()
		Expect(err).NotTo(HaveOccurred())
		kubeletBin := filepath.Join(root, "bin", "kubelet")
		if missing := realkubelet.MissingDeps(kubeletBin); len(missing) > 0 {
			Skip("the chart's pod on a real node needs what this machine lacks: " + strings.Join(missing, "; ") + ". Run `make kubelet-deps` as root.")
		}
		logDir := filepath.Join(root, ".e2e", "helmpod-host")
		Expect(os.RemoveAll(logDir)).To(Succeed())
		Expect(os.MkdirAll(logDir, 0o755)).To(Succeed())
		logf := func(f string, a ...any) { fmt.Fprintf(GinkgoWriter, f+"\n", a...) }

		By("building the image from Go alone, for this machine")
		imageDir := filepath.Join(root, ".e2e", "helmpod-image")
		build := exec.CommandContext(ctx, "go", "run", ".", "--repo-root", root, "--out", imageDir,
			"--platforms", "linux/"+runtime.GOARCH, "--ref", imageRef, "--version", "e2e")
		build.Dir = filepath.Join(root, "hack", "image")
		out, err := build.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "%s", out)
		logf("%s", out)
		digest := field(string(out), "digest")

		By("starting containerd and importing the image")
		dir, err := os.MkdirTemp("", "azk-hp-")
		Expect(err).NotTo(HaveOccurred())
		h, err := realkubelet.NewHost(dir, logDir, logf)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(h.Cleanup()).To(Succeed(), "putting the machine back") })
		Expect(h.Start(ctx)).To(Succeed())
		_, err = h.Ctr(ctx, "images", "import", "--all-platforms", imageDir+".tar")
		Expect(err).NotTo(HaveOccurred())
		images, err := h.Ctr(ctx, "images", "ls", "-q")
		Expect(err).NotTo(HaveOccurred())
		Expect(images).To(ContainSubstring(imageRef))

		env, err := framework.Start(ctx, framework.Options{Name: "helmpod", TimeScale: 0, Log: GinkgoWriter, SkipCRDs: true, NoController: true})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(env.Stop)
		DeferCleanup(func(ctx SpecContext) {
			if CurrentSpecReport().Failed() {
				env.Dump(ctx, GinkgoWriter)
				logf("---- kubelet log ----\n%s", tail(filepath.Join(logDir, "kubelet.log"), 80))
				// The kubelet keeps container logs under its default
				// podLogsDir, newest pod first.
				if logs, err := exec.Command("sh", "-c", "tail -80 $(ls -td /var/log/pods/"+namespace+"_"+release+"-*/controller | head -1)/*.log 2>/dev/null").Output(); err == nil {
					logf("---- controller container ----\n%s", logs)
				}
			}
		})

		By("joining a real kubelet as the cluster's system node")
		kubelet := startKubelet(ctx, env, kubeletBin, dir, h.Socket(), logDir)
		DeferCleanup(func() { stopProcess(kubelet) })
		Expect(env.Eventually(ctx, 3*time.Minute, "node "+nodeName+" Ready", func(ctx context.Context) (bool, error) {
			var n corev1.Node
			if err := env.Client.Get(ctx, client.ObjectKey{Name: nodeName}, &n); err != nil {
				return false, client.IgnoreNotFound(err)
			}
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady {
					return c.Status == corev1.ConditionTrue, nil
				}
			}
			return false, nil
		})).To(Succeed())

		By("installing both charts, pointed at azuresim")
		Expect(seedPodInputs(ctx, env)).To(Succeed())
		ports := freePorts(2)
		_, err = helm(ctx, root, env, "install", release+"-crd", "charts/azkarpenter-crd", "--namespace", namespace, "--wait")
		Expect(err).NotTo(HaveOccurred())
		_, err = helm(ctx, root, env, "install", release, "charts/azkarpenter", "--namespace", namespace, "--skip-crds", "-f", values(env, ports, digest))
		Expect(err).NotTo(HaveOccurred())

		By("waiting for the chart's pod to run from the image and be ready")
		pod := readyPod(ctx, env, "")
		logf("controller pod %s Ready %s into the spec", pod.Name, time.Since(start).Round(time.Second))
		Expect(pod.Spec.NodeName).To(Equal(nodeName))
		Expect(pod.Spec.ServiceAccountName).To(Equal(release))
		// pullPolicy Never: the container runs the image imported above.
		Expect(pod.Status.ContainerStatuses[0].Image).To(ContainSubstring(imageRef))
		// The chart's security context, in force: the process runs as
		// nonroot with no capabilities.
		Expect(*pod.Spec.SecurityContext.RunAsUser).To(BeEquivalentTo(65532))
		status := controllerProcessStatus()
		Expect(status).To(MatchRegexp(`(?m)^Uid:\s+65532\s`), "the controller process's /proc status:\n%s", status)
		Expect(status).To(MatchRegexp(`(?m)^CapEff:\s+0+$`))
		// Its ServiceAccount token is what it talks to the API server with.
		Expect(pod.Spec.Volumes).To(ContainElement(HaveField("Projected", Not(BeNil()))))
		// Its metrics endpoint serves the provider's metrics.
		Eventually(func() string { return get(fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[0])) }).WithTimeout(time.Minute).
			Should(ContainSubstring("azkarpenter_azure_requests_total"))

		By("leading through the chart's Lease")
		// Leader election names the holder <hostname>_<uuid>; in the node's
		// network namespace the pod's hostname is the machine's. No other
		// controller runs here.
		hostname, err := os.Hostname()
		Expect(err).NotTo(HaveOccurred())
		Expect(env.Eventually(ctx, 2*time.Minute, "the pod to hold the chart's Lease", func(ctx context.Context) (bool, error) {
			var l coordinationv1.Lease
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: release + "-leader-election"}, &l); err != nil {
				return false, client.IgnoreNotFound(err)
			}
			return l.Spec.HolderIdentity != nil && strings.HasPrefix(*l.Spec.HolderIdentity, hostname+"_"), nil
		})).To(Succeed())

		By("provisioning a node for a pending pod and deleting it")
		nodeClass, pool := framework.NodeClass("default"), framework.NodePool("helmpod", "default")
		Expect(env.Client.Create(ctx, nodeClass)).To(Succeed())
		Expect(env.Client.Create(ctx, pool)).To(Succeed())
		Expect(framework.Namespace(ctx, env.Client, "workload")).To(Succeed())
		deploy := framework.Deployment("workload", "inflate", "helmpod", 1, "1", "1Gi")
		Expect(env.Client.Create(ctx, deploy)).To(Succeed())
		Expect(env.WaitPodsRunning(ctx, "workload", 1, 3*time.Minute)).To(Succeed())
		var claims karpv1.NodeClaimList
		Expect(env.Client.List(ctx, &claims)).To(Succeed())
		Expect(claims.Items).To(HaveLen(1))
		Expect(env.Client.Delete(ctx, deploy)).To(Succeed())
		Expect(env.Client.Delete(ctx, &claims.Items[0])).To(Succeed())
		Expect(env.Eventually(ctx, 2*time.Minute, "the node, its NodeClaim and its VM gone", func(ctx context.Context) (bool, error) {
			nodes, n, err := framework.NodesOf(ctx, env.Client, "helmpod")
			if err != nil {
				return false, err
			}
			vms, err := env.VMsOf(ctx, "helmpod")
			return nodes == 0 && n == 0 && len(vms) == 0, err
		})).To(Succeed())

		By("rolling the pod on helm upgrade")
		_, err = helm(ctx, root, env, "upgrade", release, "charts/azkarpenter", "--namespace", namespace, "--skip-crds", "--reuse-values", "--set", "logging.level=debug")
		Expect(err).NotTo(HaveOccurred())
		rolled := readyPod(ctx, env, pod.Name)
		Expect(rolled.Spec.Containers[0].Env).To(ContainElement(corev1.EnvVar{Name: "LOG_LEVEL", Value: "debug"}))

		By("uninstalling: the CRDs and the NodePool stay")
		_, err = helm(ctx, root, env, "uninstall", release, "--namespace", namespace, "--wait")
		Expect(err).NotTo(HaveOccurred())
		_, err = helm(ctx, root, env, "uninstall", release+"-crd", "--namespace", namespace, "--wait")
		Expect(err).NotTo(HaveOccurred())
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: "nodepools.karpenter.sh"}, &apiextensionsv1.CustomResourceDefinition{})).To(Succeed())
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: "helmpod"}, &karpv1.NodePool{})).To(Succeed())
		AddReportEntry("chart pod on a real node", fmt.Sprintf("image %s; pod Ready and leading, a node provisioned and deleted, rolled and uninstalled in %s", digest, time.Since(start).Round(time.Second)))
	})
})

// values point the chart at the local cluster and azuresim. The pod shares
// the node's network (hostNetwork) to reach both on loopback, is told the
// API server's real address (client-go's in-cluster variables: there is no
// kube-proxy), and authenticates to azuresim with a static token from a
// Secret (the simulator issues no workload identity tokens).
func values(env *framework.Environment, ports []int, digest string) string {
	id, _, _ := strings.Cut(env.Cluster.BootstrapToken, ".")
	api, err := url.Parse(env.Cluster.Server)
	Expect(err).NotTo(HaveOccurred())
	host, port, _ := net.SplitHostPort(api.Host)
	repo, tag, _ := strings.Cut(imageRef, ":")
	v := map[string]any{
		"azure": map[string]any{
			"subscriptionID": localcluster.SubscriptionID, "tenantID": localcluster.TenantID, "nodeResourceGroup": localcluster.ResourceGroup,
			"location": localcluster.Location, "vnetSubnetID": localcluster.SubnetID(),
			"identityClientID": "11111111-2222-3333-4444-555555555555",
			"armEndpoint":      env.Azure.ARMEndpoint, "pricesEndpoint": env.Azure.ARMEndpoint, "armPollInterval": "1s",
			"caBundle": map[string]any{"configMapName": "azuresim-ca", "key": "ca.crt"},
		},
		"cluster": map[string]any{"name": localcluster.ClusterName, "endpoint": "https://" + localcluster.APIServerFQDN},
		// The local cluster's ranges, as its own controller is told them.
		"networking":  map[string]any{"serviceCIDR": localcluster.ServiceCIDR, "podCIDR": localcluster.PodCIDR, "vnetCIDR": localcluster.VNetCIDR},
		"bootstrap":   map[string]any{"tokenSecretName": bootstraputil.BootstrapTokenSecretName(id)},
		"image":       map[string]any{"repository": repo, "tag": tag, "pullPolicy": "Never"},
		"replicas":    1,
		"hostNetwork": true,
		"dnsPolicy":   "Default",
		"metrics":     map[string]any{"port": ports[0]},
		"health":      map[string]any{"port": ports[1]},
		"resources":   map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "256Mi"}, "limits": map[string]any{"memory": "1Gi"}},
		"extraEnv": []any{
			map[string]any{"name": "KUBERNETES_SERVICE_HOST", "value": host},
			map[string]any{"name": "KUBERNETES_SERVICE_PORT", "value": port},
			map[string]any{"name": "AZURE_CREDENTIAL_MODE", "value": "static-token"},
			map[string]any{"name": "AZURE_STATIC_TOKEN_FILE", "value": "/var/run/azuresim/token"},
		},
		"extraVolumes":      []any{map[string]any{"name": "azuresim-token", "secret": map[string]any{"secretName": "azuresim-token"}}},
		"extraVolumeMounts": []any{map[string]any{"name": "azuresim-token", "mountPath": "/var/run/azuresim", "readOnly": true}},
	}
	b, err := yaml.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(GinkgoT().TempDir(), "values.yaml")
	Expect(os.WriteFile(path, b, 0o644)).To(Succeed())
	return path
}

// seedPodInputs creates what the values name: azuresim's CA and its token.
func seedPodInputs(ctx context.Context, env *framework.Environment) error {
	ca, err := os.ReadFile(env.Azure.CABundle)
	if err != nil {
		return err
	}
	token, err := os.ReadFile(env.Azure.StaticTokenFile)
	if err != nil {
		return err
	}
	if err := env.Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "azuresim-ca"}, Data: map[string]string{"ca.crt": string(ca)}}); err != nil {
		return err
	}
	return env.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "azuresim-token"}, Data: map[string][]byte{"token": token}})
}

// readyPod waits for a Ready pod of the chart other than previous.
func readyPod(ctx context.Context, env *framework.Environment, previous string) corev1.Pod {
	var pod corev1.Pod
	Expect(env.Eventually(ctx, 5*time.Minute, "the chart's pod Ready", func(ctx context.Context) (bool, error) {
		var pods corev1.PodList
		if err := env.Client.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabels{"app.kubernetes.io/instance": release}); err != nil {
			return false, err
		}
		for _, p := range pods.Items {
			if p.Name == previous || !p.DeletionTimestamp.IsZero() {
				continue
			}
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					pod = p
					return true, nil
				}
			}
		}
		return false, nil
	})).To(Succeed())
	var d appsv1.Deployment
	Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: release}, &d)).To(Succeed())
	return pod
}

// startKubelet joins a kubelet as a system node: TLS bootstrap with the
// cluster's token, on this machine's containerd, serving on loopback.
func startKubelet(ctx context.Context, env *framework.Environment, bin, dir, socket, logDir string) *exec.Cmd {
	ca, err := env.Cluster.CACertificate()
	Expect(err).NotTo(HaveOccurred())
	caPath := filepath.Join(dir, "ca.crt")
	Expect(os.WriteFile(caPath, ca, 0o644)).To(Succeed())
	bootstrap := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: %q, certificate-authority: %q}}]
users: [{name: bootstrap, user: {token: %q}}]
contexts: [{name: bootstrap, context: {cluster: local, user: bootstrap}}]
current-context: bootstrap
`, env.Cluster.Server, caPath, env.Cluster.BootstrapToken)
	Expect(os.WriteFile(filepath.Join(dir, "bootstrap-kubeconfig"), []byte(bootstrap), 0o600)).To(Succeed())
	ports := freePorts(2)
	config := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication: {anonymous: {enabled: false}, webhook: {enabled: true}, x509: {clientCAFile: %q}}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://%s
address: 127.0.0.1
port: %d
healthzBindAddress: 127.0.0.1
healthzPort: %d
resolvConf: /etc/resolv.conf
clusterDNS: [%s]
clusterDomain: cluster.local
evictionHard: {memory.available: 100Mi, nodefs.available: "1%%", imagefs.available: "1%%"}
`, caPath, socket, ports[0], ports[1], localcluster.ClusterDNSIP)
	Expect(os.WriteFile(filepath.Join(dir, "kubelet.yaml"), []byte(config), 0o644)).To(Succeed())
	log, err := os.Create(filepath.Join(logDir, "kubelet.log"))
	Expect(err).NotTo(HaveOccurred())
	cmd := exec.Command(bin, "--config="+filepath.Join(dir, "kubelet.yaml"),
		"--bootstrap-kubeconfig="+filepath.Join(dir, "bootstrap-kubeconfig"), "--kubeconfig="+filepath.Join(dir, "kubeconfig"),
		"--root-dir="+filepath.Join(dir, "kubelet"), "--cert-dir="+filepath.Join(dir, "kubelet", "pki"),
		"--hostname-override="+nodeName, "--node-ip=127.0.0.1", "--node-labels=kubernetes.azure.com/mode=system", "--v=2")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	Expect(cmd.Start()).To(Succeed())
	_ = log.Close()
	return cmd
}

// controllerProcessStatus is /proc/<pid>/status of the process running
// the image's /controller.
func controllerProcessStatus() string {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Equal(bytes.TrimRight(cmdline, "\x00"), []byte("/controller")) {
			continue
		}
		status, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		return string(status)
	}
	return "no process runs /controller"
}

func helm(ctx context.Context, root string, env *framework.Environment, args ...string) (string, error) {
	home := GinkgoT().TempDir()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "bin", "helm"), args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Cluster.Kubeconfig, "HELM_CONFIG_HOME="+home, "HELM_CACHE_HOME="+home, "HELM_DATA_HOME="+home)
	out, err := cmd.CombinedOutput()
	fmt.Fprintf(GinkgoWriter, "$ helm %s\n%s", strings.Join(args, " "), out)
	return string(out), err
}

func get(u string) string {
	resp, err := http.Get(u) // the test's own loopback endpoint
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return b.String()
}

// field is the value after "name " on a line of hack/image's report.
func field(report, name string) string {
	for _, line := range strings.Split(report, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strings.TrimSpace(v)
		}
	}
	Fail("hack/image printed no " + name)
	return ""
}

func freePorts(n int) []int {
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		_ = l.Close()
	}
	return ports
}

func stopProcess(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
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
