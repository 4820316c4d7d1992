package framework

import (
	"context"
	"fmt"

	"github.com/samber/lo"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
)

// PauseImage is the image of e2e pods; kwok runs none of them.
const PauseImage = "registry.k8s.io/pause:3.10"

// NodeClass returns an AKSNodeClass with the defaults AKS node
// auto-provisioning users write (none: the image family defaults).
func NodeClass(name string) *v1beta1.AKSNodeClass {
	return &v1beta1.AKSNodeClass{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// NodePool returns a NodePool on the NodeClass, consolidating when empty or
// underutilized after consolidateAfter, with the requirements given.
func NodePool(name, nodeClass string, reqs ...karpv1.NodeSelectorRequirementWithMinValues) *karpv1.NodePool {
	return &karpv1.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: karpv1.NodePoolSpec{
			Template: karpv1.NodeClaimTemplate{
				ObjectMeta: karpv1.ObjectMeta{Labels: map[string]string{"e2e/nodepool": name}},
				Spec: karpv1.NodeClaimTemplateSpec{
					NodeClassRef: &karpv1.NodeClassReference{Group: "karpenter.azure.com", Kind: "AKSNodeClass", Name: nodeClass},
					// The API requires the list, even empty.
					Requirements: append([]karpv1.NodeSelectorRequirementWithMinValues{}, reqs...),
				},
			},
			Disruption: karpv1.Disruption{
				ConsolidationPolicy: karpv1.ConsolidationPolicyWhenEmptyOrUnderutilized,
				ConsolidateAfter:    karpv1.MustParseNillableDuration("30s"),
			},
		},
	}
}

// Requirement is a NodePool requirement with the In operator.
func Requirement(key string, values ...string) karpv1.NodeSelectorRequirementWithMinValues {
	return karpv1.NodeSelectorRequirementWithMinValues{Key: key, Operator: corev1.NodeSelectorOpIn, Values: values}
}

// Deployment returns a Deployment of pause pods requesting cpu and memory,
// pinned to a NodePool through the e2e/nodepool label.
func Deployment(namespace, name, nodePool string, replicas int32, cpu, memory string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: lo.ToPtr(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector:                  map[string]string{"e2e/nodepool": nodePool},
					TerminationGracePeriodSeconds: lo.ToPtr[int64](0),
					Containers: []corev1.Container{{
						Name: "app", Image: PauseImage,
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory),
						}},
					}},
				},
			},
		},
	}
}

// AntiAffineDeployment is a Deployment whose pods each need a node of their
// own (required anti-affinity on the hostname).
func AntiAffineDeployment(namespace, name, nodePool string, replicas int32, cpu, memory string) *appsv1.Deployment {
	d := Deployment(namespace, name, nodePool, replicas, cpu, memory)
	d.Spec.Template.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
		TopologyKey: corev1.LabelHostname, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
	}}}}
	return d
}

// PodsRunning reports whether every pod in the namespace is Running, and
// how many there are.
func PodsRunning(ctx context.Context, c client.Client, namespace string) (running, total int, err error) {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(namespace)); err != nil {
		return 0, 0, err
	}
	for _, p := range pods.Items {
		if !p.DeletionTimestamp.IsZero() {
			continue
		}
		total++
		if p.Status.Phase == corev1.PodRunning {
			running++
		}
	}
	return running, total, nil
}

// NodesOf counts the Nodes and NodeClaims of a NodePool.
func NodesOf(ctx context.Context, c client.Client, nodePool string) (nodes, claims int, err error) {
	var nl corev1.NodeList
	if err := c.List(ctx, &nl, client.MatchingLabels{karpv1.NodePoolLabelKey: nodePool}); err != nil {
		return 0, 0, err
	}
	var cl karpv1.NodeClaimList
	if err := c.List(ctx, &cl, client.MatchingLabels{karpv1.NodePoolLabelKey: nodePool}); err != nil {
		return 0, 0, err
	}
	return len(nl.Items), len(cl.Items), nil
}

// Namespace creates a namespace.
func Namespace(ctx context.Context, c client.Client, name string) error {
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}
