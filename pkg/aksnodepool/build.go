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
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	windows := strings.EqualFold(f.OSType, "Windows")
	switch {
	case f.OSType != "" && !windows && !strings.EqualFold(f.OSType, "Linux"):
		add("--os-type %q: use Linux or Windows", f.OSType)
	case windows && !windowsName.MatchString(f.Name):
		add("--name %q: Windows node pool names must start with a lowercase letter and have at most 6 lowercase letters and digits (AKS builds Windows computer names from it)", f.Name)
	case !windows && !linuxName.MatchString(f.Name):
		add("--name %q: node pool names must start with a lowercase letter and have at most 12 lowercase letters and digits", f.Name)
	}

	imageFamily, err := imageFamily(f.OSSKU, windows)
	if err != nil {
		errs = append(errs, err)
	}

	// Sizes.
	var sizes []string
	switch strings.ToLower(f.VMSetType) {
	case "", "virtualmachinescalesets":
		if len(f.VMSizes) > 0 {
			add("--vm-sizes needs --vm-set-type VirtualMachines")
		}
		sizes = []string{lo.Ternary(f.NodeVMSize != "", f.NodeVMSize, DefaultVMSize)}
	case "virtualmachines":
		sizes = f.VMSizes
		if f.NodeVMSize != "" {
			if len(f.VMSizes) > 0 {
				add("--node-vm-size and --vm-sizes: give one of them")
			}
			sizes = []string{f.NodeVMSize}
		}
		if len(sizes) == 0 {
			sizes = []string{DefaultVMSize}
		}
		if len(sizes) > MaxVMSizes {
			add("--vm-sizes: %d sizes; a Virtual Machines node pool takes at most %d", len(sizes), MaxVMSizes)
		}
	default:
		add("--vm-set-type %q: use VirtualMachineScaleSets or VirtualMachines", f.VMSetType)
	}
	flagName := lo.Ternary(len(f.VMSizes) > 0, "--vm-sizes", "--node-vm-size")
	var skus []*sku.SKU
	for _, s := range lo.Uniq(sizes) {
		if err := checkSize(cat, flagName, s); err != nil {
			errs = append(errs, err)
			continue
		}
		if cat != nil {
			k, _ := cat.Size(s)
			skus = append(skus, k)
		}
	}
	if len(skus) > 1 {
		families := lo.Uniq(lo.Map(skus, func(s *sku.SKU, _ int) string { return s.Family }))
		if len(families) > 1 {
			add("--vm-sizes: a Virtual Machines node pool takes sizes of one family; these are of %s", strings.Join(lo.Map(skus, func(s *sku.SKU, _ int) string { return s.Name + " (" + s.Family + ")" }), ", "))
		}
	}

	// Count and autoscaler.
	if f.EnableClusterAutoscaler {
		switch {
		case f.MinCount < 0 || f.MaxCount < 0:
			add("--enable-cluster-autoscaler needs --min-count and --max-count")
		default:
			errs = append(errs, checkBounds(f.MinCount, f.MaxCount)...)
			if f.NodeCount >= 0 && (f.NodeCount < f.MinCount || f.NodeCount > f.MaxCount) {
				add("--node-count %d must be between --min-count %d and --max-count %d", f.NodeCount, f.MinCount, f.MaxCount)
			}
		}
	} else {
		if f.MinCount >= 0 || f.MaxCount >= 0 {
			add("--min-count and --max-count need --enable-cluster-autoscaler")
		}
		if f.NodeCount > MaxNodes {
			add("--node-count %d: a node pool has at most %d nodes", f.NodeCount, MaxNodes)
		}
	}

	// Mode.
	mode := v1beta1.ModeUser
	switch strings.ToLower(f.Mode) {
	case "", "user":
	case "system":
		mode = v1beta1.ModeSystem
		if windows {
			add("--mode System: System node pools must run Linux")
		}
	default:
		add("--mode %q: use System or User", f.Mode)
	}

	// Priority.
	spot := false
	switch strings.ToLower(f.Priority) {
	case "", "regular":
		if f.EvictionPolicy != "" || f.SpotMaxPrice != "" {
			add("--eviction-policy and --spot-max-price need --priority Spot")
		}
	case "spot":
		spot = true
		if mode == v1beta1.ModeSystem {
			add("--priority Spot: System node pools cannot use Spot VMs")
		}
		switch strings.ToLower(f.EvictionPolicy) {
		case "", "delete":
		case "deallocate":
			add("--eviction-policy Deallocate cannot be honoured: karpenter replaces an evicted spot VM with a new node and deletes the evicted VM; a deallocated VM would keep its disks and quota and never rejoin as the same node. Use --eviction-policy Delete")
		default:
			add("--eviction-policy %q: use Delete", f.EvictionPolicy)
		}
		if f.SpotMaxPrice != "" && !spotPrice.MatchString(f.SpotMaxPrice) {
			add("--spot-max-price %q: use -1 (up to the on-demand price) or a price in US dollars with up to 5 decimals", f.SpotMaxPrice)
		} else if f.SpotMaxPrice != "" && f.SpotMaxPrice != "-1" && strings.Trim(f.SpotMaxPrice, "0.") == "" {
			add("--spot-max-price %q: must be -1 or greater than 0", f.SpotMaxPrice)
		}
	default:
		add("--priority %q: use Regular or Spot", f.Priority)
	}

	// OS disk.
	var osDiskType *v1beta1.OSDiskType
	switch strings.ToLower(f.OSDiskType) {
	case "":
	case "ephemeral":
		osDiskType = lo.ToPtr(v1beta1.OSDiskTypeEphemeral)
	case "managed":
		osDiskType = lo.ToPtr(v1beta1.OSDiskTypeManaged)
	default:
		add("--node-osdisk-type %q: use Ephemeral or Managed", f.OSDiskType)
	}
	if f.OSDiskSizeGB != 0 && (f.OSDiskSizeGB < 30 || f.OSDiskSizeGB > 2048) {
		add("--node-osdisk-size %d: must be between 30 and 2048 GB", f.OSDiskSizeGB)
	}
	if osDiskType != nil && *osDiskType == v1beta1.OSDiskTypeEphemeral {
		size := lo.Ternary(f.OSDiskSizeGB != 0, f.OSDiskSizeGB, (&v1beta1.AKSNodeClass{}).GetOSDiskSizeGB())
		for _, s := range skus {
			if err := ephemeralFits(s, size); err != nil {
				errs = append(errs, err)
			}
		}
	}

	// Labels, taints, tags.
	errs = append(errs, checkLabels(f.Labels)...)
	errs = append(errs, checkTags(f.Tags)...)
	taints, terrs := parseTaints(f.Taints)
	errs = append(errs, terrs...)
	if mode == v1beta1.ModeSystem {
		taints = addTaint(taints, corev1.Taint{Key: TaintCriticalAddonsOnly, Value: "true", Effect: corev1.TaintEffectNoSchedule})
	}
	if spot {
		// AKS taints every spot pool so only workloads that tolerate
		// eviction land on it.
		taints = addTaint(taints, spotTaint)
	}

	// Zones.
	var zones []string
	for _, z := range f.Zones {
		if z != "1" && z != "2" && z != "3" {
			add("--zones %q: use 1, 2 and/or 3", z)
			continue
		}
		if cat == nil {
			add("--zones needs the region (--region) to name the zones")
			break
		}
		zones = append(zones, v1beta1.ZoneLabel(cat.Region(), z))
	}
	if len(zones) > 0 && len(skus) > 0 {
		for _, s := range skus {
			for _, z := range f.Zones {
				if !slices.Contains(s.Zones, z) {
					add("--zones %s: %s is not offered in zone %s of %s (zones: %s)", z, s.Name, z, cat.Region(), strings.Join(s.Zones, ","))
				}
			}
		}
	}

	var surge string
	if f.MaxSurge != "" {
		var err error
		if surge, err = ParseMaxSurge(f.MaxSurge); err != nil {
			errs = append(errs, err)
		}
	}

	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	nc := &v1beta1.AKSNodeClass{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1beta1.SchemeGroupVersion.String(), Kind: "AKSNodeClass"},
		ObjectMeta: metav1.ObjectMeta{Name: f.Name, Labels: map[string]string{LabelPool: f.Name}},
		Spec: v1beta1.AKSNodeClassSpec{
			ImageFamily: lo.ToPtr(imageFamily),
			OSDiskType:  osDiskType,
			Tags:        f.Tags,
		},
	}
	if f.OSDiskSizeGB != 0 {
		nc.Spec.OSDiskSizeGB = lo.ToPtr(f.OSDiskSizeGB)
	}
	if spot {
		nc.Spec.Spot = &v1beta1.SpotConfiguration{MaxPrice: lo.ToPtr(lo.Ternary(f.SpotMaxPrice != "", f.SpotMaxPrice, "-1"))}
	}
	if f.EnableFIPSImage {
		nc.Spec.FIPSMode = lo.ToPtr(v1beta1.FIPSModeFIPS)
	}
	if f.EnableEncryptionAtHost {
		nc.Spec.Security = &v1beta1.Security{EncryptionAtHost: lo.ToPtr(true)}
	}

	labels := map[string]string{LabelAgentPool: f.Name, v1beta1.AKSLabelMode: mode}
	for k, v := range f.Labels {
		labels[k] = v
	}
	reqs := []karpv1.NodeSelectorRequirementWithMinValues{
		{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: lo.Uniq(sizes)},
		{Key: karpv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{lo.Ternary(spot, karpv1.CapacityTypeSpot, karpv1.CapacityTypeOnDemand)}},
		{Key: corev1.LabelOSStable, Operator: corev1.NodeSelectorOpIn, Values: []string{lo.Ternary(windows, string(corev1.Windows), string(corev1.Linux))}},
	}
	if len(zones) > 0 {
		reqs = append(reqs, karpv1.NodeSelectorRequirementWithMinValues{Key: corev1.LabelTopologyZone, Operator: corev1.NodeSelectorOpIn, Values: zones})
	}
	fixed := &karpv1.NodePool{
		TypeMeta:   metav1.TypeMeta{APIVersion: "karpenter.sh/v1", Kind: "NodePool"},
		ObjectMeta: metav1.ObjectMeta{Name: f.Name, Labels: map[string]string{LabelPool: f.Name}},
		Spec: karpv1.NodePoolSpec{
			Template: karpv1.NodeClaimTemplate{
				ObjectMeta: karpv1.ObjectMeta{Labels: labels},
				Spec: karpv1.NodeClaimTemplateSpec{
					NodeClassRef: &karpv1.NodeClassReference{Group: v1beta1.SchemeGroupVersion.Group, Kind: "AKSNodeClass", Name: f.Name},
					Requirements: reqs,
					Taints:       taints,
					// AKS nodes live until they are upgraded or scaled away.
					ExpireAfter: karpv1.MustParseNillableDuration("Never"),
				},
			},
			// Ignored by core for static NodePools; set so the object reads
			// as what it is.
			Disruption: karpv1.Disruption{ConsolidateAfter: karpv1.MustParseNillableDuration("Never")},
		},
	}
	setMaxSurge(fixed, surge)
	pool := &Pool{NodeClass: nc, Fixed: fixed}
	if f.EnableClusterAutoscaler {
		fixed.Spec.Replicas = lo.ToPtr(f.MinCount)
		pool.Autoscale = newAutoscale(fixed, f.MaxCount-f.MinCount)
	} else {
		fixed.Spec.Replicas = lo.ToPtr(lo.Ternary(f.NodeCount >= 0, f.NodeCount, int64(DefaultNodeCount)))
	}
	return pool, nil
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
