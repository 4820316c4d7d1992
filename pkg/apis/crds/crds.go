// Package crds embeds every CustomResourceDefinition the controller needs:
// AKSNodeClass and karpenter core's NodePool, NodeClaim, NodeOverlay and
// CapacityBuffer, patched for the Azure label domains. The YAML files are
// generated (make generate); do not edit them.
package crds

import (
	_ "embed"

	"github.com/awslabs/operatorpkg/object"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

var (
	//go:embed karpenter.azure.com_aksnodeclasses.yaml
	AKSNodeClassCRD []byte
	//go:embed karpenter.sh_nodepools.yaml
	NodePoolCRD []byte
	//go:embed karpenter.sh_nodeclaims.yaml
	NodeClaimCRD []byte
	//go:embed karpenter.sh_nodeoverlays.yaml
	NodeOverlayCRD []byte
	//go:embed autoscaling.x-k8s.io_capacitybuffers.yaml
	CapacityBufferCRD []byte
)

// All returns fresh copies of every CRD, in install order.
func All() []*apiextensionsv1.CustomResourceDefinition {
	return []*apiextensionsv1.CustomResourceDefinition{
		object.Unmarshal[apiextensionsv1.CustomResourceDefinition](AKSNodeClassCRD),
		object.Unmarshal[apiextensionsv1.CustomResourceDefinition](NodePoolCRD),
		object.Unmarshal[apiextensionsv1.CustomResourceDefinition](NodeClaimCRD),
		object.Unmarshal[apiextensionsv1.CustomResourceDefinition](NodeOverlayCRD),
		object.Unmarshal[apiextensionsv1.CustomResourceDefinition](CapacityBufferCRD),
	}
}
