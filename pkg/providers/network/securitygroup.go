package network

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/samber/lo"
)

// aksSecurityGroupName is the NSG AKS creates in every node resource group
// (NAP's networksecuritygroup provider matches the same).
var aksSecurityGroupName = regexp.MustCompile(`(?i)^aks-agentpool-\d{8}-nsg$`)

// interfaceSecurityGroup is the NSG a NIC in sn carries. AKS puts the NSG
// on the subnet of the VNet it creates and on the NICs of nodes in a VNet
// of the user's (NAP's vminstance.go: the NSG goes on the NIC unless the
// VNet is AKS's). What decides here is the subnet itself: a subnet already
// associated with the AKS NSG needs it on no NIC; any other subnet gets it
// on every NIC.
func (p *DefaultProvider) interfaceSecurityGroup(ctx context.Context, sn subnetAssociations) (string, error) {
	if p.opts.SecurityGroupID == None {
		return "", nil
	}
	nsg := p.opts.SecurityGroupID
	if nsg == "" {
		var err error
		if nsg, err = p.aksSecurityGroup(ctx); err != nil {
			return "", err
		}
	}
	switch {
	case equalID(sn.securityGroup, nsg):
		return "", nil
	case nsg == "":
		return "", &ConfigError{Reason: "SecurityGroupNotFound", Message: fmt.Sprintf(
			"subnet %s is not associated with the cluster's network security group, and node resource group %s holds none named aks-agentpool-<number>-nsg for its NICs; "+
				"set --network-security-group-id to the NSG nodes must be behind, or to %q to create NICs without one", sn.id, p.opts.NodeResourceGroup, None)}
	}
	return nsg, nil
}

// aksSecurityGroup is the ID of the AKS NSG of the node resource group, ""
// when there is none, or a ConfigError when several match.
func (p *DefaultProvider) aksSecurityGroup(ctx context.Context) (string, error) {
	ids, err := p.securityGrp.get(ctx)
	if err != nil {
		return "", err
	}
	switch len(ids) {
	case 0:
		return "", nil
	case 1:
		return ids[0], nil
	}
	return "", &ConfigError{Reason: "SecurityGroupAmbiguous", Message: fmt.Sprintf(
		"node resource group %s holds %d NSGs named aks-agentpool-<number>-nsg (%s); set --network-security-group-id to the cluster's", p.opts.NodeResourceGroup, len(ids), strings.Join(names(ids), ", "))}
}

func (p *DefaultProvider) listSecurityGroups(ctx context.Context) ([]string, error) {
	pager := p.nsgs.NewListPager(p.opts.NodeResourceGroup, nil)
	var ids []string
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			discoveries.Inc(map[string]string{"resource": "networkSecurityGroups", "result": "error"})
			return nil, azureError(err, "listing the network security groups of node resource group "+p.opts.NodeResourceGroup, "Microsoft.Network/networkSecurityGroups/read", "the node resource group")
		}
		for _, nsg := range page.Value {
			if nsg != nil && nsg.ID != nil && aksSecurityGroupName.MatchString(lo.FromPtr(nsg.Name)) {
				ids = append(ids, *nsg.ID)
			}
		}
	}
	sort.Strings(ids)
	discoveries.Inc(map[string]string{"resource": "networkSecurityGroups", "result": "ok"})
	return ids, nil
}

func names(ids []string) []string {
	return lo.Map(ids, func(id string, _ int) string { n, _ := resourceName(id); return n })
}
