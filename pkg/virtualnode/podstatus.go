package virtualnode

import (
	"context"
	"time"

	"github.com/samber/lo"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/azkarpenter/azkarpenter/pkg/providers/containerinstance"
)

// inputs are the ConfigMaps and Secrets of the pod's namespace (from the
// informers' caches) and a TokenRequest for its projected token volumes.
func (p *Provider) inputs(ctx context.Context, pod *corev1.Pod) containerinstance.Inputs {
	in := containerinstance.Inputs{ConfigMaps: map[string]*corev1.ConfigMap{}, Secrets: map[string]*corev1.Secret{}}
	if p.configMaps != nil {
		cms, _ := p.configMaps.ConfigMaps(pod.Namespace).List(labels.Everything())
		for _, cm := range cms {
			in.ConfigMaps[cm.Name] = cm
		}
	}
	if p.secrets != nil {
		ss, _ := p.secrets.Secrets(pod.Namespace).List(labels.Everything())
		for _, s := range ss {
			in.Secrets[s.Name] = s
		}
	}
	in.ServiceAccountToken = func(audience string, expirationSeconds int64) (string, error) {
		req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: lo.ToPtr(expirationSeconds),
			BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
		}}
		if audience != "" {
			req.Spec.Audiences = []string{audience}
		}
		sa := lo.CoalesceOrEmpty(pod.Spec.ServiceAccountName, "default")
		tr, err := p.kube.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
		if err != nil {
			return "", err
		}
		return tr.Status.Token, nil
	}
	return in
}

func startOf(pod *corev1.Pod) time.Time {
	if pod.Status.StartTime != nil {
		return pod.Status.StartTime.Time
	}
	return time.Now()
}

// pendingStatus is a pod's status while it has no running group: Pending,
// scheduled, with the reason it waits when there is one.
func pendingStatus(pod *corev1.Pod, hostIP, reason, message string, start time.Time) corev1.PodStatus {
	st := corev1.PodStatus{
		Phase:     corev1.PodPending,
		Reason:    reason,
		Message:   message,
		HostIP:    hostIP,
		StartTime: &metav1.Time{Time: start},
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
			{Type: corev1.PodInitialized, Status: corev1.ConditionFalse},
			{Type: corev1.ContainersReady, Status: corev1.ConditionFalse},
			{Type: corev1.PodReady, Status: corev1.ConditionFalse},
		},
	}
	if hostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: hostIP}}
	}
	stampTransitions(pod.Status.Conditions, st.Conditions)
	for _, c := range pod.Spec.Containers {
		st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: lo.CoalesceOrEmpty(reason, "ContainerCreating"), Message: message}},
		})
	}
	return st
}

// podStatusOf maps a container group's status to its pod's: provisioning
// Failed → Failed; every container terminated → Succeeded or Failed by
// exit codes (ACI restarts them itself under restartPolicy Always); every
// container running → Running; otherwise Pending.
func podStatusOf(pod *corev1.Pod, gs containerinstance.GroupStatus, hostIP string) corev1.PodStatus {
	st := pendingStatus(pod, hostIP, "", "", startOf(pod))
	st.PodIP = gs.PrivateIP
	if gs.PrivateIP != "" {
		st.PodIPs = []corev1.PodIP{{IP: gs.PrivateIP}}
	}
	provisioned := gs.ProvisioningState == containerinstance.ProvisioningSucceeded
	running, terminated, failed := 0, 0, 0
	st.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: c.Image}
		aci, ok := gs.Containers[c.Name]
		switch {
		case ok && aci.State == containerinstance.ContainerRunning:
			running++
			cs.Ready, cs.Started = true, lo.ToPtr(true)
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: timeOf(aci.StartTime)}
		case ok && aci.State == containerinstance.ContainerTerminated:
			terminated++
			code := lo.FromPtr(aci.ExitCode)
			if code != 0 {
				failed++
			}
			cs.State.Terminated = &corev1.ContainerStateTerminated{ExitCode: code, Reason: lo.CoalesceOrEmpty(aci.DetailStatus, "Completed"), StartedAt: timeOf(aci.StartTime), FinishedAt: timeOf(aci.FinishTime)}
		default:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: lo.CoalesceOrEmpty(aci.DetailStatus, "ContainerCreating")}
		}
		cs.RestartCount = aci.RestartCount
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	n := len(pod.Spec.Containers)
	switch {
	case gs.ProvisioningState == containerinstance.ProvisioningFailed:
		st.Phase, st.Reason, st.Message = corev1.PodFailed, "ContainerGroupFailed", "ACI's container group provisioning failed"
	case provisioned && n > 0 && terminated == n && pod.Spec.RestartPolicy != corev1.RestartPolicyAlways:
		st.Phase = lo.Ternary(failed > 0, corev1.PodFailed, corev1.PodSucceeded)
	case provisioned && n > 0 && running == n:
		st.Phase = corev1.PodRunning
		for i := range st.Conditions {
			st.Conditions[i].Status = corev1.ConditionTrue
		}
	case provisioned:
		st.Phase = corev1.PodRunning
		st.Conditions[1].Status = corev1.ConditionTrue
	}
	stampTransitions(pod.Status.Conditions, st.Conditions)
	return st
}

// terminatedStatus is a deleted pod's last status: its containers
// terminated because the group is gone.
func terminatedStatus(pod *corev1.Pod, now time.Time) corev1.PodStatus {
	st := *pod.Status.DeepCopy()
	st.Phase = corev1.PodSucceeded
	st.Reason, st.Message = "ContainerGroupDeleted", "the pod's container group was deleted"
	for i := range st.Conditions {
		if st.Conditions[i].Type == corev1.PodReady || st.Conditions[i].Type == corev1.ContainersReady {
			st.Conditions[i].Status = corev1.ConditionFalse
		}
	}
	for i := range st.ContainerStatuses {
		cs := &st.ContainerStatuses[i]
		started := metav1.Time{Time: now}
		if cs.State.Running != nil {
			started = cs.State.Running.StartedAt
		}
		cs.Ready = false
		cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "ContainerGroupDeleted", StartedAt: started, FinishedAt: metav1.Time{Time: now}}}
	}
	return st
}

func timeOf(t *time.Time) metav1.Time {
	if t == nil {
		return metav1.Time{}
	}
	return metav1.Time{Time: *t}
}

// stampTransitions sets each condition's LastTransitionTime as a kubelet
// does: kept from the pod's previous status while the condition's status is
// unchanged, now when it changed or is new. Readers (kubectl, the
// benchmark's time to Ready, PDB controllers) take it as when the pod became
// Ready.
func stampTransitions(previous, conditions []corev1.PodCondition) {
	now := metav1.Now()
	for i := range conditions {
		c := &conditions[i]
		prev, ok := lo.Find(previous, func(p corev1.PodCondition) bool { return p.Type == c.Type })
		if ok && prev.Status == c.Status && !prev.LastTransitionTime.IsZero() {
			c.LastTransitionTime = prev.LastTransitionTime
		} else {
			c.LastTransitionTime = now
		}
	}
}
