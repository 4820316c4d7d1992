// Package metrics lists every Prometheus metric the controller registers:
// azkarpenter's own and karpenter core's, with type, labels and help, as
// the controller's binary registers them. hack/metricsdoc writes
// docs/metrics.md from it (make verify-generate checks it), and the chart's
// dashboard test checks every metric a dashboard queries against it.
package metrics

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	// What cmd/controller links, so that every package-level metric is
	// registered: karpenter core's operator, controllers and cloud
	// provider decorators, and azkarpenter's providers and controllers.
	_ "sigs.k8s.io/karpenter/pkg/cloudprovider/metrics"
	_ "sigs.k8s.io/karpenter/pkg/controllers" // core controllers metrics
	nodemetrics "sigs.k8s.io/karpenter/pkg/controllers/metrics/node"
	_ "sigs.k8s.io/karpenter/pkg/operator" // core operator metrics

	_ "github.com/azkarpenter/azkarpenter/pkg/operator" // azkarpenter metrics
)

// Metric is one metric family.
type Metric struct {
	Name   string
	Type   string
	Labels []string
	Help   string
}

// Deprecated reports whether the metric is kept only for one release
// (its help says so).
func (m Metric) Deprecated() bool { return strings.HasPrefix(m.Help, "Deprecated") }

// valueTyped is a custom collector that says its metrics' type, so that
// it can be listed before it has anything to collect.
type valueTyped interface {
	ValueType() prometheus.ValueType
}

// runtimeRegistered registers the metrics core registers only when it
// builds a controller: the node metrics (karpenter_nodes_allocatable, …),
// which wait for the cloud provider's well-known labels.
var runtimeRegistered = sync.OnceFunc(func() { nodemetrics.NewController(nil) })

// Inventory returns every metric registered with controller-runtime's
// registry (the one the controller serves), sorted by name.
func Inventory() ([]Metric, error) {
	runtimeRegistered()
	collectors, err := registered(crmetrics.Registry)
	if err != nil {
		return nil, err
	}
	byName := map[string]Metric{}
	for _, c := range collectors {
		typ := typeOf(c)
		descs := make(chan *prometheus.Desc, 64)
		go func() { c.Describe(descs); close(descs) }()
		for d := range descs {
			m, err := parseDesc(d)
			if err != nil {
				return nil, err
			}
			m.Type = typ
			if m.Type == "" {
				m.Type = collectedType(c, m.Name)
			}
			byName[m.Name] = m
		}
	}
	out := make([]Metric, 0, len(byName))
	for _, m := range byName {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Metric) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// registered returns the collectors of a client_golang Registry. The
// Registry has no exported listing (Gather returns a labelled metric only
// once it has a child), so its collector map is read by reflection; a
// client_golang that renames the field fails here, loudly.
func registered(g prometheus.Gatherer) ([]prometheus.Collector, error) {
	reg, ok := g.(*prometheus.Registry)
	if !ok {
		return nil, fmt.Errorf("controller-runtime's registry is a %T, not a *prometheus.Registry", g)
	}
	f := reflect.ValueOf(reg).Elem().FieldByName("collectorsByID")
	if !f.IsValid() || f.Kind() != reflect.Map {
		return nil, fmt.Errorf("prometheus.Registry has no collectorsByID map any more: update test/metrics for this client_golang")
	}
	f = reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem() // reading a map the registry keeps unexported
	var out []prometheus.Collector
	iter := f.MapRange()
	for iter.Next() {
		out = append(out, iter.Value().Interface().(prometheus.Collector))
	}
	return out, nil
}

// typeOf is the metric type of client_golang's vectors (which collect
// nothing until they have a child), "" for the rest, whose metrics say
// their type when collected.
func typeOf(c prometheus.Collector) string {
	switch c := c.(type) {
	case *prometheus.CounterVec:
		return "counter"
	case *prometheus.GaugeVec:
		return "gauge"
	case *prometheus.HistogramVec:
		return "histogram"
	case *prometheus.SummaryVec:
		return "summary"
	case valueTyped:
		return valueTypeName(c.ValueType())
	}
	return ""
}

func valueTypeName(t prometheus.ValueType) string {
	switch t {
	case prometheus.CounterValue:
		return "counter"
	case prometheus.GaugeValue:
		return "gauge"
	}
	return "untyped"
}

// collectedType is the type of a custom collector's metric, from what it
// collects now.
func collectedType(c prometheus.Collector, name string) string {
	ch := make(chan prometheus.Metric, 256)
	go func() { c.Collect(ch); close(ch) }()
	typ := "untyped"
	for m := range ch {
		if d, err := parseDesc(m.Desc()); err != nil || d.Name != name {
			continue
		}
		var pb dto.Metric
		if m.Write(&pb) != nil {
			continue
		}
		switch {
		case pb.Counter != nil:
			typ = "counter"
		case pb.Gauge != nil:
			typ = "gauge"
		case pb.Histogram != nil:
			typ = "histogram"
		case pb.Summary != nil:
			typ = "summary"
		}
	}
	return typ
}

var descPattern = regexp.MustCompile(`^Desc\{fqName: "((?:[^"\\]|\\.)*)", help: "((?:[^"\\]|\\.)*)", constLabels: \{(.*)\}, variableLabels: \{(.*)\}\}$`)

// parseDesc reads a Desc's name, help and labels from its String form: the
// only way client_golang exposes them.
func parseDesc(d *prometheus.Desc) (Metric, error) {
	m := descPattern.FindStringSubmatch(d.String())
	if m == nil {
		return Metric{}, fmt.Errorf("cannot read %s: update test/metrics for this client_golang", d)
	}
	var labels []string
	for _, l := range strings.Split(m[4], ",") {
		if l = strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")"); l != "" {
			labels = append(labels, l)
		}
	}
	if m[3] != "" {
		for _, l := range strings.Split(m[3], ",") {
			name, _, _ := strings.Cut(l, "=")
			labels = append(labels, name)
		}
	}
	slices.Sort(labels)
	help := strings.ReplaceAll(strings.ReplaceAll(m[2], `\"`, `"`), `\\`, `\`)
	return Metric{Name: m[1], Help: help, Labels: labels}, nil
}
