// Command controller runs karpenter core with the Azure cloud provider and
// azkarpenter's controllers. Configuration comes from flags and environment
// variables (`controller --help`); karpenter core reads KUBECONFIG.
// `controller virtual-node` runs the virtual node over Azure Container
// Instances instead (`controller virtual-node --help`).
package main

import (
	"fmt"
	"os"

	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/karpenter/pkg/cloudprovider/metrics"
	"sigs.k8s.io/karpenter/pkg/cloudprovider/overlay"
	corecontrollers "sigs.k8s.io/karpenter/pkg/controllers"
	"sigs.k8s.io/karpenter/pkg/controllers/state"
	coreoperator "sigs.k8s.io/karpenter/pkg/operator"

	"github.com/azkarpenter/azkarpenter/pkg/operator"
	"github.com/azkarpenter/azkarpenter/pkg/operator/options"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == virtualNodeCommand {
		if err := runVirtualNode(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "azkarpenter virtual-node:", err)
			os.Exit(1)
		}
		return
	}
	// azkarpenter's defaults for core's feature gates (StaticCapacity on),
	// merged under whatever the operator set, before core parses them.
	if err := options.ApplyDefaultFeatureGates(os.Args[1:], os.Getenv, os.Setenv); err != nil {
		fmt.Fprintln(os.Stderr, "azkarpenter:", err)
		os.Exit(2)
	}
	ctx, coreOp := coreoperator.NewOperator()
	op, err := operator.NewOperator(ctx, coreOp)
	if err != nil {
		log.FromContext(ctx).Error(err, "starting azkarpenter")
		os.Exit(1)
	}
	undecorated := metrics.Decorate(op.CloudProvider)
	cloudProvider := overlay.Decorate(undecorated, op.GetClient(), op.InstanceTypeStore)
	cluster := state.NewCluster(op.Clock, op.GetClient(), cloudProvider)
	op.
		WithControllers(ctx, corecontrollers.NewControllers(
			ctx,
			op.Manager,
			op.Clock,
			op.GetClient(),
			op.EventRecorder,
			cloudProvider,
			undecorated,
			cluster,
			op.InstanceTypeStore,
		)...).
		WithControllers(ctx, op.Controllers(ctx)...).
		Start(ctx)
}
