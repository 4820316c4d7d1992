package localcluster_test

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/localcluster"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
	"github.com/azkarpenter/azkarpenter/pkg/test/poll"
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

	// A node as the simulator's node agent registers it (the Node, then its
	// status): kwok must keep its lease and run its pods, the scheduler must
	// place a pod on it, and nothing may change the figures the node reported.
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "kwok-test-node", Annotations: map[string]string{localcluster.KwokNodeAnnotation: "fake"}}}
	if err := c.Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	registered := node.DeepCopy()
	figures := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("110")}
	node.Status = corev1.NodeStatus{
		Capacity: figures, Allocatable: figures, Phase: corev1.NodeRunning,
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
		NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.35.4", OperatingSystem: "linux", Architecture: "amd64"},
	}
	// A patch, as a kubelet's status report: the node lifecycle controller
	// may already have updated the Node (taints) since it was created.
	if err := c.Status().Patch(ctx, node, client.MergeFrom(registered)); err != nil {
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
	poll.Until(t, 90*time.Second, "the node to be Ready and the pod Running on it", func() bool {
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
	// kwok renews the node's lease; kube-controller-manager removed the
	// not-ready taint admission added; nobody touched the node's figures.
	lease := &coordinationv1.Lease{}
	poll.Until(t, 30*time.Second, "kwok to hold the node's lease", func() bool {
		return c.Get(ctx, client.ObjectKey{Namespace: "kube-node-lease", Name: node.Name}, lease) == nil && lease.Spec.RenewTime != nil
	})
	poll.Until(t, 30*time.Second, "the not-ready taint to be removed", func() bool {
		return c.Get(ctx, client.ObjectKeyFromObject(node), node) == nil && len(node.Spec.Taints) == 0
	})
	if !equality.Semantic.DeepEqual(node.Status.Capacity, figures) || !equality.Semantic.DeepEqual(node.Status.Allocatable, figures) || node.Status.NodeInfo.KubeletVersion != "v1.35.4" {
		t.Errorf("the node's figures changed: capacity %v allocatable %v kubelet %q", node.Status.Capacity, node.Status.Allocatable, node.Status.NodeInfo.KubeletVersion)
	}
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

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
