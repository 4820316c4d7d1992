// Command azkarpenter is the user CLI: `up` runs the local cluster (what
// `make run` does), `down` stops one left behind by a killed `up`, `explain`
// says which VM sizes a NodeClass can launch and `plan` what a workload
// would cost, and `nodepool` runs AKS node-pool operations.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/go-logr/logr"
	"github.com/samber/lo"
	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/localcluster"
)

const usage = `azkarpenter: Karpenter-style node autoprovisioning for Kubernetes on Azure.

Usage:
  azkarpenter up   [flags]   start the local cluster and apply examples/ (Ctrl-C stops it)
  azkarpenter down [flags]   stop a local cluster left running by a killed "up"
  azkarpenter explain -f nodeclass.yaml [--nodepool nodepool.yaml] --region R
                             which VM sizes a NodeClass can launch, at what price, and why not the others
  azkarpenter plan -f workload.yaml [-f nodepools.yaml] [--kubeconfig K] --region R
                             what a workload would cost before anything launches: the NodeClaims karpenter
                             would create, their price, the LP lower bound and a fixed-pool baseline
  azkarpenter nodepool add|scale|update|upgrade|list|show|delete [flags]
                             AKS node-pool operations with az aks nodepool's flags, as NodePools and
                             an AKSNodeClass on the current kubeconfig's cluster

Run "azkarpenter <command> -h" for the flags of a command.
`

func main() {
	// Libraries (controller-runtime's cache under the fleet monitor) log
	// through controller-runtime; the CLI reports what matters itself.
	ctrllog.SetLogger(logr.Discard())
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "up":
		err = up(os.Args[2:])
	case "down":
		err = down(os.Args[2:])
	case "explain":
		err = explain(os.Args[2:], os.Stdout)
	case "plan":
		err = runPlan(os.Args[2:], os.Stdout)
	case "nodepool":
		err = runNodepool(os.Args[2:], os.Stdout, os.Stderr)
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "azkarpenter: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "azkarpenter %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

type commonFlags struct {
	stateDir string
	binDir   string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.stateDir, "state-dir", ".local", "directory for the cluster's state: kubeconfig, certificates, etcd data, logs")
	fs.StringVar(&c.binDir, "bin-dir", "bin", "directory holding the pinned component binaries (built by make tools)")
}

func up(args []string) error {
	fs := flag.NewFlagSet("up", flag.ExitOnError)
	var common commonFlags
	common.register(fs)
	examples := fs.String("examples", "examples/*.yaml", "glob of YAML files applied once the cluster is up (empty: none)")
	controlPlaneOnly := fs.Bool("control-plane-only", false, "start only the Kubernetes control plane and kwok (no azuresim, no controller, no demo)")
	timeScale := fs.Float64("sim-time-scale", 1, "azuresim latency factor: 1 is Azure-like (about 35s per VM), 0 is instant")
	exitWhenReady := fs.Bool("exit-when-ready", false, "stop everything and exit 0 once the cluster is up and the examples are applied")
	exitWhenDone := fs.Bool("exit-when-done", false, "non-interactive demo: exit 0 once the workload ran and was consolidated, non-zero with the reason otherwise")
	virtualNode := fs.Bool("virtual-node", false, "also run the virtual node over azuresim's Container Instances (docs/virtual-nodes.md)")
	timeout := fs.Duration("timeout", 20*time.Minute, "with --exit-when-done, the most each demo phase may take")
	_ = fs.Parse(args)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	began := time.Now()
	components := "etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok"
	if !*controlPlaneOnly {
		components += ", azuresim, controller" + lo.Ternary(*virtualNode, ", virtual-node", "")
	}
	fmt.Printf("azkarpenter: starting the local cluster (%s)\n", components)
	// The fleet monitor runs for the whole session: a broken invariant (a
	// node that is not its VM, an overcommitted node, a NodePool whose
	// resources do not add up, two VMs for one NodeClaim) fails the run.
	stack, err := localcluster.StartStack(ctx, localcluster.StackOptions{
		Cluster:          localcluster.Options{BinDir: common.binDir, StateDir: common.stateDir, Log: os.Stdout},
		ControlPlaneOnly: *controlPlaneOnly,
		AzureSim:         localcluster.AzureSimOptions{TimeScale: *timeScale},
		VirtualNode:      *virtualNode,
	})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("azkarpenter: stopping the local cluster...")
		stack.Stop()
		fmt.Println("azkarpenter: stopped; no component is left running")
	}()
	objs, err := applyExamples(ctx, stack.Client, *examples)
	if err != nil {
		return err
	}
	printClusterUp(stack.Cluster, began)

	if *exitWhenReady {
		return nil
	}
	if !*controlPlaneOnly {
		apps := lo.FilterMap(objs, func(o *unstructured.Unstructured, _ int) (string, bool) {
			return o.GetName(), o.GetKind() == "Deployment"
		})
		if len(apps) > 0 {
			if err := runDemo(ctx, stack.Failed, stack.Client, stack.Azure, apps, *timeout); err != nil {
				if *exitWhenDone || ctx.Err() == nil {
					return fmt.Errorf("demo: %w", err)
				}
				return nil
			}
		}
		if *exitWhenDone {
			return nil
		}
	}
	return waitForInterrupt(ctx, stack.Failed)
}

// applyExamples applies the objects of the YAML files glob matches (none
// when glob is empty) and returns them.
func applyExamples(ctx context.Context, c client.Client, glob string) ([]*unstructured.Unstructured, error) {
	if glob == "" {
		return nil, nil
	}
	objs, err := localcluster.ReadObjects(glob)
	if err != nil {
		return nil, err
	}
	if err := localcluster.Apply(ctx, c, objs); err != nil {
		return nil, err
	}
	fmt.Printf("  applied %d objects from %s: %s\n", len(objs), glob, strings.Join(lo.Map(objs, func(o *unstructured.Unstructured, _ int) string { return o.GetKind() + "/" + o.GetName() }), ", "))
	return objs, nil
}

// printClusterUp shows the running components and how to reach the cluster.
func printClusterUp(cluster *localcluster.Cluster, began time.Time) {
	kubeconfig, _ := filepath.Abs(cluster.Kubeconfig)
	fmt.Printf("\nazkarpenter: the local cluster is up (%s)\n\n", time.Since(began).Round(100*time.Millisecond))
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  COMPONENT\tPID\tADDRESS\tLOG")
	for _, comp := range cluster.Components() {
		fmt.Fprintf(w, "  %s\t%d\t%s\t%s\n", comp.Name, comp.PID, comp.Address, comp.LogPath)
	}
	_ = w.Flush()
	fmt.Printf("\nReach it with kubectl (built into bin/):\n\n  export KUBECONFIG=%s\n  bin/kubectl get nodepools,aksnodeclasses,nodeclaims,nodes\n\n", kubeconfig)
}

// waitForInterrupt keeps the cluster up until Ctrl-C, or until a component
// or the fleet monitor fails.
func waitForInterrupt(ctx context.Context, failed func() error) error {
	fmt.Println("Press Ctrl-C to stop everything.")
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Println()
			return nil
		case <-ticker.C:
			if err := failed(); err != nil {
				return err
			}
		}
	}
}

// runDemo follows the workload from apply to every pod Running, scales it
// down and follows consolidation, printing a timeline.
func runDemo(ctx context.Context, failed func() error, c client.Client, cfg azure.Config, apps []string, timeout time.Duration) error {
	obs, err := newObserver(ctx, c, cfg, apps)
	if err != nil {
		return err
	}
	p := &progress{out: os.Stdout, tty: term.IsTerminal(int(os.Stdout.Fd())), start: time.Now()}
	p.event("watching %d Deployments (%s): pods pending → NodeClaims → Azure VMs → nodes → pods running", len(apps), strings.Join(apps, ", "))
	up, err := waitUntil(ctx, obs, p, timeout, func(f fleet) bool { return f.pods > 0 && f.running == f.pods }, failed)
	if err != nil {
		return fmt.Errorf("waiting for every pod to run: %w", err)
	}
	p.event("all %d pods running on %d nodes (%s) at $%.3f/h", up.pods, up.nodes, counts(up.bySKU), up.dollarsPerHour)

	p.event("scaling down: web 40 → 6, cache 8 → 2, batch 16 → 0; consolidation removes or replaces what is no longer needed")
	for name, replicas := range map[string]int32{"web": 6, "cache": 2, "batch": 0} {
		if contains(apps, name) {
			if err := scale(ctx, c, name, replicas); err != nil {
				return err
			}
		}
	}
	stableSince := time.Time{}
	lastNodes := -1
	down, err := waitUntil(ctx, obs, p, timeout, func(f fleet) bool {
		if f.nodes != lastNodes || f.deleting > 0 || f.nodeClaims != f.nodes || f.running != f.pods {
			lastNodes, stableSince = f.nodes, time.Now()
			return false
		}
		// Consolidated: fewer, cheaper nodes and nothing changing for a while.
		return f.nodes < up.nodes && f.dollarsPerHour < up.dollarsPerHour && time.Since(stableSince) > 45*time.Second
	}, failed)
	if err != nil {
		return fmt.Errorf("waiting for consolidation: %w", err)
	}
	p.event("consolidated: %d → %d nodes, $%.3f/h → $%.3f/h (%.0f%% less), all %d pods running", up.nodes, down.nodes, up.dollarsPerHour, down.dollarsPerHour, 100*(1-down.dollarsPerHour/up.dollarsPerHour), down.pods)
	return nil
}

func down(args []string) error {
	fs := flag.NewFlagSet("down", flag.ExitOnError)
	var common commonFlags
	common.register(fs)
	_ = fs.Parse(args)
	stopped, err := localcluster.KillLeftovers(common.stateDir)
	if err != nil {
		return err
	}
	if len(stopped) == 0 {
		fmt.Println("azkarpenter: nothing was running")
		return nil
	}
	fmt.Printf("azkarpenter: stopped %v\n", stopped)
	return nil
}
