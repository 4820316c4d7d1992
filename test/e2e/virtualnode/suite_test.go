//go:build e2e

// Package virtualnode checks the virtual node over Azure Container
// Instances on the local cluster: a workload written as AKS's virtual-nodes
// documentation writes it runs on ACI, and scaling it away leaves no
// container group.
package virtualnode

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

var env *framework.Environment

func TestVirtualNode(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "VirtualNode")
}

// 50x faster than Azure: a container group's ~8 s start takes ~0.16 s.
var _ = framework.Suite(&env, framework.Options{Name: "virtualnode", TimeScale: 0.02, VirtualNode: true})
