package network

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/samber/lo"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// The load balancers AKS and cloud-provider-azure put in a node resource
// group, and their pools (kubernetes-sigs/cloud-provider-azure names the
// cluster's load balancers after the cluster name AKS gives it,
// "kubernetes", and "<name>-internal" for internal Services; AKS adds the
// outbound pool for outbound type loadBalancer; NAP's loadbalancer
// provider joins the same).
const (
	LoadBalancerName         = "kubernetes"
	InternalLoadBalancerName = "kubernetes-internal"
	OutboundPoolName         = "aksOutboundBackendPool"
	InboundPoolName          = "kubernetes"
	// IPv6 pools take a NIC's IPv6 IP configuration, which nodes here do
	// not have.
	outboundPoolNameIPv6 = "aksOutboundBackendPool-ipv6"
	inboundPoolNameIPv6  = "kubernetes-ipv6"
)

// backendPools are the pools every NIC joins: the override, or those
// discovered.
func (p *DefaultProvider) backendPools(ctx context.Context) ([]string, error) {
	if p.opts.BackendPoolIDs != nil {
		return lo.Without(p.opts.BackendPoolIDs, None), nil
	}
	return p.pools.get(ctx)
}

// listBackendPools reads the node resource group's load balancers and
// returns the NIC-based IPv4 pools of the cluster's two. A pool with IP
// addresses as members is IP-based (cloud-provider-azure's backend pool
// type nodeIP): cloud-provider-azure puts node IPs in it itself, and a NIC
// may not join it (Azure Load Balancer, "Backend pool management": a pool
// is configured by NIC or by IP address). No load balancer is no error:
// with outbound types other than loadBalancer AKS creates none, and nodes
// then join no pool, as on AKS.
func (p *DefaultProvider) listBackendPools(ctx context.Context) ([]string, error) {
	pager := p.lbs.NewListPager(p.opts.NodeResourceGroup, nil)
	var ids []string
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			discoveries.Inc(map[string]string{"resource": "loadBalancers", "result": "error"})
			return nil, azureError(err, "listing the load balancers of node resource group "+p.opts.NodeResourceGroup, "Microsoft.Network/loadBalancers/read", "the node resource group")
		}
		for _, lb := range page.Value {
			if lb == nil || lb.Properties == nil {
				continue
			}
			name := lo.FromPtr(lb.Name)
			if !strings.EqualFold(name, LoadBalancerName) && !strings.EqualFold(name, InternalLoadBalancerName) {
				continue
			}
			for _, pool := range lb.Properties.BackendAddressPools {
				if nicPool(pool) {
					ids = append(ids, *pool.ID)
				}
			}
		}
	}
	sort.Strings(ids)
	discoveries.Inc(map[string]string{"resource": "loadBalancers", "result": "ok"})
	log.FromContext(ctx).V(1).Info("read the cluster's load balancer backend pools", "resourceGroup", p.opts.NodeResourceGroup, "pools", describePools(ids))
	return ids, nil
}

// nicPool reports whether NICs join the pool: an IPv4 pool whose members
// are NICs, not IP addresses.
func nicPool(pool *armnetwork.BackendAddressPool) bool {
	if pool == nil || pool.ID == nil || pool.Name == nil {
		return false
	}
	if strings.EqualFold(*pool.Name, outboundPoolNameIPv6) || strings.EqualFold(*pool.Name, inboundPoolNameIPv6) {
		return false
	}
	if pool.Properties != nil {
		for _, a := range pool.Properties.LoadBalancerBackendAddresses {
			if a != nil && a.Properties != nil && lo.FromPtr(a.Properties.IPAddress) != "" {
				return false
			}
		}
	}
	return true
}

// describePools names pools for messages: load balancer/pool.
func describePools(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(lo.Map(ids, func(id string, _ int) string {
		parts := strings.Split(id, "/")
		if len(parts) < 3 {
			return id
		}
		return fmt.Sprintf("%s/%s", parts[len(parts)-3], parts[len(parts)-1])
	}), ", ")
}
