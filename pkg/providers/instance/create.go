package instance

import (
	"context"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/go-logr/logr"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/launchtemplate"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
)

// A launch, top to bottom: BeginCreate sets one deadline for the whole
// creation; create reads the catalog and GETs the VM first (adopt.go when
// an earlier attempt left one); launchNew chooses the offering
// (offering.go), renders the launch spec (package launchtemplate), creates
// the NIC (nic.go) and sends the VM body (vmbody.go); followCreation waits
// for the VM (await.go once the operation is lost), creates its extension
// (extension.go), and removes what failed (cleanup.go) after classifying
// the failure (errors.go, refusal.go, throttle.go).

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
		if inst, wait, capacityType, done, err := p.launchExisting(ctx, nc, claim, instanceTypes, catalog, existing.VirtualMachine); done {
			return inst, wait, capacityType, err
		}
	case !IsARMNotFound(err):
		return nil, nil, "", p.transientError(err, "reading VM "+name)
	}
	return p.launchNew(ctx, nc, claim, instanceTypes, catalog, name)
}

// launchNew creates the NodeClaim's VM: it chooses the offering, renders
// the launch spec, creates the NIC and then sends the VM's PUT. The
// returned follow waits for the VM (see followCreation).
func (p *DefaultProvider) launchNew(ctx context.Context, nc *v1beta1.AKSNodeClass, claim *karpv1.NodeClaim, instanceTypes []*cloudprovider.InstanceType, catalog *sku.Catalog, name string) (*Instance, follow, string, error) {
	it, offering, s, err := p.chooseOffering(claim, instanceTypes, catalog)
	if err != nil {
		return nil, nil, "", err
	}
	capacityType := offering.CapacityType()
	if err := p.refused(nc); err != nil {
		return nil, nil, capacityType, err
	}
	if err := p.heldBack(); err != nil {
		return nil, nil, capacityType, err
	}
	a := attempt{sku: s, zone: offering.Zone(), capacityType: capacityType, nodeClass: nc.Name, generation: nc.Generation}
	spec, err := p.launchSpec(ctx, launchtemplate.Input{NodeClass: nc, NodeClaim: claim, InstanceType: it, Offering: offering, SKU: s, VMName: name})
	if err != nil {
		return nil, nil, capacityType, err
	}
	tags := p.tags(nc, claim)
	a.subnetID, a.image = spec.SubnetID, spec.Image.ID

	nicID, err := p.createInterface(ctx, name, spec, tags, a, catalog)
	if err != nil {
		return nil, nil, capacityType, err
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
		return p.followCreation(ctx, poller, launched{nodeClass: nc, name: name, spec: spec, tags: tags, attempt: a, catalog: catalog, accepted: accepted})
	}, capacityType, nil
}

// launchSpec renders the launch spec, with its errors as core expects them.
func (p *DefaultProvider) launchSpec(ctx context.Context, in launchtemplate.Input) (*launchtemplate.LaunchSpec, error) {
	spec, err := p.launch.Build(ctx, in)
	if err != nil {
		if cluster.IsInputError(err) {
			// The node could not join: the AKSNodeClass status says the same.
			return nil, cloudprovider.NewNodeClassNotReadyError(err)
		}
		return nil, cloudprovider.NewCreateError(err, ReasonLaunchSpec, truncate(err.Error()))
	}
	return spec, nil
}

// createInterface creates the VM's NIC and returns its ID. A NIC that
// failed is removed unless the context ended (the PUT may then have
// succeeded, and a retry reuses the NIC).
func (p *DefaultProvider) createInterface(ctx context.Context, name string, spec *launchtemplate.LaunchSpec, tags map[string]*string, a attempt, catalog *sku.Catalog) (string, error) {
	nic, err := p.interfaceBody(ctx, spec, tags)
	if err != nil {
		return "", p.interfaceError(err)
	}
	nicID, err := p.createNIC(ctx, name, nic)
	if err != nil {
		if ctx.Err() == nil {
			p.deleteNICQuietly(ctx, NICName(name))
		}
		return "", p.failure(ctx, err, a, catalog, "creating NIC "+NICName(name))
	}
	return nicID, nil
}

// launched is what followCreation needs of a VM whose PUT Azure accepted.
type launched struct {
	nodeClass *v1beta1.AKSNodeClass
	name      string
	spec      *launchtemplate.LaunchSpec
	tags      map[string]*string
	attempt   attempt
	catalog   *sku.Catalog
	// accepted is the VM as requested, with its launch-time fields.
	accepted *Instance
}

// followCreation waits for the VM's creation operation and then creates
// its extension. A VM whose operation failed is removed with its NIC, and
// its offering marked; one whose operation was lost is followed by GET.
func (p *DefaultProvider) followCreation(ctx context.Context, poller *runtime.Poller[armcompute.VirtualMachinesClientCreateOrUpdateResponse], l launched) (*Instance, error) {
	var inst *Instance
	resp, err := poller.PollUntilDone(ctx, p.pollOptions())
	switch {
	case err == nil:
		inst = p.toInstance(&resp.VirtualMachine)
	case ctx.Err() != nil:
		// Still creating: the NodeClaim's registration timeout decides.
		return nil, p.timeoutError(ctx, l.name, err)
	case !isARMError(err) || isThrottled(err):
		// Lost contact with the operation (or Azure throttled its
		// polling): the VM may well come up.
		logFrom(ctx).Info("lost track of the VM's creation operation; following the VM instead", "error", err.Error())
		if inst, err = p.awaitProvisioned(ctx, l.name, l.attempt, l.catalog); err != nil {
			return nil, err
		}
	case p.deletedMeanwhile(ctx, l.name):
		// Deleted while being created (its NodeClaim went first): not a
		// failure of the offering.
		return nil, NewNotFoundError("VM", l.name)
	default:
		// The operation failed (allocation failures are reported here):
		// remove the failed VM and its NIC so nothing leaks.
		p.cleanup(ctx, l.name)
		return nil, &launchFailedError{p.failure(ctx, err, l.attempt, l.catalog, "creating VM "+l.name)}
	}
	if err := p.provisionExtension(ctx, l.nodeClass, l.name, l.spec, l.tags, l.attempt, l.catalog); err != nil {
		return nil, err
	}
	return withLaunchFields(inst, l.accepted), nil
}
