package instancetype

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/mitchellh/hashstructure/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/utils/clock"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/scheduling"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	"github.com/azkarpenter/azkarpenter/pkg/providers/hostgroup"
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
	// VMMemoryOverheadPercent is the share of a size's memory the hypervisor
	// keeps, as a fraction (--vm-memory-overhead-percent); nil takes
	// bootstrap.DefaultVMMemoryOverheadPercent.
	VMMemoryOverheadPercent *float64
}

// memoryOverhead is the VM memory overhead the options say.
func (o Options) memoryOverhead() float64 {
	if o.VMMemoryOverheadPercent == nil {
		return bootstrap.DefaultVMMemoryOverheadPercent
	}
	return *o.VMMemoryOverheadPercent
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
	OnDemandPrice float64 `json:"onDemandPrice,omitempty"`
	SpotPrice     float64 `json:"spotPrice,omitempty"`
	// SpotPriceAboveCap is the size's listed spot price when it is above
	// the NodeClass's spot.maxPrice, so the size has no spot offering.
	SpotPriceAboveCap float64  `json:"spotPriceAboveCap,omitempty"`
	OSDisk            string   `json:"osDisk,omitempty"`
	Zones             []string `json:"zones,omitempty"`
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
	// hostGroups, when set, gives a NodeClass with a dedicated host group
	// the sizes, zones and room of its group (hostgroup.go).
	hostGroups hostgroup.Provider
}

// WithHostGroups makes the instance types of a NodeClass with a dedicated
// host group follow the group as last read (see hostgroup.Provider.Get).
func (p *DefaultProvider) WithHostGroups(h hostgroup.Provider) *DefaultProvider {
	p.hostGroups = h
	return p
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
	p.readHostGroup(ctx, nc)
	catalog, err := p.skus.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	q := p.quota.Snapshot(ctx)
	key := p.cacheKey(nc, catalog, q)
	if its, ok := p.cached(nc.Name, key); ok {
		return its, nil
	}
	static := p.staticTypes(nc, catalog)
	its := make([]*cloudprovider.InstanceType, 0, len(static))
	for _, st := range static {
		its = append(its, &cloudprovider.InstanceType{
			Name:         st.sku.Name,
			Requirements: st.requirements,
			Offerings:    p.availableOfferings(st, q),
			Capacity:     st.capacity,
			Overhead:     st.overhead,
		})
	}
	p.cache.Add(nc.Name, cacheEntry{key: key, its: its}, cacheTTL)
	return its, nil
}

// staticType is what an instance type of a NodeClass is apart from its
// offerings' availability: it depends only on the NodeClass, the catalog
// and prices. Availability (unavailable offerings, quota) changes many times
// a minute in a burst; a new list then shares the requirements, capacity,
// overhead and offering requirements of the last, and karpenter core treats
// them as immutable (its node overlays copy before they change anything).
type staticType struct {
	sku          *sku.SKU
	requirements scheduling.Requirements
	capacity     corev1.ResourceList
	overhead     *cloudprovider.InstanceTypeOverhead
	offers       []staticOffer
	// hostGroupRoom is false when the NodeClass's dedicated host group has
	// no room left for the size: its offerings are unavailable.
	hostGroupRoom bool
}

// staticOffer is an offering without its availability.
type staticOffer struct {
	key          offerings.Offering
	requirements scheduling.Requirements
	price        float64
}

type staticEntry struct {
	key   string
	types []*staticType
}

// staticTypes returns the NodeClass's static instance types, built again
// only when the NodeClass, the catalog or prices change (or after an hour,
// for retirement dates).
func (p *DefaultProvider) staticTypes(nc *v1beta1.AKSNodeClass, catalog *sku.Catalog) []*staticType {
	key := fmt.Sprintf("%s/%s/%t/%d/%d/%d", nc.Name, nc.Hash(), nc.IsLocalDNSEnabled(), catalog.Generation, p.prices.Generation(), p.hostGroupGeneration())
	if v, ok := p.cache.Get(staticPrefix + nc.Name); ok {
		if e := v.(staticEntry); e.key == key {
			return e.types
		}
	}
	now := p.clock.Now()
	types := make([]*staticType, 0, len(catalog.SKUs))
	for _, name := range catalog.Names() {
		var d Decision
		if st := p.buildStatic(catalog.SKUs[name], nc, now, &d); st != nil {
			types = append(types, st)
		}
	}
	p.cache.Add(staticPrefix+nc.Name, staticEntry{key: key, types: types}, cacheTTL)
	return types
}

// staticPrefix keeps static entries apart from instance-type lists in the
// cache (NodeClass names cannot contain a space).
const staticPrefix = "static "

// availableOfferings are a static type's offerings with their availability
// now.
func (p *DefaultProvider) availableOfferings(st *staticType, q *quota.Snapshot) cloudprovider.Offerings {
	out := make(cloudprovider.Offerings, len(st.offers))
	for i, o := range st.offers {
		out[i] = &cloudprovider.Offering{Requirements: o.requirements, Price: o.price, Available: p.unavailableReason(st.sku, o.key, q) == "" && st.hostGroupRoom}
	}
	return out
}

// unavailableReason says why an offering cannot be launched now, "" when it can.
func (p *DefaultProvider) unavailableReason(s *sku.SKU, o offerings.Offering, q *quota.Snapshot) string {
	if reason := p.unavailable.Unavailable(o); reason != "" {
		return reason
	}
	if fits, why := q.Fits(s.Family, s.QuotaVCPUs(), o.CapacityType == karpv1.CapacityTypeSpot); !fits {
		return why
	}
	return ""
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
	return fmt.Sprintf("%s/%s/%t/%d/%d/%d/%d/%d", nc.Name, nc.Hash(), nc.IsLocalDNSEnabled(), catalog.Generation, p.prices.Generation(), p.unavailable.SeqNum(), q.Generation, p.hostGroupGeneration())
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
	p.readHostGroup(ctx, nc)
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
	var d Decision
	st := p.buildStatic(s, nc, now, &d)
	if st == nil {
		return nil, d
	}
	offers := make(cloudprovider.Offerings, 0, len(st.offers))
	for _, o := range st.offers {
		reason := p.unavailableReason(s, o.key, q)
		if reason == "" && !st.hostGroupRoom {
			reason = "dedicated host group full"
		}
		if reason != "" {
			d.Unavailable = append(d.Unavailable, fmt.Sprintf("%s/%s: %s", o.key.Zone, o.key.CapacityType, reason))
		}
		offers = append(offers, &cloudprovider.Offering{Requirements: o.requirements, Price: o.price, Available: reason == ""})
	}
	return &cloudprovider.InstanceType{
		Name: s.Name, Requirements: st.requirements, Offerings: offers, Capacity: st.capacity, Overhead: st.overhead,
	}, d
}

// buildStatic returns a size's static instance type for the NodeClass and
// fills in its decision (but for availability), or returns nil with the
// reasons it is left out.
func (p *DefaultProvider) buildStatic(s *sku.SKU, nc *v1beta1.AKSNodeClass, now time.Time, d *Decision) *staticType {
	size, parsed := ParseSize(s.Name)
	*d = Decision{Name: s.Name, Family: s.Family, VCPUs: s.VCPUs(), MemoryGiB: s.MemoryGiB()}
	reasons := exclusionReasons(s, size, parsed, nc, now)
	group, groupReasons := p.hostGroupFor(s, nc)
	reasons = append(reasons, groupReasons...)
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
		return nil
	}
	offers := p.offerings(s, nc, onDemand, d, group)
	reqs := make(cloudprovider.Offerings, len(offers))
	for i, o := range offers {
		reqs[i] = &cloudprovider.Offering{Requirements: o.requirements}
	}
	maxPods := p.opts.DefaultMaxPods
	if nc.Spec.MaxPods != nil {
		maxPods = *nc.Spec.MaxPods
	}
	d.Included = true
	return &staticType{
		sku:          s,
		requirements: requirements(s, size, nc, p.opts, reqs),
		capacity:     Capacity(s, size, maxPods, osDisk.SizeGiB, p.opts.memoryOverhead()),
		overhead:     Overhead(s, osDisk.SizeGiB),
		offers:       offers,
		// The group's hosts report their room per size; a size they run but
		// have no room for stays, unavailable, so core prices it.
		hostGroupRoom: group == nil || group.Room(s.Name) > 0,
	}
}

// offerings are the size's zones × capacity types, each with its price.
func (p *DefaultProvider) offerings(s *sku.SKU, nc *v1beta1.AKSNodeClass, onDemand float64, d *Decision, group *hostgroup.HostGroup) []staticOffer {
	type capacity struct {
		name, priority string
		price          float64
	}
	types := []capacity{{karpv1.CapacityTypeOnDemand, v1beta1.ScaleSetPriorityRegular, onDemand}}
	// Spot VMs cannot run on dedicated hosts (hostGroupFor).
	if s.Bool(sku.CapLowPriorityCapable) && nc.Spec.DedicatedHostGroupID == nil {
		if spot, ok := p.spotPrice(s.Name, nc); ok {
			if limit := nc.SpotMaxPrice(); limit < 0 || spot <= limit {
				types = append(types, capacity{karpv1.CapacityTypeSpot, v1beta1.ScaleSetPrioritySpot, spot})
				d.SpotPrice = spot
			} else {
				d.SpotPriceAboveCap = spot
			}
		}
	}
	// Placement scope is not an offering requirement: a size is zonal or
	// regional as a whole (PlacementScope), and every requirement key of an
	// offering costs karpenter core's scheduler on each compatibility check.
	zones := s.Zones
	if group != nil {
		zones = hostGroupZones(group, s)
	}
	if len(zones) == 0 {
		zones = []string{""}
	}
	out := make([]staticOffer, 0, len(zones)*len(types))
	for _, z := range zones {
		zone := v1beta1.ZoneLabel(p.opts.Region, z)
		if z != "" {
			d.Zones = append(d.Zones, zone)
		}
		for _, ct := range types {
			out = append(out, staticOffer{
				key:          offerings.Offering{SKU: s.Name, Family: s.Family, VCPUs: s.QuotaVCPUs(), Zone: zone, CapacityType: ct.name},
				requirements: offeringRequirements(ct.name, zone, ct.priority, z != "" && slices.Contains(s.UltraSSDZones, z)),
				price:        ct.price,
			})
		}
	}
	return out
}

// offeringRequirements are an offering's requirements. There are a handful
// of distinct ones in a region (capacity type × zone × Ultra SSD), shared by
// every offering of every size and NodeClass: karpenter core never changes
// an offering's requirements.
func offeringRequirements(capacityType, zone, priority string, ultraSSD bool) scheduling.Requirements {
	key := offeringKey{capacityType, zone, priority, ultraSSD}
	if r, ok := sharedOfferingRequirements.Load(key); ok {
		return r.(scheduling.Requirements)
	}
	// Where the size can attach Ultra Disks, a node can be made with or
	// without them (additionalCapabilities.ultraSSDEnabled is asked for only
	// when the NodeClaim requires it); elsewhere only without, as AKS node
	// auto-provisioning's ultraSSDOptions offers them.
	ultraValues := []string{"false"}
	if ultraSSD {
		ultraValues = []string{"true", "false"}
	}
	r := scheduling.NewRequirements(
		scheduling.NewRequirement(karpv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, capacityType),
		scheduling.NewRequirement(corev1.LabelTopologyZone, corev1.NodeSelectorOpIn, zone),
		scheduling.NewRequirement(v1beta1.AKSLabelScaleSetPriority, corev1.NodeSelectorOpIn, priority),
		scheduling.NewRequirement(v1beta1.AKSLabelPriority, corev1.NodeSelectorOpIn, priority),
		scheduling.NewRequirement(v1beta1.LabelSKUStorageUltraSSD, corev1.NodeSelectorOpIn, ultraValues...),
	)
	actual, _ := sharedOfferingRequirements.LoadOrStore(key, r)
	return actual.(scheduling.Requirements)
}

type offeringKey struct {
	capacityType, zone, priority string
	ultraSSD                     bool
}

var sharedOfferingRequirements sync.Map // offeringKey → scheduling.Requirements

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
