package instance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"

	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
)

// Following a VM whose creation Azure accepted until it is provisioned or
// has failed, by its long-running operation or, when that is lost, by GET.

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
	return nil, p.transientError(err, "waiting for VM "+name)
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

// provisioningFailure is a VM found in state Failed while waiting for it;
// it carries the code of the instance view's ProvisioningState/failed status.
type provisioningFailure struct {
	Code, Message string
}

func (f *provisioningFailure) Error() string {
	return fmt.Sprintf("VM provisioning failed: %s: %s", f.Code, f.Message)
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
