//go:build e2e

// Package fallback checks that launches find capacity when Azure refuses:
// spot over on-demand and back, other zones and families, a full subnet,
// and a restart that must adopt the VM an earlier attempt created.
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
