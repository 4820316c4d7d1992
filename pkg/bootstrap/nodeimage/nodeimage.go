// Package nodeimage is what the provider knows about the AKS node images it
// boots, as AKS publishes it: which image definition is which OS release
// and variant, what each image version caches (the pod sandbox image, the
// CNI plugin tarballs), and the oldest image version whose provisioning
// reads the provider's bootstrap contract (the floor).
//
// The figures come from Azure/AgentBaker: the per-image release notes that
// list the components of every published image version
// (vhdbuilder/release-notes/<gallery>/<definition>/<version>.txt and
// -image-list.json) and the component list the images are built from
// (parts/common/components.json). They are facts about published images,
// so the provider (what it writes into custom data), the node-image floor
// (pkg/providers/imagefamily) and the simulator's node agent (what a node
// of that image would do) all read them from here.
package nodeimage

import (
	"fmt"
	"strconv"
	"strings"
)

// Family is an OS release of AKS's Linux or Windows node images, as the
// image definition names it.
type Family string

// The families of the AKS node image definitions the provider boots.
const (
	Ubuntu2204  Family = "Ubuntu2204"
	Ubuntu2404  Family = "Ubuntu2404"
	AzureLinux3 Family = "AzureLinux3"
	Windows2022 Family = "Windows2022"
	Windows2025 Family = "Windows2025"
)

// Image is one AKS node image definition, classified.
type Image struct {
	Definition string
	Family     Family
	// FIPS, Kata, TrustedLaunch and Confidential are the definition's variant.
	FIPS, Kata, TrustedLaunch, Confidential bool
	Arm64                                   bool
}

// Windows reports whether the image is a Windows Server image.
func (i Image) Windows() bool { return i.Family == Windows2022 || i.Family == Windows2025 }

// String is the family and variant, e.g. "AzureLinux3 (FIPS)".
func (i Image) String() string {
	var v []string
	for _, f := range []struct {
		on   bool
		name string
	}{{i.FIPS, "FIPS"}, {i.Kata, "Kata"}, {i.TrustedLaunch, "Trusted Launch"}, {i.Confidential, "confidential VM"}, {i.Arm64, "Arm64"}} {
		if f.on {
			v = append(v, f.name)
		}
	}
	if len(v) == 0 {
		return string(i.Family)
	}
	return string(i.Family) + " (" + strings.Join(v, ", ") + ")"
}

// Classify names the family and variant of an AKS image definition, as AKS
// names its definitions (Azure/AgentBaker pkg/agent/datamodel/sig_config.go):
// <release>[gen2][arm64][fips|TL|CVM]containerd for Ubuntu (2204gen2fipscontainerd),
// V3[gen2|kata gen2][arm64][fips|TL] for Azure Linux (V3gen2, V3katagen2),
// windows-<year>-containerd[-gen2] and windows-2025[-gen2] for Windows.
// ok is false for a definition that is none of these.
func Classify(definition string) (img Image, ok bool) {
	d := strings.ToLower(definition)
	img.Definition = definition
	switch {
	case strings.HasPrefix(d, "windows-2022"):
		img.Family = Windows2022
		return img, true
	case strings.HasPrefix(d, "windows-2025"):
		img.Family = Windows2025
		return img, true
	case strings.HasPrefix(d, "2204"):
		img.Family = Ubuntu2204
	case strings.HasPrefix(d, "2404"):
		img.Family = Ubuntu2404
	case strings.HasPrefix(d, "v3"):
		img.Family = AzureLinux3
		img.Kata = strings.Contains(d, "kata")
	default:
		return Image{}, false
	}
	img.FIPS = strings.Contains(d, "fips")
	img.Arm64 = strings.Contains(d, "arm64")
	img.TrustedLaunch = strings.Contains(d, "tl")
	img.Confidential = strings.Contains(d, "cvm")
	return img, true
}

// ParseID splits a gallery image version ID
// (/CommunityGalleries/<gallery>/images/<definition>/versions/<version>, or
// the shared- and subscription-gallery forms) into its definition and
// version; parts it lacks are "".
func ParseID(id string) (definition, version string) {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		switch strings.ToLower(parts[i]) {
		case "images":
			definition = parts[i+1]
		case "versions":
			version = parts[i+1]
		}
	}
	return definition, version
}

// The node-image floor: the oldest image versions the provider's bootstrap
// contract works with.
const (
	// LinuxFloor is the first Ubuntu and Azure Linux image version whose
	// aks-node-controller ignores AKSNodeConfig fields it does not know
	// (Azure/AgentBaker c4ddd55 "set unmarshalling JSON with DiscardUnknown
	// option", merged 2025-11-08; the 202511.12.0 images were built from
	// 1f8bae2, which contains it, per their release notes'
	// "Commit:" line; 202511.07.0 was built from 9ed68e9, which does not).
	// An older controller stops reading the document at the first field it
	// does not know and provisions from the fields before it.
	LinuxFloor = "202511.12.0"
	// WindowsFloorDate is the build date (yymmdd, the version's third part)
	// of the first Windows images that cache the CSE scripts package the
	// setup script runs (c:\akse-cache\aks-windows-cse-scripts-current.zip:
	// first listed in the release notes of 20348.3807.250615 and
	// 26100.4349.250615).
	WindowsFloorDate = 250615
)

// BelowFloor reports whether an image version is older than the floor of
// its image, and the floor, for a message.
func BelowFloor(img Image, version string) (below bool, floor string) {
	if img.Windows() {
		parts := strings.Split(version, ".")
		date, err := strconv.Atoi(parts[len(parts)-1])
		floor = fmt.Sprintf("build date %d (the first images that cache the AKS Windows CSE scripts package)", WindowsFloorDate)
		return len(parts) != 3 || err != nil || date < WindowsFloorDate, floor
	}
	return CompareVersions(version, LinuxFloor) < 0, LinuxFloor
}

// CompareVersions orders Major.Minor.Patch gallery versions numerically.
func CompareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(pa), len(pb)) {
		var na, nb int
		if i < len(pa) {
			na, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			nb, _ = strconv.Atoi(pb[i])
		}
		if na != nb {
			if na < nb {
				return -1
			}
			return 1
		}
	}
	return 0
}
