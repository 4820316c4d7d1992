// Package apis names the azkarpenter API group. The types live in v1beta1;
// the CRDs the controller installs live in crds.
package apis

// Group is the API group of AKSNodeClass and the domain of azkarpenter labels.
const Group = "karpenter.azure.com"

// The AKSNodeClass CRD comes from controller-gen; hack/crds then adds the
// deprecated v1alpha2 version and copies karpenter core's CRDs with the Azure
// label-domain rules patched in.
//go:generate ../../bin/controller-gen crd object:headerFile="../../hack/boilerplate.go.txt" paths="./v1beta1/..." output:crd:artifacts:config=crds
//go:generate go run ../../hack/crds -dir crds
