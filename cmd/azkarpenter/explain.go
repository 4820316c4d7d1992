package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	coreoptions "sigs.k8s.io/karpenter/pkg/operator/options"
	"sigs.k8s.io/karpenter/pkg/scheduling"
	"sigs.k8s.io/yaml"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/operator/options"
	"github.com/azkarpenter/azkarpenter/pkg/plan"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instancetype"
)

// explain answers "which VM sizes can this NodeClass (and NodePool) launch,
// at what price, and why not the others?" against Azure or azuresim.
func explain(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	region := newRegionFlags(fs)
	nodeClassFile := fs.String("f", "", "[REQUIRED] AKSNodeClass YAML file")
	nodePoolFile := fs.String("nodepool", "", "NodePool YAML file; its requirements narrow the sizes further")
	output := fs.String("o", "table", "output format: table or json")
	onlyFit := fs.Bool("fit-only", false, "show only the sizes that fit")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: azkarpenter explain -f nodeclass.yaml [--nodepool nodepool.yaml] --region R [--subscription-id S] [Azure endpoint and credential flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	errs := region.validate()
	if *nodeClassFile == "" {
		errs = append([]error{errors.New("-f nodeclass.yaml is required")}, errs...)
	}
	if *output != "table" && *output != "json" {
		errs = append(errs, fmt.Errorf("-o %q: use table or json", *output))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	nc := &v1beta1.AKSNodeClass{}
	if err := readYAML(*nodeClassFile, nc, "AKSNodeClass"); err != nil {
		return err
	}
	var np *karpv1.NodePool
	if *nodePoolFile != "" {
		np = &karpv1.NodePool{}
		if err := readYAML(*nodePoolFile, np, "NodePool"); err != nil {
			return err
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	catalog, err := region.catalog(ctx)
	if err != nil {
		return err
	}
	provider := catalog.InstanceTypes
	o := region.o

	decisions, err := provider.Explain(ctx, nc)
	if err != nil {
		return err
	}
	if np != nil {
		its, err := provider.List(ctx, nc)
		if err != nil {
			return err
		}
		applyNodePool(decisions, its, nc, np)
	}
	if *onlyFit {
		kept := decisions[:0]
		for _, d := range decisions {
			if d.Included {
				kept = append(kept, d)
			}
		}
		decisions = kept
	}
	// Fitting sizes first, cheapest first: the order the scheduler prefers.
	sort.SliceStable(decisions, func(i, j int) bool {
		if decisions[i].Included != decisions[j].Included {
			return decisions[i].Included
		}
		if decisions[i].Included {
			return decisions[i].OnDemandPrice < decisions[j].OnDemandPrice
		}
		return decisions[i].Name < decisions[j].Name
	})
	if *output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(decisions)
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SIZE\tFIT\tVCPU\tMEMORY\tON-DEMAND $/H\tSPOT $/H\tOS DISK\tZONES\tREASON")
	for _, d := range decisions {
		fit := "yes"
		reason := strings.Join(d.Reasons, "; ")
		if !d.Included {
			fit = "no"
		} else if len(d.Unavailable) > 0 {
			reason = "unavailable now: " + strings.Join(d.Unavailable, "; ")
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%gGiB\t%s\t%s\t%s\t%s\t%s\n", d.Name, fit, d.VCPUs, d.MemoryGiB, price(d.OnDemandPrice), price(d.SpotPrice), d.OSDisk, strings.Join(d.Zones, ","), reason)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%s in %s\n", instancetype.Summary(decisions), o.Location)
	return nil
}

// applyNodePool marks sizes the NodePool's requirements and labels rule out,
// and those the NodePool is not offered (dominated or outsized sizes).
func applyNodePool(decisions []instancetype.Decision, its []*cloudprovider.InstanceType, nc *v1beta1.AKSNodeClass, np *karpv1.NodePool) {
	notOffered := instancetype.ExcludedForNodePool(its, nc, np)
	reqs := scheduling.NewNodeSelectorRequirementsWithMinValues(np.Spec.Template.Spec.Requirements...)
	reqs.Add(scheduling.NewLabelRequirements(np.Spec.Template.Labels).Values()...)
	byName := map[string]*cloudprovider.InstanceType{}
	for _, it := range its {
		byName[it.Name] = it
	}
	for i := range decisions {
		d := &decisions[i]
		it, ok := byName[d.Name]
		if !d.Included || !ok {
			continue
		}
		// As karpenter core filters instance types: only keys both sides define
		// count; custom labels of the NodePool do not involve the size.
		if err := it.Requirements.Intersects(reqs); err != nil {
			d.Included = false
			d.Reasons = append(d.Reasons, fmt.Sprintf("NodePool %s: %v", np.Name, err))
			continue
		}
		if len(it.Offerings.Compatible(reqs)) == 0 {
			d.Included = false
			d.Reasons = append(d.Reasons, fmt.Sprintf("NodePool %s: no offering matches its zone and capacity-type requirements", np.Name))
			continue
		}
		if reason, ok := notOffered[d.Name]; ok {
			d.Included = false
			d.Reasons = append(d.Reasons, reason)
		}
	}
}

func readYAML(path string, into any, kind string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	// Take the document of the wanted kind from a multi-document file, so the
	// examples (NodePool and AKSNodeClass in one file) work as they are.
	for _, doc := range strings.Split(string(data), "\n---") {
		var meta struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if meta.Kind == kind {
			if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			return nil
		}
	}
	return fmt.Errorf("%s holds no %s", path, kind)
}

func price(p float64) string {
	if p == 0 {
		return "-"
	}
	return fmt.Sprintf("%.4f", p)
}

// regionFlags are the flags explain and plan share: which region's catalog
// and prices to read, from Azure or azuresim, reached with the controller's
// own flags (and their environment variables).
type regionFlags struct{ o *options.Options }

func newRegionFlags(fs *flag.FlagSet) *regionFlags {
	o := &options.Options{}
	o.AddFlags(&coreoptions.FlagSet{FlagSet: fs})
	fs.StringVar(&o.Location, "region", o.Location, "Azure region (same as --location)")
	return &regionFlags{o: o}
}

// validate lists every missing or wrong flag at once.
func (r *regionFlags) validate() []error {
	var errs []error
	if r.o.Location == "" {
		errs = append(errs, errors.New("--region (AZURE_LOCATION) is required"))
	}
	if r.o.SubscriptionID == "" {
		errs = append(errs, errors.New("--subscription-id (AZURE_SUBSCRIPTION_ID) is required"))
	}
	if err := r.o.AzureConfig().Validate(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// catalog builds the instance-type provider the controller would build.
func (r *regionFlags) catalog(ctx context.Context) (*plan.Catalog, error) {
	return plan.NewCatalog(ctx, plan.CatalogOptions{
		Azure:          r.o.AzureConfig(),
		SubscriptionID: r.o.SubscriptionID,
		Region:         r.o.Location,
		PricesEndpoint: r.o.PricesEndpoint,
		ClusterName:    r.o.ClusterName,
		MaxPods:        r.o.DefaultMaxPods(),
		Warn:           func(format string, args ...any) { fmt.Fprintf(os.Stderr, "warning: "+format+"\n", args...) },
	})
}
