package instance

import (
	"context"
	"fmt"

	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/providers/launchtemplate"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
)

// The node's Custom Script Extension.
//
// On Linux the node joins from its custom data; the extension only reports
// how provisioning went, so creating it is best effort and not waited for.
// On Windows, custom data only delivers the setup script and the extension
// runs it (as AKS's Windows nodes are set up by their CSE): without the
// extension no node ever joins. So on Windows the launch waits for the
// extension, on every path a launch takes (a fresh VM, a VM an earlier
// attempt created, a VM followed by GET after the operation was lost), and
// the extension's failure is the launch's: the VM is removed and the
// NodeClaim fails with the extension's code (VMExtensionProvisioningError),
// without marking the offering (the size and zone did nothing wrong).

// provisionExtension creates the node's extension after its VM was created.
func (p *DefaultProvider) provisionExtension(ctx context.Context, nc *v1beta1.AKSNodeClass, name string, spec *launchtemplate.LaunchSpec, tags map[string]*string, a attempt, catalog *sku.Catalog) error {
	poller, err := p.createExtension(ctx, name, spec, tags)
	if !nc.IsWindows() {
		if err != nil {
			logFrom(ctx).Error(err, "creating the provisioning extension failed; the node can still join", "extension", spec.Artifact.Extension.Name)
		}
		return nil
	}
	if err == nil {
		_, err = poller.PollUntilDone(ctx, p.pollOptions())
	}
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return p.timeoutError(ctx, name, err)
	case !isARMError(err) || isThrottled(err):
		// The extension may still run; a retry adopts the VM and looks
		// for it again (ensureExtension).
		return p.transientError(err, "creating the setup extension of VM "+name)
	}
	p.cleanup(ctx, name)
	return &launchFailedError{p.failure(ctx, err, a, catalog, "running the setup extension of VM "+name)}
}

// ensureExtension gives an adopted, provisioned Windows VM its setup
// extension when an earlier attempt stopped before creating it. An
// extension that exists needs nothing: its outcome is its VM's provisioning
// state, which adopting the VM has followed.
func (p *DefaultProvider) ensureExtension(ctx context.Context, nc *v1beta1.AKSNodeClass, claim *karpv1.NodeClaim, inst *Instance, spec *launchtemplate.LaunchSpec, catalog *sku.Catalog) error {
	if !nc.IsWindows() {
		return nil
	}
	if spec == nil {
		return cloudprovider.NewCreateError(fmt.Errorf("VM %s: its launch spec could not be rebuilt for its setup extension", inst.Name), ReasonLaunchSpec,
			truncate(fmt.Sprintf("the Windows setup extension of VM %s cannot be created: its size, zone or capacity type is no longer among the NodeClaim's offerings", inst.Name)))
	}
	_, err := p.extensions.Get(ctx, p.opts.ResourceGroup, inst.Name, spec.Artifact.Extension.Name, nil)
	switch {
	case err == nil:
		return nil
	case !IsARMNotFound(err):
		return p.transientError(err, "reading the setup extension of VM "+inst.Name)
	}
	logFrom(ctx).Info("creating the setup extension an earlier attempt did not create", "extension", spec.Artifact.Extension.Name)
	return p.provisionExtension(ctx, nc, inst.Name, spec, p.tags(nc, claim), p.attemptOf(inst, catalog), catalog)
}

// createExtension starts creating the VM's Custom Script Extension: on Linux
// it reports the outcome of the node's provisioning, on Windows it runs the
// setup script custom data delivered.
func (p *DefaultProvider) createExtension(ctx context.Context, vmName string, spec *launchtemplate.LaunchSpec, tags map[string]*string) (*runtime.Poller[armcompute.VirtualMachineExtensionsClientCreateOrUpdateResponse], error) {
	e := spec.Artifact.Extension
	return p.extensions.BeginCreateOrUpdate(ctx, p.opts.ResourceGroup, vmName, e.Name, armcompute.VirtualMachineExtension{
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
}
