//go:build e2e

// Package scheduling checks where pods land: mixed sizes, selection on the
// Azure well-known labels, spread and anti-affinity, NodePool labels,
// taints and NodeClass tags, the system surge pool, Windows, GPU and Arm
// sizes, OS disks, and input no size can serve. Every spec asserts on the
// cluster and on azuresim's VMs.
package scheduling

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

var env *framework.Environment

func TestScheduling(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Scheduling")
}

// 50x faster than Azure: a VM takes about 0.7s to provision.
var _ = framework.Suite(&env, framework.Options{Name: "scheduling", TimeScale: 0.02}, "default")
