package virtualnode

import (
	opmetrics "github.com/awslabs/operatorpkg/metrics"
	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Results of a pod's create or delete on ACI, as metric labels.
const (
	resultOK          = "ok"
	resultQuota       = ReasonQuotaExceeded
	resultCapacity    = ReasonCapacityUnavailable
	resultBadRequest  = "BadRequest"
	resultIneligible  = "Ineligible"
	resultUnavailable = "Unavailable"
	resultFailed      = "DeploymentFailed"
	resultError       = "error"
)

var (
	podsCreatedTotal = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
		Namespace: "azkarpenter",
		Subsystem: "virtualnode",
		Name:      "pods_created_total",
		Help:      "Pods the virtual node tried to run on ACI, by result: ok, QuotaExceeded, CapacityUnavailable, BadRequest, Ineligible (cannot be a container group), Unavailable (held back while the node's ContainerInstancesAvailable condition is False), DeploymentFailed or error.",
	}, []string{"node", "result"})
	podsDeletedTotal = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
		Namespace: "azkarpenter",
		Subsystem: "virtualnode",
		Name:      "pods_deleted_total",
		Help:      "Container groups deleted because their pod was deleted, by result: ok or error.",
	}, []string{"node", "result"})
	groupsCollectedTotal = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
		Namespace: "azkarpenter",
		Subsystem: "virtualnode",
		Name:      "container_groups_collected_total",
		Help:      "Container groups of this virtual node deleted because their pod no longer exists, by result: ok or error.",
	}, []string{"node", "result"})
	nodeAvailable = opmetrics.NewPrometheusGauge(crmetrics.Registry, prometheus.GaugeOpts{
		Namespace: "azkarpenter",
		Subsystem: "virtualnode",
		Name:      "available",
		Help:      "1 while the virtual node takes pods (condition ContainerInstancesAvailable True), 0 during the back-off after ACI refused a create for quota or capacity.",
	}, []string{"node"})
	quotaCores = opmetrics.NewPrometheusGauge(crmetrics.Registry, prometheus.GaugeOpts{
		Namespace: "azkarpenter",
		Subsystem: "virtualnode",
		Name:      "quota",
		Help:      "The region's Container Instances quota as last read, by quota (StandardCores, ContainerGroups) and value (limit, current).",
	}, []string{"node", "quota", "value"})
)
