// Package subnet reads a node subnet and how many IP addresses it has left,
// for the AKSNodeClass status (SubnetsReady) and for NIC placement.
package subnet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

// ReservedIPs are the addresses Azure keeps in every subnet: network,
// broadcast and three for the platform.
const ReservedIPs = 5

// Subnet is a subnet with its IP usage.
type Subnet struct {
	ID                            string
	SubscriptionID, ResourceGroup string
	VNet, Name                    string
	AddressPrefix                 string
	// Capacity is the number of usable IPs, UsedIPs those allocated, and
	// AvailableIPs what is left.
	Capacity, UsedIPs, AvailableIPs int64
	ProvisioningState               string
}

// ID is a parsed subnet resource ID.
type ID struct {
	SubscriptionID, ResourceGroup, VNet, Subnet string
}

// ParseID parses /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>.
func ParseID(id string) (ID, error) {
	r, err := arm.ParseResourceID(id)
	if err != nil || !strings.EqualFold(r.ResourceType.String(), "Microsoft.Network/virtualNetworks/subnets") || r.Parent == nil ||
		r.Name == "" || r.Parent.Name == "" || r.ResourceGroupName == "" || r.SubscriptionID == "" {
		return ID{}, fmt.Errorf("subnet ID %q is not /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>", id)
	}
	return ID{SubscriptionID: r.SubscriptionID, ResourceGroup: r.ResourceGroupName, VNet: r.Parent.Name, Subnet: r.Name}, nil
}

// ErrNotFound is wrapped by Get when the virtual network or subnet does not exist.
var ErrNotFound = errors.New("subnet not found")

// Provider reads subnets.
type Provider interface {
	// Get returns the subnet with its IP usage; an error wrapping
	// ErrNotFound when it does not exist.
	Get(ctx context.Context, subnetID string) (*Subnet, error)
}

// SubnetsAPI is the subset of *armnetwork.SubnetsClient the provider uses.
type SubnetsAPI interface {
	Get(ctx context.Context, resourceGroupName string, virtualNetworkName string, subnetName string, options *armnetwork.SubnetsClientGetOptions) (armnetwork.SubnetsClientGetResponse, error)
}

// VirtualNetworksAPI is the subset of *armnetwork.VirtualNetworksClient the
// provider uses.
type VirtualNetworksAPI interface {
	NewListUsagePager(resourceGroupName string, virtualNetworkName string, options *armnetwork.VirtualNetworksClientListUsageOptions) *runtime.Pager[armnetwork.VirtualNetworksClientListUsageResponse]
}

// DefaultProvider reads subnets of one subscription (the clients').
type DefaultProvider struct {
	subscriptionID string
	subnets        SubnetsAPI
	vnets          VirtualNetworksAPI
}

// NewDefaultProvider returns a provider for subnets in subscriptionID.
func NewDefaultProvider(subscriptionID string, subnets SubnetsAPI, vnets VirtualNetworksAPI) *DefaultProvider {
	return &DefaultProvider{subscriptionID: subscriptionID, subnets: subnets, vnets: vnets}
}

// Get implements Provider. Usage comes from the virtual network's usages
// API (what Azure counts, limits included); when it has no entry for the
// subnet, from the prefix and the subnet's IP configurations.
func (p *DefaultProvider) Get(ctx context.Context, subnetID string) (*Subnet, error) {
	id, err := ParseID(subnetID)
	if err != nil {
		return nil, err
	}
	if p.subscriptionID != "" && !strings.EqualFold(id.SubscriptionID, p.subscriptionID) {
		return nil, fmt.Errorf("subnet %s is in subscription %s; the controller's clients are for %s", subnetID, id.SubscriptionID, p.subscriptionID)
	}
	resp, err := p.subnets.Get(ctx, id.ResourceGroup, id.VNet, id.Subnet, nil)
	if err != nil {
		var re *azcore.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("%s: %w", subnetID, ErrNotFound)
		}
		return nil, fmt.Errorf("getting subnet %s: %w", subnetID, err)
	}
	s := &Subnet{ID: subnetID, SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup, VNet: id.VNet, Name: id.Subnet}
	if resp.ID != nil {
		s.ID = *resp.ID
	}
	if pr := resp.Properties; pr != nil {
		switch {
		case pr.AddressPrefix != nil:
			s.AddressPrefix = *pr.AddressPrefix
		case len(pr.AddressPrefixes) > 0 && pr.AddressPrefixes[0] != nil:
			s.AddressPrefix = *pr.AddressPrefixes[0]
		}
		if pr.ProvisioningState != nil {
			s.ProvisioningState = string(*pr.ProvisioningState)
		}
		s.UsedIPs = int64(len(pr.IPConfigurations))
	}
	if prefix, err := netip.ParsePrefix(s.AddressPrefix); err == nil && prefix.Addr().Is4() {
		s.Capacity = max(0, int64(1)<<(32-prefix.Bits())-ReservedIPs)
	}
	if p.vnets != nil {
		if used, limit, ok, err := p.usage(ctx, id, s.ID); err != nil {
			return nil, err
		} else if ok {
			s.UsedIPs, s.Capacity = used, limit
		}
	}
	s.AvailableIPs = max(0, s.Capacity-s.UsedIPs)
	return s, nil
}

func (p *DefaultProvider) usage(ctx context.Context, id ID, fullID string) (used, limit int64, ok bool, err error) {
	pager := p.vnets.NewListUsagePager(id.ResourceGroup, id.VNet, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return 0, 0, false, fmt.Errorf("reading IP usage of virtual network %s: %w", id.VNet, err)
		}
		for _, u := range page.Value {
			if u == nil || u.ID == nil || !strings.EqualFold(*u.ID, fullID) || u.CurrentValue == nil || u.Limit == nil {
				continue
			}
			return int64(*u.CurrentValue), int64(*u.Limit), true, nil
		}
	}
	return 0, 0, false, nil
}

// FullMarks remembers subnets that Azure refused a network interface for
// lack of addresses (SubnetIsFull, InsufficientSubnetSize), and tells the
// AKSNodeClass status controller at once, so the NodeClass stops being
// Ready and karpenter core stops creating NodeClaims that would fail the
// same way, without waiting for the next periodic status check.
type FullMarks struct {
	mu     sync.Mutex
	clock  clock.Clock
	ttl    time.Duration
	until  map[string]time.Time
	events chan event.GenericEvent
}

// FullMarkTTL is how long a refusal counts: after it the subnet's usage
// alone decides, and a new refusal marks it again.
const FullMarkTTL = 2 * time.Minute

// NewFullMarks returns empty marks.
func NewFullMarks(clk clock.Clock) *FullMarks {
	return &FullMarks{clock: clk, ttl: FullMarkTTL, until: map[string]time.Time{}, events: make(chan event.GenericEvent, 16)}
}

// MarkFull records that subnetID refused an address now.
func (m *FullMarks) MarkFull(subnetID string) {
	m.mu.Lock()
	m.until[strings.ToLower(subnetID)] = m.clock.Now().Add(m.ttl)
	m.mu.Unlock()
	select {
	case m.events <- event.GenericEvent{}:
	default: // a notification is already pending; it covers this one
	}
}

// Full reports whether subnetID refused an address within the TTL.
func (m *FullMarks) Full(subnetID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	until, ok := m.until[strings.ToLower(subnetID)]
	return ok && m.clock.Now().Before(until)
}

// Events delivers one event per burst of MarkFull calls.
func (m *FullMarks) Events() <-chan event.GenericEvent { return m.events }
