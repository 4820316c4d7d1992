package azuresim_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
)

const (
	testSub = "00000000-0000-0000-0000-000000000001"
	testRG  = "rg-nodes"
)

// lroPoll is the LRO polling used in tests; the SDK allows sub-second
// frequencies under `go test`.
var lroPoll = &runtime.PollUntilDoneOptions{Frequency: 2 * time.Millisecond}

type env struct {
	t       *testing.T
	srv     *azuresim.Server
	vms     *armcompute.VirtualMachinesClient
	skus    *armcompute.ResourceSKUsClient
	usages  *armcompute.UsageClient
	nics    *armnetwork.InterfacesClient
	vnets   *armnetwork.VirtualNetworksClient
	subnets *armnetwork.SubnetsClient
	ctx     context.Context
}

// fastConfig runs simulated time 1000x faster so LROs finish in milliseconds.
func fastConfig() azuresim.Config {
	cfg := azuresim.DefaultConfig()
	cfg.TimeScale = 0.001
	return cfg
}

type envOption func(*azuresim.Options, *arm.ClientOptions)

func withConfig(edit func(*azuresim.Config)) envOption {
	return func(o *azuresim.Options, _ *arm.ClientOptions) { edit(o.Config) }
}

func withPageSize(n int) envOption {
	return func(o *azuresim.Options, _ *arm.ClientOptions) { o.PageSize = n }
}

// noRetries makes the SDK surface 429s and 5xx instead of retrying them.
func noRetries() envOption {
	return func(_ *azuresim.Options, c *arm.ClientOptions) { c.Retry = policy.RetryOptions{MaxRetries: -1} }
}

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	cfg := fastConfig()
	o := azuresim.Options{Config: &cfg, Seed: 42, Logger: testLogger()}
	clientOpts := &arm.ClientOptions{}
	for _, opt := range opts {
		opt(&o, clientOpts)
	}
	srv, err := azuresim.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	co := srv.ClientOptions()
	co.Retry = clientOpts.Retry
	cred := srv.Credential()
	computeF, err := armcompute.NewClientFactory(testSub, cred, co)
	if err != nil {
		t.Fatal(err)
	}
	netF, err := armnetwork.NewClientFactory(testSub, cred, co)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return &env{t: t, srv: srv, ctx: ctx, vms: computeF.NewVirtualMachinesClient(), skus: computeF.NewResourceSKUsClient(),
		usages: computeF.NewUsageClient(), nics: netF.NewInterfacesClient(), vnets: netF.NewVirtualNetworksClient(), subnets: netF.NewSubnetsClient()}
}

// testLogger keeps simulator logs out of test output unless -v is given.
func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.Default()
	}
	return slog.New(slog.DiscardHandler)
}

func subnetID(vnet, subnet string) string {
	return "/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.Network/virtualNetworks/" + vnet + "/subnets/" + subnet
}

// network creates vnet "vnet" in location with subnet "nodes" of prefix.
func (e *env) network(location, prefix string) string {
	e.t.Helper()
	p, err := e.vnets.BeginCreateOrUpdate(e.ctx, testRG, "vnet", armnetwork.VirtualNetwork{
		Location: lo.ToPtr(location),
		Properties: &armnetwork.VirtualNetworkPropertiesFormat{
			AddressSpace: &armnetwork.AddressSpace{AddressPrefixes: []*string{lo.ToPtr("10.0.0.0/8")}},
		},
	}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := p.PollUntilDone(e.ctx, lroPoll); err != nil {
		e.t.Fatal(err)
	}
	sp, err := e.subnets.BeginCreateOrUpdate(e.ctx, testRG, "vnet", "nodes", armnetwork.Subnet{
		Properties: &armnetwork.SubnetPropertiesFormat{AddressPrefix: lo.ToPtr(prefix)},
	}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := sp.PollUntilDone(e.ctx, lroPoll); err != nil {
		e.t.Fatal(err)
	}
	return subnetID("vnet", "nodes")
}

func (e *env) createNIC(name, location, subnet string) (armnetwork.Interface, error) {
	p, err := e.nics.BeginCreateOrUpdate(e.ctx, testRG, name, armnetwork.Interface{
		Location: lo.ToPtr(location),
		Tags:     map[string]*string{"azkarpenter.azure.com/cluster": lo.ToPtr("test")},
		Properties: &armnetwork.InterfacePropertiesFormat{
			EnableAcceleratedNetworking: lo.ToPtr(true),
			IPConfigurations: []*armnetwork.InterfaceIPConfiguration{{
				Name:       lo.ToPtr("ipconfig1"),
				Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{Subnet: &armnetwork.Subnet{ID: lo.ToPtr(subnet)}, Primary: lo.ToPtr(true)},
			}},
		},
	}, nil)
	if err != nil {
		return armnetwork.Interface{}, err
	}
	res, err := p.PollUntilDone(e.ctx, lroPoll)
	return res.Interface, err
}

type vmSpec struct {
	name, size, location, zone string
	spot                       bool
	evictionPolicy             armcompute.VirtualMachineEvictionPolicyTypes
	customData                 string
	diskGB                     int32
	ephemeral                  armcompute.DiffDiskPlacement
	// imageID, when set, is a community gallery image version ID; else a
	// marketplace image.
	imageID       string
	trustedLaunch bool
}

func (e *env) vmBody(s vmSpec, nicID string) armcompute.VirtualMachine {
	vm := armcompute.VirtualMachine{
		Location: lo.ToPtr(s.location),
		Tags:     map[string]*string{"karpenter.sh/nodepool": lo.ToPtr("default")},
		Properties: &armcompute.VirtualMachineProperties{
			HardwareProfile: &armcompute.HardwareProfile{VMSize: lo.ToPtr(armcompute.VirtualMachineSizeTypes(s.size))},
			OSProfile: &armcompute.OSProfile{ComputerName: lo.ToPtr(s.name), AdminUsername: lo.ToPtr("azureuser"),
				LinuxConfiguration: &armcompute.LinuxConfiguration{DisablePasswordAuthentication: lo.ToPtr(true), SSH: &armcompute.SSHConfiguration{
					PublicKeys: []*armcompute.SSHPublicKey{{Path: lo.ToPtr("/home/azureuser/.ssh/authorized_keys"), KeyData: lo.ToPtr(testSSHKey)}},
				}}},
			StorageProfile: &armcompute.StorageProfile{
				ImageReference: &armcompute.ImageReference{Publisher: lo.ToPtr("Canonical"), Offer: lo.ToPtr("ubuntu-24_04-lts"), SKU: lo.ToPtr("server"), Version: lo.ToPtr("latest")},
				OSDisk:         &armcompute.OSDisk{CreateOption: lo.ToPtr(armcompute.DiskCreateOptionTypesFromImage), DeleteOption: lo.ToPtr(armcompute.DiskDeleteOptionTypesDelete)},
			},
			NetworkProfile: &armcompute.NetworkProfile{NetworkInterfaces: []*armcompute.NetworkInterfaceReference{{ID: lo.ToPtr(nicID)}}},
		},
	}
	if s.zone != "" {
		vm.Zones = []*string{lo.ToPtr(s.zone)}
	}
	if s.imageID != "" {
		vm.Properties.StorageProfile.ImageReference = &armcompute.ImageReference{CommunityGalleryImageID: lo.ToPtr(s.imageID)}
	}
	if s.trustedLaunch {
		vm.Properties.SecurityProfile = &armcompute.SecurityProfile{SecurityType: lo.ToPtr(armcompute.SecurityTypesTrustedLaunch),
			UefiSettings: &armcompute.UefiSettings{SecureBootEnabled: lo.ToPtr(true), VTpmEnabled: lo.ToPtr(true)}}
	}
	if s.spot {
		vm.Properties.Priority = lo.ToPtr(armcompute.VirtualMachinePriorityTypesSpot)
		vm.Properties.EvictionPolicy = lo.ToPtr(lo.CoalesceOrEmpty(s.evictionPolicy, armcompute.VirtualMachineEvictionPolicyTypesDelete))
		vm.Properties.BillingProfile = &armcompute.BillingProfile{MaxPrice: lo.ToPtr(-1.0)}
	}
	if s.customData != "" {
		vm.Properties.OSProfile.CustomData = lo.ToPtr(s.customData)
	}
	if s.diskGB > 0 {
		vm.Properties.StorageProfile.OSDisk.DiskSizeGB = lo.ToPtr(s.diskGB)
	}
	if s.ephemeral != "" {
		vm.Properties.StorageProfile.OSDisk.DiffDiskSettings = &armcompute.DiffDiskSettings{Option: lo.ToPtr(armcompute.DiffDiskOptionsLocal), Placement: lo.ToPtr(s.ephemeral)}
		vm.Properties.StorageProfile.OSDisk.Caching = lo.ToPtr(armcompute.CachingTypesReadOnly)
	}
	return vm
}

// testSSHKey is an ED25519 public key (its private half was never kept).
const testSSHKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhWm8l1mzq0dMsWcY8b1tU2WQz2rj0y1sJX2dV3rKj1 azuresim-test"

// createVM creates a NIC and a VM; it returns the poller result error and
// the error of the initial PUT separately (sync vs async failures).
func (e *env) createVM(s vmSpec, subnet string) (vm armcompute.VirtualMachine, putErr, pollErr error) {
	e.t.Helper()
	nic, err := e.createNIC(s.name+"-nic", s.location, subnet)
	if err != nil {
		return vm, err, nil
	}
	p, err := e.vms.BeginCreateOrUpdate(e.ctx, testRG, s.name, e.vmBody(s, *nic.ID), nil)
	if err != nil {
		return vm, err, nil
	}
	res, err := p.PollUntilDone(e.ctx, lroPoll)
	return res.VirtualMachine, nil, err
}

func (e *env) mustCreateVM(s vmSpec, subnet string) armcompute.VirtualMachine {
	e.t.Helper()
	vm, putErr, pollErr := e.createVM(s, subnet)
	if putErr != nil || pollErr != nil {
		e.t.Fatalf("create %s: put %v, poll %v", s.name, putErr, pollErr)
	}
	return vm
}

func (e *env) deleteVM(name string) error {
	p, err := e.vms.BeginDelete(e.ctx, testRG, name, nil)
	if err != nil {
		return err
	}
	_, err = p.PollUntilDone(e.ctx, lroPoll)
	return err
}

// respErr unwraps an *azcore.ResponseError as callers of the SDK do.
func respErr(t *testing.T, err error) *azcore.ResponseError {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("want *azcore.ResponseError, got %T: %v", err, err)
	}
	return re
}

// raw sends a request with the simulator's CA and returns status, headers and body.
func (e *env) raw(method, path, body string, headers map[string]string) (int, http.Header, string) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, method, e.srv.URL()+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.HTTPClient().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func (e *env) admin(method, path, body string, out any) int {
	e.t.Helper()
	status, _, b := e.raw(method, path, body, map[string]string{"Authorization": "Bearer " + e.srv.AdminToken()})
	if out != nil && status < 300 {
		if err := json.Unmarshal([]byte(b), out); err != nil {
			e.t.Fatalf("admin %s %s: %v (%s)", method, path, err, b)
		}
	}
	return status
}

func vnetBody(location string) armnetwork.VirtualNetwork {
	return armnetwork.VirtualNetwork{
		Location: lo.ToPtr(location),
		Properties: &armnetwork.VirtualNetworkPropertiesFormat{
			AddressSpace: &armnetwork.AddressSpace{AddressPrefixes: []*string{lo.ToPtr("10.0.0.0/8")}},
			Subnets:      []*armnetwork.Subnet{{Name: lo.ToPtr("nodes"), Properties: &armnetwork.SubnetPropertiesFormat{AddressPrefix: lo.ToPtr("10.200.0.0/24")}}},
		},
	}
}
