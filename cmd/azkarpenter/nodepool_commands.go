package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/samber/lo"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/aksnodepool"
	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
)

// The commands that change a pool: add, scale, update, upgrade, delete.

func nodepoolAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newNodepoolCmd("add", stdout, stderr, true)
	f := aksnodepool.NewAddFlags()
	var vmSizes, taints, labels, tags, zones stringList
	var osDiskSize int
	fs := c.fs
	fs.StringVar(&f.NodeVMSize, "node-vm-size", "", "VM size of the nodes (default "+aksnodepool.DefaultVMSize+")")
	fs.StringVar(&f.NodeVMSize, "s", "", "short for --node-vm-size")
	fs.StringVar(&f.VMSetType, "vm-set-type", "", "VirtualMachineScaleSets (default) or VirtualMachines (several sizes with --vm-sizes)")
	fs.Var(&vmSizes, "vm-sizes", "with --vm-set-type VirtualMachines: up to 5 VM sizes of one family, comma-separated")
	fs.Var(int64Flag{&f.NodeCount}, "node-count", "number of nodes (default 3): a fixed-count pool")
	fs.Var(int64Flag{&f.NodeCount}, "c", "short for --node-count")
	fs.BoolVar(&f.EnableClusterAutoscaler, "enable-cluster-autoscaler", false, "scale between --min-count and --max-count with pending pods")
	fs.BoolVar(&f.EnableClusterAutoscaler, "e", false, "short for --enable-cluster-autoscaler")
	fs.Var(int64Flag{&f.MinCount}, "min-count", "with the autoscaler: nodes always kept")
	fs.Var(int64Flag{&f.MaxCount}, "max-count", "with the autoscaler: most nodes")
	fs.StringVar(&f.Priority, "priority", "", "Regular (default) or Spot")
	fs.StringVar(&f.EvictionPolicy, "eviction-policy", "", "with Spot: Delete (Deallocate cannot be honoured)")
	fs.StringVar(&f.SpotMaxPrice, "spot-max-price", "", "with Spot: most $/hour, or -1 for up to the on-demand price")
	fs.StringVar(&f.OSDiskType, "node-osdisk-type", "", "Ephemeral or Managed (default: ephemeral when it fits the size)")
	fs.IntVar(&osDiskSize, "node-osdisk-size", 0, "OS disk size in GB (default 128)")
	fs.Var(&taints, "node-taints", "taints key=value:Effect, comma-separated")
	fs.Var(&labels, "labels", "node labels key=value, space-separated")
	fs.Var(&tags, "tags", "Azure tags key=value, space-separated")
	fs.StringVar(&f.Mode, "mode", "", "User (default) or System")
	fs.StringVar(&f.OSType, "os-type", "", "Linux (default) or Windows")
	fs.StringVar(&f.OSSKU, "os-sku", "", "Ubuntu, Ubuntu2204, Ubuntu2404, AzureLinux, Windows2022 or Windows2025")
	fs.Var(&zones, "zones", "availability zones, e.g. 1 2 3")
	fs.Var(&zones, "z", "short for --zones")
	fs.StringVar(&f.MaxSurge, "max-surge", "", "most nodes replaced at once by upgrades and other disruptions: a count or a percentage (default 10%)")
	fs.BoolVar(&f.EnableFIPSImage, "enable-fips-image", false, "FIPS 140 validated node image")
	fs.BoolVar(&f.EnableEncryptionAtHost, "enable-encryption-at-host", false, "encrypt OS and temp disks on the host")
	if err := c.parse(args); err != nil {
		return err
	}
	f.Name = c.name
	f.OSDiskSizeGB = int32(min(max(osDiskSize, 0), 1<<20))
	f.VMSizes, f.Taints, f.Zones = aksnodepool.ParseList(vmSizes), aksnodepool.ParseList(taints), aksnodepool.ParseList(zones)
	var err error
	if labels != nil {
		if f.Labels, err = aksnodepool.ParseKeyValues("--labels", labels); err != nil {
			return err
		}
	}
	if tags != nil {
		if f.Tags, err = aksnodepool.ParseKeyValues("--tags", tags); err != nil {
			return err
		}
	}
	cat, err := c.catalog(ctx)
	if err != nil {
		return err
	}
	pc, err := poolCatalog(ctx, cat)
	if err != nil {
		return err
	}
	pool, err := aksnodepool.Build(f, pc)
	if err != nil {
		return err
	}
	// --vnet-subnet-id is registered with the controller's flags; given
	// here, it is the pool's subnet, as in az.
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "vnet-subnet-id" {
			pool.NodeClass.Spec.VNETSubnetID = lo.ToPtr(fl.Value.String())
		}
	})
	if c.dryRun {
		return printYAML(stdout, pool)
	}
	kube, err := c.client()
	if err != nil {
		return err
	}
	var existing karpv1.NodePool
	if err := kube.Get(ctx, client.ObjectKey{Name: c.name}, &existing); err == nil {
		return fmt.Errorf("node pool %s already exists; change it with scale or update", c.name)
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	if err := applyPool(ctx, kube, pool); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "node pool %s: applied AKSNodeClass/%s, %s\n", c.name, c.name, strings.Join(lo.Map(pool.NodePools(), func(np *karpv1.NodePool, _ int) string { return "NodePool/" + np.Name }), ", "))
	if c.noWait {
		return nil
	}
	return c.waitForCount(ctx, kube, pool)
}

func nodepoolScale(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newNodepoolCmd("scale", stdout, stderr, true)
	count := int64(-1)
	c.fs.Var(int64Flag{&count}, "node-count", "[REQUIRED] number of nodes")
	c.fs.Var(int64Flag{&count}, "c", "short for --node-count")
	if err := c.parse(args); err != nil {
		return err
	}
	if count < 0 {
		return errors.New("--node-count is required")
	}
	kube, pool, err := c.readPool(ctx)
	if err != nil {
		return err
	}
	if err := pool.Scale(count); err != nil {
		return err
	}
	if c.dryRun {
		return printYAML(stdout, pool)
	}
	if err := applyPool(ctx, kube, pool); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "node pool %s: scaling to %d nodes\n", c.name, count)
	if c.noWait {
		return nil
	}
	return c.waitForCount(ctx, kube, pool)
}

func nodepoolUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newNodepoolCmd("update", stdout, stderr, true)
	u := aksnodepool.NewUpdateFlags()
	var taints, labels, tags stringList
	fs := c.fs
	fs.BoolVar(&u.EnableClusterAutoscaler, "enable-cluster-autoscaler", false, "turn the autoscaler on (with --min-count and --max-count)")
	fs.BoolVar(&u.EnableClusterAutoscaler, "e", false, "short for --enable-cluster-autoscaler")
	fs.BoolVar(&u.UpdateClusterAutoscaler, "update-cluster-autoscaler", false, "change --min-count and --max-count")
	fs.BoolVar(&u.UpdateClusterAutoscaler, "u", false, "short for --update-cluster-autoscaler")
	fs.BoolVar(&u.DisableClusterAutoscaler, "disable-cluster-autoscaler", false, "turn the autoscaler off, freezing the pool at its current count")
	fs.BoolVar(&u.DisableClusterAutoscaler, "d", false, "short for --disable-cluster-autoscaler")
	fs.Var(int64Flag{&u.MinCount}, "min-count", "with the autoscaler: nodes always kept")
	fs.Var(int64Flag{&u.MaxCount}, "max-count", "with the autoscaler: most nodes")
	fs.Var(&taints, "node-taints", "replace the pool's taints: key=value:Effect, comma-separated (\"\" removes them)")
	fs.Var(&labels, "labels", "replace the pool's node labels: key=value, space-separated")
	fs.Var(&tags, "tags", "replace the pool's Azure tags: key=value, space-separated")
	fs.StringVar(&u.MaxSurge, "max-surge", "", "most nodes replaced at once: a count or a percentage")
	if err := c.parse(args); err != nil {
		return err
	}
	var err error
	if taints != nil {
		u.Taints = append([]string{}, aksnodepool.ParseList(taints)...)
	}
	if labels != nil {
		if u.Labels, err = aksnodepool.ParseKeyValues("--labels", labels); err != nil {
			return err
		}
	}
	if tags != nil {
		if u.Tags, err = aksnodepool.ParseKeyValues("--tags", tags); err != nil {
			return err
		}
	}
	kube, pool, err := c.readPool(ctx)
	if err != nil {
		return err
	}
	hadAutoscale := pool.Autoscale
	current, err := poolNodeClaims(ctx, kube, pool)
	if err != nil {
		return err
	}
	if err := pool.Update(u, int64(len(current))); err != nil {
		return err
	}
	if c.dryRun {
		if err := printYAML(stdout, pool); err != nil {
			return err
		}
		if hadAutoscale != nil && pool.Autoscale == nil {
			fmt.Fprintf(stdout, "# and delete NodePool %s\n", hadAutoscale.Name)
		}
		return nil
	}
	if err := applyPool(ctx, kube, pool); err != nil {
		return err
	}
	if hadAutoscale != nil && pool.Autoscale == nil {
		if err := kube.Delete(ctx, hadAutoscale); client.IgnoreNotFound(err) != nil {
			return err
		}
		fmt.Fprintf(stdout, "node pool %s: autoscaler disabled at %d nodes (deleted NodePool %s; its nodes are replaced by the static NodePool's)\n", c.name, lo.FromPtr(pool.Fixed.Spec.Replicas), hadAutoscale.Name)
	} else {
		fmt.Fprintf(stdout, "node pool %s: updated\n", c.name)
	}
	if c.noWait {
		return nil
	}
	return c.waitForCount(ctx, kube, pool)
}

func nodepoolUpgrade(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newNodepoolCmd("upgrade", stdout, stderr, true)
	var version, surge string
	var imageOnly bool
	c.fs.StringVar(&version, "kubernetes-version", "", "Kubernetes version to roll the pool's nodes to: the control plane's")
	c.fs.StringVar(&version, "k", "", "short for --kubernetes-version")
	c.fs.BoolVar(&imageOnly, "node-image-only", false, "roll the pool's nodes onto the newest node image only")
	c.fs.StringVar(&surge, "max-surge", "", "change the pool's max surge before rolling")
	if err := c.parse(args); err != nil {
		return err
	}
	if (version == "") == !imageOnly {
		return errors.New("give one of --kubernetes-version and --node-image-only")
	}
	kube, pool, err := c.readPool(ctx)
	if err != nil {
		return err
	}
	if version != "" {
		dc, err := discovery.NewDiscoveryClientForConfig(c.cfg)
		if err != nil {
			return err
		}
		info, err := dc.ServerVersion()
		if err != nil {
			return fmt.Errorf("reading the control plane's version: %w", err)
		}
		cp := strings.TrimPrefix(info.GitVersion, "v")
		if !versionMatches(version, cp) {
			return fmt.Errorf("--kubernetes-version %s: node pools run the control plane's version, %s; upgrade the control plane first and the pool's nodes follow it (drift), or roll them now with --kubernetes-version %s", version, cp, cp)
		}
	}
	if surge != "" {
		u := aksnodepool.NewUpdateFlags()
		u.MaxSurge = surge
		if err := pool.Update(u, 0); err != nil {
			return err
		}
	}
	what := lo.Ternary(imageOnly, "node-image", "kubernetes-"+strings.TrimPrefix(version, "v"))
	stamp := what + "@" + time.Now().UTC().Format(time.RFC3339)
	pool.MarkUpgrade(stamp)
	if c.dryRun {
		return printYAML(stdout, pool)
	}
	if err := applyPool(ctx, kube, pool); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "node pool %s: rolling its nodes (%s) under max-surge %s\n", c.name, what, lo.Ternary(pool.MaxSurge() != "", pool.MaxSurge(), "10% (default)"))
	if c.noWait {
		return nil
	}
	return c.waitForUpgrade(ctx, kube, pool, stamp)
}

func nodepoolDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newNodepoolCmd("delete", stdout, stderr, true)
	if err := c.parse(args); err != nil {
		return err
	}
	kube, pool, err := c.readPool(ctx)
	if err != nil {
		return err
	}
	if c.dryRun {
		for _, np := range pool.NodePools() {
			fmt.Fprintf(stdout, "would delete NodePool %s\n", np.Name)
		}
		fmt.Fprintf(stdout, "would delete AKSNodeClass %s\n", pool.NodeClass.Name)
		return nil
	}
	// NodePools first: karpenter drains and deletes their nodes; the
	// AKSNodeClass waits for them before it goes.
	for _, np := range pool.NodePools() {
		if err := kube.Delete(ctx, np); client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	if err := kube.Delete(ctx, pool.NodeClass); client.IgnoreNotFound(err) != nil {
		return err
	}
	fmt.Fprintf(stdout, "node pool %s: deleting its NodePools, AKSNodeClass and nodes\n", c.name)
	if c.noWait {
		return nil
	}
	return c.poll(ctx, func() (bool, string, error) {
		claims, err := poolNodeClaims(ctx, kube, pool)
		if err != nil {
			return false, "", err
		}
		err = kube.Get(ctx, client.ObjectKey{Name: pool.NodeClass.Name}, &v1beta1.AKSNodeClass{})
		gone := apierrors.IsNotFound(err)
		return len(claims) == 0 && gone, fmt.Sprintf("%d nodes left", len(claims)), client.IgnoreNotFound(err)
	})
}
