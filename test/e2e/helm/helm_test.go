//go:build e2e

// Package helm installs the charts into the local kube-apiserver with the
// pinned helm and runs the controller binary as the chart's ServiceAccount:
// a TokenRequest token in a kubeconfig, bound by nothing but the chart's
// RBAC, with the environment of the chart's Deployment. It provisions a
// node and deletes it, which proves the RBAC sufficient (and the log holds
// no "forbidden", though a pending pod's affinity needs namespaces listed);
// reading Secrets outside what it needs, writing RBAC or namespaces is
// refused, which proves it narrow. Users bound to the built-in admin role
// may manage NodePools through the chart's aggregate role. Then helm upgrade rolls the Deployment
// and helm uninstall leaves the CRDs and their objects.
package helm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/azkarpenter/azkarpenter/pkg/apis/crds"
	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/localcluster"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

const (
	namespace = "karpenter"
	release   = "azk"
	// fullname is the chart's name for the release's objects.
	fullname = "azk-azkarpenter"
)

var (
	env  *framework.Environment
	root string
	// saConfig is the ServiceAccount's REST config, saKubeconfig its file.
	saConfig     *rest.Config
	saKubeconfig string
)

func TestHelm(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Helm chart")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	var err error
	root, err = testutil.RepoRoot()
	Expect(err).NotTo(HaveOccurred())
	// The charts install the CRDs, and the controller runs as the chart's
	// ServiceAccount: the suite starts neither.
	env, err = framework.Start(ctx, framework.Options{Name: "helm", TimeScale: 0, Log: GinkgoWriter, SkipCRDs: true, NoController: true})
	Expect(err).NotTo(HaveOccurred())
}, NodeTimeout(3*time.Minute))

var _ = AfterSuite(func() {
	if env != nil {
		env.Stop()
	}
})

var _ = ReportAfterEach(func(ctx SpecContext, report SpecReport) {
	if report.Failed() && env != nil {
		env.Dump(context.Background(), GinkgoWriter)
	}
})

// helm runs the pinned helm against the local cluster as its admin.
func helm(ctx context.Context, args ...string) (string, error) {
	home := GinkgoT().TempDir()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "bin", "helm"), args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Cluster.Kubeconfig, "HELM_CONFIG_HOME="+home, "HELM_CACHE_HOME="+home, "HELM_DATA_HOME="+home)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	fmt.Fprintf(GinkgoWriter, "$ helm %s\n%s", strings.Join(args, " "), out.String())
	return out.String(), err
}

// values are the chart values of the local cluster: the simulated Azure
// environment, reached over the chart's own ARM endpoint value.
func values() string {
	id, _, _ := strings.Cut(env.Cluster.BootstrapToken, ".")
	v := map[string]any{
		"azure": map[string]any{
			"subscriptionID":    localcluster.SubscriptionID,
			"nodeResourceGroup": localcluster.ResourceGroup,
			"location":          localcluster.Location,
			"vnetSubnetID":      localcluster.SubnetID(),
			"identityClientID":  "11111111-2222-3333-4444-555555555555",
			"armEndpoint":       env.Azure.ARMEndpoint,
			"pricesEndpoint":    env.Azure.ARMEndpoint,
			"armPollInterval":   "1s",
		},
		"cluster":   map[string]any{"name": localcluster.ClusterName, "endpoint": "https://" + localcluster.APIServerFQDN},
		"bootstrap": map[string]any{"tokenSecretName": bootstraputil.BootstrapTokenSecretName(id)},
	}
	b, err := yaml.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(GinkgoT().TempDir(), "values.yaml")
	Expect(os.WriteFile(path, b, 0o644)).To(Succeed())
	return path
}

// controllerEnv is the environment of the chart's Deployment as installed,
// with only what differs outside a pod replaced: the kubeconfig (the
// ServiceAccount's token instead of its mount), the credential (a static
// token file instead of workload identity, which the simulator does not
// issue), the simulator's CA, and the ports the local cluster picks.
func controllerEnv(ctx context.Context) []string {
	var d appsv1.Deployment
	Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: fullname}, &d)).To(Succeed())
	var out []string
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		switch {
		case e.ValueFrom != nil, e.Name == "METRICS_PORT", e.Name == "HEALTH_PROBE_PORT":
			continue
		}
		out = append(out, e.Name+"="+e.Value)
	}
	return append(out,
		"KUBECONFIG="+saKubeconfig,
		"DISABLE_LEADER_ELECTION=false",
		"AZURE_CREDENTIAL_MODE=static-token",
		"AZURE_STATIC_TOKEN_FILE="+env.Azure.StaticTokenFile,
		"AZURE_CA_BUNDLE="+env.Azure.CABundle,
	)
}

func controllerLog() string {
	for _, c := range env.Cluster.Components() {
		if c.Name == "controller" {
			b, err := os.ReadFile(c.LogPath)
			Expect(err).NotTo(HaveOccurred())
			return string(b)
		}
	}
	Fail("the controller is not running")
	return ""
}

var forbidden = regexp.MustCompile(`(?i)forbidden`)

var _ = Describe("The chart", Ordered, Label("fast"), func() {
	It("installs the CRD chart and the controller chart into the local kube-apiserver", func(ctx SpecContext) {
		// The CRDs exist already, without Helm's ownership metadata, as AKS
		// node auto-provisioning leaves them: the pinned helm refuses to
		// adopt them, and --take-ownership (helm 3.17+) adopts them
		// (docs/install.md, migrating from NAP).
		_, err := envtest.InstallCRDs(env.Cluster.Config, envtest.CRDInstallOptions{CRDs: crds.All(), MaxTime: time.Minute})
		Expect(err).NotTo(HaveOccurred())
		out, err := helm(ctx, "install", release+"-crd", "charts/azkarpenter-crd", "--namespace", namespace, "--create-namespace", "--wait")
		Expect(err).To(HaveOccurred(), "helm adopted CRDs it did not create")
		Expect(out).To(ContainSubstring("invalid ownership metadata"))
		_, err = helm(ctx, "install", release+"-crd", "charts/azkarpenter-crd", "--namespace", namespace, "--create-namespace", "--wait", "--take-ownership")
		Expect(err).NotTo(HaveOccurred())
		for _, name := range []string{"nodepools.karpenter.sh", "nodeclaims.karpenter.sh", "aksnodeclasses.karpenter.azure.com"} {
			var crd apiextensionsv1.CustomResourceDefinition
			Expect(env.Client.Get(ctx, client.ObjectKey{Name: name}, &crd)).To(Succeed())
			Expect(crd.Annotations).To(HaveKeyWithValue("meta.helm.sh/release-name", release+"-crd"))
		}
		Expect(env.StartMonitor(ctx)).To(Succeed())

		// CRDs are the CRD chart's; the controller chart skips its copies.
		_, err = helm(ctx, "install", release, "charts/azkarpenter", "--namespace", namespace, "--skip-crds", "-f", values())
		Expect(err).NotTo(HaveOccurred())
		var sa corev1.ServiceAccount
		Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: fullname}, &sa)).To(Succeed())
		Expect(sa.Annotations).To(HaveKeyWithValue("azure.workload.identity/client-id", "11111111-2222-3333-4444-555555555555"))
		var d appsv1.Deployment
		Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: fullname}, &d)).To(Succeed())
		Expect(*d.Spec.Replicas).To(BeEquivalentTo(2))
	})

	It("runs the controller as the chart's ServiceAccount, which provisions a node and deletes it", func(ctx SpecContext) {
		cs, err := kubernetes.NewForConfig(env.Cluster.Config)
		Expect(err).NotTo(HaveOccurred())
		tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, fullname, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: new(int64(3600))},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		saConfig = rest.AnonymousClientConfig(env.Cluster.Config)
		saConfig.BearerToken = tr.Status.Token
		saKubeconfig = writeKubeconfig(saConfig)

		start := time.Now()
		Expect(env.Cluster.StartController(ctx, localcluster.ControllerOptions{Azure: env.Azure, Env: controllerEnv(ctx)})).To(Succeed())
		// It leads through the chart's Lease.
		Expect(env.Eventually(ctx, time.Minute, "the controller to hold the chart's Lease", func(ctx context.Context) (bool, error) {
			var l coordinationv1.Lease
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: fullname + "-leader-election"}, &l); err != nil {
				return false, client.IgnoreNotFound(err)
			}
			return l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "", nil
		})).To(Succeed())

		nodeClass, pool := framework.NodeClass("default"), framework.NodePool("helm", "default")
		Expect(env.Client.Create(ctx, nodeClass)).To(Succeed())
		Expect(env.Client.Create(ctx, pool)).To(Succeed())
		Expect(framework.Namespace(ctx, env.Client, "workload")).To(Succeed())
		deploy := framework.Deployment("workload", "inflate", "helm", 1, "1", "1Gi")
		// An affinity term with a namespaceSelector: core lists namespaces
		// to evaluate it, which the chart's ClusterRole must allow.
		deploy.Spec.Template.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				LabelSelector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "not-on-the-same-node"}},
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: "workload"}},
				TopologyKey:       corev1.LabelHostname,
			}},
		}}
		Expect(env.Client.Create(ctx, deploy)).To(Succeed())
		Expect(env.WaitPodsRunning(ctx, "workload", 1, 2*time.Minute)).To(Succeed())
		fmt.Fprintf(GinkgoWriter, "provisioned in %s\n", time.Since(start).Round(time.Second))
		// The controller's own pods never asked for a node: its affinity
		// keeps it off the nodes it manages.
		var claims karpv1.NodeClaimList
		Expect(env.Client.List(ctx, &claims)).To(Succeed())
		Expect(claims.Items).To(HaveLen(1))

		// Deleting the NodeClaim drains the node (eviction), deletes it,
		// its Lease and its VM.
		Expect(env.Client.Delete(ctx, deploy)).To(Succeed())
		Expect(env.Client.Delete(ctx, &claims.Items[0])).To(Succeed())
		Expect(env.Eventually(ctx, 2*time.Minute, "the node, its NodeClaim and its VM to be gone", func(ctx context.Context) (bool, error) {
			nodes, n, err := framework.NodesOf(ctx, env.Client, "helm")
			if err != nil {
				return false, err
			}
			vms, err := env.VMsOf(ctx, "helm")
			return nodes == 0 && n == 0 && len(vms) == 0, err
		})).To(Succeed())
		fmt.Fprintf(GinkgoWriter, "provisioned and deleted in %s\n", time.Since(start).Round(time.Second))

		// The NodeClass reached Ready, which needs the bootstrap token,
		// kube-dns and the node images: every input the RBAC must allow.
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nodeClass), nodeClass)).To(Succeed())
		Expect(nodeClass.StatusConditions().IsTrue("Ready")).To(BeTrue(), "AKSNodeClass conditions %v", nodeClass.Status.Conditions)
		Expect(forbidden.FindAllString(controllerLog(), -1)).To(BeEmpty(), "the chart's RBAC refused the controller something; see its log")
	})

	It("does not let the controller's ServiceAccount do more than it needs", func(ctx SpecContext) {
		Expect(saConfig).NotTo(BeNil())
		sa, err := client.New(saConfig, client.Options{})
		Expect(err).NotTo(HaveOccurred())
		decoy := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: "decoy"}, StringData: map[string]string{"k": "v"}}
		Expect(env.Client.Create(ctx, decoy)).To(Succeed())
		for _, c := range []struct {
			what string
			do   func() error
		}{
			{"read another Secret in kube-system", func() error {
				return sa.Get(ctx, client.ObjectKeyFromObject(decoy), &corev1.Secret{})
			}},
			{"list Secrets in kube-system (the token Secret is named)", func() error {
				return sa.List(ctx, &corev1.SecretList{}, client.InNamespace(metav1.NamespaceSystem))
			}},
			{"list Secrets in its own namespace", func() error {
				return sa.List(ctx, &corev1.SecretList{}, client.InNamespace(namespace))
			}},
			{"list Secrets cluster-wide", func() error { return sa.List(ctx, &corev1.SecretList{}) }},
			{"read ConfigMaps in kube-system", func() error {
				return sa.List(ctx, &corev1.ConfigMapList{}, client.InNamespace(metav1.NamespaceSystem))
			}},
			{"bind itself cluster-admin", func() error {
				return sa.Create(ctx, &rbacv1.ClusterRoleBinding{
					ObjectMeta: metav1.ObjectMeta{Name: "escalate"},
					RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
					Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: fullname, Namespace: namespace}},
				})
			}},
			{"create a Role in its namespace", func() error {
				return sa.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "escalate"}})
			}},
			{"change its own Deployment", func() error {
				var d appsv1.Deployment
				if err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: fullname}, &d); err != nil {
					return err
				}
				return sa.Update(ctx, &d)
			}},
			{"create pods", func() error {
				return sa.Create(ctx, framework.Pod("workload", "intruder", "helm", "1", "1Gi"))
			}},
			{"delete a namespace", func() error {
				return sa.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "workload"}})
			}},
			{"create a namespace (it may only read them)", func() error {
				return sa.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "intruder"}})
			}},
			{"label a namespace", func() error {
				var n corev1.Namespace
				if err := sa.Get(ctx, client.ObjectKey{Name: "workload"}, &n); err != nil {
					return err
				}
				n.Labels["intruder"] = "true"
				return sa.Update(ctx, &n)
			}},
			{"create NodePools (that is for admins)", func() error {
				return sa.Create(ctx, framework.NodePool("intruder", "default"))
			}},
			{"take over another Lease in its namespace", func() error {
				l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "other"}}
				if err := env.Client.Create(ctx, l); err != nil {
					return err
				}
				return sa.Update(ctx, l)
			}},
			{"create AKSNodeClasses", func() error {
				return sa.Create(ctx, framework.NodeClass("intruder"))
			}},
		} {
			err := c.do()
			Expect(apierrors.IsForbidden(err)).To(BeTrue(), "the ServiceAccount may %s (error %v)", c.what, err)
		}
	})

	It("lets users bound to the built-in admin role manage NodePools and AKSNodeClasses, through the aggregate role", func(ctx SpecContext) {
		Expect(env.Client.Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "platform-admins"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "alice"}},
		})).To(Succeed())
		as := func(user string) client.Client {
			cfg := rest.CopyConfig(env.Cluster.Config)
			cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
			c, err := client.New(cfg, client.Options{Scheme: env.Client.Scheme()})
			Expect(err).NotTo(HaveOccurred())
			return c
		}
		alice, bob := as("alice"), as("bob")
		// kube-controller-manager's aggregation controller folds the
		// chart's role into admin.
		Expect(env.Eventually(ctx, time.Minute, "admin to grant NodePools", func(ctx context.Context) (bool, error) {
			err := alice.Create(ctx, framework.NodePool("by-alice", "default"))
			return err == nil, client.IgnoreNotFound(ignoreForbidden(err))
		})).To(Succeed())
		Expect(alice.Create(ctx, framework.NodeClass("by-alice"))).To(Succeed())
		Expect(alice.Delete(ctx, &karpv1.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "by-alice"}})).To(Succeed())
		Expect(alice.Delete(ctx, &v1beta1.AKSNodeClass{ObjectMeta: metav1.ObjectMeta{Name: "by-alice"}})).To(Succeed())
		err := bob.Create(ctx, framework.NodePool("by-bob", "default"))
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "a user bound to nothing created a NodePool: %v", err)
	})

	It("rolls the Deployment on helm upgrade with changed values", func(ctx SpecContext) {
		var before appsv1.Deployment
		Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: fullname}, &before)).To(Succeed())
		_, err := helm(ctx, "upgrade", release, "charts/azkarpenter", "--namespace", namespace, "--skip-crds", "--reuse-values",
			"--set", "logging.level=debug", "--set", "featureGates.nodeRepair=true")
		Expect(err).NotTo(HaveOccurred())
		var after appsv1.Deployment
		Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: fullname}, &after)).To(Succeed())
		Expect(after.Generation).To(BeNumerically(">", before.Generation))
		Expect(after.Spec.Template.Spec.Containers[0].Env).To(ContainElement(corev1.EnvVar{Name: "LOG_LEVEL", Value: "debug"}))
		// kube-controller-manager rolls it: a second ReplicaSet for the new
		// pod template.
		Expect(env.Eventually(ctx, time.Minute, "a new ReplicaSet for the upgraded pod template", func(ctx context.Context) (bool, error) {
			var rss appsv1.ReplicaSetList
			if err := env.Client.List(ctx, &rss, client.InNamespace(namespace)); err != nil {
				return false, err
			}
			return len(rss.Items) == 2, nil
		})).To(Succeed())
		// The controller runs with the upgraded environment.
		Expect(env.Cluster.RestartController(ctx, localcluster.ControllerOptions{Azure: env.Azure, Env: controllerEnv(ctx)})).To(Succeed())
		Expect(env.Eventually(ctx, time.Minute, "a debug line from the upgraded controller", func(context.Context) (bool, error) {
			return strings.Contains(controllerLog(), `"level":"DEBUG"`), nil
		})).To(Succeed())
		Expect(forbidden.FindAllString(controllerLog(), -1)).To(BeEmpty())
	})

	It("leaves the CRDs and their objects on helm uninstall", func(ctx SpecContext) {
		Expect(env.Cluster.StopComponent("controller", syscall.SIGTERM, 30*time.Second)).To(Succeed())
		_, err := helm(ctx, "uninstall", release, "--namespace", namespace, "--wait")
		Expect(err).NotTo(HaveOccurred())
		Expect(apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: fullname}, &appsv1.Deployment{}))).To(BeTrue())
		Expect(apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKey{Name: fullname}, &rbacv1.ClusterRole{}))).To(BeTrue())
		Expect(apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKey{Name: fullname + "-admin"}, &rbacv1.ClusterRole{}))).To(BeTrue())
		// The CRD chart's CRDs carry helm.sh/resource-policy: keep.
		_, err = helm(ctx, "uninstall", release+"-crd", "--namespace", namespace, "--wait")
		Expect(err).NotTo(HaveOccurred())
		for _, name := range []string{"nodepools.karpenter.sh", "nodeclaims.karpenter.sh", "aksnodeclasses.karpenter.azure.com", "nodeoverlays.karpenter.sh"} {
			var crd apiextensionsv1.CustomResourceDefinition
			Expect(env.Client.Get(ctx, client.ObjectKey{Name: name}, &crd)).To(Succeed(), "CRD %s", name)
			Expect(crd.DeletionTimestamp.IsZero()).To(BeTrue(), "CRD %s is being deleted", name)
		}
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: "helm"}, &karpv1.NodePool{})).To(Succeed())
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: "default"}, &v1beta1.AKSNodeClass{})).To(Succeed())
	})
})

func ignoreForbidden(err error) error {
	if apierrors.IsForbidden(err) {
		return nil
	}
	return err
}

func writeKubeconfig(cfg *rest.Config) string {
	ca := cfg.CAData
	if len(ca) == 0 {
		var err error
		ca, err = os.ReadFile(cfg.CAFile)
		Expect(err).NotTo(HaveOccurred())
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["local"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: ca}
	kc.AuthInfos["sa"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["sa"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "sa"}
	kc.CurrentContext = "sa"
	// In the suite's state directory: the controller reads it again when
	// it restarts in a later spec. WriteToFile makes it 0600.
	path := filepath.Join(root, ".e2e", "helm", "serviceaccount.kubeconfig")
	Expect(clientcmd.WriteToFile(*kc, path)).To(Succeed())
	return path
}
