package instance

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"

	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/network"
)

var update = flag.Bool("update", false, "rewrite the golden NIC bodies under testdata/nic/")

const (
	goldenSubnet = "/subscriptions/00000000-0000-0000-0000-00000000a2c0/resourceGroups/mc_rg_aks_eastus/providers/Microsoft.Network/virtualNetworks/aks-vnet-12345678/subnets/aks-subnet"
	goldenLB     = "/subscriptions/00000000-0000-0000-0000-00000000a2c0/resourceGroups/mc_rg_aks_eastus/providers/Microsoft.Network/loadBalancers/kubernetes"
	goldenNSG    = "/subscriptions/00000000-0000-0000-0000-00000000a2c0/resourceGroups/mc_rg_aks_eastus/providers/Microsoft.Network/networkSecurityGroups/aks-agentpool-12345678-nsg"
)

// The NIC body of every network setup on AKS's default cluster (its VNet,
// outbound type loadBalancer) at the setup's default max pods, and of an
// overlay node in a VNet of the user's (the AKS NSG on the NIC), as golden
// files: what the provider sends Azure, reviewed as it changes.
func TestInterfaceBodyGolden(t *testing.T) {
	pools := []string{goldenLB + "/backendAddressPools/aksOutboundBackendPool", goldenLB + "/backendAddressPools/kubernetes"}
	tags := map[string]*string{TagCluster: to.Ptr("aks"), TagNodeClaim: to.Ptr("default-abcde")}
	type golden struct {
		name    string
		setup   network.Setup
		nsg     string
		maxPods int32
	}
	var cases []golden
	for _, s := range network.Setups {
		cases = append(cases, golden{name: string(s.Setup), setup: s, maxPods: s.DefaultMaxPods})
	}
	overlay, _ := network.SetupOf(cluster.NetworkSetupAzureCNIOverlay)
	cases = append(cases, golden{name: "AzureCNIOverlay-user-vnet", setup: overlay, nsg: goldenNSG, maxPods: 250})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := network.StaticFor(c.setup).NIC
			cfg.BackendPoolIDs, cfg.SecurityGroupID = pools, c.nsg
			got, err := json.MarshalIndent(buildInterface("eastus", goldenSubnet, true, c.maxPods, &cfg, tags), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "nic", c.name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if string(got) != string(want) {
				t.Fatalf("NIC body of %s differs from %s (run with -update after review):\n%s", c.name, path, got)
			}
			// What the golden files must say, whatever they were updated to.
			if n := strings.Count(string(got), `"privateIPAllocationMethod"`); n != int(network.AddressesPerNode(c.setup.Setup, c.maxPods)) {
				t.Fatalf("%s: %d IP configurations, want %d", c.name, n, network.AddressesPerNode(c.setup.Setup, c.maxPods))
			}
		})
	}
}
