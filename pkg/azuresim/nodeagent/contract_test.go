package nodeagent

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/aksnodeconfig"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/nodeimage"
	"github.com/azkarpenter/azkarpenter/pkg/test/poll"
)

const testUbuntuImage = "/CommunityGalleries/AKSUbuntu-38d80f77-467a-481f-a8d4-09b6d4220bd2/images/2404gen2containerd/versions/202611.10.0"

// aksComplete fills in what the provider tells every node of a cluster, as
// the node image of imageID needs it (package contract), so a test's own
// configuration joins unless it takes something away.
func aksComplete(c *bootstrap.Config, imageID string) *bootstrap.Config {
	def, version := nodeimage.ParseID(imageID)
	img, _ := nodeimage.Classify(def)
	cl := &c.Cluster
	cl.TenantID, cl.SubscriptionID, cl.Location, cl.ResourceGroup = "tenant", "sub", "eastus", "mc_rg"
	cl.VNetName, cl.VNetResourceGroup, cl.SubnetName = "vnet", "rg", "nodes"
	cl.SecurityGroupName, cl.RouteTableName, cl.DNSServiceIP = "aks-agentpool-1-nsg", "aks-agentpool-1-routetable", "10.0.0.10"
	cl.ServiceCIDR, cl.PodCIDR, cl.VNetCIDR = "10.0.0.0/16", "10.244.0.0/16", "10.224.0.0/12"
	c.Kubelet.ClusterDNS = "10.0.0.10"
	c.Kubelet.EvictionHard = bootstrap.KubeReserved(4, 16).EvictionHard()
	c.PauseImage = nodeimage.PauseImage(img, version)
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	c.Labels["karpenter.sh/do-not-sync-taints"] = "true"
	c.Labels[bootstrap.LabelKubeletServingCA] = bootstrap.KubeletServingCA
	switch cl.NetworkPlugin {
	case "azure":
		c.VNetCNIPluginsURL = nodeimage.VNetCNIPluginsURL(img)
	case "kubenet":
		c.CNIPluginsURL = nodeimage.CNIPluginsURL(img)
	case "none":
		c.Labels["kubernetes.azure.com/azure-cni-overlay"] = "true"
	}
	return c
}

// The node agent does with a VM's custom data what the node image does: a
// value whose absence keeps the node from becoming Ready (no pause image:
// no pod sandbox starts) registers a Node that stays NotReady and is never
// initialized (cloud-node-manager is a pod); one whose absence keeps the
// kubelet from starting (a CFS quota period without its feature gate)
// registers none. Both are reported, naming the value.
func TestImageContract(t *testing.T) {
	client := fake.NewClientset()
	src := &fakeSource{vms: map[string]VM{}}
	agent := New(Options{Client: client, Source: src, ResyncPeriod: 50 * time.Millisecond})
	agent.kubeletNodes = client.CoreV1().Nodes()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = agent.Run(ctx) }()
	defer func() { cancel(); <-done }()

	noPause := aksComplete(bootstrapConfig(), testUbuntuImage)
	noPause.PauseImage = ""
	vm := testVM(t, "Standard_D4s_v3")
	vm.ImageID, vm.CustomData = testUbuntuImage, customData(t, noPause)
	src.set(vm, true)
	poll.Until(t, 10*time.Second, "a NotReady node, reported", func() bool {
		n, err := client.CoreV1().Nodes().Get(ctx, vm.ComputerName, metav1.GetOptions{})
		return err == nil && len(n.Status.Conditions) > 0 && src.report(vm.ID).JoinError != ""
	})
	n, err := client.CoreV1().Nodes().Get(ctx, vm.ComputerName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && (c.Status != corev1.ConditionFalse || !strings.Contains(c.Message, "kube_binary_config.pod_infra_container_image_url is missing")) {
			t.Errorf("Ready condition %+v", c)
		}
	}
	if n.Spec.ProviderID != "" {
		t.Errorf("an uninitialized node has providerID %q", n.Spec.ProviderID)
	}
	if r := src.report(vm.ID); !strings.Contains(r.JoinError, "pod_infra_container_image_url") {
		t.Errorf("report %+v", r)
	}

	noGate := aksComplete(bootstrapConfig(), testUbuntuImage)
	noGate.Kubelet.CPUCFSQuotaPeriod = "50ms"
	data := customData(t, noGate)
	cfg, err := bootstrap.DecodeNodeConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	// What the provider once wrote: the period without the gate.
	delete(cfg.KubeletConfig.KubeletFlags, "--feature-gates")
	vm2 := testVM(t, "Standard_D4s_v3")
	vm2.ID, vm2.Name, vm2.ComputerName = vm2.ID+"-2", "aks-default-nogate", "aks-default-nogate"
	vm2.ImageID, vm2.CustomData = testUbuntuImage, renderNodeConfig(t, cfg)
	src.set(vm2, true)
	poll.Until(t, 10*time.Second, "the kubelet refusing to start, reported", func() bool {
		return strings.Contains(src.report(vm2.ID).JoinError, "CustomCPUCFSQuotaPeriod")
	})
	if _, err := client.CoreV1().Nodes().Get(ctx, vm2.ComputerName, metav1.GetOptions{}); err == nil {
		t.Error("a node whose kubelet cannot start registered")
	}

	// And a complete configuration joins.
	vm3 := testVM(t, "Standard_D4s_v3")
	vm3.ID, vm3.Name, vm3.ComputerName = vm3.ID+"-3", "aks-default-ok", "aks-default-ok"
	vm3.ImageID, vm3.CustomData = testUbuntuImage, customData(t, aksComplete(bootstrapConfig(), testUbuntuImage))
	src.set(vm3, true)
	poll.Until(t, 10*time.Second, "a complete node joining", func() bool {
		n, err := client.CoreV1().Nodes().Get(ctx, vm3.ComputerName, metav1.GetOptions{})
		return err == nil && n.Spec.ProviderID != "" && src.report(vm3.ID) == NodeReport{Node: vm3.ComputerName}
	})
}

// renderNodeConfig is the custom data of an AKSNodeConfig a test changed.
func renderNodeConfig(t *testing.T, cfg *aksnodeconfig.Configuration) string {
	t.Helper()
	data, err := bootstrap.LinuxCustomData(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
