package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/localcluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/pricing"
)

// fleet is one observation of the cluster.
type fleet struct {
	pods, running, pending, bound int
	nodes, ready                  int
	nodeClaims, deleting          int
	bySKU, byZone, byCapacity     map[string]int
	dollarsPerHour                float64
}

func (f fleet) String() string {
	return fmt.Sprintf("pods %d/%d running (%d pending) | nodes %d ready of %d, nodeclaims %d | %s | %s | %s | $%.3f/h",
		f.running, f.pods, f.pending, f.ready, f.nodes, f.nodeClaims, counts(f.bySKU), counts(f.byZone), counts(f.byCapacity), f.dollarsPerHour)
}

func counts(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// observer reads the fleet from the API server and prices it with the
// Retail Prices API of the (simulated) region.
type observer struct {
	c      client.Client
	prices *pricing.DefaultProvider
	apps   []string
}

func newObserver(ctx context.Context, c client.Client, cfg azure.Config, apps []string) (*observer, error) {
	httpClient, err := cfg.HTTPClient()
	if err != nil {
		return nil, err
	}
	prices, err := pricing.NewDefaultProvider(ctx, pricing.Options{Region: localcluster.Location, Endpoint: cfg.ARMEndpoint, ClientOptions: policy.ClientOptions{Transport: httpClient}})
	if err != nil {
		return nil, err
	}
	_ = prices.Refresh(ctx) // the embedded snapshot serves when the fetch fails
	return &observer{c: c, prices: prices, apps: apps}, nil
}

func (o *observer) observe(ctx context.Context) (fleet, error) {
	f := fleet{bySKU: map[string]int{}, byZone: map[string]int{}, byCapacity: map[string]int{}}
	pods := &corev1.PodList{}
	if err := o.c.List(ctx, pods, client.InNamespace("default")); err != nil {
		return f, err
	}
	for _, p := range pods.Items {
		if !p.DeletionTimestamp.IsZero() || !contains(o.apps, p.Labels["app"]) {
			continue
		}
		f.pods++
		switch {
		case p.Status.Phase == corev1.PodRunning:
			f.running++
		case p.Spec.NodeName != "":
			f.bound++
		default:
			f.pending++
		}
	}
	nodes := &corev1.NodeList{}
	if err := o.c.List(ctx, nodes); err != nil {
		return f, err
	}
	for _, n := range nodes.Items {
		if n.Labels[karpv1.NodePoolLabelKey] == "" {
			continue
		}
		f.nodes++
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				f.ready++
			}
		}
		sku := n.Labels[corev1.LabelInstanceTypeStable]
		capacity := n.Labels[karpv1.CapacityTypeLabelKey]
		f.bySKU[sku]++
		f.byZone[n.Labels[corev1.LabelTopologyZone]]++
		f.byCapacity[capacity]++
		price, ok := o.prices.OnDemandPrice(sku)
		if capacity == karpv1.CapacityTypeSpot {
			price, ok = o.prices.SpotPrice(sku)
		}
		if ok {
			f.dollarsPerHour += price
		}
	}
	claims := &karpv1.NodeClaimList{}
	if err := o.c.List(ctx, claims); err != nil {
		return f, err
	}
	for _, nc := range claims.Items {
		f.nodeClaims++
		if !nc.DeletionTimestamp.IsZero() {
			f.deleting++
		}
	}
	return f, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// progress prints observations: on a terminal one line rewritten in place,
// otherwise a plain line whenever the picture changes.
type progress struct {
	out   io.Writer
	tty   bool
	start time.Time
	last  string
}

func (p *progress) show(f fleet) {
	line := f.String()
	stamp := fmt.Sprintf("[%6s] ", time.Since(p.start).Round(time.Second))
	if p.tty {
		fmt.Fprintf(p.out, "\r\033[K%s%s", stamp, line)
		return
	}
	if line != p.last {
		fmt.Fprintln(p.out, stamp+line)
	}
	p.last = line
}

func (p *progress) event(format string, args ...any) {
	if p.tty {
		fmt.Fprint(p.out, "\r\033[K")
	}
	fmt.Fprintf(p.out, "[%6s] %s\n", time.Since(p.start).Round(time.Second), fmt.Sprintf(format, args...))
}

// waitUntil observes every interval until done says so, failure says why it
// cannot, or the timeout passes.
func waitUntil(ctx context.Context, o *observer, p *progress, timeout time.Duration, done func(fleet) bool, failure func() error) (fleet, error) {
	deadline := time.Now().Add(timeout)
	var f fleet
	for {
		var err error
		if f, err = o.observe(ctx); err == nil {
			p.show(f)
			if done(f) {
				if p.tty {
					fmt.Fprintln(p.out)
				}
				return f, nil
			}
		}
		if err := failure(); err != nil {
			return f, err
		}
		if time.Now().After(deadline) {
			return f, fmt.Errorf("timed out after %s; last: %s", timeout, f)
		}
		select {
		case <-ctx.Done():
			return f, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// scale sets a Deployment's replicas.
func scale(ctx context.Context, c client.Client, name string, replicas int32) error {
	d := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, d); err != nil {
		return err
	}
	patch := client.MergeFrom(d.DeepCopy())
	d.Spec.Replicas = &replicas
	return c.Patch(ctx, d, patch)
}
