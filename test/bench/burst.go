package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/azkarpenter/azkarpenter/pkg/controllers/burst"
	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

// A scenario with spec.burst runs each time scale twice: as any scenario,
// and with burst-then-settle on (the controller's --burst-to-virtual-node
// and a virtual node in the local cluster), and reports for both the pods'
// wait until Ready and what the workload costs over its first hour.

// burstControllerEnv turns the burst controller on.
var burstControllerEnv = []string{"BURST_TO_VIRTUAL_NODE=true"}

// BurstFigures are a burst scenario's figures.
type BurstFigures struct {
	// ReadyWait is the scenario's first pods' time from creation to Ready
	// (running: on ACI with burst, on a VM without).
	ReadyWait *PodWait `json:"readyWait,omitempty"`
	// Bursted and Settled are the controller's counters; ACISeconds the
	// time burst pods spent on ACI, ACICost its estimate (USD).
	Bursted    float64 `json:"bursted"`
	Settled    float64 `json:"settled"`
	ACISeconds float64 `json:"aciSeconds"`
	ACICost    float64 `json:"aciCost"`
	// SettledSeconds is from apply to no pod on the virtual node and no
	// placeholder left.
	SettledSeconds float64 `json:"settledSeconds,omitempty"`
	// VMHourCost is the nodes' cost over the workload's first hour (each
	// node from its creation), HourCost that plus ACICost.
	VMHourCost float64 `json:"vmHourCost"`
	HourCost   float64 `json:"hourCost"`
}

// readyTracker remembers each pod's time from creation to Ready while the
// run goes, since a burst pod's record goes when it is evicted.
type readyTracker struct {
	mu      sync.Mutex
	created map[string]time.Time
	waits   map[string]float64
}

func newReadyTracker() *readyTracker {
	return &readyTracker{created: map[string]time.Time{}, waits: map[string]float64{}}
}

// observe records the pods seen; placeholders are not the workload's.
func (t *readyTracker) observe(pods []corev1.Pod, namespaces map[string]bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range pods {
		p := &pods[i]
		if !namespaces[p.Namespace] || isPlaceholder(p) {
			continue
		}
		uid := string(p.UID)
		t.created[uid] = p.CreationTimestamp.Time
		if _, ok := t.waits[uid]; ok {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && !c.LastTransitionTime.IsZero() {
				t.waits[uid] = c.LastTransitionTime.Sub(p.CreationTimestamp.Time).Seconds()
			}
		}
	}
}

// wait summarises the first n pods created (the scenario's own, not the
// replacements settling makes); nil until all n were Ready.
func (t *readyTracker) wait(n int) *PodWait {
	t.mu.Lock()
	defer t.mu.Unlock()
	uids := lo.Keys(t.created)
	sort.Slice(uids, func(i, j int) bool {
		if !t.created[uids[i]].Equal(t.created[uids[j]]) {
			return t.created[uids[i]].Before(t.created[uids[j]])
		}
		return uids[i] < uids[j]
	})
	if len(uids) > n {
		uids = uids[:n]
	}
	var waits []float64
	for _, u := range uids {
		if w, ok := t.waits[u]; ok {
			waits = append(waits, w)
		}
	}
	return summarize(waits)
}

func summarize(waits []float64) *PodWait {
	if len(waits) == 0 {
		return nil
	}
	sort.Float64s(waits)
	at := func(q float64) float64 { return waits[min(len(waits)-1, int(q*float64(len(waits))))] }
	return &PodWait{Pods: len(waits), P50Seconds: at(0.5), P90Seconds: at(0.9), MaxSeconds: waits[len(waits)-1], AverageSeconds: lo.Sum(waits) / float64(len(waits))}
}

func isPlaceholder(p *corev1.Pod) bool { return burst.IsPlaceholder(p) }

// track polls the workload's pods every second until ctx ends.
func (t *readyTracker) track(ctx context.Context, c client.Reader, namespaces map[string]bool) {
	for {
		var pods corev1.PodList
		if err := c.List(ctx, &pods); err == nil {
			t.observe(pods.Items, namespaces)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// settled reports whether no workload pod is on the virtual node and no
// placeholder is left.
func settled(pods []corev1.Pod, namespaces map[string]bool, virtualNode string) bool {
	for i := range pods {
		p := &pods[i]
		if !namespaces[p.Namespace] {
			continue
		}
		if isPlaceholder(p) || (p.Spec.NodeName == virtualNode && p.DeletionTimestamp.IsZero()) {
			return false
		}
	}
	return true
}

// waitSettled waits until the burst pods have moved to VMs.
func waitSettled(ctx context.Context, c client.Reader, namespaces map[string]bool, deadline time.Time) error {
	for {
		var pods corev1.PodList
		if err := c.List(ctx, &pods); err != nil {
			return err
		}
		if settled(pods.Items, namespaces, burst.DefaultVirtualNodeName) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("burst pods not settled onto VMs by %s", deadline.Format(time.RFC3339))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// vmHourCost is what the nodes cost over the hour from start: each from
// its creation (a node deleted during the run is not counted).
func vmHourCost(nodes []corev1.Node, start time.Time, price func(*corev1.Node) float64) float64 {
	total := 0.0
	for i := range nodes {
		n := &nodes[i]
		offset := n.CreationTimestamp.Sub(start).Seconds()
		total += price(n) * max(0, 3600-max(0, offset)) / 3600
	}
	return total
}

// burstMetrics reads the burst controller's counters from its metrics.
func burstMetrics(families map[string]*dto.MetricFamily, f *BurstFigures) {
	sum := func(name string) float64 {
		mf, ok := families[name]
		if !ok {
			return 0
		}
		total := 0.0
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				total += m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				total += m.GetHistogram().GetSampleSum()
			}
		}
		return total
	}
	f.Bursted = sum("azkarpenter_burst_pods_bursted_total")
	f.Settled = sum("azkarpenter_burst_pods_settled_total")
	f.ACISeconds = sum("azkarpenter_burst_duration_seconds")
	f.ACICost = sum("azkarpenter_burst_aci_cost_dollars_total")
}

// burstFigures finishes a burst scenario's run: with burst on, waits for
// the pods to settle onto VMs and reads the controller's burst metrics;
// for both, the pods' wait until Ready and the first hour's cost.
func (r *runner) burstFigures(ctx context.Context, run *Run, s *Scenario, env *framework.Environment, t *readyTracker, burstOn bool, price func(*corev1.Node) float64) error {
	f := &BurstFigures{}
	run.Burst = f
	_, _, namespaces := splitObjects(s.Objects)
	if burstOn {
		if err := waitSettled(ctx, env.Client, namespaces, run.start.Add(s.Spec.Timeout.Duration)); err != nil {
			return err
		}
		f.SettledSeconds = time.Since(run.start).Seconds()
		r.logf("%s: burst pods settled onto VMs %.1fs after apply", s.Name, f.SettledSeconds)
		if url := env.Cluster.ControllerMetricsURL(); url != "" {
			families, err := scrape(ctx, url)
			if err != nil {
				return err
			}
			burstMetrics(families, f)
		}
	}
	var pods corev1.PodList
	if err := env.Client.List(ctx, &pods); err == nil {
		t.observe(pods.Items, namespaces)
	}
	f.ReadyWait = t.wait(run.Pods)
	var nodes corev1.NodeList
	if err := env.Client.List(ctx, &nodes, client.HasLabels{"karpenter.sh/nodepool"}); err != nil {
		return err
	}
	f.VMHourCost = vmHourCost(nodes.Items, run.start, price)
	f.HourCost = f.VMHourCost + f.ACICost
	return nil
}
