package containerinstance

import (
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	"github.com/samber/lo"
)

// Container group provisioning states and container states as ACI reports
// them (the 2023-05-01 specification: ContainerGroupPropertiesProperties.
// provisioningState, ContainerState.state).
const (
	ProvisioningPending   = "Pending"
	ProvisioningCreating  = "Creating"
	ProvisioningSucceeded = "Succeeded"
	ProvisioningFailed    = "Failed"
	ProvisioningDeleting  = "Deleting"

	ContainerRunning    = "Running"
	ContainerWaiting    = "Waiting"
	ContainerTerminated = "Terminated"
)

// GroupStatus is what a container group says about its pod: the virtual
// node reports it as the pod's status.
type GroupStatus struct {
	ProvisioningState string
	// State is the group's instance view state (Pending, Running, Stopped…).
	State      string
	PrivateIP  string
	Containers map[string]ContainerStatus
}

// ContainerStatus is one container's current state.
type ContainerStatus struct {
	State        string
	DetailStatus string
	ExitCode     *int32
	StartTime    *time.Time
	FinishTime   *time.Time
	RestartCount int32
}

// Running reports whether the group is provisioned and every container runs.
func (s GroupStatus) Running() bool {
	if s.ProvisioningState != ProvisioningSucceeded || len(s.Containers) == 0 {
		return false
	}
	for _, c := range s.Containers {
		if c.State != ContainerRunning {
			return false
		}
	}
	return true
}

// StatusOf reads a group's status from Get's answer.
func StatusOf(g *armcontainerinstance.ContainerGroup) GroupStatus {
	out := GroupStatus{Containers: map[string]ContainerStatus{}}
	if g == nil || g.Properties == nil {
		return out
	}
	p := g.Properties
	out.ProvisioningState = lo.FromPtr(p.ProvisioningState)
	if p.InstanceView != nil {
		out.State = lo.FromPtr(p.InstanceView.State)
	}
	if p.IPAddress != nil {
		out.PrivateIP = lo.FromPtr(p.IPAddress.IP)
	}
	for _, c := range p.Containers {
		if c == nil || c.Properties == nil {
			continue
		}
		cs := ContainerStatus{State: ContainerWaiting}
		if iv := c.Properties.InstanceView; iv != nil {
			cs.RestartCount = lo.FromPtr(iv.RestartCount)
			if st := iv.CurrentState; st != nil {
				cs.State = lo.FromPtrOr(st.State, ContainerWaiting)
				cs.DetailStatus, cs.ExitCode, cs.StartTime, cs.FinishTime = lo.FromPtr(st.DetailStatus), st.ExitCode, st.StartTime, st.FinishTime
			}
		}
		out.Containers[lo.FromPtr(c.Name)] = cs
	}
	return out
}

// PodOf names the pod a group was created for, from its ownership tags;
// ok is false for a group this provider did not create.
func PodOf(g *armcontainerinstance.ContainerGroup) (namespace, name, uid string, ok bool) {
	if g == nil {
		return "", "", "", false
	}
	ns, n, u := g.Tags[tagPodNamespace], g.Tags[tagPodName], g.Tags[tagPodUID]
	if ns == nil || n == nil || u == nil {
		return "", "", "", false
	}
	return *ns, *n, *u, true
}
