package azuresim_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
)

// BenchmarkVMGetSDK measures VM GETs per second served to the unmodified
// armcompute client over HTTPS, client and server in one process (so both
// share the machine's cores). Throttling is off: the figure is the
// simulator's own ceiling, which must stay above what benchmarks drive.
func BenchmarkVMGetSDK(b *testing.B) {
	cfg := azuresim.DefaultConfig()
	cfg.TimeScale = 0.0001
	cfg.Throttling.Disabled = true
	srv, err := azuresim.NewServer(azuresim.Options{Config: &cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	computeF, _ := armcompute.NewClientFactory(testSub, srv.Credential(), srv.ClientOptions())
	netF, _ := armnetwork.NewClientFactory(testSub, srv.Credential(), srv.ClientOptions())
	vnets, nics, vms := netF.NewVirtualNetworksClient(), netF.NewInterfacesClient(), computeF.NewVirtualMachinesClient()
	vp, err := vnets.BeginCreateOrUpdate(ctx, testRG, "vnet", vnetBody("eastus"), nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := vp.PollUntilDone(ctx, lroPoll); err != nil {
		b.Fatal(err)
	}
	e := &env{vms: vms, nics: nics, ctx: ctx}
	const fleet = 50
	for i := range fleet {
		name := fmt.Sprintf("vm-%d", i)
		np, err := nics.BeginCreateOrUpdate(ctx, testRG, name, armnetwork.Interface{Location: lo.ToPtr("eastus"), Properties: &armnetwork.InterfacePropertiesFormat{
			IPConfigurations: []*armnetwork.InterfaceIPConfiguration{{Name: lo.ToPtr("c"), Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{Subnet: &armnetwork.Subnet{ID: lo.ToPtr(subnetID("vnet", "nodes"))}}}},
		}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		nic, err := np.PollUntilDone(ctx, lroPoll)
		if err != nil {
			b.Fatal(err)
		}
		p, err := vms.BeginCreateOrUpdate(ctx, testRG, name, e.vmBody(vmSpec{name: name, size: "Standard_D4s_v5", location: "eastus", zone: "1"}, *nic.ID), nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.PollUntilDone(ctx, lroPoll); err != nil {
			b.Fatal(err)
		}
	}
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if _, err := vms.Get(ctx, testRG, fmt.Sprintf("vm-%d", i%fleet), nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "gets/s")
	st := srv.Stats().Operations[azuresim.OpGetVM]
	b.ReportMetric(st.P99Ms, "server-p99-ms")
}
