package network

import (
	"fmt"
	"strings"

	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
)

// Setup is what a network setup means for a node's NIC, as AKS builds a
// node pool of it. One row per setup; docs/install.md shows the same table
// ("Network setups") and a test holds the two equal.
type Setup struct {
	Setup cluster.NetworkSetup
	// Name is how AKS's documentation calls the setup.
	Name string
	// Plugin, PluginMode and Dataplane are the cluster's networkProfile
	// values (and the controller's --network-plugin, --network-plugin-mode
	// and --network-dataplane) of the setup.
	Plugin, PluginMode, Dataplane string
	// PodIPConfigurations: the NIC has one secondary IP configuration per
	// pod (max pods), each holding an address of the node subnet that the
	// CNI hands to a pod. Azure CNI with pods in the node subnet, legacy or
	// with the Cilium dataplane: "(number of nodes) + (number of nodes × max
	// pods)" addresses ("Configure Azure CNI networking in AKS",
	// learn.microsoft.com/azure/aks/configure-azure-cni; a max-pods-100 node
	// asks for 101: Azure/AKS#2119). NAP creates one fewer (its
	// newNetworkInterfaceForVM); AKS's count is the one followed here.
	PodIPConfigurations bool
	// IPForwarding: the NIC forwards packets not addressed to it. kubenet
	// nodes route their pods' traffic through the cluster's route table
	// ("UDRs and IP forwarding is used for connectivity between pods across
	// nodes", learn.microsoft.com/azure/aks/configure-kubenet). Other
	// setups leave it off, as NAP does (Azure/karpenter-provider-azure#439:
	// policies that forbid it block nodes that ask for it needlessly).
	IPForwarding bool
	// RouteTable: the node subnet must be associated with a route table
	// (kubenet's pod routes live there).
	RouteTable bool
	// DefaultMaxPods is AKS's max pods for the setup when none is set.
	DefaultMaxPods int32
}

// Setups are the network setups azkarpenter builds, in cluster.NetworkSetups'
// order. Every setup joins the cluster's load balancer backend pools and,
// in a VNet that is not AKS's, the cluster's NSG (provider.go).
var Setups = []Setup{
	{Setup: cluster.NetworkSetupAzureCNIOverlay, Name: "Azure CNI Overlay", Plugin: "azure", PluginMode: "overlay", Dataplane: "azure", DefaultMaxPods: 250},
	{Setup: cluster.NetworkSetupAzureCNINodeSubnet, Name: "Azure CNI node subnet", Plugin: "azure", PluginMode: "", Dataplane: "azure", PodIPConfigurations: true, DefaultMaxPods: 30},
	{Setup: cluster.NetworkSetupAzureCNICilium, Name: "Azure CNI Powered by Cilium (overlay)", Plugin: "azure", PluginMode: "overlay", Dataplane: "cilium", DefaultMaxPods: 250},
	{Setup: cluster.NetworkSetupAzureCNICiliumNodeSubnet, Name: "Azure CNI Powered by Cilium (node subnet)", Plugin: "azure", PluginMode: "", Dataplane: "cilium", PodIPConfigurations: true, DefaultMaxPods: 30},
	{Setup: cluster.NetworkSetupKubenet, Name: "kubenet", Plugin: "kubenet", PluginMode: "", Dataplane: "azure", IPForwarding: true, RouteTable: true, DefaultMaxPods: 110},
	{Setup: cluster.NetworkSetupBYOCNI, Name: "bring your own CNI", Plugin: "none", PluginMode: "", Dataplane: "azure", DefaultMaxPods: 250},
}

// SetupOf is the table row of a setup; ok is false for one azkarpenter does
// not build.
func SetupOf(s cluster.NetworkSetup) (Setup, bool) {
	return lo.Find(Setups, func(r Setup) bool { return r.Setup == s })
}

// AddressesPerNode is how many node subnet addresses a node of the setup
// with maxPods takes: its primary IP configuration, and one per pod where
// pods get node subnet addresses.
func AddressesPerNode(s cluster.NetworkSetup, maxPods int32) int64 {
	if r, ok := SetupOf(s); ok && r.PodIPConfigurations {
		return 1 + int64(maxPods)
	}
	return 1
}

// DefaultMaxPods is AKS's default max pods of a setup (250 for one it does
// not build, which options validation refuses anyway).
func DefaultMaxPods(s cluster.NetworkSetup) int32 {
	if r, ok := SetupOf(s); ok {
		return r.DefaultMaxPods
	}
	return 250
}

// Flags are the controller flags that select the setup.
func (r Setup) Flags() string {
	return fmt.Sprintf("--network-plugin=%s --network-plugin-mode=%q --network-dataplane=%s", r.Plugin, r.PluginMode, r.Dataplane)
}

// SupportedSetups lists the setups with their flags, for messages.
func SupportedSetups() string {
	return strings.Join(lo.Map(Setups, func(r Setup, _ int) string { return r.Name + " (" + r.Flags() + ")" }), "; ")
}
