package virtualnode

import (
	"context"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"

	"github.com/azkarpenter/azkarpenter/pkg/providers/containerinstance"
)

// statusPass reads the group of every created pod and reports changes,
// ends a finished back-off, and tries refused pods whose retry time came.
func (p *Provider) statusPass(ctx context.Context) {
	p.endBackOff()
	now := p.clock.Now()
	var read, retry []*entry
	cores := map[*entry]float64{}
	p.mu.Lock()
	for _, e := range p.entries {
		switch {
		case e.busy:
		case e.created:
			read = append(read, e)
		case !e.retryAt.IsZero() && !now.Before(e.retryAt):
			e.busy = true
			retry = append(retry, e)
			cores[e] = containerinstance.GroupResources(e.pod).CPU
		}
	}
	p.mu.Unlock()
	// Smallest first: after a quota refusal, the pods that fit in what is
	// left go before the one that did not fit.
	sort.Slice(retry, func(i, j int) bool {
		return cores[retry[i]] < cores[retry[j]]
	})
	for _, e := range read {
		g, err := p.aci.Get(ctx, e.group)
		if containerinstance.IsNotFound(err) {
			p.lost(e)
			continue
		}
		if err != nil {
			p.log.Error(err, "reading container group", "group", e.group)
			continue
		}
		p.report(e, containerinstance.StatusOf(g))
	}
	for _, e := range retry {
		p.create(ctx, e)
	}
}

// lost reports a pod whose group disappeared (deleted outside the virtual
// node): Failed, so that its controller replaces it.
func (p *Provider) lost(e *entry) {
	p.mu.Lock()
	if !e.created || e.busy {
		p.mu.Unlock()
		return
	}
	e.created = false
	e.pod.Status.Phase = corev1.PodFailed
	e.pod.Status.Reason, e.pod.Status.Message = "ContainerGroupNotFound", "the pod's container group "+e.group+" no longer exists in ACI"
	pod := e.pod.DeepCopy()
	notify := p.notifyPod
	p.mu.Unlock()
	p.recorder.Event(pod, corev1.EventTypeWarning, "ContainerGroupNotFound", pod.Status.Message)
	if notify != nil {
		notify(pod)
	}
}

// collect deletes this node's groups whose pod no longer exists on it (by
// namespace, name and UID): pods deleted while the virtual node was down,
// or a delete that failed.
func (p *Provider) collect(ctx context.Context) {
	groups, err := p.aci.List(ctx)
	if err != nil {
		p.log.Error(err, "listing container groups for garbage collection")
		return
	}
	want := p.cfg.groupOptions().Tags
	for _, g := range groups {
		ns, name, uid, ok := containerinstance.PodOf(g)
		if !ok || !hasTags(g.Tags, want) {
			continue
		}
		p.mu.Lock()
		e, known := p.entries[podKey(ns, name)]
		known = known && string(e.pod.UID) == uid
		p.mu.Unlock()
		if known {
			continue
		}
		if pod, err := p.pods.Pods(ns).Get(name); err == nil && string(pod.UID) == uid {
			continue
		}
		group := *g.Name
		if err := p.aci.Delete(ctx, group); err != nil {
			groupsCollectedTotal.Inc(map[string]string{"node": p.cfg.NodeName, "result": resultError})
			p.log.Error(err, "collecting container group", "group", group)
			continue
		}
		groupsCollectedTotal.Inc(map[string]string{"node": p.cfg.NodeName, "result": resultOK})
		p.log.Info("collected container group whose pod is gone", "group", group, "pod", klog.KRef(ns, name), "uid", uid)
	}
}

func hasTags(tags map[string]*string, want map[string]string) bool {
	for k, v := range want {
		if t, ok := tags[k]; !ok || t == nil || *t != v {
			return false
		}
	}
	return true
}

// runLoops runs the status pass, the quota refresh and garbage collection
// until ctx ends.
func (p *Provider) runLoops(ctx context.Context) {
	go wait.UntilWithContext(ctx, p.statusPass, p.cfg.StatusInterval)
	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := p.refreshQuota(ctx); err != nil {
			p.log.Error(err, "reading the Container Instances quota")
		}
	}, p.cfg.QuotaRefresh)
	wait.UntilWithContext(ctx, p.collect, p.cfg.GCInterval)
}

// waitForQuota reads the quota until it succeeds: the node is not
// registered without capacity.
func (p *Provider) waitForQuota(ctx context.Context) error {
	return wait.PollUntilContextCancel(ctx, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := p.refreshQuota(ctx); err != nil {
			p.log.Error(err, "reading the Container Instances quota; retrying")
			return false, nil
		}
		return true, nil
	})
}
