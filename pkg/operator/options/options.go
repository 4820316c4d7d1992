// Package options holds azkarpenter's own flags and environment variables,
// validated, and carried in the context as karpenter core carries its own.
package options

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	coreoptions "sigs.k8s.io/karpenter/pkg/operator/options"
	"sigs.k8s.io/karpenter/pkg/utils/env"

	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	"github.com/azkarpenter/azkarpenter/pkg/providers/network"
)

func init() {
	coreoptions.Injectables = append(coreoptions.Injectables, &Options{})
}

type optionsKey struct{}

// Options are the Azure-side settings of the controller.
type Options struct {
	ClusterName       string
	SubscriptionID    string
	ResourceGroup     string
	Location          string
	VNETSubnetID      string
	NetworkPlugin     string
	NetworkPluginMode string
	NetworkPolicy     string
	NetworkDataplane  string
	VNetGUID          string
	// BackendPoolIDs, NetworkSecurityGroupID and RouteTableID override
	// what is read of the cluster's network (package network); empty reads
	// it, "none" turns pools or the NSG off.
	BackendPoolIDs         []string
	NetworkSecurityGroupID string
	RouteTableID           string

	// What nodes are told about the cluster (docs/bootstrap.md).
	ClusterEndpoint         string
	ClusterCAFile           string
	BootstrapTokenSecret    string
	ClusterDNS              string
	KubeletIdentityClientID string
	// NodeIdentities are user-assigned managed identities (resource IDs)
	// attached to every VM: AKS's kubelet identity, so that kubelets pull
	// from ACR and node add-ons reach Azure through IMDS as on AKS.
	NodeIdentities []string
	TenantID       string
	// The cluster's address ranges, which Windows nodes need.
	ServiceCIDR string
	PodCIDR     string
	VNetCIDR    string
	// Nodes' egress proxy and the CAs they trust (AKS's httpProxyConfig and
	// custom CA trust), cluster-wide as on AKS.
	NodeHTTPProxy              string
	NodeHTTPSProxy             string
	NodeNoProxy                []string
	NodeHTTPProxyTrustedCAFile string
	NodeCustomCACertsFile      string

	Cloud                   string
	ARMEndpoint             string
	PricesEndpoint          string
	CABundle                string
	CredentialMode          string
	ManagedIdentityClientID string
	StaticTokenFile         string
	ARMPollInterval         time.Duration
	// VMCreateWait is how long Create waits for a VM Azure accepted to
	// finish provisioning before it returns and follows it in the background.
	VMCreateWait time.Duration
	// ARMRateLimitScale multiplies the refill rates of the client-side ARM
	// rate limits (Azure's published figures): for a simulator whose clock
	// runs faster than Azure's.
	ARMRateLimitScale float64

	// Node images (pkg/providers/imagefamily): pinned versions ("" takes
	// the newest published) and how often the galleries are read again.
	NodeImageVersion            string
	WindowsNodeImageVersion     string
	Windows2025NodeImageVersion string
	ImageRefreshPeriod          time.Duration

	NodeSettings
	BurstSettings

	// Errors of values read before Parse (environment variables that do not
	// parse), reported by Validate with the rest.
	flagErrs          []error
	repairPoliciesErr error
}

// Node image versions are three period-separated integers:
// YYYYMM.DD.patch for Linux, <build>.<revision>.<yymmdd> for Windows.
var nodeImageVersionPattern = regexp.MustCompile(`^\d{1,10}\.\d{1,10}\.\d{1,10}$`)

var subnetIDPattern = regexp.MustCompile(`(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/virtualNetworks/[^/]+/subnets/[^/]+$`)

// AddFlags registers the flags; each defaults to its environment variable.
func (o *Options) AddFlags(fs *coreoptions.FlagSet) {
	fs.StringVar(&o.ClusterName, "cluster-name", env.WithDefaultString("CLUSTER_NAME", ""), "[REQUIRED] Name of the cluster; tags every Azure resource the controller creates. (CLUSTER_NAME)")
	fs.StringVar(&o.SubscriptionID, "subscription-id", env.WithDefaultString("AZURE_SUBSCRIPTION_ID", ""), "[REQUIRED] Azure subscription ID nodes are created in. (AZURE_SUBSCRIPTION_ID)")
	fs.StringVar(&o.ResourceGroup, "resource-group", env.WithDefaultString("AZURE_NODE_RESOURCE_GROUP", ""), "[REQUIRED] Resource group nodes are created in (the cluster's node resource group). (AZURE_NODE_RESOURCE_GROUP)")
	fs.StringVar(&o.Location, "location", env.WithDefaultString("AZURE_LOCATION", ""), "[REQUIRED] Azure region of the cluster, e.g. eastus. (AZURE_LOCATION)")
	fs.StringVar(&o.VNETSubnetID, "vnet-subnet-id", env.WithDefaultString("AZURE_VNET_SUBNET_ID", ""), "[REQUIRED] Default subnet for node network interfaces; an AKSNodeClass may override it. (AZURE_VNET_SUBNET_ID)")
	fs.StringVar(&o.NetworkPlugin, "network-plugin", env.WithDefaultString("NETWORK_PLUGIN", ""), "Cluster network plugin (networkProfile.networkPlugin): azure, kubenet or none; empty reads the network setup from the cluster's AKS nodes and CNI DaemonSets. Decides the NICs and the default max pods. (NETWORK_PLUGIN)")
	fs.StringVar(&o.NetworkPluginMode, "network-plugin-mode", env.WithDefaultString("NETWORK_PLUGIN_MODE", ""), "Network plugin mode, with --network-plugin=azure: overlay, or empty for node subnet. (NETWORK_PLUGIN_MODE)")
	fs.StringVar(&o.NetworkPolicy, "network-policy", env.WithDefaultString("NETWORK_POLICY", ""), "Cluster network policy: empty, none, azure, calico or cilium. (NETWORK_POLICY)")
	fs.StringVar(&o.NetworkDataplane, "network-dataplane", env.WithDefaultString("NETWORK_DATAPLANE", ""), "Cluster network dataplane, with --network-plugin: azure (the default) or cilium (Azure CNI Powered by Cilium). (NETWORK_DATAPLANE)")
	fs.Func("backend-pool-ids", "Comma-separated resource IDs of the load balancer backend pools every node's NIC joins, or none; empty joins the NIC-based pools of the node resource group's kubernetes and kubernetes-internal load balancers, as AKS does. (BACKEND_POOL_IDS)", func(v string) error {
		o.BackendPoolIDs = splitListOrNil(v)
		return nil
	})
	o.BackendPoolIDs = splitListOrNil(env.WithDefaultString("BACKEND_POOL_IDS", ""))
	fs.StringVar(&o.NetworkSecurityGroupID, "network-security-group-id", env.WithDefaultString("NETWORK_SECURITY_GROUP_ID", ""), "Resource ID of the NSG on the NIC of nodes in a subnet not associated with it, or none; empty takes the node resource group's aks-agentpool-<number>-nsg, as AKS does for a VNet of yours. (NETWORK_SECURITY_GROUP_ID)")
	fs.StringVar(&o.RouteTableID, "route-table-id", env.WithDefaultString("ROUTE_TABLE_ID", ""), "Resource ID of the route table kubenet node subnets must be associated with; empty accepts the subnet's. (ROUTE_TABLE_ID)")
	fs.StringVar(&o.VNetGUID, "vnet-guid", env.WithDefaultString("VNET_GUID", ""), "Resource GUID of the nodes' virtual network, for the Azure CNI overlay node labels. (VNET_GUID)")
	fs.StringVar(&o.ClusterEndpoint, "cluster-endpoint", env.WithDefaultString("CLUSTER_ENDPOINT", ""), "API server URL nodes join, https://<FQDN>[:443]; empty takes the controller's own when nodes can reach it. (CLUSTER_ENDPOINT)")
	fs.StringVar(&o.ClusterCAFile, "cluster-ca-file", env.WithDefaultString("CLUSTER_CA_FILE", ""), "PEM file of the cluster CA nodes trust; empty takes the controller's own. (CLUSTER_CA_FILE)")
	fs.StringVar(&o.BootstrapTokenSecret, "bootstrap-token-secret", env.WithDefaultString("BOOTSTRAP_TOKEN_SECRET", ""), "namespace/name of the bootstrap.kubernetes.io/token Secret nodes join with; empty finds one in kube-system. (BOOTSTRAP_TOKEN_SECRET)")
	fs.StringVar(&o.ClusterDNS, "cluster-dns", env.WithDefaultString("CLUSTER_DNS", ""), "Cluster DNS IP (kubelet --cluster-dns); empty reads Service kube-system/kube-dns. (CLUSTER_DNS)")
	fs.Func("node-identities", "Comma-separated resource IDs of user-assigned managed identities attached to every VM, normally the cluster's kubelet identity (NAP's NODE_IDENTITIES). (NODE_IDENTITIES)", func(v string) error {
		o.NodeIdentities = splitList(v)
		return nil
	})
	o.NodeIdentities = splitList(env.WithDefaultString("NODE_IDENTITIES", ""))
	fs.StringVar(&o.KubeletIdentityClientID, "kubelet-identity-client-id", env.WithDefaultString("KUBELET_IDENTITY_CLIENT_ID", ""), "Client ID of the managed identity kubelets use (AKS's kubelet identity). (KUBELET_IDENTITY_CLIENT_ID)")
	fs.StringVar(&o.ServiceCIDR, "service-cidr", env.WithDefaultString("SERVICE_CIDR", ""), "The cluster's service CIDR (networkProfile.serviceCidr); Windows nodes need it. (SERVICE_CIDR)")
	fs.StringVar(&o.PodCIDR, "pod-cidr", env.WithDefaultString("POD_CIDR", ""), "The cluster's pod CIDR (networkProfile.podCidr; for Azure CNI node subnet, the node subnet); Windows nodes need it. (POD_CIDR)")
	fs.StringVar(&o.VNetCIDR, "vnet-cidr", env.WithDefaultString("VNET_CIDR", ""), "Address space of the nodes' virtual network; Windows nodes' Azure CNI needs it. (VNET_CIDR)")
	fs.StringVar(&o.NodeHTTPProxy, "node-http-proxy", env.WithDefaultString("NODE_HTTP_PROXY", ""), "HTTP proxy nodes send outbound HTTP through (AKS httpProxyConfig.httpProxy), http(s)://host:port. (NODE_HTTP_PROXY)")
	fs.StringVar(&o.NodeHTTPSProxy, "node-https-proxy", env.WithDefaultString("NODE_HTTPS_PROXY", ""), "HTTPS proxy nodes send outbound HTTPS through (AKS httpProxyConfig.httpsProxy). (NODE_HTTPS_PROXY)")
	fs.Func("node-no-proxy", "Comma-separated hosts, domain suffixes (.example.com), IPs and CIDRs nodes reach without the proxy (AKS httpProxyConfig.noProxy); AKS's own (localhost, 127.0.0.1, 168.63.129.16, 169.254.169.254, .svc, .cluster.local) are added. (NODE_NO_PROXY)", func(v string) error {
		o.NodeNoProxy = splitList(v)
		return nil
	})
	o.NodeNoProxy = splitList(env.WithDefaultString("NODE_NO_PROXY", ""))
	fs.StringVar(&o.NodeHTTPProxyTrustedCAFile, "node-http-proxy-trusted-ca-file", env.WithDefaultString("NODE_HTTP_PROXY_TRUSTED_CA_FILE", ""), "PEM file of the CA nodes trust for the proxy (AKS httpProxyConfig.trustedCa). (NODE_HTTP_PROXY_TRUSTED_CA_FILE)")
	fs.StringVar(&o.NodeCustomCACertsFile, "node-custom-ca-certs-file", env.WithDefaultString("NODE_CUSTOM_CA_CERTS_FILE", ""), "PEM file of up to 10 certificates nodes add to their trust store (AKS custom CA trust). (NODE_CUSTOM_CA_CERTS_FILE)")
	fs.StringVar(&o.TenantID, "tenant-id", env.WithDefaultString("AZURE_TENANT_ID", ""), "Microsoft Entra tenant of the subscription, written into the nodes' cloud configuration. (AZURE_TENANT_ID)")
	fs.StringVar(&o.Cloud, "azure-cloud", env.WithDefaultString("AZURE_CLOUD", "AzurePublicCloud"), "Azure cloud: AzurePublicCloud, AzureChinaCloud or AzureUSGovernmentCloud. (AZURE_CLOUD)")
	fs.StringVar(&o.ARMEndpoint, "arm-endpoint", env.WithDefaultString("AZURE_ARM_ENDPOINT", ""), "Override of the Azure Resource Manager endpoint (https://), e.g. a simulator. (AZURE_ARM_ENDPOINT)")
	fs.StringVar(&o.PricesEndpoint, "prices-endpoint", env.WithDefaultString("AZURE_PRICES_ENDPOINT", "https://prices.azure.com"), "Azure Retail Prices API endpoint. (AZURE_PRICES_ENDPOINT)")
	fs.StringVar(&o.CABundle, "ca-bundle", env.WithDefaultString("AZURE_CA_BUNDLE", ""), "PEM file of extra CAs to trust for Azure endpoints. (AZURE_CA_BUNDLE)")
	fs.StringVar(&o.CredentialMode, "credential", env.WithDefaultString("AZURE_CREDENTIAL_MODE", string(azure.CredentialWorkloadIdentity)), "How to authenticate: workload-identity, managed-identity or static-token. (AZURE_CREDENTIAL_MODE)")
	fs.StringVar(&o.ManagedIdentityClientID, "managed-identity-client-id", env.WithDefaultString("AZURE_MANAGED_IDENTITY_CLIENT_ID", ""), "Client ID of a user-assigned managed identity. (AZURE_MANAGED_IDENTITY_CLIENT_ID)")
	fs.Float64Var(&o.ARMRateLimitScale, "arm-rate-limit-scale", floatEnv("AZURE_ARM_RATE_LIMIT_SCALE", 1), "Multiply the refill rates of the client-side ARM rate limits (Azure's published bucket sizes and refill rates) by this factor. Leave it at 1 against Azure; set it to 1/time-scale against azuresim, whose buckets refill that much faster. (AZURE_ARM_RATE_LIMIT_SCALE)")
	fs.DurationVar(&o.VMCreateWait, "vm-create-wait", env.WithDefaultDuration("AZURE_VM_CREATE_WAIT", 0), "How long a NodeClaim's launch waits for its VM to finish provisioning before returning, once Azure has accepted the VM; the rest is followed in the background. 0 returns at once: karpenter provisions nothing else while a launch is in flight. A VM that fails within the wait fails the launch itself; one that fails later has its NodeClaim deleted. (AZURE_VM_CREATE_WAIT)")
	fs.DurationVar(&o.ARMPollInterval, "arm-poll-interval", env.WithDefaultDuration("AZURE_ARM_POLL_INTERVAL", 5*time.Second), "How often long-running ARM operations (VM creation and deletion) are polled. (AZURE_ARM_POLL_INTERVAL)")
	fs.StringVar(&o.NodeImageVersion, "node-image-version", env.WithDefaultString("NODE_IMAGE_VERSION", ""), "Pin Ubuntu and Azure Linux nodes to this AKS node image version (YYYYMM.DD.patch, e.g. 202611.10.0); empty takes the newest published. (NODE_IMAGE_VERSION)")
	fs.StringVar(&o.WindowsNodeImageVersion, "windows-node-image-version", env.WithDefaultString("WINDOWS_NODE_IMAGE_VERSION", ""), "Pin Windows Server 2022 nodes to this AKS node image version (e.g. 20348.4405.261112); empty takes the newest published. (WINDOWS_NODE_IMAGE_VERSION)")
	fs.StringVar(&o.Windows2025NodeImageVersion, "windows2025-node-image-version", env.WithDefaultString("WINDOWS2025_NODE_IMAGE_VERSION", ""), "Pin Windows Server 2025 nodes to this AKS node image version (e.g. 26100.7171.261112); empty takes the newest published. (WINDOWS2025_NODE_IMAGE_VERSION)")
	fs.DurationVar(&o.ImageRefreshPeriod, "image-refresh-period", env.WithDefaultDuration("IMAGE_REFRESH_PERIOD", imagefamily.DefaultRefreshPeriod), "How often node image versions are read from the AKS community galleries; nodes on an older image drift after the next read. (IMAGE_REFRESH_PERIOD)")
	fs.StringVar(&o.StaticTokenFile, "static-token-file", env.WithDefaultString("AZURE_STATIC_TOKEN_FILE", ""), "File holding the bearer token of credential static-token (simulators only), read again when the SDK needs a token; a token never goes on the command line. (AZURE_STATIC_TOKEN_FILE)")
	o.addNodeFlags(fs)
	o.addBurstFlags(fs)
}

// Parse parses the flags and validates the result.
func (o *Options) Parse(fs *coreoptions.FlagSet, args ...string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		return fmt.Errorf("parsing flags: %w", err)
	}
	return o.Validate()
}

// Validate reports every problem at once, each naming its flag and variable.
func (o *Options) Validate() error {
	var errs []error
	required := []struct{ value, flag, env string }{
		{o.ClusterName, "--cluster-name", "CLUSTER_NAME"},
		{o.SubscriptionID, "--subscription-id", "AZURE_SUBSCRIPTION_ID"},
		{o.ResourceGroup, "--resource-group", "AZURE_NODE_RESOURCE_GROUP"},
		{o.Location, "--location", "AZURE_LOCATION"},
		{o.VNETSubnetID, "--vnet-subnet-id", "AZURE_VNET_SUBNET_ID"},
	}
	for _, r := range required {
		if r.value == "" {
			errs = append(errs, fmt.Errorf("%s (%s) is required", r.flag, r.env))
		}
	}
	if o.VNETSubnetID != "" && !subnetIDPattern.MatchString(o.VNETSubnetID) {
		errs = append(errs, fmt.Errorf("--vnet-subnet-id %q is not a subnet resource ID (/subscriptions/…/resourceGroups/…/providers/Microsoft.Network/virtualNetworks/…/subnets/…)", o.VNETSubnetID))
	}
	if o.Location != "" && (strings.ToLower(o.Location) != o.Location || strings.ContainsAny(o.Location, " ")) {
		errs = append(errs, fmt.Errorf("--location %q must be a region name such as eastus (lower case, no spaces)", o.Location))
	}
	errs = append(errs, o.validateNetwork()...)
	if !slices.Contains([]string{"", "none", "azure", "calico", "cilium"}, o.NetworkPolicy) {
		errs = append(errs, fmt.Errorf("--network-policy %q must be empty, none, azure, calico or cilium", o.NetworkPolicy))
	}
	if o.ClusterEndpoint != "" && !strings.HasPrefix(o.ClusterEndpoint, "https://") {
		errs = append(errs, fmt.Errorf("--cluster-endpoint %q must be an https:// URL", o.ClusterEndpoint))
	}
	if o.BootstrapTokenSecret != "" && strings.Count(o.BootstrapTokenSecret, "/") != 1 {
		errs = append(errs, fmt.Errorf("--bootstrap-token-secret %q must be namespace/name", o.BootstrapTokenSecret))
	}
	for _, id := range o.NodeIdentities {
		if !userAssignedIdentityPattern.MatchString(id) {
			errs = append(errs, fmt.Errorf("--node-identities (NODE_IDENTITIES) %q is not a user-assigned identity resource ID (/subscriptions/…/resourceGroups/…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/…)", id))
		}
	}
	errs = append(errs, o.validateNodeSettings()...)
	errs = append(errs, o.validateBurst()...)
	if o.ARMRateLimitScale <= 0 {
		errs = append(errs, fmt.Errorf("--arm-rate-limit-scale %g must be positive", o.ARMRateLimitScale))
	}
	if o.VMCreateWait < 0 || o.VMCreateWait > 10*time.Minute {
		errs = append(errs, fmt.Errorf("--vm-create-wait %s must be between 0 and 10m", o.VMCreateWait))
	}
	if o.ARMPollInterval < 0 || o.ARMPollInterval > time.Minute {
		errs = append(errs, fmt.Errorf("--arm-poll-interval %s must be between 0 and 1m", o.ARMPollInterval))
	}
	for _, v := range []struct{ value, flag, env string }{
		{o.NodeImageVersion, "--node-image-version", "NODE_IMAGE_VERSION"},
		{o.WindowsNodeImageVersion, "--windows-node-image-version", "WINDOWS_NODE_IMAGE_VERSION"},
		{o.Windows2025NodeImageVersion, "--windows2025-node-image-version", "WINDOWS2025_NODE_IMAGE_VERSION"},
	} {
		if v.value != "" && !nodeImageVersionPattern.MatchString(v.value) {
			errs = append(errs, fmt.Errorf("%s (%s) %q must be a gallery image version, three period-separated numbers such as 202611.10.0", v.flag, v.env, v.value))
		}
	}
	if o.ImageRefreshPeriod < time.Second || o.ImageRefreshPeriod > 7*24*time.Hour {
		errs = append(errs, fmt.Errorf("--image-refresh-period (IMAGE_REFRESH_PERIOD) %s must be between 1s and 168h", o.ImageRefreshPeriod))
	}
	if o.PricesEndpoint != "" && !strings.HasPrefix(o.PricesEndpoint, "https://") {
		errs = append(errs, fmt.Errorf("--prices-endpoint %q must be an https:// URL", o.PricesEndpoint))
	}
	if err := o.AzureConfig().Validate(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, o.validateNodeNetworkSettings()...)
	return errors.Join(errs...)
}

// validateNetwork checks the network options: a declared setup must be one
// azkarpenter builds (the message names those), and overrides must be
// resource IDs of their kind or "none".
func (o *Options) validateNetwork() []error {
	var errs []error
	if !slices.Contains([]string{"", "azure", "kubenet", "none"}, o.NetworkPlugin) {
		errs = append(errs, fmt.Errorf("--network-plugin %q must be azure, kubenet, none, or empty to read it from the cluster", o.NetworkPlugin))
	}
	if !slices.Contains([]string{"", "overlay"}, o.NetworkPluginMode) {
		errs = append(errs, fmt.Errorf("--network-plugin-mode %q must be overlay or empty (node subnet)", o.NetworkPluginMode))
	}
	if !slices.Contains([]string{"", "azure", "cilium"}, o.NetworkDataplane) {
		errs = append(errs, fmt.Errorf("--network-dataplane %q must be azure or cilium", o.NetworkDataplane))
	}
	if len(errs) == 0 && o.NetworkPlugin != "" {
		setup, ok := cluster.NetworkSetupOf(o.NetworkPlugin, o.NetworkPluginMode, lo.CoalesceOrEmpty(o.NetworkDataplane, "azure"))
		if _, built := network.SetupOf(setup); !ok || !built {
			errs = append(errs, fmt.Errorf("--network-plugin=%s --network-plugin-mode=%q --network-dataplane=%s is not a network setup azkarpenter builds; supported: %s",
				o.NetworkPlugin, o.NetworkPluginMode, lo.CoalesceOrEmpty(o.NetworkDataplane, "azure"), network.SupportedSetups()))
		}
	}
	for _, id := range o.BackendPoolIDs {
		if id != network.None && !backendPoolPattern.MatchString(id) {
			errs = append(errs, fmt.Errorf("--backend-pool-ids (BACKEND_POOL_IDS) %q is not a load balancer backend pool resource ID (/subscriptions/…/resourceGroups/…/providers/Microsoft.Network/loadBalancers/…/backendAddressPools/…) or none", id))
		}
	}
	if len(o.BackendPoolIDs) > 1 && slices.Contains(o.BackendPoolIDs, network.None) {
		errs = append(errs, fmt.Errorf("--backend-pool-ids (BACKEND_POOL_IDS) lists pools and none"))
	}
	if id := o.NetworkSecurityGroupID; id != "" && id != network.None && !nsgPattern.MatchString(id) {
		errs = append(errs, fmt.Errorf("--network-security-group-id (NETWORK_SECURITY_GROUP_ID) %q is not a network security group resource ID (/subscriptions/…/resourceGroups/…/providers/Microsoft.Network/networkSecurityGroups/…) or none", id))
	}
	if id := o.RouteTableID; id != "" && !routeTablePattern.MatchString(id) {
		errs = append(errs, fmt.Errorf("--route-table-id (ROUTE_TABLE_ID) %q is not a route table resource ID (/subscriptions/…/resourceGroups/…/providers/Microsoft.Network/routeTables/…)", id))
	}
	return errs
}

var (
	backendPoolPattern = regexp.MustCompile(`(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/loadBalancers/[^/]+/backendAddressPools/[^/]+$`)
	nsgPattern         = regexp.MustCompile(`(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/networkSecurityGroups/[^/]+$`)
	routeTablePattern  = regexp.MustCompile(`(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/routeTables/[^/]+$`)
)

// NetworkSetup is the declared network setup ("" when the cluster is to be
// read, or the declaration is not one azkarpenter builds).
func (o *Options) NetworkSetup() cluster.NetworkSetup {
	if o.NetworkPlugin == "" {
		return ""
	}
	s, _ := cluster.NetworkSetupOf(o.NetworkPlugin, o.NetworkPluginMode, lo.CoalesceOrEmpty(o.NetworkDataplane, "azure"))
	return s
}

// DefaultMaxPods is AKS's default max pods of the declared setup, or of
// AKS's default setup (Azure CNI Overlay) when none is declared.
func (o *Options) DefaultMaxPods() int32 {
	return network.DefaultMaxPods(lo.CoalesceOrEmpty(o.NetworkSetup(), cluster.NetworkSetupAzureCNIOverlay))
}

// NetworkOptions are the network provider's options the options describe;
// the setup is the declared one (set the resolved one before use).
func (o *Options) NetworkOptions() network.Options {
	return network.Options{
		SubscriptionID: o.SubscriptionID, NodeResourceGroup: o.ResourceGroup, Setup: o.NetworkSetup(),
		BackendPoolIDs: o.BackendPoolIDs, SecurityGroupID: o.NetworkSecurityGroupID, RouteTableID: o.RouteTableID,
	}
}

// ClusterInputs are the cluster-input options the options describe.
func (o *Options) ClusterInputs() cluster.Options {
	return cluster.Options{
		ClusterEndpoint: o.ClusterEndpoint, ClusterCAFile: o.ClusterCAFile, BootstrapTokenSecret: o.BootstrapTokenSecret,
		ClusterDNS: o.ClusterDNS, KubeletIdentityClientID: o.KubeletIdentityClientID, TenantID: o.TenantID,
		NetworkPlugin: o.NetworkPlugin, NetworkPluginMode: o.NetworkPluginMode, NetworkPolicy: o.NetworkPolicy,
		NetworkDataplane: o.NetworkDataplane, VNetGUID: o.VNetGUID,
		ServiceCIDR: o.ServiceCIDR, PodCIDR: o.PodCIDR, VNetCIDR: o.VNetCIDR,
		HTTPProxy: o.NodeHTTPProxy, HTTPSProxy: o.NodeHTTPSProxy, NoProxy: o.NodeNoProxy,
		HTTPProxyTrustedCAFile: o.NodeHTTPProxyTrustedCAFile, CustomCACertsFile: o.NodeCustomCACertsFile,
	}
}

// validateNodeNetworkSettings checks what nodes are told beyond the Azure
// side (address ranges, proxy, trusted CAs) at start-up, naming the flag: a
// bad proxy URL or CA bundle would otherwise surface only as AKSNodeClasses
// that are not Ready.
func (o *Options) validateNodeNetworkSettings() []error {
	var errs []error
	for _, c := range []struct{ value, flag, env string }{
		{o.ServiceCIDR, "--service-cidr", "SERVICE_CIDR"}, {o.PodCIDR, "--pod-cidr", "POD_CIDR"}, {o.VNetCIDR, "--vnet-cidr", "VNET_CIDR"},
	} {
		for _, cidr := range splitList(c.value) {
			if _, _, err := net.ParseCIDR(cidr); err != nil {
				errs = append(errs, fmt.Errorf("%s (%s) %q is not a CIDR such as 10.0.0.0/16", c.flag, c.env, cidr))
			}
		}
	}
	for _, p := range []struct{ value, flag, env string }{
		{o.NodeHTTPProxy, "--node-http-proxy", "NODE_HTTP_PROXY"}, {o.NodeHTTPSProxy, "--node-https-proxy", "NODE_HTTPS_PROXY"},
	} {
		if err := cluster.ValidateProxyURL(p.value); err != nil {
			errs = append(errs, fmt.Errorf("%s (%s) %q %w", p.flag, p.env, p.value, err))
		}
	}
	for _, e := range o.NodeNoProxy {
		if err := cluster.ValidateNoProxyEntry(e); err != nil {
			errs = append(errs, fmt.Errorf("--node-no-proxy (NODE_NO_PROXY) entry %q %w", e, err))
		}
	}
	if o.NodeHTTPProxy == "" && o.NodeHTTPSProxy == "" && (len(o.NodeNoProxy) > 0 || o.NodeHTTPProxyTrustedCAFile != "") {
		errs = append(errs, fmt.Errorf("--node-no-proxy and --node-http-proxy-trusted-ca-file need --node-http-proxy or --node-https-proxy"))
	}
	for _, f := range []struct {
		file, flag, env string
		limit           int
	}{
		{o.NodeHTTPProxyTrustedCAFile, "--node-http-proxy-trusted-ca-file", "NODE_HTTP_PROXY_TRUSTED_CA_FILE", 0},
		{o.NodeCustomCACertsFile, "--node-custom-ca-certs-file", "NODE_CUSTOM_CA_CERTS_FILE", cluster.MaxCustomCACerts},
	} {
		if f.file == "" {
			continue
		}
		if _, err := cluster.ReadPEMCertificates(f.file, f.limit); err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", f.flag, f.env, err))
		}
	}
	return errs
}

// ImageOptions are the image provider's options the options describe; the
// cluster's Kubernetes version comes from the caller.
func (o *Options) ImageOptions() imagefamily.Options {
	return imagefamily.Options{
		Location:           o.Location,
		LinuxVersion:       o.NodeImageVersion,
		WindowsVersion:     o.WindowsNodeImageVersion,
		Windows2025Version: o.Windows2025NodeImageVersion,
	}
}

// AzureConfig is the SDK client configuration the options describe.
func (o *Options) AzureConfig() azure.Config {
	return azure.Config{
		Cloud:                   o.Cloud,
		ARMEndpoint:             o.ARMEndpoint,
		CABundle:                o.CABundle,
		Credential:              azure.CredentialMode(o.CredentialMode),
		ManagedIdentityClientID: o.ManagedIdentityClientID,
		StaticTokenFile:         o.StaticTokenFile,
		UserAgent:               "azkarpenter",
		RateLimitScale:          o.ARMRateLimitScale,
	}
}

// ToContext stores the options in ctx.
func (o *Options) ToContext(ctx context.Context) context.Context {
	return ToContext(ctx, o)
}

// ToContext stores opts in ctx.
func ToContext(ctx context.Context, opts *Options) context.Context {
	return context.WithValue(ctx, optionsKey{}, opts)
}

// FromContext returns the options stored in ctx; it panics when there are
// none, which is a wiring bug.
func FromContext(ctx context.Context) *Options {
	v := ctx.Value(optionsKey{})
	if v == nil {
		panic("azkarpenter options are not in the context")
	}
	return v.(*Options)
}

// userAssignedIdentityPattern matches a user-assigned managed identity's
// resource ID (ARM names are case-insensitive).
var userAssignedIdentityPattern = regexp.MustCompile(`(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.ManagedIdentity/userAssignedIdentities/[^/]+$`)

// splitListOrNil is splitList, nil (not set) for an empty value.
func splitListOrNil(v string) []string {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	return splitList(v)
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(v string) []string {
	return lo.Compact(lo.Map(strings.Split(v, ","), func(s string, _ int) string { return strings.TrimSpace(s) }))
}

// floatEnv is the float64 in the environment variable key, or def when it is
// unset or not a number (Validate then reports the flag's value).
func floatEnv(key string, def float64) float64 {
	if v, ok := os.LookupEnv(key); ok {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
		return -1
	}
	return def
}
