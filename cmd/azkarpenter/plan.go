package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/plan"
)

// fileList is a repeatable -f flag.
type fileList []string

func (f *fileList) String() string     { return strings.Join(*f, ",") }
func (f *fileList) Set(v string) error { *f = append(*f, v); return nil }

// planOutput is plan's JSON: the plan, and with --kubeconfig the fleet it
// would join.
type planOutput struct {
	Region string `json:"region"`
	*plan.Result
	CurrentFleet *fleetCost `json:"currentFleet,omitempty"`
}

// fleetCost is what the karpenter-managed nodes of a cluster cost now.
type fleetCost struct {
	Nodes   int     `json:"nodes"`
	PerHour float64 `json:"pricePerHour"`
	// Unpriced nodes have a size, zone or capacity type the region's price
	// list does not have.
	Unpriced int `json:"unpriced,omitempty"`
}

// runPlan answers "what would this workload cost, on which VMs, and why
// those?" before anything is launched: karpenter core's scheduler places the
// workload offline on the region's instance types, as the controller would.
func runPlan(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	region := newRegionFlags(fs)
	var files fileList
	fs.Var(&files, "f", "workload manifests (Deployments, StatefulSets, Jobs, Pods, DaemonSets), NodePools and AKSNodeClasses: a YAML/JSON file or a directory; repeatable")
	output := fs.String("o", "table", "output format: table or json")
	burstSeconds := fs.Float64("burst-seconds", plan.DefaultBurstSeconds, "seconds each burst pod is assumed to run on Azure Container Instances before its VM is Ready (VM create plus node join), for the ACI cost beside each workload's VM cost")
	kubeconfig := fs.String("kubeconfig", "", "plan a live cluster's pending pods, with its NodePools and AKSNodeClasses (unless -f gives them), and compare with its current fleet")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: azkarpenter plan -f workload.yaml [-f nodepools.yaml ...] | --kubeconfig K  --region R --subscription-id S [Azure endpoint and credential flags] [-o json]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	errs := region.validate()
	if len(files) == 0 && *kubeconfig == "" {
		errs = append([]error{errors.New("-f workload.yaml (or --kubeconfig) is required")}, errs...)
	}
	if *burstSeconds < 0 {
		errs = append(errs, fmt.Errorf("--burst-seconds %g: must not be negative", *burstSeconds))
	}
	if *output != "table" && *output != "json" {
		errs = append(errs, fmt.Errorf("-o %q: use table or json", *output))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	in := &plan.Input{NodeClasses: map[string]*v1beta1.AKSNodeClass{}}
	if len(files) > 0 {
		var err error
		if in, err = plan.ReadFiles(files...); err != nil {
			return err
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var kube client.Client
	var current *fleetCost
	catalog, err := region.catalog(ctx)
	if err != nil {
		return err
	}
	if *kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
		if err != nil {
			return fmt.Errorf("--kubeconfig: %w", err)
		}
		if kube, err = client.New(cfg, client.Options{}); err != nil {
			return err
		}
		if err := readCluster(ctx, kube, in); err != nil {
			return err
		}
		if current, err = currentFleet(ctx, kube, catalog); err != nil {
			return err
		}
	}
	result, err := plan.Solve(ctx, in, catalog.InstanceTypes, kube)
	if err != nil {
		return err
	}
	result.Workloads = plan.WorkloadCosts(in, result, *burstSeconds, catalog.ContainerPrices)
	out := planOutput{Region: catalog.Region, Result: result, CurrentFleet: current}
	if *output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	return printPlan(stdout, out)
}

// readCluster adds a live cluster's pending pods, DaemonSets, and (when the
// files gave none) its NodePools and AKSNodeClasses.
func readCluster(ctx context.Context, kube client.Client, in *plan.Input) error {
	var pods corev1.PodList
	if err := kube.List(ctx, &pods); err != nil {
		return fmt.Errorf("listing pods: %w", err)
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		// Pending pods no node holds: what the provisioner would act on.
		if p.Spec.NodeName == "" && p.DeletionTimestamp.IsZero() && p.Status.Phase == corev1.PodPending {
			in.Pods = append(in.Pods, p)
		}
	}
	var daemonSets appsv1.DaemonSetList
	if err := kube.List(ctx, &daemonSets); err != nil {
		return fmt.Errorf("listing DaemonSets: %w", err)
	}
	for i := range daemonSets.Items {
		d := &daemonSets.Items[i]
		in.DaemonSetPods = append(in.DaemonSetPods, &corev1.Pod{ObjectMeta: d.Spec.Template.ObjectMeta, Spec: d.Spec.Template.Spec})
	}
	if len(in.NodePools) == 0 {
		var pools karpv1.NodePoolList
		if err := kube.List(ctx, &pools); err != nil {
			return fmt.Errorf("listing NodePools: %w", err)
		}
		for i := range pools.Items {
			in.NodePools = append(in.NodePools, &pools.Items[i])
		}
	}
	if len(in.NodeClasses) == 0 {
		var classes v1beta1.AKSNodeClassList
		if err := kube.List(ctx, &classes); err != nil {
			return fmt.Errorf("listing AKSNodeClasses: %w", err)
		}
		for i := range classes.Items {
			in.NodeClasses[classes.Items[i].Name] = &classes.Items[i]
		}
	}
	if len(in.Pods) == 0 {
		return errors.New("the cluster has no pending pods to plan for")
	}
	return nil
}

// currentFleet prices the cluster's karpenter-managed nodes with the
// region's prices.
func currentFleet(ctx context.Context, kube client.Client, catalog *plan.Catalog) (*fleetCost, error) {
	var nodes corev1.NodeList
	if err := kube.List(ctx, &nodes, client.HasLabels{karpv1.NodePoolLabelKey}); err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	f := &fleetCost{}
	for _, n := range nodes.Items {
		f.Nodes++
		size, windows := n.Labels[corev1.LabelInstanceTypeStable], n.Labels[corev1.LabelOSStable] == string(corev1.Windows)
		spot := n.Labels[karpv1.CapacityTypeLabelKey] == karpv1.CapacityTypeSpot
		price, ok := catalog.Prices.Price(size, windows, spot)
		if !ok {
			f.Unpriced++
		}
		f.PerHour += price
	}
	return f, nil
}

func printPlan(w io.Writer, out planOutput) error {
	r := out.Result
	type row struct {
		plan.NodeClaim
		count int
	}
	var rows []*row
	byKey := map[string]*row{}
	for _, nc := range r.NodeClaims {
		key := strings.Join([]string{nc.NodePool, nc.InstanceType, nc.Zone, nc.CapacityType}, "/")
		if x, ok := byKey[key]; ok {
			x.count++
			x.Pods += nc.Pods
			x.CPU += nc.CPU
			x.MemoryGiB += nc.MemoryGiB
			continue
		}
		x := &row{NodeClaim: nc, count: 1}
		byKey[key] = x
		rows = append(rows, x)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODEPOOL\tNODES\tINSTANCE TYPE\tZONE\tCAPACITY\t$/H EACH\t$/H\tPODS\tCPU REQ\tMEMORY REQ")
	for _, x := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%.4f\t%.4f\t%d\t%.2f\t%.1fGiB\n", x.NodePool, x.count, x.InstanceType, x.Zone, x.CapacityType,
			x.PricePerHour, x.PricePerHour*float64(x.count), x.Pods, x.CPU, x.MemoryGiB)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nTotal: %d nodes at $%.4f/h for %d of %d pods in %s\n", len(r.NodeClaims), r.PerHour, r.ScheduledPods(), r.Pods, out.Region)
	if r.LowerBound.PerHour > 0 {
		fmt.Fprintf(w, "Lower bound (LP relaxation of the pods' cpu, memory and pod slots over the allowed offerings): $%.4f/h; the plan costs %.3f× that\n", r.LowerBound.PerHour, r.CostToBound())
	}
	for _, c := range r.LowerBound.Components {
		if c.Infeasible != "" {
			fmt.Fprintf(w, "  no bound for %s: %s\n", pods(c.Pods), c.Infeasible)
		}
	}
	b := r.Baseline
	fmt.Fprintf(w, "Fixed-pool baseline (%s on-demand at $%.4f/h, first-fit decreasing): %d nodes at $%.4f/h", b.InstanceType, b.NodePrice, b.Nodes, b.PerHour)
	if b.PerHour > 0 {
		fmt.Fprintf(w, "; the plan costs %.3f× that", r.CostToBaseline())
	}
	if b.Unplaced > 0 {
		fmt.Fprintf(w, "; %s fit no %s", pods(b.Unplaced), b.InstanceType)
	}
	fmt.Fprintln(w)
	if c := out.CurrentFleet; c != nil {
		fmt.Fprintf(w, "Current fleet: %d nodes at $%.4f/h; with the plan: $%.4f/h", c.Nodes, c.PerHour, c.PerHour+r.PerHour)
		if c.Unpriced > 0 {
			fmt.Fprintf(w, " (%d nodes unpriced)", c.Unpriced)
		}
		fmt.Fprintln(w)
	}
	if err := printWorkloads(w, r.Workloads); err != nil {
		return err
	}
	if len(r.Unschedulable) > 0 {
		n := 0
		for _, u := range r.Unschedulable {
			n += u.Pods
		}
		fmt.Fprintf(w, "\n%s cannot be placed:\n", pods(n))
		sort.SliceStable(r.Unschedulable, func(i, j int) bool { return r.Unschedulable[i].Pods > r.Unschedulable[j].Pods })
		for _, u := range r.Unschedulable {
			fmt.Fprintf(w, "  %s (e.g. %s): %s\n", pods(u.Pods), strings.Join(u.Examples, ", "), u.Reason)
		}
	}
	return nil
}

func pods(n int) string {
	if n == 1 {
		return "1 pod"
	}
	return fmt.Sprintf("%d pods", n)
}

// printWorkloads sets each workload's VM cost beside its cost on Azure
// Container Instances: for one burst, and for an hour there.
func printWorkloads(w io.Writer, ws []plan.WorkloadCost) error {
	if len(ws) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKLOAD\tPODS\tVM $/H\tBURST\tACI GROUP\tACI S/POD\tACI $/BURST\tACI $/H")
	for _, x := range ws {
		burst := "no"
		if x.OptedIn {
			burst = "opted in"
		}
		if x.CannotBurst != "" {
			fmt.Fprintf(tw, "%s\t%d\t%.4f\tcannot\t-\t-\t-\t-\n", x.Workload, x.Pods, x.VMPerHour)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%.4f\t%s\t%.1f vCPU / %.1f GB\t%.0f\t%.5f\t%.4f\n", x.Workload, x.Pods, x.VMPerHour, burst, x.ACIvCPU, x.ACIMemoryGB, x.ACISeconds, x.ACIBurstCost, x.ACIPerHour)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, x := range ws {
		if x.CannotBurst != "" {
			fmt.Fprintf(w, "  %s cannot burst: %s\n", x.Workload, x.CannotBurst)
		}
	}
	fmt.Fprintln(w, "ACI $/BURST: every pod on Azure Container Instances for ACI S/POD while its VM launches (burst-then-settle, karpenter.azure.com/burst=aci); ACI $/H: the workload kept on ACI for an hour.")
	return nil
}
