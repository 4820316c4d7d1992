package options

import (
	"fmt"
	"sort"
	"strings"

	cliflag "k8s.io/component-base/cli/flag"
)

// DefaultFeatureGates are the karpenter core feature gates azkarpenter turns
// on unless the operator says otherwise. Core ships StaticCapacity off; here
// a NodePool with spec.replicas (an AKS-style fixed-count pool, what
// `azkarpenter nodepool add --node-count` writes) keeps that many nodes.
var DefaultFeatureGates = map[string]bool{
	"StaticCapacity": true,
}

// WithDefaultFeatureGates returns a --feature-gates / FEATURE_GATES value:
// gates holds what the operator set, and every gate of DefaultFeatureGates it
// does not mention is added with its default. A gate the operator set, on or
// off, is kept as it is.
func WithDefaultFeatureGates(gates string) (string, error) {
	set := map[string]bool{}
	if strings.TrimSpace(gates) != "" {
		if err := cliflag.NewMapStringBool(&set).Set(gates); err != nil {
			return "", fmt.Errorf("feature gates %q: %w", gates, err)
		}
	}
	for k, v := range DefaultFeatureGates {
		if _, ok := set[k]; !ok {
			set[k] = v
		}
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%t", k, set[k])
	}
	return strings.Join(parts, ","), nil
}

// ApplyDefaultFeatureGates rewrites the controller's feature gates before
// karpenter core parses them: the --feature-gates flag in args (in place) if
// given, else the FEATURE_GATES environment variable through setenv. Core
// reads the flag first and the variable as its default, so both stay the
// single source core already knows.
func ApplyDefaultFeatureGates(args []string, getenv func(string) string, setenv func(string, string) error) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		for _, prefix := range []string{"--feature-gates", "-feature-gates"} {
			switch {
			case a == prefix && i+1 < len(args):
				v, err := WithDefaultFeatureGates(args[i+1])
				if err != nil {
					return err
				}
				args[i+1] = v
				return nil
			case strings.HasPrefix(a, prefix+"="):
				v, err := WithDefaultFeatureGates(strings.TrimPrefix(a, prefix+"="))
				if err != nil {
					return err
				}
				args[i] = prefix + "=" + v
				return nil
			}
		}
	}
	v, err := WithDefaultFeatureGates(getenv("FEATURE_GATES"))
	if err != nil {
		return err
	}
	return setenv("FEATURE_GATES", v)
}
