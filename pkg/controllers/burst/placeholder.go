package burst

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/karpenter/pkg/utils/resources"
)

// The placeholder stands in for a burst pod where kube-scheduler and
// karpenter look: a pending pod with the burst pod's requests and
// placement, which cannot go to the virtual node. Karpenter core
// provisions a VM for it like for any pending pod (NodePool limits,
// budgets, consolidation); once it runs there, the VM has the room the
// burst pod needs. It is a pause container at a negative priority that
// never preempts, so it never displaces real work (real pods may preempt
// it), owned by the burst pod so that Kubernetes' garbage collector
// removes it with the pod.

// Placeholder builds the placeholder of a burst pod.
func Placeholder(pod *corev1.Pod, image string) *corev1.Pod {
	group := groupOf(pod)
	ph := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        PlaceholderName(pod),
			Namespace:   pod.Namespace,
			Labels:      map[string]string{LabelPlaceholderFor: string(pod.UID), LabelPlaceholderGroup: group},
			Annotations: map[string]string{AnnotationPlaceholderOf: pod.Name},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID, Controller: ptr.To(true),
			}},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:      "placeholder",
				Image:     image,
				Resources: corev1.ResourceRequirements{Requests: placeholderRequests(pod)},
			}},
			NodeSelector:                  pod.Spec.NodeSelector,
			Affinity:                      placeholderAffinity(pod, group),
			Tolerations:                   withoutVirtualNodeTolerations(pod.Spec.Tolerations),
			TopologySpreadConstraints:     placeholderSpread(pod, group),
			PriorityClassName:             PriorityClassName,
			TerminationGracePeriodSeconds: ptr.To(int64(0)),
			AutomountServiceAccountToken:  ptr.To(false),
			EnableServiceLinks:            ptr.To(false),
			OS:                            pod.Spec.OS,
		},
	}
	return ph
}

// PriorityClass is the placeholders' class.
func PriorityClass() *schedulingv1.PriorityClass {
	return &schedulingv1.PriorityClass{
		ObjectMeta:       metav1.ObjectMeta{Name: PriorityClassName, Labels: map[string]string{"app.kubernetes.io/managed-by": "azkarpenter"}},
		Value:            PriorityValue,
		PreemptionPolicy: ptr.To(corev1.PreemptNever),
		Description:      "azkarpenter's burst placeholders: VM capacity for pods running on the virtual node until they move to it. Below every workload; never preempts.",
	}
}

// groupOf is what a pod's placeholders share: its owner's UID.
func groupOf(pod *corev1.Pod) string {
	if o := metav1.GetControllerOf(pod); o != nil {
		return string(o.UID)
	}
	return string(pod.UID)
}

// placeholderRequests are the pod's requests as karpenter core counts them
// (the larger of the containers' sum and each init container, plus the
// pod's overhead), without the pod count core adds.
func placeholderRequests(pod *corev1.Pod) corev1.ResourceList {
	out := resources.Ceiling(pod).Requests.DeepCopy()
	delete(out, corev1.ResourcePods)
	return out
}

// withoutVirtualNodeTolerations drops the tolerations of the virtual
// node's taint (what AKS's documentation has pods add to run there);
// wildcard tolerations are kept and the affinity keeps the placeholder off
// the virtual node.
func withoutVirtualNodeTolerations(tols []corev1.Toleration) []corev1.Toleration {
	var out []corev1.Toleration
	for _, t := range tols {
		if t.Key == VirtualNodeTaintKey {
			continue
		}
		out = append(out, t)
	}
	return out
}

// placeholderAffinity is the pod's affinity, with every required node
// selector term also asking for a node that is not a virtual kubelet, and
// the pod (anti-)affinity terms that select the workload's own pods made to
// select its placeholders: the placeholders must keep apart (or together)
// as the pods will on VMs.
func placeholderAffinity(pod *corev1.Pod, group string) *corev1.Affinity {
	notVirtual := corev1.NodeSelectorRequirement{Key: VirtualNodeLabel, Operator: corev1.NodeSelectorOpNotIn, Values: []string{VirtualNodeLabelValue}}
	a := &corev1.Affinity{}
	if pod.Spec.Affinity != nil {
		a = pod.Spec.Affinity.DeepCopy()
	}
	if a.NodeAffinity == nil {
		a.NodeAffinity = &corev1.NodeAffinity{}
	}
	req := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	if req == nil || len(req.NodeSelectorTerms) == 0 {
		req = &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{}}}
	}
	for i := range req.NodeSelectorTerms {
		req.NodeSelectorTerms[i].MatchExpressions = append(req.NodeSelectorTerms[i].MatchExpressions, notVirtual)
	}
	a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = req
	self := func(t *corev1.PodAffinityTerm) {
		if selectsSelf(pod, t.LabelSelector, t.Namespaces) {
			t.LabelSelector = groupSelector(group)
			t.MatchLabelKeys, t.MismatchLabelKeys = nil, nil
		}
	}
	if a.PodAffinity != nil {
		for i := range a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			self(&a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution[i])
		}
		for i := range a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			self(&a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution[i].PodAffinityTerm)
		}
	}
	if a.PodAntiAffinity != nil {
		for i := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			self(&a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[i])
		}
		for i := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			self(&a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[i].PodAffinityTerm)
		}
	}
	return a
}

// placeholderSpread is the pod's topology spread, with constraints over
// the workload's own pods made to spread its placeholders.
func placeholderSpread(pod *corev1.Pod, group string) []corev1.TopologySpreadConstraint {
	out := make([]corev1.TopologySpreadConstraint, 0, len(pod.Spec.TopologySpreadConstraints))
	for _, c := range pod.Spec.TopologySpreadConstraints {
		c = *c.DeepCopy()
		if selectsSelf(pod, c.LabelSelector, nil) {
			c.LabelSelector = groupSelector(group)
			c.MatchLabelKeys = nil
		}
		out = append(out, c)
	}
	return out
}

func groupSelector(group string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{LabelPlaceholderGroup: group}}
}

// selectsSelf reports whether a term's selector picks the pod itself (in
// its own namespace).
func selectsSelf(pod *corev1.Pod, sel *metav1.LabelSelector, namespaces []string) bool {
	if sel == nil {
		return false
	}
	if len(namespaces) > 0 && !slices.Contains(namespaces, pod.Namespace) {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || s.Empty() {
		return false
	}
	return s.Matches(labels.Set(pod.Labels))
}
