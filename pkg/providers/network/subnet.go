package network

import (
	"context"
	"fmt"

	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/providers/subnet"
)

// subnetAssociations are a node subnet's NSG and route table.
type subnetAssociations struct {
	id, securityGroup, routeTable string
}

// subnet reads a node subnet's associations, reusing them for a fifth of
// the refresh period: a user who fixes an association sees the NodeClass
// follow within a minute.
func (p *DefaultProvider) subnet(ctx context.Context, subnetID string) (subnetAssociations, error) {
	p.mu.Lock()
	c, ok := p.subnetInfo[subnetID]
	if !ok {
		c = newCached(p.opts.Clock, p.opts.Refresh/5, func(ctx context.Context) (subnetAssociations, error) { return p.readSubnet(ctx, subnetID) })
		p.subnetInfo[subnetID] = c
	}
	p.mu.Unlock()
	return c.get(ctx)
}

func (p *DefaultProvider) readSubnet(ctx context.Context, subnetID string) (subnetAssociations, error) {
	id, err := subnet.ParseID(subnetID)
	if err != nil {
		return subnetAssociations{}, &ConfigError{Reason: "SubnetInvalid", Message: err.Error()}
	}
	resp, err := p.subnets.Get(ctx, id.ResourceGroup, id.VNet, id.Subnet, nil)
	if err != nil {
		discoveries.Inc(map[string]string{"resource": "subnet", "result": "error"})
		return subnetAssociations{}, azureError(err, "reading subnet "+subnetID, "Microsoft.Network/virtualNetworks/subnets/read", "the subnet")
	}
	discoveries.Inc(map[string]string{"resource": "subnet", "result": "ok"})
	out := subnetAssociations{id: subnetID}
	if pr := resp.Properties; pr != nil {
		if pr.NetworkSecurityGroup != nil {
			out.securityGroup = lo.FromPtr(pr.NetworkSecurityGroup.ID)
		}
		if pr.RouteTable != nil {
			out.routeTable = lo.FromPtr(pr.RouteTable.ID)
		}
	}
	return out, nil
}

// String describes the associations for logs.
func (s subnetAssociations) String() string {
	return fmt.Sprintf("subnet %s (NSG %q, route table %q)", s.id, s.securityGroup, s.routeTable)
}
