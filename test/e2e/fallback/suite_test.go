//go:build e2e

// Package fallback checks that launches find capacity when Azure refuses
// after accepting a VM (another zone), a full subnet, and a restart that
// must adopt the VM an earlier attempt created. Refusals at the VM's PUT
// (spot quota, family quota) and the choice of spot are
// pkg/cloudprovider's placement specs.
package fallback

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

var env *framework.Environment

func TestFallback(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Fallback")
}

// 50x faster than Azure: a VM takes about 0.7s to provision.
var _ = framework.Suite(&env, framework.Options{Name: "fallback", TimeScale: 0.02}, "default")
