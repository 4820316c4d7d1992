package cluster

// NetworkSetup names one of the network setups an AKS cluster is built
// with. It is the one key both sides of a node's networking are decided by:
// what the provider puts on the node's NIC in Azure (IP configurations, IP
// forwarding, load-balancer pools, NSG) and what the node's bootstrap data
// tells the node image to install (CNI plugins, route table). Tables keyed
// by it drive the code and its tests, so the two sides cannot disagree.
type NetworkSetup string

// The network setups the product accepts (docs/install.md, "Network setups").
const (
	// NetworkSetupAzureCNIOverlay is Azure CNI in overlay mode: pods get
	// addresses from a private pod CIDR, the node's NIC one address.
	NetworkSetupAzureCNIOverlay NetworkSetup = "AzureCNIOverlay"
	// NetworkSetupAzureCNINodeSubnet is Azure CNI with pod addresses from
	// the node's subnet: one secondary IP configuration per pod slot.
	NetworkSetupAzureCNINodeSubnet NetworkSetup = "AzureCNINodeSubnet"
	// NetworkSetupAzureCNICilium is Azure CNI powered by Cilium (the
	// cilium dataplane), in overlay mode.
	NetworkSetupAzureCNICilium NetworkSetup = "AzureCNICilium"
	// NetworkSetupAzureCNICiliumNodeSubnet is Azure CNI powered by Cilium
	// with pod addresses from the node's subnet.
	NetworkSetupAzureCNICiliumNodeSubnet NetworkSetup = "AzureCNICiliumNodeSubnet"
	// NetworkSetupKubenet is kubenet: pods on a node-local bridge, routed
	// through the cluster's route table; the NIC forwards IP.
	NetworkSetupKubenet NetworkSetup = "Kubenet"
	// NetworkSetupBYOCNI is network plugin "none": the user installs a CNI.
	NetworkSetupBYOCNI NetworkSetup = "BYOCNI"
)

// NetworkSetups lists every setup, in the order docs and tests show them.
var NetworkSetups = []NetworkSetup{
	NetworkSetupAzureCNIOverlay, NetworkSetupAzureCNINodeSubnet, NetworkSetupAzureCNICilium,
	NetworkSetupAzureCNICiliumNodeSubnet, NetworkSetupKubenet, NetworkSetupBYOCNI,
}

// NetworkSetupOf classifies a cluster's network plugin, plugin mode and
// dataplane as AKS's API takes them (networkProfile.networkPlugin,
// networkPluginMode, networkDataplane). ok is false for a combination AKS
// does not build.
func NetworkSetupOf(plugin, mode, dataplane string) (setup NetworkSetup, ok bool) {
	cilium := dataplane == "cilium"
	switch {
	case plugin == "azure" && mode == "overlay" && cilium:
		return NetworkSetupAzureCNICilium, true
	case plugin == "azure" && mode == "overlay":
		return NetworkSetupAzureCNIOverlay, true
	case plugin == "azure" && mode == "" && cilium:
		return NetworkSetupAzureCNICiliumNodeSubnet, true
	case plugin == "azure" && mode == "":
		return NetworkSetupAzureCNINodeSubnet, true
	case plugin == "kubenet" && mode == "" && !cilium:
		return NetworkSetupKubenet, true
	case plugin == "none" && mode == "":
		return NetworkSetupBYOCNI, true
	}
	return "", false
}

// NetworkSetup is the inputs' network setup ("" when AKS builds no such
// combination; options validation refuses those at start-up).
func (i *Inputs) NetworkSetup() NetworkSetup {
	s, _ := NetworkSetupOf(i.NetworkPlugin, i.NetworkPluginMode, i.NetworkDataplane)
	return s
}
