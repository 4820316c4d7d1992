package nodeclass_test

import (
	"context"
	"testing"

	"github.com/awslabs/operatorpkg/status"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	coretest "sigs.k8s.io/karpenter/pkg/test"

	"github.com/azkarpenter/azkarpenter/pkg/apis/crds"
	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/controllers/nodeclass"
	"github.com/azkarpenter/azkarpenter/pkg/operator"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

var (
	ctx        context.Context
	env        *coretest.Environment
	controller *nodeclass.StatusController
)

func TestNodeClassStatus(t *testing.T) {
	if err := testutil.UseLocalControlPlane(); err != nil {
		t.Fatal(err)
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "NodeClass status")
}

var _ = BeforeSuite(func() {
	ctx = context.Background()
	env = coretest.NewEnvironment(coretest.WithCRDs(crds.All()...))
	_, cfg := testutil.StartAzureSim(GinkgoT(), nil)
	Expect(testutil.CreateSubnet(ctx, cfg)).To(Succeed())
	providers, err := operator.NewProviders(ctx, testutil.Options(cfg), env.Client, operator.Cluster{KubernetesVersion: "v1.35.4", APIServerEndpoint: "https://127.0.0.1:6443"}, clock.RealClock{})
	Expect(err).NotTo(HaveOccurred())
	controller = nodeclass.NewStatusController(env.Client, providers.Images, providers.InstanceTypes, providers.Subnets,
		func(context.Context) (string, error) { return "v1.35.4", nil }, testutil.SubnetID)
})

var _ = AfterSuite(func() {
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})

func reconciled(spec v1beta1.AKSNodeClassSpec) *v1beta1.AKSNodeClass {
	nc := &v1beta1.AKSNodeClass{Spec: spec}
	nc.GenerateName = "nc-"
	Expect(env.Client.Create(ctx, nc)).To(Succeed())
	_, err := controller.Reconcile(ctx, nc)
	Expect(err).NotTo(HaveOccurred())
	Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
	return nc
}

var _ = Describe("AKSNodeClass status", func() {
	It("is Ready with images, the Kubernetes version and a usable subnet", func() {
		nc := reconciled(v1beta1.AKSNodeClassSpec{})
		Expect(nc.StatusConditions().Get(status.ConditionReady).IsTrue()).To(BeTrue(), "%v", nc.Status.Conditions)
		Expect(nc.Status.Images).NotTo(BeEmpty())
		Expect(nc.Status.KubernetesVersion).To(Equal(lo.ToPtr("v1.35.4")))
	})

	It("is not Ready when its subnet does not exist", func() {
		missing := "/subscriptions/" + testutil.SubscriptionID + "/resourceGroups/" + testutil.ResourceGroup + "/providers/Microsoft.Network/virtualNetworks/vnet/subnets/missing"
		nc := reconciled(v1beta1.AKSNodeClassSpec{VNETSubnetID: lo.ToPtr(missing)})
		cond := nc.StatusConditions().Get(v1beta1.ConditionTypeSubnetReady)
		Expect(cond.IsFalse()).To(BeTrue())
		Expect(cond.Reason).To(Equal("SubnetNotFound"))
		Expect(nc.StatusConditions().Get(status.ConditionReady).IsFalse()).To(BeTrue())
	})

	It("is not Ready when no VM size can serve it, and says how to find out why", func() {
		// No confidential VM size supports encryption at host.
		nc := reconciled(v1beta1.AKSNodeClassSpec{Security: &v1beta1.Security{ConfidentialVM: lo.ToPtr(true), EncryptionAtHost: lo.ToPtr(true)}})
		cond := nc.StatusConditions().Get(v1beta1.ConditionTypeValidationSucceeded)
		Expect(cond.IsFalse()).To(BeTrue())
		Expect(cond.Reason).To(Equal("NoInstanceTypes"))
		Expect(cond.Message).To(ContainSubstring("azkarpenter explain"))
	})
})
