package azuresim_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/test/poll"
)

func netID(kind, name string) string {
	return "/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.Network/" + kind + "/" + name
}

// nodeSubnetNIC is the NIC of an Azure CNI node-subnet node: a primary IP
// configuration and one secondary per pod.
func nodeSubnetNIC(location, subnet string, pods int, pools []string, nsg string) armnetwork.Interface {
	ipcs := []*armnetwork.InterfaceIPConfiguration{{Name: lo.ToPtr("ipconfig1"), Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{
		Primary: lo.ToPtr(true), PrivateIPAllocationMethod: lo.ToPtr(armnetwork.IPAllocationMethodDynamic), Subnet: &armnetwork.Subnet{ID: lo.ToPtr(subnet)},
		LoadBalancerBackendAddressPools: lo.Map(pools, func(id string, _ int) *armnetwork.BackendAddressPool {
			return &armnetwork.BackendAddressPool{ID: lo.ToPtr(id)}
		}),
	}}}
	for i := range pods {
		ipcs = append(ipcs, &armnetwork.InterfaceIPConfiguration{Name: lo.ToPtr(fmt.Sprintf("ipconfig%d", i+2)), Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{
			Primary: lo.ToPtr(false), PrivateIPAllocationMethod: lo.ToPtr(armnetwork.IPAllocationMethodDynamic), Subnet: &armnetwork.Subnet{ID: lo.ToPtr(subnet)},
		}})
	}
	nic := armnetwork.Interface{Location: lo.ToPtr(location), Properties: &armnetwork.InterfacePropertiesFormat{IPConfigurations: ipcs}}
	if nsg != "" {
		nic.Properties.NetworkSecurityGroup = &armnetwork.SecurityGroup{ID: lo.ToPtr(nsg)}
	}
	return nic
}

func (e *env) putNIC(name string, nic armnetwork.Interface) (armnetwork.Interface, error) {
	p, err := e.nics.BeginCreateOrUpdate(e.ctx, testRG, name, nic, nil)
	if err != nil {
		return armnetwork.Interface{}, err
	}
	res, err := p.PollUntilDone(e.ctx, lroPoll)
	return res.Interface, err
}

func (e *env) deleteNIC(name string) {
	e.t.Helper()
	p, err := e.nics.BeginDelete(e.ctx, testRG, name, nil)
	if err == nil {
		_, err = p.PollUntilDone(e.ctx, lroPoll)
	}
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) subnetIPConfigurations(vnet, subnet string) int {
	e.t.Helper()
	got, err := e.subnets.Get(e.ctx, testRG, vnet, subnet, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(got.Properties.IPConfigurations)
}

func (e *env) netFactory() *armnetwork.ClientFactory {
	e.t.Helper()
	f, err := armnetwork.NewClientFactory(testSub, e.srv.Credential(), e.srv.ClientOptions())
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

// aksNetwork creates what AKS puts in a node resource group: the
// `kubernetes` load balancer with its outbound and inbound pools, the
// agent pool NSG and (for kubenet) route table. It returns the pools' IDs.
func (e *env) aksNetwork(location string) (outbound, inbound string) {
	e.t.Helper()
	f := e.netFactory()
	lp, err := f.NewLoadBalancersClient().BeginCreateOrUpdate(e.ctx, testRG, "kubernetes", armnetwork.LoadBalancer{
		Location: lo.ToPtr(location), SKU: &armnetwork.LoadBalancerSKU{Name: lo.ToPtr(armnetwork.LoadBalancerSKUNameStandard)},
		Properties: &armnetwork.LoadBalancerPropertiesFormat{BackendAddressPools: []*armnetwork.BackendAddressPool{
			{Name: lo.ToPtr("aksOutboundBackendPool")}, {Name: lo.ToPtr("kubernetes")},
		}},
	}, nil)
	if err == nil {
		_, err = lp.PollUntilDone(e.ctx, lroPoll)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	np, err := f.NewSecurityGroupsClient().BeginCreateOrUpdate(e.ctx, testRG, "aks-agentpool-12345678-nsg", armnetwork.SecurityGroup{Location: lo.ToPtr(location)}, nil)
	if err == nil {
		_, err = np.PollUntilDone(e.ctx, lroPoll)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	rp, err := f.NewRouteTablesClient().BeginCreateOrUpdate(e.ctx, testRG, "aks-agentpool-12345678-routetable", armnetwork.RouteTable{Location: lo.ToPtr(location)}, nil)
	if err == nil {
		_, err = rp.PollUntilDone(e.ctx, lroPoll)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	lb := netID("loadBalancers", "kubernetes")
	return lb + "/backendAddressPools/aksOutboundBackendPool", lb + "/backendAddressPools/kubernetes"
}

// An Azure CNI node-subnet NIC takes one address per IP configuration: a
// /25 (123 usable addresses) holds three 31-address nodes, and the fourth
// NIC is refused whole with SubnetIsFull naming the 31 it asked for; its
// addresses come back when a NIC goes.
func TestNodeSubnetNICAddressAccounting(t *testing.T) {
	e := newEnv(t)
	subnet := e.network("eastus", "10.1.0.0/25")
	for i := range 3 {
		nic, err := e.putNIC(fmt.Sprintf("node-%d", i), nodeSubnetNIC("eastus", subnet, 30, nil, ""))
		if err != nil {
			t.Fatalf("NIC %d: %v", i, err)
		}
		if n := len(nic.Properties.IPConfigurations); n != 31 {
			t.Fatalf("NIC %d has %d IP configurations, want 31", i, n)
		}
		seen := map[string]bool{}
		for _, ipc := range nic.Properties.IPConfigurations {
			ip := lo.FromPtr(ipc.Properties.PrivateIPAddress)
			if ip == "" || seen[ip] {
				t.Fatalf("IP configuration %s has address %q (duplicate or none)", *ipc.Name, ip)
			}
			seen[ip] = true
		}
		if !lo.FromPtr(nic.Properties.IPConfigurations[0].Properties.Primary) || lo.FromPtr(nic.Properties.IPConfigurations[1].Properties.Primary) {
			t.Fatal("the first IP configuration must stay the only primary")
		}
	}
	if got := e.subnetIPConfigurations("vnet", "nodes"); got != 93 {
		t.Fatalf("subnet lists %d IP configurations, want 93", got)
	}
	_, err := e.putNIC("node-3", nodeSubnetNIC("eastus", subnet, 30, nil, ""))
	re := respErr(t, err)
	if re.StatusCode != http.StatusBadRequest || re.ErrorCode != "SubnetIsFull" ||
		!strings.Contains(err.Error(), "Subnet "+subnet+" with address prefix 10.1.0.0/25 does not have enough capacity for 31 IP addresses.") {
		t.Fatalf("fourth node-subnet NIC: %v", err)
	}
	// An overlay node's one-address NIC still fits: 30 are free.
	if _, err := e.putNIC("overlay", nodeSubnetNIC("eastus", subnet, 0, nil, "")); err != nil {
		t.Fatalf("a one-address NIC in a subnet with 30 free: %v", err)
	}
	pager := e.vnets.NewListUsagePager(testRG, "vnet", nil)
	page, err := pager.NextPage(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u := page.Value[0]; *u.CurrentValue != 94 || *u.Limit != 123 {
		t.Fatalf("usage %v of %v, want 94 of 123", *u.CurrentValue, *u.Limit)
	}
	e.deleteNIC("node-1")
	if got := e.subnetIPConfigurations("vnet", "nodes"); got != 63 {
		t.Fatalf("after a delete the subnet lists %d IP configurations, want 63", got)
	}
	if _, err := e.putNIC("node-3", nodeSubnetNIC("eastus", subnet, 30, nil, "")); err != nil {
		t.Fatalf("a node NIC after another was deleted: %v", err)
	}
}

// IP configurations are checked as Network checks them.
func TestNICIPConfigurationRules(t *testing.T) {
	e := newEnv(t)
	subnet := e.network("eastus", "10.1.0.0/24")
	other := subnetID("vnet", "other")
	sp, err := e.subnets.BeginCreateOrUpdate(e.ctx, testRG, "vnet", "other", armnetwork.Subnet{Properties: &armnetwork.SubnetPropertiesFormat{AddressPrefix: lo.ToPtr("10.2.0.0/24")}}, nil)
	if err == nil {
		_, err = sp.PollUntilDone(e.ctx, lroPoll)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, code, wording string
		edit                func(*armnetwork.Interface)
	}{
		{"two primaries", "NetworkInterfaceMustHaveOnePrimaryIpConfiguration", "exactly one", func(n *armnetwork.Interface) {
			n.Properties.IPConfigurations[1].Properties.Primary = lo.ToPtr(true)
		}},
		{"no primary", "NetworkInterfaceMustHaveOnePrimaryIpConfiguration", "exactly one", func(n *armnetwork.Interface) {
			n.Properties.IPConfigurations[0].Properties.Primary = lo.ToPtr(false)
		}},
		{"two subnets", "IpConfigurationsOnSameNicCannotBelongToDifferentSubnets", "IPConfigurations on a Nic cannot belong to different subnets.", func(n *armnetwork.Interface) {
			n.Properties.IPConfigurations[2].Properties.Subnet = &armnetwork.Subnet{ID: lo.ToPtr(other)}
		}},
		{"secondary without subnet", "InvalidParameter", "Subnet reference is required for ipconfiguration", func(n *armnetwork.Interface) {
			n.Properties.IPConfigurations[1].Properties.Subnet = nil
		}},
		{"257 IP configurations", "PrivateIPAddressesPerNicLimitExceeded", "at most 256", func(n *armnetwork.Interface) {
			*n = nodeSubnetNIC("eastus", subnet, 256, nil, "")
		}},
		{"missing pool", "InvalidResourceReference", "was not found", func(n *armnetwork.Interface) {
			n.Properties.IPConfigurations[0].Properties.LoadBalancerBackendAddressPools = []*armnetwork.BackendAddressPool{{ID: lo.ToPtr(netID("loadBalancers", "kubernetes") + "/backendAddressPools/kubernetes")}}
		}},
		{"pool ID that is not one", "LinkedInvalidPropertyId", "is invalid", func(n *armnetwork.Interface) {
			n.Properties.IPConfigurations[0].Properties.LoadBalancerBackendAddressPools = []*armnetwork.BackendAddressPool{{ID: lo.ToPtr("kubernetes")}}
		}},
		{"missing NSG", "InvalidResourceReference", "referenced by resource", func(n *armnetwork.Interface) {
			n.Properties.NetworkSecurityGroup = &armnetwork.SecurityGroup{ID: lo.ToPtr(netID("networkSecurityGroups", "nope"))}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			nic := nodeSubnetNIC("eastus", subnet, 3, nil, "")
			c.edit(&nic)
			_, err := e.putNIC("bad", nic)
			re := respErr(t, err)
			if re.StatusCode != http.StatusBadRequest || re.ErrorCode != c.code || !strings.Contains(err.Error(), c.wording) {
				t.Fatalf("got %v, want 400 %s (%q)", err, c.code, c.wording)
			}
		})
	}
	if got := e.subnetIPConfigurations("vnet", "nodes"); got != 0 {
		t.Fatalf("refused NICs hold %d addresses", got)
	}
}

// NICs join the backend pools their IP configurations name; the pool lists
// them, and loses them when the NIC goes, whether the NIC is deleted or
// goes with its VM.
func TestLoadBalancerPoolMembershipAndCleanup(t *testing.T) {
	e := newEnv(t)
	subnet := e.network("eastus", "10.1.0.0/24")
	outbound, inbound := e.aksNetwork("eastus")
	lbs := e.netFactory().NewLoadBalancersClient()
	members := func() map[string][]string {
		t.Helper()
		lb, err := lbs.Get(e.ctx, testRG, "kubernetes", nil)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for _, p := range lb.Properties.BackendAddressPools {
			out[*p.Name] = lo.Map(p.Properties.BackendIPConfigurations, func(c *armnetwork.InterfaceIPConfiguration, _ int) string { return *c.ID })
		}
		return out
	}
	nic, err := e.putNIC("node-a", nodeSubnetNIC("eastus", subnet, 2, []string{outbound, inbound}, ""))
	if err != nil {
		t.Fatal(err)
	}
	primary := *nic.Properties.IPConfigurations[0].ID
	if got := members(); len(got["aksOutboundBackendPool"]) != 1 || got["aksOutboundBackendPool"][0] != primary || len(got["kubernetes"]) != 1 {
		t.Fatalf("pools %v, want the primary IP configuration %s in both", got, primary)
	}
	pool, err := e.netFactory().NewLoadBalancerBackendAddressPoolsClient().Get(e.ctx, testRG, "kubernetes", "kubernetes", nil)
	if err != nil || len(pool.Properties.BackendIPConfigurations) != 1 {
		t.Fatalf("backend pool GET: %v, %+v", err, pool)
	}
	// A pool with members cannot be dropped from its load balancer.
	_, err = lbs.BeginCreateOrUpdate(e.ctx, testRG, "kubernetes", armnetwork.LoadBalancer{Location: lo.ToPtr("eastus"),
		Properties: &armnetwork.LoadBalancerPropertiesFormat{BackendAddressPools: []*armnetwork.BackendAddressPool{{Name: lo.ToPtr("kubernetes")}}}}, nil)
	if re := respErr(t, err); re.StatusCode != http.StatusBadRequest {
		t.Fatalf("dropping a pool in use: %v", err)
	}
	e.deleteNIC("node-a")
	if got := members(); len(got["aksOutboundBackendPool"]) != 0 || len(got["kubernetes"]) != 0 {
		t.Fatalf("a deleted NIC is still in the pools: %v", got)
	}

	// A VM whose NIC goes with it (deleteOption Delete) leaves no entry.
	nic, err = e.putNIC("node-b", nodeSubnetNIC("eastus", subnet, 0, []string{outbound, inbound}, ""))
	if err != nil {
		t.Fatal(err)
	}
	body := e.vmBody(vmSpec{name: "node-b", size: "Standard_D2s_v5", location: "eastus", zone: "1"}, *nic.ID)
	body.Properties.NetworkProfile.NetworkInterfaces[0].Properties = &armcompute.NetworkInterfaceReferenceProperties{DeleteOption: lo.ToPtr(armcompute.DeleteOptionsDelete)}
	vp, err := e.vms.BeginCreateOrUpdate(e.ctx, testRG, "node-b", body, nil)
	if err == nil {
		_, err = vp.PollUntilDone(e.ctx, lroPoll)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := members(); len(got["kubernetes"]) != 1 {
		t.Fatalf("the VM's NIC is not in the pool: %v", got)
	}
	if err := e.deleteVM("node-b"); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, "the deleted VM's NIC to leave the pools", func() bool {
		got := members()
		return len(got["aksOutboundBackendPool"]) == 0 && len(got["kubernetes"]) == 0
	})
}

// A NIC or subnet joins the NSG it names, which lists them; NSGs carry
// Azure's default rules; references to missing NSGs and route tables, or
// to ones in another region, are refused.
func TestNSGAndRouteTableAssociations(t *testing.T) {
	e := newEnv(t)
	e.aksNetwork("eastus")
	f := e.netFactory()
	nsgID, rtID := netID("networkSecurityGroups", "aks-agentpool-12345678-nsg"), netID("routeTables", "aks-agentpool-12345678-routetable")
	vp, err := e.vnets.BeginCreateOrUpdate(e.ctx, testRG, "vnet", armnetwork.VirtualNetwork{
		Location: lo.ToPtr("eastus"),
		Properties: &armnetwork.VirtualNetworkPropertiesFormat{
			AddressSpace: &armnetwork.AddressSpace{AddressPrefixes: []*string{lo.ToPtr("10.0.0.0/8")}},
			Subnets: []*armnetwork.Subnet{{Name: lo.ToPtr("nodes"), Properties: &armnetwork.SubnetPropertiesFormat{
				AddressPrefix: lo.ToPtr("10.1.0.0/24"), RouteTable: &armnetwork.RouteTable{ID: lo.ToPtr(rtID)}, NetworkSecurityGroup: &armnetwork.SecurityGroup{ID: lo.ToPtr(nsgID)},
			}}},
		},
	}, nil)
	if err == nil {
		_, err = vp.PollUntilDone(e.ctx, lroPoll)
	}
	if err != nil {
		t.Fatal(err)
	}
	subnet := subnetID("vnet", "nodes")
	nic := nodeSubnetNIC("eastus", subnet, 0, nil, nsgID)
	nic.Properties.EnableIPForwarding = lo.ToPtr(true)
	got, err := e.putNIC("node", nic)
	if err != nil {
		t.Fatal(err)
	}
	if !lo.FromPtr(got.Properties.EnableIPForwarding) {
		t.Fatal("IP forwarding was asked for and not kept")
	}
	nsg, err := f.NewSecurityGroupsClient().Get(e.ctx, testRG, "aks-agentpool-12345678-nsg", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(nsg.Properties.NetworkInterfaces) != 1 || !strings.EqualFold(*nsg.Properties.NetworkInterfaces[0].ID, *got.ID) ||
		len(nsg.Properties.Subnets) != 1 || *nsg.Properties.Subnets[0].ID != subnet {
		t.Fatalf("NSG associations: NICs %v, subnets %v", nsg.Properties.NetworkInterfaces, nsg.Properties.Subnets)
	}
	if len(nsg.Properties.DefaultSecurityRules) != 6 {
		t.Fatalf("NSG has %d default rules, want Azure's 6", len(nsg.Properties.DefaultSecurityRules))
	}
	rt, err := f.NewRouteTablesClient().Get(e.ctx, testRG, "aks-agentpool-12345678-routetable", nil)
	if err != nil || len(rt.Properties.Subnets) != 1 || *rt.Properties.Subnets[0].ID != subnet {
		t.Fatalf("route table subnets: %v %+v", err, rt)
	}
	sn, err := e.subnets.Get(e.ctx, testRG, "vnet", "nodes", nil)
	if err != nil || !strings.EqualFold(*sn.Properties.RouteTable.ID, rtID) || !strings.EqualFold(*sn.Properties.NetworkSecurityGroup.ID, nsgID) {
		t.Fatalf("subnet associations: %v %+v", err, sn.Properties)
	}
	e.deleteNIC("node")
	if nsg, _ = f.NewSecurityGroupsClient().Get(e.ctx, testRG, "aks-agentpool-12345678-nsg", nil); len(nsg.Properties.NetworkInterfaces) != 0 {
		t.Fatal("a deleted NIC is still listed by its NSG")
	}

	// Missing, or in another region.
	wp, err := f.NewSecurityGroupsClient().BeginCreateOrUpdate(e.ctx, testRG, "west", armnetwork.SecurityGroup{Location: lo.ToPtr("westus2")}, nil)
	if err == nil {
		_, err = wp.PollUntilDone(e.ctx, lroPoll)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		put  func() error
	}{
		{"NIC with an NSG of another region", func() error {
			_, err := e.putNIC("x", nodeSubnetNIC("eastus", subnet, 0, nil, netID("networkSecurityGroups", "west")))
			return err
		}},
		{"subnet with a missing route table", func() error {
			p, err := e.subnets.BeginCreateOrUpdate(e.ctx, testRG, "vnet", "more", armnetwork.Subnet{Properties: &armnetwork.SubnetPropertiesFormat{
				AddressPrefix: lo.ToPtr("10.3.0.0/24"), RouteTable: &armnetwork.RouteTable{ID: lo.ToPtr(netID("routeTables", "nope"))}}}, nil)
			if err == nil {
				_, err = p.PollUntilDone(e.ctx, lroPoll)
			}
			return err
		}},
	} {
		err := c.put()
		if re := respErr(t, err); re.StatusCode != http.StatusBadRequest || re.ErrorCode != "InvalidResourceReference" ||
			!strings.Contains(err.Error(), "Please make sure that the referenced resource exists, and that both resources are in the same region.") {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
}
