package localcluster

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/azkarpenter/azkarpenter/pkg/azure"
)

// VirtualNodeOptions configure the virtual node process (`controller
// virtual-node`, docs/virtual-nodes.md).
type VirtualNodeOptions struct {
	Azure azure.Config
	// Env are extra environment variables (the virtual node's flags).
	Env []string
}

// StartVirtualNode starts the virtual node over azuresim's Container
// Instances and waits for its health endpoint. Its Node is not annotated
// for kwok (KwokNodeAnnotation), so kwok leaves it alone: the virtual node
// holds its own Lease and reports its pods. The local API server presents
// no client certificate to kubelets and verifies none of theirs, so the
// kubelet API is served anonymously with a self-signed certificate on the
// loopback address (AKS's API server dials kubelets with a client
// certificate, which the chart's Deployment verifies).
func (c *Cluster) StartVirtualNode(ctx context.Context, opts VirtualNodeOptions) error {
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	metricsPort, kubeletPort := ports[0], ports[1]
	env := append([]string{
		"KUBECONFIG=" + c.Kubeconfig,
		"CLUSTER_NAME=" + ClusterName,
		"AZURE_SUBSCRIPTION_ID=" + SubscriptionID,
		"AZURE_NODE_RESOURCE_GROUP=" + ResourceGroup,
		"AZURE_LOCATION=" + Location,
		"AZURE_ARM_ENDPOINT=" + opts.Azure.ARMEndpoint,
		"AZURE_CA_BUNDLE=" + opts.Azure.CABundle,
		"AZURE_CREDENTIAL_MODE=" + string(azure.CredentialStaticToken),
		"AZURE_STATIC_TOKEN_FILE=" + opts.Azure.StaticTokenFile,
		"AZURE_ARM_POLL_INTERVAL=1s", // the SDK refuses to poll more often
		"POD_IP=127.0.0.1",
		"KUBELET_PORT=" + strconv.Itoa(kubeletPort),
		"ANONYMOUS_AUTH=true",
		"METRICS_ADDR=127.0.0.1:" + strconv.Itoa(metricsPort),
		"STATUS_INTERVAL=1s",
		"GC_INTERVAL=10s",
		"QUOTA_REFRESH=10s",
	}, opts.Env...)
	start := time.Now()
	p, err := startProcess("virtual-node", filepath.Join(c.opts.BinDir, "controller"), []string{"virtual-node"}, c.opts.StateDir, env...)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, p)
	if err := waitFor(ctx, p, 60*time.Second, httpReady(fmt.Sprintf("http://127.0.0.1:%d/healthz", metricsPort), nil)); err != nil {
		return err
	}
	fmt.Fprintf(c.opts.Log, "  %-24s ready in %s\n", "virtual-node", time.Since(start).Round(10*time.Millisecond))
	c.components = append(c.components, Component{Name: "virtual-node", PID: p.pid(), Address: fmt.Sprintf("kubelet https://127.0.0.1:%d, metrics http://127.0.0.1:%d/metrics", kubeletPort, metricsPort), LogPath: p.logPath})
	return nil
}
