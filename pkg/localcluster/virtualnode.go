package localcluster

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"

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
	env := append(c.azureEnv(opts.Azure),
		"POD_IP=127.0.0.1",
		"KUBELET_PORT="+strconv.Itoa(kubeletPort),
		"ANONYMOUS_AUTH=true",
		"METRICS_ADDR=127.0.0.1:"+strconv.Itoa(metricsPort),
		"STATUS_INTERVAL=1s",
		"GC_INTERVAL=10s",
		"QUOTA_REFRESH=10s",
	)
	_, err = c.StartService(ctx, Service{
		Name:    "virtual-node",
		Binary:  filepath.Join(c.opts.BinDir, "controller"),
		Args:    []string{"virtual-node"},
		Env:     append(env, opts.Env...),
		Address: fmt.Sprintf("kubelet https://127.0.0.1:%d, metrics http://127.0.0.1:%d/metrics", kubeletPort, metricsPort),
		Ready:   HTTPReady(fmt.Sprintf("http://127.0.0.1:%d/healthz", metricsPort)),
	})
	return err
}
