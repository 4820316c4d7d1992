package burst

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The placeholder keeps the pod's placement but never the virtual node,
// and makes the workload's self-referencing terms select placeholders.
func TestPlaceholderPlacement(t *testing.T) {
	self := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	other := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: "pod-uid", Labels: map[string]string{"app": "web", "pod-template-hash": "abc"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-abc", UID: "rs-uid", Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}}},
			Containers: []corev1.Container{{Name: "a", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("1Gi")}}}},
			Tolerations: []corev1.Toleration{
				{Key: VirtualNodeTaintKey, Operator: corev1.TolerationOpExists},
				{Key: "dedicated", Value: "web", Effect: corev1.TaintEffectNoSchedule},
				{Operator: corev1.TolerationOpExists},
			},
			Affinity: &corev1.Affinity{
				NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
					{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"1"}}}},
					{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"2"}}}},
				}}},
				PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
					{TopologyKey: corev1.LabelHostname, LabelSelector: self, MatchLabelKeys: []string{"pod-template-hash"}},
					{TopologyKey: corev1.LabelHostname, LabelSelector: other},
				}},
			},
			TopologySpreadConstraints: []corev1.TopologySpreadConstraint{
				{MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, LabelSelector: self, MatchLabelKeys: []string{"pod-template-hash"}},
				{MaxSkew: 1, TopologyKey: corev1.LabelHostname, LabelSelector: other},
			},
		},
	}
	ph := Placeholder(pod, "pause")
	if ph.Name != "burst-placeholder-pod-uid" || ph.Namespace != "shop" || ph.Labels[LabelPlaceholderGroup] != "rs-uid" || ph.Labels["app"] != "" {
		t.Errorf("meta: %+v", ph.ObjectMeta)
	}
	if got := ph.Spec.Containers[0].Resources.Requests; got.Cpu().String() != "2" || got.Memory().String() != "1Gi" {
		t.Errorf("requests %v: want the larger of the init container and the containers, as core counts them", got)
	}
	if len(ph.Spec.Tolerations) != 2 || ph.Spec.Tolerations[0].Key != "dedicated" {
		t.Errorf("tolerations %+v: only the virtual node's goes", ph.Spec.Tolerations)
	}
	terms := ph.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	for i, term := range terms {
		last := term.MatchExpressions[len(term.MatchExpressions)-1]
		if len(term.MatchExpressions) != 2 || last.Key != VirtualNodeLabel || last.Operator != corev1.NodeSelectorOpNotIn {
			t.Errorf("term %d %+v: each ORed term must keep off the virtual node", i, term)
		}
	}
	if pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Key != "zone" ||
		len(pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions) != 1 {
		t.Error("the pod's own affinity was changed")
	}
	anti := ph.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	if anti[0].LabelSelector.MatchLabels[LabelPlaceholderGroup] != "rs-uid" || anti[0].MatchLabelKeys != nil {
		t.Errorf("self anti-affinity %+v: must select the placeholders", anti[0])
	}
	if anti[1].LabelSelector.MatchLabels["app"] != "db" {
		t.Errorf("anti-affinity to another workload %+v must stay", anti[1])
	}
	spread := ph.Spec.TopologySpreadConstraints
	if spread[0].LabelSelector.MatchLabels[LabelPlaceholderGroup] != "rs-uid" || spread[0].MatchLabelKeys != nil || spread[1].LabelSelector.MatchLabels["app"] != "db" {
		t.Errorf("spread %+v", spread)
	}
	if pod.Spec.TopologySpreadConstraints[0].LabelSelector.MatchLabels["app"] != "web" {
		t.Error("the pod's own spread was changed")
	}

	// A pod with no affinity still keeps off the virtual node.
	bare := Placeholder(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", UID: "u"}}, "pause")
	if exprs := bare.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions; len(exprs) != 1 || exprs[0].Key != VirtualNodeLabel {
		t.Errorf("%+v", exprs)
	}
}
