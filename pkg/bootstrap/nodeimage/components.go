package nodeimage

import (
	"fmt"
	"slices"
)

// The Linux pod sandbox (pause) images AKS images cache, by the first image
// version that caches them. Every Ubuntu 22.04/24.04 and Azure Linux 3
// definition (plain, FIPS, Arm64, Kata, Trusted Launch, CVM) caches the same
// set in a given release; the sets below are what the release notes of
// AKSUbuntu/gen2/2204containerd, 2204fipscontainerd, 2404containerd,
// 2404arm64containerd and AKSAzureLinuxV3/gen2, gen1fips, gen2kata list
// under "mcr.microsoft.com/.../pause" for each release from 202511.07.0 to
// 202608.20.0 (Azure/AgentBaker vhdbuilder/release-notes):
//
//	202511.07.0 … 202607.29.0  oss/kubernetes/pause:3.6, oss/v2/kubernetes/pause:3.6
//	202608.06.1                oss/v2/kubernetes/pause:3.6
//	202608.14.0 …              oss/v2/kubernetes/pause:3.10.2, oss/v2/kubernetes/pause:3.6
//
// parts/common/components.json names the same two ("latestVersion" 3.10.2,
// "previousLatestVersion" 3.6 of mcr.microsoft.com/oss/v2/kubernetes/pause).
var linuxPauseReleases = []struct {
	from   string
	cached []string
}{
	{"202511.07.0", []string{"mcr.microsoft.com/oss/kubernetes/pause:3.6", PauseImage36}},
	{"202608.06.1", []string{PauseImage36}},
	{"202608.14.0", []string{PauseImage3102, PauseImage36}},
}

// Pause images by tag.
const (
	// PauseImage36 is cached by every Linux image from the floor on.
	PauseImage36 = "mcr.microsoft.com/oss/v2/kubernetes/pause:3.6"
	// PauseImage3102 is cached from 202608.14.0 on, and by the Windows
	// images of 2026 (and is what AgentBaker's own e2e sets,
	// e2e/node_config.go PodInfraContainerImageURL).
	PauseImage3102 = "mcr.microsoft.com/oss/v2/kubernetes/pause:3.10.2"
	// WindowsPauseImage3101 is cached by the Windows images since their
	// 2025-12 releases (release notes AKSWindows/2025-gen2/26100.7462.251212).
	WindowsPauseImage3101 = "mcr.microsoft.com/oss/v2/kubernetes/pause:3.10.1"
)

// windowsPause3102Date is the first Windows build date whose release notes
// list pause 3.10.2 (AKSWindows/2022-containerd-gen2/20348.5499.260812 lists
// 3.10.1 and 3.10.2).
const windowsPause3102Date = 260812

// CachedPauseImages are the pause images an image version caches.
func CachedPauseImages(img Image, version string) []string {
	if img.Windows() {
		if windowsDate(version) >= windowsPause3102Date {
			return []string{PauseImage3102, WindowsPauseImage3101}
		}
		return []string{WindowsPauseImage3101}
	}
	var cached []string
	for _, r := range linuxPauseReleases {
		if CompareVersions(version, r.from) >= 0 {
			cached = r.cached
		}
	}
	return cached
}

// PauseImage is the sandbox image a node of this image version runs its
// pods with: the newest the image caches, so no node pulls one (and a
// network-isolated node could not). It is what the containerd
// configuration names (kube_binary_config.pod_infra_container_image_url),
// and on Windows $global:WindowsPauseImageURL.
func PauseImage(img Image, version string) string {
	cached := CachedPauseImages(img, version)
	if len(cached) == 0 {
		return PauseImage36
	}
	return cached[0]
}

// IsCachedPauseImage reports whether an image version caches ref.
func IsCachedPauseImage(img Image, version, ref string) bool {
	return slices.Contains(CachedPauseImages(img, version), ref)
}

func windowsDate(version string) int {
	var a, b, date int
	if _, err := fmt.Sscanf(version, "%d.%d.%d", &a, &b, &date); err != nil {
		return 0
	}
	return date
}

// CNI plugin tarballs every Linux image from the floor on caches in
// /opt/cni/downloads, as parts/common/components.json lists them
// (packages "azure-cni", versions 1.5.38 and 1.6.21; "cni-plugins",
// version 1.6.2) and every release note since 202511.12.0 confirms
// ("Azure CNI version 1.6.21", "CNI plugin version 1.6.2").
const (
	AzureCNIVersion   = "1.6.21"
	CNIPluginsVersion = "1.6.2"
	// packagesBase is AKS's package mirror, the download URL base of
	// components.json (and in AKS's required outbound list).
	packagesBase = "https://packages.aks.azure.com"
)

// cniArch is the CPU architecture as the tarball names spell it.
func cniArch(img Image) string {
	if img.Arm64 {
		return "arm64"
	}
	return "amd64"
}

// VNetCNIPluginsURL is network_config.vnet_cni_plugins_url for Azure CNI
// with pod addresses from the node subnet: the image's installAzureCNI
// (parts/linux/cloud-init/artifacts/cse_install.sh) unpacks the tarball of
// that name from /opt/cni/downloads, and with none moves that directory's
// folders into /opt/cni/bin and installs no plugin. On Windows it is
// $global:VNetCNIPluginsURL (Install-VnetPlugins, azurecnifunc.ps1), which
// the image resolves against c:\akse-cache by file name.
func VNetCNIPluginsURL(img Image) string {
	if img.Windows() {
		return fmt.Sprintf("%s/azure-cni/v%s/binaries/azure-vnet-cni-windows-amd64-v%s.zip", packagesBase, AzureCNIVersion, AzureCNIVersion)
	}
	return fmt.Sprintf("%s/azure-cni/v%s/binaries/azure-vnet-cni-linux-%s-v%s.tgz", packagesBase, AzureCNIVersion, cniArch(img), AzureCNIVersion)
}

// CNIPluginsURL is network_config.cni_plugins_url, the reference CNI
// plugins kubenet nodes run (bridge, host-local, loopback, portmap): the
// scriptful contract's CNI_PLUGINS_URL (parts/linux/cloud-init/artifacts/cse_cmd.sh)
// and the tarball components.json caches.
func CNIPluginsURL(img Image) string {
	return fmt.Sprintf("%s/cni-plugins/v%s/binaries/cni-plugins-linux-%s-v%s.tgz", packagesBase, CNIPluginsVersion, cniArch(img), CNIPluginsVersion)
}
