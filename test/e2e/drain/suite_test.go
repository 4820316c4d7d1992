//go:build e2e

// Package drain checks how a node karpenter core disrupts lets its pods go:
// eviction order by priority, grace periods, do-not-disrupt pods against
// the NodePool's terminationGracePeriod, unhealthy PodDisruptionBudgets, and
// a simulated pod's termination (kwok's pod stages). It is its own suite,
// apart from disruption's decisions, so that `make e2e` runs the two side by
// side: each spec waits out wall-clock grace periods by design.
package drain

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

var env *framework.Environment

func TestDrain(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Drain")
}

// 50x faster than Azure: a VM takes about 0.7s to provision.
var _ = framework.Suite(&env, framework.Options{Name: "drain", TimeScale: 0.02}, "default")
