// Package hostgroup reads the dedicated host group of an AKSNodeClass: its
// location and zone, whether it places VMs automatically, and what its
// hosts can still take. A VM on a dedicated host must be in the group's zone
// and of a series a host of the group runs ("You can only deploy VMs of the
// VM series that the Dedicated Host SKU specifies", Azure Dedicated Host
// SKUs), and spot VMs cannot run there, so the instance types of such a
// NodeClass come from the group, not from the region.
package hostgroup

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/samber/lo"
	"k8s.io/utils/clock"
)

// TTL is how long a host group read is used: capacity moves as VMs come and
// go, and one GET per group a minute is nothing.
const TTL = time.Minute

// ErrNotFound is wrapped by Get when the host group does not exist.
var ErrNotFound = errors.New("dedicated host group not found")

// HostGroup is a dedicated host group and its hosts.
type HostGroup struct {
	ID       string
	Location string
	// Zones are the group's ARM zones ("1"); empty for a regional group.
	Zones []string
	// AutomaticPlacement is supportAutomaticPlacement: VMs name the group,
	// and Azure picks the host.
	AutomaticPlacement bool
	Hosts              []Host
}

// Host is a dedicated host with what it can still take.
type Host struct {
	Name string
	// Allocatable is availableCapacity.allocatableVMs: VM size → how many
	// more VMs of it the host takes.
	Allocatable map[string]int
}

// Runs reports whether some host of the group runs the VM size (it is in a
// host's allocatable list, full or not).
func (g *HostGroup) Runs(size string) bool {
	return lo.SomeBy(g.Hosts, func(h Host) bool {
		_, ok := h.Allocatable[size]
		return ok
	})
}

// Room is how many more VMs of the size the group's hosts take.
func (g *HostGroup) Room(size string) int {
	return lo.SumBy(g.Hosts, func(h Host) int { return h.Allocatable[size] })
}

// Sizes are the VM sizes some host of the group runs, sorted.
func (g *HostGroup) Sizes() []string {
	var out []string
	for _, h := range g.Hosts {
		for size := range h.Allocatable {
			out = append(out, size)
		}
	}
	out = lo.Uniq(out)
	sort.Strings(out)
	return out
}

// Provider reads host groups.
type Provider interface {
	// Get reads the group (at most once per TTL); an error wrapping
	// ErrNotFound when it does not exist.
	Get(ctx context.Context, id string) (*HostGroup, error)
	// Cached returns the group as last read, without calling Azure.
	Cached(id string) (*HostGroup, bool)
	// Generation changes whenever a read changes a group.
	Generation() uint64
}

// ClientFor returns the host groups client of a subscription.
type ClientFor func(subscriptionID string) (*armcompute.DedicatedHostGroupsClient, error)

// NewClientFor returns ClientFor with the credential and options of the
// controller's other clients.
func NewClientFor(cred azcore.TokenCredential, opts *arm.ClientOptions) ClientFor {
	var mu sync.Mutex
	clients := map[string]*armcompute.DedicatedHostGroupsClient{}
	return func(sub string) (*armcompute.DedicatedHostGroupsClient, error) {
		mu.Lock()
		defer mu.Unlock()
		if c, ok := clients[strings.ToLower(sub)]; ok {
			return c, nil
		}
		c, err := armcompute.NewDedicatedHostGroupsClient(sub, cred, opts)
		if err != nil {
			return nil, err
		}
		clients[strings.ToLower(sub)] = c
		return c, nil
	}
}

// DefaultProvider reads host groups through the SDK with their instance
// view (each host's available capacity), in one GET per group.
type DefaultProvider struct {
	clientFor  ClientFor
	clock      clock.Clock
	mu         sync.Mutex
	groups     map[string]entry // by lower-cased ID
	generation atomic.Uint64
}

type entry struct {
	group *HostGroup
	read  time.Time
}

var _ Provider = (*DefaultProvider)(nil)

// NewDefaultProvider returns a provider.
func NewDefaultProvider(clientFor ClientFor, clk clock.Clock) *DefaultProvider {
	return &DefaultProvider{clientFor: clientFor, clock: clk, groups: map[string]entry{}}
}

// Get implements Provider.
func (p *DefaultProvider) Get(ctx context.Context, id string) (*HostGroup, error) {
	p.mu.Lock()
	e, ok := p.groups[strings.ToLower(id)]
	p.mu.Unlock()
	if ok && p.clock.Since(e.read) < TTL {
		return e.group, nil
	}
	r, err := arm.ParseResourceID(id)
	if err != nil || !strings.EqualFold(r.ResourceType.String(), "Microsoft.Compute/hostGroups") {
		return nil, fmt.Errorf("%q is not a dedicated host group ID", id)
	}
	client, err := p.clientFor(r.SubscriptionID)
	if err != nil {
		return nil, err
	}
	resp, err := client.Get(ctx, r.ResourceGroupName, r.Name, &armcompute.DedicatedHostGroupsClientGetOptions{Expand: to.Ptr(armcompute.InstanceViewTypesInstanceView)})
	if err != nil {
		var re *azcore.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return nil, fmt.Errorf("reading dedicated host group %s: %w", id, err)
	}
	g := fromARM(&resp.DedicatedHostGroup, id)
	p.mu.Lock()
	if old, ok := p.groups[strings.ToLower(id)]; !ok || !equal(old.group, g) {
		p.generation.Add(1)
	}
	p.groups[strings.ToLower(id)] = entry{group: g, read: p.clock.Now()}
	p.mu.Unlock()
	return g, nil
}

// Cached implements Provider.
func (p *DefaultProvider) Cached(id string) (*HostGroup, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.groups[strings.ToLower(id)]
	return e.group, ok
}

// Generation implements Provider.
func (p *DefaultProvider) Generation() uint64 { return p.generation.Load() }

func fromARM(hg *armcompute.DedicatedHostGroup, id string) *HostGroup {
	g := &HostGroup{ID: id, Location: strings.ToLower(lo.FromPtr(hg.Location)), Zones: lo.FromSlicePtr(hg.Zones)}
	if pr := hg.Properties; pr != nil {
		g.AutomaticPlacement = lo.FromPtr(pr.SupportAutomaticPlacement)
		if iv := pr.InstanceView; iv != nil {
			for _, h := range iv.Hosts {
				if h == nil {
					continue
				}
				host := Host{Name: lo.FromPtr(h.Name), Allocatable: map[string]int{}}
				if h.AvailableCapacity != nil {
					for _, a := range h.AvailableCapacity.AllocatableVMs {
						if a != nil && a.VMSize != nil {
							host.Allocatable[*a.VMSize] = int(lo.FromPtr(a.Count))
						}
					}
				}
				g.Hosts = append(g.Hosts, host)
			}
		}
	}
	return g
}

func equal(a, b *HostGroup) bool {
	return fmt.Sprintf("%+v", *a) == fmt.Sprintf("%+v", *b)
}
