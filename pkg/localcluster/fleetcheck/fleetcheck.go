// Package fleetcheck watches a running local cluster and checks, at every
// sample, the invariants that make its figures trustworthy: a Node is
// exactly the VM it stands for, no Node is overcommitted, a NodePool's
// status.resources is the sum of its nodes, and no NodeClaim has more than
// one VM. `make run`, the e2e suites and the benchmark run it for their whole
// duration; a violation fails the run and names the object and the figures.
package fleetcheck

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/utils/resources"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
)

// Invariant names, as violations report them.
const (
	// InvariantNodeIsVM: a Node's capacity and allocatable equal its
	// NodeClaim's, which is what the instance type promised the scheduler.
	InvariantNodeIsVM = "node-is-its-vm"
	// InvariantNoOvercommit: the requests of the pods bound to a Node fit its
	// allocatable.
	InvariantNoOvercommit = "no-overcommit"
	// InvariantNodePoolResources: a NodePool's status.resources is the sum of
	// its nodes' capacities, once karpenter's counter had time to catch up.
	InvariantNodePoolResources = "nodepool-resources"
	// InvariantOneVMPerNodeClaim: a NodeClaim never has two VMs.
	InvariantOneVMPerNodeClaim = "one-vm-per-nodeclaim"
)

// tagNodeClaim is the ownership tag naming a VM's NodeClaim (the provider's
// instance.TagNodeClaim; repeated here so the monitor does not import the
// provider it checks).
const tagNodeClaim = "karpenter.sh_nodeclaim"

// checkedResources are compared between a Node and its NodeClaim, and summed
// for NodePool status (karpenter core's counter reports these).
var checkedResources = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods, corev1.ResourceEphemeralStorage}

// Violation is one broken invariant at one sample.
type Violation struct {
	Invariant string
	// Object names what is wrong: "Node aks-default-x7k2p", "NodePool default".
	Object string
	Detail string
	At     time.Time
}

func (v Violation) String() string {
	return fmt.Sprintf("%s: %s: %s", v.Invariant, v.Object, v.Detail)
}

// VMSource lists the simulator's VMs (azuresim.AdminClient.State).
type VMSource func(ctx context.Context) ([]azuresim.VMState, error)

// Options configure a Monitor.
type Options struct {
	// Config reaches the cluster's API server.
	Config *rest.Config
	// VMs lists the simulator's VMs; nil skips the one-VM-per-NodeClaim check.
	VMs VMSource
	// Interval between samples (default 1s).
	Interval time.Duration
	// Settle is how long a NodePool's nodes must stay unchanged before its
	// status.resources must equal their sum (default 30s): karpenter core's
	// counter recomputes it every 5 seconds from its own view of the cluster,
	// so it trails a fleet that is still changing.
	Settle time.Duration
	// RealMachine picks the Nodes whose kubelet runs on a real machine rather
	// than the VM their NodeClaim launched (test/e2e/realkubelet): their
	// capacity is that machine's, so node-is-its-vm does not apply to them.
	RealMachine func(*corev1.Node) bool
	// Clock stamps samples (default: the real clock).
	Clock clock.PassiveClock
}

// Monitor samples the cluster and records violations.
type Monitor struct {
	opts Options
	// cache holds what reader lists, filled by Start.
	cache  cache.Cache
	reader client.Reader

	mu         sync.Mutex
	samples    int
	checked    Checked
	violations []Violation
	seen       map[string]bool // violation keys already recorded
	pools      map[string]poolTrack
	lastErr    error
}

// poolTrack remembers since when a NodePool's node sum has been unchanged.
type poolTrack struct {
	sum   string
	since time.Time
}

// New builds a monitor; Start runs it.
func New(opts Options) (*Monitor, error) {
	// karpenter core registers its types in client-go's scheme.
	c, err := cache.New(opts.Config, cache.Options{Scheme: clientgoscheme.Scheme})
	if err != nil {
		return nil, err
	}
	m := newMonitor(opts, c)
	m.cache = c
	return m, nil
}

// newMonitor builds a monitor that samples what reader lists.
func newMonitor(opts Options, reader client.Reader) *Monitor {
	if opts.Interval == 0 {
		opts.Interval = time.Second
	}
	if opts.Settle == 0 {
		opts.Settle = 30 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	return &Monitor{opts: opts, reader: reader, seen: map[string]bool{}, pools: map[string]poolTrack{}}
}

// Start fills the monitor's caches and samples every Interval until ctx
// ends. It returns once the caches are synced.
func (m *Monitor) Start(ctx context.Context) error {
	for _, obj := range []client.Object{&corev1.Pod{}, &corev1.Node{}, &karpv1.NodeClaim{}, &karpv1.NodePool{}} {
		if _, err := m.cache.GetInformer(ctx, obj); err != nil {
			return fmt.Errorf("fleet monitor: %w", err)
		}
	}
	go func() { _ = m.cache.Start(ctx) }()
	if !m.cache.WaitForCacheSync(ctx) {
		return errors.New("fleet monitor: caches did not sync")
	}
	go func() {
		t := time.NewTicker(m.opts.Interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				m.Sample(ctx)
			}
		}
	}()
	return nil
}

// Sample checks every invariant once and records what it finds.
func (m *Monitor) Sample(ctx context.Context) {
	vs, seen, err := m.check(ctx, m.opts.Clock.Now())
	m.mu.Lock()
	defer m.mu.Unlock()
	m.samples++
	m.checked.NodeSamples += seen.NodeSamples
	m.checked.PoolChecks += seen.PoolChecks
	m.checked.MaxNodes = max(m.checked.MaxNodes, seen.MaxNodes)
	m.checked.MaxBoundPods = max(m.checked.MaxBoundPods, seen.MaxBoundPods)
	m.lastErr = err
	for _, v := range vs {
		key := v.Invariant + "|" + v.Object + "|" + v.Detail
		if !m.seen[key] {
			m.seen[key] = true
			m.violations = append(m.violations, v)
		}
	}
}

// Checked counts what the monitor has looked at, so that a run can show its
// checks were not vacuous.
type Checked struct {
	Samples int
	// NodeSamples counts (sample, node) pairs compared with their NodeClaim;
	// MaxNodes and MaxBoundPods are the largest fleet and pod count sampled.
	NodeSamples  int
	MaxNodes     int
	MaxBoundPods int
	// PoolChecks counts (sample, NodePool) comparisons of status.resources
	// with the nodes' sum: those made once the pool's nodes had settled.
	PoolChecks int
}

// Checked returns the counts so far.
func (m *Monitor) Checked() Checked {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.checked
	c.Samples = m.samples
	return c
}

// Violations returns every distinct violation seen so far, oldest first.
func (m *Monitor) Violations() []Violation {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Violation(nil), m.violations...)
}

// Err is nil while no invariant has been broken, and otherwise an error
// listing the violations (the first ten, and how many more).
func (m *Monitor) Err() error {
	vs := m.Violations()
	if len(vs) == 0 {
		return nil
	}
	lines := make([]string, 0, 11)
	for i, v := range vs {
		if i == 10 {
			lines = append(lines, fmt.Sprintf("… and %d more", len(vs)-10))
			break
		}
		lines = append(lines, "  "+v.String())
	}
	return fmt.Errorf("fleet invariants broken (%d):\n%s", len(vs), strings.Join(lines, "\n"))
}

func (m *Monitor) check(ctx context.Context, now time.Time) ([]Violation, Checked, error) {
	var seen Checked
	var nodes corev1.NodeList
	var claims karpv1.NodeClaimList
	var pools karpv1.NodePoolList
	var pods corev1.PodList
	for _, l := range []client.ObjectList{&nodes, &claims, &pools, &pods} {
		if err := m.reader.List(ctx, l); err != nil {
			return nil, seen, err
		}
	}
	var out []Violation
	add := func(inv, obj, format string, args ...any) {
		out = append(out, Violation{Invariant: inv, Object: obj, Detail: fmt.Sprintf(format, args...), At: now})
	}

	claimByProvider := map[string]*karpv1.NodeClaim{}
	for i := range claims.Items {
		if id := claims.Items[i].Status.ProviderID; id != "" {
			claimByProvider[id] = &claims.Items[i]
		}
	}
	nodeByProvider := map[string]*corev1.Node{}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if n.Spec.ProviderID != "" {
			nodeByProvider[n.Spec.ProviderID] = n
		}
		claim := claimByProvider[n.Spec.ProviderID]
		if claim == nil || len(n.Status.Capacity) == 0 {
			// Not ours, or the node has not reported its status yet.
			continue
		}
		seen.NodeSamples++
		seen.MaxNodes++
		if m.opts.RealMachine != nil && m.opts.RealMachine(n) {
			continue
		}
		what := fmt.Sprintf("Node %s (NodeClaim %s, %s)", n.Name, claim.Name, n.Labels[corev1.LabelInstanceTypeStable])
		for _, d := range differences(n.Status.Capacity, claim.Status.Capacity) {
			add(InvariantNodeIsVM, what, "capacity %s", d)
		}
		for _, d := range differences(n.Status.Allocatable, claim.Status.Allocatable) {
			add(InvariantNodeIsVM, what, "allocatable %s", d)
		}
	}

	bound := map[string][]*corev1.Pod{}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		bound[p.Spec.NodeName] = append(bound[p.Spec.NodeName], p)
		seen.MaxBoundPods++
	}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		ps := bound[n.Name]
		if len(ps) == 0 || len(n.Status.Allocatable) == 0 {
			continue
		}
		requests := resources.RequestsForPods(ps...)
		requests[corev1.ResourcePods] = *resource.NewQuantity(int64(len(ps)), resource.DecimalSI)
		for name, want := range requests {
			have, ok := n.Status.Allocatable[name]
			if want.IsZero() || (ok && want.Cmp(have) <= 0) {
				continue
			}
			add(InvariantNoOvercommit, fmt.Sprintf("Node %s (%s)", n.Name, n.Labels[corev1.LabelInstanceTypeStable]),
				"%d pods request %s %s, allocatable is %s", len(ps), name, want.String(), have.String())
		}
	}

	poolViolations, poolChecks := m.checkPools(pools.Items, claims.Items, nodeByProvider, now)
	out = append(out, poolViolations...)
	seen.PoolChecks = poolChecks

	if m.opts.VMs != nil {
		vms, err := m.opts.VMs(ctx)
		if err != nil {
			return out, seen, err
		}
		byClaim := map[string][]string{}
		for _, vm := range vms {
			if c := vm.Tags[tagNodeClaim]; c != "" {
				byClaim[c] = append(byClaim[c], vm.Name+" ("+vm.ProvisioningState+")")
			}
		}
		for claim, names := range byClaim {
			if len(names) > 1 {
				sort.Strings(names)
				add(InvariantOneVMPerNodeClaim, "NodeClaim "+claim, "%d VMs: %s", len(names), strings.Join(names, ", "))
			}
		}
	}
	return out, seen, nil
}

// checkPools compares each NodePool's status.resources with the sum of its
// launched NodeClaims (a registered node's own capacity, else the claim's),
// leaving out those marked for deletion, which is what karpenter core's
// counter sums, once that sum has been steady for Settle.
//
// Core's counter updates no NodePool while its cluster state is unsynced,
// and the state is unsynced while any NodeClaim in the cluster, of any
// NodePool, has no provider ID yet (state.Cluster.Synced in
// sigs.k8s.io/karpenter). So a pool's sum is steady only from a sample in
// which every NodeClaim was launched: under a stream of failing launches
// (ARM 5xx) core may leave every pool's resources stale for long, by design.
func (m *Monitor) checkPools(pools []karpv1.NodePool, claims []karpv1.NodeClaim, nodeByProvider map[string]*corev1.Node, now time.Time) ([]Violation, int) {
	sums := map[string]corev1.ResourceList{}
	counts := map[string]int64{}
	unsynced := false
	for i := range claims {
		c := &claims[i]
		unsynced = unsynced || c.Status.ProviderID == ""
		pool := c.Labels[karpv1.NodePoolLabelKey]
		if pool == "" || c.Status.ProviderID == "" || !c.DeletionTimestamp.IsZero() {
			continue
		}
		capacity := c.Status.Capacity
		n := nodeByProvider[c.Status.ProviderID]
		if n != nil && (!n.DeletionTimestamp.IsZero() || disrupted(n)) {
			// Karpenter's counter leaves out nodes marked for deletion.
			continue
		}
		if n != nil && len(n.Status.Capacity) > 0 {
			capacity = n.Status.Capacity
		}
		if sums[pool] == nil {
			sums[pool] = corev1.ResourceList{}
		}
		for _, name := range checkedResources {
			if q, ok := capacity[name]; ok {
				sum := sums[pool][name]
				sum.Add(q)
				sums[pool][name] = sum
			}
		}
		counts[pool]++
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Violation
	checks := 0
	for i := range pools {
		p := &pools[i]
		sum, count := sums[p.Name], counts[p.Name]
		key := fmt.Sprintf("%d %s", count, resources.String(sum))
		track, ok := m.pools[p.Name]
		if !ok || track.sum != key || unsynced {
			m.pools[p.Name] = poolTrack{sum: key, since: now}
			continue
		}
		if now.Sub(track.since) < m.opts.Settle {
			continue
		}
		checks++
		var diffs []string
		for _, name := range checkedResources {
			want := sum[name]
			have := p.Status.Resources[name]
			if have.Cmp(want) != 0 {
				diffs = append(diffs, fmt.Sprintf("%s %s, its %d nodes have %s", name, have.String(), count, want.String()))
			}
		}
		if have := p.Status.Resources[resources.Node]; have.Value() != count {
			diffs = append(diffs, fmt.Sprintf("nodes %s, it has %d", have.String(), count))
		}
		for _, d := range diffs {
			out = append(out, Violation{Invariant: InvariantNodePoolResources, Object: "NodePool " + p.Name,
				Detail: fmt.Sprintf("status.resources %s (steady for %s)", d, now.Sub(track.since).Round(time.Second)), At: now})
		}
	}
	return out, checks
}

// differences lists, for the checked resources and any extended resource
// (GPUs) either side has, where a node's figure differs from the promised
// one. Zero-valued resources the promise does not name (hugepages) are fine.
func differences(have, promised corev1.ResourceList) []string {
	names := map[corev1.ResourceName]bool{}
	for _, n := range checkedResources {
		names[n] = true
	}
	for n := range promised {
		names[n] = true
	}
	for n, q := range have {
		if !q.IsZero() {
			names[n] = true
		}
	}
	var out []string
	for n := range names {
		h, p := have[n], promised[n]
		if h.Cmp(p) != 0 {
			out = append(out, fmt.Sprintf("%s %s, promised %s", n, h.String(), p.String()))
		}
	}
	sort.Strings(out)
	return out
}

// disrupted reports whether karpenter has marked the node for disruption
// (its karpenter.sh/disrupted taint).
func disrupted(n *corev1.Node) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == karpv1.DisruptedTaintKey {
			return true
		}
	}
	return false
}
