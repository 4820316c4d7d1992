package virtualnode

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/azkarpenter/azkarpenter/pkg/providers/containerinstance"
)

// Names of ACI's regional quotas in its usages API.
const (
	quotaStandardCores   = "StandardCores"
	quotaContainerGroups = "ContainerGroups"
	// TagVirtualNode names the virtual node that created a group, so that
	// two virtual nodes sharing a resource group (one per subnet) never
	// collect each other's groups.
	TagVirtualNode = "karpenter.azure.com_virtual-node"
	// memoryPerCoreGiB is the memory the node offers per core of quota. ACI
	// has a core quota and no memory quota; its largest standard group is
	// 4 vCPU with 16 GB (containerinstance.MaxGroupCPU/MaxGroupMemoryGB), so
	// the cores can carry at most 4 GiB each.
	memoryPerCoreGiB = containerinstance.MaxGroupMemoryGB / containerinstance.MaxGroupCPU
)

// Config configures the virtual node.
type Config struct {
	// NodeName is the Node's name (DefaultNodeName).
	NodeName string
	// Region is the Azure location of the container groups.
	Region string
	// SubnetID, when set, puts the groups in that delegated subnet.
	SubnetID string
	// Tags are the cluster's ownership tags, set on every group; garbage
	// collection only touches groups that carry all of them.
	Tags map[string]string
	// ClusterDNS and ClusterDomain are what ClusterFirst pods resolve with.
	ClusterDNS    []string
	ClusterDomain string
	// InternalIP is the address the API server reaches the kubelet API on
	// (the pod's IP in the chart), KubeletPort its port.
	InternalIP  string
	KubeletPort int32
	// KubeletVersion is reported in the Node's nodeInfo.
	KubeletVersion string
	// QuotaRefresh is how often capacity is read from ACI's quota (1m).
	QuotaRefresh time.Duration
	// StatusInterval is how often the groups' status is read (10s).
	StatusInterval time.Duration
	// GCInterval is how often orphaned groups are collected (2m).
	GCInterval time.Duration
	// BackOff is how long the node takes no pods after a quota or
	// capacity refusal (5m).
	BackOff time.Duration
}

func (c Config) withDefaults() Config {
	if c.NodeName == "" {
		c.NodeName = DefaultNodeName
	}
	if c.KubeletPort == 0 {
		c.KubeletPort = 10250
	}
	if c.QuotaRefresh <= 0 {
		c.QuotaRefresh = time.Minute
	}
	if c.StatusInterval <= 0 {
		c.StatusInterval = 10 * time.Second
	}
	if c.GCInterval <= 0 {
		c.GCInterval = 2 * time.Minute
	}
	if c.BackOff <= 0 {
		c.BackOff = 5 * time.Minute
	}
	if c.ClusterDomain == "" {
		c.ClusterDomain = "cluster.local"
	}
	return c
}

func (c Config) groupOptions() containerinstance.GroupOptions {
	tags := map[string]string{TagVirtualNode: c.NodeName}
	for k, v := range c.Tags {
		tags[k] = v
	}
	return containerinstance.GroupOptions{Region: c.Region, SubnetID: c.SubnetID, ClusterDNS: c.ClusterDNS, ClusterDomain: c.ClusterDomain, Tags: tags}
}

// nodeTemplate is the Node before its first quota read: no capacity yet.
func (c Config) nodeTemplate() *corev1.Node {
	labels := Labels()
	labels[corev1.LabelHostname] = c.NodeName
	now := metav1.Now()
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: c.NodeName, Labels: labels},
		Spec:       corev1.NodeSpec{Taints: []corev1.Taint{Taint}},
		Status: corev1.NodeStatus{
			Phase: corev1.NodeRunning,
			NodeInfo: corev1.NodeSystemInfo{
				OperatingSystem: "linux", Architecture: "amd64",
				KubeletVersion: c.KubeletVersion, OSImage: "Azure Container Instances",
			},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: c.KubeletPort}},
			Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "virtual kubelet for Azure Container Instances is ready", LastTransitionTime: now},
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", LastTransitionTime: now},
				{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", LastTransitionTime: now},
				{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", LastTransitionTime: now},
				{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionFalse, Reason: "RouteCreated", LastTransitionTime: now},
				{Type: ConditionContainerInstancesAvailable, Status: corev1.ConditionTrue, Reason: ReasonAvailable, Message: "Azure Container Instances takes container groups", LastTransitionTime: now},
			},
		},
	}
	// Only InternalIP: the API server prefers a Hostname address when
	// there is one, and the virtual node's name resolves nowhere.
	if c.InternalIP != "" {
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: c.InternalIP}}
	}
	return n
}

// Ping implements node.NodeProvider: the virtual node is alive while this
// process is; ACI's own state is in the ContainerInstancesAvailable
// condition, not in the node's Ready.
func (p *Provider) Ping(ctx context.Context) error { return ctx.Err() }

// NotifyNodeStatus implements node.NodeProvider.
func (p *Provider) NotifyNodeStatus(_ context.Context, cb func(*corev1.Node)) {
	p.mu.Lock()
	p.notifyNode = cb
	p.mu.Unlock()
}

// updateNode edits the node under mu and sends it to the node controller.
func (p *Provider) updateNode(edit func(*corev1.Node)) {
	p.mu.Lock()
	edit(p.node)
	n := p.node.DeepCopy()
	cb := p.notifyNode
	p.mu.Unlock()
	if cb != nil {
		cb(n)
	}
}

func setCondition(n *corev1.Node, status corev1.ConditionStatus, reason, message string) {
	for i := range n.Status.Conditions {
		c := &n.Status.Conditions[i]
		if c.Type != ConditionContainerInstancesAvailable {
			continue
		}
		if c.Status != status {
			c.LastTransitionTime = metav1.Now()
		}
		c.Status, c.Reason, c.Message = status, reason, message
		c.LastHeartbeatTime = metav1.Now()
	}
}

// markUnavailable turns the condition False for BackOff and returns when
// it ends.
func (p *Provider) markUnavailable(reason, message string) time.Time {
	until := p.clock.Now().Add(p.cfg.BackOff)
	p.mu.Lock()
	if until.After(p.unavailableUntil) {
		p.unavailableUntil = until
	}
	until = p.unavailableUntil
	p.mu.Unlock()
	nodeAvailable.Set(0, map[string]string{"node": p.cfg.NodeName})
	p.log.Info("virtual node takes no pods during the back-off", "reason", reason, "until", until, "message", message)
	p.updateNode(func(n *corev1.Node) {
		setCondition(n, corev1.ConditionFalse, reason, fmt.Sprintf("%s (no pods sent to ACI until %s)", message, until.UTC().Format(time.RFC3339)))
	})
	return until
}

// endBackOff turns the condition True again once the back-off is over.
func (p *Provider) endBackOff() {
	p.mu.Lock()
	over := !p.unavailableUntil.IsZero() && !p.clock.Now().Before(p.unavailableUntil)
	if over {
		p.unavailableUntil = time.Time{}
	}
	p.mu.Unlock()
	if !over {
		return
	}
	nodeAvailable.Set(1, map[string]string{"node": p.cfg.NodeName})
	p.log.Info("virtual node takes pods again")
	p.updateNode(func(n *corev1.Node) {
		setCondition(n, corev1.ConditionTrue, ReasonAvailable, "Azure Container Instances takes container groups")
	})
}

// quotaState is the last read of the region's quota.
type quotaState struct {
	cores, coresUsed, groups, groupsUsed int
}

// refreshQuota reads the region's quota and sets capacity (the quota's
// limits) and allocatable (the limits less what groups of others use; the
// scheduler subtracts this node's own pods).
func (p *Provider) refreshQuota(ctx context.Context) error {
	usages, err := p.aci.Usage(ctx, p.cfg.Region)
	if err != nil {
		return err
	}
	var q quotaState
	for _, u := range usages {
		switch u.Name {
		case quotaStandardCores:
			q.cores, q.coresUsed = u.Limit, u.Current
		case quotaContainerGroups:
			q.groups, q.groupsUsed = u.Limit, u.Current
		}
	}
	for name, v := range map[string][2]int{quotaStandardCores: {q.cores, q.coresUsed}, quotaContainerGroups: {q.groups, q.groupsUsed}} {
		quotaCores.Set(float64(v[0]), map[string]string{"node": p.cfg.NodeName, "quota": name, "value": "limit"})
		quotaCores.Set(float64(v[1]), map[string]string{"node": p.cfg.NodeName, "quota": name, "value": "current"})
	}
	p.mu.Lock()
	var ownCores float64
	ownGroups := 0
	for _, e := range p.entries {
		if e.created {
			ownCores += e.cores
			ownGroups++
		}
	}
	p.quota = q
	p.mu.Unlock()
	otherCores := max(0, float64(q.coresUsed)-ownCores)
	otherGroups := max(0, q.groupsUsed-ownGroups)
	capacity := resources(float64(q.cores), q.groups)
	allocatable := resources(max(0, float64(q.cores)-otherCores), max(0, q.groups-otherGroups))
	p.updateNode(func(n *corev1.Node) {
		n.Status.Capacity, n.Status.Allocatable = capacity, allocatable
	})
	return nil
}

func resources(cores float64, pods int) corev1.ResourceList {
	milli := int64(math.Floor(cores * 1000))
	return corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(milli, resource.DecimalSI),
		corev1.ResourceMemory: resource.MustParse(strconv.FormatInt(int64(math.Floor(cores*memoryPerCoreGiB)), 10) + "Gi"),
		corev1.ResourcePods:   *resource.NewQuantity(int64(pods), resource.DecimalSI),
	}
}
