package virtualnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	"k8s.io/utils/clock"

	"github.com/azkarpenter/azkarpenter/pkg/providers/containerinstance"
)

// Provider is the virtual kubelet's provider: virtual-kubelet's
// PodLifecycleHandler (with PodNotifier) and NodeProvider over ACI.
type Provider struct {
	cfg      Config
	aci      containerinstance.Provider
	kube     kubernetes.Interface
	recorder record.EventRecorder
	clock    clock.Clock
	log      klog.Logger

	// Set by nodeutil through attach: its informers' listers.
	pods       corev1listers.PodLister
	configMaps corev1listers.ConfigMapLister
	secrets    corev1listers.SecretLister

	// runCtx outlives a single pod controller call: deployments are followed
	// in it.
	runCtx context.Context

	mu      sync.Mutex
	entries map[string]*entry
	// notifyPod and notifyNode are virtual-kubelet's callbacks; they may
	// block, so they are called without mu held.
	notifyPod  func(*corev1.Pod)
	notifyNode func(*corev1.Node)
	node       *corev1.Node
	// unavailableUntil ends the back-off after a quota or capacity refusal.
	unavailableUntil time.Time
	quota            quotaState
}

// entry is a pod the virtual node was given, with the status it reports.
type entry struct {
	pod   *corev1.Pod
	group string
	// created: ACI accepted the group. busy: a create or delete is under
	// way. retryAt: when a refused create is tried again (zero: never, the
	// pod cannot run on ACI as it is).
	created bool
	busy    bool
	retryAt time.Time
	cores   float64
}

var (
	_ nodeutil.Provider = (*Provider)(nil)
	_ node.PodNotifier  = (*Provider)(nil)
	_ node.NodeProvider = (*Provider)(nil)
)

// NewProvider builds the provider; Run attaches it to virtual-kubelet.
func NewProvider(cfg Config, aci containerinstance.Provider, kube kubernetes.Interface, recorder record.EventRecorder, clk clock.Clock) *Provider {
	cfg = cfg.withDefaults()
	return &Provider{
		cfg: cfg, aci: aci, kube: kube, recorder: recorder, clock: clk,
		log:     klog.Background().WithValues("node", cfg.NodeName),
		runCtx:  context.Background(),
		entries: map[string]*entry{},
		node:    cfg.nodeTemplate(),
	}
}

// attach takes nodeutil's listers and node (the object its node controller
// starts from).
func (p *Provider) attach(c nodeutil.ProviderConfig) {
	p.pods, p.configMaps, p.secrets = c.Pods, c.ConfigMaps, c.Secrets
	p.mu.Lock()
	*c.Node = *p.node.DeepCopy()
	p.mu.Unlock()
}

func podKey(namespace, name string) string { return namespace + "/" + name }

// CreatePod implements node.PodLifecycleHandler. It never fails the pod: a
// refusal leaves it Pending with a reason and an event (see contract.go),
// so virtual-kubelet does not mark it Failed or retry it in a loop.
func (p *Provider) CreatePod(ctx context.Context, pod *corev1.Pod) error {
	e := &entry{pod: pod.DeepCopy(), group: containerinstance.GroupName(pod), busy: true}
	e.pod.Status = pendingStatus(pod, p.cfg.InternalIP, "", "", p.clock.Now())
	p.mu.Lock()
	p.entries[podKey(pod.Namespace, pod.Name)] = e
	p.mu.Unlock()
	p.create(ctx, e)
	return nil
}

// create sends e's pod to ACI (e.busy is set by the caller), or records
// why it did not.
func (p *Provider) create(ctx context.Context, e *entry) {
	p.mu.Lock()
	pod := e.pod.DeepCopy()
	until := p.unavailableUntil
	p.mu.Unlock()
	now := p.clock.Now()
	if now.Before(until) {
		p.refuse(e, resultUnavailable, ReasonContainerInstancesUnavailable, until,
			fmt.Sprintf("virtual node %s takes no pods until %s: ACI refused a container group for quota or capacity (node condition %s)", p.cfg.NodeName, until.UTC().Format(time.RFC3339), ConditionContainerInstancesAvailable))
		return
	}
	cg, err := containerinstance.ContainerGroupFor(pod, p.inputs(ctx, pod), p.cfg.groupOptions())
	if err != nil {
		var inel *containerinstance.IneligibleError
		retry := now.Add(p.cfg.BackOff) // a ConfigMap or Secret may appear
		if errors.As(err, &inel) {
			retry = time.Time{}
		}
		p.refuse(e, resultIneligible, ReasonCannotRunOnACI, retry, "cannot run on Azure Container Instances: "+err.Error())
		return
	}
	d, err := p.aci.Create(ctx, cg)
	if err != nil {
		p.refused(e, err)
		return
	}
	cpu := containerinstance.GroupResources(pod).CPU
	p.mu.Lock()
	e.created, e.busy, e.retryAt, e.cores = true, false, time.Time{}, cpu
	p.mu.Unlock()
	podsCreatedTotal.Inc(map[string]string{"node": p.cfg.NodeName, "result": resultOK})
	p.log.Info("created container group", "pod", klog.KObj(pod), "group", e.group)
	go p.follow(d, pod)
}

// refused handles ACI's refusal of a create.
func (p *Provider) refused(e *entry, err error) {
	var (
		quota *containerinstance.QuotaExceededError
		capa  *containerinstance.CapacityError
		bad   *containerinstance.BadRequestError
		fail  *containerinstance.DeploymentFailedError
	)
	switch {
	case errors.As(err, &quota):
		msg := fmt.Sprintf("ACI refused the container group: %s: %s", containerinstance.CodeQuotaReached, quota.Message)
		p.refuse(e, resultQuota, ReasonContainerGroupRefused, p.markUnavailable(ReasonQuotaExceeded, msg), msg)
	case errors.As(err, &capa):
		msg := fmt.Sprintf("ACI refused the container group: %s: %s", containerinstance.CodeServiceUnavailable, capa.Message)
		p.refuse(e, resultCapacity, ReasonContainerGroupRefused, p.markUnavailable(ReasonCapacityUnavailable, msg), msg)
	case errors.As(err, &bad):
		field := bad.Field
		if field == "" {
			field = "(no field named)"
		}
		p.refuse(e, resultBadRequest, ReasonContainerGroupRefused, time.Time{},
			fmt.Sprintf("ACI refused the container group (%s) at %s: %s", bad.Code, field, bad.Message))
	case errors.As(err, &fail):
		p.refuse(e, resultFailed, ReasonContainerGroupRefused, time.Time{},
			fmt.Sprintf("ACI's deployment of the container group failed: %s: %s", fail.Code, fail.Message))
	default:
		// Throttling after the SDK's retries, 5xx, transport: tried again at
		// the next status pass.
		p.refuse(e, resultError, ReasonContainerGroupRefused, p.clock.Now().Add(p.cfg.StatusInterval),
			"creating the container group failed, will retry: "+err.Error())
	}
}

// refuse leaves e's pod Pending with reason and message, records an event
// and, when retryAt is set, lets the status pass try again then.
func (p *Provider) refuse(e *entry, result, reason string, retryAt time.Time, msg string) {
	p.mu.Lock()
	e.created, e.busy, e.retryAt = false, false, retryAt
	e.pod.Status = pendingStatus(e.pod, p.cfg.InternalIP, reason, msg, startOf(e.pod))
	pod := e.pod.DeepCopy()
	notify := p.notifyPod
	p.mu.Unlock()
	podsCreatedTotal.Inc(map[string]string{"node": p.cfg.NodeName, "result": result})
	p.recorder.Event(pod, corev1.EventTypeWarning, reason, msg)
	p.log.Info("pod not run on ACI", "pod", klog.KObj(pod), "reason", reason, "message", msg)
	if notify != nil {
		notify(pod)
	}
}

// follow waits for a deployment; a failed one is refused like a create,
// its group deleted so that a retry starts clean.
func (p *Provider) follow(d *containerinstance.Deployment, pod *corev1.Pod) {
	g, err := d.Wait(p.runCtx)
	key := podKey(pod.Namespace, pod.Name)
	p.mu.Lock()
	e, ok := p.entries[key]
	ok = ok && e.pod.UID == pod.UID && e.created
	if ok && err != nil {
		e.busy = true
	}
	p.mu.Unlock()
	if !ok || p.runCtx.Err() != nil {
		return
	}
	if err != nil {
		if derr := p.aci.Delete(p.runCtx, e.group); derr != nil {
			p.log.Error(derr, "deleting the failed container group", "group", e.group)
		}
		p.refused(e, err)
		return
	}
	p.report(e, containerinstance.StatusOf(g))
}

// report sets e's pod status from its group and tells virtual-kubelet when
// it changed.
func (p *Provider) report(e *entry, gs containerinstance.GroupStatus) {
	p.mu.Lock()
	status := podStatusOf(e.pod, gs, p.cfg.InternalIP)
	changed := !equality.Semantic.DeepEqual(status, e.pod.Status)
	e.pod.Status = status
	pod := e.pod.DeepCopy()
	notify := p.notifyPod
	p.mu.Unlock()
	if changed && notify != nil {
		notify(pod)
	}
}

// UpdatePod implements node.PodLifecycleHandler. Labels and annotations
// are kept; a changed image or other container field is applied by
// putting the group again, which ACI takes as an update that restarts it.
func (p *Provider) UpdatePod(ctx context.Context, pod *corev1.Pod) error {
	key := podKey(pod.Namespace, pod.Name)
	p.mu.Lock()
	e, ok := p.entries[key]
	if !ok {
		p.mu.Unlock()
		return p.CreatePod(ctx, pod)
	}
	recreate := !equality.Semantic.DeepEqual(e.pod.Spec.Containers, pod.Spec.Containers) || !equality.Semantic.DeepEqual(e.pod.Spec.InitContainers, pod.Spec.InitContainers)
	status := e.pod.Status
	e.pod = pod.DeepCopy()
	e.pod.Status = status
	if recreate && !e.busy {
		e.busy = true
	} else {
		recreate = false
	}
	p.mu.Unlock()
	if recreate {
		p.create(ctx, e)
	}
	return nil
}

// DeletePod implements node.PodLifecycleHandler: the group is deleted
// (waiting for ACI), then the pod is reported terminated so that
// virtual-kubelet removes it from the API server.
func (p *Provider) DeletePod(ctx context.Context, pod *corev1.Pod) error {
	key := podKey(pod.Namespace, pod.Name)
	p.mu.Lock()
	e, ok := p.entries[key]
	group := containerinstance.GroupName(pod)
	if ok {
		group = e.group
		e.busy = true
	}
	p.mu.Unlock()
	if err := p.aci.Delete(ctx, group); err != nil {
		podsDeletedTotal.Inc(map[string]string{"node": p.cfg.NodeName, "result": resultError})
		p.mu.Lock()
		if ok {
			e.busy = false
		}
		p.mu.Unlock()
		return fmt.Errorf("deleting container group %s: %w", group, err)
	}
	podsDeletedTotal.Inc(map[string]string{"node": p.cfg.NodeName, "result": resultOK})
	p.log.Info("deleted container group", "pod", klog.KObj(pod), "group", group)
	p.mu.Lock()
	delete(p.entries, key)
	notify := p.notifyPod
	p.mu.Unlock()
	if !ok {
		return nil
	}
	done := pod.DeepCopy()
	done.Status = terminatedStatus(e.pod, p.clock.Now())
	if notify != nil {
		notify(done)
	}
	return nil
}

// GetPod implements node.PodLifecycleHandler.
func (p *Provider) GetPod(_ context.Context, namespace, name string) (*corev1.Pod, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.entries[podKey(namespace, name)]
	if !ok {
		return nil, errdefs.NotFoundf("pod %s/%s is not on virtual node", namespace, name)
	}
	return e.pod.DeepCopy(), nil
}

// GetPodStatus implements node.PodLifecycleHandler.
func (p *Provider) GetPodStatus(ctx context.Context, namespace, name string) (*corev1.PodStatus, error) {
	pod, err := p.GetPod(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

// GetPods implements node.PodLifecycleHandler.
func (p *Provider) GetPods(context.Context) ([]*corev1.Pod, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(p.entries))
	for _, e := range p.entries {
		out = append(out, e.pod.DeepCopy())
	}
	return out, nil
}

// NotifyPods implements node.PodNotifier.
func (p *Provider) NotifyPods(_ context.Context, cb func(*corev1.Pod)) {
	p.mu.Lock()
	p.notifyPod = cb
	p.mu.Unlock()
}

// GetContainerLogs serves kubectl logs from ACI's logs API. ACI returns
// the log as text; follow is not streamed (ACI's logs API has no follow),
// the log so far is returned.
func (p *Provider) GetContainerLogs(ctx context.Context, namespace, podName, containerName string, opts api.ContainerLogOpts) (io.ReadCloser, error) {
	p.mu.Lock()
	e, ok := p.entries[podKey(namespace, podName)]
	var group string
	if ok {
		group = e.group
	}
	p.mu.Unlock()
	if !ok {
		return nil, errdefs.NotFoundf("pod %s/%s is not on virtual node %s", namespace, podName, p.cfg.NodeName)
	}
	logs, err := p.aci.Logs(ctx, group, containerName, int32(min(max(opts.Tail, 0), 1<<30)))
	if containerinstance.IsNotFound(err) {
		return nil, errdefs.NotFoundf("container %s of pod %s/%s has no container group yet", containerName, namespace, podName)
	}
	if err != nil {
		return nil, err
	}
	return io.NopCloser(strings.NewReader(logs)), nil
}

// RunInContainer, AttachToContainer and PortForward are not offered: ACI's
// exec is a one-off websocket per command without stdin attach or port
// forwarding, which this node does not bridge.
func (p *Provider) RunInContainer(context.Context, string, string, string, []string, api.AttachIO) error {
	return errdefs.InvalidInput("exec is not supported on the ACI virtual node")
}

// AttachToContainer implements nodeutil.Provider; see RunInContainer.
func (p *Provider) AttachToContainer(context.Context, string, string, string, api.AttachIO) error {
	return errdefs.InvalidInput("attach is not supported on the ACI virtual node")
}

// PortForward implements nodeutil.Provider; see RunInContainer.
func (p *Provider) PortForward(context.Context, string, string, int32, io.ReadWriteCloser) error {
	return errdefs.InvalidInput("port-forward is not supported on the ACI virtual node")
}

// GetStatsSummary implements nodeutil.Provider: ACI's metrics are in Azure
// Monitor, not served here.
func (p *Provider) GetStatsSummary(context.Context) (*statsv1alpha1.Summary, error) {
	return nil, errdefs.InvalidInput("stats are not served by the ACI virtual node")
}

// GetMetricsResource implements nodeutil.Provider; see GetStatsSummary.
func (p *Provider) GetMetricsResource(context.Context) ([]*dto.MetricFamily, error) {
	return nil, errdefs.InvalidInput("resource metrics are not served by the ACI virtual node")
}
