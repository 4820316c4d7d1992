package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

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
