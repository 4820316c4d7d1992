//go:build e2e

// Package scheduling checks what nodes register with and what VMs they
// run on: NodePool labels and taints, AKS's reserved labels and NodeClass
// tags, a Windows node, ephemeral and managed OS disks. Every spec asserts
// on the cluster and on azuresim's VMs. Where pods land (sizes, zones,
// architecture, GPU, capacity type, the system surge pool, input no size
// serves) is checked by pkg/cloudprovider's placement specs.
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
