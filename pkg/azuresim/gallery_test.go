package azuresim_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
)

func galleryClients(t *testing.T, e *env) (*armcompute.CommunityGalleryImagesClient, *armcompute.CommunityGalleryImageVersionsClient) {
	t.Helper()
	co := e.srv.ClientOptions()
	// Errors surface as they are answered, not retried away.
	co.Retry = policy.RetryOptions{MaxRetries: -1}
	f, err := armcompute.NewClientFactory(testSub, e.srv.Credential(), co)
	if err != nil {
		t.Fatal(err)
	}
	return f.NewCommunityGalleryImagesClient(), f.NewCommunityGalleryImageVersionsClient()
}

func listVersions(t *testing.T, e *env, versions *armcompute.CommunityGalleryImageVersionsClient, gallery, image string) (out []*armcompute.CommunityGalleryImageVersion, pages int) {
	t.Helper()
	pager := versions.NewListPager("eastus", gallery, image, nil)
	for pager.More() {
		page, err := pager.NextPage(e.ctx)
		if err != nil {
			t.Fatalf("listing %s/%s: %v", gallery, image, err)
		}
		pages++
		out = append(out, page.Value...)
	}
	return out, pages
}

func TestCommunityGalleryReadsThroughSDK(t *testing.T) {
	e := newEnv(t, withPageSize(2))
	images, versions := galleryClients(t, e)

	got, pages := listVersions(t, e, versions, azuresim.GalleryAKSUbuntu, "2404gen2containerd")
	names := lo.Map(got, func(v *armcompute.CommunityGalleryImageVersion, _ int) string { return *v.Name })
	if strings.Join(names, ",") != "202610.13.0,202610.27.0,202611.10.0" || pages != 2 {
		t.Fatalf("versions %v in %d pages, want 3 in 2 pages of 2", names, pages)
	}
	v := got[2]
	if p := v.Properties; p == nil || p.PublishedDate == nil || !p.PublishedDate.Equal(time.Date(2026, 11, 10, 6, 0, 0, 0, time.UTC)) ||
		p.ExcludeFromLatest == nil || *p.ExcludeFromLatest || p.EndOfLifeDate != nil ||
		p.StorageProfile == nil || p.StorageProfile.OSDiskImage == nil || lo.FromPtr(p.StorageProfile.OSDiskImage.DiskSizeGB) != 30 {
		t.Errorf("version properties %+v", v.Properties)
	}
	if id := lo.FromPtr(v.Identifier.UniqueID); id != "/CommunityGalleries/"+azuresim.GalleryAKSUbuntu+"/Images/2404gen2containerd/Versions/202611.10.0" {
		t.Errorf("unique ID %s", id)
	}

	one, err := versions.Get(e.ctx, "eastus", azuresim.GalleryAKSAzureLinux, "V3gen2", "202610.27.0", nil)
	if err != nil || *one.Name != "202610.27.0" {
		t.Fatalf("get version: %v %+v", err, one)
	}

	for _, tc := range []struct {
		image     string
		gen       armcompute.HyperVGeneration
		arch      armcompute.Architecture
		os        armcompute.OperatingSystemTypes
		security  string
		gallery   string
		versionOf string
	}{
		{"2204gen2TLcontainerd", armcompute.HyperVGenerationV2, armcompute.ArchitectureX64, armcompute.OperatingSystemTypesLinux, "TrustedLaunch", azuresim.GalleryAKSUbuntu, ""},
		{"2404gen2arm64containerd", armcompute.HyperVGenerationV2, armcompute.ArchitectureArm64, armcompute.OperatingSystemTypesLinux, "", azuresim.GalleryAKSUbuntu, ""},
		{"2204containerd", armcompute.HyperVGenerationV1, armcompute.ArchitectureX64, armcompute.OperatingSystemTypesLinux, "", azuresim.GalleryAKSUbuntu, ""},
		{"2404gen2CVMcontainerd", armcompute.HyperVGenerationV2, armcompute.ArchitectureX64, armcompute.OperatingSystemTypesLinux, "ConfidentialVMSupported", azuresim.GalleryAKSUbuntu, ""},
		{"V3gen2TL", armcompute.HyperVGenerationV2, armcompute.ArchitectureX64, armcompute.OperatingSystemTypesLinux, "TrustedLaunch", azuresim.GalleryAKSAzureLinux, ""},
		{"windows-2025-gen2", armcompute.HyperVGenerationV2, armcompute.ArchitectureX64, armcompute.OperatingSystemTypesWindows, "", azuresim.GalleryAKSWindows, "26100.7171.261112"},
	} {
		def, err := images.Get(e.ctx, "eastus", tc.gallery, tc.image, nil)
		if err != nil {
			t.Errorf("get %s: %v", tc.image, err)
			continue
		}
		p := def.Properties
		security := ""
		for _, f := range p.Features {
			if lo.FromPtr(f.Name) == "SecurityType" {
				security = lo.FromPtr(f.Value)
			}
		}
		if *p.HyperVGeneration != tc.gen || *p.Architecture != tc.arch || *p.OSType != tc.os || security != tc.security || lo.FromPtr(p.Identifier.SKU) != tc.image {
			t.Errorf("%s: gen %s arch %s os %s security %q identifier %+v", tc.image, *p.HyperVGeneration, *p.Architecture, *p.OSType, security, p.Identifier)
		}
		if tc.versionOf != "" {
			vs, _ := listVersions(t, e, versions, tc.gallery, tc.image)
			if *vs[len(vs)-1].Name != tc.versionOf {
				t.Errorf("%s newest version %s, want %s", tc.image, *vs[len(vs)-1].Name, tc.versionOf)
			}
		}
	}

	// What does not exist is a 404 NotFound, as Compute answers.
	for _, call := range []func() error{
		func() error {
			_, err := images.Get(e.ctx, "eastus", "NoSuchGallery-0000", "2204gen2containerd", nil)
			return err
		},
		func() error {
			_, err := images.Get(e.ctx, "eastus", azuresim.GalleryAKSUbuntu, "1804gen2containerd", nil)
			return err
		},
		func() error {
			_, err := versions.Get(e.ctx, "eastus", azuresim.GalleryAKSUbuntu, "2404gen2containerd", "199901.01.0", nil)
			return err
		},
		func() error {
			_, err := versions.NewListPager("eastus", azuresim.GalleryAKSUbuntu, "1804gen2containerd", nil).NextPage(e.ctx)
			return err
		},
	} {
		if re := respErr(t, call()); re.StatusCode != http.StatusNotFound || re.ErrorCode != "NotFound" {
			t.Errorf("missing resource: %d %s", re.StatusCode, re.ErrorCode)
		}
	}
	if st := e.srv.Stats().Operations[azuresim.OpListGalleryImageVersions]; st.Requests < 3 || st.Errors != 1 {
		t.Errorf("list stats %+v", st)
	}
}

func TestCommunityGalleryListingErrorsCanBeInjected(t *testing.T) {
	e := newEnv(t, withConfig(func(c *azuresim.Config) {
		c.Errors = append(c.Errors, azuresim.ErrorRule{Operation: azuresim.OpListGalleryImageVersions, Code: "InternalServerError", Count: 1})
	}))
	_, versions := galleryClients(t, e)
	_, err := versions.NewListPager("eastus", azuresim.GalleryAKSUbuntu, "2404gen2containerd", nil).NextPage(e.ctx)
	if re := respErr(t, err); re.StatusCode != http.StatusInternalServerError {
		t.Fatalf("injected error: %v", err)
	}
	if vs, _ := listVersions(t, e, versions, azuresim.GalleryAKSUbuntu, "2404gen2containerd"); len(vs) != 3 {
		t.Errorf("after the injected error: %d versions", len(vs))
	}
}

func TestPublishAndRemoveImageVersions(t *testing.T) {
	e := newEnv(t)
	_, versions := galleryClients(t, e)
	// Through the admin API, as the e2e suites do it.
	if st := e.admin("PUT", "/admin/galleries/"+azuresim.GalleryAKSUbuntu+"/images/2404gen2containerd/versions/202611.24.0",
		`{"publishedDate":"2026-11-24T06:00:00Z","excludeFromLatest":true}`, nil); st != 204 {
		t.Fatalf("publish: %d", st)
	}
	vs, _ := listVersions(t, e, versions, azuresim.GalleryAKSUbuntu, "2404gen2containerd")
	last := vs[len(vs)-1]
	if *last.Name != "202611.24.0" || !*last.Properties.ExcludeFromLatest || !last.Properties.PublishedDate.Equal(time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)) {
		t.Errorf("published version %+v", last.Properties)
	}
	for path, want := range map[string]int{
		"/admin/galleries/" + azuresim.GalleryAKSUbuntu + "/images/1804containerd/versions/1.0.0":      404,
		"/admin/galleries/" + azuresim.GalleryAKSUbuntu + "/images/2404gen2containerd/versions/latest": 400,
	} {
		if st := e.admin("PUT", path, "", nil); st != want {
			t.Errorf("PUT %s: %d, want %d", path, st, want)
		}
	}
	if st := e.admin("DELETE", "/admin/galleries/"+azuresim.GalleryAKSUbuntu+"/images/2404gen2containerd/versions/202610.13.0", "", nil); st != 204 {
		t.Fatalf("delete version: %d", st)
	}
	if vs, _ := listVersions(t, e, versions, azuresim.GalleryAKSUbuntu, "2404gen2containerd"); len(vs) != 3 || *vs[0].Name != "202610.27.0" {
		t.Errorf("after delete: %v", lo.Map(vs, func(v *armcompute.CommunityGalleryImageVersion, _ int) string { return *v.Name }))
	}
	if st := e.admin("DELETE", "/admin/galleries/"+azuresim.GalleryAKSUbuntu+"/images/2404gen2containerd", "", nil); st != 204 {
		t.Fatalf("delete definition: %d", st)
	}
	var state []azuresim.GalleryImageState
	e.admin("GET", "/admin/galleries", "", &state)
	if len(state) == 0 || lo.ContainsBy(state, func(s azuresim.GalleryImageState) bool { return s.Image == "2404gen2containerd" }) {
		t.Errorf("gallery state after deleting the definition: %d images", len(state))
	}
	// A reset restores the published galleries.
	e.srv.Reset()
	if vs, _ := listVersions(t, e, versions, azuresim.GalleryAKSUbuntu, "2404gen2containerd"); len(vs) != 3 {
		t.Errorf("after reset: %d versions", len(vs))
	}
}

func TestAdminClientPublishesImageVersions(t *testing.T) {
	dir := t.TempDir()
	cfg := fastConfig()
	srv, err := azuresim.NewServer(azuresim.Options{Config: &cfg, CertDir: dir, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if err := os.WriteFile(filepath.Join(dir, "admin-token"), []byte(srv.AdminToken()), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := azuresim.NewAdminClient(srv.URL(), dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.PublishImageVersion(ctx, azuresim.GalleryAKSAzureLinux, "V3gen2", "202612.01.0", azuresim.ImageVersionSpec{}); err != nil {
		t.Fatal(err)
	}
	if err := c.PublishImageVersion(ctx, azuresim.GalleryAKSAzureLinux, "V9", "202612.01.0", azuresim.ImageVersionSpec{}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("publishing to a missing definition: %v", err)
	}
	state, err := c.GalleryImages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v3, ok := lo.Find(state, func(s azuresim.GalleryImageState) bool { return s.Image == "V3gen2" })
	if !ok || len(v3.Versions) != 4 || v3.Versions[3].Name != "202612.01.0" || time.Since(v3.Versions[3].PublishedDate) > time.Minute {
		t.Errorf("V3gen2 after publishing: %+v", v3)
	}
	if err := c.DeleteImageVersion(ctx, azuresim.GalleryAKSAzureLinux, "V3gen2", "202612.01.0"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteGalleryImage(ctx, azuresim.GalleryAKSAzureLinux, "V3gen2"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteGalleryImage(ctx, azuresim.GalleryAKSAzureLinux, "V3gen2"); err == nil {
		t.Error("deleting a deleted definition succeeded")
	}
	srv.HTTPClient().CloseIdleConnections()
}

func TestVMPutValidatesTheGalleryImage(t *testing.T) {
	e := newEnv(t, noRetries())
	subnet := e.network("eastus", "10.3.0.0/24")
	image := func(gallery, def, version string) string {
		return "/CommunityGalleries/" + gallery + "/images/" + def + "/versions/" + version
	}
	ubuntu := func(def, version string) string { return image(azuresim.GalleryAKSUbuntu, def, version) }

	vm := e.mustCreateVM(vmSpec{name: "ok", size: "Standard_D2s_v5", location: "eastus", zone: "1", imageID: ubuntu("2404gen2containerd", "202611.10.0")}, subnet)
	got, err := e.vms.Get(e.ctx, testRG, *vm.Name, &armcompute.VirtualMachinesClientGetOptions{Expand: lo.ToPtr(armcompute.InstanceViewTypesInstanceView)})
	if err != nil || *got.Properties.InstanceView.HyperVGeneration != armcompute.HyperVGenerationTypeV2 {
		t.Errorf("instance view generation: %v %v", err, got.Properties.InstanceView)
	}
	gen1 := e.mustCreateVM(vmSpec{name: "gen1", size: "Standard_D2_v2", location: "eastus", zone: "1", imageID: ubuntu("2204containerd", "latest")}, subnet)
	got, _ = e.vms.Get(e.ctx, testRG, *gen1.Name, &armcompute.VirtualMachinesClientGetOptions{Expand: lo.ToPtr(armcompute.InstanceViewTypesInstanceView)})
	if *got.Properties.InstanceView.HyperVGeneration != armcompute.HyperVGenerationTypeV1 {
		t.Errorf("Gen1 VM reports generation %s", *got.Properties.InstanceView.HyperVGeneration)
	}
	e.mustCreateVM(vmSpec{name: "tl", size: "Standard_D2s_v5", location: "eastus", zone: "1", imageID: ubuntu("2204gen2TLcontainerd", "202611.10.0"), trustedLaunch: true}, subnet)
	e.mustCreateVM(vmSpec{name: "arm", size: "Standard_D2ps_v5", location: "eastus", zone: "1", imageID: image(azuresim.GalleryAKSAzureLinux, "V3gen2arm64", "202610.27.0")}, subnet)

	for _, tc := range []struct {
		name, size, imageID string
		status              int
		code, message       string
	}{
		{"noversion", "Standard_D2s_v5", ubuntu("2404gen2containerd", "199901.01.0"), 404, "GalleryImageNotFound",
			"The gallery image " + ubuntu("2404gen2containerd", "199901.01.0") + " is not available in eastus region. Please contact image owner to replicate to this region, or change your requested region."},
		{"nodef", "Standard_D2s_v5", ubuntu("1804gen2containerd", "202611.10.0"), 404, "GalleryImageNotFound", "is not available in eastus region"},
		{"nogallery", "Standard_D2s_v5", image("AKSNothing-0000", "2404gen2containerd", "202611.10.0"), 404, "GalleryImageNotFound", "is not available in eastus region"},
		{"armonx64", "Standard_D2s_v5", ubuntu("2404gen2arm64containerd", "202611.10.0"), 400, "BadRequest",
			"Cannot create a VM of size 'Standard_D2s_v5' because this VM size only supports a CPU Architecture of 'x64', but an image or disk with CPU Architecture 'Arm64' was given."},
		{"x64onarm", "Standard_D2ps_v5", ubuntu("2404gen2containerd", "202611.10.0"), 400, "BadRequest", "only supports a CPU Architecture of 'Arm64'"},
		{"gen1ongen2", "Standard_D2s_v6", ubuntu("2404containerd", "202611.10.0"), 400, "BadRequest",
			"The selected VM size 'Standard_D2s_v6' cannot boot Hypervisor Generation '1'. If this was a Create operation please check that the Hypervisor Generation of the Image matches the Hypervisor Generation of the selected VM Size."},
		{"gen2ongen1", "Standard_D2_v2", ubuntu("2404gen2containerd", "202611.10.0"), 400, "BadRequest", "cannot boot Hypervisor Generation '2'"},
		{"tlwithouttl", "Standard_D2s_v5", image(azuresim.GalleryAKSAzureLinux, "V3gen2TL", "202611.10.0"), 400, "BadRequest",
			"The provided gallery image only supports creation of VMs and VM Scale Sets with 'TrustedLaunch' security type."},
		{"malformed", "Standard_D2s_v5", "/CommunityGalleries/" + azuresim.GalleryAKSUbuntu + "/images/2404gen2containerd", 400, "InvalidParameter", "communityGalleryImageId"},
	} {
		_, putErr, _ := e.createVM(vmSpec{name: tc.name, size: tc.size, location: "eastus", zone: "1", imageID: tc.imageID}, subnet)
		if putErr == nil {
			t.Errorf("%s: VM PUT accepted", tc.name)
			continue
		}
		re := respErr(t, putErr)
		if re.StatusCode != tc.status || re.ErrorCode != tc.code || !strings.Contains(putErr.Error(), tc.message) {
			t.Errorf("%s: %d %s %v", tc.name, re.StatusCode, re.ErrorCode, putErr)
		}
	}
	// AKS's plain definitions carry no Trusted Launch feature: a Trusted
	// Launch VM needs the TL definition.
	for name, imageID := range map[string]string{
		"tlonstandard":   ubuntu("2204gen2containerd", "202611.10.0"),
		"tlonazurelinux": image(azuresim.GalleryAKSAzureLinux, "V3gen2", "202611.10.0"),
		"tloncvm":        ubuntu("2404gen2CVMcontainerd", "202611.10.0"),
	} {
		_, putErr, _ := e.createVM(vmSpec{name: name, size: "Standard_D2s_v5", location: "eastus", zone: "1", imageID: imageID, trustedLaunch: true}, subnet)
		if putErr == nil {
			t.Errorf("%s: Trusted Launch VM PUT accepted on %s", name, imageID)
			continue
		}
		const want = "Use of TrustedLaunch setting is not supported for the provided image. Please select Trusted Launch Supported Gen2 OS Image. For more information, see https://aka.ms/TrustedLaunch-FAQ."
		if re := respErr(t, putErr); re.StatusCode != http.StatusBadRequest || re.ErrorCode != "BadRequest" || errorMessage(t, re) != want {
			t.Errorf("%s: %d %s %q", name, re.StatusCode, re.ErrorCode, errorMessage(t, re))
		}
	}
}
