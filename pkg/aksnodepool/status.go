package aksnodepool

import (
	"sort"
	"strings"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
)

// Status is a pool as `az aks nodepool list/show` reports one.
type Status struct {
	Name     string   `json:"name"`
	Mode     string   `json:"mode"`
	OSType   string   `json:"osType"`
	OSSKU    string   `json:"osSku"`
	VMSizes  []string `json:"vmSizes"`
	Priority string   `json:"scaleSetPriority"`
	// Count is the pool's nodes now; Ready how many of them are Ready;
	// Desired the count the pool converges to (replicas without
	// autoscaler, the nodes karpenter wants with it).
	Count   int `json:"count"`
	Ready   int `json:"readyCount"`
	Desired int `json:"desiredCount"`
	// Autoscaler bounds (nil without autoscaler).
	EnableAutoScaling bool   `json:"enableAutoScaling"`
	MinCount          *int64 `json:"minCount,omitempty"`
	MaxCount          *int64 `json:"maxCount,omitempty"`
	// MaxSurge is the disruption budget ("10%" is core's default).
	MaxSurge string `json:"maxSurge"`
	// Versions of the pool's nodes (several while a roll is under way).
	KubernetesVersions []string `json:"kubernetesVersions"`
	NodeImageVersions  []string `json:"nodeImageVersions"`
	// PricePerHour is what the pool's nodes cost now; Unpriced counts nodes
	// the price list has no price for.
	PricePerHour float64           `json:"pricePerHour"`
	Unpriced     int               `json:"unpricedNodes,omitempty"`
	Zones        []string          `json:"availabilityZones,omitempty"`
	Labels       map[string]string `json:"nodeLabels,omitempty"`
	Taints       []string          `json:"nodeTaints,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
	OSDiskType   string            `json:"osDiskType"`
	OSDiskSizeGB int32             `json:"osDiskSizeGB"`
	// Upgrade is the last `nodepool upgrade` asked of the pool.
	Upgrade string `json:"upgrade,omitempty"`
}

// PriceFunc prices one node (size, Windows, spot); ok is false when the
// price list has no price.
type PriceFunc func(size string, windows, spot bool) (float64, bool)

// Describe reports a pool from its objects and the NodeClaims and Nodes of
// its NodePools. price may be nil.
func Describe(p *Pool, claims []karpv1.NodeClaim, nodes []corev1.Node, price PriceFunc) Status {
	tmpl := p.Fixed.Spec.Template
	s := Status{
		Name:     p.Name(),
		Mode:     lo.Ternary(tmpl.Labels[v1beta1.AKSLabelMode] == v1beta1.ModeSystem, "System", "User"),
		OSType:   "Linux",
		OSSKU:    v1beta1.OSSKU(p.NodeClass.GetImageFamily()),
		Priority: "Regular",
		MaxSurge: p.MaxSurge(),
		Tags:     p.NodeClass.Spec.Tags,
		Upgrade:  tmpl.Annotations[AnnotationUpgrade],
	}
	if p.NodeClass.IsWindows() {
		s.OSType = "Windows"
	}
	if p.NodeClass.Spec.OSDiskType != nil {
		s.OSDiskType = string(*p.NodeClass.Spec.OSDiskType)
	} else {
		s.OSDiskType = string(v1beta1.OSDiskTypeAuto)
	}
	s.OSDiskSizeGB = p.NodeClass.GetOSDiskSizeGB()
	for _, r := range tmpl.Spec.Requirements {
		switch r.Key {
		case corev1.LabelInstanceTypeStable:
			s.VMSizes = r.Values
		case karpv1.CapacityTypeLabelKey:
			if slices1(r.Values) == karpv1.CapacityTypeSpot {
				s.Priority = "Spot"
			}
		case corev1.LabelTopologyZone:
			s.Zones = r.Values
		}
	}
	s.Labels = lo.OmitByKeys(tmpl.Labels, []string{LabelAgentPool, v1beta1.AKSLabelMode})
	for _, t := range tmpl.Spec.Taints {
		s.Taints = append(s.Taints, t.ToString())
	}
	pools := map[string]bool{}
	for _, np := range p.NodePools() {
		pools[np.Name] = true
	}
	live := 0
	for _, c := range claims {
		if pools[c.Labels[karpv1.NodePoolLabelKey]] && c.DeletionTimestamp.IsZero() {
			live++
		}
	}
	kube, images := map[string]bool{}, map[string]bool{}
	for _, n := range nodes {
		if !pools[n.Labels[karpv1.NodePoolLabelKey]] {
			continue
		}
		s.Count++
		if nodeReady(&n) {
			s.Ready++
		}
		if v := n.Status.NodeInfo.KubeletVersion; v != "" {
			kube[strings.TrimPrefix(v, "v")] = true
		}
		if v := n.Labels[v1beta1.AKSLabelNodeImageVersion]; v != "" {
			images[v] = true
		}
		if price != nil {
			v, ok := price(n.Labels[corev1.LabelInstanceTypeStable], n.Labels[corev1.LabelOSStable] == string(corev1.Windows), n.Labels[karpv1.CapacityTypeLabelKey] == karpv1.CapacityTypeSpot)
			if !ok {
				s.Unpriced++
			}
			s.PricePerHour += v
		}
	}
	s.KubernetesVersions, s.NodeImageVersions = sortedSet(kube), sortedSet(images)
	if p.Autoscaled() {
		s.EnableAutoScaling = true
		s.MinCount, s.MaxCount = lo.ToPtr(p.MinCount()), lo.ToPtr(p.MaxCount())
		s.Desired = int(lo.Clamp(int64(live), p.MinCount(), p.MaxCount()))
	} else {
		s.Desired = int(lo.FromPtr(p.Fixed.Spec.Replicas))
	}
	return s
}

func slices1(v []string) string {
	if len(v) == 1 {
		return v[0]
	}
	return ""
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func sortedSet(m map[string]bool) []string {
	out := lo.Keys(m)
	sort.Strings(out)
	return out
}
