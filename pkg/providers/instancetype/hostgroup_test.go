package instancetype_test

import (
	"context"
	"testing"

	"github.com/samber/lo"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/providers/hostgroup"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instancetype"
)

// staticHostGroups is a hostgroup.Provider whose groups are set by the test.
type staticHostGroups struct {
	groups map[string]*hostgroup.HostGroup
	gen    uint64
}

func (s *staticHostGroups) Get(_ context.Context, id string) (*hostgroup.HostGroup, error) {
	g, ok := s.groups[id]
	if !ok {
		return nil, hostgroup.ErrNotFound
	}
	return g, nil
}
func (s *staticHostGroups) Cached(id string) (*hostgroup.HostGroup, bool) {
	g, ok := s.groups[id]
	return g, ok
}
func (s *staticHostGroups) Generation() uint64 { return s.gen }

const groupID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/hostGroups/hg"

func TestDedicatedHostGroupDecidesSizesZonesAndSpot(t *testing.T) {
	d4 := newSKU("Standard_D4s_v5", "standardDSv5Family", 4, 16)
	d4.Zones = []string{"1", "2", "3"}
	d8 := newSKU("Standard_D8s_v5", "standardDSv5Family", 8, 32)
	d8.Zones = []string{"1", "3"}
	e4 := newSKU("Standard_E4s_v5", "standardESv5Family", 4, 32)
	e4.Zones = []string{"1", "2", "3"}
	p, _, _ := newProvider(d4, d8, e4)
	groups := &staticHostGroups{groups: map[string]*hostgroup.HostGroup{groupID: {
		ID: groupID, Location: "eastus", Zones: []string{"2"}, AutomaticPlacement: true,
		// A Dsv5-Type1 host: it runs Dsv5 sizes; D8s_v5 is not offered in zone 2.
		Hosts: []hostgroup.Host{{Name: "h1", Allocatable: map[string]int{"Standard_D4s_v5": 25, "Standard_D8s_v5": 12}}},
	}}, gen: 1}
	p.WithHostGroups(groups)
	nc := nodeClass(func(nc *v1beta1.AKSNodeClass) { nc.Spec.DedicatedHostGroupID = lo.ToPtr(groupID) })

	its, err := p.List(context.Background(), nc)
	if err != nil {
		t.Fatal(err)
	}
	if names := lo.Map(its, func(it *cloudprovider.InstanceType, _ int) string { return it.Name }); len(names) != 1 || names[0] != "Standard_D4s_v5" {
		t.Fatalf("instance types %v, want Standard_D4s_v5 only", names)
	}
	for _, o := range its[0].Offerings {
		if o.CapacityType() != "on-demand" || o.Zone() != "eastus-2" || !o.Available {
			t.Errorf("offering %s/%s available=%v, want on-demand in the group's zone", o.Zone(), o.CapacityType(), o.Available)
		}
	}
	ds, err := p.Explain(context.Background(), nc)
	if err != nil {
		t.Fatal(err)
	}
	reasons := lo.SliceToMap(ds, func(d instancetype.Decision) (string, []string) { return d.Name, d.Reasons })
	if !lo.ContainsBy(reasons["Standard_E4s_v5"], func(r string) bool { return r == "dedicatedHostGroupID: no host of the group runs this size" }) {
		t.Errorf("E4s_v5 reasons %q", reasons["Standard_E4s_v5"])
	}
	if !lo.ContainsBy(reasons["Standard_D8s_v5"], func(r string) bool {
		return r == "dedicatedHostGroupID: the host group is in zone 2 of eastus, where the size is not offered"
	}) {
		t.Errorf("D8s_v5 reasons %q", reasons["Standard_D8s_v5"])
	}

	// The host filled up: the size stays, unavailable, so core prices it.
	groups.groups[groupID].Hosts[0].Allocatable["Standard_D4s_v5"] = 0
	groups.gen++
	its, err = p.List(context.Background(), nc)
	if err != nil {
		t.Fatal(err)
	}
	if len(its) != 1 || len(its[0].Offerings.Available()) != 0 {
		t.Errorf("a full host group still offers %v", its)
	}

	// A group not read yet launches nothing.
	unread := nodeClass(func(nc *v1beta1.AKSNodeClass) { nc.Spec.DedicatedHostGroupID = lo.ToPtr(groupID + "-unread") })
	if its, err := p.List(context.Background(), unread); err != nil || len(its) != 0 {
		t.Errorf("unread group: %d instance types, %v", len(its), err)
	}
}
