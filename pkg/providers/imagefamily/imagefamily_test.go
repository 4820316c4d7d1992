package imagefamily_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	corev1 "k8s.io/api/core/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

// Versions the simulator publishes for every Linux definition, oldest first,
// and the newest Windows ones.
const (
	linuxNewest   = "202611.10.0"
	linuxPrevious = "202610.27.0"
	win2022Newest = "20348.4405.261112"
	win2025Newest = "26100.7171.261112"
)

func nc(family string, edit func(*v1beta1.AKSNodeClass)) *v1beta1.AKSNodeClass {
	n := &v1beta1.AKSNodeClass{}
	if family != "" {
		n.Spec.ImageFamily = to.Ptr(family)
	}
	if edit != nil {
		edit(n)
	}
	return n
}

func fips(n *v1beta1.AKSNodeClass) { n.Spec.FIPSMode = to.Ptr(v1beta1.FIPSModeFIPS) }
func cvm(n *v1beta1.AKSNodeClass)  { n.Spec.Security = &v1beta1.Security{ConfidentialVM: to.Ptr(true)} }

func fixedVersion(v string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return v, nil }
}

// world is a simulator and a way to build providers reaching it through the
// SDK, as the controller does.
type world struct {
	t   *testing.T
	sim *azuresim.Server
	cfg azure.Config
}

func newWorld(t *testing.T, opts azuresim.Options) *world {
	t.Helper()
	sim, cfg := testutil.StartAzureSimWith(t, opts, nil)
	return &world{t: t, sim: sim, cfg: cfg}
}

func (w *world) provider(opts imagefamily.Options) *imagefamily.DefaultProvider {
	w.t.Helper()
	clients, err := azure.NewClients(w.cfg, testutil.SubscriptionID)
	if err != nil {
		w.t.Fatal(err)
	}
	opts.Location = testutil.Region
	if opts.KubernetesVersion == nil {
		opts.KubernetesVersion = fixedVersion("v1.35.1")
	}
	return imagefamily.NewDefaultProviderFromFactory(clients.Compute, opts)
}

func (w *world) listings() int64 {
	return w.sim.Stats().Operations[azuresim.OpListGalleryImageVersions].Requests
}

func (w *world) publish(gallery, def, version string, spec azuresim.ImageVersionSpec) {
	w.t.Helper()
	if err := w.sim.PublishImageVersion(gallery, def, version, spec); err != nil {
		w.t.Fatal(err)
	}
}

func ubuntu(def, version string) string {
	return imagefamily.ImageID(imagefamily.GalleryUbuntu, def, version)
}

func resolve(t *testing.T, p *imagefamily.DefaultProvider, n *v1beta1.AKSNodeClass) string {
	t.Helper()
	img, err := p.Resolve(context.Background(), n, "amd64", "2")
	if err != nil {
		t.Fatal(err)
	}
	return img.ID
}

func TestResolveTheNewestVersionOfEachDefinition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, azuresim.Options{})
	p135 := w.provider(imagefamily.Options{})
	p134 := w.provider(imagefamily.Options{KubernetesVersion: fixedVersion("v1.34.2")})
	for _, tc := range []struct {
		p         *imagefamily.DefaultProvider
		nc        *v1beta1.AKSNodeClass
		arch, gen string
		want      string // "" = no image
	}{
		{p135, nc("", nil), "amd64", "2", ubuntu("2404gen2containerd", linuxNewest)},
		{p134, nc("", nil), "amd64", "V2", ubuntu("2204gen2containerd", linuxNewest)},
		{p135, nc(v1beta1.ImageFamilyUbuntu2204, nil), "amd64", "1", ubuntu("2204containerd", linuxNewest)},
		{p135, nc(v1beta1.ImageFamilyUbuntu2204, nil), "arm64", "2", ubuntu("2204gen2arm64containerd", linuxNewest)},
		{p135, nc(v1beta1.ImageFamilyUbuntu2204, nil), "arm64", "1", ""},
		{p135, nc(v1beta1.ImageFamilyUbuntu2204, cvm), "amd64", "2", ubuntu("2204gen2CVMcontainerd", linuxNewest)},
		{p135, nc(v1beta1.ImageFamilyUbuntu2204, cvm), "amd64", "1", ""},
		{p135, nc(v1beta1.ImageFamilyAzureLinux, nil), "arm64", "2", imagefamily.ImageID(imagefamily.GalleryAzureLinux, "V3gen2arm64", linuxNewest)},
		{p135, nc(v1beta1.ImageFamilyWindows2022, nil), "amd64", "2", imagefamily.ImageID(imagefamily.GalleryWindows, "windows-2022-containerd-gen2", win2022Newest)},
		{p135, nc(v1beta1.ImageFamilyWindows2022, nil), "arm64", "2", ""},
		{p135, nc(v1beta1.ImageFamilyWindows2025, nil), "amd64", "1", ""},
		{p135, nc(v1beta1.ImageFamilyWindows2025, nil), "amd64", "2", imagefamily.ImageID(imagefamily.GalleryWindows, "windows-2025-gen2", win2025Newest)},
	} {
		img, err := tc.p.Resolve(ctx, tc.nc, tc.arch, tc.gen)
		if tc.want == "" {
			if err == nil || imagefamily.Reason(err) != imagefamily.ReasonNoImage {
				t.Errorf("%s %s gen%s: got %s %v, want no image", tc.nc.GetImageFamily(), tc.arch, tc.gen, img.ID, err)
			}
			continue
		}
		if err != nil || img.ID != tc.want {
			t.Errorf("%s %s gen%s: got %q %v, want %s", tc.nc.GetImageFamily(), tc.arch, tc.gen, img.ID, err, tc.want)
			continue
		}
		if imagefamily.NodeImageVersion(img.ID) != img.NodeImageVersion || !strings.HasSuffix(img.NodeImageVersion, "-"+img.Definition+"-"+img.Version) {
			t.Errorf("node image version %q of %s", img.NodeImageVersion, img.ID)
		}
	}
}

func trustedLaunch(n *v1beta1.AKSNodeClass) {
	n.Spec.Security = &v1beta1.Security{TrustedLaunch: &v1beta1.TrustedLaunch{VTPM: to.Ptr(true)}}
}

// Trusted Launch VMs boot only from the definitions AKS publishes with the
// Trusted Launch feature, one per Linux family, Gen2 x64.
func TestTrustedLaunchUsesAKSsTrustedLaunchDefinitions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, azuresim.Options{})
	p135 := w.provider(imagefamily.Options{})
	p134 := w.provider(imagefamily.Options{KubernetesVersion: fixedVersion("v1.34.2")})
	for _, tc := range []struct {
		p         *imagefamily.DefaultProvider
		family    string
		arch, gen string
		want      string
	}{
		{p135, "", "amd64", "2", ubuntu("2404gen2TLcontainerd", linuxNewest)},
		{p134, "", "amd64", "2", ubuntu("2204gen2TLcontainerd", linuxNewest)},
		{p135, v1beta1.ImageFamilyUbuntu2204, "amd64", "2", ubuntu("2204gen2TLcontainerd", linuxNewest)},
		{p135, v1beta1.ImageFamilyUbuntu2404, "amd64", "2", ubuntu("2404gen2TLcontainerd", linuxNewest)},
		{p135, v1beta1.ImageFamilyAzureLinux, "amd64", "2", imagefamily.ImageID(imagefamily.GalleryAzureLinux, "V3gen2TL", linuxNewest)},
		// Trusted Launch is Gen2 and x64 only.
		{p135, v1beta1.ImageFamilyUbuntu2204, "amd64", "1", ""},
		{p135, v1beta1.ImageFamilyAzureLinux, "arm64", "2", ""},
	} {
		n := nc(tc.family, trustedLaunch)
		img, err := tc.p.Resolve(ctx, n, tc.arch, tc.gen)
		if tc.want == "" {
			if err == nil || imagefamily.Reason(err) != imagefamily.ReasonNoImage {
				t.Errorf("%s %s gen%s: got %s %v, want no image", n.GetImageFamily(), tc.arch, tc.gen, img.ID, err)
			}
			continue
		}
		if err != nil || img.ID != tc.want {
			t.Errorf("%s %s gen%s: got %q %v, want %s", n.GetImageFamily(), tc.arch, tc.gen, img.ID, err, tc.want)
		}
	}
	// Every image the NodeClass lists is a Trusted Launch one.
	images, err := p135.List(ctx, nc(v1beta1.ImageFamilyUbuntu2204, trustedLaunch))
	if err != nil || len(images) != 1 || !strings.Contains(images[0].ID, "/images/2204gen2TLcontainerd/") {
		t.Errorf("List = %+v %v, want only 2204gen2TLcontainerd", images, err)
	}
}

// What AKS does not publish in its community galleries is a NodeClass
// condition that says what to change, not a failed launch.
func TestUnpublishedImagesSayWhy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, azuresim.Options{})
	p := w.provider(imagefamily.Options{})
	for _, tc := range []struct {
		name          string
		nc            *v1beta1.AKSNodeClass
		reason, words string
	}{
		{"FIPS on Ubuntu2204", nc(v1beta1.ImageFamilyUbuntu2204, func(n *v1beta1.AKSNodeClass) { fips(n); trustedLaunch(n) }), imagefamily.ReasonFIPSNotPublished, "remove fipsMode"},
		{"FIPS on AzureLinux", nc(v1beta1.ImageFamilyAzureLinux, fips), imagefamily.ReasonFIPSNotPublished, "--enable-fips-image"},
		{"Trusted Launch on Windows2022", nc(v1beta1.ImageFamilyWindows2022, trustedLaunch), imagefamily.ReasonNoTrustedLaunchImage, "remove security.trustedLaunch or use a Linux imageFamily"},
		{"Trusted Launch on Windows2025", nc(v1beta1.ImageFamilyWindows2025, trustedLaunch), imagefamily.ReasonNoTrustedLaunchImage, "no Trusted Launch node image for Windows2025"},
	} {
		_, err := p.List(ctx, tc.nc)
		if imagefamily.Reason(err) != tc.reason || !strings.Contains(err.Error(), tc.words) {
			t.Errorf("%s: List error %v (reason %s), want %s saying %q", tc.name, err, imagefamily.Reason(err), tc.reason, tc.words)
		}
		if _, err := p.Resolve(ctx, tc.nc, "amd64", "2"); imagefamily.Reason(err) != tc.reason {
			t.Errorf("%s: Resolve error %v, want %s", tc.name, err, tc.reason)
		}
	}
	if n := w.listings(); n != 0 {
		t.Errorf("%d gallery listings for images that are known not to exist", n)
	}
}

func TestNewestIsByPublishingDateNotByName(t *testing.T) {
	t.Parallel()
	w := newWorld(t, azuresim.Options{})
	// A higher version number published long ago (a re-upload of an old
	// build), and a lower number published last.
	w.publish(imagefamily.GalleryUbuntu, "2404gen2containerd", "202612.01.0", azuresim.ImageVersionSpec{PublishedDate: to.Ptr(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))})
	w.publish(imagefamily.GalleryUbuntu, "2404gen2containerd", "202611.01.5", azuresim.ImageVersionSpec{PublishedDate: to.Ptr(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC))})
	if got := resolve(t, w.provider(imagefamily.Options{}), nc("", nil)); got != ubuntu("2404gen2containerd", "202611.01.5") {
		t.Errorf("resolved %s", got)
	}
}

func TestPagedListingFindsTheNewest(t *testing.T) {
	t.Parallel()
	// One version per page: the newest is on the last page.
	w := newWorld(t, azuresim.Options{PageSize: 1})
	p := w.provider(imagefamily.Options{})
	before := w.listings()
	if got := resolve(t, p, nc("", nil)); got != ubuntu("2404gen2containerd", linuxNewest) {
		t.Errorf("resolved %s", got)
	}
	if n := w.listings() - before; n != 3 {
		t.Errorf("%d list requests for 3 versions one per page, want 3", n)
	}
	// Cached: launches and drift checks do not list again.
	for range 20 {
		resolve(t, p, nc("", nil))
	}
	if n := w.listings() - before; n != 3 {
		t.Errorf("%d list requests after 20 more resolutions, want still 3", n)
	}
}

func TestExcludedAndEndOfLifeVersionsAreSkipped(t *testing.T) {
	t.Parallel()
	w := newWorld(t, azuresim.Options{})
	now := time.Now()
	w.publish(imagefamily.GalleryUbuntu, "2404gen2containerd", "202611.20.0", azuresim.ImageVersionSpec{PublishedDate: to.Ptr(now.Add(-2 * time.Hour)), ExcludeFromLatest: true})
	w.publish(imagefamily.GalleryUbuntu, "2404gen2containerd", "202611.21.0", azuresim.ImageVersionSpec{PublishedDate: to.Ptr(now.Add(-time.Hour)), EndOfLifeDate: to.Ptr(now.Add(-time.Minute))})
	p := w.provider(imagefamily.Options{})
	if got := resolve(t, p, nc("", nil)); got != ubuntu("2404gen2containerd", linuxNewest) {
		t.Errorf("resolved %s, want the newest version neither excluded nor past its end of life", got)
	}
	// An end of life still ahead does not disqualify a version.
	w.publish(imagefamily.GalleryUbuntu, "2404gen2containerd", "202611.22.0", azuresim.ImageVersionSpec{PublishedDate: to.Ptr(now.Add(-30 * time.Minute)), EndOfLifeDate: to.Ptr(now.Add(24 * time.Hour))})
	if err := p.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := resolve(t, p, nc("", nil)); got != ubuntu("2404gen2containerd", "202611.22.0") {
		t.Errorf("resolved %s", got)
	}
}

func TestPinnedVersions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, azuresim.Options{})
	p := w.provider(imagefamily.Options{LinuxVersion: linuxPrevious, WindowsVersion: "20348.4350.261029"})
	if got := resolve(t, p, nc("", nil)); got != ubuntu("2404gen2containerd", linuxPrevious) {
		t.Errorf("Ubuntu resolved %s", got)
	}
	if got := resolve(t, p, nc(v1beta1.ImageFamilyWindows2022, nil)); got != imagefamily.ImageID(imagefamily.GalleryWindows, "windows-2022-containerd-gen2", "20348.4350.261029") {
		t.Errorf("Windows 2022 resolved %s", got)
	}
	// Windows Server 2025 has its own pin; unset, the newest applies.
	if got := resolve(t, p, nc(v1beta1.ImageFamilyWindows2025, nil)); got != imagefamily.ImageID(imagefamily.GalleryWindows, "windows-2025-gen2", win2025Newest) {
		t.Errorf("Windows 2025 resolved %s", got)
	}
	// A newer version does not move a pinned image.
	w.publish(imagefamily.GalleryUbuntu, "2404gen2containerd", "202612.01.0", azuresim.ImageVersionSpec{})
	if err := p.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := resolve(t, p, nc("", nil)); got != ubuntu("2404gen2containerd", linuxPrevious) {
		t.Errorf("pinned image moved to %s", got)
	}

	missing := w.provider(imagefamily.Options{LinuxVersion: "199901.01.0"})
	_, err := missing.List(ctx, nc(v1beta1.ImageFamilyUbuntu2404, nil))
	var ie *imagefamily.ImageError
	if !errors.As(err, &ie) || ie.Reason != imagefamily.ReasonImageVersionNotFound || !strings.Contains(err.Error(), "pinned node image version 199901.01.0 of image definition 2404gen2containerd does not exist in community gallery "+imagefamily.GalleryUbuntu) {
		t.Errorf("missing pinned version: %v", err)
	}
	if err := w.sim.DeleteGalleryImage(imagefamily.GalleryUbuntu, "2404gen2arm64containerd"); err != nil {
		t.Fatal(err)
	}
	_, err = w.provider(imagefamily.Options{LinuxVersion: linuxNewest}).Resolve(ctx, nc(v1beta1.ImageFamilyUbuntu2404, nil), "arm64", "2")
	if imagefamily.Reason(err) != imagefamily.ReasonImageDefinitionNotFound {
		t.Errorf("pinned version of a missing definition: %v", err)
	}
}

// A pinned version older than the node-image floor leaves the NodeClass's
// images unresolved with a reason that names the floor: its provisioning
// would not read what the provider writes.
func TestPinnedVersionBelowTheFloor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, azuresim.Options{})
	for _, def := range []string{"2404gen2containerd", "2404containerd", "2404gen2arm64containerd"} {
		w.publish(imagefamily.GalleryUbuntu, def, "202511.07.0", azuresim.ImageVersionSpec{})
	}
	_, err := w.provider(imagefamily.Options{LinuxVersion: "202511.07.0"}).List(ctx, nc(v1beta1.ImageFamilyUbuntu2404, nil))
	var ie *imagefamily.ImageError
	if !errors.As(err, &ie) || ie.Reason != imagefamily.ReasonImageBelowFloor ||
		!strings.Contains(err.Error(), "pinned version 202511.07.0 of image definition 2404gen2containerd is older than the node-image floor 202511.12.0") {
		t.Errorf("pinned below the floor: %v", err)
	}
	// The floor itself is fine.
	for _, def := range []string{"2404gen2containerd", "2404containerd", "2404gen2arm64containerd"} {
		w.publish(imagefamily.GalleryUbuntu, def, "202511.12.0", azuresim.ImageVersionSpec{})
	}
	if _, err := w.provider(imagefamily.Options{LinuxVersion: "202511.12.0"}).List(ctx, nc(v1beta1.ImageFamilyUbuntu2404, nil)); err != nil {
		t.Errorf("pinned at the floor: %v", err)
	}
	// Windows: the first images that cache the CSE scripts package.
	w.publish(imagefamily.GalleryWindows, "windows-2022-containerd-gen2", "20348.3692.250510", azuresim.ImageVersionSpec{})
	_, err = w.provider(imagefamily.Options{WindowsVersion: "20348.3692.250510"}).Resolve(ctx, nc(v1beta1.ImageFamilyWindows2022, nil), "amd64", "2")
	if imagefamily.Reason(err) != imagefamily.ReasonImageBelowFloor || !strings.Contains(err.Error(), "build date 250615") {
		t.Errorf("Windows pinned below the floor: %v", err)
	}
}

// Pod sandboxing boots AKS's Kata image, which exists for Gen2 x64 only.
func TestKataImage(t *testing.T) {
	t.Parallel()
	w := newWorld(t, azuresim.Options{})
	p := w.provider(imagefamily.Options{})
	kata := func(n *v1beta1.AKSNodeClass) {
		n.Spec.WorkloadRuntime = to.Ptr(v1beta1.WorkloadRuntimeKataVMIsolation)
	}
	if got := resolve(t, p, nc(v1beta1.ImageFamilyAzureLinux, kata)); got != imagefamily.ImageID(imagefamily.GalleryAzureLinux, "V3katagen2", linuxNewest) {
		t.Errorf("Kata resolved %s", got)
	}
	// AKS publishes no Trusted Launch variant of the Kata image.
	if _, err := p.Resolve(context.Background(), nc(v1beta1.ImageFamilyAzureLinux, func(n *v1beta1.AKSNodeClass) { kata(n); trustedLaunch(n) }), "amd64", "2"); err == nil {
		t.Error("Kata with Trusted Launch resolved an image")
	}
	if gens := imagefamily.Generations(nc(v1beta1.ImageFamilyAzureLinux, kata), "amd64"); strings.Join(gens, ",") != "V2" {
		t.Errorf("Kata generations %v", gens)
	}
	for _, arch := range []string{"arm64"} {
		if _, err := p.Resolve(context.Background(), nc(v1beta1.ImageFamilyAzureLinux, kata), arch, "2"); imagefamily.Reason(err) != imagefamily.ReasonNoImage {
			t.Errorf("Kata on %s: %v", arch, err)
		}
	}
	// No FIPS image is in the community galleries at all.
	if _, err := p.Resolve(context.Background(), nc(v1beta1.ImageFamilyAzureLinux, func(n *v1beta1.AKSNodeClass) { kata(n); fips(n) }), "amd64", "2"); imagefamily.Reason(err) != imagefamily.ReasonFIPSNotPublished {
		t.Errorf("Kata with FIPS: %v", err)
	}
}

func TestMissingDefinitionOrVersionIsAnErrorNamingIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, azuresim.Options{})
	if err := w.sim.DeleteGalleryImage(imagefamily.GalleryUbuntu, "2404gen2arm64containerd"); err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(time.Now())
	p := w.provider(imagefamily.Options{Clock: clk})
	imgs, err := p.List(ctx, nc(v1beta1.ImageFamilyUbuntu2404, nil))
	var ie *imagefamily.ImageError
	if imgs != nil || !errors.As(err, &ie) || ie.Reason != imagefamily.ReasonImageDefinitionNotFound || ie.Definition != "2404gen2arm64containerd" ||
		!strings.Contains(err.Error(), "image definition 2404gen2arm64containerd does not exist in community gallery "+imagefamily.GalleryUbuntu+" (eastus)") {
		t.Fatalf("List: %v %v", imgs, err)
	}
	// The other definitions still resolve for sizes that need them.
	if got := resolve(t, p, nc(v1beta1.ImageFamilyUbuntu2404, nil)); got != ubuntu("2404gen2containerd", linuxNewest) {
		t.Errorf("amd64 resolved %s", got)
	}
	// A missing definition is not asked for again on every check.
	before := w.listings()
	for range 5 {
		if _, err := p.Resolve(ctx, nc(v1beta1.ImageFamilyUbuntu2404, nil), "arm64", "2"); imagefamily.Reason(err) != imagefamily.ReasonImageDefinitionNotFound {
			t.Fatalf("Resolve: %v", err)
		}
	}
	if n := w.listings() - before; n != 0 {
		t.Errorf("%d listings for a definition known missing", n)
	}
	clk.Step(2 * time.Minute)
	_, _ = p.Resolve(ctx, nc(v1beta1.ImageFamilyUbuntu2404, nil), "arm64", "2")
	if n := w.listings() - before; n != 1 {
		t.Errorf("%d listings a while later, want 1", n)
	}

	// A definition whose every version is gone: no version.
	for _, v := range []string{"202610.13.0", "202610.27.0", linuxNewest} {
		if err := w.sim.DeleteImageVersion(imagefamily.GalleryAzureLinux, "V3gen2", v); err != nil {
			t.Fatal(err)
		}
	}
	_, err = w.provider(imagefamily.Options{}).List(ctx, nc(v1beta1.ImageFamilyAzureLinux, nil))
	if imagefamily.Reason(err) != imagefamily.ReasonImageVersionNotFound || !strings.Contains(err.Error(), "image definition V3gen2 in community gallery "+imagefamily.GalleryAzureLinux+" (eastus) has no usable version: 0 listed") {
		t.Errorf("no versions: %v", err)
	}
}

func TestRefreshPicksUpANewVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, azuresim.Options{})
	p := w.provider(imagefamily.Options{})
	var changes atomic.Int32
	p.OnChange(func() { changes.Add(1) })
	if got := resolve(t, p, nc("", nil)); got != ubuntu("2404gen2containerd", linuxNewest) {
		t.Fatalf("resolved %s", got)
	}
	if _, err := p.List(ctx, nc(v1beta1.ImageFamilyAzureLinux, nil)); err != nil {
		t.Fatal(err)
	}
	// A refresh without news lists each definition in use once and
	// changes nothing.
	before := w.listings()
	if err := p.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// 2404gen2containerd, plus Azure Linux's V3gen2, V3 and V3gen2arm64.
	if n := w.listings() - before; n != 4 || changes.Load() != 0 {
		t.Errorf("refresh: %d listings, %d changes; want 4 and 0", n, changes.Load())
	}

	w.publish(imagefamily.GalleryUbuntu, "2404gen2containerd", "202611.24.0", azuresim.ImageVersionSpec{})
	if got := resolve(t, p, nc("", nil)); got != ubuntu("2404gen2containerd", linuxNewest) {
		t.Errorf("resolved %s before the refresh: the cache answers until then", got)
	}
	if err := p.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := resolve(t, p, nc("", nil)); got != ubuntu("2404gen2containerd", "202611.24.0") {
		t.Errorf("resolved %s after the refresh", got)
	}
	if changes.Load() != 1 {
		t.Errorf("%d change notifications, want 1", changes.Load())
	}
	imgs, err := p.List(ctx, nc("", nil))
	if err != nil || len(imgs) != 3 || imgs[0].ID != ubuntu("2404gen2containerd", "202611.24.0") {
		t.Errorf("List after the refresh: %+v %v", imgs, err)
	}
	for _, img := range imgs {
		if len(img.Requirements) != 2 || img.Requirements[0].Key != corev1.LabelArchStable || img.Requirements[1].Key != v1beta1.LabelSKUHyperVGeneration {
			t.Errorf("requirements of %s: %+v", img.ID, img.Requirements)
		}
	}
}

func TestAFailedListingKeepsTheLastKnownVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, azuresim.Options{})
	p := w.provider(imagefamily.Options{})
	if got := resolve(t, p, nc("", nil)); got != ubuntu("2404gen2containerd", linuxNewest) {
		t.Fatalf("resolved %s", got)
	}
	w.publish(imagefamily.GalleryUbuntu, "2404gen2containerd", "202611.24.0", azuresim.ImageVersionSpec{})
	if err := w.sim.UpdateConfig(func(c *azuresim.Config) {
		c.Errors = append(c.Errors, azuresim.ErrorRule{Operation: azuresim.OpListGalleryImageVersions, Code: "ServiceUnavailable"})
	}); err != nil {
		t.Fatal(err)
	}
	err := p.Refresh(ctx)
	if imagefamily.Reason(err) != imagefamily.ReasonImageListingFailed || !strings.Contains(err.Error(), "listing versions of image definition 2404gen2containerd in community gallery "+imagefamily.GalleryUbuntu+" (eastus): Azure answered 503 ServiceUnavailable") {
		t.Errorf("refresh during an outage: %v", err)
	}
	if got := resolve(t, p, nc("", nil)); got != ubuntu("2404gen2containerd", linuxNewest) {
		t.Errorf("resolved %s during the outage, want the last known version", got)
	}
	if imgs, err := p.List(ctx, nc("", nil)); err == nil {
		t.Errorf("List during the outage succeeded for definitions never resolved: %+v", imgs)
	} else if imagefamily.Reason(err) != imagefamily.ReasonImageListingFailed {
		t.Errorf("List during the outage: %v", err)
	}
	if err := w.sim.UpdateConfig(func(c *azuresim.Config) { c.Errors = nil }); err != nil {
		t.Fatal(err)
	}
	if err := p.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := resolve(t, p, nc("", nil)); got != ubuntu("2404gen2containerd", "202611.24.0") {
		t.Errorf("resolved %s after the outage", got)
	}
}

func TestNodeImageVersion(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]string{
		ubuntu("2204gen2containerd", "202611.10.0"): "AKSUbuntu-2204gen2containerd-202611.10.0",
		"/CommunityGalleries/AKSWindows-cf00e6e0-d245-4a4e-8d8e-6ed6a3f7a8e8/Images/windows-2025-gen2/Versions/26100.7171.261112": "AKSWindows-windows-2025-gen2-26100.7171.261112",
		"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i/versions/1.0.0":                      "",
	} {
		if got := imagefamily.NodeImageVersion(id); got != want {
			t.Errorf("NodeImageVersion(%s) = %q, want %q", id, got, want)
		}
	}
}
