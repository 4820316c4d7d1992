package network

import "context"

// Static is a Provider with fixed answers: for callers that manage no
// cluster network (the instance provider's default, tests).
type Static struct {
	NIC       Interface
	Resources Resources
	Err       error
}

var _ Provider = Static{}

// StaticFor is a Static answering as a setup's row with no pools and no NSG.
func StaticFor(setup Setup) Static {
	return Static{NIC: Interface{Setup: setup.Setup, PodIPConfigurations: setup.PodIPConfigurations, IPForwarding: setup.IPForwarding}}
}

// Interface implements Provider.
func (s Static) Interface(context.Context, string) (*Interface, error) {
	if s.Err != nil {
		return nil, s.Err
	}
	nic := s.NIC
	return &nic, nil
}

// NodeResources implements Provider.
func (s Static) NodeResources(context.Context, string) (Resources, error) { return s.Resources, s.Err }
