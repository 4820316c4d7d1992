package imagefamily

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	opmetrics "github.com/awslabs/operatorpkg/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/samber/lo"
	"golang.org/x/sync/singleflight"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/log"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/nodeimage"
)

// DefaultRefreshPeriod is how often every definition in use is listed
// again. AKS publishes node images about weekly; an hour's delay before
// nodes start to roll is nothing next to that, and a refresh costs one paged
// listing per definition in use.
const DefaultRefreshPeriod = time.Hour

// notFoundRetry is how long a definition or version found missing is
// believed missing before a launch or status check asks Azure again, so a
// NodeClass naming a missing image does not cost an Azure call per check.
const notFoundRetry = time.Minute

// Reasons an image does not resolve. The NodeClass's ImagesReady condition
// carries them.
const (
	// ReasonNoImage: AKS publishes no image for the family, architecture,
	// generation and variant (FIPS, confidential VM).
	ReasonNoImage = "ImagesNotFound"
	// ReasonImageDefinitionNotFound: the gallery has no such definition in
	// the region.
	ReasonImageDefinitionNotFound = "ImageDefinitionNotFound"
	// ReasonImageVersionNotFound: the definition has no usable version, or
	// the pinned version does not exist.
	ReasonImageVersionNotFound = "ImageVersionNotFound"
	// ReasonImageListingFailed: Azure did not answer (throttling, outage);
	// it is retried.
	ReasonImageListingFailed = "ImageListingFailed"
	// ReasonFIPSNotPublished: fipsMode FIPS, whose images AKS does not
	// publish in its public community galleries.
	ReasonFIPSNotPublished = "FIPSImagesNotPublished"
	// ReasonNoTrustedLaunchImage: security.trustedLaunch on an image family
	// AKS publishes no Trusted Launch image for.
	ReasonNoTrustedLaunchImage = "TrustedLaunchImageNotAvailable"
	// ReasonImageRefused: Azure refused to create a VM from the image (for
	// example Trusted Launch on a definition without the Trusted Launch
	// feature); the condition carries Azure's message.
	ReasonImageRefused = "ImageRefusedByAzure"
	// ReasonImageBelowFloor: the version (pinned, or the newest published)
	// is older than the oldest one the bootstrap contract works with
	// (nodeimage.LinuxFloor, nodeimage.WindowsFloorDate).
	ReasonImageBelowFloor = "NodeImageBelowFloor"
)

// ImageError says why a node image does not resolve.
type ImageError struct {
	Reason     string
	Gallery    string
	Definition string
	// Version is the pinned version, if one was asked for.
	Version string
	Err     error
	msg     string
}

// Error is one line, fit for a status condition: an Azure error is named
// by its status and code, not its whole response dump.
func (e *ImageError) Error() string {
	var re *azcore.ResponseError
	switch {
	case e.Err == nil:
		return e.msg
	case errors.As(e.Err, &re) && e.Reason == ReasonImageListingFailed:
		return fmt.Sprintf("%s: Azure answered %d %s", e.msg, re.StatusCode, re.ErrorCode)
	case errors.As(e.Err, &re):
		return e.msg
	default:
		return e.msg + ": " + e.Err.Error()
	}
}

func (e *ImageError) Unwrap() error { return e.Err }

// Reason returns the reason of the first *ImageError in err, or
// ReasonImageListingFailed when there is none.
func Reason(err error) string {
	var ie *ImageError
	if errors.As(err, &ie) {
		return ie.Reason
	}
	return ReasonImageListingFailed
}

var (
	resolutionsTotal = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
		Namespace: "azkarpenter", Subsystem: "image", Name: "resolutions_total",
		Help: "Listings of a community gallery image definition by outcome: unchanged, new_version (a different version now resolves), not_found (definition or version missing) or error (Azure did not answer; the last known version stays).",
	}, []string{"gallery", "definition", "result"})
	refreshErrors = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
		Namespace: "azkarpenter", Subsystem: "image", Name: "refresh_errors_total",
		Help: "Image refreshes in which at least one definition could not be listed.",
	}, nil)
	resolvedAt = opmetrics.NewPrometheusGauge(crmetrics.Registry, prometheus.GaugeOpts{
		Namespace: "azkarpenter", Subsystem: "image", Name: "resolved_timestamp_seconds",
		Help: "When each definition's version was last confirmed by a listing (time() minus it is the cache's age).",
	}, []string{"gallery", "definition"})
	publishedAt = opmetrics.NewPrometheusGauge(crmetrics.Registry, prometheus.GaugeOpts{
		Namespace: "azkarpenter", Subsystem: "image", Name: "version_published_timestamp_seconds",
		Help: "Publishing date of the version each definition resolves to (time() minus it is the node image's age).",
	}, []string{"gallery", "definition"})
)

// Options are the inputs beyond the NodeClass.
type Options struct {
	// Location is the region whose gallery replicas are read.
	Location string
	// LinuxVersion pins Ubuntu and Azure Linux images (they share AKS's
	// YYYYMM.DD.patch versions); WindowsVersion pins Windows Server 2022
	// images and Windows2025Version Windows Server 2025 ones. "" takes the
	// newest published version.
	LinuxVersion       string
	WindowsVersion     string
	Windows2025Version string
	// KubernetesVersion is the cluster's version (e.g. v1.35.1), which
	// selects the Ubuntu release of imageFamily Ubuntu; nil or an error
	// selects the older release.
	KubernetesVersion func(context.Context) (string, error)
	// Clock defaults to the real clock.
	Clock clock.Clock
}

// versionKey is one cached answer: a definition's newest version, or
// whether a pinned version exists.
type versionKey struct {
	gallery, definition, pinned string
}

func (k versionKey) String() string { return k.gallery + "/" + k.definition + "@" + k.pinned }

type versionEntry struct {
	// version is "" while none is known.
	version string
	// checked is when Azure was last asked.
	checked time.Time
	// err is the last failure; with a known version it only explains why
	// the version may be stale.
	err error
}

// DefaultProvider resolves images through the community gallery image
// versions API. It is safe for concurrent use.
type DefaultProvider struct {
	versions *armcompute.CommunityGalleryImageVersionsClient
	images   *armcompute.CommunityGalleryImagesClient
	opts     Options
	clock    clock.Clock

	mu       sync.RWMutex
	cache    map[versionKey]*versionEntry
	watchers []func()
	flight   singleflight.Group
}

// NewDefaultProvider returns a provider reading the galleries through the
// clients (the images client tells a missing definition from a missing
// pinned version).
func NewDefaultProvider(versions *armcompute.CommunityGalleryImageVersionsClient, images *armcompute.CommunityGalleryImagesClient, opts Options) *DefaultProvider {
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &DefaultProvider{versions: versions, images: images, opts: opts, clock: clk, cache: map[versionKey]*versionEntry{}}
}

// NewDefaultProviderFromFactory returns a provider with clients from the
// factory.
func NewDefaultProviderFromFactory(compute *armcompute.ClientFactory, opts Options) *DefaultProvider {
	return NewDefaultProvider(compute.NewCommunityGalleryImageVersionsClient(), compute.NewCommunityGalleryImagesClient(), opts)
}

// OnChange registers fn to run after a refresh changes the version any
// definition resolves to, so that NodeClass status (and with it drift) is
// re-evaluated at once. fn must not block.
func (p *DefaultProvider) OnChange(fn func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.watchers = append(p.watchers, fn)
}

func (p *DefaultProvider) pin(img Image) string {
	switch {
	case img.Gallery != GalleryWindows:
		return p.opts.LinuxVersion
	case strings.HasPrefix(img.Definition, "windows-2025"):
		return p.opts.Windows2025Version
	default:
		return p.opts.WindowsVersion
	}
}

// withVersion completes a layout image with its version.
func (p *DefaultProvider) withVersion(ctx context.Context, img Image) (Image, error) {
	key := versionKey{gallery: img.Gallery, definition: img.Definition, pinned: p.pin(img)}
	e, err := p.entry(ctx, key)
	if err != nil {
		return Image{}, err
	}
	if err := belowFloor(img, key.pinned, e.version); err != nil {
		return Image{}, err
	}
	img.Version = e.version
	img.ID = ImageID(img.Gallery, img.Definition, img.Version)
	img.NodeImageVersion = galleryPrefix(img.Gallery) + "-" + img.Definition + "-" + img.Version
	return img, nil
}

// entry returns the cached version of key, listing it first when none is
// known: never, or not since a failure more than notFoundRetry ago.
func (p *DefaultProvider) entry(ctx context.Context, key versionKey) (versionEntry, error) {
	p.mu.RLock()
	e, ok := p.cache[key]
	var cached versionEntry
	if ok {
		cached = *e
	}
	p.mu.RUnlock()
	if ok && cached.version != "" {
		return cached, nil
	}
	if ok && p.clock.Since(cached.checked) < notFoundRetry {
		return cached, cached.err
	}
	// Concurrent launches of a new NodeClass share one listing.
	v, err, _ := p.flight.Do(key.String(), func() (any, error) {
		_, _ = p.update(ctx, key) // the outcome is read back from the cache
		p.mu.RLock()
		defer p.mu.RUnlock()
		return *p.cache[key], nil
	})
	if err != nil {
		return versionEntry{}, err
	}
	got := v.(versionEntry)
	if got.version == "" {
		return got, got.err
	}
	return got, nil
}

// Refresh lists every definition in use again. A definition Azure does not
// answer for keeps its last known version (nodes never drift because of a
// failed listing); one found missing loses it (launches would fail anyway).
// The error names the definitions that could not be listed.
func (p *DefaultProvider) Refresh(ctx context.Context) error {
	p.mu.RLock()
	keys := make([]versionKey, 0, len(p.cache))
	for k := range p.cache {
		keys = append(keys, k)
	}
	p.mu.RUnlock()
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	var errs []error
	changed := false
	for _, key := range keys {
		c, err := p.update(ctx, key)
		changed = changed || c
		if err != nil && Reason(err) == ReasonImageListingFailed {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		refreshErrors.Inc(nil)
	}
	if changed {
		p.mu.RLock()
		watchers := append([]func(){}, p.watchers...)
		p.mu.RUnlock()
		for _, w := range watchers {
			w()
		}
	}
	return errors.Join(errs...)
}

// update asks Azure for key's version and stores the answer; changed is
// true when what resolves is now different: another version, or a version
// where there was none or the other way round.
func (p *DefaultProvider) update(ctx context.Context, key versionKey) (changed bool, err error) {
	version, published, err := p.fetch(ctx, key)
	now := p.clock.Now()
	labels := map[string]string{"gallery": key.gallery, "definition": key.definition}
	p.mu.Lock()
	e, ok := p.cache[key]
	if !ok {
		e = &versionEntry{}
		p.cache[key] = e
	}
	previous := e.version
	e.checked, e.err = now, err
	switch {
	case err == nil:
		e.version = version
	case Reason(err) != ReasonImageListingFailed:
		// Azure answered that it does not exist: launches with the last
		// known version would fail, so it is forgotten.
		e.version = ""
	}
	current := e.version
	p.mu.Unlock()

	result := "unchanged"
	switch {
	case err != nil && Reason(err) == ReasonImageListingFailed:
		result = "error"
	case err != nil:
		result = "not_found"
	case previous != current:
		result = "new_version"
	}
	resolutionsTotal.Inc(lo.Assign(labels, map[string]string{"result": result}))
	logger := log.FromContext(ctx).WithValues("gallery", key.gallery, "definition", key.definition)
	switch {
	case err != nil && previous != "" && current != "":
		logger.Error(err, "listing node image versions failed; keeping the last known version", "version", previous)
	case err != nil:
		logger.Error(err, "node image unavailable")
	case previous != current:
		resolvedAt.Set(float64(now.Unix()), labels)
		publishedAt.Set(float64(published.Unix()), labels)
		logger.Info("node image version resolved", "version", current, "previous", previous, "published", published.UTC().Format(time.RFC3339), "pinned", key.pinned != "")
	default:
		resolvedAt.Set(float64(now.Unix()), labels)
	}
	return previous != current, err
}

// fetch resolves key through Azure: the pinned version if it exists, else
// the newest eligible version of the definition.
func (p *DefaultProvider) fetch(ctx context.Context, key versionKey) (string, time.Time, error) {
	if key.pinned != "" {
		resp, err := p.versions.Get(ctx, p.opts.Location, key.gallery, key.definition, key.pinned, nil)
		if err == nil {
			var published time.Time
			if resp.Properties != nil && resp.Properties.PublishedDate != nil {
				published = *resp.Properties.PublishedDate
			}
			return key.pinned, published, nil
		}
		if !isNotFound(err) {
			return "", time.Time{}, p.listingFailed(key, err)
		}
		// Which is missing: the definition, or the pinned version of it?
		if _, derr := p.images.Get(ctx, p.opts.Location, key.gallery, key.definition, nil); isNotFound(derr) {
			return "", time.Time{}, p.definitionNotFound(key, derr)
		}
		return "", time.Time{}, &ImageError{Reason: ReasonImageVersionNotFound, Gallery: key.gallery, Definition: key.definition, Version: key.pinned, Err: err,
			msg: fmt.Sprintf("pinned node image version %s of image definition %s does not exist in community gallery %s (%s); pin a published version or unpin it", key.pinned, key.definition, key.gallery, p.opts.Location)}
	}
	var all []*armcompute.CommunityGalleryImageVersion
	pager := p.versions.NewListPager(p.opts.Location, key.gallery, key.definition, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if isNotFound(err) {
				return "", time.Time{}, p.definitionNotFound(key, err)
			}
			return "", time.Time{}, p.listingFailed(key, err)
		}
		all = append(all, page.Value...)
	}
	best, excluded, expired := newest(all, p.clock.Now())
	if best == nil {
		return "", time.Time{}, &ImageError{Reason: ReasonImageVersionNotFound, Gallery: key.gallery, Definition: key.definition,
			msg: fmt.Sprintf("image definition %s in community gallery %s (%s) has no usable version: %d listed, %d excluded from latest, %d past end of life",
				key.definition, key.gallery, p.opts.Location, len(all), excluded, expired)}
	}
	return *best.Name, *best.Properties.PublishedDate, nil
}

// newest picks the version a new node should get: the latest by publishing
// date. Unlike karpenter-provider-azure, which takes the latest published
// version whatever its flags, it skips versions the publisher excluded from
// "latest" (a VM asking for version "latest" would not get them either:
// they are withdrawn or staged releases) and versions past their end of
// life (no longer supported, so no new node should start on one). Versions
// without a publishing date cannot be ordered and are skipped too. Ties go
// to the higher version number.
func newest(versions []*armcompute.CommunityGalleryImageVersion, now time.Time) (best *armcompute.CommunityGalleryImageVersion, excluded, expired int) {
	for _, v := range versions {
		if v == nil || v.Name == nil || v.Properties == nil || v.Properties.PublishedDate == nil {
			continue
		}
		props := v.Properties
		if props.ExcludeFromLatest != nil && *props.ExcludeFromLatest {
			excluded++
			continue
		}
		if props.EndOfLifeDate != nil && !props.EndOfLifeDate.After(now) {
			expired++
			continue
		}
		if best == nil {
			best = v
			continue
		}
		if c := props.PublishedDate.Compare(*best.Properties.PublishedDate); c > 0 || (c == 0 && compareVersions(*v.Name, *best.Name) > 0) {
			best = v
		}
	}
	return best, excluded, expired
}

// compareVersions orders Major.Minor.Patch version names numerically.
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range min(len(pa), len(pb)) {
		na, ea := strconv.ParseUint(pa[i], 10, 64)
		nb, eb := strconv.ParseUint(pb[i], 10, 64)
		c := strings.Compare(pa[i], pb[i])
		if ea == nil && eb == nil {
			c = cmp.Compare(na, nb)
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(pa), len(pb))
}

// belowFloor refuses an image version older than the floor: its
// provisioning would not read what the provider writes (on Linux,
// aks-node-controller stops at the first AKSNodeConfig field it does not
// know and provisions from the fields before it).
func belowFloor(img Image, pinned, version string) error {
	classified, ok := nodeimage.Classify(img.Definition)
	if !ok {
		return nil
	}
	below, floor := nodeimage.BelowFloor(classified, version)
	if !below {
		return nil
	}
	how := "the newest published version"
	if pinned != "" {
		how = "pinned version"
	}
	return &ImageError{Reason: ReasonImageBelowFloor, Gallery: img.Gallery, Definition: img.Definition, Version: pinned,
		msg: fmt.Sprintf("%s %s of image definition %s is older than the node-image floor %s, the oldest image whose provisioning reads this provider's bootstrap data; pin %s or newer, or unpin it", how, version, img.Definition, floor, floor)}
}

func (p *DefaultProvider) definitionNotFound(key versionKey, err error) error {
	return &ImageError{Reason: ReasonImageDefinitionNotFound, Gallery: key.gallery, Definition: key.definition, Version: key.pinned, Err: err,
		msg: fmt.Sprintf("image definition %s does not exist in community gallery %s (%s)", key.definition, key.gallery, p.opts.Location)}
}

func (p *DefaultProvider) listingFailed(key versionKey, err error) error {
	return &ImageError{Reason: ReasonImageListingFailed, Gallery: key.gallery, Definition: key.definition, Version: key.pinned, Err: err,
		msg: fmt.Sprintf("listing versions of image definition %s in community gallery %s (%s)", key.definition, key.gallery, p.opts.Location)}
}

func isNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}
