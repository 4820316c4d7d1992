//go:build e2e

// Package reliability checks that nothing is lost or leaked: garbage
// collection of what no NodeClaim owns, ARM throttling and 5xx storms, a
// controller killed during a scale-up, and a create that outlives its NodeClaim.
package reliability

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/azkarpenter/azkarpenter/test/e2e/framework"
)

var env *framework.Environment

func TestReliability(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Reliability")
}

// 50x faster than Azure: a VM takes about 0.7s to provision.
var _ = framework.Suite(&env, framework.Options{Name: "reliability", TimeScale: 0.02}, "default")
