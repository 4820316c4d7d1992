package localcluster

import (
	"context"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/localcluster/fleetcheck"
)

// StackOptions configure a Stack.
type StackOptions struct {
	// Cluster configures the control plane: binaries, state directory,
	// progress log, extra component flags, CRDs.
	Cluster Options
	// ControlPlaneOnly starts the cluster alone, without azuresim, the
	// controller or the virtual node: `azkarpenter up --control-plane-only`,
	// or a cluster another provider runs on (the benchmark's reference with
	// karpenter core's kwok provider). The fleet monitor still runs, without
	// its one-VM-per-NodeClaim check.
	ControlPlaneOnly bool
	// AzureSim configures the simulator (latency factor, extra flags).
	AzureSim AzureSimOptions
	// ControllerEnv are extra controller environment variables.
	ControllerEnv []string
	// NoController starts azuresim without the controller: the Helm suite
	// runs the controller itself, as the chart's ServiceAccount.
	NoController bool
	// VirtualNode starts the virtual node over azuresim's Container
	// Instances (docs/virtual-nodes.md) with VirtualNodeEnv added to its
	// environment.
	VirtualNode    bool
	VirtualNodeEnv []string
	// MonitorSettle is how long a NodePool's nodes must hold still before
	// the fleet monitor requires its status.resources to add up
	// (fleetcheck.Options.Settle; 0 is fleetcheck's default).
	MonitorSettle time.Duration
	// MonitorRealMachine picks the Nodes of real kubelets, whose capacity is
	// the machine's, not their VM's (fleetcheck.Options.RealMachine).
	MonitorRealMachine func(*corev1.Node) bool
}

// Stack is a running local cluster with everything on it: the control plane
// and kwok, azuresim with its node agent, the controller, the virtual node
// when asked, and the fleet monitor watching it all. `azkarpenter up`, the
// e2e framework and the benchmark all run this one composition.
type Stack struct {
	Cluster *Cluster
	// Client is a controller-runtime client of the cluster (admin).
	Client client.Client
	// Sim administers the simulator and Azure reaches it; both are zero
	// with ControlPlaneOnly.
	Sim   *azuresim.AdminClient
	Azure azure.Config
	// Monitor is the fleet monitor; nil until StartMonitor when the
	// cluster's CRDs were left out (Options.SkipCRDs).
	Monitor *fleetcheck.Monitor

	opts        StackOptions
	stopMonitor context.CancelFunc
}

// StartStack starts the cluster, then azuresim, the controller and the
// virtual node as opts ask, then the fleet monitor unless the CRDs it
// watches were left out (StartMonitor starts it later). On error everything
// already started is stopped. The caller must Stop the stack.
func StartStack(ctx context.Context, opts StackOptions) (_ *Stack, err error) {
	cluster, err := Start(ctx, opts.Cluster)
	if err != nil {
		return nil, err
	}
	s := &Stack{Cluster: cluster, opts: opts}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if s.Client, err = cluster.Client(); err != nil {
		return nil, err
	}
	if !opts.ControlPlaneOnly {
		if err := s.startAzure(ctx); err != nil {
			return nil, err
		}
	}
	if !opts.Cluster.SkipCRDs {
		if err := s.StartMonitor(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// startAzure starts azuresim, then what runs against it.
func (s *Stack) startAzure(ctx context.Context) error {
	var err error
	if s.Azure, err = s.Cluster.StartAzureSim(ctx, s.opts.AzureSim); err != nil {
		return err
	}
	s.Sim = s.Cluster.AzureSim()
	if !s.opts.NoController {
		if err := s.StartController(ctx); err != nil {
			return err
		}
	}
	if s.opts.VirtualNode {
		return s.Cluster.StartVirtualNode(ctx, VirtualNodeOptions{Azure: s.Azure, Env: s.opts.VirtualNodeEnv})
	}
	return nil
}

// StartMonitor starts the fleet monitor for the life of the stack: a
// broken invariant (a node that is not its VM, an overcommitted node, a
// NodePool whose resources do not add up, two VMs for one NodeClaim) makes
// Failed report it. StartStack starts it unless the CRDs were left out;
// then the caller starts it once it has installed them.
func (s *Stack) StartMonitor(ctx context.Context) error {
	opts := fleetcheck.Options{Config: s.Cluster.Config, Settle: s.opts.MonitorSettle, RealMachine: s.opts.MonitorRealMachine}
	if sim := s.Sim; sim != nil {
		opts.VMs = func(ctx context.Context) ([]azuresim.VMState, error) {
			st, err := sim.State(ctx)
			return st.VMs, err
		}
	}
	monitor, err := fleetcheck.New(opts)
	if err != nil {
		return err
	}
	// The monitor outlives ctx, which only bounds its start: Stop ends it.
	monitorCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	if err := monitor.Start(monitorCtx); err != nil {
		stop()
		return err
	}
	if s.stopMonitor != nil {
		s.stopMonitor() // a monitor started before: this one replaces it
	}
	s.Monitor, s.stopMonitor = monitor, stop
	return nil
}

// StartController starts the controller as StartStack did (again after
// KillController) and waits for its health probe.
func (s *Stack) StartController(ctx context.Context) error {
	return s.Cluster.StartController(ctx, s.controllerOptions())
}

// RestartController restarts the controller with the stack's environment
// plus env (later values win), e.g. to tell nodes a wrong cluster. A later
// StartController starts it without env again.
func (s *Stack) RestartController(ctx context.Context, env ...string) error {
	opts := s.controllerOptions()
	opts.Env = append(opts.Env, env...)
	return s.Cluster.RestartController(ctx, opts)
}

// KillController crashes the controller (SIGKILL: no cleanup, no graceful
// shutdown) and waits for it to be gone.
func (s *Stack) KillController() error {
	return s.Cluster.StopComponent("controller", syscall.SIGKILL, 30*time.Second)
}

func (s *Stack) controllerOptions() ControllerOptions {
	return ControllerOptions{Azure: s.Azure, Env: append([]string{}, s.opts.ControllerEnv...)}
}

// Failed is nil while every component runs and no fleet invariant is
// broken; otherwise it says which component exited (with its last log
// lines) or which invariants broke.
func (s *Stack) Failed() error {
	if err := s.Cluster.Failed(); err != nil {
		return err
	}
	if s.Monitor == nil {
		return nil
	}
	return s.Monitor.Err()
}

// Stop stops the fleet monitor, then every component in reverse start
// order. It is safe to call more than once.
func (s *Stack) Stop() {
	if s.stopMonitor != nil {
		s.stopMonitor()
	}
	s.Cluster.Stop()
}
