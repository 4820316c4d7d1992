package aksnodepool

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
)

const (
	// FieldManager is the server-side apply field manager of the CLI.
	FieldManager = "azkarpenter-nodepool"
	// LabelPool marks the NodePools and the AKSNodeClass of an AKS-style pool
	// with the pool's name (object metadata, not node labels).
	LabelPool = "karpenter.azure.com/aks-nodepool"
	// LabelAgentPool is the node label naming a node's pool, on the nodes of
	// both of its NodePools. AKS's own label, agentpool (and
	// kubernetes.azure.com/agentpool), is reserved to AKS by the CRDs, as
	// AKS node auto-provisioning reserves it.
	LabelAgentPool = "azkarpenter.io/agentpool"
	// AnnotationUpgrade, on the NodePools' template, records the last
	// `nodepool upgrade`; changing it drifts every node of the pool.
	AnnotationUpgrade = "karpenter.azure.com/aks-nodepool-upgrade"
	// AutoscaleSuffix names the dynamic NodePool of an autoscaled pool.
	AutoscaleSuffix = "-autoscale"

	// DefaultVMSize is AKS's classic default node size.
	DefaultVMSize = "Standard_DS2_v2"
	// DefaultNodeCount is AKS's default --node-count.
	DefaultNodeCount = 3
	// MaxVMSizes is how many sizes an AKS Virtual Machines node pool takes.
	MaxVMSizes = 5
	// MaxNodes is AKS's most nodes per pool.
	MaxNodes = 1000
	// AutoscaleConsolidateAfter matches the cluster autoscaler's default
	// scale-down-unneeded-time.
	AutoscaleConsolidateAfter = "10m"

	// TaintCriticalAddonsOnly keeps user workloads off System pools.
	TaintCriticalAddonsOnly = "CriticalAddonsOnly"
)

// Pool is an AKS-style node pool as karpenter objects.
type Pool struct {
	NodeClass *v1beta1.AKSNodeClass
	// Fixed is the static NodePool named after the pool: the fixed count,
	// or the floor (min-count) of an autoscaled pool.
	Fixed *karpv1.NodePool
	// Autoscale is the dynamic NodePool of an autoscaled pool, nil otherwise.
	Autoscale *karpv1.NodePool
}

// Name is the pool's name.
func (p *Pool) Name() string { return p.Fixed.Name }

// Autoscaled reports whether the cluster autoscaler is on for the pool.
func (p *Pool) Autoscaled() bool { return p.Autoscale != nil }

// MinCount and MaxCount are the autoscaler's bounds (-1 without autoscaler).
func (p *Pool) MinCount() int64 {
	if !p.Autoscaled() {
		return -1
	}
	return lo.FromPtr(p.Fixed.Spec.Replicas)
}

func (p *Pool) MaxCount() int64 {
	if !p.Autoscaled() {
		return -1
	}
	l := p.Autoscale.Spec.Limits[corev1.ResourceName("nodes")]
	return p.MinCount() + l.Value()
}

// NodePools are the pool's NodePools.
func (p *Pool) NodePools() []*karpv1.NodePool {
	if p.Autoscale != nil {
		return []*karpv1.NodePool{p.Fixed, p.Autoscale}
	}
	return []*karpv1.NodePool{p.Fixed}
}

var (
	linuxName   = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)
	windowsName = regexp.MustCompile(`^[a-z][a-z0-9]{0,5}$`)
)

// Build maps `az aks nodepool add` flags onto a Pool, checked against the
// region's catalog (nil skips the checks that need it). Every problem found
// is returned at once.
func Build(f AddFlags, cat Catalog) (*Pool, error) {
	b := &poolBuilder{f: f, cat: cat}
	b.checkNameAndOS()
	b.chooseSizes()
	b.checkCount()
	b.chooseMode()
	b.choosePriority()
	b.chooseOSDisk()
	b.collectLabelsTaintsTags()
	b.chooseZones()
	b.parseMaxSurge()
	if len(b.errs) > 0 {
		return nil, errors.Join(b.errs...)
	}
	return b.pool(), nil
}

// poolBuilder holds what Build derives from the flags, step by step, and
// every problem a step finds: all of them are reported at once.
type poolBuilder struct {
	f   AddFlags
	cat Catalog

	errs        []error
	windows     bool
	imageFamily string
	sizes       []string
	skus        []*sku.SKU
	mode        string
	spot        bool
	osDiskType  *v1beta1.OSDiskType
	taints      []corev1.Taint
	zones       []string
	surge       string
}

func (b *poolBuilder) fail(format string, args ...any) {
	b.errs = append(b.errs, fmt.Errorf(format, args...))
}

// checkNameAndOS checks the OS type and the pool name AKS allows for it,
// and picks the image family.
func (b *poolBuilder) checkNameAndOS() {
	f := b.f
	b.windows = strings.EqualFold(f.OSType, "Windows")
	switch {
	case f.OSType != "" && !b.windows && !strings.EqualFold(f.OSType, "Linux"):
		b.fail("--os-type %q: use Linux or Windows", f.OSType)
	case b.windows && !windowsName.MatchString(f.Name):
		b.fail("--name %q: Windows node pool names must start with a lowercase letter and have at most 6 lowercase letters and digits (AKS builds Windows computer names from it)", f.Name)
	case !b.windows && !linuxName.MatchString(f.Name):
		b.fail("--name %q: node pool names must start with a lowercase letter and have at most 12 lowercase letters and digits", f.Name)
	}
	family, err := imageFamily(f.OSSKU, b.windows)
	if err != nil {
		b.errs = append(b.errs, err)
	}
	b.imageFamily = family
}

// chooseSizes reads the VM sizes of a scale-set or a Virtual Machines pool
// and checks them against the region's catalog.
func (b *poolBuilder) chooseSizes() {
	f := b.f
	switch strings.ToLower(f.VMSetType) {
	case "", "virtualmachinescalesets":
		if len(f.VMSizes) > 0 {
			b.fail("--vm-sizes needs --vm-set-type VirtualMachines")
		}
		b.sizes = []string{lo.Ternary(f.NodeVMSize != "", f.NodeVMSize, DefaultVMSize)}
	case "virtualmachines":
		b.sizes = f.VMSizes
		if f.NodeVMSize != "" {
			if len(f.VMSizes) > 0 {
				b.fail("--node-vm-size and --vm-sizes: give one of them")
			}
			b.sizes = []string{f.NodeVMSize}
		}
		if len(b.sizes) == 0 {
			b.sizes = []string{DefaultVMSize}
		}
		if len(b.sizes) > MaxVMSizes {
			b.fail("--vm-sizes: %d sizes; a Virtual Machines node pool takes at most %d", len(b.sizes), MaxVMSizes)
		}
	default:
		b.fail("--vm-set-type %q: use VirtualMachineScaleSets or VirtualMachines", f.VMSetType)
	}
	flagName := lo.Ternary(len(f.VMSizes) > 0, "--vm-sizes", "--node-vm-size")
	for _, s := range lo.Uniq(b.sizes) {
		if err := checkSize(b.cat, flagName, s); err != nil {
			b.errs = append(b.errs, err)
			continue
		}
		if b.cat != nil {
			k, _ := b.cat.Size(s)
			b.skus = append(b.skus, k)
		}
	}
	if len(b.skus) > 1 {
		families := lo.Uniq(lo.Map(b.skus, func(s *sku.SKU, _ int) string { return s.Family }))
		if len(families) > 1 {
			b.fail("--vm-sizes: a Virtual Machines node pool takes sizes of one family; these are of %s", strings.Join(lo.Map(b.skus, func(s *sku.SKU, _ int) string { return s.Name + " (" + s.Family + ")" }), ", "))
		}
	}
}

// checkCount checks the node count, or the autoscaler's bounds.
func (b *poolBuilder) checkCount() {
	f := b.f
	if f.EnableClusterAutoscaler {
		switch {
		case f.MinCount < 0 || f.MaxCount < 0:
			b.fail("--enable-cluster-autoscaler needs --min-count and --max-count")
		default:
			b.errs = append(b.errs, checkBounds(f.MinCount, f.MaxCount)...)
			if f.NodeCount >= 0 && (f.NodeCount < f.MinCount || f.NodeCount > f.MaxCount) {
				b.fail("--node-count %d must be between --min-count %d and --max-count %d", f.NodeCount, f.MinCount, f.MaxCount)
			}
		}
		return
	}
	if f.MinCount >= 0 || f.MaxCount >= 0 {
		b.fail("--min-count and --max-count need --enable-cluster-autoscaler")
	}
	if f.NodeCount > MaxNodes {
		b.fail("--node-count %d: a node pool has at most %d nodes", f.NodeCount, MaxNodes)
	}
}

// chooseMode reads System or User; System pools run Linux.
func (b *poolBuilder) chooseMode() {
	b.mode = v1beta1.ModeUser
	switch strings.ToLower(b.f.Mode) {
	case "", "user":
	case "system":
		b.mode = v1beta1.ModeSystem
		if b.windows {
			b.fail("--mode System: System node pools must run Linux")
		}
	default:
		b.fail("--mode %q: use System or User", b.f.Mode)
	}
}

// choosePriority reads Regular or Spot, with Spot's eviction policy and
// price cap.
func (b *poolBuilder) choosePriority() {
	f := b.f
	switch strings.ToLower(f.Priority) {
	case "", "regular":
		if f.EvictionPolicy != "" || f.SpotMaxPrice != "" {
			b.fail("--eviction-policy and --spot-max-price need --priority Spot")
		}
	case "spot":
		b.spot = true
		if b.mode == v1beta1.ModeSystem {
			b.fail("--priority Spot: System node pools cannot use Spot VMs")
		}
		switch strings.ToLower(f.EvictionPolicy) {
		case "", "delete":
		case "deallocate":
			b.fail("--eviction-policy Deallocate cannot be honoured: karpenter replaces an evicted spot VM with a new node and deletes the evicted VM; a deallocated VM would keep its disks and quota and never rejoin as the same node. Use --eviction-policy Delete")
		default:
			b.fail("--eviction-policy %q: use Delete", f.EvictionPolicy)
		}
		if f.SpotMaxPrice != "" && !spotPrice.MatchString(f.SpotMaxPrice) {
			b.fail("--spot-max-price %q: use -1 (up to the on-demand price) or a price in US dollars with up to 5 decimals", f.SpotMaxPrice)
		} else if f.SpotMaxPrice != "" && f.SpotMaxPrice != "-1" && strings.Trim(f.SpotMaxPrice, "0.") == "" {
			b.fail("--spot-max-price %q: must be -1 or greater than 0", f.SpotMaxPrice)
		}
	default:
		b.fail("--priority %q: use Regular or Spot", f.Priority)
	}
}

// chooseOSDisk reads the OS disk's type and size; an ephemeral disk must
// fit every size of the pool.
func (b *poolBuilder) chooseOSDisk() {
	f := b.f
	switch strings.ToLower(f.OSDiskType) {
	case "":
	case "ephemeral":
		b.osDiskType = lo.ToPtr(v1beta1.OSDiskTypeEphemeral)
	case "managed":
		b.osDiskType = lo.ToPtr(v1beta1.OSDiskTypeManaged)
	default:
		b.fail("--node-osdisk-type %q: use Ephemeral or Managed", f.OSDiskType)
	}
	if f.OSDiskSizeGB != 0 && (f.OSDiskSizeGB < 30 || f.OSDiskSizeGB > 2048) {
		b.fail("--node-osdisk-size %d: must be between 30 and 2048 GB", f.OSDiskSizeGB)
	}
	if b.osDiskType != nil && *b.osDiskType == v1beta1.OSDiskTypeEphemeral {
		size := lo.Ternary(f.OSDiskSizeGB != 0, f.OSDiskSizeGB, (&v1beta1.AKSNodeClass{}).GetOSDiskSizeGB())
		for _, s := range b.skus {
			if err := ephemeralFits(s, size); err != nil {
				b.errs = append(b.errs, err)
			}
		}
	}
}

// collectLabelsTaintsTags checks the labels and tags, and adds to the
// pool's taints those AKS puts on System and Spot pools.
func (b *poolBuilder) collectLabelsTaintsTags() {
	b.errs = append(b.errs, checkLabels(b.f.Labels)...)
	b.errs = append(b.errs, checkTags(b.f.Tags)...)
	taints, errs := parseTaints(b.f.Taints)
	b.errs = append(b.errs, errs...)
	if b.mode == v1beta1.ModeSystem {
		taints = addTaint(taints, corev1.Taint{Key: TaintCriticalAddonsOnly, Value: "true", Effect: corev1.TaintEffectNoSchedule})
	}
	if b.spot {
		// AKS taints every spot pool so only workloads that tolerate
		// eviction land on it.
		taints = addTaint(taints, spotTaint)
	}
	b.taints = taints
}

// chooseZones names the zones in the region's form and checks that every
// size is offered in them.
func (b *poolBuilder) chooseZones() {
	for _, z := range b.f.Zones {
		if z != "1" && z != "2" && z != "3" {
			b.fail("--zones %q: use 1, 2 and/or 3", z)
			continue
		}
		if b.cat == nil {
			b.fail("--zones needs the region (--region) to name the zones")
			break
		}
		b.zones = append(b.zones, v1beta1.ZoneLabel(b.cat.Region(), z))
	}
	if len(b.zones) == 0 {
		return
	}
	for _, s := range b.skus {
		for _, z := range b.f.Zones {
			if !slices.Contains(s.Zones, z) {
				b.fail("--zones %s: %s is not offered in zone %s of %s (zones: %s)", z, s.Name, z, b.cat.Region(), strings.Join(s.Zones, ","))
			}
		}
	}
}

func (b *poolBuilder) parseMaxSurge() {
	if b.f.MaxSurge == "" {
		return
	}
	surge, err := ParseMaxSurge(b.f.MaxSurge)
	if err != nil {
		b.errs = append(b.errs, err)
	}
	b.surge = surge
}

// pool renders the checked choices as the AKSNodeClass and NodePools.
func (b *poolBuilder) pool() *Pool {
	f := b.f
	fixed := b.fixedNodePool()
	setMaxSurge(fixed, b.surge)
	pool := &Pool{NodeClass: b.nodeClass(), Fixed: fixed}
	if f.EnableClusterAutoscaler {
		fixed.Spec.Replicas = lo.ToPtr(f.MinCount)
		pool.Autoscale = newAutoscale(fixed, f.MaxCount-f.MinCount)
	} else {
		fixed.Spec.Replicas = lo.ToPtr(lo.Ternary(f.NodeCount >= 0, f.NodeCount, int64(DefaultNodeCount)))
	}
	return pool
}

func (b *poolBuilder) nodeClass() *v1beta1.AKSNodeClass {
	f := b.f
	nc := &v1beta1.AKSNodeClass{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1beta1.SchemeGroupVersion.String(), Kind: "AKSNodeClass"},
		ObjectMeta: metav1.ObjectMeta{Name: f.Name, Labels: map[string]string{LabelPool: f.Name}},
		Spec: v1beta1.AKSNodeClassSpec{
			ImageFamily: lo.ToPtr(b.imageFamily),
			OSDiskType:  b.osDiskType,
			Tags:        f.Tags,
		},
	}
	if f.OSDiskSizeGB != 0 {
		nc.Spec.OSDiskSizeGB = lo.ToPtr(f.OSDiskSizeGB)
	}
	if b.spot {
		nc.Spec.Spot = &v1beta1.SpotConfiguration{MaxPrice: lo.ToPtr(lo.Ternary(f.SpotMaxPrice != "", f.SpotMaxPrice, "-1"))}
	}
	if f.EnableFIPSImage {
		nc.Spec.FIPSMode = lo.ToPtr(v1beta1.FIPSModeFIPS)
	}
	if f.EnableEncryptionAtHost {
		nc.Spec.Security = &v1beta1.Security{EncryptionAtHost: lo.ToPtr(true)}
	}
	return nc
}

// fixedNodePool is the static NodePool of the pool's fixed count (or the
// autoscaler's minimum).
func (b *poolBuilder) fixedNodePool() *karpv1.NodePool {
	f := b.f
	labels := map[string]string{LabelAgentPool: f.Name, v1beta1.AKSLabelMode: b.mode}
	for k, v := range f.Labels {
		labels[k] = v
	}
	reqs := []karpv1.NodeSelectorRequirementWithMinValues{
		{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: lo.Uniq(b.sizes)},
		{Key: karpv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{lo.Ternary(b.spot, karpv1.CapacityTypeSpot, karpv1.CapacityTypeOnDemand)}},
		{Key: corev1.LabelOSStable, Operator: corev1.NodeSelectorOpIn, Values: []string{lo.Ternary(b.windows, string(corev1.Windows), string(corev1.Linux))}},
	}
	if len(b.zones) > 0 {
		reqs = append(reqs, karpv1.NodeSelectorRequirementWithMinValues{Key: corev1.LabelTopologyZone, Operator: corev1.NodeSelectorOpIn, Values: b.zones})
	}
	return &karpv1.NodePool{
		TypeMeta:   metav1.TypeMeta{APIVersion: "karpenter.sh/v1", Kind: "NodePool"},
		ObjectMeta: metav1.ObjectMeta{Name: f.Name, Labels: map[string]string{LabelPool: f.Name}},
		Spec: karpv1.NodePoolSpec{
			Template: karpv1.NodeClaimTemplate{
				ObjectMeta: karpv1.ObjectMeta{Labels: labels},
				Spec: karpv1.NodeClaimTemplateSpec{
					NodeClassRef: &karpv1.NodeClassReference{Group: v1beta1.SchemeGroupVersion.Group, Kind: "AKSNodeClass", Name: f.Name},
					Requirements: reqs,
					Taints:       b.taints,
					// AKS nodes live until they are upgraded or scaled away.
					ExpireAfter: karpv1.MustParseNillableDuration("Never"),
				},
			},
			// Ignored by core for static NodePools; set so the object reads
			// as what it is.
			Disruption: karpv1.Disruption{ConsolidateAfter: karpv1.MustParseNillableDuration("Never")},
		},
	}
}

var spotPrice = regexp.MustCompile(`^(-1|[0-9]+(\.[0-9]{1,5})?)$`)

var spotTaint = corev1.Taint{Key: v1beta1.AKSLabelScaleSetPriority, Value: v1beta1.ScaleSetPrioritySpot, Effect: corev1.TaintEffectNoSchedule}

func checkBounds(minCount, maxCount int64) []error {
	var errs []error
	if minCount < 0 || maxCount < 1 {
		errs = append(errs, fmt.Errorf("--min-count %d --max-count %d: min-count must be at least 0 and max-count at least 1", minCount, maxCount))
	}
	if minCount > maxCount {
		errs = append(errs, fmt.Errorf("--min-count %d is greater than --max-count %d", minCount, maxCount))
	}
	if maxCount > MaxNodes {
		errs = append(errs, fmt.Errorf("--max-count %d: a node pool has at most %d nodes", maxCount, MaxNodes))
	}
	return errs
}

// newAutoscale is the dynamic NodePool of an autoscaled pool: the fixed
// pool's template, bounded by limits.nodes.
func newAutoscale(fixed *karpv1.NodePool, burst int64) *karpv1.NodePool {
	np := fixed.DeepCopy()
	np.Name = fixed.Name + AutoscaleSuffix
	np.ResourceVersion, np.UID, np.ManagedFields, np.CreationTimestamp, np.Generation = "", "", nil, metav1.Time{}, 0
	np.Status = karpv1.NodePoolStatus{}
	np.Spec.Replicas = nil
	np.Spec.Disruption.ConsolidationPolicy = karpv1.ConsolidationPolicyWhenEmptyOrUnderutilized
	np.Spec.Disruption.ConsolidateAfter = karpv1.MustParseNillableDuration(AutoscaleConsolidateAfter)
	setBurst(np, burst)
	return np
}

func setBurst(np *karpv1.NodePool, burst int64) {
	np.Spec.Limits = karpv1.Limits{corev1.ResourceName("nodes"): *resourceQuantity(burst)}
}

// setMaxSurge maps --max-surge onto the NodePool's disruption budget: at most
// that many of the pool's nodes are being replaced at once.
func setMaxSurge(np *karpv1.NodePool, surge string) {
	if surge == "" {
		np.Spec.Disruption.Budgets = nil
		return
	}
	np.Spec.Disruption.Budgets = []karpv1.Budget{{Nodes: surge}}
}

func ephemeralFits(s *sku.SKU, sizeGB int32) error {
	caps := sku.EphemeralCapacities(s)
	if len(caps) == 0 {
		return fmt.Errorf("--node-osdisk-type Ephemeral: %s has no cache, resource or NVMe disk to hold an ephemeral OS disk; use --node-osdisk-type Managed or a size with a local disk", s.Name)
	}
	for _, c := range caps {
		if int64(sizeGB) <= c.GiB {
			return nil
		}
	}
	return fmt.Errorf("--node-osdisk-type Ephemeral --node-osdisk-size %d: %s cannot hold it: %s; lower --node-osdisk-size or pick a larger size",
		sizeGB, s.Name, strings.Join(lo.Map(caps, func(c sku.EphemeralCapacity, _ int) string {
			return fmt.Sprintf("%s %d GB", placementName(c.Placement), c.GiB)
		}), ", "))
}

func placementName(p string) string {
	switch p {
	case "CacheDisk":
		return "cache disk"
	case "ResourceDisk":
		return "resource (temp) disk"
	case "NvmeDisk":
		return "NVMe disk"
	}
	return p
}

func parseTaints(specs []string) ([]corev1.Taint, []error) {
	var out []corev1.Taint
	var errs []error
	for _, s := range specs {
		t, err := parseTaint(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if t.Key == v1beta1.AKSLabelScaleSetPriority || strings.HasPrefix(t.Key, "karpenter.sh/") || strings.HasPrefix(t.Key, "node.kubernetes.io/") {
			errs = append(errs, fmt.Errorf("--node-taints %s: the key is reserved", s))
			continue
		}
		out = addTaint(out, t)
	}
	return out, errs
}

func addTaint(ts []corev1.Taint, t corev1.Taint) []corev1.Taint {
	for _, x := range ts {
		if x.MatchTaint(&t) {
			return ts
		}
	}
	return append(ts, t)
}

// imageFamily maps --os-type and --os-sku onto an AKSNodeClass image family.
func imageFamily(osSKU string, windows bool) (string, error) {
	if osSKU == "" {
		return lo.Ternary(windows, v1beta1.ImageFamilyWindows2022, v1beta1.ImageFamilyUbuntu), nil
	}
	var family string
	switch strings.ToLower(osSKU) {
	case "ubuntu":
		family = v1beta1.ImageFamilyUbuntu
	case "ubuntu2204":
		family = v1beta1.ImageFamilyUbuntu2204
	case "ubuntu2404":
		family = v1beta1.ImageFamilyUbuntu2404
	case "azurelinux", "azurelinux3":
		family = v1beta1.ImageFamilyAzureLinux
	case "windows2022":
		family = v1beta1.ImageFamilyWindows2022
	case "windows2025":
		family = v1beta1.ImageFamilyWindows2025
	case "cblmariner", "mariner":
		return "", fmt.Errorf("--os-sku %s: CBL-Mariner (Azure Linux 2) reached end of life; use --os-sku AzureLinux", osSKU)
	case "windows2019":
		return "", fmt.Errorf("--os-sku Windows2019: Windows Server 2019 is not supported by AKS from Kubernetes 1.33; use Windows2022 or Windows2025")
	default:
		return "", fmt.Errorf("--os-sku %q: use Ubuntu, Ubuntu2204, Ubuntu2404, AzureLinux, Windows2022 or Windows2025", osSKU)
	}
	if strings.HasPrefix(family, "Windows") != windows {
		return "", fmt.Errorf("--os-sku %s does not match --os-type %s", osSKU, lo.Ternary(windows, "Windows", "Linux"))
	}
	return family, nil
}
