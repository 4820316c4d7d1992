package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/azkarpenter/azkarpenter/pkg/aksnodepool"
	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/plan"
)

const nodepoolUsage = `Usage: azkarpenter nodepool <command> [flags]

AKS node-pool operations, with az aks nodepool's flag names, against the
current kubeconfig's cluster. A pool is an AKSNodeClass and a static NodePool
named after it, plus <name>-autoscale with the cluster autoscaler
(docs/aks-node-pools.md).

Commands:
  add      --name N [--node-vm-size S | --vm-set-type VirtualMachines --vm-sizes a,b] [--node-count C |
           --enable-cluster-autoscaler --min-count m --max-count M] [--priority Spot ...] [...]
  scale    --name N --node-count C
  update   --name N [--enable-cluster-autoscaler | --update-cluster-autoscaler | --disable-cluster-autoscaler]
           [--min-count m --max-count M] [--node-taints ...] [--labels ...] [--tags ...] [--max-surge X]
  upgrade  --name N (--kubernetes-version V | --node-image-only) [--max-surge X] [--no-wait]
  list     [-o table|json|yaml]
  show     --name N [-o table|json|yaml]
  delete   --name N [--no-wait]

Write commands take --dry-run to print the YAML they would apply. Region flags
(--region, --subscription-id and the controller's Azure endpoint and credential
flags or their AZURE_* variables) let the CLI check sizes against the region's
catalog and price the pools.

Run "azkarpenter nodepool <command> -h" for the flags of a command.
`

// unsupportedFlags are az aks nodepool flags azkarpenter does not take, with
// what to do instead; they are refused by name rather than ignored.
var unsupportedFlags = map[string]string{
	"enable-node-public-ip":        "nodes get no public IP; use a NAT gateway or load balancer for egress",
	"node-public-ip-prefix-id":     "nodes get no public IP",
	"pod-subnet-id":                "set the pod subnet through the cluster's network configuration",
	"ppg":                          "proximity placement groups are not supported",
	"kubelet-config":               "set spec.kubelet of the AKSNodeClass",
	"linux-os-config":              "set spec.linuxOSConfig of the AKSNodeClass",
	"max-pods":                     "set spec.maxPods of the AKSNodeClass",
	"host-group-id":                "set spec.dedicatedHostGroupID of the AKSNodeClass",
	"workload-runtime":             "set spec.workloadRuntime of the AKSNodeClass",
	"gpu-instance-profile":         "multi-instance GPU profiles are not supported",
	"snapshot-id":                  "node images come from AKS's galleries; pin a version with the controller's --node-image-version",
	"scale-down-mode":              "karpenter deletes the VMs it scales down (scale-down-mode Delete)",
	"enable-ultra-ssd":             "not supported",
	"node-osdisk-mig":              "not supported",
	"aks-custom-headers":           "not supported",
	"crg-id":                       "capacity reservation groups are not supported",
	"allowed-host-ports":           "not supported",
	"asg-ids":                      "not supported",
	"message-of-the-day":           "not supported",
	"disable-windows-outbound-nat": "not supported",
	"enable-vtpm":                  "set spec.security.trustedLaunch.vtpm of the AKSNodeClass",
	"enable-secure-boot":           "set spec.security.trustedLaunch.secureBoot of the AKSNodeClass",
	"kubernetes-version":           "node pools run the control plane's version; `nodepool upgrade --kubernetes-version` rolls them to it",
	"node-image-only":              "use `nodepool upgrade --node-image-only`",
}

// multiValueFlags take several space-separated values after the flag, as az
// does (--labels a=b c=d, --zones 1 2 3).
var multiValueFlags = map[string]bool{"labels": true, "tags": true, "zones": true, "node-taints": true, "vm-sizes": true}

// normalizeArgs joins the values of multi-value flags into one argument and
// refuses az flags that are not supported here, naming each.
func normalizeArgs(args []string, accepted func(string) bool) ([]string, error) {
	var out []string
	var errs []error
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && !accepted(name) {
			if reason, ok := unsupportedFlags[name]; ok && reason != "" {
				errs = append(errs, fmt.Errorf("--%s is an az aks nodepool flag azkarpenter does not support here: %s", name, reason))
				// Skip its value too.
				if !hasValue && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
					i++
				}
				continue
			}
		}
		out = append(out, a)
		if strings.HasPrefix(a, "-") && multiValueFlags[name] && !hasValue {
			var vals []string
			for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				vals = append(vals, args[i])
			}
			out = append(out, strings.Join(vals, " "))
		}
	}
	return out, errors.Join(errs...)
}

// nodepoolCmd holds what every nodepool subcommand shares.
type nodepoolCmd struct {
	fs         *flag.FlagSet
	region     *regionFlags
	kubeconfig string
	name       string
	dryRun     bool
	noWait     bool
	timeout    time.Duration
	output     string
	stdout     io.Writer
	stderr     io.Writer

	kube client.Client
	cfg  *rest.Config
}

func newNodepoolCmd(sub string, stdout, stderr io.Writer, write bool) *nodepoolCmd {
	c := &nodepoolCmd{fs: flag.NewFlagSet("nodepool "+sub, flag.ContinueOnError), stdout: stdout, stderr: stderr}
	c.fs.SetOutput(stderr)
	c.region = newRegionFlags(c.fs)
	c.fs.StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: $KUBECONFIG, then ~/.kube/config)")
	if sub != "list" {
		c.fs.StringVar(&c.name, "name", "", "[REQUIRED] node pool name")
		c.fs.StringVar(&c.name, "n", "", "short for --name")
	}
	if write {
		c.fs.BoolVar(&c.dryRun, "dry-run", false, "print the YAML that would be applied, and apply nothing")
		c.fs.BoolVar(&c.noWait, "no-wait", false, "return once the change is applied, without waiting for the nodes")
		c.fs.DurationVar(&c.timeout, "timeout", 30*time.Minute, "the most to wait for the nodes")
	}
	if sub == "list" || sub == "show" {
		c.fs.StringVar(&c.output, "o", "table", "output format: table, json or yaml")
		c.fs.StringVar(&c.output, "output", "table", "output format: table, json or yaml")
	}
	// Accepted so az commands paste as they are; the cluster is the
	// kubeconfig's. (--resource-group and --cluster-name are the
	// controller's flags, registered with the region flags.)
	var ignored string
	c.fs.StringVar(&ignored, "g", "", "short for --resource-group (accepted for copy-paste; the cluster is the kubeconfig's)")
	return c
}

func (c *nodepoolCmd) parse(args []string) error {
	args, err := normalizeArgs(args, func(name string) bool { return c.fs.Lookup(name) != nil })
	if err != nil {
		return err
	}
	if err := c.fs.Parse(args); err != nil {
		return err
	}
	if c.fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", c.fs.Args())
	}
	if c.fs.Lookup("name") != nil && c.name == "" {
		return errors.New("--name is required")
	}
	if c.fs.Lookup("o") != nil && c.output != "table" && c.output != "json" && c.output != "yaml" {
		return fmt.Errorf("-o %q: use table, json or yaml", c.output)
	}
	return nil
}

func (c *nodepoolCmd) client() (client.Client, error) {
	if c.kube != nil {
		return c.kube, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = c.kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	if c.kube, err = client.New(cfg, client.Options{}); err != nil {
		return nil, err
	}
	c.cfg = cfg
	return c.kube, nil
}

// catalog reads the region's catalog when the region flags are given; nil
// (with a warning) when they are not.
func (c *nodepoolCmd) catalog(ctx context.Context) (*plan.Catalog, error) {
	o := c.region.o
	if o.Location == "" || o.SubscriptionID == "" {
		fmt.Fprintln(c.stderr, "warning: no --region and --subscription-id (AZURE_LOCATION, AZURE_SUBSCRIPTION_ID): VM sizes are not checked against the region's catalog and pools are not priced")
		return nil, nil
	}
	if errs := c.region.validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c.region.catalog(ctx)
}

func runNodepool(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, nodepoolUsage)
		if len(args) == 0 {
			return errors.New("a command is required")
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	switch args[0] {
	case "add":
		return nodepoolAdd(ctx, args[1:], stdout, stderr)
	case "scale":
		return nodepoolScale(ctx, args[1:], stdout, stderr)
	case "update":
		return nodepoolUpdate(ctx, args[1:], stdout, stderr)
	case "upgrade":
		return nodepoolUpgrade(ctx, args[1:], stdout, stderr)
	case "list", "show":
		return nodepoolList(ctx, args[0], args[1:], stdout, stderr)
	case "delete":
		return nodepoolDelete(ctx, args[1:], stdout, stderr)
	default:
		return fmt.Errorf("unknown command %q\n\n%s", args[0], nodepoolUsage)
	}
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, " ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type int64Flag struct{ v *int64 }

func (f int64Flag) String() string {
	if f.v == nil || *f.v < 0 {
		return ""
	}
	return strconv.FormatInt(*f.v, 10)
}

func (f int64Flag) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("%q: want a count of 0 or more", s)
	}
	*f.v = n
	return nil
}

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
	f.OSDiskSizeGB = int32(min(osDiskSize, 1<<20))
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
