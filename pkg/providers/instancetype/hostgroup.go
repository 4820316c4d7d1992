package instancetype

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/providers/hostgroup"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
)

// A NodeClass with a dedicated host group launches only what the group can
// take: sizes of a series a host of the group runs ("You can only deploy VMs
// of the VM series that the Dedicated Host SKU specifies", Azure Dedicated
// Host SKUs), in the group's zone (a VM on a zonal host group is in its
// zone), never spot (the NodeClass CEL refuses spot settings with a host
// group; the offerings drop spot for NodePools that allow it).

func (p *DefaultProvider) hostGroupGeneration() uint64 {
	if p.hostGroups == nil {
		return 0
	}
	return p.hostGroups.Generation()
}

// readHostGroup reads the NodeClass's host group when its last read is
// older than hostgroup.TTL, so the room of its hosts follows the VMs placed
// there. A failed read keeps the group as last read (or none: nothing
// launches); the NodeClass status controller reports the failure.
func (p *DefaultProvider) readHostGroup(ctx context.Context, nc *v1beta1.AKSNodeClass) {
	if id := lo.FromPtr(nc.Spec.DedicatedHostGroupID); id != "" && p.hostGroups != nil {
		_, _ = p.hostGroups.Get(ctx, id) // an error is reported by the NodeClass status controller
	}
}

// hostGroupFor returns the NodeClass's host group as last read, and why the
// size cannot run on it. Without a host group reader (tests of other
// concerns) no size is left out.
func (p *DefaultProvider) hostGroupFor(s *sku.SKU, nc *v1beta1.AKSNodeClass) (*hostgroup.HostGroup, []string) {
	id := lo.FromPtr(nc.Spec.DedicatedHostGroupID)
	if id == "" || p.hostGroups == nil {
		return nil, nil
	}
	g, ok := p.hostGroups.Cached(id)
	if !ok {
		return nil, []string{"dedicatedHostGroupID: the host group has not been read yet"}
	}
	var reasons []string
	if !g.Runs(s.Name) {
		reasons = append(reasons, "dedicatedHostGroupID: no host of the group runs this size")
	} else if len(g.Zones) > 0 && len(hostGroupZones(g, s)) == 0 {
		reasons = append(reasons, fmt.Sprintf("dedicatedHostGroupID: the host group is in zone %s of %s, where the size is not offered", strings.Join(g.Zones, ","), p.opts.Region))
	}
	return g, reasons
}

// hostGroupZones are the zones a VM of the size can take on the group: the
// group's zones where the size is offered, or none for a regional group
// (its VMs are regional).
func hostGroupZones(g *hostgroup.HostGroup, s *sku.SKU) []string {
	if len(g.Zones) == 0 {
		return nil
	}
	return lo.Filter(g.Zones, func(z string, _ int) bool { return slices.Contains(s.Zones, z) })
}
