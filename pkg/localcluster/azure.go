package localcluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

// The simulated Azure environment of the local cluster.
const (
	SubscriptionID = "00000000-0000-0000-0000-00000000beef"
	// TenantID is the Entra tenant nodes' cloud configuration names.
	TenantID = "00000000-0000-0000-0000-0000000000aa"
	// ServiceCIDR is the API server's service range; PodCIDR is AKS's
	// default overlay pod range; VNetCIDR is the nodes' VNet address space.
	ServiceCIDR = "10.96.0.0/16"
	PodCIDR     = "10.244.0.0/16"
	VNetCIDR    = "10.224.0.0/12"
	// ResourceGroup is named as AKS names a cluster's node resource group
	// (MC_<resource group>_<cluster>_<region>), upper-case prefix included:
	// every run then meets the lower-cased group cloud-provider-azure writes
	// into Node providerIDs.
	ResourceGroup = "MC_azkarpenter_local_eastus"
	Location      = "eastus"
	ClusterName   = "azkarpenter-local"
	// AKSNumber is the number in the names of the network resources AKS
	// creates for a cluster (aks-vnet-<n>, aks-agentpool-<n>-nsg).
	AKSNumber = "31415926"
	VNet      = "aks-vnet-" + AKSNumber
	Subnet    = "aks-subnet"
	// SubnetPrefix leaves room for about 4,000 nodes.
	SubnetPrefix = "10.224.0.0/20"
	staticToken  = "azkarpenter-local"
)

// SubnetID is the resource ID of the local cluster's node subnet.
func SubnetID() string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/virtualNetworks/%s/subnets/%s", SubscriptionID, ResourceGroup, VNet, Subnet)
}

// AzureSimOptions configure the simulator process.
type AzureSimOptions struct {
	// TimeScale multiplies simulated latencies (1 = Azure-like, 0 = instant).
	TimeScale float64
	// Args are extra azuresim flags.
	Args []string
}

// StartAzureSim starts azuresim with its node agent registering Nodes in
// this cluster, creates the node subnet through ARM, and returns the Azure
// client configuration that reaches it.
func (c *Cluster) StartAzureSim(ctx context.Context, opts AzureSimOptions) (azure.Config, error) {
	ports, err := freePorts(1)
	if err != nil {
		return azure.Config{}, err
	}
	certDir := filepath.Join(c.opts.StateDir, "azuresim")
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	scale := opts.TimeScale
	if scale <= 0 {
		// The simulator needs a positive factor; a thousandth makes a
		// 35-second VM creation take 35 milliseconds.
		scale = 0.001
	}
	// The controller reads its token from a file, as it reads credentials
	// in production: never from its command line or environment.
	tokenFile := filepath.Join(c.opts.StateDir, "azure-token")
	if err := os.WriteFile(tokenFile, []byte(staticToken+"\n"), 0o600); err != nil {
		return azure.Config{}, err
	}
	cfg := azure.Config{
		ARMEndpoint:     "https://" + addr,
		CABundle:        filepath.Join(certDir, "ca.crt"),
		Credential:      azure.CredentialStaticToken,
		StaticTokenFile: tokenFile,
		UserAgent:       "azkarpenter-up",
		// azuresim's ARM buckets refill at Azure's rates per simulated
		// minute: 1/scale times faster in wall time.
		RateLimitScale: 1 / scale,
	}
	if _, err := c.StartService(ctx, Service{
		Name:   "azuresim",
		Binary: filepath.Join(c.opts.BinDir, "azuresim"),
		Args: append([]string{
			"--addr=" + addr,
			"--cert-dir=" + certDir,
			"--kubeconfig=" + c.Kubeconfig,
			// Nodes are told the API server's AKS-style name and reach it
			// on 443, as AKS images do; the simulated network takes them to
			// the loopback port it listens on.
			"--route=" + net.JoinHostPort(APIServerFQDN, "443") + "=" + c.APIServerAddress(),
			"--time-scale=" + strconv.FormatFloat(scale, 'f', -1, 64),
		}, opts.Args...),
		Address:      cfg.ARMEndpoint + " (ARM, Retail Prices; node agent on)",
		Ready:        func(ctx context.Context) error { return createNodeNetwork(ctx, cfg) },
		ReadyTimeout: time.Minute,
	}); err != nil {
		return azure.Config{}, err
	}
	if c.azureSim, err = azuresim.NewAdminClient(cfg.ARMEndpoint, certDir); err != nil {
		return azure.Config{}, err
	}
	return cfg, nil
}

// createNodeNetwork creates, through ARM, the node network that exists
// before the cluster's nodes do, as AKS's default cluster has it: the
// kubernetes load balancer with its outbound and inbound pools (outbound
// type loadBalancer), the agent pool NSG, and the VNet AKS creates, its
// subnet behind that NSG. It fails until azuresim has written its CA and
// serves.
func createNodeNetwork(ctx context.Context, cfg azure.Config) error {
	if _, err := os.Stat(cfg.CABundle); err != nil {
		return err
	}
	clients, err := azure.NewClients(cfg, SubscriptionID)
	if err != nil {
		return err
	}
	ids, err := testutil.CreateAKSNetwork(ctx, clients, testutil.AKSNetwork{Location: Location, ResourceGroup: ResourceGroup, Number: AKSNumber, LoadBalancer: true})
	if err != nil {
		return fmt.Errorf("creating the node network in azuresim: %w", err)
	}
	if _, err = testutil.CreateVNet(ctx, clients, Location, ResourceGroup, VNet, VNetCIDR, Subnet, SubnetPrefix, ids.SecurityGroup, ""); err != nil {
		return fmt.Errorf("creating the node network in azuresim: %w", err)
	}
	return nil
}

// AzureSim is the admin client of the simulator StartAzureSim started (nil
// before): its state, statistics and fault model.
func (c *Cluster) AzureSim() *azuresim.AdminClient { return c.azureSim }

// ControllerOptions configure the controller process.
type ControllerOptions struct {
	Azure azure.Config
	// Env are extra environment variables (karpenter core's options).
	Env []string
}

// StartController starts the azkarpenter controller against the cluster and
// the simulator, and waits for its health probe.
func (c *Cluster) StartController(ctx context.Context, opts ControllerOptions) error {
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	metricsPort, healthPort := ports[0], ports[1]
	env := append(c.azureEnv(opts.Azure),
		"AZURE_VNET_SUBNET_ID="+SubnetID(),
		// A local cluster has no AKS node or CNI DaemonSet the controller
		// could read its network setup from: declare AKS's default.
		"NETWORK_PLUGIN=azure",
		"NETWORK_PLUGIN_MODE=overlay",
		// The cluster's address ranges, which Windows nodes' Azure CNI and
		// kube-proxy need: the API server's service range, AKS's default
		// overlay pod CIDR and the nodes' VNet.
		"SERVICE_CIDR="+ServiceCIDR,
		"POD_CIDR="+PodCIDR,
		"VNET_CIDR="+VNetCIDR,
		// Nodes reach the API server by its AKS-style name; the controller
		// finds the CA, the bootstrap token and kube-dns itself.
		"CLUSTER_ENDPOINT=https://"+APIServerFQDN,
		// Nodes' cloud configuration names the cluster's security group
		// (the route table follows from its AKS name).
		"AZURE_TENANT_ID="+TenantID,
		"AZURE_PRICES_ENDPOINT="+opts.Azure.ARMEndpoint,
		// The client-side ARM rate limits refill as fast as azuresim's buckets.
		"AZURE_ARM_RATE_LIMIT_SCALE="+strconv.FormatFloat(rateLimitScale(opts.Azure), 'g', -1, 64),
		"DISABLE_LEADER_ELECTION=true",
		"METRICS_PORT="+strconv.Itoa(metricsPort),
		"HEALTH_PROBE_PORT="+strconv.Itoa(healthPort),
		"FEATURE_GATES=NodeRepair=true,NodeOverlay=true,SpotToSpotConsolidation=true,StaticCapacity=true",
		"LOG_LEVEL=info",
	)
	_, err = c.StartService(ctx, Service{
		Name:         "controller",
		Binary:       filepath.Join(c.opts.BinDir, "controller"),
		Env:          append(env, opts.Env...),
		Address:      fmt.Sprintf("metrics http://127.0.0.1:%d/metrics", metricsPort),
		Ready:        HTTPReady(fmt.Sprintf("http://127.0.0.1:%d/readyz", healthPort)),
		ReadyTimeout: 90 * time.Second,
	})
	return err
}

// RestartController stops the running controller and starts it again with
// opts, as a changed Deployment rolls it: tests use it to run the
// controller with another configuration on the same cluster.
func (c *Cluster) RestartController(ctx context.Context, opts ControllerOptions) error {
	for i := 0; i < len(c.procs); i++ {
		if c.procs[i].name == "controller" {
			c.procs[i].stop(15 * time.Second)
			c.procs = append(c.procs[:i], c.procs[i+1:]...)
			i--
		}
	}
	for i := 0; i < len(c.components); i++ {
		if c.components[i].Name == "controller" {
			c.components = append(c.components[:i], c.components[i+1:]...)
			i--
		}
	}
	return c.StartController(ctx, opts)
}

// ControllerMetricsURL is the controller's metrics endpoint, if started.
func (c *Cluster) ControllerMetricsURL() string {
	for _, comp := range c.components {
		if comp.Name == "controller" {
			return strings.TrimPrefix(comp.Address, "metrics ")
		}
	}
	return ""
}

// rateLimitScale is the controller's --arm-rate-limit-scale for cfg.
func rateLimitScale(cfg azure.Config) float64 {
	if cfg.RateLimitScale <= 0 {
		return 1
	}
	return cfg.RateLimitScale
}
