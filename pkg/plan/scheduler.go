package plan

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/awslabs/operatorpkg/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/controllers/provisioning/scheduling"
	"sigs.k8s.io/karpenter/pkg/controllers/state"
	"sigs.k8s.io/karpenter/pkg/events"
	"sigs.k8s.io/karpenter/pkg/operator/injection"
	coreoptions "sigs.k8s.io/karpenter/pkg/operator/options"
	nodepoolutils "sigs.k8s.io/karpenter/pkg/utils/nodepool"
)

// concurrentReconciles is the parallelism of the scheduler's candidate
// evaluation, as karpenter core's own scheduling benchmark sets it.
const concurrentReconciles = 5

// CoreContext returns ctx carrying karpenter core's options at their
// defaults (read from the environment as the controller reads them) and the
// provisioner's controller name, which is what Scheduler.Solve expects.
func CoreContext(ctx context.Context) (context.Context, error) {
	o := &coreoptions.Options{}
	fs := &coreoptions.FlagSet{FlagSet: flag.NewFlagSet("karpenter", flag.ContinueOnError)}
	fs.SetOutput(io.Discard)
	o.AddFlags(fs)
	if err := o.Parse(fs); err != nil {
		return nil, fmt.Errorf("karpenter core options: %w", err)
	}
	return injection.WithControllerName(coreoptions.ToContext(ctx, o), "provisioner"), nil
}

// NewScheduler builds karpenter core's provisioning scheduler the way its
// provisioner does (NodePools ordered by weight, their instance types, the
// topology of the pods), without a controller: nothing is written anywhere.
// kube is read for the topology of pods already in a cluster; nil means an
// empty cluster. daemonSetPods (one per DaemonSet) reserve room on every
// node they tolerate. ctx must come from CoreContext.
func NewScheduler(ctx context.Context, kube client.Client, nodePools []*karpv1.NodePool, instanceTypes map[string][]*cloudprovider.InstanceType, pods, daemonSetPods []*corev1.Pod) (*scheduling.Scheduler, error) {
	if kube == nil {
		kube = fake.NewClientBuilder().Build()
	}
	pools := make([]*karpv1.NodePool, 0, len(nodePools))
	for _, np := range nodePools {
		if len(instanceTypes[np.Name]) > 0 {
			pools = append(pools, np)
		}
	}
	if len(pools) == 0 {
		return nil, errors.New("no NodePool has an instance type")
	}
	nodepoolutils.OrderByWeight(pools)
	clk := clock.RealClock{}
	cluster := state.NewCluster(clk, kube, offlineCloudProvider{instanceTypes: instanceTypes})
	opts := []scheduling.Options{scheduling.NumConcurrentReconciles(concurrentReconciles)}
	topology, err := scheduling.NewTopology(ctx, kube, cluster, nil, pools, instanceTypes, pods, opts...)
	if err != nil {
		return nil, fmt.Errorf("computing topology: %w", err)
	}
	return scheduling.NewScheduler(ctx, kube, pools, cluster, nil, topology, instanceTypes, daemonSetPods,
		events.NewRecorder(&record.FakeRecorder{}), clk, nil, nil, opts...), nil
}

// offlineCloudProvider serves instance types to karpenter core's cluster
// state; nothing in an offline solve launches or lists instances.
type offlineCloudProvider struct {
	instanceTypes map[string][]*cloudprovider.InstanceType
}

var errOffline = errors.New("offline plan: no instances are launched")

func (offlineCloudProvider) Create(context.Context, *karpv1.NodeClaim) (*karpv1.NodeClaim, error) {
	return nil, errOffline
}
func (offlineCloudProvider) Delete(context.Context, *karpv1.NodeClaim) error { return errOffline }
func (offlineCloudProvider) Get(context.Context, string) (*karpv1.NodeClaim, error) {
	return nil, cloudprovider.NewNodeClaimNotFoundError(errOffline)
}
func (offlineCloudProvider) List(context.Context) ([]*karpv1.NodeClaim, error) { return nil, nil }
func (p offlineCloudProvider) GetInstanceTypes(_ context.Context, np *karpv1.NodePool) ([]*cloudprovider.InstanceType, error) {
	return p.instanceTypes[np.Name], nil
}
func (offlineCloudProvider) IsDrifted(context.Context, *karpv1.NodeClaim) (cloudprovider.DriftReason, error) {
	return "", nil
}
func (offlineCloudProvider) RepairPolicies() []cloudprovider.RepairPolicy { return nil }
func (offlineCloudProvider) Name() string                                 { return "offline-plan" }
func (offlineCloudProvider) GetSupportedNodeClasses() []status.Object     { return nil }
