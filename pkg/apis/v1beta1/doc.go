// Package v1beta1 is the karpenter.azure.com/v1beta1 API: AKSNodeClass, the
// Azure-specific half of a Karpenter NodePool. It is wire-compatible with AKS
// node auto-provisioning's AKSNodeClass and adds what AKS node pools offer but
// node auto-provisioning lacks (Windows, explicit OS disk type, spot price cap,
// dedicated hosts, confidential VMs, pod sandboxing).
//
// +k8s:deepcopy-gen=package
// +groupName=karpenter.azure.com
package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/azkarpenter/azkarpenter/pkg/apis"
)

// SchemeGroupVersion is the stored and preferred version of the API.
var SchemeGroupVersion = schema.GroupVersion{Group: apis.Group, Version: "v1beta1"}

var (
	// SchemeBuilder registers the API types with a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &AKSNodeClass{}, &AKSNodeClassList{})
		metav1.AddToGroupVersion(s, SchemeGroupVersion)
		return nil
	})
	// AddToScheme adds the API types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// Karpenter core's operator builds its clients from client-go's global scheme,
// so the types are registered there at import time, as core's own APIs are.
func init() {
	if err := AddToScheme(scheme.Scheme); err != nil {
		panic(err)
	}
}
