package cloudprovider

import (
	"context"
	"fmt"
	"time"

	opmetrics "github.com/awslabs/operatorpkg/metrics"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/events"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/providers/instance"
)

// ReasonLaunchFailed is the event reason on a NodeClaim deleted because its
// VM failed to provision after Create returned.
const ReasonLaunchFailed = "LaunchFailed"

// ReasonWindowsBootstrapPreview is the event reason on the NodeClaim of
// every Windows node launched: the Windows setup follows AKS's Windows
// contract but has not been seen joining a real cluster (docs/bootstrap.md).
const ReasonWindowsBootstrapPreview = "WindowsBootstrapPreview"

// windowsPreview says, on the NodeClaim, that Windows bootstrap is a preview.
func (c *CloudProvider) windowsPreview(claim *karpv1.NodeClaim, nc *v1beta1.AKSNodeClass) {
	if c.recorder == nil {
		return
	}
	c.recorder.Publish(events.Event{
		InvolvedObject: claim,
		Type:           corev1.EventTypeWarning,
		Reason:         ReasonWindowsBootstrapPreview,
		Message: fmt.Sprintf("Windows node bootstrap (imageFamily %s) is a preview: the setup follows AKS's Windows contract, but no Windows node has been seen joining a real cluster from it yet; watch the NodeClaim's registration (docs/bootstrap.md)",
			nc.GetImageFamily()),
		DedupeValues: []string{string(claim.UID)},
	})
}

// launchedWait bounds the wait for core to record a launch before a failed
// one's NodeClaim is deleted.
const launchedWait = time.Minute

var launchFailures = opmetrics.NewPrometheusCounter(crmetrics.Registry, prometheus.CounterOpts{
	Namespace: "azkarpenter",
	Subsystem: "cloudprovider",
	Name:      "launch_failures_total",
	Help:      "NodeClaims deleted because Azure failed their VM after accepting it, by NodePool and the failure's reason.",
}, []string{"nodepool", "reason"})

// UseRecorder sets the recorder for the events of launches that fail after
// Create returned.
func (c *CloudProvider) UseRecorder(r events.Recorder) { c.recorder = r }

// WaitForLaunches blocks until every launch being followed has ended.
func (c *CloudProvider) WaitForLaunches() { c.launches.Wait() }

// awaitLaunch waits for a launch Azure accepted for at most the VM create
// wait, and then leaves it to follow. A launch that ends within the wait
// reports as Create always did: a failure goes to core as Create's error.
// A standalone NodeClaim (no NodePool) waits to the end: nothing would
// make another if a failed launch deleted it.
func (c *CloudProvider) awaitLaunch(ctx context.Context, claim *karpv1.NodeClaim, accepted *instance.Instance, launch *instance.Launch) (*instance.Instance, error) {
	if claim.Labels[karpv1.NodePoolLabelKey] == "" {
		return launch.Wait(ctx)
	}
	if c.opts.VMCreateWait > 0 {
		timer := time.NewTimer(c.opts.VMCreateWait)
		defer timer.Stop()
		select {
		case <-launch.Done():
			return launch.Wait(ctx)
		case <-timer.C:
		case <-ctx.Done():
		}
	}
	c.follow(ctx, claim, launch)
	return accepted, nil
}

// follow waits in the background for a VM creation Azure accepted. A VM
// Azure failed (an allocation failure, say) has been removed by then, and
// its offering marked unavailable, so its NodeClaim is deleted: core then
// provisions its pods again, on another offering. A launch that only ran
// out of time, or lost sight of its VM, keeps its NodeClaim: the VM may
// still come up, and if it does not, core's registration timeout replaces
// the NodeClaim and deletes the VM. The state is in memory only: after a
// restart, a VM that fails is left to that same timeout.
func (c *CloudProvider) follow(ctx context.Context, claim *karpv1.NodeClaim, launch *instance.Launch) {
	ctx = context.WithoutCancel(ctx)
	c.launches.Add(1)
	go func() {
		defer c.launches.Done()
		_, err := launch.Wait(ctx)
		if err == nil {
			return
		}
		log := log.FromContext(ctx).WithValues("NodeClaim", claim.Name)
		if !instance.IsLaunchFailed(err) {
			log.Info("stopped following the VM's creation; the NodeClaim's registration timeout decides its fate", "error", err.Error())
			return
		}
		// Deleting before core has recorded the launch would race its
		// status update; core records it moments after Create returns.
		c.waitUntilLaunched(ctx, claim)
		if c.recorder != nil {
			c.recorder.Publish(events.Event{
				InvolvedObject: claim,
				Type:           corev1.EventTypeWarning,
				Reason:         ReasonLaunchFailed,
				Message:        "Azure failed the VM after accepting it; deleting the NodeClaim so its pods are provisioned again: " + err.Error(),
				DedupeValues:   []string{string(claim.UID)},
			})
		}
		launchFailures.Inc(map[string]string{"nodepool": claim.Labels[karpv1.NodePoolLabelKey], "reason": instance.ErrorReason(err)})
		var opts []client.DeleteOption
		if claim.UID != "" {
			// Never a later NodeClaim of the same name.
			opts = append(opts, client.Preconditions{UID: &claim.UID})
		}
		if err := c.kubeClient.Delete(ctx, claim, opts...); client.IgnoreNotFound(err) != nil {
			log.Error(err, "deleting the NodeClaim of a failed launch; its registration timeout will")
			return
		}
		log.Info("deleted the NodeClaim of a failed launch", "error", err.Error())
	}()
}

// waitUntilLaunched waits, for at most launchedWait, until core has
// recorded the NodeClaim's launch or the NodeClaim is gone.
func (c *CloudProvider) waitUntilLaunched(ctx context.Context, claim *karpv1.NodeClaim) {
	_ = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, launchedWait, true, func(ctx context.Context) (bool, error) {
		got := &karpv1.NodeClaim{}
		if err := c.kubeClient.Get(ctx, client.ObjectKeyFromObject(claim), got); err != nil {
			return client.IgnoreNotFound(err) == nil, nil
		}
		return !got.StatusConditions().Get(karpv1.ConditionTypeLaunched).IsUnknown(), nil
	})
}
