package imagefamily_test

import (
	"context"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	corev1 "k8s.io/api/core/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
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

func TestResolve(t *testing.T) {
	ctx := context.Background()
	p135 := imagefamily.NewDefaultProvider(imagefamily.Options{KubernetesVersion: fixedVersion("v1.35.1")})
	p134 := imagefamily.NewDefaultProvider(imagefamily.Options{KubernetesVersion: fixedVersion("v1.34.2"), LinuxVersion: "202601.01.0"})
	for _, tc := range []struct {
		p         *imagefamily.DefaultProvider
		nc        *v1beta1.AKSNodeClass
		arch, gen string
		want      string // "" = no image
	}{
		{p135, nc("", nil), "amd64", "2", "/CommunityGalleries/" + imagefamily.GalleryUbuntu + "/images/2404gen2containerd/versions/" + imagefamily.DefaultLinuxVersion},
		{p134, nc("", nil), "amd64", "V2", "/CommunityGalleries/" + imagefamily.GalleryUbuntu + "/images/2204gen2containerd/versions/202601.01.0"},
		{p135, nc(v1beta1.ImageFamilyUbuntu2204, nil), "amd64", "1", "/CommunityGalleries/" + imagefamily.GalleryUbuntu + "/images/2204containerd/versions/" + imagefamily.DefaultLinuxVersion},
		{p135, nc(v1beta1.ImageFamilyUbuntu2204, nil), "arm64", "2", "/CommunityGalleries/" + imagefamily.GalleryUbuntu + "/images/2204gen2arm64containerd/versions/" + imagefamily.DefaultLinuxVersion},
		{p135, nc(v1beta1.ImageFamilyUbuntu2204, nil), "arm64", "1", ""},
		{p135, nc("", fips), "amd64", "2", "/CommunityGalleries/" + imagefamily.GalleryUbuntu + "/images/2204gen2fipscontainerd/versions/" + imagefamily.DefaultLinuxVersion},
		{p135, nc(v1beta1.ImageFamilyUbuntu2404, fips), "amd64", "2", ""},
		{p135, nc(v1beta1.ImageFamilyUbuntu2204, cvm), "amd64", "2", "/CommunityGalleries/" + imagefamily.GalleryUbuntu + "/images/2204gen2CVMcontainerd/versions/" + imagefamily.DefaultLinuxVersion},
		{p135, nc(v1beta1.ImageFamilyUbuntu2204, cvm), "amd64", "1", ""},
		{p135, nc(v1beta1.ImageFamilyAzureLinux, nil), "arm64", "2", "/CommunityGalleries/" + imagefamily.GalleryAzureLinux + "/images/V3gen2arm64/versions/" + imagefamily.DefaultLinuxVersion},
		{p135, nc(v1beta1.ImageFamilyAzureLinux, fips), "amd64", "1", "/CommunityGalleries/" + imagefamily.GalleryAzureLinux + "/images/V3fips/versions/" + imagefamily.DefaultLinuxVersion},
		{p135, nc(v1beta1.ImageFamilyWindows2022, nil), "amd64", "2", "/CommunityGalleries/" + imagefamily.GalleryWindows + "/images/windows-2022-containerd-gen2/versions/" + imagefamily.DefaultWindowsVersion},
		{p135, nc(v1beta1.ImageFamilyWindows2022, nil), "arm64", "2", ""},
		{p135, nc(v1beta1.ImageFamilyWindows2025, nil), "amd64", "1", ""},
		{p135, nc(v1beta1.ImageFamilyWindows2025, nil), "amd64", "2", "/CommunityGalleries/" + imagefamily.GalleryWindows + "/images/windows-2025-gen2/versions/" + imagefamily.DefaultWindows2025Version},
	} {
		img, err := tc.p.Resolve(ctx, tc.nc, tc.arch, tc.gen)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s %s gen%s: got %s, want no image", tc.nc.GetImageFamily(), tc.arch, tc.gen, img.ID)
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

func TestVersionChangeIsDrift(t *testing.T) {
	ctx := context.Background()
	a, _ := imagefamily.NewDefaultProvider(imagefamily.Options{LinuxVersion: "202601.01.0"}).Resolve(ctx, nc("", nil), "amd64", "2")
	b, _ := imagefamily.NewDefaultProvider(imagefamily.Options{LinuxVersion: "202602.01.0"}).Resolve(ctx, nc("", nil), "amd64", "2")
	if a.ID == b.ID || a.NodeImageVersion == b.NodeImageVersion {
		t.Fatalf("version change kept %s", a.ID)
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	p := imagefamily.NewDefaultProvider(imagefamily.Options{KubernetesVersion: fixedVersion("v1.35.0")})
	imgs, err := p.List(ctx, nc(v1beta1.ImageFamilyUbuntu2204, nil))
	if err != nil {
		t.Fatal(err)
	}
	// amd64 Gen2 + Gen1, arm64 Gen2.
	if len(imgs) != 3 {
		t.Fatalf("%d images: %+v", len(imgs), imgs)
	}
	for _, img := range imgs {
		var arch, gen string
		for _, r := range img.Requirements {
			if r.Operator != corev1.NodeSelectorOpIn || len(r.Values) != 1 {
				t.Errorf("requirement %+v", r)
			}
			switch r.Key {
			case corev1.LabelArchStable:
				arch = r.Values[0]
			case v1beta1.LabelSKUHyperVGeneration:
				gen = r.Values[0]
			}
		}
		got, err := p.Resolve(ctx, nc(v1beta1.ImageFamilyUbuntu2204, nil), arch, gen)
		if err != nil || got.ID != img.ID {
			t.Errorf("image %s listed for %s gen%s, Resolve says %s %v", img.ID, arch, gen, got.ID, err)
		}
	}
	if _, err := p.List(ctx, nc(v1beta1.ImageFamilyUbuntu2404, fips)); err == nil {
		t.Error("FIPS Ubuntu 24.04 listed images")
	}
	win, _ := p.List(ctx, nc(v1beta1.ImageFamilyWindows2025, nil))
	if len(win) != 1 {
		t.Errorf("Windows 2025 images: %+v", win)
	}
}

func fixedVersion(v string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return v, nil }
}
