// Package coretests is a wrapper module that builds karpenter core's
// regression suites (sigs.k8s.io/karpenter/test/suites/regression) at the
// version the product pins, straight from the module cache:
//
//	go test -c -o ../../bin/core-regression.test sigs.k8s.io/karpenter/test/suites/regression
//
// Go resolves a dependency's test-only imports only if the main module
// imports them too, so this file names the packages the suites import that
// the main module does not; `go mod tidy` then records their go.sum
// entries. Nothing here runs; `make e2e-core` builds and runs the suites
// (test/coreregression).
package coretests

import (
	_ "github.com/onsi/ginkgo/v2"
	_ "github.com/onsi/gomega"
	_ "k8s.io/client-go/informers"
	_ "sigs.k8s.io/karpenter/kwok/apis/v1alpha1"
	_ "sigs.k8s.io/karpenter/pkg/test"
	_ "sigs.k8s.io/karpenter/pkg/test/expectations"
	_ "sigs.k8s.io/karpenter/test/pkg/debug"
	_ "sigs.k8s.io/karpenter/test/pkg/environment/common"
)
