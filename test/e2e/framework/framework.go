// Package framework starts the local cluster the e2e suites run against
// (localcluster.Stack, the one `make run` starts: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok, azuresim with its node
// agent, and the controller, watched by the fleet monitor) from freshly
// built binaries, and prints what explains a failure.
package framework

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/localcluster"
	"github.com/azkarpenter/azkarpenter/pkg/localcluster/fleetcheck"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

// Options configure an Environment.
type Options struct {
	// Name names the state directory (.e2e/<name> under the repository).
	Name string
	// TimeScale is azuresim's latency factor (0 = instant, 1 = Azure-like).
	TimeScale float64
	// AzureSimArgs are extra azuresim flags.
	AzureSimArgs []string
	// ControllerEnv are extra controller environment variables.
	ControllerEnv []string
	// Log receives progress lines (default: stdout).
	Log io.Writer
	// ClusterArgs are extra flags of the control plane's components
	// (localcluster.Options.ExtraArgs).
	ClusterArgs map[string][]string
	// MonitorSettle is how long a NodePool's nodes must hold still before
	// the fleet monitor requires its status.resources to add up (default
	// 15s; fleetcheck.Options.Settle).
	MonitorSettle time.Duration
	// MonitorRealMachine picks the Nodes of real kubelets, whose capacity is
	// the machine's, not their VM's (fleetcheck.Options.RealMachine).
	MonitorRealMachine func(*corev1.Node) bool
	// SkipCRDs leaves the CRDs out of the cluster's start, and NoController
	// leaves the controller out: the Helm suite installs the CRDs with the
	// chart and runs the controller as the chart's ServiceAccount.
	SkipCRDs     bool
	NoController bool
	// VirtualNode starts the virtual node over azuresim's Container
	// Instances (docs/virtual-nodes.md); off by default.
	VirtualNode bool
	// VirtualNodeEnv are extra environment variables of the virtual node.
	VirtualNodeEnv []string
}

// Environment is a running local cluster with the controller: the
// localcluster.Stack the suites share with `azkarpenter up` and the
// benchmark (Cluster, Client, Sim, Azure, Monitor; Stop, Failed,
// StartMonitor, StartController, RestartController, KillController), plus
// what specs need on top (Dump, Eventually and the helpers).
type Environment struct {
	*localcluster.Stack
}

// Start builds the project's binaries (cheap when nothing changed), starts
// the whole local cluster and the fleet monitor. The caller must Stop it.
func Start(ctx context.Context, opts Options) (*Environment, error) {
	if opts.Log == nil {
		opts.Log = os.Stdout
	}
	root, err := testutil.RepoRoot()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(root, "bin")
	// Always rebuild the binaries under test, so `go test` never runs a
	// stale controller; with a warm build cache this costs a link.
	build := exec.CommandContext(ctx, "go", "build", "-o", bin+"/", "./cmd/controller", "./cmd/azuresim")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the controller and azuresim: %w\n%s", err, out)
	}
	// karpenter core's counter recomputes NodePool resources every 5s; 15s
	// of a steady fleet is ample for it to catch up.
	settle := opts.MonitorSettle
	if settle == 0 {
		settle = 15 * time.Second
	}
	stack, err := localcluster.StartStack(ctx, localcluster.StackOptions{
		Cluster:            localcluster.Options{BinDir: bin, StateDir: filepath.Join(root, ".e2e", opts.Name), Log: opts.Log, ExtraArgs: opts.ClusterArgs, SkipCRDs: opts.SkipCRDs},
		AzureSim:           localcluster.AzureSimOptions{TimeScale: opts.TimeScale, Args: opts.AzureSimArgs},
		ControllerEnv:      opts.ControllerEnv,
		NoController:       opts.NoController,
		VirtualNode:        opts.VirtualNode,
		VirtualNodeEnv:     opts.VirtualNodeEnv,
		MonitorSettle:      settle,
		MonitorRealMachine: opts.MonitorRealMachine,
	})
	if err != nil {
		return nil, err
	}
	return &Environment{Stack: stack}, nil
}

// Dump writes the cluster's and the simulator's state, as a failing spec
// needs it: NodePools, NodeClaims, Nodes, pending pods, VMs, NICs, ARM
// request counts, fleet violations and the controller's last log lines.
func (e *Environment) Dump(ctx context.Context, w io.Writer) {
	fmt.Fprintln(w, "==== cluster and simulator state ====")
	var pools karpv1.NodePoolList
	if err := e.Client.List(ctx, &pools); err == nil {
		for _, p := range pools.Items {
			fmt.Fprintf(w, "NodePool %s: resources %v\n", p.Name, p.Status.Resources)
		}
	}
	var classes v1beta1.AKSNodeClassList
	if err := e.Client.List(ctx, &classes); err == nil {
		for _, nc := range classes.Items {
			conds := make([]string, 0, len(nc.Status.Conditions))
			for _, cond := range nc.Status.Conditions {
				conds = append(conds, fmt.Sprintf("%s=%s(%s)", cond.Type, cond.Status, cond.Reason))
			}
			fmt.Fprintf(w, "AKSNodeClass %s: %s\n", nc.Name, strings.Join(conds, " "))
		}
	}
	var claims karpv1.NodeClaimList
	if err := e.Client.List(ctx, &claims); err == nil {
		for _, c := range claims.Items {
			conds := make([]string, 0, len(c.Status.Conditions))
			for _, cond := range c.Status.Conditions {
				conds = append(conds, fmt.Sprintf("%s=%s(%s)", cond.Type, cond.Status, cond.Reason))
			}
			fmt.Fprintf(w, "NodeClaim %s: %s %s node=%s deleting=%t %s\n", c.Name, c.Labels[corev1.LabelInstanceTypeStable],
				c.Status.ProviderID, c.Status.NodeName, !c.DeletionTimestamp.IsZero(), strings.Join(conds, " "))
		}
	}
	var nodes corev1.NodeList
	if err := e.Client.List(ctx, &nodes); err == nil {
		for _, n := range nodes.Items {
			fmt.Fprintf(w, "Node %s: %s capacity cpu=%s memory=%s pods=%s taints=%v\n", n.Name, n.Labels[corev1.LabelInstanceTypeStable],
				n.Status.Capacity.Cpu(), n.Status.Capacity.Memory(), n.Status.Capacity.Pods(), n.Spec.Taints)
		}
	}
	var pods corev1.PodList
	if err := e.Client.List(ctx, &pods); err == nil {
		pending := 0
		for _, p := range pods.Items {
			if p.Spec.NodeName == "" {
				pending++
				if pending <= 10 {
					fmt.Fprintf(w, "pending pod %s/%s: %v\n", p.Namespace, p.Name, p.Status.Conditions)
				}
			}
		}
		fmt.Fprintf(w, "%d pods, %d pending\n", len(pods.Items), pending)
	}
	if st, err := e.Sim.State(ctx); err == nil {
		for _, vm := range st.VMs {
			fmt.Fprintf(w, "VM %s: %s %s zone=%q %s/%s failure=%q nodeclaim=%s node=%q nodeJoinError=%q\n", vm.Name, vm.Size, vm.CapacityType, vm.Zone,
				vm.ProvisioningState, vm.PowerState, vm.FailureCode, vm.Tags["karpenter.sh_nodeclaim"], vm.Node, vm.NodeJoinError)
		}
		for _, nic := range st.NICs {
			fmt.Fprintf(w, "NIC %s: %s vm=%s\n", filepath.Base(nic.ID), nic.PrivateIP, filepath.Base(nic.VM))
		}
	}
	if stats, err := e.Sim.Stats(ctx); err == nil {
		ops := make([]string, 0, len(stats.Operations))
		for name := range stats.Operations {
			ops = append(ops, name)
		}
		sort.Strings(ops)
		for _, name := range ops {
			o := stats.Operations[name]
			fmt.Fprintf(w, "ARM %s: %d requests, %d throttled, %d errors, codes %v\n", name, o.Requests, o.Throttled, o.Errors, o.StatusCodes)
		}
	}
	if reqs, err := e.Sim.Requests(ctx, 80); err == nil {
		fmt.Fprintf(w, "---- last %d ARM requests ----\n", len(reqs))
		for _, r := range reqs {
			code := ""
			if r.ErrorCode != "" {
				code = " " + r.ErrorCode
			}
			fmt.Fprintf(w, "%s %-6s %d%s %s %s\n", r.Time.Format("15:04:05.000"), r.Method, r.Status, code, r.Operation, r.Path)
		}
	}
	for _, v := range e.monitorViolations() {
		fmt.Fprintf(w, "fleet violation: %s\n", v)
	}
	for _, comp := range e.Cluster.Components() {
		if comp.Name == "controller" || comp.Name == "azuresim" {
			fmt.Fprintf(w, "---- last lines of %s ----\n%s\n", comp.LogPath, localcluster.Tail(comp.LogPath, 40))
		}
	}
}

func (e *Environment) monitorViolations() []fleetcheck.Violation {
	if e.Monitor == nil {
		return nil
	}
	return e.Monitor.Violations()
}

// Eventually polls cond every interval until it returns true, the
// environment fails (a component exits or an invariant breaks) or the
// timeout passes.
func (e *Environment) Eventually(ctx context.Context, timeout time.Duration, what string, cond func(context.Context) (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond(ctx)
		if ok && err == nil {
			return nil
		}
		if err != nil {
			last = err
		}
		if ferr := e.Failed(); ferr != nil {
			return fmt.Errorf("waiting for %s: %w", what, ferr)
		}
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("timed out after %s waiting for %s (last error: %w)", timeout, what, last)
			}
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
