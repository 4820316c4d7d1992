package instance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
)

// Get implements Provider.
func (p *DefaultProvider) Get(ctx context.Context, name string) (*Instance, error) {
	resp, err := p.vms.Get(ctx, p.opts.ResourceGroup, name, nil)
	if err != nil {
		if IsARMNotFound(err) {
			return nil, NewNotFoundError("VM", name)
		}
		return nil, fmt.Errorf("getting VM %s: %w", name, err)
	}
	return p.toInstance(&resp.VirtualMachine), nil
}

// List implements Provider. ARM's VM list is eventually consistent: a VM
// created seconds ago may be missing, so callers must not treat absence
// from one List as proof that a just-launched VM is gone.
func (p *DefaultProvider) List(ctx context.Context) ([]*Instance, error) {
	var out []*Instance
	pager := p.vms.NewListPager(p.opts.ResourceGroup, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing VMs in %s: %w", p.opts.ResourceGroup, err)
		}
		for _, vm := range page.Value {
			if vm != nil && p.owned(vm.Tags) {
				out = append(out, p.toInstance(vm))
			}
		}
	}
	return out, nil
}

func (p *DefaultProvider) owned(tags map[string]*string) bool {
	v, ok := tags[TagCluster]
	return ok && v != nil && *v == p.opts.ClusterName
}

// Delete implements Provider. It starts the VM's deletion and waits at most
// Options.DeleteWait for it; once the VM is gone (this call or a later one)
// it removes the NIC (Azure removes it with the VM through its
// deleteOption, but a NIC created without one, or left by an interrupted
// creation, stays) and returns the not-found error.
func (p *DefaultProvider) Delete(ctx context.Context, name string) error {
	log := logFrom(ctx).WithValues("vm", name)
	resp, err := p.vms.Get(ctx, p.opts.ResourceGroup, name, nil)
	if err != nil {
		if !IsARMNotFound(err) {
			return fmt.Errorf("getting VM %s: %w", name, err)
		}
		if err := p.deleteLeftovers(ctx, name, nil); err != nil {
			return err
		}
		deletesTotal.Inc(map[string]string{"resource": "vm", "result": "not_found"})
		return NewNotFoundError("VM", name)
	}
	vm := &resp.VirtualMachine
	if state := p.toInstance(vm).ProvisioningState; state == StateDeleting {
		// Deletion is under way; another DELETE would only spend the VM's
		// small per-VM write budget.
		return nil
	}
	poller, err := p.vms.BeginDelete(ctx, p.opts.ResourceGroup, name, nil)
	if err != nil {
		if IsARMNotFound(err) {
			return NewNotFoundError("VM", name)
		}
		deletesTotal.Inc(map[string]string{"resource": "vm", "result": "error"})
		return fmt.Errorf("deleting VM %s: %w", name, err)
	}
	deletesTotal.Inc(map[string]string{"resource": "vm", "result": "started"})
	log.Info("deleting VM")
	waitCtx, cancel := context.WithTimeout(ctx, p.opts.DeleteWait)
	defer cancel()
	if _, err := poller.PollUntilDone(waitCtx, p.pollOptions()); err != nil {
		if waitCtx.Err() != nil && ctx.Err() == nil {
			return nil // still deleting; the next call finds it gone
		}
		if IsARMNotFound(err) {
			return nil
		}
		return fmt.Errorf("deleting VM %s: %w", name, err)
	}
	// Gone already: remove what it leaves behind now.
	if err := p.deleteLeftovers(ctx, name, vm); err != nil {
		log.Error(err, "removing the deleted VM's NIC or disk; a later call or garbage collection retries")
	}
	return nil
}

// deleteLeftovers removes the NIC of a deleted VM and, when vm is known and
// its managed OS disk was not created with deleteOption Delete, the disk.
func (p *DefaultProvider) deleteLeftovers(ctx context.Context, name string, vm *armcompute.VirtualMachine) error {
	if _, err := p.nics.Get(ctx, p.opts.ResourceGroup, NICName(name), nil); err == nil {
		if _, err := p.nics.BeginDelete(ctx, p.opts.ResourceGroup, NICName(name), nil); err != nil && !IsARMNotFound(err) {
			deletesTotal.Inc(map[string]string{"resource": "nic", "result": "error"})
			return fmt.Errorf("deleting NIC %s: %w", NICName(name), err)
		}
		deletesTotal.Inc(map[string]string{"resource": "nic", "result": "started"})
	} else if !IsARMNotFound(err) {
		return fmt.Errorf("getting NIC %s: %w", NICName(name), err)
	}
	if vm == nil || p.disks == nil || vm.Properties == nil || vm.Properties.StorageProfile == nil {
		return nil
	}
	d := vm.Properties.StorageProfile.OSDisk
	if d == nil || d.DiffDiskSettings != nil || d.Name == nil || (d.DeleteOption != nil && *d.DeleteOption == armcompute.DiskDeleteOptionTypesDelete) {
		return nil
	}
	if _, err := p.disks.BeginDelete(ctx, p.opts.ResourceGroup, *d.Name, nil); err != nil && !IsARMNotFound(err) {
		return fmt.Errorf("deleting OS disk %s: %w", *d.Name, err)
	}
	deletesTotal.Inc(map[string]string{"resource": "disk", "result": "started"})
	return nil
}

// ListNICs implements Provider.
func (p *DefaultProvider) ListNICs(ctx context.Context) ([]*NIC, error) {
	var out []*NIC
	pager := p.nics.NewListPager(p.opts.ResourceGroup, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing NICs in %s: %w", p.opts.ResourceGroup, err)
		}
		for _, n := range page.Value {
			if n != nil && p.owned(n.Tags) {
				out = append(out, toNIC(n))
			}
		}
	}
	return out, nil
}

func toNIC(n *armnetwork.Interface) *NIC {
	nic := &NIC{Tags: map[string]string{}}
	if n.Name != nil {
		nic.Name = *n.Name
	}
	if n.ID != nil {
		nic.ID = *n.ID
	}
	for k, v := range n.Tags {
		if v != nil {
			nic.Tags[k] = *v
		}
	}
	nic.NodeClaim = nic.Tags[TagNodeClaim]
	if ts, err := time.Parse(time.RFC3339, nic.Tags[TagCreationTimestamp]); err == nil {
		nic.CreationTime = ts
	}
	if pr := n.Properties; pr != nil {
		if pr.VirtualMachine != nil && pr.VirtualMachine.ID != nil {
			nic.VMID = *pr.VirtualMachine.ID
		}
		if pr.ProvisioningState != nil {
			nic.ProvisioningState = string(*pr.ProvisioningState)
		}
	}
	return nic
}

// DeleteNIC implements Provider. It returns once deletion has started (and
// finished, if it does within Options.DeleteWait).
func (p *DefaultProvider) DeleteNIC(ctx context.Context, name string) error {
	if _, err := p.nics.Get(ctx, p.opts.ResourceGroup, name, nil); err != nil {
		if IsARMNotFound(err) {
			deletesTotal.Inc(map[string]string{"resource": "nic", "result": "not_found"})
			return NewNotFoundError("NIC", name)
		}
		return fmt.Errorf("getting NIC %s: %w", name, err)
	}
	poller, err := p.nics.BeginDelete(ctx, p.opts.ResourceGroup, name, nil)
	if err != nil {
		if IsARMNotFound(err) {
			return NewNotFoundError("NIC", name)
		}
		deletesTotal.Inc(map[string]string{"resource": "nic", "result": "error"})
		return fmt.Errorf("deleting NIC %s: %w", name, err)
	}
	deletesTotal.Inc(map[string]string{"resource": "nic", "result": "started"})
	logFrom(ctx).Info("deleting NIC", "nic", name)
	waitCtx, cancel := context.WithTimeout(ctx, p.opts.DeleteWait)
	defer cancel()
	if _, err := poller.PollUntilDone(waitCtx, p.pollOptions()); err != nil && !errors.Is(err, context.DeadlineExceeded) && !IsARMNotFound(err) {
		return fmt.Errorf("deleting NIC %s: %w", name, err)
	}
	return nil
}
