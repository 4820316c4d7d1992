package instance_test

import (
	"context"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instance"
	"github.com/azkarpenter/azkarpenter/pkg/providers/launchtemplate"
	"github.com/azkarpenter/azkarpenter/pkg/providers/refusals"
)

// withImage launches from another image than the NodeClass's, as a
// controller that chose the wrong definition would.
type withImage struct {
	launchtemplate.Provider
	definition string
}

func (w withImage) Build(ctx context.Context, in launchtemplate.Input) (*launchtemplate.LaunchSpec, error) {
	spec, err := w.Provider.Build(ctx, in)
	if err == nil {
		spec.Image.ID = strings.Replace(spec.Image.ID, "/images/"+spec.Image.Definition+"/", "/images/"+w.definition+"/", 1)
	}
	return spec, err
}

// refusalEnv is env with refusal marks and, optionally, a launch template
// provider that launches from another definition.
func refusalEnv(t *testing.T, definition string, edit func(*azuresim.Config)) (*env, *refusals.Marks) {
	e := newEnv(t, edit)
	marks := refusals.NewMarks(e.clock)
	e.opts.Refusals = marks
	var launch launchtemplate.Provider = e.launch
	if definition != "" {
		launch = withImage{Provider: e.launch, definition: definition}
	}
	e.provider = instance.NewDefaultProviderFromClients(e.opts, e.clients, e.skus, launch, e.cache, e.quota)
	return e, marks
}

func trustedLaunchClass() *v1beta1.AKSNodeClass {
	return nodeClass(func(nc *v1beta1.AKSNodeClass) {
		nc.Name, nc.Generation = "trusted", 4
		nc.Spec.ImageFamily = to.Ptr(v1beta1.ImageFamilyUbuntu2204)
		nc.Spec.Security = &v1beta1.Security{TrustedLaunch: &v1beta1.TrustedLaunch{VTPM: to.Ptr(true)}}
	})
}

// Compute refuses a Trusted Launch VM from a definition without the Trusted
// Launch feature. The refusal is the NodeClass's: it goes not Ready with
// Azure's message, the NIC made for the VM goes, and no further launch for
// the NodeClass reaches Azure until it changes.
func TestImageRefusalIsANodeClassConditionNotARetry(t *testing.T) {
	e, marks := refusalEnv(t, "2204gen2containerd", nil)
	nc := trustedLaunchClass()
	its := e.instanceTypes(nc)
	_, err := e.provider.Create(e.ctx, nc, nodeClaim([]string{"Standard_D2s_v5"}, []string{karpv1.CapacityTypeOnDemand}), its)
	if !cloudprovider.IsNodeClassNotReadyError(err) {
		t.Fatalf("Create = %v, want NodeClassNotReadyError", err)
	}
	rs := marks.Of(nc.Name, nc.Generation)
	if len(rs) != 1 || rs[0].ConditionType != v1beta1.ConditionTypeImagesReady || rs[0].Reason != imagefamily.ReasonImageRefused ||
		!strings.Contains(rs[0].Message, "Use of TrustedLaunch setting is not supported for the provided image") ||
		!strings.Contains(rs[0].Message, "/images/2204gen2containerd/") {
		t.Fatalf("refusals %+v", rs)
	}
	e.expectNoLeaks()
	if st := e.state(); len(st.NICs) != 0 || len(st.VMs) != 0 {
		t.Errorf("left %d NICs and %d VMs", len(st.NICs), len(st.VMs))
	}
	puts := e.sim.Stats().Operations[azuresim.OpPutVM].Requests
	nicPuts := e.sim.Stats().Operations[azuresim.OpPutNIC].Requests
	for range 3 {
		if _, err := e.provider.Create(e.ctx, nc, nodeClaim([]string{"Standard_D2s_v5"}, []string{karpv1.CapacityTypeOnDemand}), its); !cloudprovider.IsNodeClassNotReadyError(err) {
			t.Fatalf("Create after the refusal = %v, want NodeClassNotReadyError", err)
		}
	}
	if got := e.sim.Stats().Operations[azuresim.OpPutVM].Requests; got != puts {
		t.Errorf("%d more VM PUTs after the refusal", got-puts)
	}
	if got := e.sim.Stats().Operations[azuresim.OpPutNIC].Requests; got != nicPuts {
		t.Errorf("%d more NIC PUTs after the refusal", got-nicPuts)
	}
	// An edit of the NodeClass is the fix: the refusal is about the old spec.
	nc.Generation++
	if len(marks.Of(nc.Name, nc.Generation)) != 0 {
		t.Error("the refusal outlived the edit")
	}
}

// With the definitions AKS publishes for it, Trusted Launch launches.
func TestTrustedLaunchLaunchesFromTheTrustedLaunchDefinition(t *testing.T) {
	e, marks := refusalEnv(t, "", nil)
	nc := trustedLaunchClass()
	inst, err := e.provider.Create(e.ctx, nc, nodeClaim([]string{"Standard_D2s_v5"}, []string{karpv1.CapacityTypeOnDemand}), e.instanceTypes(nc))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(inst.ImageID, "/images/2204gen2TLcontainerd/") || len(marks.Of(nc.Name, nc.Generation)) != 0 {
		t.Errorf("image %s, refusals %v", inst.ImageID, marks.Of(nc.Name, nc.Generation))
	}
}

// An image that is gone from the region (GalleryImageNotFound, 404) is the
// NodeClass's too.
func TestMissingImageIsANodeClassCondition(t *testing.T) {
	e, marks := refusalEnv(t, "", nil)
	nc := trustedLaunchClass()
	its := e.instanceTypes(nc)
	if _, err := e.images.Resolve(e.ctx, nc, "amd64", "2"); err != nil {
		t.Fatal(err)
	}
	// AKS withdrew the definition after the controller resolved it.
	if err := e.sim.DeleteGalleryImage(imagefamily.GalleryUbuntu, "2204gen2TLcontainerd"); err != nil {
		t.Fatal(err)
	}
	_, err := e.provider.Create(e.ctx, nc, nodeClaim([]string{"Standard_D2s_v5"}, []string{karpv1.CapacityTypeOnDemand}), its)
	if !cloudprovider.IsNodeClassNotReadyError(err) {
		t.Fatalf("Create = %v, want NodeClassNotReadyError", err)
	}
	if rs := marks.Of(nc.Name, nc.Generation); len(rs) != 1 || rs[0].ConditionType != v1beta1.ConditionTypeImagesReady || !strings.Contains(rs[0].Message, "GalleryImageNotFound") {
		t.Errorf("refusals %+v", rs)
	}
	e.expectNoLeaks()
}

// A refusal that names the size tried (here injected as Compute words a
// size without Trusted Launch) marks the size, and another size launches.
func TestSizeRefusalMarksTheSize(t *testing.T) {
	e, marks := refusalEnv(t, "", func(c *azuresim.Config) {
		c.Errors = []azuresim.ErrorRule{{Operation: azuresim.OpPutVM, SKU: "Standard_D2s_v5", Code: "BadRequest", Status: 400,
			Message: "The VM size 'Standard_D2s_v5' is not supported for creation of VMs and Virtual Machine Scale Set with 'TrustedLaunch' security type. For more information, see https://aka.ms/TrustedLaunch-FAQ"}}
	})
	nc := trustedLaunchClass()
	its := e.instanceTypes(nc)
	sizes := []string{"Standard_D2s_v5", "Standard_D4s_v5"}
	_, err := e.provider.Create(e.ctx, nc, nodeClaim(sizes, []string{karpv1.CapacityTypeOnDemand}), its)
	if !cloudprovider.IsInsufficientCapacityError(err) {
		t.Fatalf("Create = %v, want InsufficientCapacityError", err)
	}
	e.expectUnavailable("Standard_D2s_v5", "eastus-1", karpv1.CapacityTypeOnDemand, true)
	e.expectUnavailable("Standard_D2s_v5", "eastus-2", karpv1.CapacityTypeSpot, true)
	if len(marks.Of(nc.Name, nc.Generation)) != 0 {
		t.Error("a size refusal marked the NodeClass")
	}
	inst, err := e.provider.Create(e.ctx, nc, nodeClaim(sizes, []string{karpv1.CapacityTypeOnDemand}), its)
	if err != nil || inst.InstanceType != "Standard_D4s_v5" {
		t.Fatalf("second Create = %v %v, want Standard_D4s_v5", inst, err)
	}
	e.expectNoLeaks()
}
