package instance

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/go-logr/logr"
	"github.com/samber/lo"
	"golang.org/x/crypto/ssh"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/scheduling"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/providers/azure"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	"github.com/azkarpenter/azkarpenter/pkg/providers/launchtemplate"
	"github.com/azkarpenter/azkarpenter/pkg/providers/network"
	"github.com/azkarpenter/azkarpenter/pkg/providers/offerings"
	"github.com/azkarpenter/azkarpenter/pkg/providers/quota"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
)

// ARM provisioning states.
const (
	StateSucceeded = "Succeeded"
	StateFailed    = "Failed"
	StateCreating  = "Creating"
	StateDeleting  = "Deleting"
)

// AdminUsername is the administrator account of node VMs. Linux nodes get
// only an SSH key (Options.SSHPublicKey, or a generated key whose private
// half is discarded); Windows nodes get a random password nobody keeps.
const AdminUsername = "azureuser"

// cleanupTimeout bounds the removal of a failed VM and its NIC.
const cleanupTimeout = 5 * time.Minute

// DefaultProvider implements Provider with the ARM compute and network clients.
type DefaultProvider struct {
	opts        Options
	vms         VirtualMachinesAPI
	nics        InterfacesAPI
	extensions  ExtensionsAPI
	disks       DisksAPI
	skus        sku.Provider
	launch      launchtemplate.Provider
	unavailable *offerings.Cache
	quotas      quota.Provider

	sshOnce sync.Once
	sshKey  string
	sshErr  error
}

var _ Provider = (*DefaultProvider)(nil)

// NewDefaultProvider returns a provider. disks may be nil (managed OS disks
// are then left to the deleteOption set at creation); quotas may be nil
// (a regional quota failure then does not refresh the quota reading).
func NewDefaultProvider(opts Options, vms VirtualMachinesAPI, nics InterfacesAPI, extensions ExtensionsAPI, disks DisksAPI, skus sku.Provider, launch launchtemplate.Provider, unavailable *offerings.Cache, quotas quota.Provider) *DefaultProvider {
	return &DefaultProvider{opts: opts.withDefaults(), vms: vms, nics: nics, extensions: extensions, disks: disks, skus: skus, launch: launch, unavailable: unavailable, quotas: quotas}
}

// NewDefaultProviderFromClients is NewDefaultProvider with the clients of an
// azure.Clients.
func NewDefaultProviderFromClients(opts Options, clients *azure.Clients, skus sku.Provider, launch launchtemplate.Provider, unavailable *offerings.Cache, quotas quota.Provider) *DefaultProvider {
	return NewDefaultProvider(opts, clients.Compute.NewVirtualMachinesClient(), clients.Network.NewInterfacesClient(), clients.Compute.NewVirtualMachineExtensionsClient(),
		clients.Compute.NewDisksClient(), skus, launch, unavailable, quotas)
}

func (o Options) withDefaults() Options {
	if o.CreateTimeout == 0 {
		o.CreateTimeout = DefaultCreateTimeout
	}
	if o.PollFrequency == 0 {
		o.PollFrequency = DefaultPollFrequency
	}
	if o.DeleteWait == 0 {
		o.DeleteWait = DefaultDeleteWait
	}
	if o.Network == nil {
		overlay, _ := network.SetupOf(cluster.NetworkSetupAzureCNIOverlay)
		o.Network = network.StaticFor(overlay)
	}
	if o.AdminUsername == "" {
		o.AdminUsername = AdminUsername
	}
	return o
}

func (p *DefaultProvider) pollOptions() *runtime.PollUntilDoneOptions {
	return &runtime.PollUntilDoneOptions{Frequency: p.opts.PollFrequency}
}

// Create implements Provider: BeginCreate, then the launch followed to its end.
func (p *DefaultProvider) Create(ctx context.Context, nc *v1beta1.AKSNodeClass, claim *karpv1.NodeClaim, instanceTypes []*cloudprovider.InstanceType) (*Instance, error) {
	inst, launch, err := p.BeginCreate(ctx, nc, claim, instanceTypes)
	if err != nil || launch == nil {
		return inst, err
	}
	return launch.Wait(ctx)
}

// BeginCreate implements Provider.
func (p *DefaultProvider) BeginCreate(ctx context.Context, nc *v1beta1.AKSNodeClass, claim *karpv1.NodeClaim, instanceTypes []*cloudprovider.InstanceType) (*Instance, *Launch, error) {
	start := time.Now()
	name := VMName(claim.Name)
	log := logFrom(ctx).WithValues("vm", name, "nodeclaim", claim.Name)
	ctx = logIntoContext(ctx, log)
	// One deadline for the whole creation, accepted or followed.
	deadline := start.Add(p.opts.CreateTimeout)
	beginCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	inst, follow, capacityType, err := p.create(beginCtx, nc, claim, instanceTypes, name)
	if err != nil || follow == nil {
		p.observeCreate(log, start, capacityType, inst, err)
		return inst, nil, err
	}
	log.V(1).Info("Azure accepted the VM; following its creation", "instance-type", inst.InstanceType, "zone", inst.Zone, "capacity-type", inst.CapacityType, "duration", time.Since(start).String())
	// The creation is followed whatever becomes of the caller's context:
	// a failed VM must be removed even if nobody waits for it any more.
	followCtx, cancelFollow := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	return inst, startLaunch(func() (*Instance, error) {
		defer cancelFollow()
		createsInFlight.Inc()
		defer createsInFlight.Dec()
		got, err := follow(followCtx)
		p.observeCreate(log, start, capacityType, got, err)
		return got, err
	}), nil
}

// observeCreate logs and records how a creation ended.
func (p *DefaultProvider) observeCreate(log logr.Logger, start time.Time, capacityType string, inst *Instance, err error) {
	result := StateSucceeded
	if err != nil {
		result = ErrorReason(err)
		log.Error(err, "creating VM failed", "duration", time.Since(start).String())
	} else {
		log.Info("created VM", "instance-type", inst.InstanceType, "zone", inst.Zone, "capacity-type", inst.CapacityType, "duration", time.Since(start).String())
	}
	createDuration.Observe(time.Since(start).Seconds(), map[string]string{"result": result, "capacity_type": capacityType})
}

// ErrorReason is the condition reason of a creation error: the CreateError's,
// InsufficientCapacity, or VMCreationFailed.
func ErrorReason(err error) string {
	var ce *cloudprovider.CreateError
	switch {
	case errors.As(err, &ce):
		return ce.ConditionReason
	case cloudprovider.IsInsufficientCapacityError(err):
		return "InsufficientCapacity"
	default:
		return ReasonVMCreationFailed
	}
}

// follow finishes a creation Azure accepted: it returns the VM once it is
// provisioned, or removes what failed.
type follow func(ctx context.Context) (*Instance, error)

// create returns the VM as Azure accepted it, and how to follow it to its
// end (nil for an adopted VM that is already provisioned).
func (p *DefaultProvider) create(ctx context.Context, nc *v1beta1.AKSNodeClass, claim *karpv1.NodeClaim, instanceTypes []*cloudprovider.InstanceType, name string) (*Instance, follow, string, error) {
	catalog, err := p.skus.Catalog(ctx)
	if err != nil {
		return nil, nil, "", cloudprovider.NewCreateError(err, "CatalogUnavailable", truncate("listing VM sizes: "+err.Error()))
	}
	// GET before PUT: a previous attempt (before a crash or a timeout) may
	// have created the VM already.
	existing, err := p.vms.Get(ctx, p.opts.ResourceGroup, name, nil)
	switch {
	case err == nil:
		inst, capacityType, wait, done, aerr := p.adopt(ctx, existing.VirtualMachine, catalog)
		if done {
			if aerr != nil {
				return nil, nil, capacityType, aerr
			}
			p.describe(ctx, nc, claim, instanceTypes, catalog, inst)
			if wait == nil {
				return inst, nil, capacityType, nil
			}
			return inst, func(ctx context.Context) (*Instance, error) {
				got, err := wait(ctx)
				if err != nil {
					return nil, err
				}
				return withLaunchFields(got, inst), nil
			}, capacityType, nil
		}
	case !IsARMNotFound(err):
		return nil, nil, "", p.transientError(ctx, err, "reading VM "+name)
	}

	it, offering, s, err := p.chooseOffering(ctx, claim, instanceTypes, catalog)
	if err != nil {
		return nil, nil, "", err
	}
	capacityType := offering.CapacityType()
	a := attempt{sku: s, zone: offering.Zone(), capacityType: capacityType}
	spec, err := p.launch.Build(ctx, launchtemplate.Input{NodeClass: nc, NodeClaim: claim, InstanceType: it, Offering: offering, SKU: s, VMName: name})
	if err != nil {
		if cluster.IsInputError(err) {
			// The node could not join: the AKSNodeClass status says the same.
			return nil, nil, capacityType, cloudprovider.NewNodeClassNotReadyError(err)
		}
		return nil, nil, capacityType, cloudprovider.NewCreateError(err, ReasonLaunchSpec, truncate(err.Error()))
	}
	tags := p.tags(nc, claim)
	a.subnetID = spec.SubnetID

	nic, err := p.interfaceBody(ctx, spec, tags)
	if err != nil {
		return nil, nil, capacityType, p.interfaceError(err)
	}
	nicID, err := p.createNIC(ctx, name, nic)
	if err != nil {
		if ctx.Err() == nil {
			p.deleteNICQuietly(ctx, NICName(name))
		}
		return nil, nil, capacityType, p.failure(ctx, err, a, catalog, "creating NIC "+NICName(name))
	}

	body, err := p.vmBody(nc, s, spec, nicID, tags)
	if err != nil {
		p.deleteNICQuietly(ctx, NICName(name))
		return nil, nil, capacityType, cloudprovider.NewCreateError(err, ReasonLaunchSpec, truncate(err.Error()))
	}
	logFrom(ctx).V(1).Info("creating VM", "instance-type", s.Name, "zone", a.zone, "capacity-type", capacityType, "price", offering.Price, "image", spec.Image.ID, "os-disk", spec.OSDisk.String())
	poller, err := p.vms.BeginCreateOrUpdate(ctx, p.opts.ResourceGroup, name, body, nil)
	if err != nil {
		if ctx.Err() != nil {
			// The PUT may have reached ARM: keep the NIC for the VM a retry
			// adopts (garbage collection removes it otherwise).
			return nil, nil, capacityType, p.timeoutError(ctx, name, err)
		}
		// Refused synchronously: no VM, so the NIC must go.
		p.deleteNICQuietly(ctx, NICName(name))
		return nil, nil, capacityType, p.failure(ctx, err, a, catalog, "creating VM "+name)
	}
	// The VM as requested: everything a NodeClaim needs is known now.
	body.Name = to.Ptr(name)
	accepted := withLaunchFields(p.toInstance(&body), &Instance{
		NodeImageVersion: spec.Image.NodeImageVersion, KubernetesVersion: spec.KubernetesVersion,
		Labels: spec.Labels, ImageID: spec.Image.ID,
	})
	accepted.ProvisioningState = StateCreating
	return accepted, func(ctx context.Context) (*Instance, error) {
		var inst *Instance
		resp, err := poller.PollUntilDone(ctx, p.pollOptions())
		switch {
		case err == nil:
			inst = p.toInstance(&resp.VirtualMachine)
		case ctx.Err() != nil:
			// Still creating: the NodeClaim's registration timeout decides.
			return nil, p.timeoutError(ctx, name, err)
		case !isARMError(err):
			// Lost contact with the operation: the VM may well come up.
			logFrom(ctx).Info("lost track of the VM's creation operation; following the VM instead", "error", err.Error())
			if inst, err = p.awaitProvisioned(ctx, name, a, catalog); err != nil {
				return nil, err
			}
		case p.deletedMeanwhile(ctx, name):
			// Deleted while being created (its NodeClaim went first): not a
			// failure of the offering.
			return nil, NewNotFoundError("VM", name)
		default:
			// The operation failed (allocation failures are reported here):
			// remove the failed VM and its NIC so nothing leaks.
			p.cleanup(ctx, name)
			return nil, &launchFailedError{p.failure(ctx, err, a, catalog, "creating VM "+name)}
		}
		if err := p.createExtension(ctx, name, spec, tags); err != nil {
			// The node joins from its custom data whatever happens here; the
			// extension only reports how provisioning went.
			logFrom(ctx).Error(err, "creating the provisioning extension failed; the node can still join", "extension", spec.Artifact.Extension.Name)
		}
		return withLaunchFields(inst, accepted), nil
	}, capacityType, nil
}

// deletedMeanwhile reports whether a VM whose creation failed is gone or
// being deleted: its creation ended because someone deleted it.
func (p *DefaultProvider) deletedMeanwhile(ctx context.Context, name string) bool {
	got, err := p.vms.Get(ctx, p.opts.ResourceGroup, name, nil)
	if err != nil {
		return IsARMNotFound(err)
	}
	return p.toInstance(&got.VirtualMachine).ProvisioningState == StateDeleting
}

// withLaunchFields is a VM read from Azure with the launch-time fields
// (labels, versions, and the image where Azure reports none) of its launch.
func withLaunchFields(got, launched *Instance) *Instance {
	got.NodeImageVersion = launched.NodeImageVersion
	got.KubernetesVersion = launched.KubernetesVersion
	got.Labels = launched.Labels
	if got.ImageID == "" {
		got.ImageID = launched.ImageID
	}
	return got
}

func isARMError(err error) bool {
	_, _, _, ok := azureError(err)
	return ok
}

// adopt handles a VM that already exists under the NodeClaim's name. done
// is false when the caller should create the VM afresh (a failed VM was
// removed); wait is non-nil for a VM still being created.
func (p *DefaultProvider) adopt(ctx context.Context, vm armcompute.VirtualMachine, catalog *sku.Catalog) (inst *Instance, capacityType string, wait follow, done bool, err error) {
	inst = p.toInstance(&vm)
	log := logFrom(ctx).WithValues("instance-type", inst.InstanceType, "zone", inst.Zone, "capacity-type", inst.CapacityType, "state", inst.ProvisioningState)
	switch inst.ProvisioningState {
	case StateFailed:
		log.Info("removing the failed VM of an earlier attempt before creating it again")
		// Remember why it failed, so the new attempt avoids the offering.
		if got, err := p.vms.Get(ctx, p.opts.ResourceGroup, inst.Name, &armcompute.VirtualMachinesClientGetOptions{Expand: to.Ptr(armcompute.InstanceViewTypesInstanceView)}); err == nil {
			if f := failureOf(&got.VirtualMachine); f.Code != "Unknown" {
				_ = p.classify(ctx, f, p.attemptOf(inst, catalog), families(catalog))
			}
		}
		if err := p.cleanupErr(ctx, inst.Name); err != nil {
			return nil, inst.CapacityType, nil, true, cloudprovider.NewCreateError(err, ReasonVMCreationFailed, truncate("removing failed VM: "+err.Error()))
		}
		return nil, "", nil, false, nil
	case StateDeleting:
		return nil, inst.CapacityType, nil, true, cloudprovider.NewCreateError(fmt.Errorf("VM %s is being deleted", inst.Name), ReasonVMDeleting, "the VM of this NodeClaim is being deleted; retrying after it is gone")
	case StateSucceeded:
		log.Info("adopted existing VM")
		return inst, inst.CapacityType, nil, true, nil
	}
	log.Info("adopted the VM an earlier attempt is creating")
	a := p.attemptOf(inst, catalog)
	return inst, inst.CapacityType, func(ctx context.Context) (*Instance, error) {
		return p.awaitProvisioned(ctx, inst.Name, a, catalog)
	}, true, nil
}

// awaitProvisioned follows a VM by GET until it leaves its transitional
// state. A VM that failed is removed, and its offering marked, before the
// failure is returned.
func (p *DefaultProvider) awaitProvisioned(ctx context.Context, name string, a attempt, catalog *sku.Catalog) (*Instance, error) {
	got, err := p.waitProvisioned(ctx, name)
	if err == nil {
		return got, nil
	}
	if ctx.Err() != nil {
		return nil, p.timeoutError(ctx, name, err)
	}
	if f := (*provisioningFailure)(nil); errors.As(err, &f) {
		p.cleanup(ctx, name)
		return nil, &launchFailedError{p.failure(ctx, err, a, catalog, "creating VM "+name)}
	}
	return nil, p.transientError(ctx, err, "waiting for VM "+name)
}

// describe fills the launch-time fields (labels, node image version) of an
// adopted VM by rebuilding its launch spec; they are best effort, as the
// NodeClass may have changed since the VM was created.
func (p *DefaultProvider) describe(ctx context.Context, nc *v1beta1.AKSNodeClass, claim *karpv1.NodeClaim, instanceTypes []*cloudprovider.InstanceType, catalog *sku.Catalog, inst *Instance) {
	inst.NodeImageVersion = imagefamily.NodeImageVersion(inst.ImageID)
	s := catalog.SKUs[inst.InstanceType]
	if s == nil {
		return
	}
	for _, it := range instanceTypes {
		if it == nil || it.Name != inst.InstanceType {
			continue
		}
		for _, o := range it.Offerings {
			if o.Zone() != inst.Zone || o.CapacityType() != inst.CapacityType {
				continue
			}
			spec, err := p.launch.Build(ctx, launchtemplate.Input{NodeClass: nc, NodeClaim: claim, InstanceType: it, Offering: o, SKU: s, VMName: inst.Name})
			if err != nil {
				return
			}
			inst.Labels = spec.Labels
			inst.KubernetesVersion = spec.KubernetesVersion
			if spec.Image.ID == inst.ImageID {
				return
			}
			// Launched from another image version than the NodeClass's now.
			inst.Labels[v1beta1.AKSLabelNodeImageVersion] = inst.NodeImageVersion
			if inst.NodeImageVersion == "" {
				delete(inst.Labels, v1beta1.AKSLabelNodeImageVersion)
			}
			return
		}
	}
}

// attemptOf is the offering an existing VM was created on.
func (p *DefaultProvider) attemptOf(inst *Instance, catalog *sku.Catalog) attempt {
	s := catalog.SKUs[inst.InstanceType]
	if s == nil {
		s = &sku.SKU{Name: inst.InstanceType}
	}
	return attempt{sku: s, zone: inst.Zone, capacityType: inst.CapacityType}
}

// provisioningFailure is a VM found in state Failed while waiting for it;
// it carries the code of the instance view's ProvisioningState/failed status.
type provisioningFailure struct {
	Code, Message string
}

func (f *provisioningFailure) Error() string {
	return fmt.Sprintf("VM provisioning failed: %s: %s", f.Code, f.Message)
}

// waitProvisioned polls a VM until it leaves its transitional state.
func (p *DefaultProvider) waitProvisioned(ctx context.Context, name string) (*Instance, error) {
	ticker := time.NewTicker(p.opts.PollFrequency)
	defer ticker.Stop()
	for {
		got, err := p.vms.Get(ctx, p.opts.ResourceGroup, name, &armcompute.VirtualMachinesClientGetOptions{Expand: to.Ptr(armcompute.InstanceViewTypesInstanceView)})
		if err != nil {
			if IsARMNotFound(err) {
				return nil, NewNotFoundError("VM", name)
			}
			return nil, err
		}
		inst := p.toInstance(&got.VirtualMachine)
		switch inst.ProvisioningState {
		case StateSucceeded:
			return inst, nil
		case StateFailed:
			return nil, failureOf(&got.VirtualMachine)
		case StateDeleting:
			return nil, fmt.Errorf("VM %s is being deleted", name)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ticker.C:
		}
	}
}

func failureOf(vm *armcompute.VirtualMachine) *provisioningFailure {
	f := &provisioningFailure{Code: "Unknown", Message: "provisioning failed"}
	if vm.Properties == nil || vm.Properties.InstanceView == nil {
		return f
	}
	for _, st := range vm.Properties.InstanceView.Statuses {
		if st == nil || st.Code == nil {
			continue
		}
		if code, ok := strings.CutPrefix(*st.Code, "ProvisioningState/failed/"); ok {
			f.Code = code
			if st.Message != nil {
				f.Message = *st.Message
			}
		}
	}
	return f
}

// failure classifies a creation failure (see classify) after logging it.
func (p *DefaultProvider) failure(ctx context.Context, err error, a attempt, catalog *sku.Catalog, what string) error {
	logFrom(ctx).V(1).Info("Azure refused "+what, "error", err.Error())
	return p.classify(ctx, err, a, families(catalog))
}

func (p *DefaultProvider) transientError(ctx context.Context, err error, what string) error {
	if code, msg, _, ok := azureError(err); ok && code != "" {
		return cloudprovider.NewCreateError(&conciseError{msg: what + ": " + code + ": " + msg, err: err}, conditionReason(code), truncate(what+": "+msg))
	}
	return cloudprovider.NewCreateError(err, ReasonVMCreationFailed, truncate(what+": "+err.Error()))
}

func (p *DefaultProvider) timeoutError(ctx context.Context, name string, err error) error {
	return cloudprovider.NewCreateError(fmt.Errorf("VM %s: %w", name, err), ReasonTimeout,
		fmt.Sprintf("VM %s did not finish provisioning in time (%v); a retry adopts it", name, context.Cause(ctx)))
}

func families(c *sku.Catalog) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range c.SKUs {
		if s.Family != "" && !seen[s.Family] {
			seen[s.Family] = true
			out = append(out, s.Family)
		}
	}
	sort.Strings(out)
	return out
}

type candidate struct {
	it       *cloudprovider.InstanceType
	offering *cloudprovider.Offering
	sku      *sku.SKU
}

// chooseOffering picks the cheapest offering that is available (by the
// instance types and by the unavailable-offerings cache now, which may know
// of failures newer than the instance types) and compatible with the
// NodeClaim's requirements. Equal prices are broken at random, so zones
// with the same price share the load.
func (p *DefaultProvider) chooseOffering(ctx context.Context, claim *karpv1.NodeClaim, instanceTypes []*cloudprovider.InstanceType, catalog *sku.Catalog) (*cloudprovider.InstanceType, *cloudprovider.Offering, *sku.SKU, error) {
	reqs := scheduling.NewNodeSelectorRequirementsWithMinValues(claim.Spec.Requirements...)
	var cands []candidate
	for _, it := range instanceTypes {
		if it == nil {
			continue
		}
		s := catalog.SKUs[it.Name]
		if s == nil {
			continue
		}
		// As core's scheduler checks it: labels both define must intersect
		// (the NodeClaim's custom labels do not exclude a type).
		if reqs.Intersects(it.Requirements) != nil {
			continue
		}
		for _, o := range it.Offerings.Available().Compatible(reqs) {
			if p.unavailable.Unavailable(offerings.Offering{SKU: s.Name, Family: s.Family, VCPUs: s.QuotaVCPUs(), Zone: o.Zone(), CapacityType: o.CapacityType()}) != "" {
				continue
			}
			cands = append(cands, candidate{it: it, offering: o, sku: s})
		}
	}
	if len(cands) == 0 {
		names := make([]string, 0, len(instanceTypes))
		for _, it := range instanceTypes {
			if it != nil {
				names = append(names, it.Name)
			}
		}
		return nil, nil, nil, cloudprovider.NewInsufficientCapacityError(fmt.Errorf("%s: no available offering of %d instance types (%s) is compatible with the NodeClaim's requirements", ReasonNoOffering, len(names), strings.Join(firstN(names, 10), ", ")))
	}
	mrand.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].offering.Price < cands[j].offering.Price })
	c := cands[0]
	return c.it, c.offering, c.sku, nil
}

func firstN(xs []string, n int) []string {
	if len(xs) > n {
		return append(xs[:n:n], "…")
	}
	return xs
}

// tags are the tags of every resource of the VM: the additional tags, the
// NodeClass's tags over them, and the ownership tags (which win).
func (p *DefaultProvider) tags(nc *v1beta1.AKSNodeClass, claim *karpv1.NodeClaim) map[string]*string {
	tags := map[string]*string{}
	for k, v := range lo.Assign(p.opts.AdditionalTags, nc.Spec.Tags) {
		tags[k] = to.Ptr(v)
	}
	tags[TagCluster] = to.Ptr(p.opts.ClusterName)
	tags[TagNodePool] = to.Ptr(claim.Labels[karpv1.NodePoolLabelKey])
	tags[TagNodeClaim] = to.Ptr(claim.Name)
	tags[TagNodeClass] = to.Ptr(nc.Name)
	tags[TagCreationTimestamp] = to.Ptr(time.Now().UTC().Format(time.RFC3339))
	return tags
}

// createExtension starts creating the VM's Custom Script Extension: on Linux
// it reports the outcome of the node's provisioning, on Windows it runs the
// setup script custom data delivered. It does not wait: the extension takes
// as long as the node's provisioning, and registration is what core waits for.
func (p *DefaultProvider) createExtension(ctx context.Context, vmName string, spec *launchtemplate.LaunchSpec, tags map[string]*string) error {
	e := spec.Artifact.Extension
	_, err := p.extensions.BeginCreateOrUpdate(ctx, p.opts.ResourceGroup, vmName, e.Name, armcompute.VirtualMachineExtension{
		Location: to.Ptr(p.opts.Location),
		Tags:     tags,
		Properties: &armcompute.VirtualMachineExtensionProperties{
			Publisher:               to.Ptr(e.Publisher),
			Type:                    to.Ptr(e.Type),
			TypeHandlerVersion:      to.Ptr(e.TypeHandlerVersion),
			AutoUpgradeMinorVersion: to.Ptr(true),
			Settings:                map[string]any{},
			ProtectedSettings:       map[string]any{"commandToExecute": e.CommandToExecute},
		},
	}, nil)
	return err
}

// vmBody is the VM PUT body.
func (p *DefaultProvider) vmBody(nc *v1beta1.AKSNodeClass, s *sku.SKU, spec *launchtemplate.LaunchSpec, nicID string, tags map[string]*string) (armcompute.VirtualMachine, error) {
	confidential := nc.Spec.Security != nil && nc.Spec.Security.ConfidentialVM != nil && *nc.Spec.Security.ConfidentialVM
	encryptionAtHost := nc.Spec.Security != nil && nc.Spec.Security.EncryptionAtHost != nil && *nc.Spec.Security.EncryptionAtHost

	osType := armcompute.OperatingSystemTypesLinux
	if nc.IsWindows() {
		osType = armcompute.OperatingSystemTypesWindows
	}
	osDisk := &armcompute.OSDisk{
		Name:         to.Ptr(spec.ComputerName + "-osdisk"),
		CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesFromImage),
		DeleteOption: to.Ptr(armcompute.DiskDeleteOptionTypesDelete),
		DiskSizeGB:   to.Ptr(spec.OSDisk.SizeGiB),
		OSType:       to.Ptr(osType),
		ManagedDisk:  &armcompute.ManagedDiskParameters{},
	}
	if spec.OSDisk.Ephemeral() {
		osDisk.Caching = to.Ptr(armcompute.CachingTypesReadOnly)
		osDisk.DiffDiskSettings = &armcompute.DiffDiskSettings{
			Option:    to.Ptr(armcompute.DiffDiskOptionsLocal),
			Placement: to.Ptr(armcompute.DiffDiskPlacement(spec.OSDisk.EphemeralPlacement)),
		}
	} else {
		osDisk.Caching = to.Ptr(armcompute.CachingTypesReadWrite)
		storage := armcompute.StorageAccountTypesStandardSSDLRS
		if s.Bool(sku.CapPremiumIO) {
			storage = armcompute.StorageAccountTypesPremiumLRS
		}
		osDisk.ManagedDisk.StorageAccountType = to.Ptr(storage)
	}
	if confidential {
		osDisk.ManagedDisk.SecurityProfile = &armcompute.VMDiskSecurityProfile{
			SecurityEncryptionType: to.Ptr(armcompute.SecurityEncryptionTypesVMGuestStateOnly),
		}
	}

	if p.opts.DiskEncryptionSetID != "" {
		// Customer-managed keys, as NAP sets them.
		osDisk.ManagedDisk.DiskEncryptionSet = &armcompute.DiskEncryptionSetParameters{ID: to.Ptr(p.opts.DiskEncryptionSetID)}
	}

	// --linux-admin-username names Linux nodes' administrator; Windows
	// nodes keep AKS's.
	admin := p.opts.AdminUsername
	if nc.IsWindows() {
		admin = AdminUsername
	}
	osProfile := &armcompute.OSProfile{
		ComputerName:  to.Ptr(spec.ComputerName),
		AdminUsername: to.Ptr(admin),
		CustomData:    to.Ptr(spec.Artifact.CustomData),
	}
	if nc.IsWindows() {
		pw, err := randomPassword()
		if err != nil {
			return armcompute.VirtualMachine{}, err
		}
		osProfile.AdminPassword = to.Ptr(pw)
		osProfile.WindowsConfiguration = &armcompute.WindowsConfiguration{
			EnableAutomaticUpdates: to.Ptr(false),
			ProvisionVMAgent:       to.Ptr(true),
		}
	} else {
		key, err := p.sshPublicKey()
		if err != nil {
			return armcompute.VirtualMachine{}, err
		}
		osProfile.LinuxConfiguration = &armcompute.LinuxConfiguration{
			DisablePasswordAuthentication: to.Ptr(true),
			ProvisionVMAgent:              to.Ptr(true),
			SSH: &armcompute.SSHConfiguration{PublicKeys: []*armcompute.SSHPublicKey{{
				Path:    to.Ptr("/home/" + admin + "/.ssh/authorized_keys"),
				KeyData: to.Ptr(key),
			}}},
		}
	}

	props := &armcompute.VirtualMachineProperties{
		HardwareProfile: &armcompute.HardwareProfile{VMSize: to.Ptr(armcompute.VirtualMachineSizeTypes(s.Name))},
		StorageProfile: &armcompute.StorageProfile{
			ImageReference: &armcompute.ImageReference{CommunityGalleryImageID: to.Ptr(spec.Image.ID)},
			OSDisk:         osDisk,
		},
		OSProfile: osProfile,
		NetworkProfile: &armcompute.NetworkProfile{NetworkInterfaces: []*armcompute.NetworkInterfaceReference{{
			ID: to.Ptr(nicID),
			Properties: &armcompute.NetworkInterfaceReferenceProperties{
				Primary:      to.Ptr(true),
				DeleteOption: to.Ptr(armcompute.DeleteOptionsDelete),
			},
		}}},
	}
	if spec.CapacityType == karpv1.CapacityTypeSpot {
		props.Priority = to.Ptr(armcompute.VirtualMachinePriorityTypesSpot)
		props.EvictionPolicy = to.Ptr(armcompute.VirtualMachineEvictionPolicyTypesDelete)
		props.BillingProfile = &armcompute.BillingProfile{MaxPrice: to.Ptr(nc.SpotMaxPrice())}
	} else {
		props.Priority = to.Ptr(armcompute.VirtualMachinePriorityTypesRegular)
	}
	if nc.Spec.DedicatedHostGroupID != nil && *nc.Spec.DedicatedHostGroupID != "" {
		props.HostGroup = &armcompute.SubResource{ID: nc.Spec.DedicatedHostGroupID}
	}
	if encryptionAtHost || confidential || nc.TrustedLaunch() {
		props.SecurityProfile = &armcompute.SecurityProfile{}
		if encryptionAtHost {
			props.SecurityProfile.EncryptionAtHost = to.Ptr(true)
		}
		switch {
		case confidential:
			props.SecurityProfile.SecurityType = to.Ptr(armcompute.SecurityTypesConfidentialVM)
			props.SecurityProfile.UefiSettings = &armcompute.UefiSettings{SecureBootEnabled: to.Ptr(true), VTpmEnabled: to.Ptr(true)}
		case nc.TrustedLaunch():
			tl := nc.Spec.Security.TrustedLaunch
			props.SecurityProfile.SecurityType = to.Ptr(armcompute.SecurityTypesTrustedLaunch)
			props.SecurityProfile.UefiSettings = &armcompute.UefiSettings{SecureBootEnabled: to.Ptr(lo.FromPtr(tl.SecureBoot)), VTpmEnabled: to.Ptr(lo.FromPtr(tl.VTPM))}
		}
	}
	vm := armcompute.VirtualMachine{
		Location:   to.Ptr(p.opts.Location),
		Tags:       tags,
		Properties: props,
	}
	if len(p.opts.NodeIdentities) > 0 {
		// As on AKS: the kubelet identity is on the VM, so kubelets and node
		// add-ons get its tokens from IMDS.
		vm.Identity = &armcompute.VirtualMachineIdentity{
			Type: to.Ptr(armcompute.ResourceIdentityTypeUserAssigned),
			UserAssignedIdentities: lo.SliceToMap(p.opts.NodeIdentities, func(id string) (string, *armcompute.UserAssignedIdentitiesValue) {
				return id, &armcompute.UserAssignedIdentitiesValue{}
			}),
		}
	}
	if spec.AzureZone != "" {
		vm.Zones = []*string{to.Ptr(spec.AzureZone)}
	}
	return vm, nil
}

// sshPublicKey is Options.SSHPublicKey or, when unset, a key generated once
// whose private half is discarded: Linux VMs need some SSH key, and nobody
// should be able to log in with it.
func (p *DefaultProvider) sshPublicKey() (string, error) {
	if p.opts.SSHPublicKey != "" {
		return p.opts.SSHPublicKey, nil
	}
	p.sshOnce.Do(func() {
		public, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			p.sshErr = err
			return
		}
		pub, err := ssh.NewPublicKey(public)
		if err != nil {
			p.sshErr = err
			return
		}
		p.sshKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	})
	return p.sshKey, p.sshErr
}

// randomPassword returns a password meeting Azure's Windows complexity
// rules (lower, upper, digit and special characters, 12–123 long).
func randomPassword() (string, error) {
	const (
		lower   = "abcdefghijkmnopqrstuvwxyz"
		upper   = "ABCDEFGHJKLMNPQRSTUVWXYZ"
		digits  = "23456789"
		special = "!@#%^*-_+="
	)
	all := lower + upper + digits + special
	pick := func(set string) (byte, error) {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			return 0, err
		}
		return set[n.Int64()], nil
	}
	out := make([]byte, 0, 32)
	for _, set := range []string{lower, upper, digits, special} {
		c, err := pick(set)
		if err != nil {
			return "", err
		}
		out = append(out, c)
	}
	for len(out) < 32 {
		c, err := pick(all)
		if err != nil {
			return "", err
		}
		out = append(out, c)
	}
	return string(out), nil
}

// cleanup removes a failed VM and then its NIC, logging failures: garbage
// collection removes whatever remains.
func (p *DefaultProvider) cleanup(ctx context.Context, name string) {
	if err := p.cleanupErr(ctx, name); err != nil {
		logFrom(ctx).Error(err, "cleaning up after a failed VM creation; garbage collection will retry", "vm", name)
	}
}

func (p *DefaultProvider) cleanupErr(ctx context.Context, name string) error {
	// Run even when the caller's context is done: the failed VM must go.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	poller, err := p.vms.BeginDelete(ctx, p.opts.ResourceGroup, name, nil)
	if err != nil && !IsARMNotFound(err) {
		deletesTotal.Inc(map[string]string{"resource": "vm", "result": "error"})
		return fmt.Errorf("deleting failed VM %s: %w", name, err)
	}
	if err == nil {
		deletesTotal.Inc(map[string]string{"resource": "vm", "result": "started"})
		if _, err := poller.PollUntilDone(ctx, p.pollOptions()); err != nil && !IsARMNotFound(err) {
			return fmt.Errorf("deleting failed VM %s: %w", name, err)
		}
	}
	return p.deleteNICAndWait(ctx, NICName(name))
}

func (p *DefaultProvider) deleteNICAndWait(ctx context.Context, name string) error {
	poller, err := p.nics.BeginDelete(ctx, p.opts.ResourceGroup, name, nil)
	if err != nil {
		if IsARMNotFound(err) {
			return nil
		}
		deletesTotal.Inc(map[string]string{"resource": "nic", "result": "error"})
		return fmt.Errorf("deleting NIC %s: %w", name, err)
	}
	deletesTotal.Inc(map[string]string{"resource": "nic", "result": "started"})
	if _, err := poller.PollUntilDone(ctx, p.pollOptions()); err != nil && !IsARMNotFound(err) {
		return fmt.Errorf("deleting NIC %s: %w", name, err)
	}
	return nil
}

// deleteNICQuietly removes the NIC of a VM that was never created.
func (p *DefaultProvider) deleteNICQuietly(ctx context.Context, name string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := p.deleteNICAndWait(ctx, name); err != nil {
		logFrom(ctx).Error(err, "removing the NIC of a VM that was not created; garbage collection will retry", "nic", name)
	}
}

// toInstance converts an ARM VM.
func (p *DefaultProvider) toInstance(vm *armcompute.VirtualMachine) *Instance {
	inst := &Instance{Tags: map[string]string{}}
	if vm.Name != nil {
		inst.Name = *vm.Name
	}
	if vm.ID != nil {
		inst.ID = *vm.ID
	} else {
		inst.ID = VMResourceID(p.opts.SubscriptionID, p.opts.ResourceGroup, inst.Name)
	}
	inst.ProviderID = providerIDPrefix + inst.ID
	for k, v := range vm.Tags {
		if v != nil {
			inst.Tags[k] = *v
		}
	}
	inst.NodePool = inst.Tags[TagNodePool]
	inst.NodeClaim = inst.Tags[TagNodeClaim]
	location := p.opts.Location
	if vm.Location != nil {
		location = *vm.Location
	}
	zone := ""
	if len(vm.Zones) > 0 && vm.Zones[0] != nil {
		zone = *vm.Zones[0]
	}
	inst.Zone = v1beta1.ZoneLabel(location, zone)
	inst.CapacityType = karpv1.CapacityTypeOnDemand
	if pr := vm.Properties; pr != nil {
		if pr.Priority != nil && (*pr.Priority == armcompute.VirtualMachinePriorityTypesSpot || *pr.Priority == armcompute.VirtualMachinePriorityTypesLow) {
			inst.CapacityType = karpv1.CapacityTypeSpot
		}
		if pr.HardwareProfile != nil && pr.HardwareProfile.VMSize != nil {
			inst.InstanceType = string(*pr.HardwareProfile.VMSize)
		}
		if sp := pr.StorageProfile; sp != nil && sp.ImageReference != nil {
			ir := sp.ImageReference
			for _, id := range []*string{ir.CommunityGalleryImageID, ir.SharedGalleryImageID, ir.ID} {
				if id != nil && *id != "" {
					inst.ImageID = *id
					break
				}
			}
		}
		if pr.TimeCreated != nil {
			inst.CreationTime = *pr.TimeCreated
		}
		if pr.ProvisioningState != nil {
			inst.ProvisioningState = *pr.ProvisioningState
		}
	}
	return inst
}
