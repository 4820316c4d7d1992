// Package imagefamily resolves the node image of an AKSNodeClass: the image
// family, CPU architecture, HyperV generation, confidential-VM and Trusted
// Launch settings pick an image definition in AKS's public community galleries
// (the layout is static, following AKS's naming), and the community gallery
// image versions API picks its version: the newest one published, unless
// the controller pins one. Versions are cached per definition and refreshed
// by a controller; a newer version changes the image ID of new nodes, and
// existing nodes drift to it.
package imagefamily

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/version"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
)

// AKS's community galleries (public, no sharing setup needed).
const (
	GalleryUbuntu     = "AKSUbuntu-38d80f77-467a-481f-a8d4-09b6d4220bd2"
	GalleryAzureLinux = "AKSAzureLinux-f7c7cda5-1c9a-4bdc-a222-9614c968580b"
	GalleryWindows    = "AKSWindows-cf00e6e0-d245-4a4e-8d8e-6ed6a3f7a8e8"
)

// Ubuntu2404MinKubernetesMinor is the first Kubernetes 1.x minor whose
// default Ubuntu release (imageFamily Ubuntu) is 24.04; older clusters get
// 22.04, as in AKS.
const Ubuntu2404MinKubernetesMinor = 35

// Image is a resolved node image.
type Image struct {
	// ID is the community gallery image version ID:
	// /CommunityGalleries/<gallery>/images/<definition>/versions/<version>.
	ID string
	// Gallery is the community gallery's public name.
	Gallery string
	// Definition is the gallery image definition, e.g. 2204gen2containerd.
	Definition string
	// Version is the image version.
	Version string
	// NodeImageVersion is the kubernetes.azure.com/node-image-version label
	// value, e.g. AKSUbuntu-2204gen2containerd-202611.10.0.
	NodeImageVersion string
	// Arch is amd64 or arm64; HyperVGeneration is "1" or "2".
	Arch             string
	HyperVGeneration string
}

// ImageID is the community gallery image version ID of a version.
func ImageID(gallery, definition, version string) string {
	return fmt.Sprintf("/CommunityGalleries/%s/images/%s/versions/%s", gallery, definition, version)
}

// Provider resolves node images.
type Provider interface {
	// Resolve returns the image of the NodeClass for a VM size's CPU
	// architecture (amd64, arm64) and HyperV generation ("1"/"2" or
	// "V1"/"V2"), or an error when no image exists for the combination or
	// its version is unknown. It answers from the cache; only a definition
	// never resolved before costs an Azure call.
	Resolve(ctx context.Context, nc *v1beta1.AKSNodeClass, arch, hyperVGeneration string) (Image, error)
	// List returns every image of the NodeClass with the requirements
	// (architecture, HyperV generation) of the VM sizes it runs on, for the
	// NodeClass status. Its error is an *ImageError (or several joined)
	// naming what is missing.
	List(ctx context.Context, nc *v1beta1.AKSNodeClass) ([]v1beta1.NodeImage, error)
}

// Resolve implements Provider.
func (p *DefaultProvider) Resolve(ctx context.Context, nc *v1beta1.AKSNodeClass, arch, hyperVGeneration string) (Image, error) {
	if err := unpublished(nc); err != nil {
		return Image{}, err
	}
	gen := strings.TrimPrefix(strings.ToUpper(hyperVGeneration), "V")
	for _, img := range p.layout(ctx, nc) {
		if img.Arch == arch && img.HyperVGeneration == gen {
			return p.withVersion(ctx, img)
		}
	}
	return Image{}, &ImageError{Reason: ReasonNoImage, msg: fmt.Sprintf("AKS publishes no %s node image for %s HyperV generation %s%s", nc.GetImageFamily(), arch, gen, variantSuffix(nc))}
}

// List implements Provider. Every image must resolve: a NodeClass whose
// images are only partly known is not Ready, since launches for the
// missing ones would fail.
func (p *DefaultProvider) List(ctx context.Context, nc *v1beta1.AKSNodeClass) ([]v1beta1.NodeImage, error) {
	if err := unpublished(nc); err != nil {
		return nil, err
	}
	layout := p.layout(ctx, nc)
	if len(layout) == 0 {
		return nil, &ImageError{Reason: ReasonNoImage, msg: fmt.Sprintf("AKS publishes no %s node image%s", nc.GetImageFamily(), variantSuffix(nc))}
	}
	out := make([]v1beta1.NodeImage, 0, len(layout))
	var errs []error
	for _, img := range layout {
		img, err := p.withVersion(ctx, img)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, v1beta1.NodeImage{
			ID: img.ID,
			Requirements: []corev1.NodeSelectorRequirement{
				{Key: corev1.LabelArchStable, Operator: corev1.NodeSelectorOpIn, Values: []string{img.Arch}},
				{Key: v1beta1.LabelSKUHyperVGeneration, Operator: corev1.NodeSelectorOpIn, Values: []string{img.HyperVGeneration}},
			},
		})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// unpublished says why AKS's public community galleries hold no image for
// the NodeClass at all, when they do not.
func unpublished(nc *v1beta1.AKSNodeClass) error {
	switch {
	case fips(nc):
		// AKS node auto-provisioning resolves FIPS images only from AKS's
		// own shared image galleries ("FIPS images aren't supported in
		// public galleries, only shared image galleries": every image
		// family's DefaultImages returns none for FIPS without useSIG, in
		// Azure/karpenter-provider-azure pkg/providers/imagefamily), and
		// those galleries are readable by AKS alone.
		return &ImageError{Reason: ReasonFIPSNotPublished, msg: fmt.Sprintf("fipsMode FIPS: AKS publishes its FIPS node images (%s) only in the shared image galleries AKS itself reads, not in the public community galleries a self-hosted controller reads; remove fipsMode, or run FIPS nodes in an AKS node pool (az aks nodepool add --enable-fips-image)", nc.GetImageFamily())}
	case nc.TrustedLaunch() && nc.IsWindows():
		// "Trusted launch for AKS", Limitations: "Cluster nodes running
		// Windows Server operating system aren't supported"; AKS publishes
		// Trusted Launch definitions for Ubuntu and Azure Linux only.
		return &ImageError{Reason: ReasonNoTrustedLaunchImage, msg: fmt.Sprintf("security.trustedLaunch: AKS publishes no Trusted Launch node image for %s (AKS does not support Trusted Launch on Windows Server nodes); remove security.trustedLaunch or use a Linux imageFamily", nc.GetImageFamily())}
	}
	return nil
}

func variantSuffix(nc *v1beta1.AKSNodeClass) string {
	var v []string
	if fips(nc) {
		v = append(v, "FIPS")
	}
	if kata(nc) {
		v = append(v, "Kata pod sandboxing")
	}
	if confidential(nc) {
		v = append(v, "confidential VM")
	}
	if nc.TrustedLaunch() {
		v = append(v, "Trusted Launch")
	}
	if len(v) == 0 {
		return ""
	}
	return " (" + strings.Join(v, ", ") + ")"
}

func fips(nc *v1beta1.AKSNodeClass) bool {
	return nc.Spec.FIPSMode != nil && *nc.Spec.FIPSMode == v1beta1.FIPSModeFIPS
}

// kata is pod sandboxing (workloadRuntime KataVmIsolation), which AKS runs
// on its Kata image definitions only.
func kata(nc *v1beta1.AKSNodeClass) bool {
	return nc.Spec.WorkloadRuntime != nil && *nc.Spec.WorkloadRuntime == v1beta1.WorkloadRuntimeKataVMIsolation
}

func confidential(nc *v1beta1.AKSNodeClass) bool {
	return nc.Spec.Security != nil && nc.Spec.Security.ConfidentialVM != nil && *nc.Spec.Security.ConfidentialVM
}

// layout is the NodeClass's images without their versions, Gen2 before
// Gen1 and amd64 before arm64.
func (p *DefaultProvider) layout(ctx context.Context, nc *v1beta1.AKSNodeClass) []Image {
	kubernetesVersion := ""
	if p.opts.KubernetesVersion != nil {
		kubernetesVersion, _ = p.opts.KubernetesVersion(ctx)
	}
	var out []Image
	for _, arch := range []string{"amd64", "arm64"} {
		for _, g := range []string{"V2", "V1"} {
			if !slices.Contains(Generations(nc, arch), g) {
				continue
			}
			gen := g[1:]
			gallery, def, ok := definition(nc, arch, gen, kubernetesVersion)
			if !ok {
				continue
			}
			out = append(out, Image{Gallery: gallery, Definition: def, Arch: arch, HyperVGeneration: gen})
		}
	}
	return out
}

// NodeImageVersion returns the kubernetes.azure.com/node-image-version
// value of a community gallery image version ID, or "" for other IDs.
func NodeImageVersion(imageID string) string {
	parts := strings.Split(strings.Trim(imageID, "/"), "/")
	if len(parts) != 6 || !strings.EqualFold(parts[0], "CommunityGalleries") || !strings.EqualFold(parts[2], "images") || !strings.EqualFold(parts[4], "versions") {
		return ""
	}
	return galleryPrefix(parts[1]) + "-" + parts[3] + "-" + parts[5]
}

func galleryPrefix(gallery string) string {
	prefix, _, _ := strings.Cut(gallery, "-")
	return prefix
}

// definition names the gallery image definition, following AKS's naming in
// its public community galleries: <release>[gen2][arm64][CVM|TL]containerd
// for Ubuntu, V<major>[gen2][arm64|TL] for Azure Linux,
// windows-<year>-containerd[-gen2] for Windows. ok is false when AKS
// publishes no such image. Trusted Launch VMs need a definition with the
// Trusted Launch feature, which AKS publishes separately, Gen2 x64 only
// (2204gen2TLcontainerd, 2404gen2TLcontainerd, V3gen2TL: the
// TrustedLaunchImageDefinitions of AKS node auto-provisioning's image
// families). FIPS images are not in the community galleries (unpublished).
func definition(nc *v1beta1.AKSNodeClass, arch, gen, kubernetesVersion string) (gallery, def string, ok bool) {
	isCVM, isTL := confidential(nc), nc.TrustedLaunch()
	if fips(nc) || (isTL && (arch != "amd64" || gen != "2" || isCVM)) {
		return "", "", false
	}
	switch family := nc.GetImageFamily(); family {
	case v1beta1.ImageFamilyWindows2022, v1beta1.ImageFamilyWindows2025:
		if arch != "amd64" || isCVM || isTL {
			return "", "", false
		}
		if family == v1beta1.ImageFamilyWindows2025 {
			if gen != "2" {
				return "", "", false
			}
			return GalleryWindows, "windows-2025-gen2", true
		}
		def = "windows-2022-containerd"
		if gen == "2" {
			def += "-gen2"
		}
		return GalleryWindows, def, true
	case v1beta1.ImageFamilyAzureLinux:
		if isCVM {
			return "", "", false
		}
		if kata(nc) {
			// Pod sandboxing boots AKS's Kata image, V3katagen2 (Azure/AgentBaker
			// pkg/agent/datamodel/sig_config.go SIGAzureLinuxV3KataImageConfigTemplate;
			// release notes AKSAzureLinuxV3/gen2kata): Gen2, x64, no FIPS or
			// Trusted Launch variant.
			if gen != "2" || arch != "amd64" || isTL {
				return "", "", false
			}
			return GalleryAzureLinux, "V3katagen2", true
		}
		if isTL {
			return GalleryAzureLinux, "V3gen2TL", true
		}
		def = "V3"
		if gen == "2" {
			def += "gen2"
		}
		if arch == "arm64" {
			def += "arm64"
		}
		return GalleryAzureLinux, def, true
	default:
		release := ubuntuRelease(family, kubernetesVersion)
		if isCVM && (arch == "arm64" || gen != "2") {
			return "", "", false
		}
		def = release
		if gen == "2" {
			def += "gen2"
		}
		if arch == "arm64" {
			def += "arm64"
		}
		switch {
		case isCVM:
			def += "CVM"
		case isTL:
			def += "TL"
		}
		return GalleryUbuntu, def + "containerd", true
	}
}

// ubuntuRelease is the Ubuntu release of an Ubuntu image family.
func ubuntuRelease(family string, kubernetesVersion string) string {
	switch family {
	case v1beta1.ImageFamilyUbuntu2204:
		return "2204"
	case v1beta1.ImageFamilyUbuntu2404:
		return "2404"
	}
	if KubernetesMinor(kubernetesVersion) < Ubuntu2404MinKubernetesMinor {
		return "2204"
	}
	return "2404"
}

// KubernetesMinor is the minor of a Kubernetes version such as v1.35.1 (0
// when the version is unknown or not 1.x, which picks the oldest behaviour).
func KubernetesMinor(v string) int {
	parsed, err := version.ParseGeneric(v)
	if err != nil || parsed.Major() != 1 {
		return 0
	}
	return int(parsed.Minor())
}

// Generations are the HyperV generations the NodeClass's images exist for on
// an architecture ("V1", "V2"): Arm64, confidential, Trusted Launch, Kata and
// Windows Server 2025 images are Gen2 only.
func Generations(nc *v1beta1.AKSNodeClass, arch string) []string {
	if arch == "arm64" || confidential(nc) || nc.TrustedLaunch() || kata(nc) || nc.GetImageFamily() == v1beta1.ImageFamilyWindows2025 {
		return []string{"V2"}
	}
	return []string{"V1", "V2"}
}

// HyperVGeneration is the generation ("1" or "2") a node of a size gets under
// the NodeClass: Gen2 when both the size (its HyperVGenerations capability,
// e.g. ["V1", "V2"]) and the NodeClass's images allow it.
func HyperVGeneration(nc *v1beta1.AKSNodeClass, arch string, sizeGenerations []string) string {
	gens := Generations(nc, arch)
	for _, g := range []string{"V2", "V1"} {
		if slices.Contains(sizeGenerations, g) && slices.Contains(gens, g) {
			return g[1:]
		}
	}
	return "2"
}
