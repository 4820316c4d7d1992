package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	kwokapis "sigs.k8s.io/karpenter/kwok/apis"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/localcluster"
	"github.com/azkarpenter/azkarpenter/pkg/plan"
)

// kwokModule is karpenter core's own kwok provider, built from the karpenter
// module at the version go.mod requires.
const kwokModule = "sigs.k8s.io/karpenter/kwok"

// kwokNodeStage makes the nodes core's kwok provider creates (labelled
// kwok-partition, Pending, without conditions) Ready, leaving their capacity
// and allocatable as the provider wrote them. localcluster's own kwok
// configuration only heartbeats nodes azuresim's node agent registered.
var kwokNodeStage = []byte(`apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: karpenter-kwok-node-initialize
spec:
  resourceRef:
    apiGroup: v1
    kind: Node
  selector:
    matchExpressions:
    - key: '.metadata.labels["kwok-partition"]'
      operator: 'Exists'
    - key: '.status.phase'
      operator: 'NotIn'
      values:
      - 'Running'
  next:
    patches:
    - subresource: status
      root: status
      type: merge
      template: |
        {{ $now := Now }}
        phase: Running
        nodeInfo:
          architecture: amd64
          kubeletVersion: v1.35.4
          kubeProxyVersion: v1.35.4
          operatingSystem: linux
        conditions:
        - {type: Ready, status: "True", reason: KubeletReady, message: kubelet is posting ready status, lastHeartbeatTime: {{ $now | Quote }}, lastTransitionTime: {{ $now | Quote }}}
        - {type: MemoryPressure, status: "False", reason: KubeletHasSufficientMemory, message: ok, lastHeartbeatTime: {{ $now | Quote }}, lastTransitionTime: {{ $now | Quote }}}
        - {type: DiskPressure, status: "False", reason: KubeletHasNoDiskPressure, message: ok, lastHeartbeatTime: {{ $now | Quote }}, lastTransitionTime: {{ $now | Quote }}}
        - {type: PIDPressure, status: "False", reason: KubeletHasSufficientPID, message: ok, lastHeartbeatTime: {{ $now | Quote }}, lastTransitionTime: {{ $now | Quote }}}
`)

// kwokInstanceType is an entry of the kwok provider's instance-types file
// (INSTANCE_TYPES_FILE_PATH), in its JSON shape.
type kwokInstanceType struct {
	Name             string              `json:"name"`
	Offerings        []kwokOffering      `json:"offerings"`
	Architecture     string              `json:"architecture"`
	OperatingSystems []string            `json:"operatingSystems"`
	Resources        corev1.ResourceList `json:"resources"`
}

type kwokOffering struct {
	Price        float64                          `json:"Price"`
	Available    bool                             `json:"Available"`
	Requirements []corev1.NodeSelectorRequirement `json:"Requirements"`
}

// kwokInstanceTypes exports the sizes the scenario's NodePools are offered
// to the kwok provider's format, so the reference packs the same workload
// onto the same sizes: resources are our allocatable (kwok subtracts no
// overhead), and every single-valued label of a size (family, GPU, ...)
// rides on its offerings, which is how the kwok provider labels nodes and
// lets pods and NodePools select them.
func kwokInstanceTypes(ctx context.Context, in *plan.Input, c *plan.Catalog) ([]byte, error) {
	byName := map[string]*kwokInstanceType{}
	seen := map[string]bool{}
	for _, np := range in.NodePools {
		nc := in.NodeClasses[np.Spec.Template.Spec.NodeClassRef.Name]
		its, err := c.InstanceTypes.ForNodePool(ctx, nc, np)
		if err != nil {
			return nil, err
		}
		for _, it := range its {
			if len(it.Offerings.Available()) == 0 {
				continue
			}
			k, ok := byName[it.Name]
			if !ok {
				k = &kwokInstanceType{Name: it.Name, Architecture: it.Requirements.Get(corev1.LabelArchStable).Any(), Resources: it.Allocatable()}
				byName[it.Name] = k
			}
			os := it.Requirements.Get(corev1.LabelOSStable).Any()
			if !contains(k.OperatingSystems, os) {
				k.OperatingSystems = append(k.OperatingSystems, os)
			}
			labels := singleValued(it)
			for _, o := range it.Offerings.Available() {
				key := it.Name + "/" + os + "/" + o.Zone() + "/" + o.CapacityType()
				if seen[key] {
					continue
				}
				seen[key] = true
				reqs := []corev1.NodeSelectorRequirement{
					{Key: karpv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{o.CapacityType()}},
					{Key: corev1.LabelTopologyZone, Operator: corev1.NodeSelectorOpIn, Values: []string{o.Zone()}},
				}
				for _, l := range labels {
					reqs = append(reqs, corev1.NodeSelectorRequirement{Key: l[0], Operator: corev1.NodeSelectorOpIn, Values: []string{l[1]}})
				}
				for _, k2 := range []string{"kubernetes.azure.com/scalesetpriority", "kubernetes.azure.com/priority"} {
					if v := o.Requirements.Get(k2); v.Len() == 1 {
						reqs = append(reqs, corev1.NodeSelectorRequirement{Key: k2, Operator: corev1.NodeSelectorOpIn, Values: v.Values()})
					}
				}
				k.Offerings = append(k.Offerings, kwokOffering{Price: o.Price, Available: true, Requirements: reqs})
			}
		}
	}
	names := slices.Sorted(maps.Keys(byName))
	out := make([]*kwokInstanceType, 0, len(names))
	for _, n := range names {
		out = append(out, byName[n])
	}
	return json.Marshal(out)
}

// singleValued are a size's labels with one value, except those the kwok
// provider sets itself.
func singleValued(it *cloudprovider.InstanceType) [][2]string {
	var out [][2]string
	for k, r := range it.Requirements {
		switch k {
		case corev1.LabelInstanceTypeStable, corev1.LabelArchStable, corev1.LabelTopologyZone, karpv1.CapacityTypeLabelKey, corev1.LabelOSStable:
			continue
		}
		if r.Operator() == corev1.NodeSelectorOpIn && r.Len() == 1 {
			out = append(out, [2]string{k, r.Values()[0]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// buildKwok builds karpenter core's kwok provider into bin/ once.
func (r *runner) buildKwok(ctx context.Context) (string, error) {
	if r.kwokBinary != "" {
		return r.kwokBinary, nil
	}
	bin := filepath.Join(r.root, "bin", "karpenter-kwok")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, kwokModule)
	build.Dir = r.root
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: %w\n%s", kwokModule, err, out)
	}
	r.kwokBinary = bin
	return bin, nil
}

// runKwok runs the scenario's workload with karpenter core's kwok provider
// on a local cluster made the same way, at latency 0: no cloud at all.
func (r *runner) runKwok(ctx context.Context, s *Scenario, instanceTypes []byte, p *plan.Result) (*Run, error) {
	run := &Run{Provider: ProviderKwok, Pods: s.Pods()}
	bin, err := r.buildKwok(ctx)
	if err != nil {
		return run, err
	}
	stateDir := filepath.Join(r.root, ".e2e", "bench-"+s.Name+"-kwok")
	r.logf("%s: starting a local cluster with karpenter core's kwok provider", s.Name)
	stack, err := localcluster.StartStack(ctx, localcluster.StackOptions{
		Cluster:          localcluster.Options{BinDir: filepath.Join(r.root, "bin"), StateDir: stateDir, Log: r.log, KwokStages: kwokNodeStage, ExtraArgs: clusterArgs},
		ControlPlaneOnly: true,
		MonitorSettle:    monitorSettle,
	})
	if err != nil {
		return run, err
	}
	defer stack.Stop()
	if _, err := envtest.InstallCRDs(stack.Cluster.Config, envtest.CRDInstallOptions{CRDs: kwokapis.CRDs, MaxTime: time.Minute}); err != nil {
		return run, fmt.Errorf("installing the KWOKNodeClass CRD: %w", err)
	}
	typesPath := filepath.Join(stateDir, "instance-types.json")
	if err := os.WriteFile(typesPath, instanceTypes, 0o644); err != nil {
		return run, err
	}
	pid, metricsURL, err := startKwokProvider(ctx, stack.Cluster, bin, typesPath)
	if err != nil {
		return run, err
	}
	nodeClass := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": kwokapis.Group + "/v1alpha1", "kind": "KWOKNodeClass", "metadata": map[string]any{"name": "default"},
	}}
	objs := []*unstructured.Unstructured{nodeClass}
	for _, u := range s.Objects {
		switch u.GetKind() {
		case "AKSNodeClass":
			continue
		case "NodePool":
			u = u.DeepCopy()
			_ = unstructured.SetNestedMap(u.Object, map[string]any{"group": kwokapis.Group, "kind": "KWOKNodeClass", "name": "default"}, "spec", "template", "spec", "nodeClassRef")
		}
		objs = append(objs, u)
	}
	prices := map[string]float64{}
	var its []*kwokInstanceType
	_ = json.Unmarshal(instanceTypes, &its)
	for _, it := range its {
		for _, o := range it.Offerings {
			var zone, ct string
			for _, r := range o.Requirements {
				switch r.Key {
				case corev1.LabelTopologyZone:
					zone = r.Values[0]
				case karpv1.CapacityTypeLabelKey:
					ct = r.Values[0]
				}
			}
			prices[it.Name+"/"+zone+"/"+ct] = o.Price
		}
	}
	err = measure(ctx, run, measureOptions{
		config: stack.Cluster.Config, client: stack.Client, scenario: s, objects: objs, pid: pid, metricsURL: metricsURL,
		failed: stack.Failed, monitor: stack.Monitor, log: r.logf,
		price: func(n *corev1.Node) float64 {
			return prices[n.Labels[corev1.LabelInstanceTypeStable]+"/"+n.Labels[corev1.LabelTopologyZone]+"/"+n.Labels[karpv1.CapacityTypeLabelKey]]
		},
	})
	if p != nil {
		run.CostToBound, run.CostToBaseline = ratio(run.Fleet.PerHour, p.LowerBound.PerHour), ratio(run.Fleet.PerHour, p.Baseline.PerHour)
	}
	return run, err
}

// startKwokProvider starts core's kwok provider on the cluster with the
// local controller's settings, and waits for its health probe. It returns
// the provider's pid and metrics endpoint.
func startKwokProvider(ctx context.Context, cluster *localcluster.Cluster, bin, typesPath string) (int, string, error) {
	ports, err := localcluster.FreePorts(2)
	if err != nil {
		return 0, "", err
	}
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[0])
	comp, err := cluster.StartService(ctx, localcluster.Service{
		Name:   "karpenter-kwok",
		Binary: bin,
		Env: []string{
			"KUBECONFIG=" + cluster.Kubeconfig,
			"DISABLE_LEADER_ELECTION=true",
			"METRICS_PORT=" + strconv.Itoa(ports[0]),
			"HEALTH_PROBE_PORT=" + strconv.Itoa(ports[1]),
			"INSTANCE_TYPES_FILE_PATH=" + typesPath,
			"FEATURE_GATES=NodeRepair=true,NodeOverlay=true,SpotToSpotConsolidation=true",
			"LOG_LEVEL=info",
		},
		Address:      "metrics " + metricsURL,
		Ready:        localcluster.HTTPReady(fmt.Sprintf("http://127.0.0.1:%d/readyz", ports[1])),
		ReadyTimeout: 90 * time.Second,
	})
	return comp.PID, metricsURL, err
}
