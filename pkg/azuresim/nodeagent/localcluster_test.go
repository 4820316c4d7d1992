package nodeagent_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/samber/lo"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/cert"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim/nodeagent"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	"github.com/azkarpenter/azkarpenter/pkg/localcluster"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
	"github.com/azkarpenter/azkarpenter/pkg/test/poll"
)

const (
	sub, rg      = "00000000-0000-0000-0000-000000000009", "MC_rg_cluster_eastus"
	windowsImage = "/CommunityGalleries/AKSWindows-cf00e6e0-d245-4a4e-8d8e-6ed6a3f7a8e8/images/windows-2025-gen2/versions/26100.7171.261112"
	ubuntuImage  = "/CommunityGalleries/AKSUbuntu-38d80f77-467a-481f-a8d4-09b6d4220bd2/images/2404gen2containerd/versions/202611.10.0"
)

// simEnv is the local cluster (real kube-apiserver with bootstrap-token
// authentication, the Node authorizer and NodeRestriction; real
// kube-controller-manager approving and signing kubelet certificates) with
// an in-process azuresim whose node agent reaches the API server the way
// nodes do: by its AKS-style name on 443, through the simulated network.
type simEnv struct {
	cluster *localcluster.Cluster
	client  kubernetes.Interface
	srv     *azuresim.Server
	compute *armcompute.ClientFactory
	network *armnetwork.ClientFactory
	caPEM   []byte
}

func startSimEnv(t *testing.T) *simEnv {
	t.Helper()
	root, err := testutil.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		if _, err := os.Stat(filepath.Join(root, "bin", b)); err != nil {
			t.Skipf("local cluster test skipped: %s is not in bin/ (run `make tools`)", b)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cluster, err := localcluster.Start(ctx, localcluster.Options{BinDir: filepath.Join(root, "bin"), StateDir: filepath.Join(t.TempDir(), "state")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Stop)
	caPEM, err := cluster.CACertificate()
	if err != nil {
		t.Fatal(err)
	}
	cfg := azuresim.DefaultConfig()
	cfg.TimeScale = 0.001
	cfg.Spot.NoticePeriod = azuresim.Duration{Duration: 2 * time.Minute} // 120 ms here
	srv, err := azuresim.NewServer(azuresim.Options{Config: &cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	client := kubernetes.NewForConfigOrDie(cluster.Config)
	routes := nodeagent.Routes{}
	routes.Add(localcluster.APIServerFQDN+":443", cluster.APIServerAddress())
	agentCtx, stopAgent := context.WithCancel(context.Background())
	agentDone := make(chan struct{})
	agent := nodeagent.New(nodeagent.Options{Client: client, Source: srv, Routes: routes, Logger: slog.New(slog.DiscardHandler), ResyncPeriod: time.Second})
	go func() { defer close(agentDone); _ = agent.Run(agentCtx) }()
	t.Cleanup(func() { stopAgent(); <-agentDone })

	e := &simEnv{cluster: cluster, client: client, srv: srv, caPEM: caPEM}
	e.network, _ = armnetwork.NewClientFactory(sub, srv.Credential(), srv.ClientOptions())
	e.compute, _ = armcompute.NewClientFactory(sub, srv.Credential(), srv.ClientOptions())
	vp, err := e.network.NewVirtualNetworksClient().BeginCreateOrUpdate(context.Background(), rg, "vnet", armnetwork.VirtualNetwork{Location: lo.ToPtr("eastus"),
		Properties: &armnetwork.VirtualNetworkPropertiesFormat{Subnets: []*armnetwork.Subnet{{Name: lo.ToPtr("nodes"), Properties: &armnetwork.SubnetPropertiesFormat{AddressPrefix: lo.ToPtr("10.10.0.0/16")}}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vp.PollUntilDone(context.Background(), lroPoll); err != nil {
		t.Fatal(err)
	}
	return e
}

var lroPoll = &runtime.PollUntilDoneOptions{Frequency: 5 * time.Millisecond}

// boot is a node's bootstrap configuration as the provider renders it for
// the local cluster: its API server name, CA and bootstrap token.
func (e *simEnv) boot(os bootstrap.OS) *bootstrap.Config {
	image := ubuntuImage
	if os == bootstrap.Windows {
		image = windowsImage
	}
	return nodeagent.AKSComplete(&bootstrap.Config{
		OS: os,
		Cluster: bootstrap.Cluster{APIServerName: localcluster.APIServerFQDN, CACertificate: e.caPEM, BootstrapToken: e.cluster.BootstrapToken,
			NetworkPlugin: "azure"},
		KubernetesVersion: "1.35.4",
		VMSize:            "Standard_D2s_v5",
		Labels:            map[string]string{"karpenter.sh/capacity-type": "spot", "kubernetes.azure.com/scalesetpriority": "spot", "karpenter.sh/nodepool": "default"},
		Taints:            []corev1.Taint{{Key: "karpenter.sh/unregistered", Effect: corev1.TaintEffectNoExecute}},
		Kubelet:           bootstrap.Kubelet{MaxPods: 30, KubeReserved: map[string]string{"cpu": "100m", "memory": "1843Mi"}, EvictionHard: map[string]string{"memory.available": "750Mi"}},
	}, image)
}

// createVM creates a spot VM (and its NIC) through the SDK with the
// configuration's custom data, and returns its resource ID.
func (e *simEnv) createVM(t *testing.T, name string, boot *bootstrap.Config, image string) string {
	t.Helper()
	ctx := context.Background()
	artifact, err := bootstrap.Render(boot)
	if err != nil {
		t.Fatal(err)
	}
	np, err := e.network.NewInterfacesClient().BeginCreateOrUpdate(ctx, rg, name, armnetwork.Interface{Location: lo.ToPtr("eastus"), Properties: &armnetwork.InterfacePropertiesFormat{
		IPConfigurations: []*armnetwork.InterfaceIPConfiguration{{Name: lo.ToPtr("c"), Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{
			Subnet: &armnetwork.Subnet{ID: lo.ToPtr("/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Network/virtualNetworks/vnet/subnets/nodes")}}}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	nic, err := np.PollUntilDone(ctx, lroPoll)
	if err != nil {
		t.Fatal(err)
	}
	osType := armcompute.OperatingSystemTypesLinux
	osProfile := &armcompute.OSProfile{ComputerName: lo.ToPtr(name), AdminUsername: lo.ToPtr("azureuser"), CustomData: lo.ToPtr(artifact.CustomData)}
	if boot.OS == bootstrap.Windows {
		osType = armcompute.OperatingSystemTypesWindows
		osProfile.AdminPassword = lo.ToPtr("Unused-" + name + "-1!")
		osProfile.WindowsConfiguration = &armcompute.WindowsConfiguration{}
	} else {
		// Compute requires a password or an SSH key on Linux.
		osProfile.LinuxConfiguration = &armcompute.LinuxConfiguration{DisablePasswordAuthentication: lo.ToPtr(true), SSH: &armcompute.SSHConfiguration{
			PublicKeys: []*armcompute.SSHPublicKey{{Path: lo.ToPtr("/home/azureuser/.ssh/authorized_keys"),
				KeyData: lo.ToPtr("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhWm8l1mzq0dMsWcY8b1tU2WQz2rj0y1sJX2dV3rKj1 test")}},
		}}
	}
	vmp, err := e.compute.NewVirtualMachinesClient().BeginCreateOrUpdate(ctx, rg, name, armcompute.VirtualMachine{
		Location: lo.ToPtr("eastus"), Zones: []*string{lo.ToPtr("3")},
		Properties: &armcompute.VirtualMachineProperties{
			HardwareProfile: &armcompute.HardwareProfile{VMSize: lo.ToPtr(armcompute.VirtualMachineSizeTypes("Standard_D2s_v5"))},
			Priority:        lo.ToPtr(armcompute.VirtualMachinePriorityTypesSpot), EvictionPolicy: lo.ToPtr(armcompute.VirtualMachineEvictionPolicyTypesDelete),
			OSProfile: osProfile,
			StorageProfile: &armcompute.StorageProfile{
				ImageReference: &armcompute.ImageReference{CommunityGalleryImageID: lo.ToPtr(image)},
				OSDisk:         &armcompute.OSDisk{OSType: lo.ToPtr(osType), CreateOption: lo.ToPtr(armcompute.DiskCreateOptionTypesFromImage), DiskSizeGB: lo.ToPtr[int32](64)},
			},
			NetworkProfile: &armcompute.NetworkProfile{NetworkInterfaces: []*armcompute.NetworkInterfaceReference{{ID: nic.ID}}},
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := vmp.PollUntilDone(ctx, lroPoll)
	if err != nil {
		t.Fatal(err)
	}
	return *vm.ID
}

// joined waits for the VM's Node to be registered, initialized (providerID
// set, uninitialized taint gone, addresses set) and Ready.
func (e *simEnv) joined(t *testing.T, name string) *corev1.Node {
	t.Helper()
	var node *corev1.Node
	poll.Until(t, 90*time.Second, "Node "+name+" registered, initialized and Ready", func() bool {
		n, err := e.client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		node = n
		return n.Spec.ProviderID != "" && !hasTaint(n, nodeagent.TaintUninitialized) && len(n.Status.Addresses) > 0 && lo.ContainsBy(n.Status.Conditions, func(c corev1.NodeCondition) bool {
			return c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
		})
	})
	return node
}

// joinError waits for the agent to report why the VM's node cannot join.
func (e *simEnv) joinError(t *testing.T, vmID string) string {
	t.Helper()
	var msg string
	poll.Until(t, 90*time.Second, "the node agent to report why "+vmID+" cannot join", func() bool {
		for _, vm := range e.srv.Snapshot().VMs {
			if strings.EqualFold(vm.ID, vmID) && vm.NodeJoinError != "" {
				msg = vm.NodeJoinError
				return true
			}
		}
		return false
	})
	return msg
}

// TestNodesJoinThroughTLSBootstrap: VMs created through the SDK join the
// local cluster the way AKS nodes do, or fail to exactly where a real node
// would.
func TestNodesJoinThroughTLSBootstrap(t *testing.T) {
	e := startSimEnv(t)
	ctx := context.Background()
	tokenID, _, _ := strings.Cut(e.cluster.BootstrapToken, ".")

	t.Run("a node joins with the client certificate it was issued", func(t *testing.T) {
		id := e.createVM(t, "spot-1", e.boot(bootstrap.Linux), ubuntuImage)
		node := e.joined(t, "spot-1")
		if want := "azure://" + strings.Replace(id, rg, strings.ToLower(rg), 1); node.Spec.ProviderID != want {
			t.Errorf("providerID %q, want %s", node.Spec.ProviderID, want)
		}
		for k, v := range map[string]string{
			// the kubelet's own, and its --node-labels
			"kubernetes.io/hostname": "spot-1", "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "karpenter.sh/capacity-type": "spot",
			// the cloud node manager's
			"topology.kubernetes.io/zone": "eastus-3", "topology.kubernetes.io/region": "eastus", "node.kubernetes.io/instance-type": "Standard_D2s_v5",
		} {
			if node.Labels[k] != v {
				t.Errorf("label %s=%q, want %q", k, node.Labels[k], v)
			}
		}
		if !hasTaint(node, "karpenter.sh/unregistered") {
			t.Errorf("taints %v: the kubelet's --register-with-taints are missing", node.Spec.Taints)
		}
		if pods := node.Status.Allocatable[corev1.ResourcePods]; pods.Value() != 30 {
			t.Errorf("allocatable pods %v", pods.String())
		}
		if node.Status.NodeInfo.OSImage != "Ubuntu 24.04.3 LTS" || node.Status.NodeInfo.KubeletVersion != "v1.35.4" {
			t.Errorf("nodeInfo %+v", node.Status.NodeInfo)
		}
		if len(node.Status.Addresses) != 2 || node.Status.Addresses[0].Type != corev1.NodeInternalIP {
			t.Errorf("addresses %v", node.Status.Addresses)
		}
		// The node's credentials are a certificate kube-controller-manager
		// issued for a request made with the bootstrap token.
		csrs, err := e.client.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		issued := lo.Filter(csrs.Items, func(c certificatesv1.CertificateSigningRequest, _ int) bool {
			return c.Spec.Username == "system:bootstrap:"+tokenID && c.Spec.SignerName == certificatesv1.KubeAPIServerClientKubeletSignerName &&
				len(c.Status.Certificate) > 0 && lo.ContainsBy(c.Status.Conditions, func(cond certificatesv1.CertificateSigningRequestCondition) bool {
				return cond.Type == certificatesv1.CertificateApproved
			}) && certSubject(t, c.Status.Certificate) == "CN=system:node:spot-1,O=system:nodes"
		})
		if len(issued) != 1 {
			t.Errorf("%d approved and issued kubelet client certificates for system:node:spot-1 requested as system:bootstrap:%s, want 1", len(issued), tokenID)
		}
		// The kubelet created the Node; the cloud provider's part updated it.
		managers := lo.Map(node.ManagedFields, func(m metav1.ManagedFieldsEntry, _ int) string { return m.Manager })
		if !lo.Contains(managers, "kubelet") {
			t.Errorf("field managers %v: the kubelet did not write the Node", managers)
		}

		// A spot eviction flags the Node, and the Node goes with the VM.
		if err := e.srv.Evict(id, 0); err != nil {
			t.Fatal(err)
		}
		poll.Until(t, 90*time.Second, "PreemptionScheduled condition and event", func() bool {
			n, err := e.client.CoreV1().Nodes().Get(ctx, "spot-1", metav1.GetOptions{})
			if err != nil {
				return false
			}
			evs, _ := e.client.CoreV1().Events(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{})
			return lo.ContainsBy(n.Status.Conditions, func(c corev1.NodeCondition) bool {
				return c.Type == nodeagent.ConditionPreemption && c.Reason == nodeagent.ReasonSpotEviction
			}) && evs != nil && len(evs.Items) > 0
		})
		poll.Until(t, 90*time.Second, "Node deleted with the evicted VM", func() bool {
			_, err := e.client.CoreV1().Nodes().Get(ctx, "spot-1", metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
	})

	t.Run("a Windows node registers as windows with its build", func(t *testing.T) {
		e.createVM(t, "win-1", e.boot(bootstrap.Windows), windowsImage)
		node := e.joined(t, "win-1")
		if node.Labels[corev1.LabelOSStable] != "windows" || node.Labels[corev1.LabelWindowsBuild] != "10.0.26100" {
			t.Errorf("labels %v", node.Labels)
		}
		if info := node.Status.NodeInfo; info.OperatingSystem != "windows" || info.OSImage != "Windows Server 2025 Datacenter" || info.KernelVersion != "10.0.26100.7171" {
			t.Errorf("nodeInfo %+v", info)
		}
	})

	// Each way the custom data can be wrong keeps the node out, as on Azure,
	// and the simulator says why.
	wrongToken := e.boot(bootstrap.Linux)
	wrongToken.Cluster.BootstrapToken = "abcdef.0123456789abcdef"
	wrongCA := e.boot(bootstrap.Linux)
	wrongCA.Cluster.CACertificate = otherCA(t)
	wrongName := e.boot(bootstrap.Linux)
	wrongName.Cluster.APIServerName = "wrong-dns-00000000.hcp.eastus.azmk8s.io"
	forbiddenLabel := e.boot(bootstrap.Linux)
	forbiddenLabel.Labels["node-restriction.kubernetes.io/team"] = "a"
	for _, tc := range []struct {
		name, vm string
		boot     *bootstrap.Config
		want     string
	}{
		{"an unknown bootstrap token is refused", "bad-token", wrongToken, "bootstrap token abcdef.<redacted>: cannot create certificate signing request: Unauthorized"},
		{"a CA that is not the cluster's fails TLS verification", "bad-ca", wrongCA, "x509: certificate signed by unknown authority"},
		{"an API server name without a route does not resolve", "bad-name", wrongName, "lookup wrong-dns-00000000.hcp.eastus.azmk8s.io on 168.63.129.16:53: no such host"},
		{"NodeRestriction refuses labels a kubelet may not set", "bad-label", forbiddenLabel, "is not allowed to set the following labels: node-restriction.kubernetes.io/team"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := tc.vm
			id := e.createVM(t, name, tc.boot, ubuntuImage)
			msg := e.joinError(t, id)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("join error %q, want it to contain %q", msg, tc.want)
			}
			if _, err := e.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("Node %s exists (%v); it must never join", name, err)
			}
		})
	}
}

func certSubject(t *testing.T, certPEM []byte) string {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("issued certificate is not PEM")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.Subject.String()
}

func otherCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := cert.NewSelfSignedCACert(cert.Config{CommonName: "another-cluster-ca"}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})
}

func hasTaint(n *corev1.Node, key string) bool {
	return lo.ContainsBy(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == key })
}
