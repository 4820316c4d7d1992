package aksnodepool_test

import (
	"strings"
	"testing"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/aksnodepool"
	"github.com/azkarpenter/azkarpenter/pkg/test/golden"
)

func build(t *testing.T, f aksnodepool.AddFlags) *aksnodepool.Pool {
	t.Helper()
	p, err := aksnodepool.Build(f, eastus(t))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func yamlOf(t *testing.T, p *aksnodepool.Pool) []byte {
	t.Helper()
	y, err := p.YAML()
	if err != nil {
		t.Fatal(err)
	}
	return y
}

func TestScale(t *testing.T) {
	p := build(t, flags("mynodepool", func(f *aksnodepool.AddFlags) { f.NodeVMSize = "Standard_D8ds_v4"; f.NodeCount = 3 }))
	if err := p.Scale(5); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "scale-5.yaml", yamlOf(t, p))

	as := build(t, flags("as", func(f *aksnodepool.AddFlags) { f.EnableClusterAutoscaler, f.MinCount, f.MaxCount = true, 1, 5 }))
	if err := as.Scale(5); err == nil || !strings.Contains(err.Error(), "has the cluster autoscaler enabled") {
		t.Errorf("scaling an autoscaled pool: %v", err)
	}
	if err := p.Scale(-1); err == nil {
		t.Error("a negative count was accepted")
	}
}

func TestAutoscalerLifecycle(t *testing.T) {
	p := build(t, flags("mynodepool", func(f *aksnodepool.AddFlags) { f.EnableClusterAutoscaler, f.MinCount, f.MaxCount = true, 1, 5 }))
	if p.MinCount() != 1 || p.MaxCount() != 5 {
		t.Fatalf("min/max %d/%d", p.MinCount(), p.MaxCount())
	}
	u := aksnodepool.NewUpdateFlags()
	u.UpdateClusterAutoscaler, u.MinCount, u.MaxCount = true, 1, 3
	if err := p.Update(u, 4); err != nil {
		t.Fatal(err)
	}
	if p.MinCount() != 1 || p.MaxCount() != 3 {
		t.Fatalf("after update: min/max %d/%d", p.MinCount(), p.MaxCount())
	}
	golden.Check(t, "update-autoscaler-1-3.yaml", yamlOf(t, p))

	// Enabling it again is AKS's error, not a silent no-op.
	u = aksnodepool.NewUpdateFlags()
	u.EnableClusterAutoscaler, u.MinCount, u.MaxCount = true, 1, 3
	if err := p.Update(u, 2); err == nil || !strings.Contains(err.Error(), "already has the cluster autoscaler enabled") {
		t.Errorf("enable twice: %v", err)
	}

	// Disabling freezes the pool at its current count, within the bounds.
	u = aksnodepool.NewUpdateFlags()
	u.DisableClusterAutoscaler = true
	if err := p.Update(u, 2); err != nil {
		t.Fatal(err)
	}
	if p.Autoscaled() || lo.FromPtr(p.Fixed.Spec.Replicas) != 2 {
		t.Fatalf("after disable: autoscaled %t, replicas %d", p.Autoscaled(), lo.FromPtr(p.Fixed.Spec.Replicas))
	}
	golden.Check(t, "update-disable-autoscaler.yaml", yamlOf(t, p))

	// A fixed pool gets the autoscaler: the floor becomes min-count.
	u = aksnodepool.NewUpdateFlags()
	u.EnableClusterAutoscaler, u.MinCount, u.MaxCount = true, 2, 6
	if err := p.Update(u, 2); err != nil {
		t.Fatal(err)
	}
	if p.MinCount() != 2 || p.MaxCount() != 6 || p.Autoscale.Name != "mynodepool-autoscale" {
		t.Fatalf("after enable: %d/%d", p.MinCount(), p.MaxCount())
	}
	u = aksnodepool.NewUpdateFlags()
	u.UpdateClusterAutoscaler, u.MinCount, u.MaxCount = true, 3, 2
	if err := p.Update(u, 2); err == nil {
		t.Error("min above max was accepted")
	}
}

func TestUpdateMetadata(t *testing.T) {
	p := build(t, flags("spot", func(f *aksnodepool.AddFlags) {
		f.Priority = "Spot"
		f.Taints = []string{"a=b:NoSchedule"}
		f.Labels = map[string]string{"dept": "IT"}
		f.EnableClusterAutoscaler, f.MinCount, f.MaxCount = true, 0, 3
	}))
	u := aksnodepool.NewUpdateFlags()
	u.Taints = []string{"c=d:NoExecute"}
	u.Labels = map[string]string{"team": "web"}
	u.Tags = map[string]string{"env": "prod"}
	u.MaxSurge = "2"
	if err := p.Update(u, 0); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "update-metadata.yaml", yamlOf(t, p))
	for _, np := range p.NodePools() {
		tmpl := np.Spec.Template
		if _, ok := tmpl.Labels["dept"]; ok || tmpl.Labels["team"] != "web" || tmpl.Labels[aksnodepool.LabelAgentPool] != "spot" {
			t.Errorf("%s labels %v", np.Name, tmpl.Labels)
		}
		keys := lo.Map(tmpl.Spec.Taints, func(t0 corev1Taint, _ int) string { return t0.Key })
		if strings.Join(keys, ",") != "kubernetes.azure.com/scalesetpriority,c" {
			t.Errorf("%s taints %v: the spot taint must stay, a must go", np.Name, keys)
		}
	}
	if p.MaxSurge() != "2" {
		t.Errorf("max surge %q", p.MaxSurge())
	}
	bad := aksnodepool.NewUpdateFlags()
	bad.Labels = map[string]string{"kubernetes.azure.com/agentpool": "x"}
	if err := p.Update(bad, 0); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("reserved label: %v", err)
	}
	if err := p.Update(aksnodepool.NewUpdateFlags(), 0); err == nil {
		t.Error("an update with nothing to do was accepted")
	}
}

func TestMarkUpgrade(t *testing.T) {
	p := build(t, flags("up", func(f *aksnodepool.AddFlags) { f.EnableClusterAutoscaler, f.MinCount, f.MaxCount = true, 1, 3 }))
	before := p.Fixed.Hash()
	p.MarkUpgrade("node-image 2026-11-30T23:00:00Z")
	if p.Fixed.Hash() == before {
		t.Error("the upgrade stamp does not change the NodePool hash, so nodes would not drift")
	}
	if p.Autoscale.Spec.Template.Annotations[aksnodepool.AnnotationUpgrade] == "" {
		t.Error("the autoscale NodePool was not stamped")
	}
}

type corev1Taint = corev1.Taint

// A pool read back from the cluster applies without the annotations and
// labels others maintain on its objects.
func TestObjectsOwnOnlyTheirFields(t *testing.T) {
	p := build(t, flags("own", nil))
	p.Fixed.Annotations = map[string]string{"karpenter.sh/nodepool-hash": "123"}
	p.Fixed.Labels["team"] = "x"
	p.Fixed.ResourceVersion = "42"
	objs, err := p.Objects()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if len(o.GetAnnotations()) != 0 || len(o.GetLabels()) != 1 || o.GetLabels()[aksnodepool.LabelPool] != "own" || o.GetResourceVersion() != "" {
			t.Errorf("%s %s applies metadata that is not the CLI's: %v", o.GetKind(), o.GetName(), o.Object["metadata"])
		}
		if _, ok := o.Object["status"]; ok {
			t.Errorf("%s %s applies a status", o.GetKind(), o.GetName())
		}
	}
}

// A pool read back through a typed client (no kind) applies with its kinds.
func TestFromObjectsSetsKinds(t *testing.T) {
	built := build(t, flags("rt", func(f *aksnodepool.AddFlags) { f.EnableClusterAutoscaler, f.MinCount, f.MaxCount = true, 1, 3 }))
	nps := []karpv1.NodePool{*built.Fixed.DeepCopy(), *built.Autoscale.DeepCopy()}
	nc := built.NodeClass.DeepCopy()
	for i := range nps {
		nps[i].TypeMeta = metav1.TypeMeta{}
	}
	nc.TypeMeta = metav1.TypeMeta{}
	p, err := aksnodepool.FromObjects("rt", nps, nc)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := p.Objects()
	if err != nil {
		t.Fatal(err)
	}
	kinds := lo.Map(objs, func(o *unstructured.Unstructured, _ int) string { return o.GetAPIVersion() + "/" + o.GetKind() })
	if strings.Join(kinds, ",") != "karpenter.azure.com/v1beta1/AKSNodeClass,karpenter.sh/v1/NodePool,karpenter.sh/v1/NodePool" {
		t.Errorf("kinds %v", kinds)
	}
	if !p.Autoscaled() || p.MaxCount() != 3 {
		t.Errorf("read back: autoscaled %t max %d", p.Autoscaled(), p.MaxCount())
	}
	if _, err := aksnodepool.FromObjects("other", nps, nc); err == nil {
		t.Error("a pool that does not exist was found")
	}
}
