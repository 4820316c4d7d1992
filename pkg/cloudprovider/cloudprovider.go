// Package cloudprovider implements karpenter core's CloudProvider for Azure
// by composing the providers: instance types (pkg/providers/instancetype), VMs
// (pkg/providers/instance) and node images (pkg/providers/imagefamily).
package cloudprovider

import (
	"context"
	stderrors "errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/awslabs/operatorpkg/status"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/events"
	"sigs.k8s.io/karpenter/pkg/scheduling"

	"github.com/azkarpenter/azkarpenter/pkg/apis"
	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/operator/options"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instance"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instancetype"
)

// Annotations the provider puts on NodeClaims to detect drift (with the
// hash annotations of v1beta1).
const (
	AnnotationNodeClassHash        = v1beta1.AnnotationNodeClassHash
	AnnotationNodeClassHashVersion = v1beta1.AnnotationNodeClassHashVersion
	AnnotationKubernetesVersion    = apis.Group + "/kubernetes-version"
)

// Drift reasons.
const (
	DriftNodeClass         cloudprovider.DriftReason = "NodeClassDrift"
	DriftImage             cloudprovider.DriftReason = "ImageDrift"
	DriftKubernetesVersion cloudprovider.DriftReason = "KubernetesVersionDrift"
)

// ConditionPreemptionScheduled is the node condition of a spot eviction notice.
const ConditionPreemptionScheduled corev1.NodeConditionType = "PreemptionScheduled"

var _ cloudprovider.CloudProvider = (*CloudProvider)(nil)

// CloudProvider is the Azure cloud provider.
type CloudProvider struct {
	kubeClient    client.Client
	instanceTypes instancetype.Provider
	instances     instance.Provider
	images        imagefamily.Provider
	cluster       cluster.Provider
	opts          Options
	// recorder publishes the events of launches that fail after Create
	// returned; nil publishes none.
	recorder events.Recorder
	// launches counts the launches being followed (WaitForLaunches).
	launches sync.WaitGroup
}

// Options tune the cloud provider.
type Options struct {
	// VMCreateWait is how long Create waits for a VM Azure accepted to
	// finish provisioning before returning and following it in the
	// background (see Create).
	VMCreateWait time.Duration
	// RepairPolicies are the node conditions after which core replaces a
	// node (--repair-policies); nil takes NAP's (options.DefaultRepairPolicies).
	RepairPolicies []cloudprovider.RepairPolicy
}

// ConditionNodeHealthy is the node condition AKS's node problem detection
// sets False on a node it finds broken.
const ConditionNodeHealthy = options.ConditionNodeHealthy

// New returns the cloud provider.
func New(kubeClient client.Client, instanceTypes instancetype.Provider, instances instance.Provider, images imagefamily.Provider, clusterInputs cluster.Provider, opts Options) *CloudProvider {
	return &CloudProvider{kubeClient: kubeClient, instanceTypes: instanceTypes, instances: instances, images: images, cluster: clusterInputs, opts: opts}
}

// Name implements cloudprovider.CloudProvider.
func (c *CloudProvider) Name() string { return "azure" }

// GetSupportedNodeClasses implements cloudprovider.CloudProvider.
func (c *CloudProvider) GetSupportedNodeClasses() []status.Object {
	return []status.Object{&v1beta1.AKSNodeClass{}}
}

// Create launches the VM of a NodeClaim. It returns once Azure has accepted
// the VM, with the NodeClaim's providerID, and follows the VM's creation in
// the background (see follow): core counts its cluster state unsynced, and
// provisions nothing more, while any NodeClaim lacks a providerID, so a
// Create that waited for the VM would hold every other pending pod for the
// minutes a VM takes to provision. --vm-create-wait makes it wait that
// long for the VM first.
func (c *CloudProvider) Create(ctx context.Context, nodeClaim *karpv1.NodeClaim) (*karpv1.NodeClaim, error) {
	nodeClass, err := c.nodeClass(ctx, nodeClaim.Spec.NodeClassRef)
	if err != nil {
		if errors.IsNotFound(err) {
			return nil, cloudprovider.NewInsufficientCapacityError(fmt.Errorf("resolving AKSNodeClass: %w", err))
		}
		return nil, fmt.Errorf("resolving AKSNodeClass: %w", err)
	}
	if ready := nodeClass.StatusConditions().Get(status.ConditionReady); ready.IsFalse() {
		return nil, cloudprovider.NewNodeClassNotReadyError(stderrors.New(ready.Message))
	}
	all, err := c.instanceTypes.List(ctx, nodeClass)
	if err != nil {
		return nil, cloudprovider.NewCreateError(fmt.Errorf("listing instance types: %w", err), "InstanceTypeResolutionFailed", "listing instance types failed")
	}
	// Availability (quota, unavailable offerings) is not filtered here: the
	// instance provider first adopts a VM an earlier attempt created (GET
	// before PUT), and after a restart that VM's own quota use, or a mark
	// left by its neighbours, may make its size look unavailable. Only a new
	// launch is limited to available offerings (instance.Provider.Create).
	reqs := scheduling.NewNodeSelectorRequirementsWithMinValues(nodeClaim.Spec.Requirements...)
	// Core names the NodeClaim's instance types (at most 60 of the region's
	// hundreds): a set lookup rules out the rest before the requirement
	// checks, which were a quarter of the controller's CPU in a burst.
	names := reqs.Get(corev1.LabelInstanceTypeStable)
	compatible := lo.Filter(all, func(it *cloudprovider.InstanceType, _ int) bool {
		return names.Has(it.Name) &&
			reqs.Compatible(it.Requirements, v1beta1.AllowUndefinedWellKnownAndRestrictedLabels) == nil &&
			len(it.Offerings.Compatible(reqs)) > 0 &&
			resourcesFit(it, nodeClaim.Spec.Resources.Requests)
	})
	if len(compatible) == 0 {
		return nil, cloudprovider.NewInsufficientCapacityError(fmt.Errorf("none of the requested instance types is compatible with the NodeClaim's requirements and resources"))
	}
	inst, launch, err := c.instances.BeginCreate(ctx, nodeClass, nodeClaim, compatible)
	if err != nil {
		return nil, err
	}
	if nodeClass.IsWindows() && launch != nil {
		c.windowsPreview(nodeClaim, nodeClass)
	}
	if launch != nil {
		if inst, err = c.awaitLaunch(ctx, nodeClaim, inst, launch); err != nil {
			return nil, err
		}
	}
	it, _ := lo.Find(compatible, func(it *cloudprovider.InstanceType) bool { return it.Name == inst.InstanceType })
	created := c.toNodeClaim(inst, it)
	kubernetesVersion := inst.KubernetesVersion
	if kubernetesVersion == "" {
		// An adopted VM whose launch could not be rebuilt: the version now.
		kubernetesVersion, _ = c.cluster.KubernetesVersion(ctx)
	}
	created.Annotations = lo.Assign(created.Annotations, map[string]string{
		AnnotationNodeClassHash:        nodeClass.Hash(),
		AnnotationNodeClassHashVersion: v1beta1.AKSNodeClassHashVersion,
		AnnotationKubernetesVersion:    kubernetesVersion,
		// The VM was created with the class's tags as they are now.
		v1beta1.AnnotationInPlaceUpdateHash: nodeClass.InPlaceUpdateHash(),
	})
	return created, nil
}

func resourcesFit(it *cloudprovider.InstanceType, requests corev1.ResourceList) bool {
	alloc := it.Allocatable()
	for name, q := range requests {
		if have, ok := alloc[name]; !ok || have.Cmp(q) < 0 {
			return false
		}
	}
	return true
}

// Delete starts deleting the NodeClaim's VM. It returns nil while deletion
// runs and a NodeClaimNotFoundError once the VM is gone, which is when core
// removes its finalizer.
func (c *CloudProvider) Delete(ctx context.Context, nodeClaim *karpv1.NodeClaim) error {
	name, err := vmName(nodeClaim.Status.ProviderID)
	if err != nil {
		return cloudprovider.NewNodeClaimNotFoundError(err)
	}
	if err := c.instances.Delete(ctx, name); err != nil {
		if instance.IsNotFound(err) {
			return cloudprovider.NewNodeClaimNotFoundError(err)
		}
		return fmt.Errorf("deleting VM %s: %w", name, err)
	}
	return nil
}

// Get returns the NodeClaim view of the VM with the providerID.
func (c *CloudProvider) Get(ctx context.Context, providerID string) (*karpv1.NodeClaim, error) {
	name, err := vmName(providerID)
	if err != nil {
		return nil, cloudprovider.NewNodeClaimNotFoundError(err)
	}
	inst, err := c.instances.Get(ctx, name)
	if err != nil {
		if instance.IsNotFound(err) {
			return nil, cloudprovider.NewNodeClaimNotFoundError(err)
		}
		return nil, fmt.Errorf("getting VM %s: %w", name, err)
	}
	if instance.SameProviderID(inst.ProviderID, providerID) {
		// The caller's spelling (a Node's, or a NodeClaim an earlier version
		// recorded with the resource group in another case) names this VM.
		inst.ProviderID = providerID
	}
	return c.toNodeClaim(inst, nil), nil
}

// List returns every VM this cluster owns. Core deletes registered
// NodeClaims whose VM is missing here, so an error must never be an empty list.
// Core compares providerIDs exactly, and a NodeClaim created by an earlier
// version records the resource group in the case it was configured in
// where the VM's providerID now has it lower-cased (as the Node has it): a
// VM whose providerID matches a NodeClaim's but for case is listed with the
// NodeClaim's, or core would garbage-collect the NodeClaim of a live VM.
func (c *CloudProvider) List(ctx context.Context) ([]*karpv1.NodeClaim, error) {
	insts, err := c.instances.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing VMs: %w", err)
	}
	claims := &karpv1.NodeClaimList{}
	if err := c.kubeClient.List(ctx, claims); err != nil {
		return nil, fmt.Errorf("listing NodeClaims: %w", err)
	}
	recorded := make(map[string]string, len(claims.Items))
	for i := range claims.Items {
		if id := claims.Items[i].Status.ProviderID; id != "" {
			recorded[strings.ToLower(id)] = id
		}
	}
	return lo.Map(insts, func(inst *instance.Instance, _ int) *karpv1.NodeClaim {
		if id, ok := recorded[strings.ToLower(inst.ProviderID)]; ok {
			inst.ProviderID = id
		}
		return c.toNodeClaim(inst, nil)
	}), nil
}

// GetInstanceTypes returns the instance types of the NodePool's AKSNodeClass
// as the NodePool is offered them: sizes another size dominates, and sizes far
// larger than the NodePool asks for, have no available offering
// (instancetype.ForNodePool).
func (c *CloudProvider) GetInstanceTypes(ctx context.Context, nodePool *karpv1.NodePool) ([]*cloudprovider.InstanceType, error) {
	nodeClass, err := c.nodeClass(ctx, nodePool.Spec.Template.Spec.NodeClassRef)
	if err != nil {
		if errors.IsNotFound(err) {
			log.FromContext(ctx).WithValues("NodePool", nodePool.Name).Error(err, "NodePool references a missing AKSNodeClass")
			return nil, nil
		}
		return nil, err
	}
	return c.instanceTypes.ForNodePool(ctx, nodeClass, nodePool)
}

// IsDrifted reports why a NodeClaim no longer matches its AKSNodeClass: its
// spec changed, its node image moved on, or the cluster's Kubernetes version
// changed.
func (c *CloudProvider) IsDrifted(ctx context.Context, nodeClaim *karpv1.NodeClaim) (cloudprovider.DriftReason, error) {
	nodeClass, err := c.nodeClass(ctx, nodeClaim.Spec.NodeClassRef)
	if err != nil {
		return "", client.IgnoreNotFound(err)
	}
	if reason := staticDrift(nodeClaim, nodeClass); reason != "" {
		return reason, nil
	}
	// The cluster's version now, from the same source launches read, so a
	// node launched after an upgrade is never judged by a stale status.
	if v, err := c.cluster.KubernetesVersion(ctx); err == nil && v != "" {
		if have := nodeClaim.Annotations[AnnotationKubernetesVersion]; have != "" && have != v {
			return DriftKubernetesVersion, nil
		}
	}
	if nodeClaim.Status.ImageID != "" {
		// Resolve answers from the image cache, which keeps the last known
		// version while Azure does not answer; an error (no version known)
		// is never drift: replacing nodes for want of an answer would roll
		// the fleet onto images nobody has seen.
		img, err := c.images.Resolve(ctx, nodeClass, nodeClaim.Labels[corev1.LabelArchStable], nodeClaim.Labels[v1beta1.LabelSKUHyperVGeneration])
		if err == nil && img.ID != nodeClaim.Status.ImageID {
			return DriftImage, nil
		}
	}
	return "", nil
}

func staticDrift(nodeClaim *karpv1.NodeClaim, nodeClass *v1beta1.AKSNodeClass) cloudprovider.DriftReason {
	hash, ok := nodeClaim.Annotations[AnnotationNodeClassHash]
	// A hash written by another hash version cannot be compared; replacing
	// every node on an upgrade of the controller would be worse.
	if !ok || nodeClaim.Annotations[AnnotationNodeClassHashVersion] != v1beta1.AKSNodeClassHashVersion {
		return ""
	}
	if hash != nodeClass.Hash() {
		return DriftNodeClass
	}
	return ""
}

// RepairPolicies are the node conditions after which core replaces a node
// (with the NodeRepair feature gate on): Options.RepairPolicies, or NAP's.
func (c *CloudProvider) RepairPolicies() []cloudprovider.RepairPolicy {
	if c.opts.RepairPolicies != nil {
		return c.opts.RepairPolicies
	}
	return options.DefaultRepairPolicies
}

func (c *CloudProvider) nodeClass(ctx context.Context, ref *karpv1.NodeClassReference) (*v1beta1.AKSNodeClass, error) {
	if ref == nil {
		return nil, errors.NewNotFound(v1beta1.SchemeGroupVersion.WithResource("aksnodeclasses").GroupResource(), "")
	}
	nc := &v1beta1.AKSNodeClass{}
	if err := c.kubeClient.Get(ctx, types.NamespacedName{Name: ref.Name}, nc); err != nil {
		return nil, err
	}
	if !nc.DeletionTimestamp.IsZero() {
		return nil, errors.NewNotFound(v1beta1.SchemeGroupVersion.WithResource("aksnodeclasses").GroupResource(), ref.Name)
	}
	return nc, nil
}

func vmName(providerID string) (string, error) {
	_, _, name, err := instance.ParseProviderID(providerID)
	return name, err
}

// toNodeClaim is the NodeClaim view of a VM. With the instance type (on
// Create) it carries every single-valued label of the type and the
// capacity; from List and Get, what the VM's tags and properties tell.
func (c *CloudProvider) toNodeClaim(inst *instance.Instance, it *cloudprovider.InstanceType) *karpv1.NodeClaim {
	nc := &karpv1.NodeClaim{}
	labels := map[string]string{}
	if it != nil {
		for key, req := range it.Requirements {
			if req.Len() == 1 {
				labels[key] = req.Values()[0]
			}
		}
		nc.Status.Capacity = it.Capacity
		nc.Status.Allocatable = it.Allocatable()
	}
	labels = lo.Assign(labels, inst.Labels, map[string]string{
		corev1.LabelInstanceTypeStable: inst.InstanceType,
		corev1.LabelTopologyZone:       inst.Zone,
		karpv1.CapacityTypeLabelKey:    inst.CapacityType,
		// What the VM has, not what its offering allowed.
		v1beta1.LabelSKUStorageUltraSSD: strconv.FormatBool(inst.UltraSSD),
	})
	if inst.NodePool != "" {
		labels[karpv1.NodePoolLabelKey] = inst.NodePool
	}
	nc.Labels = lo.OmitByValues(labels, []string{""})
	if inst.NodeClaim != "" {
		nc.Name = inst.NodeClaim
	}
	if !inst.CreationTime.IsZero() {
		nc.CreationTimestamp = metav1.NewTime(inst.CreationTime)
	}
	if inst.ProvisioningState == "Deleting" {
		now := metav1.Now()
		nc.DeletionTimestamp = &now
	}
	nc.Status.ProviderID = inst.ProviderID
	nc.Status.ImageID = inst.ImageID
	return nc
}
