package instancetype

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/mitchellh/hashstructure/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/utils/clock"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/scheduling"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/providers/offerings"
	"github.com/azkarpenter/azkarpenter/pkg/providers/quota"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
)

// Options are the cluster-wide inputs to instance types.
type Options struct {
	Region      string
	ClusterName string
	// NodeResourceGroup gives the kubernetes.azure.com/cluster label its value.
	NodeResourceGroup string
	// DefaultMaxPods applies when the NodeClass does not set maxPods.
	DefaultMaxPods int32
}

// Prices are the region's VM prices in USD per hour (pkg/pricing).
type Prices interface {
	OnDemandPrice(sku string) (float64, bool)
	SpotPrice(sku string) (float64, bool)
	WindowsPrice(sku string) (float64, bool)
	WindowsSpotPrice(sku string) (float64, bool)
	// Generation changes whenever any price does.
	Generation() uint64
}

// Decision says whether a size serves a NodeClass and, if not, why: the
// answer to "why did it not pick Standard_X?".
type Decision struct {
	Name      string   `json:"name"`
	Included  bool     `json:"included"`
	Reasons   []string `json:"reasons,omitempty"`
	Family    string   `json:"family,omitempty"`
	VCPUs     int64    `json:"vcpus"`
	MemoryGiB float64  `json:"memoryGiB"`
	// OnDemandPrice and SpotPrice are USD/hour; 0 when unknown or not offered.
	OnDemandPrice float64  `json:"onDemandPrice,omitempty"`
	SpotPrice     float64  `json:"spotPrice,omitempty"`
	OSDisk        string   `json:"osDisk,omitempty"`
	Zones         []string `json:"zones,omitempty"`
	// Unavailable lists offerings that exist but cannot be launched now.
	Unavailable []string `json:"unavailable,omitempty"`
}

// Provider builds instance types for NodeClasses.
type Provider interface {
	// List returns every instance type the NodeClass can launch, unavailable
	// offerings included (Available=false), as karpenter core expects.
	List(ctx context.Context, nc *v1beta1.AKSNodeClass) ([]*cloudprovider.InstanceType, error)
	// Explain returns a decision for every VM size of the region, sorted by name.
	Explain(ctx context.Context, nc *v1beta1.AKSNodeClass) ([]Decision, error)
	// ForNodePool returns List's instance types as a NodePool is offered
	// them: dominated and outsized sizes have no available offering (see
	// ForNodePool in nodepool.go). This is what GetInstanceTypes returns.
	ForNodePool(ctx context.Context, nc *v1beta1.AKSNodeClass, np *karpv1.NodePool) ([]*cloudprovider.InstanceType, error)
}

// DefaultProvider composes the SKU catalog, prices, the unavailable-offerings
// cache and quota.
type DefaultProvider struct {
	opts        Options
	skus        sku.Provider
	prices      Prices
	unavailable *offerings.Cache
	quota       quota.Provider
	clock       clock.Clock
	// cache holds the instance types last built for each NodeClass (and each
	// NodePool), with the NodeClass hash and the generations of every input
	// they were built from, so an unchanged NodeClass costs a map lookup.
	cache *cache.LRUExpireCache
}

// NewDefaultProvider returns a provider.
func NewDefaultProvider(opts Options, skus sku.Provider, prices Prices, unavailable *offerings.Cache, q quota.Provider, clk clock.Clock) *DefaultProvider {
	return &DefaultProvider{opts: opts, skus: skus, prices: prices, unavailable: unavailable, quota: q, clock: clk, cache: cache.NewLRUExpireCacheWithClock(256, clk)}
}

// cacheTTL bounds how long an entry lives even if no input changed, so
// time-dependent inputs (retirement dates) are re-evaluated.
const cacheTTL = time.Hour

// List implements Provider.
func (p *DefaultProvider) List(ctx context.Context, nc *v1beta1.AKSNodeClass) ([]*cloudprovider.InstanceType, error) {
	catalog, err := p.skus.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	q := p.quota.Snapshot(ctx)
	key := p.cacheKey(nc, catalog, q)
	if its, ok := p.cached(nc.Name, key); ok {
		return its, nil
	}
	its := make([]*cloudprovider.InstanceType, 0, len(catalog.SKUs))
	now := p.clock.Now()
	for _, name := range catalog.Names() {
		it, _ := p.build(catalog.SKUs[name], nc, q, now)
		if it != nil {
			its = append(its, it)
		}
	}
	p.cache.Add(nc.Name, cacheEntry{key: key, its: its}, cacheTTL)
	return its, nil
}

// cacheEntry is the instance types last built under a name, with the key of
// the inputs they were built from.
type cacheEntry struct {
	key string
	its []*cloudprovider.InstanceType
}

// cached returns the instance types last built under name if they were
// built from the inputs key names. One entry per NodeClass (and NodePool)
// is kept: keyed by the inputs' generations, stale entries piled up, since
// the unavailable-offerings cache and quota change many times a minute in a
// burst, each entry holds the whole catalog (about 10 MiB for eastus), and
// the controller's memory grew past 700 MiB at 400 nodes.
func (p *DefaultProvider) cached(name, key string) ([]*cloudprovider.InstanceType, bool) {
	v, ok := p.cache.Get(name)
	if !ok {
		return nil, false
	}
	e := v.(cacheEntry)
	return e.its, e.key == key
}

func (p *DefaultProvider) cacheKey(nc *v1beta1.AKSNodeClass, catalog *sku.Catalog, q *quota.Snapshot) string {
	// The LocalDNS state is status, not spec: it filters sizes too.
	return fmt.Sprintf("%s/%s/%t/%d/%d/%d/%d", nc.Name, nc.Hash(), nc.IsLocalDNSEnabled(), catalog.Generation, p.prices.Generation(), p.unavailable.SeqNum(), q.Generation)
}

// ForNodePool implements Provider. Results are cached like List's, by the
// NodePool's requirements, labels and annotations as well.
func (p *DefaultProvider) ForNodePool(ctx context.Context, nc *v1beta1.AKSNodeClass, np *karpv1.NodePool) ([]*cloudprovider.InstanceType, error) {
	its, err := p.List(ctx, nc)
	if err != nil {
		return nil, err
	}
	catalog, err := p.skus.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	npHash, err := hashstructure.Hash([]any{np.Spec.Template.Spec.Requirements, np.Spec.Template.Labels, np.Annotations[AnnotationOfferAllSizes]}, hashstructure.FormatV2, nil)
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("%s/%d", p.cacheKey(nc, catalog, p.quota.Snapshot(ctx)), npHash)
	name := nc.Name + "/nodepool/" + np.Name
	if out, ok := p.cached(name, key); ok {
		return out, nil
	}
	out := ForNodePool(its, nc, np)
	p.cache.Add(name, cacheEntry{key: key, its: out}, cacheTTL)
	return out, nil
}

// Explain implements Provider.
func (p *DefaultProvider) Explain(ctx context.Context, nc *v1beta1.AKSNodeClass) ([]Decision, error) {
	catalog, err := p.skus.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	q := p.quota.Snapshot(ctx)
	now := p.clock.Now()
	decisions := make([]Decision, 0, len(catalog.SKUs)+len(catalog.Excluded))
	for _, name := range catalog.Names() {
		_, d := p.build(catalog.SKUs[name], nc, q, now)
		decisions = append(decisions, d)
	}
	for name, reason := range catalog.Excluded {
		decisions = append(decisions, Decision{Name: name, Reasons: []string{reason}})
	}
	sort.Slice(decisions, func(i, j int) bool { return decisions[i].Name < decisions[j].Name })
	return decisions, nil
}

// build returns the instance type of a size for the NodeClass, or nil and
// the reasons it is left out.
func (p *DefaultProvider) build(s *sku.SKU, nc *v1beta1.AKSNodeClass, q *quota.Snapshot, now time.Time) (*cloudprovider.InstanceType, Decision) {
	size, parsed := ParseSize(s.Name)
	d := Decision{Name: s.Name, Family: s.Family, VCPUs: s.VCPUs(), MemoryGiB: s.MemoryGiB()}
	reasons := exclusionReasons(s, size, parsed, nc, now)
	osDisk, diskReason := sku.ChooseOSDisk(s, nc)
	if diskReason == "" {
		d.OSDisk = osDisk.String()
	}
	onDemand, ok := p.onDemandPrice(s.Name, nc)
	if !ok {
		reasons = append(reasons, fmt.Sprintf("no %s on-demand price in %s", osName(nc), p.opts.Region))
	}
	d.OnDemandPrice = onDemand
	if len(reasons) > 0 {
		d.Reasons = reasons
		return nil, d
	}
	offers := p.offerings(s, nc, onDemand, q, &d)
	maxPods := p.opts.DefaultMaxPods
	if nc.Spec.MaxPods != nil {
		maxPods = *nc.Spec.MaxPods
	}
	d.Included = true
	return &cloudprovider.InstanceType{
		Name:         s.Name,
		Requirements: requirements(s, size, nc, p.opts, offers),
		Offerings:    offers,
		Capacity:     Capacity(s, size, maxPods, osDisk.SizeGiB),
		Overhead:     Overhead(s),
	}, d
}

// offerings are the size's zones × capacity types, each with its price and
// whether it can be launched now.
func (p *DefaultProvider) offerings(s *sku.SKU, nc *v1beta1.AKSNodeClass, onDemand float64, q *quota.Snapshot, d *Decision) cloudprovider.Offerings {
	type capacity struct {
		name, priority string
		price          float64
	}
	types := []capacity{{karpv1.CapacityTypeOnDemand, v1beta1.ScaleSetPriorityRegular, onDemand}}
	if s.Bool(sku.CapLowPriorityCapable) {
		if spot, ok := p.spotPrice(s.Name, nc); ok {
			if limit := nc.SpotMaxPrice(); limit < 0 || spot <= limit {
				types = append(types, capacity{karpv1.CapacityTypeSpot, v1beta1.ScaleSetPrioritySpot, spot})
				d.SpotPrice = spot
			}
		}
	}
	// Placement scope is not an offering requirement: a size is zonal or
	// regional as a whole (PlacementScope), and every requirement key of an
	// offering costs karpenter core's scheduler on each compatibility check.
	zones := s.Zones
	if len(zones) == 0 {
		zones = []string{""}
	}
	var out cloudprovider.Offerings
	for _, z := range zones {
		zone := v1beta1.ZoneLabel(p.opts.Region, z)
		if z != "" {
			d.Zones = append(d.Zones, zone)
		}
		for _, ct := range types {
			reason := p.unavailable.Unavailable(offerings.Offering{SKU: s.Name, Family: s.Family, VCPUs: s.QuotaVCPUs(), Zone: zone, CapacityType: ct.name})
			if reason == "" {
				if fits, why := q.Fits(s.Family, s.QuotaVCPUs(), ct.name == karpv1.CapacityTypeSpot); !fits {
					reason = why
				}
			}
			if reason != "" {
				d.Unavailable = append(d.Unavailable, fmt.Sprintf("%s/%s: %s", zone, ct.name, reason))
			}
			out = append(out, &cloudprovider.Offering{
				Requirements: scheduling.NewRequirements(
					scheduling.NewRequirement(karpv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, ct.name),
					scheduling.NewRequirement(corev1.LabelTopologyZone, corev1.NodeSelectorOpIn, zone),
					scheduling.NewRequirement(v1beta1.AKSLabelScaleSetPriority, corev1.NodeSelectorOpIn, ct.priority),
					scheduling.NewRequirement(v1beta1.AKSLabelPriority, corev1.NodeSelectorOpIn, ct.priority),
					scheduling.NewRequirement(v1beta1.LabelSKUStorageUltraSSD, corev1.NodeSelectorOpIn, strconv.FormatBool(z != "" && slices.Contains(s.UltraSSDZones, z))),
				),
				Price:     ct.price,
				Available: reason == "",
			})
		}
	}
	return out
}

func (p *DefaultProvider) onDemandPrice(name string, nc *v1beta1.AKSNodeClass) (float64, bool) {
	if nc.IsWindows() {
		return p.prices.WindowsPrice(name)
	}
	return p.prices.OnDemandPrice(name)
}

func (p *DefaultProvider) spotPrice(name string, nc *v1beta1.AKSNodeClass) (float64, bool) {
	if nc.IsWindows() {
		return p.prices.WindowsSpotPrice(name)
	}
	return p.prices.SpotPrice(name)
}

func osName(nc *v1beta1.AKSNodeClass) string {
	if nc.IsWindows() {
		return "Windows"
	}
	return "Linux"
}

// Summary counts included and excluded sizes, for logs and status.
func Summary(ds []Decision) string {
	included := 0
	for _, d := range ds {
		if d.Included {
			included++
		}
	}
	return fmt.Sprintf("%d of %d VM sizes usable", included, len(ds))
}
