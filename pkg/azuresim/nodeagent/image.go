package nodeagent

import (
	"strings"
)

// nodeOS is what a node reports about the operating system of the image
// its VM booted: the kubelet reads it from the OS (os-release, uname, the
// Windows registry) and the container runtime.
type nodeOS struct {
	// OS is the kubernetes.io/os value: linux or windows.
	OS                                     string
	OSImage, KernelVersion, RuntimeVersion string
	// WindowsBuild is the node.kubernetes.io/windows-build label value
	// (major.minor.build) a Windows kubelet sets; "" on Linux.
	WindowsBuild string
}

// Windows Server builds of the AKS Windows images.
const (
	windows2022Build = "20348"
	windows2025Build = "26100"
)

// imageOS is the OS of the image a VM was created from: an AKS node image
// reference, /CommunityGalleries/<gallery>/images/<definition>/versions/<version>
// (or the shared-gallery and subscription-gallery forms of it). The image
// definition says the OS release (2204gen2containerd, 2404gen2arm64containerd,
// V3gen2, windows-2022-containerd-gen2, windows-2025-gen2); Windows image
// versions start with the OS build (20348.4405.261112). Linux images the
// agent does not recognise report as AKS's default, Ubuntu 22.04.
func imageOS(vm VM) nodeOS {
	gallery, definition, version := parseImageID(vm.ImageID)
	def := strings.ToLower(definition)
	if vm.Windows {
		build, revision := windows2022Build, "4405"
		if strings.Contains(def, "2025") || strings.HasPrefix(version, windows2025Build+".") {
			build, revision = windows2025Build, "7171"
		}
		if parts := strings.Split(version, "."); len(parts) >= 2 && parts[0] == build {
			revision = parts[1]
		}
		name := "Windows Server 2022 Datacenter"
		if build == windows2025Build {
			name = "Windows Server 2025 Datacenter"
		}
		return nodeOS{OS: "windows", OSImage: name, KernelVersion: "10.0." + build + "." + revision,
			RuntimeVersion: "containerd://1.7.20+azure", WindowsBuild: "10.0." + build}
	}
	switch {
	case strings.HasPrefix(strings.ToLower(gallery), "aksazurelinux") && strings.HasPrefix(def, "v2"):
		return nodeOS{OS: "linux", OSImage: "CBL-Mariner/Linux", KernelVersion: "5.15.186.1-1.cm2", RuntimeVersion: "containerd://1.6.26"}
	case strings.HasPrefix(strings.ToLower(gallery), "aksazurelinux"):
		return nodeOS{OS: "linux", OSImage: "Microsoft Azure Linux 3.0", KernelVersion: "6.6.104.2-4.azl3", RuntimeVersion: "containerd://2.0.0"}
	case strings.HasPrefix(def, "2404"):
		return nodeOS{OS: "linux", OSImage: "Ubuntu 24.04.3 LTS", KernelVersion: "6.8.0-1041-azure", RuntimeVersion: "containerd://2.1.4-1"}
	default:
		return nodeOS{OS: "linux", OSImage: "Ubuntu 22.04.5 LTS", KernelVersion: "5.15.0-1092-azure", RuntimeVersion: "containerd://1.7.28-1"}
	}
}

// parseImageID splits a gallery image version ID into gallery, image
// definition and version; parts it does not have are "".
func parseImageID(id string) (gallery, definition, version string) {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		switch strings.ToLower(parts[i]) {
		case "communitygalleries", "sharedgalleries", "galleries":
			gallery = parts[i+1]
		case "images":
			definition = parts[i+1]
		case "versions":
			version = parts[i+1]
		}
	}
	return gallery, definition, version
}
