package azuresim

import (
	"math"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Operation names used in stats, error rules and throttling.
const (
	OpPutVM             = "PutVM"
	OpGetVM             = "GetVM"
	OpDeleteVM          = "DeleteVM"
	OpListVM            = "ListVM"
	OpListVMAll         = "ListVMAll"
	OpInstanceView      = "GetVMInstanceView"
	OpPatchVM           = "PatchVM"
	OpPatchNIC          = "PatchNIC"
	OpPutVMExtension    = "PutVMExtension"
	OpGetVMExtension    = "GetVMExtension"
	OpDeleteVMExtension = "DeleteVMExtension"
	OpGetOperation      = "GetOperation"
	OpListSKUs          = "ListSKUs"
	OpListUsages        = "ListUsages"
	OpPutNIC            = "PutNIC"
	OpGetNIC            = "GetNIC"
	OpDeleteNIC         = "DeleteNIC"
	OpListNIC           = "ListNIC"
	OpListNICAll        = "ListNICAll"
	OpPutVNet           = "PutVNet"
	OpGetVNet           = "GetVNet"
	OpVNetUsages        = "ListVNetUsages"
	OpPutSubnet         = "PutSubnet"
	OpGetSubnet         = "GetSubnet"
	// Load balancers, network security groups and route tables.
	OpPutLoadBalancer   = "PutLoadBalancer"
	OpGetLoadBalancer   = "GetLoadBalancer"
	OpListLoadBalancers = "ListLoadBalancers"
	OpGetBackendPool    = "GetLoadBalancerBackendAddressPool"
	OpPutNSG            = "PutNetworkSecurityGroup"
	OpGetNSG            = "GetNetworkSecurityGroup"
	OpListNSGs          = "ListNetworkSecurityGroups"
	OpPutRouteTable     = "PutRouteTable"
	OpGetRouteTable     = "GetRouteTable"
	OpListRouteTables   = "ListRouteTables"
	OpPutHostGroup      = "PutHostGroup"
	OpGetHostGroup      = "GetHostGroup"
	// Dedicated hosts of a host group.
	OpPutDedicatedHost   = "PutDedicatedHost"
	OpGetDedicatedHost   = "GetDedicatedHost"
	OpListDedicatedHosts = "ListDedicatedHosts"
	OpGetDisk            = "GetDisk"
	OpListDisks          = "ListDisks"
	OpDeleteDisk         = "DeleteDisk"
	OpRetailPrices       = "RetailPrices"
	// Container Instances.
	OpPutContainerGroup    = "PutContainerGroup"
	OpGetContainerGroup    = "GetContainerGroup"
	OpDeleteContainerGroup = "DeleteContainerGroup"
	OpListContainerGroups  = "ListContainerGroups"
	OpContainerLogs        = "ListContainerLogs"
	OpListACIUsages        = "ListContainerInstanceUsages"
	// Community gallery reads (the AKS node images).
	OpGetGalleryImage          = "GetCommunityGalleryImage"
	OpListGalleryImageVersions = "ListCommunityGalleryImageVersions"
	OpGetGalleryImageVersion   = "GetCommunityGalleryImageVersion"
	OpAdmin                    = "Admin"
	// OpNodeJoin is not a request: its "latency" is the wall time from a
	// VM's provisioning succeeding to the node agent registering its Node.
	OpNodeJoin = "NodeJoin"
	OpUnknown  = "Unknown"
)

func knownOperation(op string) bool {
	switch op {
	case OpPutVM, OpGetVM, OpDeleteVM, OpListVM, OpListVMAll, OpInstanceView, OpGetOperation, OpListSKUs, OpListUsages,
		OpPutNIC, OpGetNIC, OpDeleteNIC, OpListNIC, OpListNICAll, OpPutVNet, OpGetVNet, OpVNetUsages, OpPutSubnet, OpGetSubnet, OpRetailPrices,
		OpGetGalleryImage, OpListGalleryImageVersions, OpGetGalleryImageVersion, OpPutVMExtension,
		OpPutContainerGroup, OpGetContainerGroup, OpDeleteContainerGroup, OpListContainerGroups, OpContainerLogs, OpListACIUsages:
		return true
	}
	return false
}

// histogram buckets latencies on a log scale from 10µs to ~100s, precise to
// ~10%, which is plenty for p50/p99 in a benchmark report.
const (
	histFloor  = 10 * time.Microsecond
	histGrowth = 1.1
	histSize   = 170
)

type opStats struct {
	requests  int64
	throttled int64
	statuses  map[int]int64
	sum       time.Duration
	max       time.Duration
	hist      [histSize]int64
}

type stats struct {
	mu    sync.Mutex
	since time.Time
	ops   map[string]*opStats
}

func newStats() *stats { return &stats{since: time.Now(), ops: map[string]*opStats{}} }

func (s *stats) record(op string, status int, d time.Duration) {
	i := 0
	if d > histFloor {
		i = min(int(math.Log(float64(d)/float64(histFloor))/math.Log(histGrowth))+1, histSize-1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.ops[op]
	if !ok {
		o = &opStats{statuses: map[int]int64{}}
		s.ops[op] = o
	}
	o.requests++
	o.statuses[status]++
	if status == 429 {
		o.throttled++
	}
	o.sum += d
	o.max = max(o.max, d)
	o.hist[i]++
}

func (s *stats) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.since, s.ops = time.Now(), map[string]*opStats{}
}

// OperationStats is one operation's row in GET /admin/stats.
type OperationStats struct {
	Requests    int64            `json:"requests"`
	Throttled   int64            `json:"throttled"`
	Errors      int64            `json:"errors"` // 4xx and 5xx other than 429
	StatusCodes map[string]int64 `json:"statusCodes"`
	MeanMs      float64          `json:"meanMs"`
	P50Ms       float64          `json:"p50Ms"`
	P90Ms       float64          `json:"p90Ms"`
	P99Ms       float64          `json:"p99Ms"`
	MaxMs       float64          `json:"maxMs"`
}

// Stats is the body of GET /admin/stats: server-side handling time per operation.
type Stats struct {
	Since      time.Time                 `json:"since"`
	Operations map[string]OperationStats `json:"operations"`
}

func (s *stats) snapshot() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Stats{Since: s.since, Operations: map[string]OperationStats{}}
	for name, o := range s.ops {
		row := OperationStats{Requests: o.requests, Throttled: o.throttled, StatusCodes: map[string]int64{},
			MeanMs: ms(o.sum) / float64(max(o.requests, 1)), MaxMs: ms(o.max)}
		codes := make([]int, 0, len(o.statuses))
		for c := range o.statuses {
			codes = append(codes, c)
		}
		sort.Ints(codes)
		for _, c := range codes {
			row.StatusCodes[strconv.Itoa(c)] = o.statuses[c]
			if c >= 400 && c != 429 {
				row.Errors += o.statuses[c]
			}
		}
		row.P50Ms, row.P90Ms, row.P99Ms = o.quantile(0.5), o.quantile(0.9), o.quantile(0.99)
		out.Operations[name] = row
	}
	return out
}

func (o *opStats) quantile(q float64) float64 {
	target := int64(math.Ceil(q * float64(o.requests)))
	var seen int64
	for i, n := range o.hist {
		seen += n
		if seen >= target && n > 0 {
			upper := float64(histFloor) * math.Pow(histGrowth, float64(i))
			return math.Min(upper, float64(o.max)) / 1e6
		}
	}
	return ms(o.max)
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
