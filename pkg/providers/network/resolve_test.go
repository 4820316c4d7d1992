package network_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/network"
)

func aksNode(name string, labels map[string]string) *corev1.Node {
	l := map[string]string{"kubernetes.azure.com/agentpool": "nodepool1"}
	for k, v := range labels {
		l[k] = v
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}}
}

func daemonSet(name string) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: name}}
}

var (
	overlayLabels = map[string]string{"kubernetes.azure.com/azure-cni-overlay": "true", "kubernetes.azure.com/podnetwork-type": "overlay"}
	ciliumLabels  = map[string]string{"kubernetes.azure.com/azure-cni-overlay": "true", "kubernetes.azure.com/podnetwork-type": "overlay", "kubernetes.azure.com/ebpf-dataplane": "cilium"}
)

func reader(objs ...client.Object) client.Reader {
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
}

// The setup is the declared one when the cluster agrees, the one the
// cluster shows when none is declared, and an error naming what is
// unsupported, contradictory or unknown otherwise.
func TestResolve(t *testing.T) {
	for _, c := range []struct {
		name     string
		declared network.Declared
		objs     []client.Object
		want     cluster.NetworkSetup
		wantErr  error
		wording  string
	}{
		{name: "declared, nothing to check it against (a local cluster)", declared: network.Declared{Plugin: "kubenet"}, want: cluster.NetworkSetupKubenet},
		{name: "declared node subnet", declared: network.Declared{Plugin: "azure"}, objs: []client.Object{daemonSet("azure-cns"), aksNode("n1", nil)}, want: cluster.NetworkSetupAzureCNINodeSubnet},
		{name: "declared Cilium node subnet", declared: network.Declared{Plugin: "azure", Dataplane: "cilium"}, objs: []client.Object{daemonSet("azure-cns"), daemonSet("cilium")}, want: cluster.NetworkSetupAzureCNICiliumNodeSubnet},
		{name: "declared BYO CNI with the user's Cilium", declared: network.Declared{Plugin: "none"}, objs: []client.Object{daemonSet("cilium")}, want: cluster.NetworkSetupBYOCNI},
		{name: "discovered overlay", objs: []client.Object{daemonSet("azure-cns"), aksNode("n1", overlayLabels)}, want: cluster.NetworkSetupAzureCNIOverlay},
		{name: "discovered Cilium", objs: []client.Object{daemonSet("azure-cns"), daemonSet("cilium"), aksNode("n1", ciliumLabels)}, want: cluster.NetworkSetupAzureCNICilium},
		{name: "discovered Cilium from its DaemonSets", objs: []client.Object{daemonSet("azure-cns"), daemonSet("cilium"), aksNode("n1", map[string]string{"kubernetes.azure.com/azure-cni-overlay": "true"})}, want: cluster.NetworkSetupAzureCNICilium},
		{name: "our own nodes prove nothing", objs: []client.Object{aksNode("k1", map[string]string{"karpenter.sh/nodepool": "default", "kubernetes.azure.com/azure-cni-overlay": "true"})},
			wantErr: network.ErrUndecided, wording: "no AKS node label and no CNI DaemonSet"},
		{name: "nothing declared or shown", wantErr: network.ErrUndecided, wording: "set --network-plugin"},
		{name: "CNS without a mode", objs: []client.Object{daemonSet("azure-cns")}, wantErr: network.ErrUndecided, wording: "overlay or node subnet"},
		{name: "mode without plugin", declared: network.Declared{PluginMode: "overlay"}, wantErr: network.ErrUndecided, wording: "go with --network-plugin"},
		{name: "pod subnet", declared: network.Declared{Plugin: "azure"}, objs: []client.Object{aksNode("n1", map[string]string{"kubernetes.azure.com/podnetwork-type": "vnet"})},
			wantErr: network.ErrUnsupported, wording: "pod subnet"},
		{name: "kubenet in overlay mode", declared: network.Declared{Plugin: "kubenet", PluginMode: "overlay"}, wantErr: network.ErrUnsupported, wording: "Azure CNI Overlay (--network-plugin=azure"},
		{name: "kubenet with the Cilium dataplane", declared: network.Declared{Plugin: "kubenet", Dataplane: "cilium"}, wantErr: network.ErrUnsupported, wording: "not a setup azkarpenter builds"},
		{name: "kubenet on a CNS cluster", declared: network.Declared{Plugin: "kubenet"}, objs: []client.Object{daemonSet("azure-cns")}, wantErr: network.ErrContradiction, wording: "uses Azure CNI, not --network-plugin=kubenet"},
		{name: "node subnet on an overlay cluster", declared: network.Declared{Plugin: "azure"}, objs: []client.Object{aksNode("n1", overlayLabels)}, wantErr: network.ErrContradiction, wording: "Azure CNI Overlay, not --network-plugin-mode=\"\""},
		{name: "azure dataplane on a Cilium cluster", declared: network.Declared{Plugin: "azure", PluginMode: "overlay", Dataplane: "azure"}, objs: []client.Object{aksNode("n1", ciliumLabels)}, wantErr: network.ErrContradiction, wording: "dataplane is Cilium"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := network.Resolve(context.Background(), reader(c.objs...), c.declared)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) || !strings.Contains(err.Error(), c.wording) {
					t.Fatalf("got %v, want %v containing %q", err, c.wantErr, c.wording)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Setup != c.want {
				t.Fatalf("setup %s, want %s", got.Setup, c.want)
			}
			if s, ok := cluster.NetworkSetupOf(got.Plugin, got.PluginMode, got.Dataplane); !ok || s != c.want {
				t.Fatalf("resolved options %s/%q/%s do not classify as %s", got.Plugin, got.PluginMode, got.Dataplane, c.want)
			}
		})
	}
}
