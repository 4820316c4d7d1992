package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/azkarpenter/azkarpenter/pkg/aksnodepool"
	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
)

// nodepool list and show.

func nodepoolList(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	c := newNodepoolCmd(sub, stdout, stderr, false)
	if err := c.parse(args); err != nil {
		return err
	}
	kube, err := c.client()
	if err != nil {
		return err
	}
	var nps karpv1.NodePoolList
	if err := kube.List(ctx, &nps, client.HasLabels{aksnodepool.LabelPool}); err != nil {
		return err
	}
	names := lo.Uniq(lo.FilterMap(nps.Items, func(np karpv1.NodePool, _ int) (string, bool) {
		return np.Labels[aksnodepool.LabelPool], sub == "list" || np.Labels[aksnodepool.LabelPool] == c.name
	}))
	if sub == "show" && len(names) == 0 {
		return fmt.Errorf("node pool %s not found", c.name)
	}
	var claims karpv1.NodeClaimList
	if err := kube.List(ctx, &claims); err != nil {
		return err
	}
	var nodes corev1.NodeList
	if err := kube.List(ctx, &nodes, client.HasLabels{karpv1.NodePoolLabelKey}); err != nil {
		return err
	}
	var price aksnodepool.PriceFunc
	if cat, err := c.catalog(ctx); err != nil {
		return err
	} else if cat != nil {
		price = cat.Prices.Price
	}
	var out []aksnodepool.Status
	for _, name := range names {
		nc := &v1beta1.AKSNodeClass{}
		if err := kube.Get(ctx, client.ObjectKey{Name: name}, nc); err != nil {
			return fmt.Errorf("node pool %s: %w", name, err)
		}
		pool, err := aksnodepool.FromObjects(name, nps.Items, nc)
		if err != nil {
			return err
		}
		out = append(out, aksnodepool.Describe(pool, claims.Items, nodes.Items, price))
	}
	var v any = out
	if sub == "show" {
		v = out[0]
	}
	switch c.output {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		data, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = stdout.Write(data)
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tMODE\tOS\tVM SIZES\tPRIORITY\tCOUNT\tMIN/MAX\tMAX SURGE\tK8S\tNODE IMAGE\t$/HOUR")
	for _, s := range out {
		minMax := "-"
		if s.EnableAutoScaling {
			minMax = fmt.Sprintf("%d/%d", *s.MinCount, *s.MaxCount)
		}
		priceText := "-"
		if price != nil {
			priceText = fmt.Sprintf("%.3f", s.PricePerHour)
			if s.Unpriced > 0 {
				priceText += fmt.Sprintf(" (+%d unpriced)", s.Unpriced)
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Mode, s.OSType+" ("+s.OSSKU+")", strings.Join(s.VMSizes, ","), s.Priority,
			s.Ready, s.Desired, minMax, lo.Ternary(s.MaxSurge != "", s.MaxSurge, "10%"), dashIfEmpty(strings.Join(s.KubernetesVersions, ",")),
			dashIfEmpty(strings.Join(s.NodeImageVersions, ",")), priceText)
	}
	return w.Flush()
}

func dashIfEmpty(s string) string { return lo.Ternary(s == "", "-", s) }
