// Package chart tests the Helm charts under charts/ with the pinned helm in
// bin/: lint, rendered manifests against golden files, the values schema,
// and properties of the rendered objects (least-privilege RBAC, the
// Deployment's hardening). Installing the chart on a cluster is the e2e
// suite test/e2e/helm.
//
// go test ./test/chart -update rewrites the golden files.
package chart

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// kubeVersion is the version helm renders for: the local cluster's.
const kubeVersion = "1.35.4"

type env struct {
	root, helm string
}

func setup(t *testing.T) env {
	t.Helper()
	root, err := testutil.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	helm := filepath.Join(root, "bin", "helm")
	if _, err := os.Stat(helm); err != nil {
		t.Fatalf("%v: build the pinned helm with `make tools` (hack/build-tools.sh helm)", err)
	}
	return env{root: root, helm: helm}
}

func (e env) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(e.helm, args...)
	cmd.Dir = e.root
	// No user configuration, repositories or plugins leak into the test.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+home, "HELM_CACHE_HOME="+home, "HELM_DATA_HOME="+home, "KUBECONFIG="+filepath.Join(home, "none"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (e env) template(t *testing.T, chart string, args ...string) (string, error) {
	t.Helper()
	return e.run(t, append([]string{"template", "azk", filepath.Join("charts", chart), "--namespace", "karpenter", "--kube-version", kubeVersion}, args...)...)
}

const (
	minimal = "test/chart/testdata/minimal-values.yaml"
	full    = "test/chart/testdata/full-values.yaml"
)

func TestLint(t *testing.T) {
	e := setup(t)
	for _, c := range []struct{ chart, values string }{
		{"azkarpenter", minimal},
		{"azkarpenter", full},
		{"azkarpenter-crd", ""},
	} {
		args := []string{"lint", "--strict", "--kube-version", kubeVersion, filepath.Join("charts", c.chart)}
		if c.values != "" {
			args = append(args, "-f", c.values)
		}
		if out, err := e.run(t, args...); err != nil {
			t.Errorf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func TestTemplateGolden(t *testing.T) {
	e := setup(t)
	for _, c := range []struct{ golden, values string }{
		{"default.yaml", minimal},
		{"full.yaml", full},
	} {
		t.Run(c.golden, func(t *testing.T) {
			out, err := e.template(t, "azkarpenter", "-f", c.values)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			path := filepath.Join("testdata", "golden", c.golden)
			if *update {
				if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./test/chart -update writes it)", err)
			}
			if string(want) != out {
				t.Errorf("helm template with %s differs from %s; review the diff and run go test ./test/chart -update\n%s", c.values, path, cmp.Diff(string(want), out))
			}
		})
	}
}

// Each wrong value fails at install time with a message that names it.
func TestSchemaRejects(t *testing.T) {
	e := setup(t)
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"nothing set", nil, []string{"/cluster/name", "/azure/subscriptionID", "/azure/nodeResourceGroup", "/azure/location", "/azure/vnetSubnetID", "/azure/identityClientID"}},
		{"subscription not a GUID", []string{"--set", "azure.subscriptionID=my-sub"}, []string{"/azure/subscriptionID", "'my-sub' does not match pattern"}},
		{"location with spaces", []string{"--set", "azure.location=East US"}, []string{"/azure/location", "'East US' does not match pattern"}},
		{"subnet not a resource ID", []string{"--set", "azure.vnetSubnetID=aks-subnet"}, []string{"/azure/vnetSubnetID", "'aks-subnet' does not match pattern"}},
		{"unknown cloud", []string{"--set", "azure.cloud=AzureMoonCloud"}, []string{"/azure/cloud", "value must be one of"}},
		{"static token is for simulators", []string{"--set", "azure.credential=static-token"}, []string{"/azure/credential", "value must be one of 'workload-identity', 'managed-identity'"}},
		{"workload identity without a client ID", []string{"--set", "azure.identityClientID="}, []string{"/azure/identityClientID", "minLength"}},
		{"identity client ID not a GUID", []string{"--set", "azure.identityClientID=karpenter"}, []string{"/azure/identityClientID", "does not match pattern"}},
		{"http endpoint", []string{"--set", "cluster.endpoint=http://api.example.com"}, []string{"/cluster/endpoint", "does not match pattern"}},
		{"endpoint on another port", []string{"--set", "cluster.endpoint=https://api.example.com:6443"}, []string{"/cluster/endpoint", "does not match pattern"}},
		{"CA not PEM", []string{"--set", "cluster.caBundle=abc"}, []string{"/cluster/caBundle", "does not match pattern"}},
		{"DNS IP not an IP", []string{"--set", "cluster.dnsServiceIP=kube-dns"}, []string{"/cluster/dnsServiceIP", "'kube-dns' does not match pattern"}},
		{"DNS IP out of range", []string{"--set", "cluster.dnsServiceIP=10.0.0.300"}, []string{"/cluster/dnsServiceIP"}},
		{"token Secret misnamed", []string{"--set", "bootstrap.tokenSecretName=my-token"}, []string{"/bootstrap/tokenSecretName", "'my-token' does not match pattern"}},
		{"node identity not a resource ID", []string{"--set", "bootstrap.nodeIdentities={kubelet}"}, []string{"/bootstrap/nodeIdentities/0", "'kubelet' does not match pattern"}},
		{"network plugin", []string{"--set", "networking.plugin=calico"}, []string{"/networking/plugin", "value must be one of 'azure', 'kubenet', 'none'"}},
		{"network plugin mode", []string{"--set", "networking.pluginMode=bridge"}, []string{"/networking/pluginMode", "value must be one of"}},
		{"network policy", []string{"--set", "networking.policy=weave"}, []string{"/networking/policy", "value must be one of"}},
		{"dataplane", []string{"--set", "networking.dataplane=ebpf"}, []string{"/networking/dataplane", "value must be one of"}},
		{"backend pool not a resource ID", []string{"--set", "networking.backendPoolIDs={kubernetes}"}, []string{"/networking/backendPoolIDs/0", "'kubernetes' does not match pattern"}},
		{"NSG not a resource ID", []string{"--set", "networking.networkSecurityGroupID=aks-agentpool-1-nsg"}, []string{"/networking/networkSecurityGroupID", "does not match pattern"}},
		{"route table not a resource ID", []string{"--set", "networking.routeTableID=rt"}, []string{"/networking/routeTableID", "does not match pattern"}},
		{"node proxy not a URL", []string{"--set", "nodeProxy.httpProxy=proxy.example.com:3128"}, []string{"/nodeProxy/httpProxy", "does not match pattern"}},
		{"node proxy CA not PEM", []string{"--set", "nodeProxy.trustedCA=abc"}, []string{"/nodeProxy/trustedCA", "does not match pattern"}},
		{"node custom CA not PEM", []string{"--set", "nodeCustomCACerts=abc"}, []string{"/nodeCustomCACerts", "does not match pattern"}},
		{"image version", []string{"--set", "nodeImages.linuxVersion=latest"}, []string{"/nodeImages/linuxVersion", "'latest' does not match pattern"}},
		{"duration", []string{"--set", "nodeImages.refreshPeriod=hourly"}, []string{"/nodeImages/refreshPeriod", "'hourly' does not match pattern"}},
		{"log level", []string{"--set", "logging.level=verbose"}, []string{"/logging/level", "value must be one of 'debug', 'info', 'error'"}},
		{"feature gate not a boolean", []string{"--set-string", "featureGates.nodeRepair=yes"}, []string{"/featureGates/nodeRepair", "got string, want boolean"}},
		{"unknown feature gate", []string{"--set", "featureGates.drift=true"}, []string{"/featureGates", "additional properties 'drift' not allowed"}},
		{"metrics port", []string{"--set", "metrics.port=70000"}, []string{"/metrics/port", "maximum"}},
		{"replicas", []string{"--set", "replicas=0"}, []string{"/replicas", "minimum"}},
		{"a misspelled value", []string{"--set", "azure.subnetID=x"}, []string{"/azure", "additional properties 'subnetID' not allowed"}},
		{"a misspelled top-level value", []string{"--set", "replica=3"}, []string{"additional properties 'replica' not allowed"}},
		{"image digest", []string{"--set", "image.digest=latest"}, []string{"/image/digest", "does not match pattern"}},
		// The settings of every node.
		{"tag name with a slash", []string{"--set", "settings.additionalTags.a/b=x"}, []string{"/settings/additionalTags", "additional properties 'a/b' not allowed"}},
		{"ownership tag", []string{"--set", "settings.additionalTags.karpenter\\.sh_nodepool=x"}, []string{"/settings/additionalTags/karpenter.sh_nodepool"}},
		{"tag value not a string", []string{"--set", "settings.additionalTags.team=5"}, []string{"/settings/additionalTags/team", "got number, want string"}},
		{"reserved admin user", []string{"--set", "settings.linuxAdminUsername=root"}, []string{"/settings/linuxAdminUsername"}},
		{"admin user ending in a dot", []string{"--set", "settings.linuxAdminUsername=ops."}, []string{"/settings/linuxAdminUsername", "does not match pattern"}},
		{"SSH key not a key", []string{"--set", "settings.sshPublicKey=hunter2"}, []string{"/settings/sshPublicKey", "does not match pattern"}},
		{"disk encryption set not a DES", []string{"--set", "settings.diskEncryptionSetID=/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v"}, []string{"/settings/diskEncryptionSetID", "does not match pattern"}},
		{"memory overhead in percent", []string{"--set-json", "settings.vmMemoryOverheadPercent=7.5"}, []string{"/settings/vmMemoryOverheadPercent", "exclusiveMaximum"}},
		{"memory overhead a string", []string{"--set-string", "settings.vmMemoryOverheadPercent=0.1"}, []string{"/settings/vmMemoryOverheadPercent", "got string, want number"}},
		{"repair policy status", []string{"--set", "settings.repairPolicies[0].conditionType=Ready", "--set", "settings.repairPolicies[0].conditionStatus=Maybe", "--set", "settings.repairPolicies[0].toleration=1m"}, []string{"/settings/repairPolicies/0/conditionStatus", "value must be one of"}},
		{"repair policy without toleration", []string{"--set", "settings.repairPolicies[0].conditionType=Ready", "--set", "settings.repairPolicies[0].conditionStatus=False"}, []string{"/settings/repairPolicies/0", "missing property 'toleration'"}},
		// The Deployment's values users of Karpenter's AWS chart expect.
		{"extra env without a name", []string{"--set", "extraEnv[0].value=x"}, []string{"/extraEnv/0", "missing property 'name'"}},
		{"extra env not a list", []string{"--set", "extraEnv=HTTP_PROXY"}, []string{"/extraEnv", "got string, want array"}},
		{"extra volume mount without a path", []string{"--set", "extraVolumeMounts[0].name=x"}, []string{"/extraVolumeMounts/0", "missing property 'mountPath'"}},
		{"host network not a boolean", []string{"--set-string", "hostNetwork=yes"}, []string{"/hostNetwork", "got string, want boolean"}},
		{"DNS policy", []string{"--set", "dnsPolicy=Cluster"}, []string{"/dnsPolicy", "value must be one of"}},
		{"DNS config key", []string{"--set", "dnsConfig.nameserver=1.1.1.1"}, []string{"/dnsConfig", "additional properties 'nameserver' not allowed"}},
		{"strategy key", []string{"--set", "strategy.maxUnavailable=1"}, []string{"/strategy", "additional properties 'maxUnavailable' not allowed"}},
		{"strategy type", []string{"--set", "strategy.type=BlueGreen"}, []string{"/strategy/type", "value must be one of"}},
		{"revision history", []string{"--set", "revisionHistoryLimit=-1"}, []string{"/revisionHistoryLimit", "minimum"}},
		{"additional label not a string", []string{"--set", "additionalLabels.tier=1"}, []string{"/additionalLabels/tier", "got number, want string"}},
		{"security context not an object", []string{"--set", "podSecurityContext=none"}, []string{"/podSecurityContext", "got string, want object"}},
		{"sample limit", []string{"--set", "metrics.serviceMonitor.sampleLimit=-5"}, []string{"/metrics/serviceMonitor/sampleLimit", "minimum"}},
		{"relabelings not a list", []string{"--set", "metrics.serviceMonitor.relabelings=drop"}, []string{"/metrics/serviceMonitor/relabelings", "got string, want array"}},
		{"RBAC rule without verbs", []string{"--set", "rbac.additionalClusterRoleRules[0].apiGroups[0]=x"}, []string{"/rbac/additionalClusterRoleRules/0", "missing property 'verbs'"}},
		{"RBAC rule misspelled", []string{"--set", "rbac.additionalClusterRoleRules[0].verbs[0]=get", "--set", "rbac.additionalClusterRoleRules[0].resource[0]=x"}, []string{"/rbac/additionalClusterRoleRules/0", "additional properties 'resource' not allowed"}},
		{"dashboards misspelled", []string{"--set", "dashboards.enable=true"}, []string{"/dashboards", "additional properties 'enable' not allowed"}},
		{"unknown RBAC value", []string{"--set", "rbac.create=false"}, []string{"/rbac", "additional properties 'create' not allowed"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if c.name != "nothing set" {
				args = append([]string{"-f", minimal}, args...)
			}
			out, err := e.template(t, "azkarpenter", args...)
			if err == nil {
				t.Fatalf("helm template %v succeeded; want a schema error", args)
			}
			if !strings.Contains(out, "values don't meet the specifications of the schema") {
				t.Errorf("not a schema error:\n%s", out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("the error does not say %q:\n%s", w, out)
				}
			}
		})
	}
	// A combination the schema cannot express fails in the templates.
	if out, err := e.template(t, "azkarpenter", "-f", minimal, "--set", "metrics.serviceMonitor.enabled=true", "--set", "metrics.service.enabled=false"); err == nil ||
		!strings.Contains(out, "metrics.serviceMonitor.enabled needs metrics.service.enabled") {
		t.Errorf("a ServiceMonitor without the metrics Service: %v\n%s", err, out)
	}
	// And the values that look unusual but are right pass.
	for _, args := range [][]string{
		{"--set", "networking.pluginMode=", "--set", "networking.plugin=kubenet"},
		{"--set", "azure.credential=managed-identity", "--set", "azure.identityClientID="},
		{"--set", "cluster.dnsServiceIP=fd00::a"},
		{"--set", "cluster.endpoint=https://prod-dns-1.hcp.eastus.azmk8s.io"},
		{"--set", "nodeImages.refreshPeriod=1h30m"},
		{"--set", "podDisruptionBudget.maxUnavailable=50%"},
		{"--set", "settings.vmMemoryOverheadPercent=0"},
		{"--set", "settings.additionalTags.kubernetes\\.io_owner=team-a"},
		{"--set", "settings.sshPublicKey=ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 user@host"},
		{"--set", "strategy.type=Recreate", "--set", "strategy.rollingUpdate=null"},
	} {
		if out, err := e.template(t, "azkarpenter", append([]string{"-f", minimal}, args...)...); err != nil {
			t.Errorf("helm template %v: %v\n%s", args, err, out)
		}
	}
}

func decode(t *testing.T, manifests string) map[string][]byte {
	t.Helper()
	objs := map[string][]byte{}
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifests)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var meta struct {
			Kind     string
			Metadata struct{ Name, Namespace string }
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatal(err)
		}
		if meta.Kind == "" {
			continue
		}
		key := meta.Kind + "/" + meta.Metadata.Namespace + "/" + meta.Metadata.Name
		if _, dup := objs[key]; dup {
			t.Errorf("%s rendered twice", key)
		}
		objs[key] = doc
	}
	return objs
}

func get[T any](t *testing.T, objs map[string][]byte, key string) *T {
	t.Helper()
	doc, ok := objs[key]
	if !ok {
		keys := make([]string, 0, len(objs))
		for k := range objs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		t.Fatalf("%s is not rendered; rendered: %v", key, keys)
	}
	var v T
	if err := yaml.UnmarshalStrict(doc, &v); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return &v
}

// The Deployment the issue asks for: HA with leader election, core's
// probes, requests, priority, spread, kept off managed nodes, hardened.
func TestDeployment(t *testing.T) {
	e := setup(t)
	out, err := e.template(t, "azkarpenter", "-f", minimal)
	if err != nil {
		t.Fatal(err, out)
	}
	objs := decode(t, out)
	d := get[appsv1.Deployment](t, objs, "Deployment/karpenter/azk-azkarpenter")
	spec := d.Spec.Template.Spec
	if *d.Spec.Replicas != 2 {
		t.Errorf("replicas %d, want 2", *d.Spec.Replicas)
	}
	if spec.PriorityClassName != "system-cluster-critical" {
		t.Errorf("priority class %q", spec.PriorityClassName)
	}
	if len(spec.TopologySpreadConstraints) == 0 {
		t.Error("no topology spread")
	}
	terms := spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 || !slices.ContainsFunc(terms[0].MatchExpressions, func(r corev1.NodeSelectorRequirement) bool {
		return r.Key == "karpenter.sh/nodepool" && r.Operator == corev1.NodeSelectorOpDoesNotExist
	}) {
		t.Errorf("the node affinity does not keep the controller off the nodes it manages: %+v", terms)
	}
	if psc := spec.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Error("the pod may run as root")
	}
	c := spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container security context %+v", sc)
	}
	if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Port.String() != "http-health" {
		t.Errorf("probes are not core's /healthz and /readyz on the health port")
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Error("no resource requests")
	}
	envs := map[string]corev1.EnvVar{}
	for _, v := range c.Env {
		envs[v.Name] = v
	}
	if _, ok := envs["DISABLE_LEADER_ELECTION"]; ok {
		t.Error("leader election is disabled")
	}
	if envs["LEADER_ELECTION_NAMESPACE"].Value != "karpenter" {
		t.Errorf("LEADER_ELECTION_NAMESPACE %q", envs["LEADER_ELECTION_NAMESPACE"].Value)
	}
	// No secret in the environment or on the command line.
	for name := range envs {
		if strings.Contains(name, "TOKEN") && name != "BOOTSTRAP_TOKEN_SECRET" {
			t.Errorf("%s in the environment: credentials come from files", name)
		}
	}
	if len(c.Args) != 0 || len(c.Command) != 0 {
		t.Errorf("command line %v %v: configuration goes through the environment", c.Command, c.Args)
	}
	sa := get[corev1.ServiceAccount](t, objs, "ServiceAccount/karpenter/azk-azkarpenter")
	if sa.Annotations["azure.workload.identity/client-id"] != "11111111-2222-3333-4444-555555555555" || sa.Labels["azure.workload.identity/use"] != "true" {
		t.Errorf("the ServiceAccount has no workload identity annotation and label: %v %v", sa.Annotations, sa.Labels)
	}
	if d.Spec.Template.Labels["azure.workload.identity/use"] != "true" {
		t.Error("the pod is not labelled for workload identity")
	}
	for _, k := range []string{"PodDisruptionBudget/karpenter/azk-azkarpenter", "Service/karpenter/azk-azkarpenter-metrics"} {
		if _, ok := objs[k]; !ok {
			t.Errorf("%s is not rendered", k)
		}
	}
	if _, ok := objs["ServiceMonitor/karpenter/azk-azkarpenter"]; ok {
		t.Error("the ServiceMonitor renders by default; prometheus-operator may not be installed")
	}
}

// Least privilege, as far as rendering shows it: no wildcards, no Secrets
// or RBAC cluster-wide, named objects where the controller needs one.
func TestRBACIsNarrow(t *testing.T) {
	e := setup(t)
	for _, values := range []string{minimal, full} {
		out, err := e.template(t, "azkarpenter", "-f", values)
		if err != nil {
			t.Fatal(err, out)
		}
		objs := decode(t, out)
		for key := range objs {
			var rules []rbacv1.PolicyRule
			switch {
			case strings.HasPrefix(key, "ClusterRole/"):
				rules = get[rbacv1.ClusterRole](t, objs, key).Rules
			case strings.HasPrefix(key, "Role/"):
				rules = get[rbacv1.Role](t, objs, key).Rules
			default:
				continue
			}
			for _, r := range rules {
				for _, s := range slices.Concat(r.APIGroups, r.Resources, r.Verbs) {
					if s == "*" {
						t.Errorf("%s: wildcard in %+v", key, r)
					}
				}
				if slices.Contains(r.APIGroups, "rbac.authorization.k8s.io") {
					t.Errorf("%s may touch RBAC: %+v", key, r)
				}
				if strings.HasPrefix(key, "ClusterRole/") && slices.ContainsFunc(r.Resources, func(s string) bool { return s == "secrets" || s == "configmaps" || s == "serviceaccounts" }) {
					t.Errorf("%s reaches %v cluster-wide", key, r.Resources)
				}
				if slices.Contains(r.Resources, "secrets") && !strings.HasPrefix(key, "Role/kube-system/") {
					t.Errorf("%s reads Secrets outside kube-system", key)
				}
			}
		}
	}
	// With the token Secret named, the controller may read that one only.
	out, err := e.template(t, "azkarpenter", "-f", full)
	if err != nil {
		t.Fatal(err, out)
	}
	role := get[rbacv1.Role](t, decode(t, out), "Role/kube-system/karpenter-bootstrap")
	for _, r := range role.Rules {
		if slices.Contains(r.Resources, "secrets") && (!slices.Equal(r.Verbs, []string{"get"}) || !slices.Equal(r.ResourceNames, []string{"bootstrap-token-abcdef"})) {
			t.Errorf("with bootstrap.tokenSecretName set, Secrets rule %+v is wider than get on that Secret", r)
		}
	}
}

// The CRD chart renders every CRD the controller embeds, each kept on
// uninstall; the main chart carries the same CRDs in crds/.
func TestCRDChart(t *testing.T) {
	e := setup(t)
	out, err := e.template(t, "azkarpenter-crd")
	if err != nil {
		t.Fatal(err, out)
	}
	objs := decode(t, out)
	entries, err := os.ReadDir(filepath.Join(e.root, "charts", "azkarpenter", "crds"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != len(entries) || len(objs) < 5 {
		t.Errorf("the CRD chart renders %d objects, crds/ holds %d files", len(objs), len(entries))
	}
	for key := range objs {
		crd := get[apiextensionsv1.CustomResourceDefinition](t, objs, key)
		if crd.Annotations["helm.sh/resource-policy"] != "keep" {
			t.Errorf("%s is not kept on uninstall", crd.Name)
		}
	}
}

// Every value has a schema entry, and every schema entry a default in
// values.yaml: nothing configurable is untyped or undocumented.
func TestValuesAndSchemaAgree(t *testing.T) {
	e := setup(t)
	read := func(name string, into any) {
		b, err := os.ReadFile(filepath.Join(e.root, "charts", "azkarpenter", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, into); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	var values, schema map[string]any
	read("values.yaml", &values)
	read("values.schema.json", &schema)
	var walk func(path string, v any, s map[string]any)
	walk = func(path string, v any, s map[string]any) {
		props, _ := s["properties"].(map[string]any)
		obj, isObj := v.(map[string]any)
		if !isObj || props == nil {
			return
		}
		for k, sub := range obj {
			ps, ok := props[k].(map[string]any)
			if !ok {
				t.Errorf("values.yaml %s%s has no schema", path, k)
				continue
			}
			walk(path+k+".", sub, ps)
		}
		for k := range props {
			// An empty map's schema says what may be set, not a default.
			if _, ok := obj[k]; !ok && k != "global" && len(obj) > 0 {
				t.Errorf("schema property %s%s has no default in values.yaml", path, k)
			}
		}
	}
	walk("", values, schema)
}

// The ClusterRole reads namespaces (core lists them for namespaceSelector
// affinity terms), the aggregate role reaches admin, and extra rules land.
func TestClusterRoles(t *testing.T) {
	e := setup(t)
	out, err := e.template(t, "azkarpenter", "-f", minimal)
	if err != nil {
		t.Fatal(err, out)
	}
	objs := decode(t, out)
	role := get[rbacv1.ClusterRole](t, objs, "ClusterRole//azk-azkarpenter")
	if !slices.ContainsFunc(role.Rules, func(r rbacv1.PolicyRule) bool {
		return slices.Equal(r.APIGroups, []string{""}) && slices.Equal(r.Resources, []string{"namespaces"}) && slices.Equal(r.Verbs, []string{"get", "list", "watch"})
	}) {
		t.Errorf("the ClusterRole cannot get, list and watch namespaces: %+v", role.Rules)
	}
	admin := get[rbacv1.ClusterRole](t, objs, "ClusterRole//azk-azkarpenter-admin")
	if admin.Labels["rbac.authorization.k8s.io/aggregate-to-admin"] != "true" {
		t.Errorf("the admin role is not aggregated: %v", admin.Labels)
	}
	for _, r := range admin.Rules {
		if slices.Contains(r.Resources, "nodepools") && !slices.Contains(r.Verbs, "create") {
			t.Errorf("admins cannot create NodePools: %+v", r)
		}
	}
	out, err = e.template(t, "azkarpenter", "-f", full)
	if err != nil {
		t.Fatal(err, out)
	}
	objs = decode(t, out)
	if _, ok := objs["ClusterRole//karpenter-admin"]; ok {
		t.Error("rbac.aggregateToAdmin=false still renders the admin role")
	}
	role = get[rbacv1.ClusterRole](t, objs, "ClusterRole//karpenter")
	if !slices.ContainsFunc(role.Rules, func(r rbacv1.PolicyRule) bool { return slices.Equal(r.Resources, []string{"widgets"}) }) {
		t.Errorf("rbac.additionalClusterRoleRules not in the ClusterRole: %+v", role.Rules)
	}
	// A spread constraint without a labelSelector selects the chart's pods.
	d := get[appsv1.Deployment](t, objs, "Deployment/karpenter/karpenter")
	spread := d.Spec.Template.Spec.TopologySpreadConstraints
	if len(spread) != 2 || spread[1].LabelSelector == nil || spread[1].LabelSelector.MatchLabels["app.kubernetes.io/instance"] != "azk" {
		t.Errorf("topology spread %+v", spread)
	}
	if !d.Spec.Template.Spec.HostNetwork || d.Spec.Template.Spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Errorf("hostNetwork %v dnsPolicy %q", d.Spec.Template.Spec.HostNetwork, d.Spec.Template.Spec.DNSPolicy)
	}
}

// The virtual node (virtualNode.enabled) is a Deployment of one replica of
// the controller's image with `virtual-node`, under its own ServiceAccount
// and ClusterRole: it reads ConfigMaps and Secrets cluster-wide (pods' env
// and volumes, docs/decisions.md "Virtual nodes (ACI)"), the controller
// still does not.
func TestVirtualNode(t *testing.T) {
	e := setup(t)
	out, err := e.template(t, "azkarpenter", "-f", minimal)
	if err != nil {
		t.Fatal(err, out)
	}
	if strings.Contains(out, "virtual-node") {
		t.Error("the virtual node renders without virtualNode.enabled")
	}
	out, err = e.template(t, "azkarpenter", "-f", minimal, "--set", "virtualNode.enabled=true")
	if err != nil {
		t.Fatal(err, out)
	}
	objs := decode(t, out)
	var deploy *appsv1.Deployment
	for key := range objs {
		if strings.HasPrefix(key, "Deployment/") && strings.HasSuffix(key, "-virtual-node") {
			deploy = get[appsv1.Deployment](t, objs, key)
		}
	}
	if deploy == nil {
		t.Fatal("no virtual node Deployment")
	}
	c := deploy.Spec.Template.Spec.Containers[0]
	if *deploy.Spec.Replicas != 1 || !slices.Equal(c.Args, []string{"virtual-node"}) || deploy.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("virtual node Deployment: replicas %d, args %v, strategy %s", *deploy.Spec.Replicas, c.Args, deploy.Spec.Strategy.Type)
	}
	sa := deploy.Spec.Template.Spec.ServiceAccountName
	for key := range objs {
		if !strings.HasPrefix(key, "ClusterRole/") {
			continue
		}
		role := get[rbacv1.ClusterRole](t, objs, key)
		virtual := strings.HasSuffix(key, "-virtual-node")
		for _, r := range role.Rules {
			for _, s := range slices.Concat(r.APIGroups, r.Resources, r.Verbs) {
				if s == "*" {
					t.Errorf("%s: wildcard in %+v", key, r)
				}
			}
			if slices.Contains(r.Resources, "secrets") {
				if !virtual {
					t.Errorf("%s reads Secrets cluster-wide", key)
				} else if !slices.Equal(r.Verbs, []string{"get", "list", "watch"}) {
					t.Errorf("%s: Secrets rule %+v wider than read", key, r)
				}
			}
		}
		if virtual && !strings.HasSuffix(sa, "-virtual-node") {
			t.Errorf("virtual node runs as %s, not its own ServiceAccount", sa)
		}
	}
}
