package azuresim_test

import (
	"testing"

	"github.com/samber/lo"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim/nodeagent"
)

func TestNodeJoinStats(t *testing.T) {
	e := newEnv(t)
	subnet := e.network("eastus", "10.1.0.0/24")
	vm := e.mustCreateVM(vmSpec{name: "node-a", size: "Standard_D2s_v3", location: "eastus", zone: "1"}, subnet)
	id := lo.FromPtr(vm.ID)

	// A join error is not a join; the first registration is, later reports are not.
	e.srv.ReportNode(id, nodeagent.NodeReport{JoinError: "TLS bootstrap refused"})
	if _, ok := e.srv.Stats().Operations[azuresim.OpNodeJoin]; ok {
		t.Fatal("a node that could not join counted as joined")
	}
	e.srv.ReportNode(id, nodeagent.NodeReport{Node: "node-a"})
	e.srv.ReportNode(id, nodeagent.NodeReport{Node: "node-a"})
	joins := e.srv.Stats().Operations[azuresim.OpNodeJoin]
	if joins.Requests != 1 {
		t.Errorf("%d joins recorded, want 1", joins.Requests)
	}
}
