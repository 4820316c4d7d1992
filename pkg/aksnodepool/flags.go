package aksnodepool

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// AddFlags are the `az aks nodepool add` flags azkarpenter supports, parsed.
// Zero values mean "not given".
type AddFlags struct {
	Name string
	// NodeVMSize is --node-vm-size; VMSizes is --vm-sizes (with
	// --vm-set-type VirtualMachines).
	NodeVMSize string
	VMSetType  string
	VMSizes    []string
	// NodeCount is --node-count (-1: not given).
	NodeCount int64
	// Cluster autoscaler.
	EnableClusterAutoscaler bool
	MinCount, MaxCount      int64 // -1: not given
	// Spot.
	Priority       string
	EvictionPolicy string
	SpotMaxPrice   string
	// OS disk.
	OSDiskType   string
	OSDiskSizeGB int32
	// Node metadata.
	Taints []string
	Labels map[string]string
	Tags   map[string]string
	Mode   string
	// OS.
	OSType string
	OSSKU  string
	Zones  []string
	// Upgrades.
	MaxSurge string
	// Security.
	EnableFIPSImage        bool
	EnableEncryptionAtHost bool
}

// NewAddFlags returns AddFlags with nothing given.
func NewAddFlags() AddFlags {
	return AddFlags{NodeCount: -1, MinCount: -1, MaxCount: -1}
}

// ParseKeyValues parses AKS's space-separated key=value list (--labels,
// --tags); entries may also be separated by commas.
func ParseKeyValues(flag string, values []string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range values {
		for _, kv := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }) {
			k, val, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("%s %q: want key=value", flag, kv)
			}
			out[k] = val
		}
	}
	return out, nil
}

// ParseList splits a list AKS takes comma- or space-separated (--zones 1 2 3,
// --vm-sizes a,b, --node-taints a=b:NoSchedule,c=d:NoExecute).
func ParseList(values []string) []string {
	var out []string
	for _, v := range values {
		out = append(out, strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })...)
	}
	return out
}

// parseTaint parses key[=value]:Effect as --node-taints takes it.
func parseTaint(s string) (corev1.Taint, error) {
	kv, effect, ok := strings.Cut(s, ":")
	if !ok {
		return corev1.Taint{}, fmt.Errorf("--node-taints %q: want key=value:Effect", s)
	}
	k, v, _ := strings.Cut(kv, "=")
	t := corev1.Taint{Key: k, Value: v, Effect: corev1.TaintEffect(effect)}
	switch t.Effect {
	case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
	default:
		return t, fmt.Errorf("--node-taints %q: effect %q must be NoSchedule, PreferNoSchedule or NoExecute", s, effect)
	}
	if errs := validation.IsQualifiedName(k); len(errs) > 0 {
		return t, fmt.Errorf("--node-taints %q: key: %s", s, strings.Join(errs, "; "))
	}
	if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
		return t, fmt.Errorf("--node-taints %q: value: %s", s, strings.Join(errs, "; "))
	}
	return t, nil
}

// reservedLabelPrefixes are label domains users cannot set with --labels: AKS
// reserves kubernetes.azure.com, Kubernetes its own, karpenter its own.
var reservedLabelPrefixes = []string{"kubernetes.azure.com/", "kubernetes.io/", "k8s.io/", "karpenter.sh/", "karpenter.azure.com/"}

// aksLegacyLabels are labels without a domain that AKS sets on its nodes;
// the CRDs refuse them in NodePools.
var aksLegacyLabels = []string{"agentpool", "storageprofile", "storagetier", "accelerator"}

func checkLabels(labels map[string]string) []error {
	var errs []error
	keys := slices.Sorted(maps.Keys(labels))
	for _, k := range keys {
		v := labels[k]
		domain := ""
		if i := strings.Index(k, "/"); i >= 0 {
			domain = k[:i+1]
		}
		for _, p := range reservedLabelPrefixes {
			if domain == p || strings.HasSuffix(domain, "."+p) {
				errs = append(errs, fmt.Errorf("--labels %s: the %s prefix is reserved", k, strings.TrimSuffix(p, "/")))
			}
		}
		if k == LabelAgentPool {
			errs = append(errs, fmt.Errorf("--labels %s: the label is reserved; it is the pool's name", k))
		}
		if slices.Contains(aksLegacyLabels, k) {
			errs = append(errs, fmt.Errorf("--labels %s: the label is reserved; AKS sets it on its own nodes", k))
		}
		if e := validation.IsQualifiedName(k); len(e) > 0 {
			errs = append(errs, fmt.Errorf("--labels %s: %s", k, strings.Join(e, "; ")))
		}
		if e := validation.IsValidLabelValue(v); len(e) > 0 {
			errs = append(errs, fmt.Errorf("--labels %s=%s: %s", k, v, strings.Join(e, "; ")))
		}
	}
	return errs
}

func checkTags(tags map[string]string) []error {
	var errs []error
	if len(tags) > 45 {
		errs = append(errs, fmt.Errorf("--tags: %d tags, Azure allows 45 on a node's resources besides the controller's", len(tags)))
	}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		switch {
		case len(k) > 512:
			errs = append(errs, fmt.Errorf("--tags %s: keys are at most 512 characters", k))
		case strings.ContainsAny(k, `<>%&\?`):
			errs = append(errs, fmt.Errorf("--tags %s: keys must not contain < > %% & \\ or ?", k))
		case strings.HasPrefix(k, "karpenter.azure.com_") || strings.HasPrefix(k, "karpenter.sh_"):
			errs = append(errs, fmt.Errorf("--tags %s: the prefix is reserved for the controller's ownership tags", k))
		}
		if len(tags[k]) > 256 {
			errs = append(errs, fmt.Errorf("--tags %s: values are at most 256 characters", k))
		}
	}
	return errs
}

// ParseMaxSurge checks --max-surge: a node count (>= 1) or a percentage
// (1%-100%), as AKS takes it.
func ParseMaxSurge(s string) (string, error) {
	if p, ok := strings.CutSuffix(s, "%"); ok {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 100 {
			return "", fmt.Errorf("--max-surge %q: a percentage must be between 1%% and 100%%", s)
		}
		return strconv.Itoa(n) + "%", nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return "", fmt.Errorf("--max-surge %q: want a node count of at least 1 or a percentage such as 33%%", s)
	}
	return strconv.Itoa(n), nil
}
