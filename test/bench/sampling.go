package main

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/localcluster"
)

// The steps of measure: the objects split into capacity and workload, the
// cache the samples read, the workload's waves and the sampling loop.

// splitObjects separates a scenario's NodePools and NodeClasses (capacity)
// from its workload, which goes to the default namespace unless it names
// one; namespaces are the workload's.
func splitObjects(objects []*unstructured.Unstructured) (capacity, workload []*unstructured.Unstructured, namespaces map[string]bool) {
	namespaces = map[string]bool{}
	for _, u := range objects {
		u = u.DeepCopy()
		if isCapacityObject(u) {
			capacity = append(capacity, u)
			continue
		}
		if u.GetNamespace() == "" {
			u.SetNamespace("default")
		}
		namespaces[u.GetNamespace()] = true
		workload = append(workload, u)
	}
	return capacity, workload, namespaces
}

// startFleetCache is an informer cache of pods, nodes and NodeClaims: one
// sample a second reads them without loading the API server.
func startFleetCache(ctx context.Context, config *rest.Config) (cache.Cache, error) {
	c, err := cache.New(config, cache.Options{Scheme: clientgoscheme.Scheme})
	if err != nil {
		return nil, err
	}
	for _, obj := range []client.Object{&corev1.Pod{}, &corev1.Node{}, &karpv1.NodeClaim{}} {
		if _, err := c.GetInformer(ctx, obj); err != nil {
			return nil, err
		}
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("caches did not sync")
	}
	return c, nil
}

// waves applies the workload in waves: objects annotated with a delay
// (AnnotationApplyAfter) wait for their time after the first.
type waves struct {
	pending []*unstructured.Unstructured
	start   time.Time
}

func newWaves(workload []*unstructured.Unstructured) *waves {
	sort.SliceStable(workload, func(i, j int) bool {
		a, _ := applyAfter(workload[i])
		b, _ := applyAfter(workload[j])
		return a < b
	})
	return &waves{pending: workload}
}

// applyDue applies the objects whose time has come. The first call starts
// the clock.
func (w *waves) applyDue(ctx context.Context, o measureOptions) error {
	if w.start.IsZero() {
		w.start = time.Now()
	}
	n := 0
	for n < len(w.pending) {
		if after, _ := applyAfter(w.pending[n]); after > time.Since(w.start) {
			break
		}
		n++
	}
	if n == 0 {
		return nil
	}
	if after, _ := applyAfter(w.pending[0]); after > 0 {
		o.log("%s: [%5.0fs] applying %d objects of a later wave", o.scenario.Name, time.Since(w.start).Seconds(), n)
	}
	due := w.pending[:n]
	w.pending = w.pending[n:]
	return localcluster.Apply(ctx, o.client, due)
}

// sampleUntilBound applies the workload's waves and samples the fleet every
// second until every pod is bound and the fleet has held for settle. A run
// that times out returns its timeout as timedOut, with the figures so far
// recorded; err ends the run without figures.
func sampleUntilBound(ctx context.Context, run *Run, o measureOptions, c cache.Cache, w *waves, namespaces map[string]bool) (timedOut, err error) {
	if err := w.applyDue(ctx, o); err != nil {
		return nil, err
	}
	start := w.start
	run.start = start
	deadline := start.Add(o.scenario.Spec.Timeout.Duration)
	lastLog := time.Time{}
	var doneAt time.Time
	maxNodes := 0
	for {
		if err := w.applyDue(ctx, o); err != nil {
			return nil, err
		}
		s := sampleFleet(ctx, c, namespaces, time.Since(start))
		if ps, err := readProc(o.pid); err == nil {
			s.RSSMiB, s.CPUSeconds = ps.RSSMiB, ps.CPUSeconds
			if s.Nodes >= maxNodes {
				maxNodes, run.ControllerMaxNodesRSS = s.Nodes, ps.RSSMiB
			}
		}
		run.Timeline = append(run.Timeline, s)
		run.Bound = s.Bound
		o.profiler.tick(ctx, time.Since(start))
		if doneAt.IsZero() && s.Bound >= run.Pods {
			doneAt = time.Now()
			o.profiler.snapshot(ctx, "all-bound")
			run.AllBoundSeconds = s.Seconds
			o.log("%s: all %d pods bound in %.1fs on %d nodes", o.scenario.Name, run.Pods, s.Seconds, s.Nodes)
		}
		if !doneAt.IsZero() && time.Since(doneAt) >= settle() {
			return nil, nil
		}
		if err := o.failed(); err != nil {
			return nil, err
		}
		if time.Now().After(deadline) && doneAt.IsZero() {
			// The figures of a run that timed out are still worth having
			// (how far it got, at what cost, with how much memory).
			return fmt.Errorf("timed out after %s: %d of %d pods bound, %d nodes", o.scenario.Spec.Timeout.Duration, s.Bound, run.Pods, s.Nodes), nil
		}
		if time.Since(lastLog) > 15*time.Second {
			o.log("%s: [%5.0fs] %d/%d pods bound, %d nodeclaims, %d nodes, controller RSS %.0f MiB", o.scenario.Name, s.Seconds, s.Bound, run.Pods, s.NodeClaims, s.Nodes, s.RSSMiB)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// sampleFleet counts the workload's bound pods, the nodes and the
// NodeClaims at one moment of the run.
func sampleFleet(ctx context.Context, c cache.Cache, namespaces map[string]bool, elapsed time.Duration) Sample {
	s := Sample{Seconds: elapsed.Seconds()}
	var pods corev1.PodList
	if err := c.List(ctx, &pods); err == nil {
		for _, p := range pods.Items {
			if namespaces[p.Namespace] && p.Spec.NodeName != "" && p.DeletionTimestamp.IsZero() && !isPlaceholder(&p) {
				s.Bound++
			}
		}
	}
	var nodes corev1.NodeList
	if err := c.List(ctx, &nodes); err == nil {
		s.Nodes = len(nodes.Items)
	}
	var claims karpv1.NodeClaimList
	if err := c.List(ctx, &claims); err == nil {
		s.NodeClaims = len(claims.Items)
	}
	return s
}
