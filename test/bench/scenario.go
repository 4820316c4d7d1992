package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/plan"
)

// ScenarioKind is the kind of a scenario file's first document; the other
// documents are the Kubernetes objects it applies.
const ScenarioKind = "Scenario"

// Scenario is one benchmark: a workload with its NodePools and
// AKSNodeClasses, and how to run it.
type Scenario struct {
	Name string `json:"-"`
	Spec struct {
		Description string `json:"description"`
		// TimeScales are azuresim latency factors to run at: 0 is instant,
		// 1 is Azure-like (a VM takes about 35 s).
		TimeScales []float64 `json:"timeScales"`
		// Timeout bounds each run from apply to all pods bound.
		Timeout Duration `json:"timeout"`
		// Reference also runs the workload with karpenter core's own kwok
		// provider at latency 0, the zero-cloud reference.
		Reference bool `json:"reference"`
		// Simulator is azuresim's fault model (docs/azuresim.md): latency,
		// quota, capacity, errors, throttling; it starts from azuresim's
		// defaults and the run's time scale overrides timeScale.
		Simulator map[string]any `json:"simulator,omitempty"`
		// ControllerEnv are extra controller environment variables.
		ControllerEnv []string `json:"controllerEnv,omitempty"`
		// Burst runs each time scale also with burst-then-settle on (a
		// virtual node in the cluster) and reports the pods' wait until
		// Ready and the first hour's cost of both (burst.go).
		Burst bool `json:"burst,omitempty"`
	} `json:"spec"`
	// Objects are the scenario's Kubernetes objects, in file order.
	Objects []*unstructured.Unstructured `json:"-"`
	// Path is the file the scenario came from.
	Path string `json:"-"`
}

// Duration reads "10m" in YAML.
type Duration struct{ time.Duration }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := yaml.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	d.Duration = v
	return err
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

// LoadScenarios reads every scenario in dir, sorted by name; only, when
// non-empty, keeps those named.
func LoadScenarios(dir string, only ...string) ([]*Scenario, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []*Scenario
	found := map[string]bool{}
	for _, f := range files {
		s, err := LoadScenario(f)
		if err != nil {
			return nil, err
		}
		if len(only) > 0 && !contains(only, s.Name) {
			continue
		}
		found[s.Name] = true
		out = append(out, s)
	}
	for _, name := range only {
		if !found[name] {
			return nil, fmt.Errorf("no scenario %q in %s", name, dir)
		}
	}
	return out, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// LoadScenario reads one scenario file.
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := &Scenario{Path: path}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for doc := 1; ; doc++ {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("%s: document %d: %w", path, doc, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if u.GetKind() == ScenarioKind {
			raw, _ := yaml.Marshal(u.Object)
			if err := yaml.UnmarshalStrict(raw, &struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name string `json:"name"`
				} `json:"metadata"`
				Spec any `json:"spec"`
			}{}); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			if err := yaml.Unmarshal(raw, s); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			s.Name = u.GetName()
			continue
		}
		s.Objects = append(s.Objects, u)
	}
	if s.Name == "" {
		return nil, fmt.Errorf("%s: the first document must be a %s with a name", path, ScenarioKind)
	}
	if len(s.Spec.TimeScales) == 0 {
		s.Spec.TimeScales = []float64{0}
	}
	if s.Spec.Timeout.Duration == 0 {
		s.Spec.Timeout.Duration = 15 * time.Minute
	}
	if s.Spec.Simulator != nil {
		cfg := azuresim.DefaultConfig()
		raw, _ := yaml.Marshal(s.Spec.Simulator)
		if err := yaml.UnmarshalStrict(raw, &cfg); err != nil {
			return nil, fmt.Errorf("%s: simulator: %w", path, err)
		}
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("%s: simulator: %w", path, err)
		}
	}
	for _, u := range s.Objects {
		after, err := applyAfter(u)
		if err != nil {
			return nil, fmt.Errorf("%s: %s %s: %w", path, u.GetKind(), u.GetName(), err)
		}
		if after > 0 && isCapacityObject(u) {
			return nil, fmt.Errorf("%s: %s %s: %s is for workload objects; NodePools and NodeClasses are applied first", path, u.GetKind(), u.GetName(), AnnotationApplyAfter)
		}
		if after >= s.Spec.Timeout.Duration {
			return nil, fmt.Errorf("%s: %s %s: %s %s is not before the scenario's timeout %s", path, u.GetKind(), u.GetName(), AnnotationApplyAfter, after, s.Spec.Timeout.Duration)
		}
	}
	if _, err := s.PlanInput(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// AnnotationApplyAfter on a workload object delays its apply by a Go
// duration ("20s") after the first: a scenario in waves.
const AnnotationApplyAfter = "bench.azkarpenter.dev/apply-after"

func applyAfter(u *unstructured.Unstructured) (time.Duration, error) {
	v, ok := u.GetAnnotations()[AnnotationApplyAfter]
	if !ok {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s %q: want a non-negative Go duration such as 20s", AnnotationApplyAfter, v)
	}
	return d, nil
}

// PlanInput is the scenario as the offline planner reads it.
func (s *Scenario) PlanInput() (*plan.Input, error) {
	in := &plan.Input{}
	for _, u := range s.Objects {
		raw, err := yaml.Marshal(u.Object)
		if err != nil {
			return nil, err
		}
		if err := in.Decode(raw, s.Path); err != nil {
			return nil, err
		}
	}
	return in, in.Validate()
}

// Pods is how many pods the scenario's workload makes.
func (s *Scenario) Pods() int {
	in, err := s.PlanInput()
	if err != nil {
		return 0
	}
	return len(in.Pods)
}

// kinds of objects applied before the workload, so NodeClasses are Ready
// when the first pod is created.
func isCapacityObject(u *unstructured.Unstructured) bool {
	return u.GetKind() == "NodePool" || strings.HasSuffix(u.GetKind(), "NodeClass") || u.GetKind() == "Namespace"
}

// simulatorConfig is the fault model for a run at a time scale, as YAML for
// azuresim's --config.
func (s *Scenario) simulatorConfig(timeScale float64) ([]byte, error) {
	cfg := azuresim.DefaultConfig()
	if s.Spec.Simulator != nil {
		raw, _ := yaml.Marshal(s.Spec.Simulator)
		if err := yaml.Unmarshal(raw, &cfg); err != nil {
			return nil, err
		}
	}
	cfg.TimeScale = timeScale
	if timeScale <= 0 {
		// azuresim needs a positive factor; a thousandth makes a 35 s VM
		// creation take 35 ms (localcluster does the same).
		cfg.TimeScale = 0.001
	}
	return yaml.Marshal(cfg)
}

func (s *Scenario) String() string {
	scales := make([]string, 0, len(s.Spec.TimeScales))
	for _, t := range s.Spec.TimeScales {
		scales = append(scales, fmt.Sprint(t))
	}
	return fmt.Sprintf("%s (%d pods, latency %s)", s.Name, s.Pods(), strings.Join(scales, "/"))
}
