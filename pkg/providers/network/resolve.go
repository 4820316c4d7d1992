package network

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/samber/lo"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
)

// Declared is the network setup the controller's options declare: the
// cluster's networkProfile as `az aks show` reports it. An empty Plugin
// declares nothing: the setup is read from the cluster. With a Plugin, an
// empty PluginMode is AKS's "node subnet" and an empty Dataplane "azure",
// as in AKS's API.
type Declared struct {
	Plugin, PluginMode, Dataplane string
}

// Resolved is the cluster's network setup as the controller runs it.
type Resolved struct {
	Setup                         cluster.NetworkSetup
	Plugin, PluginMode, Dataplane string
	// Evidence is what the cluster showed of its setup, for the log.
	Evidence []string
	// Discovered is true when no option declared the setup.
	Discovered bool
}

// Labels and DaemonSets AKS's networking puts in a cluster. AKS labels
// the nodes of each setup (AgentBaker writes them; NAP's nodes carry the
// same: its suite checks azure-cni-overlay, podnetwork-type and
// ebpf-dataplane), and runs Azure CNI's container networking service
// (azure-cns) and, for the Cilium dataplane, Cilium's agent as DaemonSets
// in kube-system.
const (
	labelAzureCNIOverlay = "kubernetes.azure.com/azure-cni-overlay"
	labelPodNetworkType  = "kubernetes.azure.com/podnetwork-type"
	labelEBPFDataplane   = "kubernetes.azure.com/ebpf-dataplane"
	labelAgentPool       = "kubernetes.azure.com/agentpool"
	labelNodePool        = "karpenter.sh/nodepool"
	daemonSetCNS         = "azure-cns"
	daemonSetCilium      = "cilium"
)

// evidenceNodes bounds how many AKS nodes are read: one node pool's nodes
// say what all say, the labels being set per cluster.
const evidenceNodes = 20

// ErrUnsupported is wrapped by Resolve's error for a setup azkarpenter does
// not build; ErrContradiction for options the cluster contradicts;
// ErrUndecided when nothing declares or shows the setup.
var (
	ErrUnsupported   = errors.New("unsupported network setup")
	ErrContradiction = errors.New("network options contradict the cluster")
	ErrUndecided     = errors.New("network setup unknown")
)

// Resolve decides the cluster's network setup at start-up: the declared
// one, checked against what the cluster shows, or, when none is declared,
// the one the cluster shows. Only positive evidence counts (a label or a
// DaemonSet that is there): a cluster without AKS nodes or add-ons, such as
// a local one, contradicts nothing. The error names what is missing,
// contradictory or unsupported, and the supported setups.
func Resolve(ctx context.Context, reader client.Reader, d Declared) (*Resolved, error) {
	ev, err := gatherEvidence(ctx, reader)
	if err != nil {
		return nil, err
	}
	out := &Resolved{Evidence: ev.describe()}
	if ev.podSubnet != "" {
		return nil, fmt.Errorf("%w: the cluster's AKS nodes (%s) give pods addresses of a pod subnet (%s=%s: Azure CNI with a pod subnet), which azkarpenter does not build; supported: %s",
			ErrUnsupported, ev.podSubnetNode, labelPodNetworkType, ev.podSubnet, SupportedSetups())
	}
	if d.Plugin == "" {
		if d.PluginMode != "" || (d.Dataplane != "" && d.Dataplane != "azure") {
			return nil, fmt.Errorf("%w: --network-plugin-mode and --network-dataplane go with --network-plugin; set all three as `az aks show --query networkProfile` reports them, or none to read them from the cluster", ErrUndecided)
		}
		switch {
		case ev.overlay:
			d = Declared{Plugin: "azure", PluginMode: "overlay", Dataplane: lo.Ternary(ev.cilium, "cilium", "azure")}
		case ev.cns:
			return nil, fmt.Errorf("%w: the cluster runs Azure CNI (DaemonSet kube-system/%s) but no AKS node says whether in overlay or node subnet mode; set --network-plugin=azure and --network-plugin-mode (overlay, or \"\" for node subnet) as `az aks show --query networkProfile` reports them", ErrUndecided, daemonSetCNS)
		default:
			return nil, fmt.Errorf("%w: no AKS node label and no CNI DaemonSet in kube-system tells the cluster's network setup; set --network-plugin, --network-plugin-mode and --network-dataplane as `az aks show --query networkProfile` reports them; supported: %s", ErrUndecided, SupportedSetups())
		}
		out.Discovered = true
	}
	if d.Dataplane == "" {
		d.Dataplane = "azure"
	}
	setup, ok := cluster.NetworkSetupOf(d.Plugin, d.PluginMode, d.Dataplane)
	if _, built := SetupOf(setup); !ok || !built {
		return nil, fmt.Errorf("%w: --network-plugin=%s --network-plugin-mode=%q --network-dataplane=%s is not a setup azkarpenter builds; supported: %s",
			ErrUnsupported, d.Plugin, d.PluginMode, d.Dataplane, SupportedSetups())
	}
	var contradictions []string
	if ev.cns && d.Plugin != "azure" {
		contradictions = append(contradictions, fmt.Sprintf("DaemonSet kube-system/%s runs, so the cluster uses Azure CNI, not --network-plugin=%s", daemonSetCNS, d.Plugin))
	}
	if ev.overlay && d.PluginMode != "overlay" {
		contradictions = append(contradictions, fmt.Sprintf("AKS node %s is labelled %s, so the cluster uses Azure CNI Overlay, not --network-plugin-mode=%q", ev.overlayNode, lo.Ternary(ev.overlayLabel != "", ev.overlayLabel, labelAzureCNIOverlay), d.PluginMode))
	}
	if ev.cilium && d.Dataplane != "cilium" {
		contradictions = append(contradictions, fmt.Sprintf("%s, so the cluster's dataplane is Cilium, not --network-dataplane=%s", ev.ciliumWhy, d.Dataplane))
	}
	if len(contradictions) > 0 {
		return nil, fmt.Errorf("%w: %s; correct the options, or leave --network-plugin, --network-plugin-mode and --network-dataplane empty to read the setup from the cluster", ErrContradiction, strings.Join(contradictions, "; "))
	}
	out.Setup, out.Plugin, out.PluginMode, out.Dataplane = setup, d.Plugin, d.PluginMode, d.Dataplane
	return out, nil
}

// evidence is what the cluster shows of its network setup.
type evidence struct {
	nodes                   int
	overlay                 bool
	overlayNode             string
	overlayLabel            string
	podSubnet               string
	podSubnetNode           string
	cilium                  bool
	ciliumWhy               string
	cns, ciliumDS           bool
	daemonSets, sampleNodes []string
}

func gatherEvidence(ctx context.Context, reader client.Reader) (*evidence, error) {
	ev := &evidence{}
	var dss appsv1.DaemonSetList
	if err := reader.List(ctx, &dss, client.InNamespace("kube-system")); err != nil {
		return nil, fmt.Errorf("reading the cluster's network setup: listing DaemonSets in kube-system: %w", err)
	}
	for _, ds := range dss.Items {
		switch ds.Name {
		case daemonSetCNS:
			ev.cns = true
		case daemonSetCilium:
			ev.ciliumDS = true
		default:
			continue
		}
		ev.daemonSets = append(ev.daemonSets, ds.Name)
	}
	// AKS's own nodes: in an agent pool, not made by a NodePool (those
	// carry what this controller wrote, which proves nothing).
	sel, err := labels.Parse(labelAgentPool + ",!" + labelNodePool)
	if err != nil {
		return nil, err
	}
	var nodes corev1.NodeList
	if err := reader.List(ctx, &nodes, client.MatchingLabelsSelector{Selector: sel}, client.Limit(evidenceNodes)); err != nil {
		return nil, fmt.Errorf("reading the cluster's network setup: listing AKS nodes: %w", err)
	}
	sort.Slice(nodes.Items, func(i, j int) bool { return nodes.Items[i].Name < nodes.Items[j].Name })
	ev.nodes = len(nodes.Items)
	for _, n := range nodes.Items {
		ev.sampleNodes = append(ev.sampleNodes, n.Name)
		l := n.Labels
		switch t := l[labelPodNetworkType]; {
		case t == "overlay" || l[labelAzureCNIOverlay] == "true":
			if !ev.overlay {
				ev.overlay, ev.overlayNode = true, n.Name
				ev.overlayLabel = lo.Ternary(t == "overlay", labelPodNetworkType+"=overlay", labelAzureCNIOverlay+"=true")
			}
		case t != "" && ev.podSubnet == "":
			ev.podSubnet, ev.podSubnetNode = t, n.Name
		}
		if l[labelEBPFDataplane] == "cilium" && !ev.cilium {
			ev.cilium, ev.ciliumWhy = true, fmt.Sprintf("AKS node %s is labelled %s=cilium", n.Name, labelEBPFDataplane)
		}
	}
	// Cilium's agent beside Azure CNI's CNS is AKS's Cilium dataplane; a
	// Cilium without CNS is a CNI of the user's (bring your own CNI).
	if !ev.cilium && ev.ciliumDS && ev.cns {
		ev.cilium, ev.ciliumWhy = true, fmt.Sprintf("DaemonSets kube-system/%s and kube-system/%s run", daemonSetCilium, daemonSetCNS)
	}
	return ev, nil
}

func (ev *evidence) describe() []string {
	out := []string{fmt.Sprintf("%d AKS nodes read", ev.nodes)}
	if len(ev.daemonSets) > 0 {
		out = append(out, "network DaemonSets: "+strings.Join(ev.daemonSets, ", "))
	}
	if ev.overlay {
		out = append(out, "overlay: "+ev.overlayNode+" "+ev.overlayLabel)
	}
	if ev.cilium {
		out = append(out, "cilium: "+ev.ciliumWhy)
	}
	return out
}
