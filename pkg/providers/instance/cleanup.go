package instance

import (
	"context"
	"fmt"
	"time"
)

// Removal of what a failed creation left behind: the VM and its NIC. It
// runs even when the caller's context is done, and garbage collection
// removes whatever it could not.

// cleanupTimeout bounds the removal of a failed VM and its NIC.
const cleanupTimeout = 5 * time.Minute

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
