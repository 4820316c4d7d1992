package instance

import (
	"context"

	opmetrics "github.com/awslabs/operatorpkg/metrics"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/log"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

const (
	metricsNamespace = "azkarpenter"
	metricsSubsystem = "instance"
)

var (
	createDuration = opmetrics.NewPrometheusHistogram(crmetrics.Registry, prometheus.HistogramOpts{
		Namespace: metricsNamespace,
		Subsystem: metricsSubsystem,
		Name:      "create_duration_seconds",
		Help:      "Duration of VM creations, from the NodeClaim's launch to the VM provisioned or failed (NIC and VM PUT, then the operation followed), by result: Succeeded or the failure reason.",
		Buckets:   []float64{0.1, 0.5, 1, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600},
	}, []string{"result", "capacity_type"})
	// createsInFlight is a plain gauge: operatorpkg's has no Inc and Dec.
	createsInFlight = func() prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metricsNamespace,
			Subsystem: metricsSubsystem,
			Name:      "creates_in_flight",
			Help:      "VM creations Azure has accepted that are still being followed to their end.",
		})
		crmetrics.Registry.MustRegister(g)
		return g
	}()
	createFailures = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
		Namespace: metricsNamespace,
		Subsystem: metricsSubsystem,
		Name:      "create_failures_total",
		Help:      "Failed VM or NIC creations by Azure error code and capacity type.",
	}, []string{"code", "capacity_type"})
	deletesTotal = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
		Namespace: metricsNamespace,
		Subsystem: metricsSubsystem,
		Name:      "deletes_total",
		Help:      "VM and NIC deletions started by resource (vm, nic) and result (started, not_found, error).",
	}, []string{"resource", "result"})
	// tagWritesTotal counts ARM tag writes per resource;
	// azkarpenter_nodeclaim_tag_updates_total counts the NodeClaims brought
	// in line. azkarpenter_instance_tag_updates_total, which read like the
	// latter, is kept for one release (docs/metrics.md).
	tagWritesTotal = opmetrics.NewMultiCounter(
		opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Subsystem: metricsSubsystem,
			Name:      "tag_writes_total",
			Help:      "ARM writes of the tags of running VMs and NICs, by resource (vm, nic), after an AKSNodeClass's tags or the additional tags changed.",
		}, []string{"resource"}),
		opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Subsystem: metricsSubsystem,
			Name:      "tag_updates_total",
			Help:      "Deprecated: use azkarpenter_instance_tag_writes_total; removed in the next release. In-place tag updates of running VMs and NICs by resource.",
		}, []string{"resource"}),
	)
)

func logFrom(ctx context.Context) logr.Logger { return log.FromContext(ctx) }

func logIntoContext(ctx context.Context, l logr.Logger) context.Context {
	return log.IntoContext(ctx, l)
}
