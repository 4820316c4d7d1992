// Command bench is the benchmark harness (`make bench`): it runs the
// scenarios of test/bench/scenarios on the local cluster (real etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok, with
// azuresim and the controller, and the fleet monitor for the whole run),
// measures time to capacity, scheduling time, the fleet and its cost
// against the LP bound and a fixed-pool baseline, ARM requests and the
// controller's memory and CPU, and writes results.json, report.md and
// charts. `bench compare BEFORE AFTER` sets two result sets side by side.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

func main() {
	ctrllog.SetLogger(logr.Discard())
	var err error
	if len(os.Args) > 1 && os.Args[1] == "compare" {
		err = runCompare(os.Args[2:])
	} else {
		err = runBench(os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func runBench(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	dir := fs.String("scenarios", "test/bench/scenarios", "directory of scenario files")
	only := fs.String("scenario", "", "comma-separated scenario names to run (default: all)")
	out := fs.String("out", "", "results directory (default test/bench/results/<date-time>)")
	latency := fs.String("latency", "", "comma-separated azuresim time scales to run at instead of each scenario's own (0 = instant, 1 = Azure-like)")
	noReference := fs.Bool("no-reference", false, "skip the runs with karpenter core's kwok provider")
	reference := fs.Bool("reference", false, "run karpenter core's kwok provider for every scenario, also those that do not ask for it")
	fs.DurationVar(&monitorSettle, "monitor-settle", monitorSettle, "how long a NodePool's launched fleet must hold still before the fleet monitor requires karpenter's status.resources to add up; every run holds its final fleet this long plus 5s")
	profile := fs.Bool("profile", false, "enable the controller's pprof endpoint and save heap and goroutine profiles every 30s and a 30s CPU profile of the burst under <out>/profiles")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: bench [--scenario web,batch] [--latency 0,1] [--out DIR] [--reference | --no-reference] [--profile]\n       bench compare BEFORE_DIR AFTER_DIR")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	root, err := testutil.RepoRoot()
	if err != nil {
		return err
	}
	var names []string
	if *only != "" {
		names = strings.Split(*only, ",")
	}
	scenarios, err := LoadScenarios(*dir, names...)
	if err != nil {
		return err
	}
	var scales []float64
	if *latency != "" {
		for _, f := range strings.Split(*latency, ",") {
			v, err := strconv.ParseFloat(f, 64)
			if err != nil {
				return fmt.Errorf("--latency %q: %w", *latency, err)
			}
			scales = append(scales, v)
		}
	}
	if *out == "" {
		*out = filepath.Join("test", "bench", "results", time.Now().Format("20060102-150405"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r := &runner{root: root, log: os.Stdout}
	if *profile {
		r.profiles = filepath.Join(*out, "profiles")
	}
	results := &Results{Machine: describeMachine()}
	var failed []string
	for _, s := range scenarios {
		r.logf("scenario %s", s)
		runScales := s.Spec.TimeScales
		if scales != nil {
			runScales = scales
		}
		res := r.runScenario(ctx, s, runScales, (s.Spec.Reference || *reference) && !*noReference)
		results.Scenarios = append(results.Scenarios, res)
		for _, run := range res.Runs {
			if run.Error != "" {
				failed = append(failed, fmt.Sprintf("%s (%s)", s.Name, latencyName(run)))
			}
		}
		results.Machine.Finished, results.Machine.LoadEnd = time.Now(), loadAverage()
		// Written after every scenario, so an interrupted run keeps what it measured.
		if err := results.write(*out); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	r.logf("results in %s (report.md, results.json, charts)", *out)
	if len(failed) > 0 {
		return fmt.Errorf("%d runs failed: %s", len(failed), strings.Join(failed, ", "))
	}
	return nil
}

func runCompare(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: bench compare BEFORE_DIR AFTER_DIR")
	}
	before, err := readResults(args[0])
	if err != nil {
		return err
	}
	after, err := readResults(args[1])
	if err != nil {
		return err
	}
	compare(os.Stdout, before, after, args[0], args[1])
	return nil
}
