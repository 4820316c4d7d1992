package virtualnode_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/azkarpenter/azkarpenter/pkg/azure"
	"github.com/azkarpenter/azkarpenter/pkg/azuresim"
	"github.com/azkarpenter/azkarpenter/pkg/providers/containerinstance"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
	"github.com/azkarpenter/azkarpenter/pkg/test/environment"
	"github.com/azkarpenter/azkarpenter/pkg/virtualnode"
)

const (
	nodeName = virtualnode.DefaultNodeName
	cluster  = "vn-test"
	quota    = 3 // standard cores: a 4-CPU pod is refused for quota
)

var (
	ctx    context.Context
	cancel context.CancelFunc
	env    *environment.Environment
	kube   *kubernetes.Clientset
	aci    *containerinstance.DefaultProvider
	port   int
)

func TestVirtualNode(t *testing.T) {
	environment.RunSuite(t, "VirtualNode")
}

var _ = BeforeSuite(func() {
	ctx, cancel = context.WithCancel(context.Background())
	env = environment.New(ctx, environment.WithSimConfig(func(c *azuresim.Config) {
		c.ContainerInstances.StandardCoresLimit = quota
	}))
	var err error
	kube, err = kubernetes.NewForConfig(env.Config)
	Expect(err).NotTo(HaveOccurred())
	clients, err := azure.NewClients(env.Azure, testutil.SubscriptionID)
	Expect(err).NotTo(HaveOccurred())
	aci, err = containerinstance.NewDefaultProviderFromCredential(containerinstance.Options{ResourceGroup: testutil.ResourceGroup, PollFrequency: 10 * time.Millisecond}, testutil.SubscriptionID, clients.Credential, clients.Options)
	Expect(err).NotTo(HaveOccurred())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	port = l.Addr().(*net.TCPAddr).Port
	Expect(l.Close()).To(Succeed())
	cfg := virtualnode.Config{
		Region: "eastus", Tags: map[string]string{"karpenter.azure.com_cluster": cluster},
		InternalIP: "127.0.0.1", KubeletPort: int32(port), KubeletVersion: "v1.35.4-vk-test",
		QuotaRefresh: 200 * time.Millisecond, StatusInterval: 100 * time.Millisecond,
		GCInterval: 200 * time.Millisecond, BackOff: 3 * time.Second,
	}
	go func() {
		defer GinkgoRecover()
		Expect(virtualnode.Run(ctx, cfg, virtualnode.ServeOptions{ListenAddr: "127.0.0.1:" + strconv.Itoa(port), Anonymous: true}, aci, kube)).To(Succeed())
	}()
	Eventually(func(g Gomega) {
		n, err := kube.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(n.Status.Capacity.Cpu().Value()).To(BeEquivalentTo(quota))
	}).WithTimeout(30 * time.Second).Should(Succeed())
})

var _ = AfterSuite(func() {
	cancel()
	env.Stop()
})

func aciPod(name, cpu string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeName:                     nodeName,
			AutomountServiceAccountToken: lo.ToPtr(false),
			Tolerations:                  []corev1.Toleration{{Key: virtualnode.TaintKey, Operator: corev1.TolerationOpExists}},
			Containers: []corev1.Container{{
				Name: "app", Image: "mcr.microsoft.com/azuredocs/aci-helloworld",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("1Gi")}},
			}},
		},
	}
}

func groups() []*armcontainerinstance.ContainerGroup {
	gs, err := aci.List(ctx)
	Expect(err).NotTo(HaveOccurred())
	return gs
}

func groupNames() []string {
	return lo.Map(groups(), func(g *armcontainerinstance.ContainerGroup, _ int) string { return *g.Name })
}

var _ = Describe("VirtualNode", Ordered, func() {
	It("publishes AKS's virtual node: labels, taint, condition", func() {
		n, err := kube.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		for k, v := range virtualnode.Labels() {
			Expect(n.Labels).To(HaveKeyWithValue(k, v))
		}
		Expect(n.Spec.Taints).To(ContainElement(virtualnode.Taint))
		Expect(n.Status.Allocatable.Memory().Value()).To(BeEquivalentTo(quota * 4 << 30))
		Expect(n.Status.Conditions).To(ContainElement(And(
			HaveField("Type", virtualnode.ConditionContainerInstancesAvailable),
			HaveField("Status", corev1.ConditionTrue))))
		Expect(n.Status.Conditions).To(ContainElement(And(HaveField("Type", corev1.NodeReady), HaveField("Status", corev1.ConditionTrue))))
	})

	It("runs a bound pod as a container group, serves its logs and deletes the group with the pod", func() {
		pod, err := kube.CoreV1().Pods("default").Create(ctx, aciPod("web", "1"), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			got, err := kube.CoreV1().Pods("default").Get(ctx, pod.Name, metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got.Status.Phase).To(Equal(corev1.PodRunning))
			g.Expect(got.Status.ContainerStatuses).To(ConsistOf(HaveField("Ready", true)))
		}).WithTimeout(30 * time.Second).Should(Succeed())
		g, err := aci.Get(ctx, containerinstance.GroupName(pod))
		Expect(err).NotTo(HaveOccurred())
		Expect(g.Tags).To(HaveKeyWithValue("karpenter.azure.com_cluster", lo.ToPtr(cluster)))
		Expect(g.Tags).To(HaveKeyWithValue(virtualnode.TagVirtualNode, lo.ToPtr(nodeName)))

		By("kubectl logs through the kubelet API")
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // the node's self-signed certificate
		resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/containerLogs/default/web/app?tailLines=10", port))
		Expect(err).NotTo(HaveOccurred())
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK), string(body))
		want, err := aci.Logs(ctx, containerinstance.GroupName(pod), "app", 10)
		Expect(err).NotTo(HaveOccurred())
		Expect(want).NotTo(BeEmpty())
		Expect(string(body)).To(Equal(want))

		By("exec is refused with a clear error")
		resp, err = client.Post(fmt.Sprintf("https://127.0.0.1:%d/exec/default/web/app?command=ls&output=1", port), "", nil)
		Expect(err).NotTo(HaveOccurred())
		_ = resp.Body.Close()
		Expect(resp.StatusCode).NotTo(Equal(http.StatusOK))

		By("deleting the pod deletes its group; the pod goes once its grace period is over")
		Expect(kube.CoreV1().Pods("default").Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: lo.ToPtr[int64](1)})).To(Succeed())
		Eventually(groupNames).WithTimeout(30 * time.Second).ShouldNot(ContainElement(containerinstance.GroupName(pod)))
		Eventually(func() bool {
			_, err := kube.CoreV1().Pods("default").Get(ctx, pod.Name, metav1.GetOptions{})
			return err != nil
		}).WithTimeout(30 * time.Second).Should(BeTrue())
	})

	It("collects a group of this node whose pod is gone, and leaves other groups alone", func() {
		gone := aciPod("gone", "0.5")
		gone.UID = types.UID("0d7e0000-0000-0000-0000-00000000dead")
		orphan, err := containerinstance.ContainerGroupFor(gone, containerinstance.Inputs{}, containerinstance.GroupOptions{Region: "eastus", Tags: map[string]string{"karpenter.azure.com_cluster": cluster, virtualnode.TagVirtualNode: nodeName}})
		Expect(err).NotTo(HaveOccurred())
		other := aciPod("other-node", "0.5")
		other.UID = types.UID("0d7e0000-0000-0000-0000-00000000beef")
		foreign, err := containerinstance.ContainerGroupFor(other, containerinstance.Inputs{}, containerinstance.GroupOptions{Region: "eastus", Tags: map[string]string{"karpenter.azure.com_cluster": cluster, virtualnode.TagVirtualNode: "another-virtual-node"}})
		Expect(err).NotTo(HaveOccurred())
		for _, g := range []armcontainerinstance.ContainerGroup{orphan, foreign} {
			d, err := aci.Create(ctx, g)
			Expect(err).NotTo(HaveOccurred())
			_, err = d.Wait(ctx)
			Expect(err).NotTo(HaveOccurred())
		}
		Eventually(groupNames).WithTimeout(30 * time.Second).ShouldNot(ContainElement(*orphan.Name))
		Expect(groupNames()).To(ContainElement(*foreign.Name))
		Expect(aci.Delete(ctx, *foreign.Name)).To(Succeed())
	})

	It("keeps a pod ACI refuses for quota Pending with an event, and takes no pods during the back-off", func() {
		big, err := kube.CoreV1().Pods("default").Create(ctx, aciPod("big", "4"), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			n, err := kube.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(n.Status.Conditions).To(ContainElement(And(
				HaveField("Type", virtualnode.ConditionContainerInstancesAvailable),
				HaveField("Status", corev1.ConditionFalse),
				HaveField("Reason", virtualnode.ReasonQuotaExceeded),
				HaveField("Message", ContainSubstring(containerinstance.CodeQuotaReached)))))
		}).WithTimeout(30 * time.Second).Should(Succeed())
		Eventually(func(g Gomega) {
			evs, err := kube.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=big"})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(evs.Items).To(ContainElement(And(
				HaveField("Type", corev1.EventTypeWarning),
				HaveField("Reason", virtualnode.ReasonContainerGroupRefused),
				HaveField("Message", And(ContainSubstring(containerinstance.CodeQuotaReached), ContainSubstring("StandardCores"))))))
			got, err := kube.CoreV1().Pods("default").Get(ctx, big.Name, metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got.Status.Phase).To(Equal(corev1.PodPending))
			g.Expect(got.Status.Reason).To(Equal(virtualnode.ReasonContainerGroupRefused))
		}).WithTimeout(30 * time.Second).Should(Succeed())
		Expect(groupNames()).NotTo(ContainElement(containerinstance.GroupName(big)))

		By("a pod that arrives during the back-off is not sent to ACI")
		small, err := kube.CoreV1().Pods("default").Create(ctx, aciPod("small", "1"), metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			got, err := kube.CoreV1().Pods("default").Get(ctx, small.Name, metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got.Status.Phase).To(Equal(corev1.PodPending))
			g.Expect(got.Status.Reason).To(Equal(virtualnode.ReasonContainerInstancesUnavailable))
		}).WithTimeout(30 * time.Second).Should(Succeed())

		By("after the back-off the condition is True again and the small pod runs")
		Eventually(func(g Gomega) {
			got, err := kube.CoreV1().Pods("default").Get(ctx, small.Name, metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got.Status.Phase).To(Equal(corev1.PodRunning))
		}).WithTimeout(30 * time.Second).Should(Succeed())
		for _, name := range []string{"big", "small"} {
			Expect(kube.CoreV1().Pods("default").Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: lo.ToPtr[int64](1)})).To(Succeed())
		}
		Eventually(groupNames).WithTimeout(30 * time.Second).Should(BeEmpty())
	})
})
