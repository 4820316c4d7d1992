package aksnodepool_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/aksnodepool"
	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
)

func node(name, nodePool, size, capacityType, kubelet, image string, ready bool) corev1.Node {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			karpv1.NodePoolLabelKey: nodePool, corev1.LabelInstanceTypeStable: size, karpv1.CapacityTypeLabelKey: capacityType,
			corev1.LabelOSStable: "linux", v1beta1.AKSLabelNodeImageVersion: image,
		}},
		Status: corev1.NodeStatus{
			NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: kubelet},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}},
		},
	}
}

func claim(name, nodePool string) karpv1.NodeClaim {
	return karpv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{karpv1.NodePoolLabelKey: nodePool}}}
}

func TestDescribe(t *testing.T) {
	p := build(t, flags("spot", func(f *aksnodepool.AddFlags) {
		f.NodeVMSize, f.Priority, f.MaxSurge = "Standard_D8ds_v4", "Spot", "33%"
		f.EnableClusterAutoscaler, f.MinCount, f.MaxCount = true, 1, 3
		f.Labels = map[string]string{"dept": "IT"}
	}))
	nodes := []corev1.Node{
		node("a", "spot", "Standard_D8ds_v4", "spot", "v1.35.4", "img-1", true),
		node("b", "spot-autoscale", "Standard_D8ds_v4", "spot", "v1.35.4", "img-2", false),
		node("c", "other", "Standard_D8ds_v4", "spot", "v1.35.4", "img-9", true),
	}
	claims := []karpv1.NodeClaim{claim("a", "spot"), claim("b", "spot-autoscale"), claim("c", "other")}
	prices := map[string]float64{"Standard_D8ds_v4": 0.1}
	s := aksnodepool.Describe(p, claims, nodes, func(size string, windows, spot bool) (float64, bool) {
		if windows || !spot {
			t.Errorf("priced %s as windows=%t spot=%t", size, windows, spot)
		}
		v, ok := prices[size]
		return v, ok
	})
	if s.Count != 2 || s.Ready != 1 || s.Desired != 2 {
		t.Errorf("count %d ready %d desired %d, want 2 1 2", s.Count, s.Ready, s.Desired)
	}
	if !s.EnableAutoScaling || *s.MinCount != 1 || *s.MaxCount != 3 || s.MaxSurge != "33%" || s.Priority != "Spot" || s.Mode != "User" {
		t.Errorf("status %+v", s)
	}
	if len(s.NodeImageVersions) != 2 || s.KubernetesVersions[0] != "1.35.4" || s.PricePerHour != 0.2 {
		t.Errorf("versions %v %v price %v", s.KubernetesVersions, s.NodeImageVersions, s.PricePerHour)
	}
	if s.Labels["dept"] != "IT" || len(s.Labels) != 1 || len(s.Taints) != 1 {
		t.Errorf("labels %v taints %v", s.Labels, s.Taints)
	}
	// A fixed pool's desired count is its replicas, whatever runs now.
	fixed := build(t, flags("fixed", func(f *aksnodepool.AddFlags) { f.NodeCount = 5 }))
	if s := aksnodepool.Describe(fixed, nil, nil, nil); s.Desired != 5 || s.Count != 0 || s.EnableAutoScaling || s.PricePerHour != 0 {
		t.Errorf("fixed %+v", s)
	}
}
