// Package launchtemplate builds what a VM is launched with for a NodeClaim:
// the node image, the OS disk, the computer name and the bootstrap custom
// data (docs/bootstrap.md) with the node's labels, taints and kubelet
// settings. It makes no API calls.
package launchtemplate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/nodeimage"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
	subnetpkg "github.com/azkarpenter/azkarpenter/pkg/providers/subnet"
)

// Options are the cluster-wide settings of launch specs.
type Options struct {
	ClusterName    string
	SubscriptionID string
	// ResourceGroup is the node resource group.
	ResourceGroup string
	Location      string
	// SubnetID is the node subnet of NodeClasses that name none.
	SubnetID string
	// DefaultMaxPods applies when the AKSNodeClass does not set maxPods.
	DefaultMaxPods int32
	// AdminUsername is Linux VMs' administrator, which the node's
	// configuration names too (linux_admin_username).
	AdminUsername string
}

// Input is what one launch is for.
type Input struct {
	NodeClass *v1beta1.AKSNodeClass
	NodeClaim *karpv1.NodeClaim
	// InstanceType and Offering are the chosen size and offering (its
	// requirements give zone and capacity type).
	InstanceType *cloudprovider.InstanceType
	Offering     *cloudprovider.Offering
	// SKU is the chosen size's catalog entry.
	SKU *sku.SKU
	// VMName is the VM's name; the computer name derives from it.
	VMName string
}

// LaunchSpec is everything the VM is created with besides networking.
type LaunchSpec struct {
	// ComputerName is osProfile.computerName and, lower-cased, the node name.
	ComputerName string
	Image        imagefamily.Image
	OSDisk       sku.OSDisk
	// Zone is the topology.kubernetes.io/zone value (<region>-<n> or "0");
	// AzureZone is the ARM zone ("1", "2", "3", or "" when not zonal).
	Zone         string
	AzureZone    string
	CapacityType string
	// AcceleratedNetworking is whether the NIC gets it (the size supports it).
	AcceleratedNetworking bool
	// SubnetID is the subnet of the VM's NIC.
	SubnetID string
	// UltraSSD is whether the VM can attach Ultra Disks
	// (additionalCapabilities.ultraSSDEnabled; see UltraSSDRequested).
	UltraSSD bool
	// Labels are the node's labels: those the kubelet registers (in the
	// bootstrap data) and those karpenter core adds from the NodeClaim.
	Labels map[string]string
	// KubernetesVersion is the version the node is bootstrapped with (v1.35.4).
	KubernetesVersion string
	// Bootstrap is what the node is told; Artifact is how it is told it.
	Bootstrap *bootstrap.Config
	Artifact  *bootstrap.Artifact
}

// Provider builds launch specs.
type Provider interface {
	Build(ctx context.Context, in Input) (*LaunchSpec, error)
}

// DefaultProvider builds launch specs from the NodeClass, the cluster's
// inputs and the options.
type DefaultProvider struct {
	opts    Options
	images  imagefamily.Provider
	cluster cluster.Provider
}

// NewDefaultProvider returns a provider.
func NewDefaultProvider(opts Options, images imagefamily.Provider, clusterInputs cluster.Provider) *DefaultProvider {
	return &DefaultProvider{opts: opts, images: images, cluster: clusterInputs}
}

// Build implements Provider. An error wrapping a cluster.InputError means
// the cluster's inputs (token, endpoint, CA, DNS) are missing or wrong.
//
// A spec is built in steps: the VM's own fields (image, OS disk, zone,
// subnet), the node's labels, the bootstrap configuration (bootstrapconfig.go),
// and the custom data rendered from it, which is checked against the node
// image's contract before any VM is created with it.
func (p *DefaultProvider) Build(ctx context.Context, in Input) (*LaunchSpec, error) {
	nc := in.NodeClass
	if nc == nil || in.NodeClaim == nil || in.InstanceType == nil || in.Offering == nil || in.SKU == nil || in.VMName == "" {
		return nil, fmt.Errorf("launch spec: incomplete input")
	}
	inputs, err := p.cluster.Inputs(ctx)
	if err != nil {
		return nil, err
	}
	spec, err := p.vmSpec(ctx, in, inputs)
	if err != nil {
		return nil, err
	}
	subnet, err := subnetpkg.ParseID(spec.SubnetID)
	if err != nil {
		return nil, err
	}
	spec.Labels = p.labels(in, spec, inputs, subnet.Subnet)
	nodeImage, ok := nodeimage.Classify(spec.Image.Definition)
	if !ok {
		return nil, fmt.Errorf("launch spec: node image definition %s is not one of AKS's", spec.Image.Definition)
	}
	if spec.Bootstrap, err = p.bootstrapConfig(in, spec, inputs, subnet, nodeImage); err != nil {
		return nil, err
	}
	if spec.Artifact, err = bootstrap.Render(spec.Bootstrap); err != nil {
		return nil, err
	}
	if !nc.IsWindows() {
		if err := checkContract(spec, nodeImage, inputs, nc); err != nil {
			return nil, err
		}
	}
	return spec, nil
}

// vmSpec is the part of the spec the VM itself is created with: the OS
// disk the size allows, the image for its architecture and generation,
// the zone and capacity type of the offering, and the subnet.
func (p *DefaultProvider) vmSpec(ctx context.Context, in Input, inputs *cluster.Inputs) (*LaunchSpec, error) {
	nc, s := in.NodeClass, in.SKU
	osDisk, reason := sku.ChooseOSDisk(s, nc)
	if reason != "" {
		return nil, fmt.Errorf("launch spec for %s: %s", s.Name, reason)
	}
	gen := in.InstanceType.Requirements.Get(v1beta1.LabelSKUHyperVGeneration).Any()
	if gen == "" {
		gen = imagefamily.HyperVGeneration(nc, s.Architecture(), s.HyperVGenerations())
	}
	img, err := p.images.Resolve(ctx, nc, s.Architecture(), gen)
	if err != nil {
		return nil, err
	}
	zone := in.Offering.Requirements.Get(corev1.LabelTopologyZone).Any()
	spec := &LaunchSpec{
		ComputerName:          ComputerName(in.VMName, nc.IsWindows()),
		Image:                 img,
		OSDisk:                osDisk,
		Zone:                  zone,
		AzureZone:             AzureZone(zone),
		CapacityType:          in.Offering.Requirements.Get(karpv1.CapacityTypeLabelKey).Any(),
		AcceleratedNetworking: s.Bool(sku.CapAcceleratedNetworking),
		SubnetID:              lo.FromPtrOr(nc.Spec.VNETSubnetID, p.opts.SubnetID),
		KubernetesVersion:     inputs.KubernetesVersion,
		UltraSSD:              UltraSSDRequested(in.NodeClaim),
	}
	if spec.SubnetID == "" {
		return nil, errors.New("no subnet: set the AKSNodeClass's vnetSubnetID or the controller's default subnet")
	}
	return spec, nil
}

// AzureZone is the ARM zone of a topology.kubernetes.io/zone value
// ("eastus-2" → "2"; "0" or "" → "", not zonal).
func AzureZone(zoneLabel string) string {
	if zoneLabel == "" || zoneLabel == "0" {
		return ""
	}
	if i := strings.LastIndexByte(zoneLabel, '-'); i >= 0 {
		return zoneLabel[i+1:]
	}
	return zoneLabel
}

// Limits on computer names: Windows (NetBIOS) names have at most 15
// characters, Linux host names at most 64.
const (
	MaxWindowsComputerName = 15
	MaxLinuxComputerName   = 64
)

// ComputerName derives osProfile.computerName from the VM name: the VM name
// itself on Linux (up to 64 characters, shortened with a hash suffix beyond),
// and a stable 15-character "aks" + hash name on Windows.
func ComputerName(vmName string, windows bool) string {
	sum := sha256.Sum256([]byte(vmName))
	h := hex.EncodeToString(sum[:])
	if windows {
		return "aks" + h[:MaxWindowsComputerName-3]
	}
	name := strings.ToLower(vmName)
	if len(name) <= MaxLinuxComputerName {
		return name
	}
	return strings.TrimRight(name[:MaxLinuxComputerName-9], "-.") + "-" + h[:8]
}
