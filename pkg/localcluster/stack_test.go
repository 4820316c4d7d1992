package localcluster_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/azkarpenter/azkarpenter/pkg/localcluster"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
	"github.com/azkarpenter/azkarpenter/pkg/test/poll"
	"github.com/azkarpenter/azkarpenter/pkg/virtualnode"
)

// TestStack starts the whole composition `azkarpenter up`, the e2e suites
// and the benchmark run (control plane, azuresim, controller, virtual node,
// fleet monitor), checks that every part runs and that the monitor finds
// nothing wrong with an idle cluster, crashes and restarts the controller,
// then stops it and checks that no component is left running.
func TestStack(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the controller and starts a local cluster")
	}
	binDir := stackBinaries(t)
	stateDir := filepath.Join(t.TempDir(), "state")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	stack, err := localcluster.StartStack(ctx, localcluster.StackOptions{
		Cluster:     localcluster.Options{BinDir: binDir, StateDir: stateDir, Log: testWriter{t}},
		AzureSim:    localcluster.AzureSimOptions{TimeScale: 0},
		VirtualNode: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			stack.Stop()
		}
	}()
	want := []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "azuresim", "controller", "virtual-node"}
	if got := componentNames(stack.Cluster); !slices.Equal(got, want) {
		t.Fatalf("components %v, want %v", got, want)
	}
	if stack.Sim == nil || stack.Monitor == nil || stack.Client == nil || stack.Azure.ARMEndpoint == "" {
		t.Fatalf("the stack lacks a part: sim %v, monitor %v, client %v, ARM endpoint %q", stack.Sim, stack.Monitor, stack.Client, stack.Azure.ARMEndpoint)
	}
	if _, err := stack.Sim.State(ctx); err != nil {
		t.Fatalf("azuresim's admin API: %v", err)
	}
	// The virtual node registers its Node; the monitor samples it along
	// with the rest of the idle cluster and finds nothing to report.
	poll.Until(t, time.Minute, "the virtual node's Node to be Ready", func() bool {
		node := &corev1.Node{}
		return stack.Client.Get(ctx, client.ObjectKey{Name: virtualnode.DefaultNodeName}, node) == nil && nodeReady(node)
	})
	poll.Until(t, 30*time.Second, "the fleet monitor to sample the cluster", func() bool {
		return stack.Monitor.Checked().Samples >= 3
	})
	if err := stack.Failed(); err != nil {
		t.Fatalf("an idle stack failed: %v", err)
	}

	// A crashed controller is not a failure of the stack once it is gone,
	// and starts again as it was first started.
	before := controllerPID(stack.Cluster)
	if err := stack.KillController(); err != nil {
		t.Fatal(err)
	}
	if pid := controllerPID(stack.Cluster); pid != 0 {
		t.Fatalf("the killed controller (pid %d) is still listed", pid)
	}
	if err := stack.StartController(ctx); err != nil {
		t.Fatal(err)
	}
	if err := stack.RestartController(ctx, "LOG_LEVEL=debug"); err != nil {
		t.Fatal(err)
	}
	if after := controllerPID(stack.Cluster); after == 0 || after == before {
		t.Fatalf("controller pid %d after restart, %d before", after, before)
	}
	if err := stack.Failed(); err != nil {
		t.Fatalf("after the controller's restart: %v", err)
	}

	pids := stack.Cluster.PIDs()
	stack.Stop()
	stack.Stop() // safe twice
	stopped = true
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("process %d still running after Stop", pid)
		}
	}
	// Stop removes the pid file of every component it stopped: `azkarpenter
	// down` would find nothing.
	if left, err := os.ReadDir(filepath.Join(stateDir, "pids")); err != nil || len(left) > 0 {
		t.Errorf("pid files left after Stop: %v (%v)", left, err)
	}
}

// stackBinaries builds the controller and azuresim, as the e2e framework
// does, into a directory next to links to the pinned control-plane
// binaries in bin/: a fresh controller without touching bin/.
func stackBinaries(t *testing.T) string {
	t.Helper()
	root, err := testutil.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	build := exec.CommandContext(t.Context(), "go", "build", "-o", dir+"/", "./cmd/controller", "./cmd/azuresim")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the controller and azuresim: %v\n%s", err, out)
	}
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		if err := os.Symlink(filepath.Join(root, "bin", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func componentNames(c *localcluster.Cluster) []string {
	var names []string
	for _, comp := range c.Components() {
		names = append(names, comp.Name)
	}
	return names
}

func controllerPID(c *localcluster.Cluster) int {
	for _, comp := range c.Components() {
		if comp.Name == "controller" {
			return comp.PID
		}
	}
	return 0
}

func nodeReady(node *corev1.Node) bool {
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}
