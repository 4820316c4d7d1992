package localcluster

import (
	"context"
	"fmt"
	"time"

	"github.com/azkarpenter/azkarpenter/pkg/azure"
)

// Service is a process the cluster supervises: a control-plane component,
// azuresim, the controller, the virtual node, or another provider (the
// benchmark's reference runs karpenter core's kwok provider as one).
type Service struct {
	// Name names the component, its log (logs/<name>.log) and its pid file.
	Name string
	// Binary is the executable's path.
	Binary string
	Args   []string
	// Env is added to this process's environment.
	Env []string
	// Address is what Components shows the user.
	Address string
	// Ready succeeds once the service serves (HTTPReady for a health
	// endpoint); nil gives it a moment to fail fast (bad flags, unreachable
	// API server) before it counts as started.
	Ready func(context.Context) error
	// ReadyTimeout bounds the wait for Ready (default 60s).
	ReadyTimeout time.Duration
}

// HTTPReady is a Service.Ready that wants 200 from url.
func HTTPReady(url string) func(context.Context) error { return httpReady(url, nil) }

// StartService starts s, waits until it is ready, reports how long that
// took and records it: Components lists it, Failed reports its exit and Stop
// stops it. On error the process is recorded too, so Stop still ends it.
func (c *Cluster) StartService(ctx context.Context, s Service) (Component, error) {
	start := time.Now()
	p, err := startProcess(s.Name, s.Binary, s.Args, c.opts.StateDir, s.Env...)
	if err != nil {
		return Component{}, err
	}
	c.procs = append(c.procs, p)
	if s.Ready == nil {
		err = c.settle(ctx, p)
	} else {
		timeout := s.ReadyTimeout
		if timeout == 0 {
			timeout = 60 * time.Second
		}
		err = waitFor(ctx, p, timeout, s.Ready)
	}
	if err != nil {
		return Component{}, err
	}
	fmt.Fprintf(c.opts.Log, "  %-24s ready in %s\n", s.Name, time.Since(start).Round(10*time.Millisecond))
	comp := Component{Name: s.Name, PID: p.pid(), Address: s.Address, LogPath: p.logPath}
	c.components = append(c.components, comp)
	return comp, nil
}

// FreePorts reserves n distinct loopback ports for a service to listen on.
func FreePorts(n int) ([]int, error) { return freePorts(n) }

// azureEnv is the environment every azkarpenter process on the local
// cluster starts with: where the cluster is, which simulated subscription,
// resource group and region it runs in, and how to reach and authenticate
// to azuresim's ARM endpoint.
func (c *Cluster) azureEnv(cfg azure.Config) []string {
	return []string{
		"KUBECONFIG=" + c.Kubeconfig,
		"CLUSTER_NAME=" + ClusterName,
		"AZURE_SUBSCRIPTION_ID=" + SubscriptionID,
		"AZURE_NODE_RESOURCE_GROUP=" + ResourceGroup,
		"AZURE_LOCATION=" + Location,
		"AZURE_ARM_ENDPOINT=" + cfg.ARMEndpoint,
		"AZURE_CA_BUNDLE=" + cfg.CABundle,
		// The processes read the token from a file, as they read
		// credentials in production: never from their command line.
		"AZURE_CREDENTIAL_MODE=" + string(azure.CredentialStaticToken),
		"AZURE_STATIC_TOKEN_FILE=" + cfg.StaticTokenFile,
		// azuresim may run faster than Azure; poll its operations as often
		// as the SDK allows (it refuses less than a second).
		"AZURE_ARM_POLL_INTERVAL=1s",
	}
}
