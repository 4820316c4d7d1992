// Command kubelet-flagcheck checks kubelet command lines the way the
// kubelet of the pinned Kubernetes version does before it starts: it parses
// them with the kubelet's own flag set and runs the kubelet's own flag and
// configuration validation (k8s.io/kubernetes cmd/kubelet/app.NewKubeletCommand,
// up to the point where a kubelet would start running), without starting
// anything.
//
// It reads a JSON array of {"name": ..., "args": [...]} from stdin and
// writes a JSON array of {"name": ..., "error": ...} ("" when the kubelet
// would accept the command line). pkg/providers/launchtemplate's contract
// matrix test runs it on the flags of every combination the product
// renders.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	libcontainercgroups "github.com/opencontainers/cgroups"
	"github.com/spf13/pflag"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/component-base/featuregate"
	"k8s.io/kubernetes/cmd/kubelet/app/options"
	kubeletconfigvalidation "k8s.io/kubernetes/pkg/kubelet/apis/config/validation"

	// The kubelet's feature gates, as its main package registers them.
	_ "k8s.io/kubernetes/pkg/features"
)

type commandLine struct {
	Name string   `json:"name"`
	Args []string `json:"args"`
}

type result struct {
	Name  string `json:"name"`
	Error string `json:"error"`
}

func main() {
	var in []commandLine
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, "kubelet-flagcheck: reading command lines:", err)
		os.Exit(2)
	}
	out := make([]result, 0, len(in))
	for _, c := range in {
		r := result{Name: c.Name}
		if err := check(c.Args); err != nil {
			r.Error = err.Error()
		}
		out = append(out, r)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "kubelet-flagcheck:", err)
		os.Exit(2)
	}
}

// check does what the kubelet's command does with its arguments before it
// runs: parse them into its flags and configuration, set the feature gates
// they name, and validate both.
func check(args []string) error {
	fs := pflag.NewFlagSet("kubelet", pflag.ContinueOnError)
	fs.SetNormalizeFunc(cliflag.WordSepNormalizeFunc)
	fs.SetOutput(discard{})
	flags := options.NewKubeletFlags()
	config, err := options.NewKubeletConfiguration()
	if err != nil {
		return err
	}
	flags.AddFlags(fs)
	options.AddKubeletConfigFlags(fs, config)
	options.AddGlobalFlags(fs)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("failed to parse kubelet flag: %w", err)
	}
	if rest := fs.Args(); len(rest) > 0 {
		return fmt.Errorf("unknown command %s", rest[0])
	}
	if flags.KubeletConfigFile != "" {
		return errors.New("--config is not checked here: pass flags only")
	}
	// A copy of the kubelet's gates, so command lines do not see each
	// other's.
	gates := utilfeature.DefaultMutableFeatureGate.DeepCopy()
	if err := gates.SetFromMap(config.FeatureGates); err != nil {
		return fmt.Errorf("failed to set feature gates from initial flags-based config: %w", err)
	}
	if err := options.ValidateKubeletFlags(flags); err != nil {
		return fmt.Errorf("failed to validate kubelet flags: %w", err)
	}
	// The validation looks at the host for one thing: a kubelet that fails
	// on cgroup v1 (failCgroupV1, true by default in 1.35) refuses a cgroup
	// v1 host. AKS's images boot with cgroup v2 (AKSNodeConfig
	// needs_cgroupv2), so on a cgroup v1 machine the command line is
	// checked as a cgroup v2 node would check it: the host check is the
	// machine's, not the command line's.
	if !libcontainercgroups.IsCgroup2UnifiedMode() {
		config.FailCgroupV1 = false
	}
	if err := kubeletconfigvalidation.ValidateKubeletConfiguration(config, featuregate.FeatureGate(gates)); err != nil {
		return fmt.Errorf("failed to validate kubelet configuration: %w", err)
	}
	return nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
