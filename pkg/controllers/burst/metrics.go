package burst

import (
	opmetrics "github.com/awslabs/operatorpkg/metrics"
	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	bursted = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
		Namespace: "azkarpenter", Subsystem: "burst", Name: "pods_bursted_total",
		Help: "Pending pods bound to the virtual node (Azure Container Instances) while VM capacity is launched for them.",
	}, []string{})
	settled = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
		Namespace: "azkarpenter", Subsystem: "burst", Name: "pods_settled_total",
		Help: "Burst pods evicted from the virtual node, by reason: vm_ready (their VM capacity runs), aci_refused (the virtual node could not run them), orphaned (no owner to replace them; placeholder removed, pod left).",
	}, []string{"reason"})
	refused = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
		Namespace: "azkarpenter", Subsystem: "burst", Name: "refusals_total",
		Help: "Opted-in pending pods not sent to the virtual node, by reason: owner, ineligible (a field ACI cannot run), placement (an OS or architecture the virtual node lacks), virtual_node_missing, virtual_node_not_ready, aci_unavailable, virtual_node_full, aci_refused_workload. Counted once per pod and reason.",
	}, []string{"reason"})
	settleBlocked = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
		Namespace: "azkarpenter", Subsystem: "burst", Name: "settle_blocked_total",
		Help: "Evictions of burst pods that their PodDisruptionBudget refused (HTTP 429); retried with back-off.",
	}, []string{})
	burstSeconds = opmetrics.NewPrometheusHistogram(crmetrics.Registry, prometheus.HistogramOpts{
		Namespace: "azkarpenter", Subsystem: "burst", Name: "duration_seconds",
		Help:    "Time a burst pod spent on the virtual node, from its binding to its eviction.",
		Buckets: []float64{5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200, 3600},
	}, []string{"reason"})
	aciCost = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
		Namespace: "azkarpenter", Subsystem: "burst", Name: "aci_cost_dollars_total",
		Help: "Estimated Azure Container Instances cost of settled burst pods (USD): the group's vCPUs and GB as ACI bills them (rounded up to 0.1) times the region's Retail Prices per second, over the time on the virtual node.",
	}, []string{})
)
