package virtualnode

import (
	"testing"
	"time"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/azkarpenter/azkarpenter/pkg/providers/containerinstance"
)

func TestPodStatusOf(t *testing.T) {
	pod := func(policy corev1.RestartPolicy) *corev1.Pod {
		return &corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: policy, Containers: []corev1.Container{{Name: "a", Image: "x"}, {Name: "b", Image: "y"}}}}
	}
	running := containerinstance.ContainerStatus{State: containerinstance.ContainerRunning}
	exited := func(code int32) containerinstance.ContainerStatus {
		return containerinstance.ContainerStatus{State: containerinstance.ContainerTerminated, ExitCode: lo.ToPtr(code)}
	}
	waiting := containerinstance.ContainerStatus{State: containerinstance.ContainerWaiting}
	for _, tc := range []struct {
		name       string
		policy     corev1.RestartPolicy
		gs         containerinstance.GroupStatus
		want       corev1.PodPhase
		wantReady  bool
		wantReason string
	}{
		{"creating", corev1.RestartPolicyAlways, containerinstance.GroupStatus{ProvisioningState: containerinstance.ProvisioningCreating}, corev1.PodPending, false, ""},
		{"all running", corev1.RestartPolicyAlways, containerinstance.GroupStatus{ProvisioningState: containerinstance.ProvisioningSucceeded, Containers: map[string]containerinstance.ContainerStatus{"a": running, "b": running}}, corev1.PodRunning, true, ""},
		{"one still waiting", corev1.RestartPolicyAlways, containerinstance.GroupStatus{ProvisioningState: containerinstance.ProvisioningSucceeded, Containers: map[string]containerinstance.ContainerStatus{"a": running, "b": waiting}}, corev1.PodRunning, false, ""},
		{"job done", corev1.RestartPolicyNever, containerinstance.GroupStatus{ProvisioningState: containerinstance.ProvisioningSucceeded, Containers: map[string]containerinstance.ContainerStatus{"a": exited(0), "b": exited(0)}}, corev1.PodSucceeded, false, ""},
		{"job failed", corev1.RestartPolicyOnFailure, containerinstance.GroupStatus{ProvisioningState: containerinstance.ProvisioningSucceeded, Containers: map[string]containerinstance.ContainerStatus{"a": exited(0), "b": exited(2)}}, corev1.PodFailed, false, ""},
		{"always restarts, not terminal", corev1.RestartPolicyAlways, containerinstance.GroupStatus{ProvisioningState: containerinstance.ProvisioningSucceeded, Containers: map[string]containerinstance.ContainerStatus{"a": exited(0), "b": exited(0)}}, corev1.PodRunning, false, ""},
		{"provisioning failed", corev1.RestartPolicyAlways, containerinstance.GroupStatus{ProvisioningState: containerinstance.ProvisioningFailed}, corev1.PodFailed, false, "ContainerGroupFailed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := podStatusOf(pod(tc.policy), tc.gs, "10.0.0.1")
			if st.Phase != tc.want || st.Reason != tc.wantReason {
				t.Fatalf("phase %s reason %q, want %s %q", st.Phase, st.Reason, tc.want, tc.wantReason)
			}
			ready := lo.ContainsBy(st.Conditions, func(c corev1.PodCondition) bool {
				return c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue
			})
			if ready != tc.wantReady || len(st.ContainerStatuses) != 2 || st.HostIP != "10.0.0.1" {
				t.Fatalf("ready %v (want %v), %d container statuses, host IP %q", ready, tc.wantReady, len(st.ContainerStatuses), st.HostIP)
			}
		})
	}
}

func TestCapacityFromQuota(t *testing.T) {
	r := resources(10, 100)
	if r.Cpu().MilliValue() != 10000 || r.Memory().Value() != 40<<30 || r.Pods().Value() != 100 {
		t.Fatalf("capacity %v", r)
	}
	r = resources(2.5, 3)
	if r.Cpu().MilliValue() != 2500 || r.Memory().Value() != 10<<30 {
		t.Fatalf("capacity %v", r)
	}
}

func TestConditionTransitionTimesKeptWhileUnchanged(t *testing.T) {
	p := &corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyAlways, Containers: []corev1.Container{{Name: "app", Image: "x"}}}}
	pending := podStatusOf(p, containerinstance.GroupStatus{ProvisioningState: containerinstance.ProvisioningCreating}, "10.0.0.1")
	for _, c := range pending.Conditions {
		if c.LastTransitionTime.IsZero() {
			t.Fatalf("condition %s has no transition time", c.Type)
		}
	}
	p.Status = pending
	earlier := metav1.NewTime(time.Now().Add(-time.Hour))
	for i := range p.Status.Conditions {
		p.Status.Conditions[i].LastTransitionTime = earlier
	}
	running := podStatusOf(p, containerinstance.GroupStatus{ProvisioningState: containerinstance.ProvisioningSucceeded,
		Containers: map[string]containerinstance.ContainerStatus{"app": {State: containerinstance.ContainerRunning}}}, "10.0.0.1")
	for _, c := range running.Conditions {
		switch c.Type {
		case corev1.PodScheduled:
			if !c.LastTransitionTime.Equal(&earlier) {
				t.Errorf("PodScheduled did not change but its transition time moved to %v", c.LastTransitionTime)
			}
		case corev1.PodReady:
			if c.Status != corev1.ConditionTrue || !c.LastTransitionTime.After(earlier.Time) {
				t.Errorf("PodReady = %s at %v, want True and stamped now", c.Status, c.LastTransitionTime)
			}
		}
	}
}
