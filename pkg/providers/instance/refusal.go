package instance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	"github.com/azkarpenter/azkarpenter/pkg/providers/offerings"
	"github.com/azkarpenter/azkarpenter/pkg/providers/refusals"
)

// Codes of refusals of the request's content.
const (
	// CodeGalleryImageNotFound is Compute's 404 for a gallery image (or
	// version) that does not exist in the region.
	CodeGalleryImageNotFound = "GalleryImageNotFound"
)

// Reasons of refusals.
const (
	// ReasonSizeRefused marks a size Azure refused the request for by name
	// (a security type, generation or architecture the size does not have).
	ReasonSizeRefused = "SizeRefusedByAzure"
	// ReasonLaunchRefused is the NodeClass condition reason of a request
	// Azure refused for its content, when the refusal is neither about the
	// image nor about the size.
	ReasonLaunchRefused = "LaunchRefusedByAzure"
)

// isRefusal reports whether an ARM error refuses the request for what it
// asks (400 Bad Request, or an image that does not exist): sending it again
// unchanged gets the same answer.
func isRefusal(code string, status int) bool {
	return status == http.StatusBadRequest || code == CodeGalleryImageNotFound
}

// refuse turns a refusal of the request's content into what stops it from
// being sent again:
//   - a refusal naming the VM size that was tried (Compute names the size
//     when the size lacks what was asked: Trusted Launch, the image's
//     generation or architecture) marks every offering of the size;
//   - a refusal of the image (a missing image, Trusted Launch on a
//     definition without the feature) sets the NodeClass's ImagesReady
//     False with Azure's message;
//   - any other sets its ValidationSucceeded False with Azure's message.
//
// Either condition makes the NodeClass not Ready, so core launches nothing
// more for it until it changes (refusals.Marks).
func (p *DefaultProvider) refuse(ctx context.Context, err error, a attempt, code, message string) error {
	if a.sku != nil && a.sku.Name != "" && strings.Contains(message, a.sku.Name) {
		p.unavailable.MarkUnavailable(ctx, ReasonSizeRefused, a.sku.Name, offerings.Any, offerings.Any, offerings.SKUNotAvailableOnDemandTTL)
		return cloudprovider.NewInsufficientCapacityError(&conciseError{msg: fmt.Sprintf("%s: %s: %s", ReasonSizeRefused, a.sku.Name, message), err: err})
	}
	r := refusals.Refusal{ConditionType: v1beta1.ConditionTypeValidationSucceeded, Reason: ReasonLaunchRefused, Generation: a.generation,
		Message: truncate(fmt.Sprintf("Azure refused to create a node for this AKSNodeClass: %s: %s", code, message))}
	if code == CodeGalleryImageNotFound || strings.Contains(strings.ToLower(message), "image") {
		r.ConditionType, r.Reason = v1beta1.ConditionTypeImagesReady, imagefamily.ReasonImageRefused
		r.Message = truncate(fmt.Sprintf("Azure refused to create a VM from image %s: %s: %s", a.image, code, message))
	}
	if p.opts.Refusals != nil && a.nodeClass != "" {
		p.opts.Refusals.Refuse(a.nodeClass, r)
	}
	logFrom(ctx).Info("Azure refused the launch for the AKSNodeClass's settings; the AKSNodeClass is not Ready until it changes", "nodeclass", a.nodeClass, "condition", r.ConditionType, "code", code)
	return cloudprovider.NewNodeClassNotReadyError(errors.New(r.Message))
}

// refused returns the NodeClassNotReadyError of a refusal that still holds
// for the NodeClass, so a launch core started before the NodeClass's status
// caught up is not sent to Azure again.
func (p *DefaultProvider) refused(nc *v1beta1.AKSNodeClass) error {
	if p.opts.Refusals == nil {
		return nil
	}
	if rs := p.opts.Refusals.Of(nc.Name, nc.Generation); len(rs) > 0 {
		return cloudprovider.NewNodeClassNotReadyError(errors.New(rs[0].Message))
	}
	return nil
}
