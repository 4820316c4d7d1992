//go:build e2e

// Package burst checks burst-then-settle on the local cluster at Azure-like
// latency: an opted-in Deployment runs on the virtual node (azuresim's
// Container Instances) within seconds while its VMs take tens of seconds,
// then moves onto the VMs, leaving no container group.
package burst

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

var env *framework.Environment

func TestBurst(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Burst")
}

// Time scale 1: a VM takes about 35 s to provision, a container group 8 s.
// The virtual node's back-off after an ACI refusal is 30 s, not 5 minutes,
// so that the quota spec's refusal is over before the next spec.
var _ = framework.Suite(&env, framework.Options{Name: "burst", TimeScale: 1, VirtualNode: true, VirtualNodeEnv: []string{"BACK_OFF=30s"}, ControllerEnv: []string{"BURST_TO_VIRTUAL_NODE=true"}}, "default")
