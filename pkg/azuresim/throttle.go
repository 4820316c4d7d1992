package azuresim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// BucketSpec is a token bucket: Size tokens, refilled at RefillPerMinute.
type BucketSpec struct {
	Size            int     `json:"size"`
	RefillPerMinute float64 `json:"refillPerMinute"`
}

// Bucket names. ARM's own buckets are per subscription and principal; the
// Compute ones are the resource provider's operation groups, per
// subscription or per VM; the Network ones are per subscription.
const (
	BucketSubscriptionReads   = "SubscriptionReads"
	BucketSubscriptionWrites  = "SubscriptionWrites"
	BucketSubscriptionDeletes = "SubscriptionDeletes"
	BucketPutVM               = "PutVM3Min"
	BucketPutVMResource       = "PutVMResource3Min"
	BucketDeleteVM            = "DeleteVM3Min"
	BucketDeleteVMResource    = "DeleteVMResource3Min"
	BucketGetVM               = "LowCostGet3Min"
	BucketListVM              = "HighCostList3Min"
	BucketGetOperation        = "GetOperation3Min"
	BucketNetworkWrites       = "NetworkWrites5Min"
	BucketNetworkReads        = "NetworkReads5Min"
)

// DefaultBuckets are Azure's published limits: Resource Manager's
// subscription buckets (learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling)
// and the compute and network resource providers' (learn.microsoft.com/troubleshoot/azure/virtual-machines/troubleshooting-throttling-errors).
func DefaultBuckets() map[string]BucketSpec {
	return map[string]BucketSpec{
		BucketSubscriptionReads:   {Size: 250, RefillPerMinute: 25 * 60},
		BucketSubscriptionWrites:  {Size: 200, RefillPerMinute: 10 * 60},
		BucketSubscriptionDeletes: {Size: 200, RefillPerMinute: 10 * 60},
		BucketPutVM:               {Size: 1500, RefillPerMinute: 500},
		BucketPutVMResource:       {Size: 12, RefillPerMinute: 4},
		BucketDeleteVM:            {Size: 1500, RefillPerMinute: 500},
		BucketDeleteVMResource:    {Size: 12, RefillPerMinute: 4},
		BucketGetVM:               {Size: 24000, RefillPerMinute: 8000},
		BucketListVM:              {Size: 900, RefillPerMinute: 300},
		BucketGetOperation:        {Size: 15000, RefillPerMinute: 5000},
		BucketNetworkWrites:       {Size: 1000, RefillPerMinute: 200},
		BucketNetworkReads:        {Size: 10000, RefillPerMinute: 2000},
	}
}

// armClass is how ARM itself counts a request.
type armClass int

const (
	armRead armClass = iota
	armWrite
	armDelete
)

// throttleKey names the buckets one request draws from.
type throttleKey struct {
	class        armClass
	subscription string
	rpBuckets    []string // resource-provider operation groups
	resourceID   string   // for per-resource buckets
}

type bucket struct {
	spec     BucketSpec
	scale    float64
	lim      *rate.Limiter
	rejected int // requests refused since the bucket last let one through
}

// throttler runs ARM's token buckets on the simulator's clock: a bucket
// refills at its published rate per simulated minute, so at time scale 0.02
// it refills 50x faster in wall time, as every latency is 50x shorter. The
// pressure a workload puts on ARM is then the same at any time scale.
// Retry-After is in wall seconds (what clients wait), at least 1.
type throttler struct {
	mu       sync.Mutex
	disabled bool
	scale    float64 // simulated duration x scale = wall duration
	specs    map[string]BucketSpec
	buckets  map[string]*bucket // by bucket name + "/" + scope
	now      func() time.Time
}

func newThrottler(cfg ThrottlingConfig, timeScale float64) *throttler {
	t := &throttler{now: time.Now}
	t.configure(cfg, timeScale)
	return t
}

// configure resets every bucket to full with the sizes of cfg and refills
// scaled by timeScale.
func (t *throttler) configure(cfg ThrottlingConfig, timeScale float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.disabled = cfg.Disabled
	t.scale = timeScale
	if t.scale <= 0 {
		t.scale = 1
	}
	t.specs = DefaultBuckets()
	for k, v := range cfg.Buckets {
		t.specs[k] = v
	}
	t.buckets = map[string]*bucket{}
}

func (t *throttler) get(name, scope string) *bucket {
	key := name + "/" + scope
	b, ok := t.buckets[key]
	if !ok {
		spec := t.specs[name]
		b = &bucket{spec: spec, scale: t.scale, lim: rate.NewLimiter(rate.Limit(spec.RefillPerMinute/60/t.scale), spec.Size)}
		t.buckets[key] = b
	}
	return b
}

// throttled is a refusal: which bucket, and when to retry.
type throttled struct {
	bucket     string
	arm        bool
	retryAfter time.Duration
	allowed    int
	measured   int
	class      armClass
}

// admit draws one token from every bucket the request uses and sets the
// x-ms-ratelimit-remaining-* headers. It returns the refusal, if any.
func (t *throttler) admit(k throttleKey, h http.Header) *throttled {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.disabled {
		return nil
	}
	now := t.now()
	armName, header := BucketSubscriptionReads, "x-ms-ratelimit-remaining-subscription-reads"
	switch k.class {
	case armWrite:
		armName, header = BucketSubscriptionWrites, "x-ms-ratelimit-remaining-subscription-writes"
	case armDelete:
		armName, header = BucketSubscriptionDeletes, "x-ms-ratelimit-remaining-subscription-deletes"
	}
	ab := t.get(armName, k.subscription)
	if r := take(ab, now); r != nil {
		r.bucket, r.arm, r.class = armName, true, k.class
		return r
	}
	h.Set(header, strconv.Itoa(int(ab.lim.TokensAt(now))))
	var remaining []string
	for _, name := range k.rpBuckets {
		scope := k.subscription
		if strings.HasSuffix(name, "Resource3Min") {
			scope = strings.ToLower(k.resourceID)
		}
		b := t.get(name, scope)
		if r := take(b, now); r != nil {
			r.bucket = name
			return r
		}
		provider := "Microsoft.Compute"
		if strings.HasPrefix(name, "Network") {
			provider = "Microsoft.Network"
		}
		remaining = append(remaining, fmt.Sprintf("%s/%s;%d", provider, name, int(b.lim.TokensAt(now))))
	}
	if len(remaining) > 0 {
		h.Set("x-ms-ratelimit-remaining-resource", strings.Join(remaining, ","))
	}
	return nil
}

func take(b *bucket, now time.Time) *throttled {
	if b.lim.AllowN(now, 1) {
		b.rejected = 0
		return nil
	}
	b.rejected++
	deficit := 1 - b.lim.TokensAt(now)
	perSec := b.spec.RefillPerMinute / 60 / b.scale // wall time
	wait := time.Duration(math.Ceil(deficit/perSec)) * time.Second
	return &throttled{retryAfter: max(wait, time.Second), allowed: b.spec.Size, measured: b.spec.Size + b.rejected}
}

// write answers a throttled request the way ARM and the resource providers do.
func (r *throttled) write(w http.ResponseWriter, subscription string) {
	secs := int(math.Ceil(r.retryAfter.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	if r.arm {
		kind := [...]string{"read", "write", "delete"}[r.class]
		writeARMError(w, &ARMError{Status: http.StatusTooManyRequests, Code: "SubscriptionRequestsThrottled",
			Message: fmt.Sprintf("Number of '%s' requests for subscription '%s' actor 'azuresim' exceeded. Please try again after '%d' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information.", kind, subscription, secs)})
		return
	}
	detail, _ := json.Marshal(map[string]any{"operationgroup": r.bucket, "starttime": time.Now().UTC().Format(time.RFC3339),
		"endtime": time.Now().Add(r.retryAfter).UTC().Format(time.RFC3339), "allowedrequestcount": r.allowed, "measuredrequestcount": r.measured})
	provider := "Microsoft.Compute"
	if strings.HasPrefix(r.bucket, "Network") {
		provider = "Microsoft.Network"
	}
	w.Header().Set("x-ms-ratelimit-remaining-resource", fmt.Sprintf("%s/%s;0", provider, r.bucket))
	writeARMError(w, &ARMError{Status: http.StatusTooManyRequests, Code: "TooManyRequests",
		Message: "The server rejected the request because too many requests have been received for this subscription.",
		Details: []ARMErrorInfo{{Code: "TooManyRequests", Target: r.bucket, Message: string(detail)}}})
}
