package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/klog/v2"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/karpenter/pkg/utils/env"

	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/providers/containerinstance"
	"github.com/azkarpenter/azkarpenter/pkg/virtualnode"
)

// virtualNodeCommand is the first argument that runs the virtual node
// instead of the controller: one binary and image, two Deployments
// (docs/decisions.md, "Virtual nodes (ACI)").
const virtualNodeCommand = "virtual-node"

// tagCluster is the cluster's ownership tag, as the controller sets it on
// VMs (pkg/providers/instance.TagCluster).
const tagCluster = "karpenter.azure.com_cluster"

// runVirtualNode parses the virtual node's flags and runs it until SIGTERM.
func runVirtualNode(args []string) error {
	fs := flag.NewFlagSet(virtualNodeCommand, flag.ContinueOnError)
	var (
		cfg                             virtualnode.Config
		serve                           virtualnode.ServeOptions
		azcfg                           azure.Config
		clusterName, subscription, rg   string
		kubeconfig, metricsAddr, dnsCSV string
		tags                            = map[string]string{}
	)
	fs.StringVar(&cfg.NodeName, "node-name", env.WithDefaultString("VIRTUAL_NODE_NAME", virtualnode.DefaultNodeName), "Name of the virtual node (AKS's add-on: virtual-node-aci-linux). (VIRTUAL_NODE_NAME)")
	fs.StringVar(&clusterName, "cluster-name", env.WithDefaultString("CLUSTER_NAME", ""), "[REQUIRED] Name of the cluster; tags every container group. (CLUSTER_NAME)")
	fs.StringVar(&subscription, "subscription-id", env.WithDefaultString("AZURE_SUBSCRIPTION_ID", ""), "[REQUIRED] Subscription of the container groups. (AZURE_SUBSCRIPTION_ID)")
	fs.StringVar(&rg, "resource-group", env.WithDefaultString("AZURE_NODE_RESOURCE_GROUP", ""), "[REQUIRED] Resource group of the container groups (the cluster's node resource group, as AKS's add-on). (AZURE_NODE_RESOURCE_GROUP)")
	fs.StringVar(&cfg.Region, "location", env.WithDefaultString("AZURE_LOCATION", ""), "[REQUIRED] Azure region of the container groups. (AZURE_LOCATION)")
	fs.StringVar(&cfg.SubnetID, "subnet-id", env.WithDefaultString("VIRTUAL_NODE_SUBNET_ID", ""), "Resource ID of a subnet delegated to Microsoft.ContainerInstance/containerGroups; empty gives groups no virtual network. (VIRTUAL_NODE_SUBNET_ID)")
	fs.Var(cliflag.NewMapStringString(&tags), "additional-tags", "Tags on every container group besides the cluster's, key1=value1,… (ADDITIONAL_TAGS)")
	fs.StringVar(&dnsCSV, "cluster-dns", env.WithDefaultString("CLUSTER_DNS", ""), "Comma-separated cluster DNS IPs for pods with dnsPolicy ClusterFirst; empty leaves groups on Azure's DNS. (CLUSTER_DNS)")
	fs.StringVar(&cfg.InternalIP, "internal-ip", env.WithDefaultString("POD_IP", ""), "[REQUIRED] Address the API server reaches the kubelet API on (the pod's IP). (POD_IP)")
	kubeletPort := fs.Int("kubelet-port", env.WithDefaultInt("KUBELET_PORT", 10250), "Port of the kubelet API (kubectl logs). (KUBELET_PORT)")
	fs.StringVar(&serve.CertFile, "tls-cert-file", env.WithDefaultString("TLS_CERT_FILE", ""), "Serving certificate of the kubelet API; empty makes a self-signed one. (TLS_CERT_FILE)")
	fs.StringVar(&serve.KeyFile, "tls-private-key-file", env.WithDefaultString("TLS_PRIVATE_KEY_FILE", ""), "Key of --tls-cert-file. (TLS_PRIVATE_KEY_FILE)")
	fs.StringVar(&serve.ClientCAFile, "client-ca-file", env.WithDefaultString("CLIENT_CA_FILE", ""), "CA of the API server's kubelet client certificate; requests are then authorized by SubjectAccessReview. (CLIENT_CA_FILE)")
	fs.BoolVar(&serve.Anonymous, "anonymous-auth", env.WithDefaultBool("ANONYMOUS_AUTH", false), "Serve the kubelet API without authentication (a local cluster whose API server has no kubelet client certificate). (ANONYMOUS_AUTH)")
	fs.DurationVar(&cfg.QuotaRefresh, "quota-refresh", env.WithDefaultDuration("QUOTA_REFRESH", time.Minute), "How often capacity is read from the region's Container Instances quota. (QUOTA_REFRESH)")
	fs.DurationVar(&cfg.StatusInterval, "status-interval", env.WithDefaultDuration("STATUS_INTERVAL", 10*time.Second), "How often the container groups' state is read. (STATUS_INTERVAL)")
	fs.DurationVar(&cfg.GCInterval, "gc-interval", env.WithDefaultDuration("GC_INTERVAL", 2*time.Minute), "How often container groups whose pod is gone are deleted. (GC_INTERVAL)")
	fs.DurationVar(&cfg.BackOff, "back-off", env.WithDefaultDuration("BACK_OFF", 5*time.Minute), "How long the node takes no pods after ACI refused one for quota or capacity. (BACK_OFF)")
	fs.StringVar(&kubeconfig, "kubeconfig", env.WithDefaultString("KUBECONFIG", ""), "Kubeconfig; empty uses the in-cluster configuration. (KUBECONFIG)")
	fs.StringVar(&metricsAddr, "metrics-addr", env.WithDefaultString("METRICS_ADDR", ":8080"), "Address of /metrics and /healthz. (METRICS_ADDR)")
	// Azure credentials: the controller's flags and variables.
	fs.StringVar(&azcfg.Cloud, "azure-cloud", env.WithDefaultString("AZURE_CLOUD", "AzurePublicCloud"), "Azure cloud. (AZURE_CLOUD)")
	fs.StringVar(&azcfg.ARMEndpoint, "arm-endpoint", env.WithDefaultString("AZURE_ARM_ENDPOINT", ""), "Override of the Azure Resource Manager endpoint. (AZURE_ARM_ENDPOINT)")
	fs.StringVar(&azcfg.CABundle, "ca-bundle", env.WithDefaultString("AZURE_CA_BUNDLE", ""), "PEM file of extra CAs for Azure endpoints. (AZURE_CA_BUNDLE)")
	credential := fs.String("credential", env.WithDefaultString("AZURE_CREDENTIAL_MODE", string(azure.CredentialWorkloadIdentity)), "workload-identity, managed-identity or static-token. (AZURE_CREDENTIAL_MODE)")
	fs.StringVar(&azcfg.ManagedIdentityClientID, "managed-identity-client-id", env.WithDefaultString("AZURE_MANAGED_IDENTITY_CLIENT_ID", ""), "Client ID of a user-assigned managed identity. (AZURE_MANAGED_IDENTITY_CLIENT_ID)")
	fs.StringVar(&azcfg.StaticTokenFile, "static-token-file", env.WithDefaultString("AZURE_STATIC_TOKEN_FILE", ""), "Bearer token file of credential static-token (simulators only). (AZURE_STATIC_TOKEN_FILE)")
	pollInterval := fs.Duration("arm-poll-interval", env.WithDefaultDuration("AZURE_ARM_POLL_INTERVAL", 2*time.Second), "How often container group operations are polled. (AZURE_ARM_POLL_INTERVAL)")
	klog.InitFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pollInterval < time.Second {
		return fmt.Errorf("--arm-poll-interval %s: the Azure SDK polls at most once a second", *pollInterval)
	}
	azcfg.Credential = azure.CredentialMode(*credential)
	azcfg.UserAgent = "azkarpenter-virtual-node"
	if *kubeletPort < 1 || *kubeletPort > 65535 {
		return fmt.Errorf("--kubelet-port %d: a TCP port is 1 to 65535", *kubeletPort)
	}
	cfg.KubeletPort = int32(*kubeletPort)
	var missing []string
	for flagName, v := range map[string]string{"cluster-name": clusterName, "subscription-id": subscription, "resource-group": rg, "location": cfg.Region, "internal-ip": cfg.InternalIP} {
		if v == "" {
			missing = append(missing, "--"+flagName)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("required: %s", strings.Join(missing, ", "))
	}
	tags[tagCluster] = clusterName
	cfg.Tags = tags
	if dnsCSV != "" {
		cfg.ClusterDNS = strings.Split(dnsCSV, ",")
	}
	cfg.KubeletVersion = "v1.35.4-vk-azkarpenter"

	clients, err := azure.NewClients(azcfg, subscription)
	if err != nil {
		return err
	}
	aci, err := containerinstance.NewDefaultProviderFromCredential(containerinstance.Options{ResourceGroup: rg, PollFrequency: *pollInterval}, subscription, clients.Credential, clients.Options)
	if err != nil {
		return err
	}
	restCfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	restCfg.UserAgent = "azkarpenter-virtual-node"
	kube, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(crmetrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	srv := &http.Server{Addr: metricsAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			klog.ErrorS(err, "metrics server")
			stop()
		}
	}()
	defer func() { _ = srv.Close() }()
	return virtualnode.Run(ctx, cfg, serve, aci, kube)
}
