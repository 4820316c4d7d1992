//go:build e2e

// Package disruption checks what karpenter core decides through the provider:
// consolidation, drift under a budget, budget schedules, expiration, limits,
// weights and spot eviction, on the cluster and on azuresim's VMs.
package disruption

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

var env *framework.Environment

func TestDisruption(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Disruption")
}

// 50x faster than Azure: a VM takes about 0.7s to provision.
var _ = framework.Suite(&env, framework.Options{Name: "disruption", TimeScale: 0.02}, "default")
