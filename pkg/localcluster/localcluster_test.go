package localcluster_test

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/localcluster"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

// TestLocalCluster starts the whole local control plane from bin/, applies the
// examples, checks that kwok keeps an annotated node Ready and that the
// scheduler binds a pod to it, then stops and checks no process is left.
func TestLocalCluster(t *testing.T) {
	root, err := testutil.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cluster, err := localcluster.Start(ctx, localcluster.Options{
		BinDir:   filepath.Join(root, "bin"),
		StateDir: filepath.Join(t.TempDir(), "state"),
		Log:      testWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			cluster.Stop()
		}
	}()
	c, err := cluster.Client()
	if err != nil {
		t.Fatal(err)
	}

	objs, err := localcluster.ReadObjects(filepath.Join(root, "examples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := localcluster.Apply(ctx, c, objs); err != nil {
		t.Fatal(err)
	}
	// Applying twice is a no-op, as `make run` after an edit expects.
	if err := localcluster.Apply(ctx, c, objs); err != nil {
		t.Fatalf("re-apply: %v", err)
	}
	nodePools := &karpv1.NodePoolList{}
	if err := c.List(ctx, nodePools); err != nil {
		t.Fatal(err)
	}
	nodeClasses := &v1beta1.AKSNodeClassList{}
	if err := c.List(ctx, nodeClasses); err != nil {
		t.Fatal(err)
	}
	if len(nodePools.Items) == 0 || len(nodeClasses.Items) == 0 {
		t.Fatalf("examples not stored: %d NodePools, %d AKSNodeClasses", len(nodePools.Items), len(nodeClasses.Items))
	}

	// A node as the simulator's node agent registers it: kwok must take over
	// its heartbeat and the scheduler must place a pod on it.
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "kwok-test-node", Annotations: map[string]string{localcluster.KwokNodeAnnotation: "fake"}},
		Status: corev1.NodeStatus{
			Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("110")},
		},
	}
	if err := c.Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: "default"},
		Spec: corev1.PodSpec{
			Containers:  []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}},
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		},
	}
	if err := c.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, "the node to be Ready and the pod Running on it", func() bool {
		if err := c.Get(ctx, client.ObjectKeyFromObject(node), node); err != nil {
			return false
		}
		ready := false
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			return false
		}
		return ready && pod.Spec.NodeName == node.Name && pod.Status.Phase == corev1.PodRunning
	})
	if err := cluster.Failed(); err != nil {
		t.Fatal(err)
	}

	pids := cluster.PIDs()
	cluster.Stop()
	stopped = true
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("process %d still running after Stop", pid)
		}
	}
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
