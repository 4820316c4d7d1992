package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/aksnodepool"
	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/plan"
)

// Reading, writing and waiting for a pool's objects in the cluster.

// readPool reads the pool named --name from the cluster.
func (c *nodepoolCmd) readPool(ctx context.Context) (client.Client, *aksnodepool.Pool, error) {
	kube, err := c.client()
	if err != nil {
		return nil, nil, err
	}
	var nps karpv1.NodePoolList
	if err := kube.List(ctx, &nps, client.MatchingLabels{aksnodepool.LabelPool: c.name}); err != nil {
		return nil, nil, err
	}
	nc := &v1beta1.AKSNodeClass{}
	if err := kube.Get(ctx, client.ObjectKey{Name: c.name}, nc); err != nil {
		if !apierrors.IsNotFound(err) {
			return nil, nil, err
		}
		nc = nil
	}
	pool, err := aksnodepool.FromObjects(c.name, nps.Items, nc)
	if err != nil {
		return nil, nil, err
	}
	objs := []metav1.Object{pool.NodeClass}
	for _, np := range pool.NodePools() {
		objs = append(objs, np)
	}
	aksnodepool.StripServerFields(objs...)
	return kube, pool, nil
}

func applyPool(ctx context.Context, kube client.Client, pool *aksnodepool.Pool) error {
	objs, err := pool.Objects()
	if err != nil {
		return err
	}
	for _, u := range objs {
		if err := kube.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(aksnodepool.FieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("applying %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
	return nil
}

func printYAML(w io.Writer, pool *aksnodepool.Pool) error {
	data, err := pool.YAML()
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// poolNodeClaims are the live (not deleting) NodeClaims of the pool's NodePools.
func poolNodeClaims(ctx context.Context, kube client.Client, pool *aksnodepool.Pool) ([]karpv1.NodeClaim, error) {
	var claims karpv1.NodeClaimList
	if err := kube.List(ctx, &claims); err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, np := range pool.NodePools() {
		names[np.Name] = true
	}
	return lo.Filter(claims.Items, func(c karpv1.NodeClaim, _ int) bool {
		return names[c.Labels[karpv1.NodePoolLabelKey]] && c.DeletionTimestamp.IsZero()
	}), nil
}

// poll calls check every second, printing its progress when it changes,
// until it reports done, fails, or --timeout passes.
func (c *nodepoolCmd) poll(ctx context.Context, check func() (bool, string, error)) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	began := time.Now()
	last := ""
	for {
		done, progress, err := check()
		if err != nil {
			return err
		}
		if progress != last {
			fmt.Fprintf(c.stdout, "[%6s] %s\n", time.Since(began).Round(time.Second), progress)
			last = progress
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up after %s: %s", c.timeout, last)
		case <-time.After(time.Second):
		}
	}
}

func (c *nodepoolCmd) readyNodes(ctx context.Context, kube client.Client, pool *aksnodepool.Pool) (ready, total int, err error) {
	var nodes corev1.NodeList
	if err := kube.List(ctx, &nodes, client.HasLabels{karpv1.NodePoolLabelKey}); err != nil {
		return 0, 0, err
	}
	names := map[string]bool{}
	for _, np := range pool.NodePools() {
		names[np.Name] = true
	}
	for _, n := range nodes.Items {
		if !names[n.Labels[karpv1.NodePoolLabelKey]] || !n.DeletionTimestamp.IsZero() {
			continue
		}
		total++
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	return ready, total, nil
}

// waitForCount waits until the pool's static NodePool has its replicas as
// ready nodes (an autoscaled pool: at least its floor), and no more.
func (c *nodepoolCmd) waitForCount(ctx context.Context, kube client.Client, pool *aksnodepool.Pool) error {
	want := int(lo.FromPtr(pool.Fixed.Spec.Replicas))
	return c.poll(ctx, func() (bool, string, error) {
		ready, total, err := c.readyNodes(ctx, kube, pool)
		if err != nil {
			return false, "", err
		}
		if pool.Autoscaled() {
			return ready >= want && total <= int(pool.MaxCount()), fmt.Sprintf("nodes %d ready of %d (min %d, max %d)", ready, total, pool.MinCount(), pool.MaxCount()), nil
		}
		return ready == want && total == want, fmt.Sprintf("nodes %d ready of %d, want %d", ready, total, want), nil
	})
}

// waitForUpgrade reports the roll until every NodeClaim of the pool carries
// the upgrade stamp and the pool is back to its count.
func (c *nodepoolCmd) waitForUpgrade(ctx context.Context, kube client.Client, pool *aksnodepool.Pool, stamp string) error {
	want := int(lo.FromPtr(pool.Fixed.Spec.Replicas))
	return c.poll(ctx, func() (bool, string, error) {
		claims, err := poolNodeClaims(ctx, kube, pool)
		if err != nil {
			return false, "", err
		}
		upgraded, old := 0, 0
		for _, cl := range claims {
			if cl.Annotations[aksnodepool.AnnotationUpgrade] == stamp {
				upgraded++
			} else {
				old++
			}
		}
		ready, total, err := c.readyNodes(ctx, kube, pool)
		if err != nil {
			return false, "", err
		}
		done := old == 0 && ready >= want && ready == total
		return done, fmt.Sprintf("nodes upgraded %d, to upgrade %d; %d ready of %d", upgraded, old, ready, total), nil
	})
}

// poolCatalog turns the region's catalog into what the mapping checks
// sizes against (nil without a region).
func poolCatalog(ctx context.Context, cat *plan.Catalog) (aksnodepool.Catalog, error) {
	if cat == nil {
		return nil, nil
	}
	c, err := cat.SKUs.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	return aksnodepool.FromSKUs(cat.Region, c, time.Now()), nil
}

// versionMatches reports whether the --kubernetes-version asked for (1.35.4,
// v1.35.4, or 1.35 for the minor's current patch, as az takes it) names the
// control plane's version cp.
func versionMatches(asked, cp string) bool {
	asked = strings.TrimPrefix(asked, "v")
	cp, _, _ = strings.Cut(cp, "+") // build metadata
	if asked == cp {
		return true
	}
	return strings.Count(asked, ".") == 1 && strings.HasPrefix(cp, asked+".")
}
