// Package nodeagent plays the node side of azuresim's VMs: for a VM that
// finishes provisioning it does what the AKS node image does with the VM's
// custom data (the same artifact a real image receives): its kubelet
// TLS-bootstraps with the bootstrap token, registers the Node and reports
// its status with the node's own client certificate. With cluster
// credentials it also plays the cloud provider's controllers: it initializes
// the Node as cloud-node-manager does (providerID, instance type and
// topology labels, addresses, the uninitialized taint removed), flags spot
// evictions on the Node and deletes the Node when the VM goes. kwok then
// keeps the Node alive.
package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/util/workqueue"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim/catalog"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/contract"
)

// Annotations and condition names.
const (
	KwokAnnotation      = "kwok.x-k8s.io/node"
	KwokAnnotationValue = "fake"
	ConditionPreemption = "PreemptionScheduled"
	ReasonSpotEviction  = "SpotEvictionIncoming"
	// ConditionVMEventScheduled and its reason are what older versions of
	// AKS's node-problem-detector set for every Azure scheduled event.
	ConditionVMEventScheduled = "VMEventScheduled"
	ReasonVMEventScheduled    = "VMEventScheduled"
	ProviderIDPrefix          = "azure://"
	defaultOSDiskGB           = 30 // Azure marketplace Linux image default when the VM does not say

	// TagKubelet, set to KubeletExternal on a VM (through its AKSNodeClass's
	// tags), tells the agent that a real kubelet runs for the VM outside the
	// simulator (test/e2e/realkubelet): the agent then does not play the
	// kubelet (no TLS bootstrap, registration or status) and plays only the
	// cloud provider's part for the Node that kubelet registers. Azure has
	// no node agent and ignores the tag.
	TagKubelet      = "azuresim_kubelet"
	KubeletExternal = "external"
	// externalKubeletPoll is how often the agent looks for the Node of a VM
	// whose kubelet runs outside the simulator, until it has registered.
	externalKubeletPoll = time.Second
)

// ExternalKubelet reports whether a real kubelet, not the agent, runs the
// VM's node (TagKubelet).
func ExternalKubelet(vm VM) bool { return vm.Tags[TagKubelet] == KubeletExternal }

// VM is the agent's view of a simulated VM.
type VM struct {
	ID, Subscription, ResourceGroup, Name, ComputerName, Location, Zone string
	SKU                                                                 *catalog.SKU
	Spot                                                                bool
	VMID                                                                string
	Created                                                             time.Time
	Running                                                             bool // provisioned and powered on
	EvictionNotBefore                                                   *time.Time
	// EvictionSignal is the node condition the eviction notice shows as
	// (SignalPreemptionScheduled or SignalVMEventScheduled), and
	// EvictionEventID the Scheduled Events EventId of the Preempt event.
	EvictionSignal, EvictionEventID string
	// CustomData is osProfile.customData as ARM received it (base64).
	CustomData string
	// Windows is whether the VM runs Windows (its OS disk's osType).
	Windows bool
	// ImageID is the image reference the VM was created from.
	ImageID      string
	OSDiskSizeGB int
	PrivateIP    string
	Tags         map[string]string
}

// NodeReport is what the agent last saw of a VM's node: the Node it joined
// as, or why it has not joined.
type NodeReport struct {
	// Node is the Node's name once it has registered.
	Node string
	// JoinError says why the node has not joined (bad custom data, TLS
	// bootstrap refused, API server unreachable, registration refused).
	JoinError string
}

// Source is where VMs come from (the azuresim server).
type Source interface {
	LookupVM(id string) (VM, bool)
	ListVMs() []VM
	Watch(func(vmID string))
	// ReportNode records what became of a VM's node, for the simulator's
	// state (GET /admin/state).
	ReportNode(vmID string, r NodeReport)
}

// Options configure an Agent.
type Options struct {
	// Client has cluster credentials: the cloud provider's part (node
	// initialization, deletion, eviction notices) and the agent's reads.
	// Nodes register and report status with their own credentials.
	Client kubernetes.Interface
	Source Source
	// Routes are the simulated network's routes to the API server endpoints
	// nodes are told in their custom data.
	Routes Routes
	Logger *slog.Logger
	// ResyncPeriod is how often every Node is checked against its VM.
	ResyncPeriod time.Duration
	// Workers is the number of reconcile workers (DefaultWorkers when 0); a
	// worker waits while its node's certificate request is approved and
	// signed, so they bound how many nodes join at once.
	Workers int
}

// DefaultWorkers is how many nodes join at once. Each worker spends most of
// a join waiting (for its certificate to be approved and signed, for the API
// server), so the 8 workers there were made the agent, not the VMs, pace a
// burst of hundreds of VMs.
const DefaultWorkers = 64

// Agent registers and removes Nodes for VMs.
type Agent struct {
	opts  Options
	log   *slog.Logger
	queue workqueue.TypedRateLimitingInterface[string]

	mu        sync.Mutex
	nodeNames map[string]string // lower(VM ID) -> Node name
	// kubelets are the client certificates issued to VMs' kubelets, by
	// lower(VM ID): a VM bootstraps once.
	kubelets         map[string]*kubeletCredentials
	bootstrapClients map[string]*bootstrapClient
	// reported is the last NodeReport per VM, so each is logged once.
	reported       map[string]NodeReport
	evictionEvents map[string]bool // Nodes whose eviction Event is recorded

	// kubeletNodes, when set, stands in for every kubelet's own connection:
	// unit tests drive the agent's logic with a fake clientset, which cannot
	// TLS-bootstrap. The local-cluster tests cover the real path.
	kubeletNodes corev1client.NodeInterface
}

// New builds an agent; Run starts it.
func New(opts Options) *Agent {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ResyncPeriod == 0 {
		opts.ResyncPeriod = 30 * time.Second
	}
	if opts.Workers == 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Routes == nil {
		opts.Routes = Routes{}
	}
	return &Agent{opts: opts, log: opts.Logger, nodeNames: map[string]string{}, kubelets: map[string]*kubeletCredentials{},
		bootstrapClients: map[string]*bootstrapClient{}, reported: map[string]NodeReport{}, evictionEvents: map[string]bool{}}
}

// Run reconciles until ctx ends, then waits for its workers. An Agent runs once.
func (a *Agent) Run(ctx context.Context) error {
	// The queue is made here, not in New, because it owns a goroutine that
	// only ShutDown (at the end of Run) stops.
	a.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](20*time.Millisecond, 5*time.Second),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "azuresim-nodeagent"})
	a.opts.Source.Watch(func(id string) { a.queue.Add(lower(id)) })
	var wg sync.WaitGroup
	for range a.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a.processNext(ctx) {
			}
		}()
	}
	a.resync(ctx)
	t := time.NewTicker(a.opts.ResyncPeriod)
	defer t.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-t.C:
			a.resync(ctx)
		}
	}
	a.queue.ShutDown()
	wg.Wait()
	a.mu.Lock()
	for _, c := range a.bootstrapClients {
		c.transport.CloseIdleConnections()
	}
	a.mu.Unlock()
	return nil
}

// resync queues every VM and every Node this agent manages, so Nodes of
// VMs that vanished (reset, restart) are removed.
func (a *Agent) resync(ctx context.Context) {
	// Nodes first: a VM whose Node the agent knows is checked, not
	// registered again.
	nodes, err := a.opts.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil && ctx.Err() == nil {
		a.log.Warn("node agent: listing nodes failed", "err", err)
	}
	if err == nil {
		for _, n := range nodes.Items {
			if n.Annotations[KwokAnnotation] != KwokAnnotationValue || !strings.HasPrefix(n.Spec.ProviderID, ProviderIDPrefix) {
				continue
			}
			id := lower(strings.TrimPrefix(n.Spec.ProviderID, ProviderIDPrefix))
			a.mu.Lock()
			a.nodeNames[id] = n.Name
			a.mu.Unlock()
			a.queue.Add(id)
		}
	}
	for _, vm := range a.opts.Source.ListVMs() {
		a.queue.Add(lower(vm.ID))
	}
}

// notJoinedError is a node that could not join; it is reported and logged
// once, and retried with backoff as a kubelet retries.
type notJoinedError struct{ err error }

func (e *notJoinedError) Error() string { return e.err.Error() }
func (e *notJoinedError) Unwrap() error { return e.err }

func (a *Agent) processNext(ctx context.Context) bool {
	id, quit := a.queue.Get()
	if quit {
		return false
	}
	defer a.queue.Done(id)
	err := a.reconcile(ctx, id)
	var notJoined *notJoinedError
	switch {
	case err != nil && ctx.Err() == nil:
		if !errors.As(err, &notJoined) {
			a.log.Warn("node agent: reconcile failed, retrying", "vm", id, "err", err)
		}
		a.queue.AddRateLimited(id)
	default:
		a.queue.Forget(id)
	}
	return true
}

// ProviderID is the Node providerID of a VM, as the Azure cloud provider
// sets it: for a standalone VM, availabilitySet.GetInstanceIDByNodeName
// (kubernetes-sigs/cloud-provider-azure, pkg/provider/azure_standard.go)
// returns ConvertResourceGroupNameToLower(*machine.ID)
// (pkg/provider/azure_wrap.go), and the node manager prefixes "azure://".
// That function takes the group from the ID with the greedy pattern
// .*/subscriptions/(?:.*)/resourceGroups/(.+)/providers/(?:.*) and replaces
// the first occurrence of it in the whole string with its lower case; the
// same is done here, so the simulated Node carries exactly what an AKS Node
// would, whatever the case of the group in the VM's ID.
func ProviderID(vmID string) string {
	id := ProviderIDPrefix + vmID
	m := resourceGroupOfID.FindStringSubmatch(id)
	if len(m) != 2 {
		return id
	}
	return strings.Replace(id, m[1], strings.ToLower(m[1]), 1)
}

var resourceGroupOfID = regexp.MustCompile(`.*/subscriptions/(?:.*)/resourceGroups/(.+)/providers/(?:.*)`)

func (a *Agent) reconcile(ctx context.Context, id string) error {
	vm, ok := a.opts.Source.LookupVM(id)
	if !ok || !vm.Running {
		return a.forget(ctx, id, !ok)
	}
	boot, err := bootstrap.Decode(osOf(vm), vm.CustomData)
	if err != nil {
		// A node image cannot provision from it: the node never joins, and
		// retrying changes nothing (custom data is immutable).
		a.report(vm, NodeReport{JoinError: "the custom data is not an AKS node bootstrap artifact: " + err.Error()})
		return nil
	}
	external := ExternalKubelet(vm)
	// What the image makes of the custom data (a real kubelet, outside,
	// shows that for itself).
	var effect contract.Effect
	var why string
	if !external {
		effect, why = imageContract(vm)
	}
	if effect == contract.NoNode {
		// Provisioning fails or the kubelet refuses to start: no Node, and
		// retrying changes nothing (custom data is immutable).
		a.report(vm, NodeReport{JoinError: "the node image cannot provision the node from its custom data: " + why})
		return nil
	}
	name := NodeName(vm)
	kubelet := a.kubeletFor(id, boot, name)
	defer kubelet.Close()
	node, err := a.node(ctx, id, kubelet, vm, name, external)
	if node == nil && err == nil {
		// An outside kubelet has not registered yet: looked for again later.
		a.queue.AddAfter(id, externalKubeletPoll)
		return nil
	}
	if err != nil {
		return err
	}
	if node.Spec.ProviderID != "" && node.Spec.ProviderID != ProviderID(vm.ID) {
		return fmt.Errorf("node %s exists with providerID %q, not %q", name, node.Spec.ProviderID, ProviderID(vm.ID))
	}
	a.mu.Lock()
	a.nodeNames[id] = name
	a.mu.Unlock()
	if effect == contract.NotReady {
		// The kubelet registered; the node never becomes Ready, and its
		// cloud-node-manager (a pod) never initializes it.
		if err := a.ensureNotReady(ctx, kubelet, node, vm, boot, why); err != nil {
			return err
		}
		a.report(vm, NodeReport{Node: name, JoinError: "the node stays NotReady: " + why})
		return nil
	}
	if node, err = a.initializeNode(ctx, node, vm); err != nil {
		return err
	}
	if external {
		// The real kubelet reports the Node's status.
		a.report(vm, NodeReport{Node: name})
		if vm.EvictionNotBefore != nil {
			return a.markPreemption(ctx, node, vm)
		}
		return nil
	}
	if node, err = a.ensureStatus(ctx, kubelet, node, vm, boot); err != nil {
		var notJoined *notJoinedError
		if errors.As(err, &notJoined) {
			a.report(vm, NodeReport{Node: name, JoinError: err.Error()})
		}
		return err
	}
	a.report(vm, NodeReport{Node: name})
	if vm.EvictionNotBefore != nil {
		return a.markPreemption(ctx, node, vm)
	}
	return nil
}

// node is the VM's Node: the one the agent knows, or, for a VM it has no
// Node for, the one its kubelet registers (a Node that exists already is
// taken over, as a restarted kubelet does). For a VM whose kubelet runs
// outside (ExternalKubelet), it is the Node that kubelet registered, or nil
// with no error while there is none yet.
func (a *Agent) node(ctx context.Context, id string, kubelet *kubelet, vm VM, name string, external bool) (*corev1.Node, error) {
	a.mu.Lock()
	_, known := a.nodeNames[id]
	a.mu.Unlock()
	var node *corev1.Node
	var err error
	if known {
		node, err = a.opts.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	}
	if known && !apierrors.IsNotFound(err) {
		return node, err
	}
	if external {
		// The VM's own kubelet registers the Node; look for it until then.
		node, err = a.opts.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return node, err
	}
	node, err = kubelet.register(ctx, vm)
	switch {
	case apierrors.IsAlreadyExists(err):
		return a.opts.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	case err != nil:
		if ctx.Err() != nil {
			return nil, err
		}
		a.report(vm, NodeReport{JoinError: err.Error()})
		return nil, &notJoinedError{err}
	}
	a.log.Info("node agent: node registered", "node", name, "vm", vm.ID, "size", vm.SKU.Name, "zone", vm.Zone)
	return node, nil
}

// forget removes the Node of a VM that is gone or stopped (its kubelet
// stopped reporting; the cloud says the instance is gone), and what the agent
// kept for it. A stopped VM that starts again bootstraps again, as a
// deallocated VM's lost temporary disk would make it.
func (a *Agent) forget(ctx context.Context, id string, vmGone bool) error {
	a.mu.Lock()
	name, known := a.nodeNames[id]
	delete(a.kubelets, id)
	if vmGone {
		delete(a.reported, id)
	}
	a.mu.Unlock()
	if !known {
		return nil
	}
	if err := a.deleteNode(ctx, name); err != nil {
		return err
	}
	a.mu.Lock()
	delete(a.nodeNames, id)
	delete(a.evictionEvents, name)
	a.mu.Unlock()
	a.log.Info("node agent: node deleted", "node", name, "vm", id)
	return nil
}

// report records what became of a VM's node, logging each change once: a
// node that cannot join is logged once, not at every retry.
func (a *Agent) report(vm VM, r NodeReport) {
	id := lower(vm.ID)
	a.mu.Lock()
	last, seen := a.reported[id]
	a.reported[id] = r
	a.mu.Unlock()
	if seen && last == r {
		return
	}
	a.opts.Source.ReportNode(vm.ID, r)
	if r.JoinError != "" {
		a.log.Warn("node agent: node cannot join; retrying as its kubelet would", "vm", vm.ID, "node", NodeName(vm), "err", r.JoinError)
	}
}

// NodeName is the Node name of a VM: its computer name (the host name the
// image boots with), lower-cased as the kubelet registers it.
func NodeName(vm VM) string {
	if vm.ComputerName != "" {
		return lower(vm.ComputerName)
	}
	return lower(vm.Name)
}

func osOf(vm VM) bootstrap.OS {
	if vm.Windows {
		return bootstrap.Windows
	}
	return bootstrap.Linux
}

func lower(s string) string { return strings.ToLower(s) }
