package azuresim

import (
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	"github.com/samber/lo"
)

// ContainerInstanceConfig is the subscription's Container Instances quota
// per region and the regions' container capacity.
type ContainerInstanceConfig struct {
	// StandardCoresLimit is "Standard sku cores (CPUs) per region per
	// subscription"; ContainerGroupsLimit "Standard sku container groups
	// per region per subscription". Both default to 100, the limits
	// learn.microsoft.com/azure/container-instances/container-instances-resource-and-quota-limits
	// gives ("Changeable Limits").
	StandardCoresLimit   int `json:"standardCoresLimit"`
	ContainerGroupsLimit int `json:"containerGroupsLimit"`
	// Capacity caps the cores of container groups a location can run at
	// once; past it a create is refused as ACI refuses one when a region
	// has no capacity for the request.
	Capacity []ContainerCapacityRule `json:"capacity,omitempty"`
	// SpotRegions are the regions that run Spot container groups; the
	// default is the documented list (aciSpotRegions).
	SpotRegions []string `json:"spotRegions,omitempty"`
}

// ContainerCapacityRule caps the cores of live container groups in a
// location ("" = every location) for a capacity type (on-demand, spot or
// "" for both).
type ContainerCapacityRule struct {
	Location     string `json:"location,omitempty"`
	CapacityType string `json:"capacityType,omitempty"`
	Cores        int    `json:"cores"`
}

// DefaultContainerInstanceConfig is a new subscription's quota.
func DefaultContainerInstanceConfig() ContainerInstanceConfig {
	return ContainerInstanceConfig{StandardCoresLimit: 100, ContainerGroupsLimit: 100, SpotRegions: slices.Clone(aciSpotRegions)}
}

func (c ContainerInstanceConfig) validate() error {
	if c.StandardCoresLimit < 0 || c.ContainerGroupsLimit < 0 {
		return fmt.Errorf("containerInstances: limits must be >= 0")
	}
	for i, r := range c.Capacity {
		if r.Cores < 0 {
			return fmt.Errorf("containerInstances.capacity[%d]: cores must be >= 0", i)
		}
		if r.CapacityType != "" && r.CapacityType != "spot" && r.CapacityType != "on-demand" {
			return fmt.Errorf("containerInstances.capacity[%d]: capacityType must be spot or on-demand", i)
		}
	}
	return nil
}

// Per-group limits of a standard (non-GPU, non-confidential) container
// group, Linux or Windows, with or without a virtual network: 4 CPUs and
// 16 GB (container-instances-resource-and-quota-limits, "Standard Container
// Resources"; the same for Spot Containers, "Spot Container Resources").
// 60 containers and 20 volumes per group are hard limits ("Unchangeable
// (Hard) Limits").
const (
	aciMaxCPU        = 4.0
	aciMaxMemoryGB   = 16.0
	aciMaxContainers = 60
	aciMaxVolumes    = 20
)

// aciSpotRegions are the regions Spot Containers run in ("Spot Containers
// are only available in the following regions at this time: East US 2,
// West Europe, and West US", container-instances-resource-and-quota-limits).
var aciSpotRegions = []string{"eastus2", "westeurope", "westus"}

// aciSubnetDelegation is the delegation a subnet needs before container
// groups can be deployed into it
// (learn.microsoft.com/azure/container-instances/container-instances-vnet:
// the subnet is delegated to Microsoft.ContainerInstance/containerGroups).
const aciSubnetDelegation = "Microsoft.ContainerInstance/containerGroups"

// aciName is the naming rule of container groups and of their containers:
// 1 to 63 characters, lowercase letters, numbers and hyphens, neither
// starting nor ending with a hyphen, no consecutive hyphens
// (learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules,
// Microsoft.ContainerInstance). Azure's code for a bad container name is not
// documented; azuresim answers ARM's InvalidResourceName for the group and
// 400 InvalidParameter naming the container.
var aciName = regexp.MustCompile(`^[a-z0-9]([a-z0-9]|-[a-z0-9]){0,62}$`)

func validACIName(name string) bool { return len(name) <= 63 && aciName.MatchString(name) }

// containerGroupRequest is a validated create.
type containerGroupRequest struct {
	location      string
	cpu, memoryGB float64
	cores         int
	spot          bool
	windows       bool
	gpu           bool
	subnet        *subnetRecord
}

// validateContainerGroupLocked checks a new group's body against the rules
// ACI enforces before it accepts a deployment.
func (s *Server) validateContainerGroupLocked(sub string, cg armcontainerinstance.ContainerGroup) (*containerGroupRequest, *ARMError) {
	req := &containerGroupRequest{location: lower(strings.ReplaceAll(*cg.Location, " ", ""))}
	if _, ok := s.cat.Region(req.location); !ok {
		return nil, armErr(http.StatusBadRequest, "LocationNotAvailableForResourceType",
			"The provided location '%s' is not available for resource type 'Microsoft.ContainerInstance/containerGroups'.", *cg.Location)
	}
	p := cg.Properties // required: the body checker refused a body without it
	req.spot = lo.FromPtr(p.Priority) == armcontainerinstance.ContainerGroupPrioritySpot
	req.windows = lo.FromPtr(p.OSType) == armcontainerinstance.OperatingSystemTypesWindows
	// Azure's error code for these two hard limits is not in its documents;
	// azuresim answers the generic 400 InvalidParameter and names the limit.
	if len(p.Containers) == 0 || len(p.Containers) > aciMaxContainers {
		return nil, errInvalidParameter("properties.containers", "A container group must have between 1 and %d containers; it has %d.", aciMaxContainers, len(p.Containers))
	}
	if len(p.Volumes) > aciMaxVolumes {
		return nil, errInvalidParameter("properties.volumes", "A container group can have at most %d volumes; it has %d.", aciMaxVolumes, len(p.Volumes))
	}
	if aerr := validateContainers(p, req); aerr != nil {
		return nil, aerr
	}
	req.cores = int(math.Ceil(req.cpu - 1e-9))
	if len(p.SubnetIDs) > 0 {
		sr, aerr := s.containerSubnetLocked(sub, req, p.SubnetIDs)
		if aerr != nil {
			return nil, aerr
		}
		req.subnet = sr
	}
	if aerr := checkContainerResources(req, s.cfg.ContainerInstances.SpotRegions); aerr != nil {
		return nil, aerr
	}
	return req, nil
}

// validateContainers sums the containers' requests and checks each
// container's volume mounts name a volume of the group.
func validateContainers(p *armcontainerinstance.ContainerGroupPropertiesProperties, req *containerGroupRequest) *ARMError {
	volumes := map[string]bool{}
	for _, v := range p.Volumes {
		volumes[lo.FromPtr(v.Name)] = true
	}
	for i, c := range p.Containers {
		if !validACIName(lo.FromPtr(c.Name)) {
			return errInvalidParameter(fmt.Sprintf("properties.containers[%d].name", i),
				"The container name '%s' is invalid: use 1 to 63 lowercase letters, numbers and single hyphens, starting and ending with a letter or number.", lo.FromPtr(c.Name))
		}
		rq := c.Properties.Resources.Requests // required by the specification: checked by the body checker
		req.cpu += lo.FromPtr(rq.CPU)
		req.memoryGB += lo.FromPtr(rq.MemoryInGB)
		if rq.Gpu != nil {
			req.gpu = true
		}
		if lo.FromPtr(rq.CPU) <= 0 || lo.FromPtr(rq.MemoryInGB) <= 0 {
			return errInvalidParameter(fmt.Sprintf("properties.containers[%d].properties.resources.requests", i),
				"The container '%s' must request more than 0 CPU and memory.", lo.FromPtr(c.Name))
		}
		for _, m := range c.Properties.VolumeMounts {
			if !volumes[lo.FromPtr(m.Name)] {
				return errInvalidParameter(fmt.Sprintf("properties.containers[%d].properties.volumeMounts", i),
					"The volume mount '%s' of container '%s' names no volume of the container group.", lo.FromPtr(m.Name), lo.FromPtr(c.Name))
			}
		}
	}
	return nil
}

// checkContainerResources refuses what the region cannot give a group:
// more than the per-group limits, Spot outside its regions or in a virtual
// network, or GPUs (the default GPU core quota is 0, "Standard sku cores
// (CPUs) for V100 GPU per region per subscription | 0", and GPU groups are
// not supported in a virtual network). ACI answers these as it answers a
// region out of capacity for the request: 409 ServiceUnavailable, "The
// requested resource is not available in the location '<loc>' at this
// moment. Please retry with a different resource request or in another
// location. Resource requested: '<cpu>' CPU '<memory>' GB memory '<os>' OS"
// followed by " virtual network" for a VNet group
// (virtual-kubelet/virtual-kubelet#592 for 4 CPU/16 GB in a VNet;
// MicrosoftDocs/azure-docs#24776 for 5 CPUs over the 4-CPU group limit).
func checkContainerResources(req *containerGroupRequest, spotRegions []string) *ARMError {
	over := req.cpu > aciMaxCPU+1e-9 || req.memoryGB > aciMaxMemoryGB+1e-9
	spotUnavailable := req.spot && (!slices.ContainsFunc(spotRegions, func(r string) bool { return strings.EqualFold(r, req.location) }) || req.subnet != nil)
	if over || spotUnavailable || req.gpu {
		return errContainerCapacity(req)
	}
	return nil
}

func errContainerCapacity(req *containerGroupRequest) *ARMError {
	os := lo.Ternary(req.windows, "Windows", "Linux")
	vnet := lo.Ternary(req.subnet != nil, " virtual network", "")
	return armErr(http.StatusConflict, "ServiceUnavailable",
		"The requested resource is not available in the location '%s' at this moment. Please retry with a different resource request or in another location. Resource requested: '%s' CPU '%s' GB memory '%s' OS%s",
		req.location, formatAmount(req.cpu), formatAmount(req.memoryGB), os, vnet)
}

func formatAmount(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// containerSubnetLocked resolves a VNet-injected group's subnet: one
// subnet, existing, in the group's location and delegated to container
// groups. Azure's error codes for a missing or undelegated subnet are not
// in its documents: azuresim answers 404 ResourceNotFound for the former
// (ARM's code for a referenced resource that is not there) and 400
// InvalidParameter naming the delegation for the latter.
func (s *Server) containerSubnetLocked(sub string, req *containerGroupRequest, ids []*armcontainerinstance.ContainerGroupSubnetID) (*subnetRecord, *ARMError) {
	if len(ids) > 1 {
		return nil, errInvalidParameter("properties.subnetIds", "A container group can be deployed into one subnet; %d were given.", len(ids))
	}
	id := lo.FromPtr(ids[0].ID)
	ssub, rg, vnet, subnet, ok := parseSubnetID(id)
	if !ok {
		return nil, errInvalidParameter("properties.subnetIds[0].id", "'%s' is not a subnet resource ID.", id)
	}
	if !strings.EqualFold(ssub, sub) {
		return nil, errInvalidParameter("properties.subnetIds[0].id", "The subnet '%s' is not in the container group's subscription.", id)
	}
	sr, aerr := s.findSubnetLocked(ssub, rg, vnet, subnet)
	if aerr != nil {
		return nil, aerr
	}
	v := s.vnets[lower(vnetID(ssub, rg, vnet))]
	if !strings.EqualFold(lo.FromPtr(v.vnet.Location), req.location) {
		return nil, errInvalidParameter("properties.subnetIds[0].id", "The subnet '%s' is in location '%s', the container group in '%s'.", id, lo.FromPtr(v.vnet.Location), req.location)
	}
	delegated := false
	if p := sr.subnet.Properties; p != nil {
		for _, d := range p.Delegations {
			if d != nil && d.Properties != nil && strings.EqualFold(lo.FromPtr(d.Properties.ServiceName), aciSubnetDelegation) {
				delegated = true
			}
		}
	}
	if !delegated {
		return nil, errInvalidParameter("properties.subnetIds[0].id", "The subnet '%s' is not delegated to '%s'.", id, aciSubnetDelegation)
	}
	return sr, nil
}

// containerQuotaLocked checks the region's container group count and
// standard cores. ACI's refusal (MicrosoftDocs/azure-docs#51738 for the
// message; the code, ContainerGroupQuotaReached, as a deployment reports
// it in radius-project/radius's tests): "Resource type
// 'Microsoft.ContainerInstance/containerGroups' container group quota
// 'StandardCores' exceeded in region 'eastus'. Limit: '10', Usage: '10'
// Requested: '1'." The count quota is worded the same with its own name
// (azuresim's inference; Azure's text for it is not in its documents).
// Spot groups count against the same limits (Azure documents no separate
// Spot quota).
func (s *Server) containerQuotaLocked(sub string, req *containerGroupRequest) *ARMError {
	groups, cores := s.containerUsageLocked(sub, req.location)
	cfg := s.cfg.ContainerInstances
	if groups+1 > cfg.ContainerGroupsLimit {
		return errContainerQuota("ContainerGroups", req.location, cfg.ContainerGroupsLimit, groups, 1)
	}
	if cores+req.cores > cfg.StandardCoresLimit {
		return errContainerQuota("StandardCores", req.location, cfg.StandardCoresLimit, cores, req.cores)
	}
	return nil
}

// errContainerQuota is ACI's quota refusal. Its HTTP status is not in the
// sources above; azuresim answers 409 Conflict, the status ARM gives a
// request refused for the state of the subscription (as Compute's
// OperationNotAllowed quota refusal).
func errContainerQuota(quota, location string, limit, usage, requested int) *ARMError {
	return armErr(http.StatusConflict, "ContainerGroupQuotaReached",
		"Resource type 'Microsoft.ContainerInstance/containerGroups' container group quota '%s' exceeded in region '%s'. Limit: '%d', Usage: '%d' Requested: '%d'.",
		quota, location, limit, usage, requested)
}

// containerCapacityLocked refuses a group a capacity rule has no room for.
func (s *Server) containerCapacityLocked(req *containerGroupRequest) *ARMError {
	capType := lo.Ternary(req.spot, "spot", "on-demand")
	for _, rule := range s.cfg.ContainerInstances.Capacity {
		if (rule.Location != "" && !strings.EqualFold(rule.Location, req.location)) || (rule.CapacityType != "" && rule.CapacityType != capType) {
			continue
		}
		used := 0
		for _, c := range s.containerGroups {
			if c.state != cgFailed && strings.EqualFold(c.location, req.location) && (rule.CapacityType == "" || rule.CapacityType == c.capacityType()) {
				used += c.cores
			}
		}
		if used+req.cores > rule.Cores {
			return errContainerCapacity(req)
		}
	}
	return nil
}
