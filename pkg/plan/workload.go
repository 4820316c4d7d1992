package plan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
)

// Input is what a plan is made for: the pods to place, the NodePools that
// may launch nodes for them, and the AKSNodeClasses those refer to.
type Input struct {
	Pods []*corev1.Pod
	// DaemonSetPods are one pod per DaemonSet: their requests reserve room
	// on every node they tolerate, as karpenter core counts them.
	DaemonSetPods []*corev1.Pod
	NodePools     []*karpv1.NodePool
	NodeClasses   map[string]*v1beta1.AKSNodeClass
	// Ignored names the objects read but not planned for (Services, ...).
	Ignored []string
	// workloads are the owners the pods were read from, by pod UID.
	workloads map[types.UID]Workload
}

// ReadFiles reads workload manifests (Deployments, ReplicaSets,
// StatefulSets, Jobs, DaemonSets, Pods), NodePools and AKSNodeClasses from
// YAML or JSON files; a directory means every *.yaml, *.yml and *.json in it.
func ReadFiles(paths ...string) (*Input, error) {
	in := &Input{NodeClasses: map[string]*v1beta1.AKSNodeClass{}}
	for _, p := range paths {
		files := []string{p}
		if st, err := os.Stat(p); err != nil {
			return nil, err
		} else if st.IsDir() {
			files = nil
			for _, ext := range []string{"*.yaml", "*.yml", "*.json"} {
				m, _ := filepath.Glob(filepath.Join(p, ext))
				files = append(files, m...)
			}
			sort.Strings(files)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			if err := in.Decode(data, f); err != nil {
				return nil, err
			}
		}
	}
	return in, nil
}

// Decode adds the objects of a YAML or JSON stream; source names it in errors.
func (in *Input) Decode(data []byte, source string) error {
	if in.NodeClasses == nil {
		in.NodeClasses = map[string]*v1beta1.AKSNodeClass{}
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for doc := 1; ; doc++ {
		var raw map[string]any
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("%s: document %d: %w", source, doc, err)
		}
		if len(raw) == 0 {
			continue
		}
		if err := in.add(raw); err != nil {
			return fmt.Errorf("%s: document %d: %w", source, doc, err)
		}
	}
}

func (in *Input) add(raw map[string]any) error {
	kind, _ := raw["kind"].(string)
	if kind == "List" {
		items, _ := raw["items"].([]any)
		for _, item := range items {
			if m, ok := item.(map[string]any); ok {
				if err := in.add(m); err != nil {
					return err
				}
			}
		}
		return nil
	}
	data, err := yaml.Marshal(raw)
	if err != nil {
		return err
	}
	decode := func(into any) error {
		if err := yaml.Unmarshal(data, into); err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
		return nil
	}
	switch kind {
	case "Pod":
		p := &corev1.Pod{}
		if err := decode(p); err != nil {
			return err
		}
		in.Pods = append(in.Pods, pendingPod(p.ObjectMeta, p.Spec, p.Name))
	case "Deployment":
		d := &appsv1.Deployment{}
		if err := decode(d); err != nil {
			return err
		}
		in.addReplicas("Deployment", d.ObjectMeta, d.Spec.Replicas, d.Spec.Template)
	case "ReplicaSet":
		r := &appsv1.ReplicaSet{}
		if err := decode(r); err != nil {
			return err
		}
		in.addReplicas("ReplicaSet", r.ObjectMeta, r.Spec.Replicas, r.Spec.Template)
	case "StatefulSet":
		s := &appsv1.StatefulSet{}
		if err := decode(s); err != nil {
			return err
		}
		in.addReplicas("StatefulSet", s.ObjectMeta, s.Spec.Replicas, s.Spec.Template)
	case "Job":
		j := &batchv1.Job{}
		if err := decode(j); err != nil {
			return err
		}
		// The pods that run at once: parallelism, at most the completions.
		n := int32(1)
		if j.Spec.Parallelism != nil {
			n = *j.Spec.Parallelism
		}
		if j.Spec.Completions != nil && *j.Spec.Completions < n {
			n = *j.Spec.Completions
		}
		in.addReplicas("Job", j.ObjectMeta, &n, j.Spec.Template)
	case "DaemonSet":
		d := &appsv1.DaemonSet{}
		if err := decode(d); err != nil {
			return err
		}
		in.DaemonSetPods = append(in.DaemonSetPods, pendingPod(d.ObjectMeta, d.Spec.Template.Spec, d.Name))
	case "NodePool":
		np := &karpv1.NodePool{}
		if err := decode(np); err != nil {
			return err
		}
		in.NodePools = append(in.NodePools, np)
	case "AKSNodeClass":
		nc := &v1beta1.AKSNodeClass{}
		if err := decode(nc); err != nil {
			return err
		}
		in.NodeClasses[nc.Name] = nc
	case "":
		return errors.New("an object has no kind")
	default:
		name, _ := raw["metadata"].(map[string]any)["name"].(string)
		in.Ignored = append(in.Ignored, kind+"/"+name)
	}
	return nil
}

func (in *Input) addReplicas(kind string, owner metav1.ObjectMeta, replicas *int32, tmpl corev1.PodTemplateSpec) {
	n := int32(1)
	if replicas != nil {
		n = *replicas
	}
	meta := tmpl.ObjectMeta
	meta.Namespace = owner.Namespace
	for i := range n {
		p := pendingPod(meta, tmpl.Spec, fmt.Sprintf("%s-%d", owner.Name, i))
		in.setWorkload(p.UID, Workload{Kind: kind, Namespace: p.Namespace, Name: owner.Name})
		in.Pods = append(in.Pods, p)
	}
}

// pendingPod is a pod as karpenter core sees one it must provision for:
// pending, marked unschedulable by kube-scheduler.
func pendingPod(meta metav1.ObjectMeta, spec corev1.PodSpec, name string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: *meta.DeepCopy(), Spec: *spec.DeepCopy()}
	p.Name = name
	if p.Namespace == "" {
		p.Namespace = "default"
	}
	p.UID = types.UID(p.Namespace + "/" + name)
	p.Status = corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
	}}}
	return p
}

// Validate reports inputs a plan cannot be made from.
func (in *Input) Validate() error {
	var errs []error
	if len(in.NodePools) == 0 {
		errs = append(errs, errors.New("no NodePool in the inputs: give the NodePools (and their AKSNodeClasses) that would provision the workload"))
	}
	for _, np := range in.NodePools {
		ref := np.Spec.Template.Spec.NodeClassRef
		if ref == nil || ref.Name == "" {
			errs = append(errs, fmt.Errorf("NodePool %s has no nodeClassRef", np.Name))
			continue
		}
		if _, ok := in.NodeClasses[ref.Name]; !ok {
			errs = append(errs, fmt.Errorf("NodePool %s refers to AKSNodeClass %s, which the inputs do not define", np.Name, ref.Name))
		}
	}
	if len(in.Pods) == 0 {
		errs = append(errs, fmt.Errorf("no pods to plan for (read %d NodePools; ignored %s)", len(in.NodePools), strings.Join(in.Ignored, ", ")))
	}
	return errors.Join(errs...)
}
