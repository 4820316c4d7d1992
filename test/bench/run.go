package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/localcluster"
	"github.com/azkarpenter/azkarpenter/pkg/localcluster/fleetcheck"
	"github.com/azkarpenter/azkarpenter/pkg/plan"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instancetype"
	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

// Providers a run can use.
const (
	ProviderAzure = "azkarpenter"
	// ProviderKwok is karpenter core's own kwok provider: nodes appear
	// without any cloud, the zero-cloud reference.
	ProviderKwok = "karpenter-kwok"
	// ProviderAzureBurst is azkarpenter with burst-then-settle on.
	ProviderAzureBurst = "azkarpenter+burst"
)

// clusterArgs raise the local control plane's client rate limits: with the
// defaults (20 QPS for kube-controller-manager, 50 for kube-scheduler),
// creating and binding 10,000 pods takes minutes of client throttling that
// has nothing to do with provisioning.
var clusterArgs = map[string][]string{
	"kube-controller-manager": {"--kube-api-qps=1000", "--kube-api-burst=2000"},
	"kube-scheduler":          {"--kube-api-qps=1000", "--kube-api-burst=2000"},
}

// Sample is one observation of a run.
type Sample struct {
	Seconds    float64 `json:"t"`
	Bound      int     `json:"bound"`
	Nodes      int     `json:"nodes"`
	NodeClaims int     `json:"nodeClaims"`
	RSSMiB     float64 `json:"rssMiB"`
	CPUSeconds float64 `json:"cpuSeconds"`
}

// Fleet is the nodes a run ended with.
type Fleet struct {
	Nodes          int            `json:"nodes"`
	BySize         map[string]int `json:"bySize"`
	ByZone         map[string]int `json:"byZone"`
	ByCapacityType map[string]int `json:"byCapacityType"`
	PerHour        float64        `json:"pricePerHour"`
}

// ARM is the simulator's request statistics for a run.
type ARM struct {
	Operations    map[string]azuresim.OperationStats `json:"operations"`
	Writes        int64                              `json:"writes"`
	Throttled     int64                              `json:"throttled"`
	VMsCreated    int64                              `json:"vmsCreated"`
	WritesPerNode float64                            `json:"writesPerNode"`
	// NodeJoin is the wall time from a VM's provisioning succeeding to its
	// Node registering (azuresim's node agent), in its latency fields.
	NodeJoin *azuresim.OperationStats `json:"nodeJoin,omitempty"`
}

// Run is one scenario run with one provider at one time scale.
type Run struct {
	Provider  string  `json:"provider"`
	TimeScale float64 `json:"timeScale"`
	Pods      int     `json:"pods"`
	Bound     int     `json:"bound"`
	// AllBoundSeconds is the time from applying the workload to every pod
	// bound; 0 when they were not.
	AllBoundSeconds float64    `json:"allBoundSeconds"`
	Timeline        []Sample   `json:"timeline"`
	Scheduling      Scheduling `json:"scheduling"`
	Fleet           Fleet      `json:"fleet"`
	CostToBound     float64    `json:"costToBound"`
	CostToBaseline  float64    `json:"costToBaseline"`
	ARM             *ARM       `json:"arm,omitempty"`
	// Controller is the provisioning controller's process.
	ControllerPeakRSSMiB  float64 `json:"controllerPeakRSSMiB"`
	ControllerCPUSeconds  float64 `json:"controllerCPUSeconds"`
	ControllerMaxNodesRSS float64 `json:"controllerRSSMiBAtMostNodes"`
	// RateLimitWait is the time the controller's Azure requests waited for
	// client-side rate-limit tokens, by operation.
	RateLimitWait map[string]RateLimitWait `json:"rateLimitWait,omitempty"`
	// PodWait is how long pods waited from creation to a node: what a
	// user whose pods arrive while others are being launched sees.
	PodWait *PodWait `json:"podWait,omitempty"`
	// LimitEvents counts pods karpenter reported as blocked by NodePool
	// limits ("all available instance types exceed limits").
	LimitEvents int                `json:"limitEvents"`
	FleetCheck  fleetcheck.Checked `json:"fleetCheck"`
	// Burst are a burst scenario's figures (spec.burst), with and without
	// burst-then-settle.
	Burst *BurstFigures `json:"burst,omitempty"`
	Error string        `json:"error,omitempty"`

	// start is when the workload was applied.
	start time.Time
}

// runner runs scenarios on local clusters.
type runner struct {
	root string
	log  io.Writer
	// kwokBinary is karpenter core's kwok provider, built once.
	kwokBinary string
	// profiles, when set, is where the controller's pprof profiles of each
	// run go (--profile).
	profiles string
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.log, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// runScenario runs a scenario at each of its time scales with our provider,
// then, if asked, with core's kwok provider.
func (r *runner) runScenario(ctx context.Context, s *Scenario, scales []float64, reference bool) *ScenarioResult {
	res := &ScenarioResult{Name: s.Name, Description: s.Spec.Description, Pods: s.Pods()}
	var kwokTypes []byte
	for _, scale := range scales {
		modes := []bool{false}
		if s.Spec.Burst {
			modes = append(modes, true)
		}
		for _, burstOn := range modes {
			run, p, types, err := r.runAzure(ctx, s, scale, burstOn)
			if err != nil {
				run.Error = err.Error()
				r.logf("%s (%s) at latency %g: FAILED: %v", s.Name, run.Provider, scale, err)
			}
			if p != nil && res.Plan == nil {
				res.Plan = p
			}
			if types != nil {
				kwokTypes = types
			}
			res.Runs = append(res.Runs, run)
		}
	}
	if reference && kwokTypes != nil {
		run, err := r.runKwok(ctx, s, kwokTypes, res.Plan)
		if err != nil {
			run.Error = err.Error()
			r.logf("%s with karpenter core's kwok provider: FAILED: %v", s.Name, err)
		}
		res.Runs = append(res.Runs, run)
	}
	return res
}

// runAzure runs the scenario with azkarpenter and azuresim. It also returns
// the offline plan of the workload (with its LP bound and baseline) and the
// instance types for the kwok reference, both from the same azuresim.
func (r *runner) runAzure(ctx context.Context, s *Scenario, scale float64, burstOn bool) (*Run, *plan.Result, []byte, error) {
	run := &Run{Provider: ProviderAzure, TimeScale: scale, Pods: s.Pods()}
	if burstOn {
		run.Provider = ProviderAzureBurst
	}
	dir, err := os.MkdirTemp("", "bench-"+s.Name)
	if err != nil {
		return run, nil, nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	simConfig, err := s.simulatorConfig(scale)
	if err != nil {
		return run, nil, nil, err
	}
	configPath := filepath.Join(dir, "azuresim.yaml")
	if err := os.WriteFile(configPath, simConfig, 0o600); err != nil {
		return run, nil, nil, err
	}
	r.logf("%s: starting a local cluster with azuresim at latency %g", s.Name, scale)
	controllerEnv := s.Spec.ControllerEnv
	if burstOn {
		controllerEnv = append(append([]string{}, controllerEnv...), burstControllerEnv...)
	}
	profileDir := ""
	if r.profiles != "" {
		controllerEnv = append(append([]string{}, controllerEnv...), profileEnv)
		profileDir = filepath.Join(r.profiles, fmt.Sprintf("%s-latency-%g", s.Name, scale))
	}
	env, err := framework.Start(ctx, framework.Options{
		Name: "bench-" + s.Name, TimeScale: scale, Log: r.log, ClusterArgs: clusterArgs,
		AzureSimArgs: []string{"--config=" + configPath, "--seed=1"}, ControllerEnv: controllerEnv,
		MonitorSettle: monitorSettle, VirtualNode: burstOn,
	})
	if err != nil {
		return run, nil, nil, err
	}
	defer env.Stop()

	catalog, err := plan.NewCatalog(ctx, plan.CatalogOptions{
		Azure: env.Azure, SubscriptionID: localcluster.SubscriptionID, Region: localcluster.Location,
		PricesEndpoint: env.Azure.ARMEndpoint, ClusterName: localcluster.ClusterName,
		MaxPods: instancetype.DefaultMaxPods("azure", "overlay"),
	})
	if err != nil {
		return run, nil, nil, err
	}
	in, err := s.PlanInput()
	if err != nil {
		return run, nil, nil, err
	}
	p, err := plan.Solve(ctx, in, catalog.InstanceTypes, nil)
	if err != nil {
		return run, nil, nil, fmt.Errorf("offline plan: %w", err)
	}
	r.logf("%s: offline plan: %s", s.Name, p.Summary())
	kwokTypes, err := kwokInstanceTypes(ctx, in, catalog)
	if err != nil {
		return run, p, nil, err
	}

	pid := 0
	metricsURL := env.Cluster.ControllerMetricsURL()
	for _, c := range env.Cluster.Components() {
		if c.Name == "controller" {
			pid = c.PID
		}
	}
	var tracker *readyTracker
	if s.Spec.Burst {
		tracker = newReadyTracker()
		_, _, namespaces := splitObjects(s.Objects)
		trackCtx, stopTracking := context.WithCancel(ctx)
		defer stopTracking()
		go tracker.track(trackCtx, env.Client, namespaces)
	}
	err = measure(ctx, run, measureOptions{
		config: env.Cluster.Config, client: env.Client, scenario: s, objects: s.Objects,
		pid: pid, metricsURL: metricsURL, failed: env.Failed, monitor: env.Monitor, log: r.logf,
		profiler:       newProfiler(profileDir, metricsURL, r.logf),
		price:          func(n *corev1.Node) float64 { return nodePrice(catalog, n) },
		beforeWorkload: func(ctx context.Context) error { return env.Sim.ResetStats(ctx) },
	})
	if stats, serr := env.Sim.Stats(ctx); serr == nil {
		run.ARM = armOf(stats, run.Fleet.Nodes)
	}
	run.CostToBound, run.CostToBaseline = ratio(run.Fleet.PerHour, p.LowerBound.PerHour), ratio(run.Fleet.PerHour, p.Baseline.PerHour)
	if err == nil && tracker != nil {
		err = r.burstFigures(ctx, run, s, env, tracker, burstOn, func(n *corev1.Node) float64 { return nodePrice(catalog, n) })
	}
	if err != nil {
		env.Dump(context.Background(), r.log)
	}
	return run, p, kwokTypes, err
}

func ratio(a, b float64) float64 {
	if b <= 0 || a <= 0 {
		return 0
	}
	return a / b
}

func armOf(stats azuresim.Stats, nodes int) *ARM {
	a := &ARM{Operations: map[string]azuresim.OperationStats{}}
	for name, o := range stats.Operations {
		// The harness's own state reads (fleet monitor) are not ARM traffic.
		if name == azuresim.OpAdmin {
			continue
		}
		if name == azuresim.OpNodeJoin {
			a.NodeJoin = &o
			continue
		}
		a.Operations[name] = o
		if strings.HasPrefix(name, "Put") || strings.HasPrefix(name, "Delete") {
			a.Writes += o.Requests
		}
		a.Throttled += o.Throttled
	}
	if o, ok := stats.Operations[azuresim.OpPutVM]; ok {
		a.VMsCreated = o.StatusCodes["201"]
	}
	if nodes > 0 {
		a.WritesPerNode = float64(a.Writes) / float64(nodes)
	}
	return a
}

// nodePrice is a node's hourly price in the region's price list.
func nodePrice(c *plan.Catalog, n *corev1.Node) float64 {
	size := n.Labels[corev1.LabelInstanceTypeStable]
	windows := n.Labels[corev1.LabelOSStable] == string(corev1.Windows)
	spot := n.Labels[karpv1.CapacityTypeLabelKey] == karpv1.CapacityTypeSpot
	p, _ := c.Prices.Price(size, windows, spot)
	return p
}

type measureOptions struct {
	config   *rest.Config
	client   client.Client
	scenario *Scenario
	objects  []*unstructured.Unstructured
	// pid is the provisioning controller's process; metricsURL its metrics.
	pid            int
	metricsURL     string
	failed         func() error
	monitor        *fleetcheck.Monitor
	log            func(format string, args ...any)
	price          func(*corev1.Node) float64
	beforeWorkload func(context.Context) error
	// profiler, when set, saves the controller's profiles during the run.
	profiler *profiler
}

// monitorSettle is how long a NodePool's fleet must hold still before the
// fleet monitor requires karpenter's status.resources to add up (the e2e
// suites use 15s, `make run` 30s). Karpenter core recomputes them from its
// own cluster state, which it holds back while that state is catching up
// with hundreds of new NodeClaims; on this shared 2-core machine, in a
// realistic-latency run and in the 1,000-node burst, the figures trailed a
// fleet that had held still for 15s. Every run still ends with the fleet
// held for longer than this, so the final figures are always checked.
//
// --monitor-settle lengthens it: in a burst of hundreds of VMs on this
// machine, core's counter stays at zero while any NodeClaim is still
// launching (its cluster state is not "synced" until every NodeClaim has a
// providerID), which can outlast a minute of a steady launched fleet.
var monitorSettle = 60 * time.Second

// settle is how long the fleet is held after every pod is bound, so that
// the fleet monitor checks the final fleet (its NodePool check needs
// monitorSettle of a steady fleet) and late controller work shows in the
// figures.
func settle() time.Duration { return monitorSettle + 5*time.Second }

// measure applies the scenario's NodePools and NodeClasses, waits for them
// to be Ready, applies the workload and samples every second until every pod
// is bound, then holds the fleet for settle and reads the final figures.
func measure(ctx context.Context, run *Run, o measureOptions) error {
	capacity, workload, namespaces := splitObjects(o.objects)
	if err := localcluster.Apply(ctx, o.client, capacity); err != nil {
		return err
	}
	if err := waitNodePoolsReady(ctx, o.client, o.failed); err != nil {
		return err
	}
	cacheCtx, stopCache := context.WithCancel(ctx)
	defer stopCache()
	c, err := startFleetCache(cacheCtx, o.config)
	if err != nil {
		return err
	}
	var before *dto.Histogram
	var waitBefore map[string]*dto.Histogram
	if o.metricsURL != "" {
		before, _ = scrapeScheduling(ctx, o.metricsURL)
		waitBefore, _ = scrapeRateLimitWait(ctx, o.metricsURL)
	}
	if o.beforeWorkload != nil {
		if err := o.beforeWorkload(ctx); err != nil {
			return err
		}
	}
	o.log("%s: applying %d pods (%d objects)", o.scenario.Name, run.Pods, len(workload))
	timedOut, err := sampleUntilBound(ctx, run, o, c, newWaves(workload), namespaces)
	if err != nil {
		return err
	}
	if o.metricsURL != "" {
		if after, err := scrapeScheduling(ctx, o.metricsURL); err == nil {
			run.Scheduling = schedulingBetween(before, after)
		}
		if after, err := scrapeRateLimitWait(ctx, o.metricsURL); err == nil {
			run.RateLimitWait = rateLimitWaitBetween(waitBefore, after)
		}
	}
	if ps, err := readProc(o.pid); err == nil {
		run.ControllerPeakRSSMiB, run.ControllerCPUSeconds = ps.PeakRSSMiB, ps.CPUSeconds
	}
	run.PodWait = podWaitOf(ctx, c, namespaces)
	run.Fleet = fleetOf(ctx, c, o.price)
	run.LimitEvents = limitEvents(ctx, o.client)
	run.FleetCheck = o.monitor.Checked()
	if err := o.failed(); err != nil {
		return err
	}
	return timedOut
}

// PodWait summarises the pods' time from creation to being scheduled, at
// the API server's resolution of a second.
type PodWait struct {
	Pods           int     `json:"pods"`
	P50Seconds     float64 `json:"p50Seconds"`
	P90Seconds     float64 `json:"p90Seconds"`
	MaxSeconds     float64 `json:"maxSeconds"`
	AverageSeconds float64 `json:"averageSeconds"`
}

func podWaitOf(ctx context.Context, c client.Reader, namespaces map[string]bool) *PodWait {
	var pods corev1.PodList
	if err := c.List(ctx, &pods); err != nil {
		return nil
	}
	var waits []float64
	for _, p := range pods.Items {
		if !namespaces[p.Namespace] || isPlaceholder(&p) {
			continue
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionTrue {
				waits = append(waits, cond.LastTransitionTime.Sub(p.CreationTimestamp.Time).Seconds())
			}
		}
	}
	return summarize(waits)
}

func waitNodePoolsReady(ctx context.Context, c client.Client, failed func() error) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var pools karpv1.NodePoolList
		if err := c.List(ctx, &pools); err != nil {
			return err
		}
		ready := 0
		var notReady []string
		for i := range pools.Items {
			if pools.Items[i].StatusConditions().IsTrue("Ready") {
				ready++
			} else {
				var conds []string
				for _, c := range pools.Items[i].Status.Conditions {
					conds = append(conds, fmt.Sprintf("%s=%s (%s: %s)", c.Type, c.Status, c.Reason, c.Message))
				}
				notReady = append(notReady, fmt.Sprintf("%s [%s]", pools.Items[i].Name, strings.Join(conds, "; ")))
			}
		}
		if len(pools.Items) > 0 && ready == len(pools.Items) {
			return nil
		}
		if err := failed(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("NodePools not Ready after 2m: %s", strings.Join(notReady, ", "))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func fleetOf(ctx context.Context, c client.Reader, price func(*corev1.Node) float64) Fleet {
	f := Fleet{BySize: map[string]int{}, ByZone: map[string]int{}, ByCapacityType: map[string]int{}}
	var nodes corev1.NodeList
	if err := c.List(ctx, &nodes); err != nil {
		return f
	}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if n.Labels[karpv1.NodePoolLabelKey] == "" {
			continue
		}
		f.Nodes++
		f.BySize[n.Labels[corev1.LabelInstanceTypeStable]]++
		f.ByZone[n.Labels[corev1.LabelTopologyZone]]++
		f.ByCapacityType[n.Labels[karpv1.CapacityTypeLabelKey]]++
		f.PerHour += price(n)
	}
	return f
}

// limitEvents counts karpenter's "could not schedule" events that blame a
// NodePool's limits.
func limitEvents(ctx context.Context, c client.Client) int {
	var events corev1.EventList
	if err := c.List(ctx, &events); err != nil {
		return 0
	}
	n := 0
	for _, e := range events.Items {
		if strings.Contains(e.Message, "exceed limits") || strings.Contains(e.Message, "limits have been exhausted") {
			n += max(int(e.Count), 1)
		}
	}
	return n
}
