//go:build e2e

// Package azurerules checks, end to end, that what the provider sends to
// Azure is what Azure accepts where NAP's YAML would otherwise reach ARM
// unchanged: tag keys with '/' (ARM refuses them in tag names, so they are
// written with '_', as NAP does), tag keys ARM forbids (refused by the CRD
// before any VM), and Trusted Launch on every image family (AKS's Trusted
// Launch image definitions where AKS publishes one, a NodeClass condition
// where it does not). azuresim enforces ARM's tag and Trusted Launch rules
// on every PUT, so a wrong request fails these specs as Azure would fail it.
package azurerules

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/localcluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

var env *framework.Environment

func TestAzureRules(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "What real Azure accepts")
}

var _ = framework.Suite(&env, framework.Options{Name: "azurerules", TimeScale: 0})

var _ = Describe("tags", Label("fast"), func() {
	It("writes NAP's tag keys with '/' as '_' on the VM and its NIC, which ARM accepts", func(ctx SpecContext) {
		nodeClass := framework.NodeClass("tags-slash")
		nodeClass.Spec.Tags = map[string]string{"app.kubernetes.io/team": "payments", "cost-center": "4711"}
		pool := framework.NodePool("tags-slash", nodeClass.Name)
		env.Run(ctx, "tags-slash", 1, nodeClass, pool, framework.Deployment("tags-slash", "app", pool.Name, 1, "500m", "512Mi"))

		vms, err := env.VMsOf(ctx, pool.Name)
		Expect(err).NotTo(HaveOccurred())
		Expect(vms).To(HaveLen(1))
		vm := vms[0]
		Expect(vm.Tags).To(HaveKeyWithValue("app.kubernetes.io_team", "payments"))
		Expect(vm.Tags).To(HaveKeyWithValue("cost-center", "4711"))
		Expect(lo.Keys(vm.Tags)).NotTo(ContainElement(ContainSubstring("/")), "no tag name with '/' reaches ARM")
		st, err := env.Sim.State(ctx)
		Expect(err).NotTo(HaveOccurred())
		nic, ok := lo.Find(st.NICs, func(n azuresim.NICState) bool { return lo.Contains(vm.NICs, n.ID) })
		Expect(ok).To(BeTrue(), "VM %s has its NIC", vm.Name)
		Expect(nic.Tags).To(HaveKeyWithValue("app.kubernetes.io_team", "payments"))
		Expect(lo.Keys(nic.Tags)).NotTo(ContainElement(ContainSubstring("/")))
	}, SpecTimeout(6*time.Minute))

	It("refuses a tag key ARM forbids when the NodeClass is applied, before any VM", func(ctx SpecContext) {
		nodeClass := framework.NodeClass("tags-forbidden")
		nodeClass.Spec.Tags = map[string]string{"team<payments>": "x"}
		err := env.Client.Create(ctx, nodeClass)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("tag keys must not contain '<'"))
		Expect(err.Error()).To(ContainSubstring("'/' is allowed and written as '_'"))
	})
})

// trustedLaunch is one image family with security.trustedLaunch on, and the
// AKS image definition its nodes must boot ("" where AKS publishes none).
type trustedLaunch struct {
	family     string
	definition string
}

var trustedLaunchFamilies = []trustedLaunch{
	// Ubuntu follows the Kubernetes version (24.04 from 1.35).
	{family: v1beta1.ImageFamilyUbuntu, definition: "2404gen2TLcontainerd"},
	{family: v1beta1.ImageFamilyUbuntu2204, definition: "2204gen2TLcontainerd"},
	{family: v1beta1.ImageFamilyUbuntu2404, definition: "2404gen2TLcontainerd"},
	{family: v1beta1.ImageFamilyAzureLinux, definition: "V3gen2TL"},
	// "Trusted launch for AKS", Limitations: Windows Server nodes are not
	// supported; AKS publishes no Trusted Launch Windows definition.
	{family: v1beta1.ImageFamilyWindows2022},
	{family: v1beta1.ImageFamilyWindows2025},
}

var _ = Describe("Trusted Launch on each image family", Label("fast"), func() {
	for _, tl := range trustedLaunchFamilies {
		if tl.definition != "" {
			It(fmt.Sprintf("boots %s nodes from AKS's Trusted Launch image %s", tl.family, tl.definition), func(ctx SpecContext) {
				runTrustedLaunch(ctx, tl)
			}, SpecTimeout(6*time.Minute))
			continue
		}
		It(fmt.Sprintf("refuses %s with a NodeClass condition and launches no VM", tl.family), func(ctx SpecContext) {
			refuseTrustedLaunch(ctx, tl)
		}, SpecTimeout(3*time.Minute))
	}
})

func trustedLaunchNodeClass(family string) *v1beta1.AKSNodeClass {
	nodeClass := framework.NodeClass("tl-" + strings.ToLower(family))
	nodeClass.Spec.ImageFamily = lo.ToPtr(family)
	nodeClass.Spec.Security = &v1beta1.Security{TrustedLaunch: &v1beta1.TrustedLaunch{VTPM: lo.ToPtr(true), SecureBoot: lo.ToPtr(true)}}
	return nodeClass
}

func runTrustedLaunch(ctx context.Context, tl trustedLaunch) {
	nodeClass := trustedLaunchNodeClass(tl.family)
	pool := framework.NodePool(nodeClass.Name, nodeClass.Name)
	env.Run(ctx, nodeClass.Name, 1, nodeClass, pool, framework.Deployment(nodeClass.Name, "app", pool.Name, 1, "500m", "512Mi"))

	vms, err := env.VMsOf(ctx, pool.Name)
	Expect(err).NotTo(HaveOccurred())
	Expect(vms).To(HaveLen(1))
	// The VM as ARM returns it, through the SDK.
	clients, err := azure.NewClients(env.Azure, localcluster.SubscriptionID)
	Expect(err).NotTo(HaveOccurred())
	got, err := clients.Compute.NewVirtualMachinesClient().Get(ctx, localcluster.ResourceGroup, vms[0].Name, nil)
	Expect(err).NotTo(HaveOccurred())
	props := got.Properties
	Expect(props.SecurityProfile).NotTo(BeNil())
	Expect(lo.FromPtr(props.SecurityProfile.SecurityType)).To(Equal(armcompute.SecurityTypesTrustedLaunch))
	Expect(props.SecurityProfile.UefiSettings).NotTo(BeNil())
	Expect(lo.FromPtr(props.SecurityProfile.UefiSettings.VTpmEnabled)).To(BeTrue())
	Expect(lo.FromPtr(props.SecurityProfile.UefiSettings.SecureBootEnabled)).To(BeTrue())
	// Resource IDs compare case-insensitively; the definition's name is exact.
	image := lo.FromPtr(props.StorageProfile.ImageReference.CommunityGalleryImageID)
	_, rest, _ := strings.Cut(strings.ToLower(image), "/images/")
	Expect(image[len(image)-len(rest):]).To(HavePrefix(tl.definition+"/"), "a %s Trusted Launch node boots AKS's Trusted Launch definition", tl.family)
}

func refuseTrustedLaunch(ctx context.Context, tl trustedLaunch) {
	nodeClass := trustedLaunchNodeClass(tl.family)
	pool := framework.NodePool(nodeClass.Name, nodeClass.Name)
	app := framework.Deployment(nodeClass.Name, "app", pool.Name, 1, "500m", "512Mi")
	app.Spec.Template.Spec.NodeSelector[corev1.LabelOSStable] = string(corev1.Windows)
	env.Run(ctx, nodeClass.Name, 0, nodeClass, pool, app)

	Expect(env.Eventually(ctx, 2*time.Minute, "ImagesReady False with reason "+imagefamily.ReasonNoTrustedLaunchImage, func(ctx context.Context) (bool, error) {
		var nc v1beta1.AKSNodeClass
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(nodeClass), &nc); err != nil {
			return false, err
		}
		c := nc.StatusConditions().Get(v1beta1.ConditionTypeImagesReady)
		return c != nil && c.IsFalse() && c.Reason == imagefamily.ReasonNoTrustedLaunchImage &&
			strings.Contains(c.Message, "remove security.trustedLaunch"), nil
	})).To(Succeed())
	Expect(env.Consistently(ctx, 20*time.Second, "no NodeClaim or VM for the refused NodeClass", func(ctx context.Context) (bool, error) {
		_, claims, err := framework.PoolNodes(ctx, env.Client, pool.Name)
		if err != nil || len(claims) > 0 {
			return false, err
		}
		vms, err := env.VMsOf(ctx, pool.Name)
		return len(vms) == 0, err
	})).To(Succeed())
}
