package instance_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instance"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instancetype"
	"github.com/azkarpenter/azkarpenter/pkg/providers/launchtemplate"
	"github.com/azkarpenter/azkarpenter/pkg/providers/offerings"
	"github.com/azkarpenter/azkarpenter/pkg/providers/quota"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
	"github.com/azkarpenter/azkarpenter/pkg/test/poll"
)

const (
	region      = "eastus"
	clusterName = "test-cluster"
	rg          = testutil.ResourceGroup
	sub         = testutil.SubscriptionID
)

var subnetID = "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Network/virtualNetworks/vnet/subnets/nodes"

// prices are the USD/hour of the sizes the tests offer (on-demand, spot);
// sizes without a price get no instance type.
var prices = map[string][2]float64{
	"Standard_D2s_v5":  {0.096, 0.020},
	"Standard_D2s_v3":  {0.097, 0.021},
	"Standard_D2as_v5": {0.098, 0.022},
	"Standard_D4s_v5":  {0.192, 0.040},
	"Standard_D2ds_v5": {0.113, 0.025},
	"Standard_D4ds_v5": {0.226, 0.050},
	// A confidential size (AMD SEV-SNP), for confidential NodeClasses.
	"Standard_DC2as_v5": {0.115, 0.030},
}

type fakePrices struct{}

func (fakePrices) OnDemandPrice(s string) (float64, bool) { p, ok := prices[s]; return p[0], ok }
func (fakePrices) SpotPrice(s string) (float64, bool)     { p, ok := prices[s]; return p[1], ok }
func (fakePrices) WindowsPrice(s string) (float64, bool) {
	p, ok := prices[s]
	return p[0] + 0.1, ok
}
func (fakePrices) WindowsSpotPrice(s string) (float64, bool) {
	p, ok := prices[s]
	return p[1] + 0.05, ok
}
func (fakePrices) Generation() uint64 { return 1 }

// unknownQuota never knows the quota, so only Azure's answers (and the
// unavailable-offerings cache) decide what can be launched.
type unknownQuota struct{ refreshes atomic.Int32 }

func (q *unknownQuota) Snapshot(context.Context) *quota.Snapshot { return &quota.Snapshot{} }
func (q *unknownQuota) Refresh(context.Context) error {
	q.refreshes.Add(1)
	return nil
}

// world is what tests share: the simulator, the catalog and the instance
// types (built once, with nothing marked unavailable: Create must consult
// the unavailable-offerings cache itself, as it would with instance types a
// provisioning pass computed before a failure).
type world struct {
	t       *testing.T
	sim     *azuresim.Server
	clients *azure.Clients
	skus    *sku.DefaultProvider
	itp     *instancetype.DefaultProvider
	its     map[string][]*cloudprovider.InstanceType
}

func newWorld(t *testing.T) *world {
	t.Helper()
	sim, cfg := testutil.StartAzureSim(t, nil)
	clients, err := azure.NewClients(cfg, sub)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, sim: sim, clients: clients, its: map[string][]*cloudprovider.InstanceType{}}
	clk := clocktesting.NewFakeClock(time.Now())
	w.skus = sku.NewDefaultProvider(clients.Compute.NewResourceSKUsClient(), region, clk)
	w.itp = instancetype.NewDefaultProvider(instancetype.Options{Region: region, ClusterName: clusterName, DefaultMaxPods: 110}, w.skus, fakePrices{}, offerings.NewCache(clk), &unknownQuota{}, clk)
	return w
}

type env struct {
	*world
	t        *testing.T
	ctx      context.Context
	clock    *clocktesting.FakeClock
	cache    *offerings.Cache
	quota    *unknownQuota
	images   *imagefamily.DefaultProvider
	launch   *launchtemplate.DefaultProvider
	opts     instance.Options
	provider *instance.DefaultProvider
}

// newEnv starts a simulator for one test.
func newEnv(t *testing.T, edit func(*azuresim.Config)) *env {
	t.Helper()
	return newWorld(t).env(t, edit)
}

// env resets the shared simulator to an empty state with the fault model
// edit makes, and returns a fresh provider with an empty cache.
func (w *world) env(t *testing.T, edit func(*azuresim.Config)) *env {
	t.Helper()
	w.sim.Reset()
	cfg := azuresim.DefaultConfig()
	cfg.TimeScale = 0.001
	if edit != nil {
		edit(&cfg)
	}
	if err := w.sim.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	e := &env{world: w, t: t, ctx: ctx, clock: clocktesting.NewFakeClock(time.Now()), quota: &unknownQuota{}}
	e.cache = offerings.NewCache(e.clock)
	e.opts = instance.Options{
		ClusterName: clusterName, SubscriptionID: sub, ResourceGroup: rg, Location: region, SubnetID: subnetID,
		DefaultMaxPods: 110, CreateTimeout: 20 * time.Second, PollFrequency: 2 * time.Millisecond, DeleteWait: 300 * time.Millisecond,
	}
	inputs := testutil.ClusterInputs()
	inputs.Set(func(i *cluster.Inputs) { i.KubernetesVersion = "v1.35.1" }, nil)
	e.images = imagefamily.NewDefaultProviderFromFactory(w.clients.Compute, imagefamily.Options{Location: region, KubernetesVersion: inputs.KubernetesVersion, Clock: e.clock})
	e.launch = launchtemplate.NewDefaultProvider(e.opts.LaunchTemplateOptions(), e.images, inputs)
	e.provider = instance.NewDefaultProviderFromClients(e.opts, w.clients, w.skus, e.launch, e.cache, e.quota)
	e.network("10.1.0.0/24")
	return e
}

func (e *env) network(prefix string) {
	e.t.Helper()
	vp, err := e.clients.Network.NewVirtualNetworksClient().BeginCreateOrUpdate(e.ctx, rg, "vnet", armnetwork.VirtualNetwork{
		Location:   to.Ptr(region),
		Properties: &armnetwork.VirtualNetworkPropertiesFormat{AddressSpace: &armnetwork.AddressSpace{AddressPrefixes: []*string{to.Ptr("10.0.0.0/8")}}},
	}, nil)
	if err == nil {
		_, err = vp.PollUntilDone(e.ctx, lroPoll)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	sp, err := e.clients.Network.NewSubnetsClient().BeginCreateOrUpdate(e.ctx, rg, "vnet", "nodes", armnetwork.Subnet{
		Properties: &armnetwork.SubnetPropertiesFormat{AddressPrefix: to.Ptr(prefix)},
	}, nil)
	if err == nil {
		_, err = sp.PollUntilDone(e.ctx, lroPoll)
	}
	if err != nil {
		e.t.Fatal(err)
	}
}

var lroPoll = &runtime.PollUntilDoneOptions{Frequency: 2 * time.Millisecond}

func nodeClass(edit func(*v1beta1.AKSNodeClass)) *v1beta1.AKSNodeClass {
	nc := &v1beta1.AKSNodeClass{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	// A Kubernetes-style key, as NAP YAML has them: Azure gets '_' for '/'.
	nc.Spec.Tags = map[string]string{"team": "platform", "app.kubernetes.io/part-of": "shop"}
	if edit != nil {
		edit(nc)
	}
	return nc
}

var claimSeq atomic.Int32

// nodeClaim returns a NodeClaim for sizes, allowing capacityTypes, with a
// unique name.
func nodeClaim(sizes []string, capacityTypes []string, extra ...karpv1.NodeSelectorRequirementWithMinValues) *karpv1.NodeClaim {
	reqs := []karpv1.NodeSelectorRequirementWithMinValues{
		{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: sizes},
		{Key: karpv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: capacityTypes},
		{Key: karpv1.NodePoolLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{"general"}},
		{Key: "example.com/tier", Operator: corev1.NodeSelectorOpIn, Values: []string{"gold"}},
	}
	reqs = append(reqs, extra...)
	return &karpv1.NodeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name:   fmt.Sprintf("general-%05d", claimSeq.Add(1)),
			Labels: map[string]string{karpv1.NodePoolLabelKey: "general", "workload": "web"},
		},
		Spec: karpv1.NodeClaimSpec{
			Requirements:  reqs,
			Taints:        []corev1.Taint{{Key: "dedicated", Value: "web", Effect: corev1.TaintEffectNoSchedule}},
			StartupTaints: []corev1.Taint{{Key: "node.cilium.io/agent-not-ready", Value: "true", Effect: corev1.TaintEffectNoExecute}},
		},
	}
}

// instanceTypes lists the NodeClass's instance types once per world; tests
// pass the same list to every Create, as core does within a provisioning pass.
func (e *env) instanceTypes(nc *v1beta1.AKSNodeClass) []*cloudprovider.InstanceType {
	e.t.Helper()
	key := nc.Name + "/" + nc.Hash()
	if its, ok := e.its[key]; ok {
		return its
	}
	its, err := e.itp.List(e.ctx, nc)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(its) == 0 {
		e.t.Fatal("no instance types")
	}
	e.its[key] = its
	return its
}

func (e *env) state() azuresim.State { return e.sim.Snapshot() }

// expectNoLeaks checks that every NIC is attached to a VM and no VM failed.
func (e *env) expectNoLeaks() {
	e.t.Helper()
	poll.Until(e.t, 5*time.Second, "no leaked NIC or failed VM", func() bool {
		st := e.state()
		for _, n := range st.NICs {
			if n.VM == "" {
				return false
			}
		}
		for _, v := range st.VMs {
			if v.ProvisioningState == "Failed" {
				return false
			}
		}
		return true
	})
}

func (e *env) offering(s *sku.SKU, zone, capacityType string) offerings.Offering {
	return offerings.Offering{SKU: s.Name, Family: s.Family, VCPUs: s.QuotaVCPUs(), Zone: zone, CapacityType: capacityType}
}

func (e *env) sku(name string) *sku.SKU {
	e.t.Helper()
	c, err := e.skus.Catalog(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	s := c.SKUs[name]
	if s == nil {
		e.t.Fatalf("no SKU %s", name)
	}
	return s
}

// foreignVM creates a VM (and NIC) directly through the SDK with other
// tags, returning the creation's outcome.
func (e *env) foreignVM(name string, tags map[string]*string) error {
	e.t.Helper()
	return e.foreignVMWith(name, tags, nil)
}

// foreignVMWith is foreignVM with the VM body edited by edit.
func (e *env) foreignVMWith(name string, tags map[string]*string, edit func(*armcompute.VirtualMachine)) error {
	e.t.Helper()
	np, err := e.clients.Network.NewInterfacesClient().BeginCreateOrUpdate(e.ctx, rg, name, armnetwork.Interface{
		Location: to.Ptr(region), Tags: tags,
		Properties: &armnetwork.InterfacePropertiesFormat{IPConfigurations: []*armnetwork.InterfaceIPConfiguration{{
			Name: to.Ptr("ipconfig1"), Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{Subnet: &armnetwork.Subnet{ID: to.Ptr(subnetID)}},
		}}},
	}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	nic, err := np.PollUntilDone(e.ctx, lroPoll)
	if err != nil {
		e.t.Fatal(err)
	}
	body := armcompute.VirtualMachine{
		Location: to.Ptr(region), Tags: tags, Zones: []*string{to.Ptr("1")},
		Properties: &armcompute.VirtualMachineProperties{
			HardwareProfile: &armcompute.HardwareProfile{VMSize: to.Ptr(armcompute.VirtualMachineSizeTypes("Standard_D2s_v5"))},
			StorageProfile:  &armcompute.StorageProfile{ImageReference: &armcompute.ImageReference{CommunityGalleryImageID: to.Ptr(imagefamily.ImageID(imagefamily.GalleryUbuntu, "2404gen2containerd", "202611.10.0"))}},
			OSProfile: &armcompute.OSProfile{ComputerName: to.Ptr(name), AdminUsername: to.Ptr("azureuser"),
				LinuxConfiguration: &armcompute.LinuxConfiguration{DisablePasswordAuthentication: to.Ptr(true), SSH: &armcompute.SSHConfiguration{
					PublicKeys: []*armcompute.SSHPublicKey{{Path: to.Ptr("/home/azureuser/.ssh/authorized_keys"),
						KeyData: to.Ptr("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhWm8l1mzq0dMsWcY8b1tU2WQz2rj0y1sJX2dV3rKj1 test")}},
				}}},
			NetworkProfile: &armcompute.NetworkProfile{NetworkInterfaces: []*armcompute.NetworkInterfaceReference{{ID: nic.ID}}},
		},
	}
	if edit != nil {
		edit(&body)
	}
	vp, err := e.clients.Compute.NewVirtualMachinesClient().BeginCreateOrUpdate(e.ctx, rg, name, body, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	_, err = vp.PollUntilDone(e.ctx, lroPoll)
	return err
}
