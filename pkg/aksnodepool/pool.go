package aksnodepool

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
)

// Objects returns what to apply for the pool, as server-side apply
// configurations: the AKSNodeClass first, then the NodePools. Status and
// metadata other than the name and the pool label are left out, so only the
// fields the CLI means are owned by its field manager.
func (p *Pool) Objects() ([]*unstructured.Unstructured, error) {
	objs := []runtime.Object{p.NodeClass}
	for _, np := range p.NodePools() {
		objs = append(objs, np)
	}
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		// Through JSON, so the API types' own marshalling (durations such
		// as consolidateAfter) is what is applied.
		data, err := json.Marshal(o)
		if err != nil {
			return nil, err
		}
		m := map[string]any{}
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, err
		}
		delete(m, "status")
		// Metadata: the name and the pool label only. Objects read back from
		// the cluster carry annotations core maintains (the NodePool hash);
		// applying them would take them over with stale values.
		meta, _ := m["metadata"].(map[string]any)
		labels, _ := meta["labels"].(map[string]any)
		m["metadata"] = map[string]any{"name": meta["name"], "labels": map[string]any{LabelPool: labels[LabelPool]}}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out, nil
}

// YAML renders the pool's objects as a multi-document YAML stream.
func (p *Pool) YAML() ([]byte, error) {
	objs, err := p.Objects()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for i, o := range objs {
		if i > 0 {
			b.WriteString("---\n")
		}
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, err
		}
		b.Write(data)
	}
	return []byte(b.String()), nil
}

// FromObjects reassembles a pool from the cluster's objects labelled with
// its name.
func FromObjects(name string, nodePools []karpv1.NodePool, nc *v1beta1.AKSNodeClass) (*Pool, error) {
	p := &Pool{NodeClass: nc}
	for i := range nodePools {
		np := nodePools[i].DeepCopy()
		if np.Labels[LabelPool] != name {
			continue
		}
		switch np.Name {
		case name:
			p.Fixed = np
		case name + AutoscaleSuffix:
			p.Autoscale = np
		}
	}
	if p.Fixed == nil {
		return nil, fmt.Errorf("node pool %q not found (no NodePool %s labelled %s=%s)", name, name, LabelPool, name)
	}
	if p.Fixed.Spec.Replicas == nil {
		return nil, fmt.Errorf("NodePool %s is not static (no spec.replicas): it was not written by azkarpenter nodepool", name)
	}
	if p.NodeClass == nil {
		return nil, fmt.Errorf("node pool %q: AKSNodeClass %s not found", name, name)
	}
	// Objects read through a typed client have no kind; applying needs it.
	p.NodeClass = p.NodeClass.DeepCopy()
	p.NodeClass.TypeMeta = metav1.TypeMeta{APIVersion: v1beta1.SchemeGroupVersion.String(), Kind: "AKSNodeClass"}
	for _, np := range p.NodePools() {
		np.TypeMeta = metav1.TypeMeta{APIVersion: "karpenter.sh/v1", Kind: "NodePool"}
	}
	return p, nil
}

// Scale sets the node count of a pool without autoscaler.
func (p *Pool) Scale(count int64) error {
	if p.Autoscaled() {
		return fmt.Errorf("node pool %s has the cluster autoscaler enabled; change --min-count/--max-count with `nodepool update --update-cluster-autoscaler`, or disable it first", p.Name())
	}
	if count < 0 || count > MaxNodes {
		return fmt.Errorf("--node-count %d: must be between 0 and %d", count, MaxNodes)
	}
	p.Fixed.Spec.Replicas = lo.ToPtr(count)
	return nil
}

// UpdateFlags are the `az aks nodepool update` flags azkarpenter supports.
type UpdateFlags struct {
	EnableClusterAutoscaler  bool
	UpdateClusterAutoscaler  bool
	DisableClusterAutoscaler bool
	MinCount, MaxCount       int64 // -1: not given
	// Taints, Labels and Tags replace the pool's when non-nil, as AKS does.
	Taints   []string
	Labels   map[string]string
	Tags     map[string]string
	MaxSurge string
}

// NewUpdateFlags returns UpdateFlags with nothing given.
func NewUpdateFlags() UpdateFlags { return UpdateFlags{MinCount: -1, MaxCount: -1} }

// Update applies `nodepool update` to the pool. currentNodes is the pool's
// node count now: --disable-cluster-autoscaler freezes the pool at it.
func (p *Pool) Update(u UpdateFlags, currentNodes int64) error {
	taints, surge, err := p.checkUpdate(u)
	if err != nil {
		return err
	}
	// Template changes first, so a newly created autoscale NodePool copies them.
	for _, np := range p.NodePools() {
		updateTemplate(np, u, taints, surge)
	}
	if u.Tags != nil {
		p.NodeClass.Spec.Tags = u.Tags
	}
	switch {
	case u.EnableClusterAutoscaler:
		p.Fixed.Spec.Replicas = lo.ToPtr(u.MinCount)
		p.Autoscale = newAutoscale(p.Fixed, u.MaxCount-u.MinCount)
	case u.UpdateClusterAutoscaler:
		p.Fixed.Spec.Replicas = lo.ToPtr(u.MinCount)
		setBurst(p.Autoscale, u.MaxCount-u.MinCount)
	case u.DisableClusterAutoscaler:
		p.Fixed.Spec.Replicas = lo.ToPtr(lo.Clamp(currentNodes, p.MinCount(), p.MaxCount()))
		p.Autoscale = nil
	}
	return nil
}

// checkUpdate checks every flag of an update before anything changes, and
// returns the parsed taints and max surge. Like az, it names every mistake
// at once.
func (p *Pool) checkUpdate(u UpdateFlags) ([]corev1.Taint, string, error) {
	modes := lo.Filter([]bool{u.EnableClusterAutoscaler, u.UpdateClusterAutoscaler, u.DisableClusterAutoscaler}, func(b bool, _ int) bool { return b })
	if len(modes) > 1 {
		return nil, "", errors.New("give one of --enable-cluster-autoscaler, --update-cluster-autoscaler and --disable-cluster-autoscaler")
	}
	if len(modes) == 0 && (u.MinCount >= 0 || u.MaxCount >= 0) {
		return nil, "", errors.New("--min-count and --max-count need --enable-cluster-autoscaler or --update-cluster-autoscaler")
	}
	if len(modes) == 0 && u.Taints == nil && u.Labels == nil && u.Tags == nil && u.MaxSurge == "" {
		return nil, "", errors.New("nothing to update: give an autoscaler flag, --node-taints, --labels, --tags or --max-surge")
	}
	errs := p.checkAutoscalerUpdate(u)
	var taints []corev1.Taint
	if u.Taints != nil {
		var terrs []error
		taints, terrs = parseTaints(u.Taints)
		errs = append(errs, terrs...)
	}
	if u.Labels != nil {
		errs = append(errs, checkLabels(u.Labels)...)
	}
	if u.Tags != nil {
		errs = append(errs, checkTags(u.Tags)...)
	}
	var surge string
	if u.MaxSurge != "" {
		var err error
		if surge, err = ParseMaxSurge(u.MaxSurge); err != nil {
			errs = append(errs, err)
		}
	}
	return taints, surge, errors.Join(errs...)
}

// checkAutoscalerUpdate checks the autoscaler flags against the pool's
// autoscaler now.
func (p *Pool) checkAutoscalerUpdate(u UpdateFlags) []error {
	var errs []error
	switch {
	case u.EnableClusterAutoscaler, u.UpdateClusterAutoscaler:
		if u.EnableClusterAutoscaler && p.Autoscaled() {
			errs = append(errs, fmt.Errorf("node pool %s already has the cluster autoscaler enabled; use --update-cluster-autoscaler", p.Name()))
		}
		if u.UpdateClusterAutoscaler && !p.Autoscaled() {
			errs = append(errs, fmt.Errorf("node pool %s does not have the cluster autoscaler enabled; use --enable-cluster-autoscaler", p.Name()))
		}
		if u.MinCount < 0 || u.MaxCount < 0 {
			errs = append(errs, errors.New("the cluster autoscaler needs --min-count and --max-count"))
		} else {
			errs = append(errs, checkBounds(u.MinCount, u.MaxCount)...)
		}
	case u.DisableClusterAutoscaler:
		if !p.Autoscaled() {
			errs = append(errs, fmt.Errorf("node pool %s does not have the cluster autoscaler enabled", p.Name()))
		}
		if u.MinCount >= 0 || u.MaxCount >= 0 {
			errs = append(errs, errors.New("--disable-cluster-autoscaler takes no --min-count or --max-count"))
		}
	}
	return errs
}

// updateTemplate applies the taints, labels and max surge of an update to
// one of the pool's NodePools. The system taints and the labels the pool
// is known by stay.
func updateTemplate(np *karpv1.NodePool, u UpdateFlags, taints []corev1.Taint, surge string) {
	tmpl := &np.Spec.Template
	if u.Taints != nil {
		tmpl.Spec.Taints = append(systemTaints(tmpl.Spec.Taints), taints...)
	}
	if u.Labels != nil {
		labels := map[string]string{}
		for _, k := range []string{LabelAgentPool, v1beta1.AKSLabelMode} {
			if v, ok := tmpl.Labels[k]; ok {
				labels[k] = v
			}
		}
		for k, v := range u.Labels {
			labels[k] = v
		}
		tmpl.Labels = labels
	}
	if surge != "" {
		setMaxSurge(np, surge)
	}
}

// systemTaints are the taints the pool's mode and priority add, which
// --node-taints does not replace.
func systemTaints(ts []corev1.Taint) []corev1.Taint {
	return lo.Filter(ts, func(t corev1.Taint, _ int) bool {
		return t.Key == TaintCriticalAddonsOnly || t.MatchTaint(&spotTaint)
	})
}

// MarkUpgrade stamps the pool's NodePools' template with value (what was
// asked, and when): the template's hash changes, every node of the pool
// drifts, and karpenter core replaces them within the max-surge budget.
func (p *Pool) MarkUpgrade(value string) {
	for _, np := range p.NodePools() {
		if np.Spec.Template.Annotations == nil {
			np.Spec.Template.Annotations = map[string]string{}
		}
		np.Spec.Template.Annotations[AnnotationUpgrade] = value
	}
}

// MaxSurge is the pool's budget ("" when unset: core's default of 10%).
func (p *Pool) MaxSurge() string {
	for _, b := range p.Fixed.Spec.Disruption.Budgets {
		if b.Schedule == nil && len(b.Reasons) == 0 {
			return b.Nodes
		}
	}
	return ""
}

// StripServerFields clears what the server set on objects read back, so a
// pool read from the cluster applies like one built from flags.
func StripServerFields(objs ...metav1.Object) {
	for _, o := range objs {
		o.SetResourceVersion("")
		o.SetUID("")
		o.SetManagedFields(nil)
		o.SetGeneration(0)
		o.SetCreationTimestamp(metav1.Time{})
	}
}
