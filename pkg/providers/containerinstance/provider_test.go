package containerinstance_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/providers/containerinstance"
)

const (
	testSub = "00000000-0000-0000-0000-0000000000ac"
	testRG  = "mc_rg_cluster_eastus"
)

func newProvider(t *testing.T, edit func(*azuresim.Config)) (*containerinstance.DefaultProvider, *azuresim.Server, context.Context) {
	t.Helper()
	cfg := azuresim.DefaultConfig()
	cfg.TimeScale = 0.001
	if edit != nil {
		edit(&cfg)
	}
	sim, err := azuresim.NewServer(azuresim.Options{Config: &cfg, Seed: 7, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	co := sim.ClientOptions()
	co.Retry = policy.RetryOptions{MaxRetries: 2, RetryDelay: time.Millisecond, MaxRetryDelay: 5 * time.Millisecond}
	p, err := containerinstance.NewDefaultProviderFromCredential(containerinstance.Options{ResourceGroup: testRG, PollFrequency: 5 * time.Millisecond}, testSub, sim.Credential(), co)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return p, sim, ctx
}

func TestProviderRunsATranslatedPod(t *testing.T) {
	p, sim, ctx := newProvider(t, nil)
	pod := webPod()
	cg, err := containerinstance.ContainerGroupFor(pod, webInputs(), containerinstance.GroupOptions{Region: "eastus", Tags: map[string]string{"karpenter.azure.com_cluster": "demo"}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.Create(ctx, cg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := containerinstance.StatusOf(got); !st.Running() || len(st.Containers) != 2 {
		t.Fatalf("after the deployment: %+v", st)
	}
	g, err := p.Get(ctx, containerinstance.GroupName(pod))
	if err != nil {
		t.Fatal(err)
	}
	if ns, name, uid, ok := containerinstance.PodOf(g); !ok || ns != pod.Namespace || name != pod.Name || uid != string(pod.UID) {
		t.Fatalf("pod of the group: %s/%s %s %v", ns, name, uid, ok)
	}
	all, err := p.List(ctx)
	if err != nil || len(all) != 1 {
		t.Fatalf("list: %d groups, %v", len(all), err)
	}
	logs, err := p.Logs(ctx, containerinstance.GroupName(pod), "web", 5)
	if err != nil || logs == "" {
		t.Fatalf("logs: %q %v", logs, err)
	}
	usage, err := p.Usage(ctx, "eastus")
	if err != nil {
		t.Fatal(err)
	}
	// 0.3 + 0.1 CPU: one quota core.
	if u, ok := lo.Find(usage, func(u containerinstance.Usage) bool { return u.Name == "StandardCores" }); !ok || u.Current != 1 || u.Limit != 100 {
		t.Fatalf("usage %+v", usage)
	}
	if err := p.Delete(ctx, containerinstance.GroupName(pod)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Get(ctx, containerinstance.GroupName(pod)); !containerinstance.IsNotFound(err) {
		t.Fatalf("get after delete: %v", err)
	}
	if err := p.Delete(ctx, containerinstance.GroupName(pod)); err != nil {
		t.Fatalf("deleting a group that is gone: %v", err)
	}
	if n := len(sim.Snapshot().ContainerGroups); n != 0 {
		t.Fatalf("%d groups left", n)
	}
}

func bigPod(cpu string) *corev1.Pod {
	pod := jobPod()
	pod.Namespace = "batch"
	pod.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("1Gi")}
	return pod
}

func TestProviderTypedErrors(t *testing.T) {
	p, _, ctx := newProvider(t, func(c *azuresim.Config) {
		c.ContainerInstances.StandardCoresLimit = 3
		c.ContainerInstances.Capacity = []azuresim.ContainerCapacityRule{{Location: "westus2", Cores: 0}}
		c.Errors = []azuresim.ErrorRule{{Operation: azuresim.OpPutContainerGroup, Location: "southcentralus", Code: "InternalServerError", Async: true, Count: 1}}
	})
	group := func(pod *corev1.Pod, region string) armcontainerinstance.ContainerGroup {
		cg, err := containerinstance.ContainerGroupFor(pod, containerinstance.Inputs{}, containerinstance.GroupOptions{Region: region})
		if err != nil {
			t.Fatal(err)
		}
		return cg
	}
	first := bigPod("2")
	first.Name = "first"
	d, err := p.Create(ctx, group(first, "eastus"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = p.Create(ctx, group(bigPod("2"), "eastus"))
	var q *containerinstance.QuotaExceededError
	if !errors.As(err, &q) || q.Quota != "StandardCores" || q.Region != "eastus" || q.Limit != 3 || q.Usage != 2 || q.Requested != 2 {
		t.Fatalf("over the core quota: %#v (%v)", q, err)
	}
	var c *containerinstance.CapacityError
	if _, err := p.Create(ctx, group(bigPod("1"), "westus2")); !errors.As(err, &c) {
		t.Fatalf("a region without capacity: %v", err)
	}
	d, err = p.Create(ctx, group(bigPod("1"), "southcentralus"))
	if err != nil {
		t.Fatal(err)
	}
	var f *containerinstance.DeploymentFailedError
	if _, err := d.Wait(ctx); !errors.As(err, &f) || f.Code != "InternalServerError" {
		t.Fatalf("a failed deployment: %v", err)
	}
	// A body ACI refuses, bypassing the translation: 21 volumes.
	bad := group(bigPod("1"), "eastus")
	bad.Name = lo.ToPtr("too-many-volumes")
	for i := range 21 {
		bad.Properties.Volumes = append(bad.Properties.Volumes, &armcontainerinstance.Volume{Name: lo.ToPtr("v" + string(rune('a'+i))), EmptyDir: map[string]any{}})
	}
	var b *containerinstance.BadRequestError
	if _, err := p.Create(ctx, bad); !errors.As(err, &b) || b.Field != "properties.volumes" {
		t.Fatalf("too many volumes: %#v %v", b, err)
	}
	noMemory := group(bigPod("1"), "eastus")
	noMemory.Name = lo.ToPtr("no-memory")
	noMemory.Properties.Containers[0].Properties.Resources.Requests.MemoryInGB = nil
	if _, err := p.Create(ctx, noMemory); !errors.As(err, &b) || b.Field == "" {
		t.Fatalf("a required property missing: %#v %v", b, err)
	}
}
