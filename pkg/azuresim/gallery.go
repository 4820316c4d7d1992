package azuresim

import (
	"cmp"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
)

// AKS's public community galleries, where the node images live
// (AZURE-FACTS.md, "Joining a node to an AKS cluster").
const (
	GalleryAKSUbuntu     = "AKSUbuntu-38d80f77-467a-481f-a8d4-09b6d4220bd2"
	GalleryAKSAzureLinux = "AKSAzureLinux-f7c7cda5-1c9a-4bdc-a222-9614c968580b"
	GalleryAKSWindows    = "AKSWindows-cf00e6e0-d245-4a4e-8d8e-6ed6a3f7a8e8"
)

// Values of an image definition's SecurityType feature, as Compute Gallery
// names them (GalleryImageFeature "SecurityType"; the az CLI's
// `az sig image-definition create --features SecurityType=...`).
// "TrustedLaunch" images can only boot as Trusted Launch VMs; the
// "Supported" values allow it without requiring it; a definition without
// the feature is Standard and boots no Trusted Launch VM.
const (
	SecurityTypeTrustedLaunch                           = "TrustedLaunch"
	SecurityTypeTrustedLaunchSupported                  = "TrustedLaunchSupported"
	SecurityTypeConfidentialVMSupported                 = "ConfidentialVMSupported"
	SecurityTypeTrustedLaunchAndConfidentialVMSupported = "TrustedLaunchAndConfidentialVMSupported"
)

// communityGallery is one public gallery. Its images exist in every region
// of the catalog: AKS replicates node images to every region it serves.
type communityGallery struct {
	name   string
	images map[string]*galleryImage // by lower(name)
}

// galleryImage is an image definition: what every version of it boots.
type galleryImage struct {
	gallery          string
	name             string
	osType           armcompute.OperatingSystemTypes
	hyperVGeneration armcompute.HyperVGeneration
	architecture     armcompute.Architecture
	securityType     string
	versions         map[string]*galleryImageVersion // by name
}

type galleryImageVersion struct {
	name              string
	published         time.Time
	endOfLife         *time.Time
	excludeFromLatest bool
	diskSizeGB        int32
}

// versionNameRE is Compute Gallery's rule for version names: three
// period-separated integers (Major.Minor.Patch).
var versionNameRE = regexp.MustCompile(`^\d{1,10}\.\d{1,10}\.\d{1,10}$`)

// Seeded releases: three per definition, two weeks apart, the newest being
// the one the project's golden files name. Linux images share AKS's
// YYYYMM.DD.patch versions; Windows versions are <build>.<revision>.<yymmdd>.
var (
	linuxReleases = []seedRelease{
		{"202610.13.0", "2026-10-13T06:00:00Z"},
		{"202610.27.0", "2026-10-27T06:00:00Z"},
		{"202611.10.0", "2026-11-10T06:00:00Z"},
	}
	windows2022Releases = []seedRelease{
		{"20348.4297.261015", "2026-10-15T06:00:00Z"},
		{"20348.4350.261029", "2026-10-29T06:00:00Z"},
		{"20348.4405.261112", "2026-11-12T06:00:00Z"},
	}
	windows2025Releases = []seedRelease{
		{"26100.6899.261015", "2026-10-15T06:00:00Z"},
		{"26100.7019.261029", "2026-10-29T06:00:00Z"},
		{"26100.7171.261112", "2026-11-12T06:00:00Z"},
	}
)

type seedRelease struct{ version, published string }

type seedImage struct {
	gallery, name string
	windows       bool
	gen           armcompute.HyperVGeneration
	arch          armcompute.Architecture
	securityType  string
	releases      []seedRelease
}

// seedImages are the definitions AKS publishes in its community galleries,
// with their features as AKS creates them: the Trusted Launch definitions
// carry SecurityType=TrustedLaunch (AgentBaker's SIG publishing creates
// 2204gen2TLcontainerd with `--features SecurityType=TrustedLaunch`), the
// confidential VM ones ConfidentialVMSupported, the rest none. FIPS
// definitions are not among them: AKS publishes FIPS images only in its own
// shared image galleries (AKS node auto-provisioning:
// "FIPS images aren't supported in public galleries, only shared image
// galleries").
func seedImages() []seedImage {
	v1, v2 := armcompute.HyperVGenerationV1, armcompute.HyperVGenerationV2
	x64, arm := armcompute.ArchitectureX64, armcompute.ArchitectureArm64
	var out []seedImage
	linux := func(gallery, name string, gen armcompute.HyperVGeneration, a armcompute.Architecture, security string) {
		out = append(out, seedImage{gallery: gallery, name: name, gen: gen, arch: a, securityType: security, releases: linuxReleases})
	}
	for _, release := range []string{"2204", "2404"} {
		linux(GalleryAKSUbuntu, release+"containerd", v1, x64, "")
		linux(GalleryAKSUbuntu, release+"gen2containerd", v2, x64, "")
		linux(GalleryAKSUbuntu, release+"gen2arm64containerd", v2, arm, "")
		linux(GalleryAKSUbuntu, release+"gen2CVMcontainerd", v2, x64, SecurityTypeConfidentialVMSupported)
		linux(GalleryAKSUbuntu, release+"gen2TLcontainerd", v2, x64, SecurityTypeTrustedLaunch)
	}
	linux(GalleryAKSAzureLinux, "V3", v1, x64, "")
	linux(GalleryAKSAzureLinux, "V3gen2", v2, x64, "")
	linux(GalleryAKSAzureLinux, "V3gen2arm64", v2, arm, "")
	linux(GalleryAKSAzureLinux, "V3gen2TL", v2, x64, SecurityTypeTrustedLaunch)
	// AKS's pod sandboxing image (Azure/AgentBaker sig_config.go V3katagen2).
	linux(GalleryAKSAzureLinux, "V3katagen2", v2, x64, "")
	out = append(out,
		seedImage{gallery: GalleryAKSWindows, name: "windows-2022-containerd", windows: true, gen: v1, arch: x64, releases: windows2022Releases},
		seedImage{gallery: GalleryAKSWindows, name: "windows-2022-containerd-gen2", windows: true, gen: v2, arch: x64, releases: windows2022Releases},
		seedImage{gallery: GalleryAKSWindows, name: "windows-2025-gen2", windows: true, gen: v2, arch: x64, releases: windows2025Releases},
	)
	return out
}

func seedGalleries() map[string]*communityGallery {
	galleries := map[string]*communityGallery{}
	for _, si := range seedImages() {
		g, ok := galleries[lower(si.gallery)]
		if !ok {
			g = &communityGallery{name: si.gallery, images: map[string]*galleryImage{}}
			galleries[lower(si.gallery)] = g
		}
		img := &galleryImage{gallery: si.gallery, name: si.name, osType: armcompute.OperatingSystemTypesLinux, hyperVGeneration: si.gen,
			architecture: si.arch, securityType: si.securityType, versions: map[string]*galleryImageVersion{}}
		if si.windows {
			img.osType = armcompute.OperatingSystemTypesWindows
		}
		for _, r := range si.releases {
			published, err := time.Parse(time.RFC3339, r.published)
			if err != nil {
				panic(fmt.Sprintf("azuresim gallery seed %s/%s: %v", si.name, r.version, err))
			}
			img.versions[r.version] = &galleryImageVersion{name: r.version, published: published, diskSizeGB: 30}
		}
		g.images[lower(si.name)] = img
	}
	return galleries
}

// publisher, offer and SKU identify a definition; AKS's follow its gallery
// and definition names.
func (img *galleryImage) identifier() *armcompute.CommunityGalleryImageIdentifier {
	offer, _, _ := strings.Cut(img.gallery, "-")
	return &armcompute.CommunityGalleryImageIdentifier{Publisher: lo.ToPtr("microsoft-aks"), Offer: lo.ToPtr(offer), SKU: lo.ToPtr(img.name)}
}

func (img *galleryImage) uniqueID() string {
	return "/CommunityGalleries/" + img.gallery + "/Images/" + img.name
}

// latest is the version a VM gets for version "latest": the newest by
// publishing date that is not excluded from latest.
func (img *galleryImage) latest() *galleryImageVersion {
	var best *galleryImageVersion
	for _, v := range img.versions {
		if v.excludeFromLatest {
			continue
		}
		if best == nil || v.published.After(best.published) || (v.published.Equal(best.published) && compareVersions(v.name, best.name) > 0) {
			best = v
		}
	}
	return best
}

// sortedVersions orders versions by their numeric parts, as the gallery
// lists them; publishing dates need not follow that order.
func (img *galleryImage) sortedVersions() []*galleryImageVersion {
	out := lo.Values(img.versions)
	slices.SortFunc(out, func(a, b *galleryImageVersion) int { return compareVersions(a.name, b.name) })
	return out
}

func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range min(len(pa), len(pb)) {
		na, ea := strconv.ParseUint(pa[i], 10, 64)
		nb, eb := strconv.ParseUint(pb[i], 10, 64)
		c := strings.Compare(pa[i], pb[i])
		if ea == nil && eb == nil {
			c = cmp.Compare(na, nb)
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(pa), len(pb))
}

func (img *galleryImage) render(location string) armcompute.CommunityGalleryImage {
	props := &armcompute.CommunityGalleryImageProperties{
		Identifier:       img.identifier(),
		OSState:          lo.ToPtr(armcompute.OperatingSystemStateTypesGeneralized),
		OSType:           lo.ToPtr(img.osType),
		Architecture:     lo.ToPtr(img.architecture),
		HyperVGeneration: lo.ToPtr(img.hyperVGeneration),
	}
	if img.securityType != "" {
		props.Features = []*armcompute.GalleryImageFeature{{Name: lo.ToPtr("SecurityType"), Value: lo.ToPtr(img.securityType)}}
	}
	return armcompute.CommunityGalleryImage{
		Name:       lo.ToPtr(img.name),
		Location:   lo.ToPtr(location),
		Type:       lo.ToPtr("Microsoft.Compute/locations/communityGalleries/images"),
		Identifier: &armcompute.CommunityGalleryIdentifier{UniqueID: lo.ToPtr(img.uniqueID())},
		Properties: props,
	}
}

func (img *galleryImage) renderVersion(v *galleryImageVersion, location string) *armcompute.CommunityGalleryImageVersion {
	return &armcompute.CommunityGalleryImageVersion{
		Name:       lo.ToPtr(v.name),
		Location:   lo.ToPtr(location),
		Type:       lo.ToPtr("Microsoft.Compute/locations/communityGalleries/images/versions"),
		Identifier: &armcompute.CommunityGalleryIdentifier{UniqueID: lo.ToPtr(img.uniqueID() + "/Versions/" + v.name)},
		Properties: &armcompute.CommunityGalleryImageVersionProperties{
			PublishedDate:     lo.ToPtr(v.published.UTC()),
			EndOfLifeDate:     v.endOfLife,
			ExcludeFromLatest: lo.ToPtr(v.excludeFromLatest),
			StorageProfile: &armcompute.SharedGalleryImageVersionStorageProfile{OSDiskImage: &armcompute.SharedGalleryOSDiskImage{
				DiskSizeGB: lo.ToPtr(v.diskSizeGB), HostCaching: lo.ToPtr(armcompute.SharedGalleryHostCachingReadOnly),
			}},
		},
	}
}

// --- ARM handlers ---

// Compute answers reads of a gallery or image that does not exist with 404
// NotFound; the gallery wording is Azure's, the image's follows it.
func errGalleryNotFound(gallery, location string) *ARMError {
	return armErr(http.StatusNotFound, "NotFound", "please check if the gallery name '%s' is valid and the gallery exists in '%s' region.", gallery, location)
}

func errGalleryImageNotFoundRead(gallery, image, location string) *ARMError {
	return armErr(http.StatusNotFound, "NotFound", "please check if the gallery image name '%s' is valid and the image exists in gallery '%s' in '%s' region.", image, gallery, location)
}

func errGalleryImageVersionNotFoundRead(gallery, image, version, location string) *ARMError {
	return armErr(http.StatusNotFound, "NotFound", "please check if the gallery image version '%s' of image '%s' is valid and the version exists in gallery '%s' in '%s' region.", version, image, gallery, location)
}

// lookupGalleryImageLocked finds a definition for a gallery read. The caller
// holds s.mu.
func (s *Server) lookupGalleryImageLocked(r *http.Request) (*galleryImage, string, *ARMError) {
	loc, gallery, image := lower(r.PathValue("loc")), r.PathValue("gallery"), r.PathValue("image")
	if _, ok := s.cat.Region(loc); !ok {
		return nil, loc, errGalleryNotFound(gallery, loc)
	}
	g, ok := s.galleries[lower(gallery)]
	if !ok {
		return nil, loc, errGalleryNotFound(gallery, loc)
	}
	img, ok := g.images[lower(image)]
	if !ok {
		return nil, loc, errGalleryImageNotFoundRead(g.name, image, loc)
	}
	return img, loc, nil
}

func (s *Server) getGalleryImage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	img, loc, aerr := s.lookupGalleryImageLocked(r)
	if aerr == nil {
		aerr = s.pickErrorLocked(OpGetGalleryImage, "", "", loc, "", "", false)
	}
	var out armcompute.CommunityGalleryImage
	if aerr == nil {
		out = img.render(loc)
	}
	s.mu.Unlock()
	if aerr != nil {
		writeARMError(w, aerr)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listGalleryImageVersions(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	img, loc, aerr := s.lookupGalleryImageLocked(r)
	if aerr == nil {
		aerr = s.pickErrorLocked(OpListGalleryImageVersions, "", "", loc, "", "", false)
	}
	var all []*armcompute.CommunityGalleryImageVersion
	if aerr == nil {
		for _, v := range img.sortedVersions() {
			all = append(all, img.renderVersion(v, loc))
		}
	}
	s.mu.Unlock()
	if aerr != nil {
		writeARMError(w, aerr)
		return
	}
	items, next, perr := page(r, all, s.opts.PageSize)
	if perr != nil {
		writeARMError(w, perr)
		return
	}
	writeJSON(w, http.StatusOK, armcompute.CommunityGalleryImageVersionList{Value: lo.Ternary(items == nil, []*armcompute.CommunityGalleryImageVersion{}, items), NextLink: next})
}

func (s *Server) getGalleryImageVersion(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	img, loc, aerr := s.lookupGalleryImageLocked(r)
	if aerr == nil {
		aerr = s.pickErrorLocked(OpGetGalleryImageVersion, "", "", loc, "", "", false)
	}
	var out *armcompute.CommunityGalleryImageVersion
	if aerr == nil {
		if v, ok := img.versions[r.PathValue("version")]; ok {
			out = img.renderVersion(v, loc)
		} else {
			aerr = errGalleryImageVersionNotFoundRead(img.gallery, img.name, r.PathValue("version"), loc)
		}
	}
	s.mu.Unlock()
	if aerr != nil {
		writeARMError(w, aerr)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// --- VM PUT validation ---

// errGalleryImageNotFound is how a VM PUT naming a gallery image that does
// not exist fails (404, target imageReference). Compute says the same when
// the version exists but was not replicated to the region.
func errGalleryImageNotFound(id, location string) *ARMError {
	e := armErr(http.StatusNotFound, "GalleryImageNotFound",
		"The gallery image %s is not available in %s region. Please contact image owner to replicate to this region, or change your requested region.", id, location)
	e.Target = "imageReference"
	return e
}

// parseCommunityGalleryImageID splits
// /CommunityGalleries/{gallery}/Images/{image}/Versions/{version}
// (segment names are case-insensitive; version may be "latest").
func parseCommunityGalleryImageID(id string) (gallery, image, version string, ok bool) {
	p := strings.Split(strings.Trim(id, "/"), "/")
	if len(p) != 6 || !strings.EqualFold(p[0], "CommunityGalleries") || !strings.EqualFold(p[2], "Images") || !strings.EqualFold(p[4], "Versions") ||
		p[1] == "" || p[3] == "" || p[5] == "" {
		return "", "", "", false
	}
	return p[1], p[3], p[5], true
}

// validateImageLocked checks a VM's community gallery image against the
// size and the VM's security type as Compute does: the image must exist in
// the region, match the size's CPU architecture and HyperV generations, and
// a Trusted-Launch-only image needs a Trusted Launch VM. Other image
// references (marketplace, shared or private galleries) are not modelled and
// pass. It returns the generation the VM boots.
func (s *Server) validateImageLocked(sku *catalog.SKU, location string, p *armcompute.VirtualMachineProperties) (armcompute.HyperVGeneration, *ARMError) {
	sizeGens := strings.Split(sku.HyperVGenerations, ",")
	fallback := armcompute.HyperVGeneration(lo.Ternary(slices.Contains(sizeGens, "V2"), "V2", "V1"))
	if p.StorageProfile == nil || p.StorageProfile.ImageReference == nil || p.StorageProfile.ImageReference.CommunityGalleryImageID == nil {
		return fallback, nil
	}
	id := *p.StorageProfile.ImageReference.CommunityGalleryImageID
	gallery, image, version, ok := parseCommunityGalleryImageID(id)
	if !ok {
		return "", errInvalidParameter("imageReference", "The value '%s' of parameter 'imageReference.communityGalleryImageId' is invalid. It must look like /CommunityGalleries/{galleryPublicName}/Images/{imageName}/Versions/{version}.", id)
	}
	g, ok := s.galleries[lower(gallery)]
	if !ok {
		return "", errGalleryImageNotFound(id, location)
	}
	img, ok := g.images[lower(image)]
	if !ok {
		return "", errGalleryImageNotFound(id, location)
	}
	if strings.EqualFold(version, "latest") {
		if img.latest() == nil {
			return "", errGalleryImageNotFound(id, location)
		}
	} else if _, ok := img.versions[version]; !ok {
		return "", errGalleryImageNotFound(id, location)
	}
	if !strings.EqualFold(string(img.architecture), sku.CPUArchitecture) {
		return "", armErr(http.StatusBadRequest, "BadRequest",
			"Cannot create a VM of size '%s' because this VM size only supports a CPU Architecture of '%s', but an image or disk with CPU Architecture '%s' was given. Please check that the CPU Architecture of the image or disk is compatible with that of the VM size.",
			sku.Name, sku.CPUArchitecture, img.architecture)
	}
	if !slices.Contains(sizeGens, string(img.hyperVGeneration)) {
		gen := strings.TrimPrefix(string(img.hyperVGeneration), "V")
		return "", armErr(http.StatusBadRequest, "BadRequest",
			"The selected VM size '%s' cannot boot Hypervisor Generation '%s'. If this was a Create operation please check that the Hypervisor Generation of the Image matches the Hypervisor Generation of the selected VM Size. If this was an Update operation please select a Hypervisor Generation '%s' VM Size. For more information, see https://aka.ms/azuregen2vm",
			sku.Name, gen, gen)
	}
	return img.hyperVGeneration, nil
}

// --- Publishing (admin) ---

// ImageVersionSpec describes an image version to publish.
type ImageVersionSpec struct {
	// PublishedDate defaults to now.
	PublishedDate *time.Time `json:"publishedDate,omitempty"`
	// EndOfLifeDate, when set, is when the publisher stops supporting it.
	EndOfLifeDate *time.Time `json:"endOfLifeDate,omitempty"`
	// ExcludeFromLatest keeps the version out of "latest".
	ExcludeFromLatest bool `json:"excludeFromLatest,omitempty"`
	// DiskSizeGB is the OS disk image size; 0 takes the newest version's.
	DiskSizeGB int32 `json:"diskSizeGB,omitempty"`
}

// ImageVersionState is a version in GET /admin/galleries.
type ImageVersionState struct {
	Name              string     `json:"name"`
	PublishedDate     time.Time  `json:"publishedDate"`
	EndOfLifeDate     *time.Time `json:"endOfLifeDate,omitempty"`
	ExcludeFromLatest bool       `json:"excludeFromLatest,omitempty"`
	DiskSizeGB        int32      `json:"diskSizeGB"`
}

// GalleryImageState is a definition in GET /admin/galleries.
type GalleryImageState struct {
	Gallery          string              `json:"gallery"`
	Image            string              `json:"image"`
	OSType           string              `json:"osType"`
	HyperVGeneration string              `json:"hyperVGeneration"`
	Architecture     string              `json:"architecture"`
	SecurityType     string              `json:"securityType,omitempty"`
	Versions         []ImageVersionState `json:"versions"`
}

// GalleryImages lists every community gallery definition with its versions.
func (s *Server) GalleryImages() []GalleryImageState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []GalleryImageState
	for _, g := range s.galleries {
		for _, img := range g.images {
			st := GalleryImageState{Gallery: g.name, Image: img.name, OSType: string(img.osType), HyperVGeneration: string(img.hyperVGeneration),
				Architecture: string(img.architecture), SecurityType: img.securityType, Versions: []ImageVersionState{}}
			for _, v := range img.sortedVersions() {
				st.Versions = append(st.Versions, ImageVersionState{Name: v.name, PublishedDate: v.published.UTC(), EndOfLifeDate: v.endOfLife,
					ExcludeFromLatest: v.excludeFromLatest, DiskSizeGB: v.diskSizeGB})
			}
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b GalleryImageState) int {
		return strings.Compare(lower(a.Gallery+"/"+a.Image), lower(b.Gallery+"/"+b.Image))
	})
	return out
}

// ErrGalleryImageMissing is returned when a publish or removal names a
// gallery, definition or version that does not exist.
type ErrGalleryImageMissing struct{ What string }

func (e *ErrGalleryImageMissing) Error() string { return e.What + " does not exist" }

func (s *Server) galleryImageLocked(gallery, image string) (*galleryImage, error) {
	g, ok := s.galleries[lower(gallery)]
	if !ok {
		return nil, &ErrGalleryImageMissing{What: "community gallery " + gallery}
	}
	img, ok := g.images[lower(image)]
	if !ok {
		return nil, &ErrGalleryImageMissing{What: "image definition " + image + " in community gallery " + g.name}
	}
	return img, nil
}

// PublishImageVersion adds (or replaces) a version of an existing image
// definition, as an image publisher would.
func (s *Server) PublishImageVersion(gallery, image, version string, spec ImageVersionSpec) error {
	if !versionNameRE.MatchString(version) {
		return fmt.Errorf("version %q must be Major.Minor.Patch (three integers)", version)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	img, err := s.galleryImageLocked(gallery, image)
	if err != nil {
		return err
	}
	v := &galleryImageVersion{name: version, published: time.Now().UTC(), endOfLife: spec.EndOfLifeDate, excludeFromLatest: spec.ExcludeFromLatest, diskSizeGB: spec.DiskSizeGB}
	if spec.PublishedDate != nil {
		v.published = spec.PublishedDate.UTC()
	}
	if v.diskSizeGB <= 0 {
		v.diskSizeGB = 30
		if l := img.latest(); l != nil {
			v.diskSizeGB = l.diskSizeGB
		}
	}
	img.versions[version] = v
	s.log.Info("azuresim image version published", "gallery", img.gallery, "image", img.name, "version", version, "published", v.published, "excludeFromLatest", v.excludeFromLatest)
	return nil
}

// DeleteImageVersion removes a version, as a publisher deleting it would.
func (s *Server) DeleteImageVersion(gallery, image, version string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	img, err := s.galleryImageLocked(gallery, image)
	if err != nil {
		return err
	}
	if _, ok := img.versions[version]; !ok {
		return &ErrGalleryImageMissing{What: "version " + version + " of image definition " + img.name}
	}
	delete(img.versions, version)
	s.log.Info("azuresim image version deleted", "gallery", img.gallery, "image", img.name, "version", version)
	return nil
}

// DeleteGalleryImage removes an image definition with all its versions.
func (s *Server) DeleteGalleryImage(gallery, image string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	img, err := s.galleryImageLocked(gallery, image)
	if err != nil {
		return err
	}
	delete(s.galleries[lower(gallery)].images, lower(image))
	s.log.Info("azuresim image definition deleted", "gallery", img.gallery, "image", img.name)
	return nil
}
