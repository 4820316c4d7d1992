// Command azkarpenter is the user CLI: `up` runs the local cluster (what
// `make run` does) and `down` stops one left behind by a killed `up`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/azkarpenter/azkarpenter/pkg/localcluster"
)

const usage = `azkarpenter: Karpenter-style node autoprovisioning for Kubernetes on Azure.

Usage:
  azkarpenter up   [flags]   start the local cluster and apply examples/ (Ctrl-C stops it)
  azkarpenter down [flags]   stop a local cluster left running by a killed "up"
  azkarpenter explain -f nodeclass.yaml [--nodepool nodepool.yaml] --region R
                             which VM sizes a NodeClass can launch, at what price, and why not the others

Run "azkarpenter <command> -h" for the flags of a command.
`

func main() {
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
	exitWhenReady := fs.Bool("exit-when-ready", false, "stop everything and exit 0 once the cluster is up and the examples are applied (non-interactive check)")
	_ = fs.Parse(args)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	began := time.Now()
	fmt.Println("azkarpenter: starting the local cluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok)")
	cluster, err := localcluster.Start(ctx, localcluster.Options{BinDir: common.binDir, StateDir: common.stateDir, Log: os.Stdout})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("azkarpenter: stopping the local cluster...")
		cluster.Stop()
		fmt.Println("azkarpenter: stopped; no component is left running")
	}()

	if *examples != "" {
		objs, err := localcluster.ReadObjects(*examples)
		if err != nil {
			return err
		}
		c, err := cluster.Client()
		if err != nil {
			return err
		}
		if err := localcluster.Apply(ctx, c, objs); err != nil {
			return err
		}
		fmt.Printf("  applied %d objects from %s:\n", len(objs), *examples)
		for _, o := range objs {
			fmt.Printf("    %s/%s\n", o.GetKind(), o.GetName())
		}
	}

	kubeconfig, _ := filepath.Abs(cluster.Kubeconfig)
	fmt.Printf("\nazkarpenter: the local cluster is up (%s)\n\n", time.Since(began).Round(100*time.Millisecond))
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  COMPONENT\tPID\tADDRESS\tLOG")
	for _, comp := range cluster.Components() {
		fmt.Fprintf(w, "  %s\t%d\t%s\t%s\n", comp.Name, comp.PID, comp.Address, comp.LogPath)
	}
	_ = w.Flush()
	fmt.Printf("\nReach it with kubectl (built into bin/):\n\n  export KUBECONFIG=%s\n  bin/kubectl get nodepools,aksnodeclasses,nodes\n\n", kubeconfig)

	if *exitWhenReady {
		return nil
	}
	fmt.Println("Press Ctrl-C to stop everything.")
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Println()
			return nil
		case <-ticker.C:
			if err := cluster.Failed(); err != nil {
				return err
			}
		}
	}
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
