package network

import (
	"context"
	"fmt"
	"regexp"
	"sort"

	"github.com/samber/lo"
)

// aksRouteTableName is the route table AKS creates for kubenet in the node
// resource group (the routeTableName of AKS nodes' cloud configuration).
var aksRouteTableName = regexp.MustCompile(`(?i)^aks-agentpool-\d{8}-routetable$`)

// routeTable is the route table a kubenet node subnet routes pods through:
// the subnet must be associated with one ("Bring your own subnet and route
// table with kubenet": the route table must be associated with the
// subnet, learn.microsoft.com/azure/aks/configure-kubenet), and with the
// one the options name when they name one.
func (p *DefaultProvider) routeTable(ctx context.Context, sn subnetAssociations) (string, error) {
	if sn.routeTable == "" {
		hint := "associate it with the cluster's route table"
		if rts, err := p.routeTables.get(ctx); err == nil && len(rts) == 1 {
			hint = fmt.Sprintf("associate it with %s (az network vnet subnet update --ids %s --route-table %s)", rts[0], sn.id, rts[0])
		}
		return "", &ConfigError{Reason: "RouteTableNotAssociated", Message: fmt.Sprintf(
			"kubenet routes pods between nodes through a route table, and subnet %s is associated with none; %s", sn.id, hint)}
	}
	if p.opts.RouteTableID != "" && !equalID(p.opts.RouteTableID, sn.routeTable) {
		return "", &ConfigError{Reason: "RouteTableMismatch", Message: fmt.Sprintf(
			"subnet %s is associated with route table %s, not with %s (--route-table-id): nodes would route pods through a table cloud-provider-azure does not program", sn.id, sn.routeTable, p.opts.RouteTableID)}
	}
	return sn.routeTable, nil
}

func (p *DefaultProvider) listRouteTables(ctx context.Context) ([]string, error) {
	pager := p.rts.NewListPager(p.opts.NodeResourceGroup, nil)
	var ids []string
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			discoveries.Inc(map[string]string{"resource": "routeTables", "result": "error"})
			return nil, azureError(err, "listing the route tables of node resource group "+p.opts.NodeResourceGroup, "Microsoft.Network/routeTables/read", "the node resource group")
		}
		for _, rt := range page.Value {
			if rt != nil && rt.ID != nil && aksRouteTableName.MatchString(lo.FromPtr(rt.Name)) {
				ids = append(ids, *rt.ID)
			}
		}
	}
	sort.Strings(ids)
	discoveries.Inc(map[string]string{"resource": "routeTables", "result": "ok"})
	return ids, nil
}
