//go:build e2e

// Package network checks nodes' networking as AKS builds it: every node's
// NIC in the cluster's load balancer pools, an Azure CNI node-subnet
// cluster filling its subnet at max pods + 1 addresses per node, and
// kubenet's IP forwarding and route table.
package network

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

var env *framework.Environment

func TestNetwork(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Network")
}

// 50x faster than Azure: a VM takes about 0.7s to provision.
var _ = framework.Suite(&env, framework.Options{Name: "network", TimeScale: 0.02}, "default")
