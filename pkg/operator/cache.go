package operator

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
)

// cachedKinds are the objects the controller caches by the hundred or
// thousand: a Pod's or a Node's managedFields are often as large as the
// rest of it.
// (Only kinds something watches anyway: an informer made here for a kind
// nobody reads would cache it for nothing.)
var cachedKinds = []client.Object{&corev1.Pod{}, &corev1.Node{}, &karpv1.NodeClaim{}}

// stripManagedFields drops managedFields from the cached objects of
// cachedKinds: neither karpenter core nor azkarpenter reads them, and an
// update without them leaves the server's as they are. Karpenter core
// builds the manager without a way to set its cache's DefaultTransform, so
// the transform is set on each informer before the cache starts.
func stripManagedFields(ctx context.Context, c cache.Cache) error {
	for _, obj := range cachedKinds {
		informer, err := c.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("informer for %T: %w", obj, err)
		}
		t, ok := informer.(interface {
			SetTransform(toolscache.TransformFunc) error
		})
		if !ok {
			return fmt.Errorf("the %T informer (%T) takes no transform", obj, informer)
		}
		if err := t.SetTransform(cache.TransformStripManagedFields()); err != nil {
			return fmt.Errorf("stripping managedFields from cached %T: %w", obj, err)
		}
	}
	return nil
}
