package launchtemplate

import (
	"maps"
	"strconv"
	"strings"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	kubeletapis "k8s.io/kubelet/pkg/apis"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/scheduling"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
)

// kubeletLabels are the labels the kubelet may set on its own Node: the
// kubelet refuses to start with other kubernetes.io and k8s.io labels, and
// NodeRestriction refuses node-restriction.kubernetes.io ones. Karpenter core
// puts the rest on the Node from the NodeClaim once the node registers.
func kubeletLabels(labels map[string]string) map[string]string {
	return lo.PickBy(labels, func(key, _ string) bool {
		domain := ""
		if i := strings.IndexByte(key, '/'); i >= 0 {
			domain = key[:i]
		}
		restricted := domain == "kubernetes.io" || domain == "k8s.io" || strings.HasSuffix(domain, ".kubernetes.io") || strings.HasSuffix(domain, ".k8s.io")
		return !restricted || kubeletapis.IsKubeletLabel(key)
	})
}

// labels are the node's labels, as kubelet --node-labels would register
// them: the NodeClaim's labels and single-valued requirements, the chosen
// size's and offering's single-valued requirements, and the labels AKS puts
// on its nodes.
func (p *DefaultProvider) labels(in Input, spec *LaunchSpec, inputs *cluster.Inputs, subnetName string) map[string]string {
	claim, s := in.NodeClaim, in.SKU
	labels := map[string]string{}
	maps.Copy(labels, claim.Labels)
	for _, r := range claim.Spec.Requirements {
		if r.Operator == corev1.NodeSelectorOpIn && len(r.Values) == 1 {
			labels[r.Key] = r.Values[0]
		}
	}
	for _, reqs := range []map[string]string{singleValued(in.InstanceType.Requirements), singleValued(in.Offering.Requirements)} {
		maps.Copy(labels, reqs)
	}
	labels[corev1.LabelInstanceTypeStable] = s.Name
	labels[corev1.LabelTopologyZone] = spec.Zone
	labels[karpv1.CapacityTypeLabelKey] = spec.CapacityType
	// The internal generation label only matches images to sizes.
	delete(labels, v1beta1.LabelSKUHyperVGeneration)
	// kubelet sets the hostname label itself, from the computer name.
	delete(labels, corev1.LabelHostname)
	// No kubernetes.azure.com/agentpool: AKS's own agent pools carry it, and
	// a NodePool named like one of them would have AKS operations (and
	// tools that select by it) touch these nodes. NAP leaves it unset too.
	delete(labels, v1beta1.AKSLabelAgentPool)
	// Core must not copy the NodeClaim's taints onto the Node: the node
	// registers them itself (--register-with-taints), and a copy made after a
	// daemon removed a startup taint would put it back (kubernetes-sigs/karpenter#1772).
	labels[karpv1.NodeDoNotSyncTaintsLabelKey] = "true"
	// The kubelet requests its serving certificate from the cluster
	// (--rotate-server-certificates); AKS approves those of nodes with this
	// label, and the image adds it itself when rotation is on.
	labels[bootstrap.LabelKubeletServingCA] = bootstrap.KubeletServingCA
	maps.Copy(labels, p.aksLabels(in, spec, inputs))
	maps.Copy(labels, networkLabels(inputs, subnetName))
	if fips := in.NodeClass.Spec.FIPSMode; fips != nil && *fips == v1beta1.FIPSModeFIPS {
		labels[v1beta1.AKSLabelFIPSEnabled] = "true"
	} else {
		delete(labels, v1beta1.AKSLabelFIPSEnabled)
	}
	return labels
}

// aksLabels are the kubernetes.azure.com labels AKS puts on every node:
// its mode, priority, storage, OS, size, cluster, image and identity.
func (p *DefaultProvider) aksLabels(in Input, spec *LaunchSpec, inputs *cluster.Inputs) map[string]string {
	nc, claim, s := in.NodeClass, in.NodeClaim, in.SKU
	// The mode is a well-known label, so core keeps it out of the
	// NodeClaim's labels when a pod, not the NodePool, asks for it: read
	// the requirement too, or a pod selecting mode=system gets a node
	// labelled user, never schedules, and core launches for it again.
	mode := v1beta1.ModeUser
	if claim.Labels[v1beta1.AKSLabelMode] == v1beta1.ModeSystem ||
		scheduling.NewNodeSelectorRequirementsWithMinValues(claim.Spec.Requirements...).Get(v1beta1.AKSLabelMode).Has(v1beta1.ModeSystem) &&
			!scheduling.NewNodeSelectorRequirementsWithMinValues(claim.Spec.Requirements...).Get(v1beta1.AKSLabelMode).Has(v1beta1.ModeUser) {
		mode = v1beta1.ModeSystem
	}
	priority := v1beta1.ScaleSetPriorityRegular
	if spec.CapacityType == karpv1.CapacityTypeSpot {
		priority = v1beta1.ScaleSetPrioritySpot
	}
	storage := "managed"
	if spec.OSDisk.Ephemeral() {
		storage = "ephemeral"
	}
	labels := map[string]string{
		v1beta1.AKSLabelMode:             mode,
		v1beta1.AKSLabelScaleSetPriority: priority,
		v1beta1.AKSLabelPriority:         priority,
		v1beta1.AKSLabelStorageProfile:   storage,
		// AKS names the storage tier the size's disks get: premium where the
		// size supports premium storage.
		v1beta1.AKSLabelStorageTier:      lo.Ternary(s.Bool(sku.CapPremiumIO), "Premium_LRS", "Standard_LRS"),
		v1beta1.AKSLabelOSSKU:            v1beta1.OSSKU(nc.GetImageFamily()),
		v1beta1.AKSLabelInstanceSKU:      s.Name,
		v1beta1.AKSLabelCluster:          v1beta1.ClusterLabelValue(p.opts.ResourceGroup),
		v1beta1.AKSLabelNodeImageVersion: spec.Image.NodeImageVersion,
		v1beta1.AKSLabelRole:             "agent",
		v1beta1.AKSLabelOSSKURequested:   nc.GetImageFamily(),
		v1beta1.AKSLabelOSSKUEffective:   effectiveOSSKU(spec.Image.Definition, nc.GetImageFamily()),
		v1beta1.AKSLabelLocalDNSState:    strings.ToLower(string(lo.Ternary(nc.IsLocalDNSEnabled(), v1beta1.LocalDNSStateEnabled, v1beta1.LocalDNSStateDisabled))),
	}
	if inputs.KubeletIdentityClientID != "" {
		labels[v1beta1.AKSLabelKubeletIdentityClientID] = inputs.KubeletIdentityClientID
	}
	if nc.ArtifactStreamingEnabled(s.Architecture()) {
		labels[v1beta1.AKSLabelArtifactStreaming] = "true"
	}
	return labels
}

// networkLabels are the labels AKS's network agents select nodes by:
// Cilium's agent DaemonSet runs on nodes labelled ebpf-dataplane=cilium,
// Azure CNI overlay's on the overlay labels.
func networkLabels(inputs *cluster.Inputs, subnetName string) map[string]string {
	labels := map[string]string{}
	if inputs.NetworkDataplane == "cilium" {
		labels[v1beta1.AKSLabelEBPFDataplane] = "cilium"
	}
	if inputs.NetworkPlugin == "azure" && inputs.NetworkPluginMode == "overlay" {
		labels[v1beta1.AKSLabelAzureCNIOverlay] = "true"
		labels[v1beta1.AKSLabelPodNetworkType] = "overlay"
		labels[v1beta1.AKSLabelNetworkSubnet] = subnetName
		labels[v1beta1.AKSLabelNetworkStatelessCNI] = strconv.FormatBool(imagefamily.KubernetesMinor(inputs.KubernetesVersion) >= 34)
		if inputs.VNetGUID != "" {
			labels[v1beta1.AKSLabelNodeNetworkVNetGUID] = inputs.VNetGUID
		}
	}
	return labels
}

// effectiveOSSKU is the OS release a node runs, as AKS's os-sku-effective
// label names it, from the image definition.
func effectiveOSSKU(definition, imageFamily string) string {
	switch {
	case strings.HasPrefix(definition, "2204"):
		return "Ubuntu2204"
	case strings.HasPrefix(definition, "2404"):
		return "Ubuntu2404"
	case strings.HasPrefix(definition, "V3"):
		return "AzureLinux3"
	case strings.HasPrefix(definition, "V2"):
		return "AzureLinux2"
	case strings.HasPrefix(definition, "windows-2022"):
		return "Windows2022"
	case strings.HasPrefix(definition, "windows-2025"):
		return "Windows2025"
	}
	return imageFamily
}

// singleValued are the requirements with exactly one allowed value.
func singleValued(reqs scheduling.Requirements) map[string]string {
	out := map[string]string{}
	for key, r := range reqs {
		if r.Operator() == corev1.NodeSelectorOpIn && r.Len() == 1 {
			out[key] = r.Values()[0]
		}
	}
	return out
}
