package options

import (
	"fmt"

	coreoptions "sigs.k8s.io/karpenter/pkg/operator/options"
	"sigs.k8s.io/karpenter/pkg/utils/env"
)

// BurstSettings turn on burst-then-settle (docs/virtual-nodes.md): opted-in
// pods run on the virtual node while VMs launch for them, then move.
type BurstSettings struct {
	// BurstToVirtualNode turns the burst controller on; off by default.
	BurstToVirtualNode bool
	// VirtualNodeName is the virtual kubelet's Node pods burst to.
	VirtualNodeName string
	// BurstPlaceholderImage is the pause image of the placeholders that
	// hold VM capacity for burst pods.
	BurstPlaceholderImage string
}

func (o *Options) addBurstFlags(fs *coreoptions.FlagSet) {
	fs.BoolVarWithEnv(&o.BurstToVirtualNode, "burst-to-virtual-node", "BURST_TO_VIRTUAL_NODE", false,
		"Run pods annotated karpenter.azure.com/burst=aci on the virtual node (Azure Container Instances) while VMs launch for them, then move them onto the VMs within their PodDisruptionBudgets. Needs the virtual node component. (BURST_TO_VIRTUAL_NODE)")
	fs.StringVar(&o.VirtualNodeName, "virtual-node-name", env.WithDefaultString("VIRTUAL_NODE_NAME", "virtual-node-aci-linux"),
		"Name of the virtual node pods burst to (AKS's virtual-nodes add-on names it virtual-node-aci-linux). (VIRTUAL_NODE_NAME)")
	fs.StringVar(&o.BurstPlaceholderImage, "burst-placeholder-image", env.WithDefaultString("BURST_PLACEHOLDER_IMAGE", "registry.k8s.io/pause:3.10"),
		"Image of the placeholder pods that hold VM capacity for burst pods: a pause image the nodes can pull. (BURST_PLACEHOLDER_IMAGE)")
}

func (o *Options) validateBurst() []error {
	if !o.BurstToVirtualNode {
		return nil
	}
	var errs []error
	if o.VirtualNodeName == "" {
		errs = append(errs, fmt.Errorf("--virtual-node-name (VIRTUAL_NODE_NAME) is empty; --burst-to-virtual-node needs the virtual node's name"))
	}
	if o.BurstPlaceholderImage == "" {
		errs = append(errs, fmt.Errorf("--burst-placeholder-image (BURST_PLACEHOLDER_IMAGE) is empty; --burst-to-virtual-node needs a pause image"))
	}
	return errs
}
