package main

import (
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/azkarpenter/azkarpenter/pkg/controllers/burst"
)

func benchPod(uid string, created time.Time, readyAfter time.Duration, node string) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: uid, UID: types.UID(uid), CreationTimestamp: metav1.NewTime(created)}, Spec: corev1.PodSpec{NodeName: node}}
	if readyAfter >= 0 {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(created.Add(readyAfter))}}
	}
	return p
}

// The tracker keeps a burst pod's wait after it is evicted, and leaves out
// placeholders and the replacements settling makes.
func TestReadyTracker(t *testing.T) {
	ns := map[string]bool{"default": true}
	t0 := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	tr := newReadyTracker()
	ph := benchPod("ph", t0, -1, "")
	ph.Labels = map[string]string{burst.LabelPlaceholderFor: "a"}
	tr.observe([]corev1.Pod{benchPod("a", t0, 8*time.Second, burst.DefaultVirtualNodeName), benchPod("b", t0, -1, ""), ph}, ns)
	if w := tr.wait(2); w == nil || w.Pods != 1 {
		t.Fatalf("one of two pods Ready: %+v", w)
	}
	// a is evicted (gone), b Ready on ACI, a's replacement Ready on a VM later.
	tr.observe([]corev1.Pod{benchPod("b", t0, 12*time.Second, burst.DefaultVirtualNodeName), benchPod("c", t0.Add(60*time.Second), 2*time.Second, "vm-1")}, ns)
	w := tr.wait(2)
	if w == nil || w.Pods != 2 || w.P50Seconds != 12 || w.MaxSeconds != 12 || w.AverageSeconds != 10 {
		t.Errorf("want the first two pods' waits 8 s and 12 s: %+v", w)
	}
}

func TestSettledAndHourCost(t *testing.T) {
	ns := map[string]bool{"default": true}
	t0 := time.Now()
	onACI := benchPod("a", t0, 0, burst.DefaultVirtualNodeName)
	if settled([]corev1.Pod{onACI}, ns, burst.DefaultVirtualNodeName) {
		t.Error("a pod on the virtual node is not settled")
	}
	leaving := onACI
	leaving.DeletionTimestamp = ptr.To(metav1.Now())
	if !settled([]corev1.Pod{leaving, benchPod("b", t0, 0, "vm-1")}, ns, burst.DefaultVirtualNodeName) {
		t.Error("a pod leaving the virtual node and one on a VM are settled")
	}
	ph := benchPod("ph", t0, -1, "vm-1")
	ph.Labels = map[string]string{burst.LabelPlaceholderFor: "a"}
	if settled([]corev1.Pod{ph}, ns, burst.DefaultVirtualNodeName) {
		t.Error("a placeholder left is not settled")
	}

	nodes := []corev1.Node{
		{ObjectMeta: metav1.ObjectMeta{Name: "early", CreationTimestamp: metav1.NewTime(t0.Add(-time.Minute))}},
		{ObjectMeta: metav1.ObjectMeta{Name: "late", CreationTimestamp: metav1.NewTime(t0.Add(1800 * time.Second))}},
	}
	if got := vmHourCost(nodes, t0, func(*corev1.Node) float64 { return 2 }); got < 2.999 || got > 3.001 {
		t.Errorf("a node for the whole hour and one for half of it at $2/h: $%.4f, want $3", got)
	}
}

func TestBurstMetricsAndLine(t *testing.T) {
	counter := func(name string, v float64) *dto.MetricFamily {
		return &dto.MetricFamily{Name: ptr.To(name), Metric: []*dto.Metric{{Counter: &dto.Counter{Value: ptr.To(v)}}}}
	}
	families := map[string]*dto.MetricFamily{
		"azkarpenter_burst_pods_bursted_total":     counter("azkarpenter_burst_pods_bursted_total", 40),
		"azkarpenter_burst_pods_settled_total":     counter("azkarpenter_burst_pods_settled_total", 40),
		"azkarpenter_burst_aci_cost_dollars_total": counter("azkarpenter_burst_aci_cost_dollars_total", 0.02),
		"azkarpenter_burst_duration_seconds": {Name: ptr.To("azkarpenter_burst_duration_seconds"), Metric: []*dto.Metric{
			{Histogram: &dto.Histogram{SampleSum: ptr.To(2400.0), SampleCount: ptr.To(uint64(40))}}}},
	}
	f := &BurstFigures{VMHourCost: 1.5}
	burstMetrics(families, f)
	if f.Bursted != 40 || f.Settled != 40 || f.ACISeconds != 2400 || f.ACICost != 0.02 {
		t.Errorf("%+v", f)
	}
	f.HourCost = f.VMHourCost + f.ACICost
	line := burstLine(f)
	for _, want := range []string{"40 pods to ACI", "2400 pod-seconds", "$1.5200"} {
		if !strings.Contains(line, want) {
			t.Errorf("%q does not say %q", line, want)
		}
	}
}
