package azuresim_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
)

type aciEnv struct {
	*env
	groups     *armcontainerinstance.ContainerGroupsClient
	containers *armcontainerinstance.ContainersClient
	location   *armcontainerinstance.LocationClient
}

func newACIEnv(t *testing.T, opts ...envOption) *aciEnv {
	t.Helper()
	e := newEnv(t, opts...)
	// The options' client settings (retries), as newEnv gives its clients.
	scratch, retry := azuresim.DefaultConfig(), &arm.ClientOptions{}
	for _, opt := range opts {
		opt(&azuresim.Options{Config: &scratch}, retry)
	}
	co := e.srv.ClientOptions()
	co.Retry = retry.Retry
	f, err := armcontainerinstance.NewClientFactory(testSub, e.srv.Credential(), co)
	if err != nil {
		t.Fatal(err)
	}
	return &aciEnv{env: e, groups: f.NewContainerGroupsClient(), containers: f.NewContainersClient(), location: f.NewLocationClient()}
}

func groupBody(location string, cpu, memGB float64, containers ...string) armcontainerinstance.ContainerGroup {
	if len(containers) == 0 {
		containers = []string{"app"}
	}
	cg := armcontainerinstance.ContainerGroup{
		Location: lo.ToPtr(location),
		Properties: &armcontainerinstance.ContainerGroupPropertiesProperties{
			OSType:        lo.ToPtr(armcontainerinstance.OperatingSystemTypesLinux),
			RestartPolicy: lo.ToPtr(armcontainerinstance.ContainerGroupRestartPolicyAlways),
		},
	}
	for _, name := range containers {
		cg.Properties.Containers = append(cg.Properties.Containers, &armcontainerinstance.Container{
			Name: lo.ToPtr(name),
			Properties: &armcontainerinstance.ContainerProperties{
				Image: lo.ToPtr("mcr.microsoft.com/azuredocs/aci-helloworld:latest"),
				Resources: &armcontainerinstance.ResourceRequirements{Requests: &armcontainerinstance.ResourceRequests{
					CPU: lo.ToPtr(cpu / float64(len(containers))), MemoryInGB: lo.ToPtr(memGB / float64(len(containers)))}},
				EnvironmentVariables: []*armcontainerinstance.EnvironmentVariable{{Name: lo.ToPtr("TOKEN"), SecureValue: lo.ToPtr("s3cret")}},
			},
		})
	}
	return cg
}

func (e *aciEnv) create(name string, cg armcontainerinstance.ContainerGroup) (armcontainerinstance.ContainerGroup, error) {
	p, err := e.groups.BeginCreateOrUpdate(e.ctx, testRG, name, cg, nil)
	if err != nil {
		return armcontainerinstance.ContainerGroup{}, err
	}
	resp, err := p.PollUntilDone(e.ctx, lroPoll)
	return resp.ContainerGroup, err
}

func TestContainerGroupLifecycle(t *testing.T) {
	e := newACIEnv(t)
	got, err := e.create("burst-1", groupBody("eastus", 1.5, 3, "app", "sidecar"))
	if err != nil {
		t.Fatal(err)
	}
	if lo.FromPtr(got.Properties.ProvisioningState) != "Succeeded" || lo.FromPtr(got.Properties.InstanceView.State) != "Running" {
		t.Fatalf("after the LRO: provisioningState %q, instance view %q", lo.FromPtr(got.Properties.ProvisioningState), lo.FromPtr(got.Properties.InstanceView.State))
	}
	for _, c := range got.Properties.Containers {
		st := c.Properties.InstanceView.CurrentState
		if lo.FromPtr(st.State) != "Running" || st.StartTime == nil {
			t.Errorf("container %s: state %q start %v", lo.FromPtr(c.Name), lo.FromPtr(st.State), st.StartTime)
		}
		for _, ev := range c.Properties.EnvironmentVariables {
			if ev.SecureValue != nil {
				t.Errorf("container %s: secure value %s returned", lo.FromPtr(c.Name), lo.FromPtr(ev.Name))
			}
		}
	}
	if g, err := e.groups.Get(e.ctx, testRG, "burst-1", nil); err != nil || lo.FromPtr(g.ID) != lo.FromPtr(got.ID) {
		t.Fatalf("get: %v %v", err, g.ID)
	}
	logs, err := e.containers.ListLogs(e.ctx, testRG, "burst-1", "sidecar", &armcontainerinstance.ContainersClientListLogsOptions{Tail: lo.ToPtr[int32](10)})
	if err != nil || !strings.Contains(lo.FromPtr(logs.Content), "sidecar") {
		t.Fatalf("logs: %v %q", err, lo.FromPtr(logs.Content))
	}
	if _, err := e.containers.ListLogs(e.ctx, testRG, "burst-1", "nope", nil); respErr(t, err).StatusCode != http.StatusNotFound {
		t.Fatalf("logs of a container the group does not have: %v", err)
	}
	usages, err := e.location.NewListUsagePager("eastus", nil).NextPage(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]int32{}
	for _, u := range usages.Value {
		used[lo.FromPtr(u.Name.Value)] = lo.FromPtr(u.CurrentValue)
	}
	if used["StandardCores"] != 2 || used["ContainerGroups"] != 1 {
		t.Fatalf("usages %v, want 2 cores (1.5 rounded up) and 1 group", used)
	}
	var byRG, bySub int
	for p := e.groups.NewListByResourceGroupPager(testRG, nil); p.More(); {
		page, err := p.NextPage(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		byRG += len(page.Value)
	}
	for p := e.groups.NewListPager(nil); p.More(); {
		page, err := p.NextPage(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		bySub += len(page.Value)
	}
	if byRG != 1 || bySub != 1 {
		t.Fatalf("list: %d by resource group, %d by subscription", byRG, bySub)
	}
	dp, err := e.groups.BeginDelete(e.ctx, testRG, "burst-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dp.PollUntilDone(e.ctx, lroPoll); err != nil {
		t.Fatal(err)
	}
	if _, err := e.groups.Get(e.ctx, testRG, "burst-1", nil); respErr(t, err).ErrorCode != "ResourceNotFound" {
		t.Fatalf("get after delete: %v", err)
	}
	if n := len(e.srv.Snapshot().ContainerGroups); n != 0 {
		t.Fatalf("%d container groups left", n)
	}
}

func TestContainerGroupPendingUntilProvisioned(t *testing.T) {
	e := newACIEnv(t, withConfig(func(c *azuresim.Config) {
		c.Latency.ContainerGroupCreate = azuresim.Latency{Mean: azuresim.Duration{Duration: time.Hour}}
	}))
	p, err := e.groups.BeginCreateOrUpdate(e.ctx, testRG, "slow", groupBody("eastus", 1, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Done() {
		t.Fatal("the create finished at once")
	}
	g, err := e.groups.Get(e.ctx, testRG, "slow", nil)
	if err != nil {
		t.Fatal(err)
	}
	if lo.FromPtr(g.Properties.ProvisioningState) != "Pending" || lo.FromPtr(g.Properties.Containers[0].Properties.InstanceView.CurrentState.State) != "Waiting" {
		t.Fatalf("while provisioning: %q / %q", lo.FromPtr(g.Properties.ProvisioningState), lo.FromPtr(g.Properties.Containers[0].Properties.InstanceView.CurrentState.State))
	}
	if _, err := e.containers.ListLogs(e.ctx, testRG, "slow", "app", nil); err != nil {
		t.Fatalf("logs of a waiting container: %v", err)
	}
}

func TestContainerGroupRefusals(t *testing.T) {
	e := newACIEnv(t, noRetries(), withConfig(func(c *azuresim.Config) {
		c.ContainerInstances.StandardCoresLimit = 4
		c.ContainerInstances.ContainerGroupsLimit = 2
	}))
	overCPU := groupBody("eastus", 5, 5, "a", "b", "c", "d", "e")
	gpu := groupBody("eastus", 1, 1)
	gpu.Properties.Containers[0].Properties.Resources.Requests.Gpu = &armcontainerinstance.GpuResource{Count: lo.ToPtr[int32](1), SKU: lo.ToPtr(armcontainerinstance.GpuSKUV100)}
	spot := groupBody("eastus", 1, 1)
	spot.Properties.Priority = lo.ToPtr(armcontainerinstance.ContainerGroupPrioritySpot)
	badMount := groupBody("eastus", 1, 1)
	badMount.Properties.Containers[0].Properties.VolumeMounts = []*armcontainerinstance.VolumeMount{{Name: lo.ToPtr("cfg"), MountPath: lo.ToPtr("/etc/cfg")}}
	badName := groupBody("eastus", 1, 1, "App_1")
	noRequests := groupBody("eastus", 1, 1)
	noRequests.Properties.Containers[0].Properties.Resources.Requests.MemoryInGB = nil
	for _, tc := range []struct {
		name   string
		body   armcontainerinstance.ContainerGroup
		status int
		code   string
		msg    string
	}{
		{"over the per-group CPU limit", overCPU, http.StatusConflict, "ServiceUnavailable", "Resource requested: '5' CPU '5' GB memory 'Linux' OS"},
		{"a GPU", gpu, http.StatusConflict, "ServiceUnavailable", "is not available in the location 'eastus'"},
		{"spot outside its regions", spot, http.StatusConflict, "ServiceUnavailable", "'1' CPU '1' GB memory 'Linux' OS"},
		{"a mount of no volume", badMount, http.StatusBadRequest, "InvalidParameter", "volume mount 'cfg'"},
		{"a bad container name", badName, http.StatusBadRequest, "InvalidParameter", "App_1"},
		{"memory request missing", noRequests, http.StatusBadRequest, "InvalidParameter", "memoryInGB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.create("refused", tc.body)
			re := respErr(t, err)
			if re.StatusCode != tc.status || re.ErrorCode != tc.code || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %d %s: %v", re.StatusCode, re.ErrorCode, err)
			}
		})
	}
	if _, err := e.create("one", groupBody("eastus", 3, 4)); err != nil {
		t.Fatal(err)
	}
	_, err := e.create("two", groupBody("eastus", 2, 4))
	if re := respErr(t, err); re.ErrorCode != "ContainerGroupQuotaReached" ||
		!strings.Contains(err.Error(), "container group quota 'StandardCores' exceeded in region 'eastus'. Limit: '4', Usage: '3' Requested: '2'.") {
		t.Fatalf("over the cores quota: %v", err)
	}
	if _, err := e.create("two", groupBody("eastus", 0.5, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.create("four", groupBody("eastus", 0.5, 1)); !strings.Contains(err.Error(), "container group quota 'ContainerGroups' exceeded") {
		t.Fatalf("over the count quota: %v", err)
	}
	if _, err := e.groups.BeginCreateOrUpdate(e.ctx, testRG, "Bad_Name", groupBody("eastus", 1, 1), nil); respErr(t, err).ErrorCode != "InvalidResourceName" {
		t.Fatalf("bad group name: %v", err)
	}
}

func TestContainerGroupCapacityAndInjectedFailure(t *testing.T) {
	e := newACIEnv(t, noRetries(), withConfig(func(c *azuresim.Config) {
		c.ContainerInstances.Capacity = []azuresim.ContainerCapacityRule{{Location: "eastus", Cores: 2}}
		c.Errors = []azuresim.ErrorRule{{Operation: azuresim.OpPutContainerGroup, Location: "westus2", Code: "InternalServerError", Async: true, Count: 1}}
	}))
	if _, err := e.create("a", groupBody("eastus", 2, 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.create("b", groupBody("eastus", 1, 1)); respErr(t, err).ErrorCode != "ServiceUnavailable" {
		t.Fatalf("past the region's capacity: %v", err)
	}
	_, err := e.create("c", groupBody("westus2", 1, 1))
	if err == nil || !strings.Contains(err.Error(), "InternalServerError") {
		t.Fatalf("injected LRO failure: %v", err)
	}
	st := e.srv.Snapshot()
	failed, ok := lo.Find(st.ContainerGroups, func(c azuresim.ContainerGroupState) bool { return c.Name == "c" })
	if !ok || failed.ProvisioningState != "Failed" || failed.FailureCode != "InternalServerError" {
		t.Fatalf("failed group in the snapshot: %+v", failed)
	}
	// A failed deployment holds no quota, and a re-PUT creates it afresh.
	if _, err := e.create("c", groupBody("westus2", 1, 1)); err != nil {
		t.Fatalf("re-create after a failed deployment: %v", err)
	}
}

func TestContainerGroupInSubnet(t *testing.T) {
	e := newACIEnv(t, noRetries())
	nodes := e.network("eastus", "10.1.0.0/24")
	if _, err := e.create("plain-subnet", withSubnet(groupBody("eastus", 1, 1), nodes)); !strings.Contains(err.Error(), "not delegated") {
		t.Fatalf("an undelegated subnet: %v", err)
	}
	sp, err := e.subnets.BeginCreateOrUpdate(e.ctx, testRG, "vnet", "aci", armnetwork.Subnet{Properties: &armnetwork.SubnetPropertiesFormat{
		AddressPrefix: lo.ToPtr("10.2.0.0/24"),
		Delegations:   []*armnetwork.Delegation{{Name: lo.ToPtr("aci"), Properties: &armnetwork.ServiceDelegationPropertiesFormat{ServiceName: lo.ToPtr("Microsoft.ContainerInstance/containerGroups")}}},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sp.PollUntilDone(e.ctx, lroPoll); err != nil {
		t.Fatal(err)
	}
	g, err := e.create("in-vnet", withSubnet(groupBody("eastus", 1, 1), subnetID("vnet", "aci")))
	if err != nil {
		t.Fatal(err)
	}
	if ip := lo.FromPtr(g.Properties.IPAddress.IP); !strings.HasPrefix(ip, "10.2.0.") || lo.FromPtr(g.Properties.IPAddress.Type) != armcontainerinstance.ContainerGroupIPAddressTypePrivate {
		t.Fatalf("private IP %q type %v", ip, lo.FromPtr(g.Properties.IPAddress.Type))
	}
	if _, err := e.create("too-big", withSubnet(groupBody("eastus", 4, 17), subnetID("vnet", "aci"))); !strings.Contains(err.Error(), "'Linux' OS virtual network") {
		t.Fatalf("over the VNet limit: %v", err)
	}
}

func withSubnet(cg armcontainerinstance.ContainerGroup, id string) armcontainerinstance.ContainerGroup {
	cg.Properties.SubnetIDs = []*armcontainerinstance.ContainerGroupSubnetID{{ID: lo.ToPtr(id)}}
	return cg
}

func TestContainerGroupCreatesAreThrottled(t *testing.T) {
	e := newACIEnv(t, noRetries(), withConfig(func(c *azuresim.Config) {
		c.TimeScale = 1
		c.Throttling.Buckets = map[string]azuresim.BucketSpec{azuresim.BucketContainerGroupCreates5Min: {Size: 2, RefillPerMinute: 1}}
	}))
	for i, name := range []string{"a", "b", "c"} {
		_, err := e.groups.BeginCreateOrUpdate(e.ctx, testRG, name, groupBody("eastus", 1, 1), nil)
		if i < 2 && err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		if i == 2 {
			if re := respErr(t, err); re.StatusCode != http.StatusTooManyRequests || re.RawResponse.Header.Get("Retry-After") == "" {
				t.Fatalf("the third create in a bucket of 2: %v", err)
			}
		}
	}
}
