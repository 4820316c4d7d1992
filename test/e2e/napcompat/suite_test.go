//go:build e2e

// Package napcompat checks, end to end, what users moving from AKS node
// auto-provisioning (NAP) rely on: NAP's published example manifests apply
// unchanged and provision nodes labelled as NAP labels them, and an
// AKSNodeClass behaves as NAP's does over its life (tags changed in place,
// deletion held while NodeClaims use it).
package napcompat

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

var env *framework.Environment

func TestNAPCompat(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "NAP compatibility")
}

// NAP's examples are written for Azure CNI powered by Cilium (their
// NodePools carry the ebpf-dataplane label and Cilium's startup taint), so
// this cluster is one. 50x faster than Azure.
var _ = framework.Suite(&env, framework.Options{Name: "napcompat", TimeScale: 0.02,
	ControllerEnv: []string{"NETWORK_DATAPLANE=cilium", "NETWORK_POLICY=cilium"}})
