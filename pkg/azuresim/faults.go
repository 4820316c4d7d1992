package azuresim

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Duration is a time.Duration written as "30s" in YAML and JSON.
type Duration struct{ time.Duration }

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// Latency is a distribution of simulated durations, before the time scale.
type Latency struct {
	// Distribution is constant (Mean), uniform (Min..Max), normal (Mean,
	// StdDev, clamped to Min..Max) or lognormal (median Mean, StdDev as the
	// spread of the underlying normal in the same unit, clamped to Min..Max).
	Distribution string   `json:"distribution,omitempty"`
	Min          Duration `json:"min,omitzero"`
	Max          Duration `json:"max,omitzero"`
	Mean         Duration `json:"mean,omitzero"`
	StdDev       Duration `json:"stddev,omitzero"`
}

func (l Latency) sample(r *rand.Rand) time.Duration {
	var d time.Duration
	switch l.Distribution {
	case "", "constant":
		return l.Mean.Duration
	case "uniform":
		if l.Max.Duration <= l.Min.Duration {
			return l.Min.Duration
		}
		return l.Min.Duration + time.Duration(r.Int64N(int64(l.Max.Duration-l.Min.Duration)))
	case "normal":
		d = time.Duration(r.NormFloat64()*float64(l.StdDev.Duration) + float64(l.Mean.Duration))
	case "lognormal":
		sigma := 0.0
		if l.Mean.Duration > 0 {
			sigma = float64(l.StdDev.Duration) / float64(l.Mean.Duration)
		}
		d = time.Duration(float64(l.Mean.Duration) * math.Exp(r.NormFloat64()*sigma))
	}
	d = max(d, l.Min.Duration)
	if l.Max.Duration > 0 {
		d = min(d, l.Max.Duration)
	}
	return max(d, 0)
}

func (l Latency) validate(name string) error {
	switch l.Distribution {
	case "", "constant", "uniform", "normal", "lognormal":
	default:
		return fmt.Errorf("latency.%s: unknown distribution %q (constant, uniform, normal, lognormal)", name, l.Distribution)
	}
	if l.Min.Duration < 0 || l.Max.Duration < 0 || l.Mean.Duration < 0 || l.StdDev.Duration < 0 {
		return fmt.Errorf("latency.%s: negative duration", name)
	}
	return nil
}

// LatencyConfig holds the latency of each long-running operation.
type LatencyConfig struct {
	VMCreate  Latency `json:"vmCreate"`
	VMDelete  Latency `json:"vmDelete"`
	NICCreate Latency `json:"nicCreate"`
	NICDelete Latency `json:"nicDelete"`
}

// FamilyQuota sets one family's vCPU limit in one location ("" = every location).
type FamilyQuota struct {
	Location string `json:"location,omitempty"`
	Family   string `json:"family"`
	Limit    int    `json:"limit"`
}

// QuotaConfig is the subscription's vCPU quota.
type QuotaConfig struct {
	RegionalLimit      int           `json:"regionalLimit"`      // "Total Regional vCPUs" (cores)
	DefaultFamilyLimit int           `json:"defaultFamilyLimit"` // every family without an entry in Families
	LowPriorityLimit   int           `json:"lowPriorityLimit"`   // "Total Regional Low-priority vCPUs" (spot)
	Families           []FamilyQuota `json:"families,omitempty"`
}

// CapacityRule caps how many VMs of a SKU can be allocated in a zone for a
// capacity type. Empty fields match anything; Zone "regional" matches
// non-zonal placements only.
type CapacityRule struct {
	SKU          string `json:"sku,omitempty"`
	Location     string `json:"location,omitempty"`
	Zone         string `json:"zone,omitempty"`
	CapacityType string `json:"capacityType,omitempty"` // on-demand | spot
	Count        int    `json:"count"`
}

func (c CapacityRule) matches(sku, location, zone, capacityType string) bool {
	zoneOK := c.Zone == "" || c.Zone == zone || (c.Zone == "regional" && zone == "")
	return (c.SKU == "" || strings.EqualFold(c.SKU, sku)) && (c.Location == "" || strings.EqualFold(c.Location, location)) &&
		zoneOK && (c.CapacityType == "" || c.CapacityType == capacityType)
}

// ErrorRule injects a failure into an operation (see Operation* constants).
// Async failures are reported by the long-running operation, as Azure
// reports allocation failures; sync failures answer the request itself.
type ErrorRule struct {
	Operation    string  `json:"operation"`
	Code         string  `json:"code"`
	Message      string  `json:"message,omitempty"`
	Status       int     `json:"status,omitempty"`
	Async        bool    `json:"async,omitempty"`
	Probability  float64 `json:"probability,omitempty"` // 0 means 1
	Count        int     `json:"count,omitempty"`       // times to fire; 0 = unlimited
	SKU          string  `json:"sku,omitempty"`
	Location     string  `json:"location,omitempty"`
	Zone         string  `json:"zone,omitempty"`
	CapacityType string  `json:"capacityType,omitempty"`
}

func (e ErrorRule) matches(op, sku, location, zone, capacityType string) bool {
	return strings.EqualFold(e.Operation, op) && (e.SKU == "" || strings.EqualFold(e.SKU, sku)) &&
		(e.Location == "" || strings.EqualFold(e.Location, location)) && (e.Zone == "" || e.Zone == zone) &&
		(e.CapacityType == "" || e.CapacityType == capacityType)
}

// SubnetRule caps the number of usable IPs in a subnet below what its
// prefix allows, to provoke SubnetIsFull without creating hundreds of NICs.
type SubnetRule struct {
	VNet         string `json:"vnet,omitempty"`
	Subnet       string `json:"subnet"`
	AvailableIPs int    `json:"availableIPs"`
}

// ThrottlingConfig switches ARM throttling and lets a bucket be resized.
type ThrottlingConfig struct {
	Disabled bool `json:"disabled,omitempty"`
	// Buckets overrides bucket sizes and refills by name (see DefaultBuckets).
	Buckets map[string]BucketSpec `json:"buckets,omitempty"`
}

// SpotConfig drives spot evictions.
type SpotConfig struct {
	// EvictionRatePerHour is the chance per running spot VM per simulated
	// hour of being evicted.
	EvictionRatePerHour float64 `json:"evictionRatePerHour,omitempty"`
	// NoticePeriod is the time between the Preempt notice and deletion
	// (Azure promises at least 30s).
	NoticePeriod Duration `json:"noticePeriod,omitzero"`
}

// Config is the whole fault model. It is read from YAML (or JSON) at start
// and can be replaced or amended through the admin API.
type Config struct {
	// TimeScale multiplies every simulated duration (latencies, notice
	// periods, list delay, eviction clock); 0.01 runs the world 100x faster.
	TimeScale  float64          `json:"timeScale"`
	Latency    LatencyConfig    `json:"latency"`
	Quota      QuotaConfig      `json:"quota"`
	Capacity   []CapacityRule   `json:"capacity,omitempty"`
	Errors     []ErrorRule      `json:"errors,omitempty"`
	Subnets    []SubnetRule     `json:"subnets,omitempty"`
	Throttling ThrottlingConfig `json:"throttling"`
	Spot       SpotConfig       `json:"spot"`
	// ListDelay is how long a new VM stays out of LIST results (ARM is
	// eventually consistent; GET sees it at once).
	ListDelay Duration `json:"listDelay,omitzero"`
	// UserAssignedIdentities are the resource IDs of the user-assigned
	// managed identities that exist; a VM can only be given these
	// (validateIdentityLocked).
	UserAssignedIdentities []string `json:"userAssignedIdentities,omitempty"`
}

// DefaultConfig is a healthy, generous subscription with Azure-like latencies.
func DefaultConfig() Config {
	return Config{
		TimeScale: 1,
		Latency: LatencyConfig{
			VMCreate:  Latency{Distribution: "lognormal", Mean: Duration{35 * time.Second}, StdDev: Duration{10 * time.Second}, Min: Duration{15 * time.Second}, Max: Duration{3 * time.Minute}},
			VMDelete:  Latency{Distribution: "uniform", Min: Duration{20 * time.Second}, Max: Duration{60 * time.Second}},
			NICCreate: Latency{Distribution: "constant", Mean: Duration{time.Second}},
			NICDelete: Latency{Distribution: "constant", Mean: Duration{2 * time.Second}},
		},
		Quota:     QuotaConfig{RegionalLimit: 10000, DefaultFamilyLimit: 5000, LowPriorityLimit: 5000},
		Spot:      SpotConfig{NoticePeriod: Duration{30 * time.Second}},
		ListDelay: Duration{2 * time.Second},
	}
}

// LoadConfig reads a YAML or JSON fault file over DefaultConfig.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	raw, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	if err := yaml.UnmarshalStrict(raw, &cfg); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, cfg.Validate()
}

// Validate rejects configurations the simulator cannot honour.
func (c Config) Validate() error {
	if c.TimeScale <= 0 {
		return fmt.Errorf("timeScale must be > 0, got %v", c.TimeScale)
	}
	for name, l := range map[string]Latency{"vmCreate": c.Latency.VMCreate, "vmDelete": c.Latency.VMDelete, "nicCreate": c.Latency.NICCreate, "nicDelete": c.Latency.NICDelete} {
		if err := l.validate(name); err != nil {
			return err
		}
	}
	for i, id := range c.UserAssignedIdentities {
		if !userAssignedIdentityID.MatchString(id) {
			return fmt.Errorf("userAssignedIdentities[%d]: %q is not a user-assigned identity resource ID", i, id)
		}
	}
	if c.Quota.RegionalLimit < 0 || c.Quota.DefaultFamilyLimit < 0 || c.Quota.LowPriorityLimit < 0 {
		return fmt.Errorf("quota limits must be >= 0")
	}
	for i, r := range c.Errors {
		if r.Operation == "" || r.Code == "" {
			return fmt.Errorf("errors[%d]: operation and code are required", i)
		}
		if !knownOperation(r.Operation) {
			return fmt.Errorf("errors[%d]: unknown operation %q", i, r.Operation)
		}
		if r.Async && r.Operation != OpPutVM && r.Operation != OpDeleteVM {
			return fmt.Errorf("errors[%d]: async errors apply to %s and %s only", i, OpPutVM, OpDeleteVM)
		}
		if r.Probability < 0 || r.Probability > 1 {
			return fmt.Errorf("errors[%d]: probability must be within [0,1]", i)
		}
	}
	for i, r := range c.Capacity {
		if r.Count < 0 {
			return fmt.Errorf("capacity[%d]: count must be >= 0", i)
		}
		if r.CapacityType != "" && r.CapacityType != "spot" && r.CapacityType != "on-demand" {
			return fmt.Errorf("capacity[%d]: capacityType must be spot or on-demand", i)
		}
	}
	if c.Spot.EvictionRatePerHour < 0 {
		return fmt.Errorf("spot.evictionRatePerHour must be >= 0")
	}
	for name, b := range c.Throttling.Buckets {
		if _, ok := DefaultBuckets()[name]; !ok {
			return fmt.Errorf("throttling.buckets: unknown bucket %q", name)
		}
		if b.Size <= 0 || b.RefillPerMinute <= 0 {
			return fmt.Errorf("throttling.buckets.%s: size and refillPerMinute must be > 0", name)
		}
	}
	return nil
}

func (c Config) scale(d time.Duration) time.Duration {
	return time.Duration(float64(d) * c.TimeScale)
}

func (c Config) familyLimit(location, family string) int {
	limit := c.Quota.DefaultFamilyLimit
	for _, f := range c.Quota.Families {
		if strings.EqualFold(f.Family, family) {
			if f.Location == "" {
				limit = f.Limit
			} else if strings.EqualFold(f.Location, location) {
				return f.Limit
			}
		}
	}
	return limit
}
