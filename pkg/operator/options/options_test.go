package options_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	coreoptions "sigs.k8s.io/karpenter/pkg/operator/options"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/azkarpenter/azkarpenter/pkg/operator/options"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
)

func parse(t *testing.T, args ...string) (*options.Options, error) {
	t.Helper()
	o := &options.Options{}
	fs := &coreoptions.FlagSet{FlagSet: flag.NewFlagSet("test", flag.ContinueOnError)}
	o.AddFlags(fs)
	return o, o.Parse(fs, args...)
}

var valid = []string{
	"--cluster-name=c1", "--subscription-id=00000000-0000-0000-0000-000000000000", "--resource-group=MC_rg_c1_eastus",
	"--location=eastus", "--vnet-subnet-id=/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s",
}

func TestValid(t *testing.T) {
	o, err := parse(t, valid...)
	if err != nil {
		t.Fatal(err)
	}
	// The network setup is read from the cluster unless declared.
	if o.CredentialMode != "workload-identity" || o.NetworkPlugin != "" || o.NetworkPluginMode != "" || o.NetworkSetup() != "" || o.DefaultMaxPods() != 250 {
		t.Errorf("defaults: %+v", o)
	}
}

// A declared network setup must be one azkarpenter builds, and network
// overrides must be resource IDs of their kind, or none.
func TestNetworkOptions(t *testing.T) {
	for _, c := range []struct {
		args  []string
		setup cluster.NetworkSetup
		pods  int32
		err   string
	}{
		{args: []string{"--network-plugin=azure"}, setup: cluster.NetworkSetupAzureCNINodeSubnet, pods: 30},
		{args: []string{"--network-plugin=azure", "--network-plugin-mode=overlay", "--network-dataplane=cilium"}, setup: cluster.NetworkSetupAzureCNICilium, pods: 250},
		{args: []string{"--network-plugin=kubenet"}, setup: cluster.NetworkSetupKubenet, pods: 110},
		{args: []string{"--network-plugin=none"}, setup: cluster.NetworkSetupBYOCNI, pods: 250},
		{args: []string{"--network-plugin=kubenet", "--network-plugin-mode=overlay"}, err: "is not a network setup azkarpenter builds; supported: Azure CNI Overlay (--network-plugin=azure --network-plugin-mode=\"overlay\""},
		{args: []string{"--network-plugin=kubenet", "--network-dataplane=cilium"}, err: "kubenet (--network-plugin=kubenet"},
		{args: []string{"--backend-pool-ids=kubernetes"}, err: `--backend-pool-ids (BACKEND_POOL_IDS) "kubernetes" is not a load balancer backend pool resource ID`},
		{args: []string{"--backend-pool-ids=none,/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/kubernetes/backendAddressPools/kubernetes"}, err: "lists pools and none"},
		{args: []string{"--network-security-group-id=aks-agentpool-1-nsg"}, err: "is not a network security group resource ID"},
		{args: []string{"--route-table-id=rt"}, err: "is not a route table resource ID"},
		{args: []string{"--backend-pool-ids=none", "--network-security-group-id=none", "--route-table-id=/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/routeTables/rt"}, pods: 250},
	} {
		o, err := parse(t, append(append([]string{}, valid...), c.args...)...)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v: %v, want %q", c.args, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", c.args, err)
			continue
		}
		if o.NetworkSetup() != c.setup || o.DefaultMaxPods() != c.pods {
			t.Errorf("%v: setup %q max pods %d, want %q %d", c.args, o.NetworkSetup(), o.DefaultMaxPods(), c.setup, c.pods)
		}
	}
}

func TestEnvironment(t *testing.T) {
	t.Setenv("CLUSTER_NAME", "from-env")
	o, err := parse(t, valid[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	if o.ClusterName != "from-env" {
		t.Errorf("cluster name %q, want from-env", o.ClusterName)
	}
}

func TestInvalid(t *testing.T) {
	_, err := parse(t, "--location=East US", "--vnet-subnet-id=subnet1", "--credential=password", "--arm-endpoint=http://127.0.0.1:1", "--network-plugin=calico")
	if err == nil {
		t.Fatal("expected errors")
	}
	for _, want := range []string{
		"--cluster-name (CLUSTER_NAME) is required",
		"--subscription-id (AZURE_SUBSCRIPTION_ID) is required",
		"--resource-group (AZURE_NODE_RESOURCE_GROUP) is required",
		`--location "East US" must be a region name`,
		`--vnet-subnet-id "subnet1" is not a subnet resource ID`,
		`unknown credential mode "password"`,
		"must be an https:// URL",
		`--network-plugin "calico"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if _, err := parse(t, append(valid, "--credential=static-token")...); err == nil || !strings.Contains(err.Error(), "needs a token file") {
		t.Errorf("static-token without a token: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := parse(t, append(valid, "--credential=static-token", "--static-token-file="+missing)...); err == nil || !strings.Contains(err.Error(), "static token file") {
		t.Errorf("static-token with a missing file: %v", err)
	}
}

// Secrets never go on a command line: there is no flag that takes a token,
// and the token file is read, not echoed.
func TestStaticTokenComesFromAFile(t *testing.T) {
	if _, err := parse(t, append(valid, "--credential=static-token", "--static-token=secret")...); err == nil {
		t.Error("--static-token is accepted; tokens must come from files")
	}
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := parse(t, append(valid, "--credential=static-token", "--static-token-file="+path)...)
	if err != nil {
		t.Fatal(err)
	}
	cfg := o.AzureConfig()
	cred, err := cfg.TokenCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{})
	if err != nil || tok.Token != "from-file" {
		t.Fatalf("token %q, %v; want the file's content without its newline", tok.Token, err)
	}
	// Rotated in place, the next request for a token reads the new one.
	if err := os.WriteFile(path, []byte("rotated"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tok, _ = cred.GetToken(context.Background(), policy.TokenRequestOptions{}); tok.Token != "rotated" {
		t.Fatalf("after rotation the token is %q", tok.Token)
	}
}

func TestNodeImageOptions(t *testing.T) {
	t.Setenv("NODE_IMAGE_VERSION", "202611.10.0")
	o, err := parse(t, append(valid, "--windows2025-node-image-version=26100.7171.261112", "--image-refresh-period=30s")...)
	if err != nil {
		t.Fatal(err)
	}
	img := o.ImageOptions()
	if img.LinuxVersion != "202611.10.0" || img.Windows2025Version != "26100.7171.261112" || img.WindowsVersion != "" || img.Location != "eastus" || o.ImageRefreshPeriod.String() != "30s" {
		t.Errorf("image options %+v, refresh %s", img, o.ImageRefreshPeriod)
	}
	if o, _ := parse(t, valid...); o.ImageRefreshPeriod.String() != "1h0m0s" {
		t.Errorf("default image refresh period %s", o.ImageRefreshPeriod)
	}
	_, err = parse(t, append(valid, "--node-image-version=latest", "--windows-node-image-version=20348", "--image-refresh-period=0s")...)
	for _, want := range []string{
		`--node-image-version (NODE_IMAGE_VERSION) "latest" must be a gallery image version`,
		`--windows-node-image-version (WINDOWS_NODE_IMAGE_VERSION) "20348" must be a gallery image version`,
		"--image-refresh-period (IMAGE_REFRESH_PERIOD) 0s must be between 1s and 168h",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
}

func TestNodeIdentities(t *testing.T) {
	kubelet := "/subscriptions/s/resourceGroups/mc_rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/cluster-agentpool"
	t.Setenv("NODE_IDENTITIES", kubelet+", ")
	o, err := parse(t, valid...)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.NodeIdentities) != 1 || o.NodeIdentities[0] != kubelet {
		t.Errorf("NODE_IDENTITIES read as %q", o.NodeIdentities)
	}
	if _, err := parse(t, append(valid, "--node-identities="+kubelet+",/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/d")...); err == nil ||
		!strings.Contains(err.Error(), "is not a user-assigned identity resource ID") {
		t.Errorf("a disk ID as a node identity: %v", err)
	}
}

func TestARMRateLimitScale(t *testing.T) {
	o, err := parse(t, valid...)
	if err != nil {
		t.Fatal(err)
	}
	if o.ARMRateLimitScale != 1 || o.AzureConfig().RateLimitScale != 1 {
		t.Errorf("default scale %g, want 1 (Azure's own figures)", o.ARMRateLimitScale)
	}
	t.Setenv("AZURE_ARM_RATE_LIMIT_SCALE", "1000")
	if o, err = parse(t, valid...); err != nil || o.AzureConfig().RateLimitScale != 1000 {
		t.Errorf("from the environment: %v, %+v", err, o)
	}
	t.Setenv("AZURE_ARM_RATE_LIMIT_SCALE", "fast")
	if _, err := parse(t, valid...); err == nil || !strings.Contains(err.Error(), "--arm-rate-limit-scale") {
		t.Errorf("a scale that is not a number: %v", err)
	}
}

// The node settings NAP has, each from its flag or its variable, with NAP's
// defaults, and each bad value refused naming the flag and the variable.
func TestNodeSettings(t *testing.T) {
	o, err := parse(t, valid...)
	if err != nil {
		t.Fatal(err)
	}
	if o.LinuxAdminUsername != "azureuser" || o.SSHPublicKey != "" || o.DiskEncryptionSetID != "" || o.VMMemoryOverheadPercent != 0.075 || len(o.AdditionalTags) != 0 {
		t.Errorf("defaults: %+v", o.NodeSettings)
	}
	if got, want := options.FormatRepairPolicies(o.RepairPolicies), "Ready=False:10m0s,Ready=Unknown:10m0s,kubernetes.azure.com/NodeHealthy=False:0s,PreemptionScheduled=True:0s"; got != want {
		t.Errorf("default repair policies %s, want NAP's %s", got, want)
	}

	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHUBDJ0rQ1Tfu0cWUcpqx8VmA6ivPS2U0jqdkpTmPnXB ops@example"
	const des = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/keys/providers/Microsoft.Compute/diskEncryptionSets/des1"
	t.Setenv("ADDITIONAL_TAGS", "cost-center=1234,env=prod")
	t.Setenv("SSH_PUBLIC_KEY", key)
	t.Setenv("VM_MEMORY_OVERHEAD_PERCENT", "0.1")
	o, err = parse(t, append(valid, "--linux-admin-username=ops", "--node-osdisk-diskencryptionset-id="+des,
		"--repair-policies=Ready=False:5m,kubernetes.azure.com/NodeHealthy=False:1m")...)
	if err != nil {
		t.Fatal(err)
	}
	if o.AdditionalTags["cost-center"] != "1234" || o.AdditionalTags["env"] != "prod" || o.SSHPublicKey != key || o.LinuxAdminUsername != "ops" ||
		o.DiskEncryptionSetID != des || o.VMMemoryOverheadPercent != 0.1 {
		t.Errorf("settings: %+v", o.NodeSettings)
	}
	if got := options.FormatRepairPolicies(o.RepairPolicies); got != "Ready=False:5m0s,kubernetes.azure.com/NodeHealthy=False:1m0s" {
		t.Errorf("repair policies %s", got)
	}

	t.Setenv("ADDITIONAL_TAGS", "")
	t.Setenv("SSH_PUBLIC_KEY", "")
	t.Setenv("VM_MEMORY_OVERHEAD_PERCENT", "")
	_, err = parse(t, append(valid,
		"--additional-tags=bad/key=v,karpenter.sh_nodepool=x",
		"--linux-admin-username=root",
		"--ssh-public-key=not-a-key",
		"--node-osdisk-diskencryptionset-id=/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v",
		"--vm-memory-overhead-percent=7.5",
		"--repair-policies=Ready=Maybe:1m,Ready",
	)...)
	if err == nil {
		t.Fatal("bad node settings accepted")
	}
	for _, want := range []string{
		`--additional-tags (ADDITIONAL_TAGS) tag name "bad/key" contains one of`,
		`tag name "karpenter.sh_nodepool" is an ownership tag`,
		`--linux-admin-username (LINUX_ADMIN_USERNAME) "root" is a name Azure reserves`,
		"--ssh-public-key (SSH_PUBLIC_KEY) is not an SSH public key",
		"--node-osdisk-diskencryptionset-id (NODE_OSDISK_DISKENCRYPTIONSET_ID)",
		"--vm-memory-overhead-percent (VM_MEMORY_OVERHEAD_PERCENT) 7.5 must be a fraction",
		`--repair-policies (REPAIR_POLICIES): "Ready=Maybe:1m": status "Maybe" must be True, False or Unknown`,
		`"Ready" is not ConditionType=Status:Duration`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	for _, name := range []string{"ops.", "-x", strings.Repeat("a", 65)} {
		if _, err := parse(t, append(valid, "--linux-admin-username="+name)...); err == nil || !strings.Contains(err.Error(), "--linux-admin-username") {
			t.Errorf("admin user %q: %v", name, err)
		}
	}
}

// Nodes' proxy and trusted CAs: a proxy URL that does not parse, a CA
// bundle that is not PEM, a CIDR that is not one are start-up errors that
// name the flag and the value.
func TestNodeProxyAndCAs(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(notPEM, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := parse(t, append(valid, "--node-http-proxy=http://proxy example.com:3128", "--node-https-proxy=proxy.example.com:3129",
		"--node-no-proxy=10.0.0.0/8,*.corp.example.com", "--node-http-proxy-trusted-ca-file="+notPEM, "--node-custom-ca-certs-file="+filepath.Join(dir, "missing.crt"),
		"--service-cidr=10.0.0.0")...)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		`--node-http-proxy (NODE_HTTP_PROXY) "http://proxy example.com:3128" is not a URL`,
		`--node-https-proxy (NODE_HTTPS_PROXY) "proxy.example.com:3129" must be an http:// or https:// URL`,
		`--node-no-proxy (NODE_NO_PROXY) entry "*.corp.example.com" wildcards are not supported`,
		`--node-http-proxy-trusted-ca-file (NODE_HTTP_PROXY_TRUSTED_CA_FILE): ` + notPEM + ` holds no PEM certificate`,
		`--node-custom-ca-certs-file (NODE_CUSTOM_CA_CERTS_FILE): open ` + filepath.Join(dir, "missing.crt"),
		`--service-cidr (SERVICE_CIDR) "10.0.0.0" is not a CIDR`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	o, err := parse(t, append(valid, "--node-http-proxy=http://proxy.example.com:3128", "--node-no-proxy=10.0.0.0/8, .corp.example.com")...)
	if err != nil {
		t.Fatal(err)
	}
	in := o.ClusterInputs()
	if in.HTTPProxy != "http://proxy.example.com:3128" || strings.Join(in.NoProxy, " ") != "10.0.0.0/8 .corp.example.com" {
		t.Errorf("cluster inputs %+v", in)
	}
}
