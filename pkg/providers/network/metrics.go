package network

import (
	opmetrics "github.com/awslabs/operatorpkg/metrics"
	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	discoveries = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
		Namespace: "azkarpenter",
		Subsystem: "network",
		Name:      "discoveries_total",
		Help:      "Reads of the cluster's network resources (resource: loadBalancers, networkSecurityGroups, routeTables, subnet), by result (ok, error).",
	}, []string{"resource", "result"})
	interfacePools = opmetrics.NewPrometheusGauge(crmetrics.Registry, prometheus.GaugeOpts{
		Namespace: "azkarpenter",
		Subsystem: "network",
		Name:      "interface_backend_pools",
		Help:      "Load balancer backend pools the NIC of the last node checked or created joins, by network setup.",
	}, []string{"setup"})
)

func observeInterface(i *Interface) {
	interfacePools.Set(float64(len(i.BackendPoolIDs)), map[string]string{"setup": string(i.Setup)})
}
