package v1beta1_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/rand"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

// nodeClass builds an AKSNodeClass from a YAML spec, as a user would write it,
// so that wrongly typed values reach the API server too.
func nodeClass(version, spec string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	body := map[string]any{}
	Expect(yaml.Unmarshal([]byte(spec), &body)).To(Succeed())
	u.Object = map[string]any{
		"apiVersion": "karpenter.azure.com/" + version,
		"kind":       "AKSNodeClass",
		"metadata":   map[string]any{"name": "nc-" + rand.String(8)},
		"spec":       body,
	}
	return u
}

// nodePool builds a NodePool whose template carries the given labels and
// requirements (both YAML).
func nodePool(labels, requirements string) *unstructured.Unstructured {
	tmpl := fmt.Sprintf(`
apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: np-%s
spec:
  template:
    metadata:
      labels: %s
    spec:
      nodeClassRef: {group: karpenter.azure.com, kind: AKSNodeClass, name: default}
      requirements: %s
`, rand.String(8), lo.Ternary(labels == "", "{}", labels), lo.Ternary(requirements == "", "[]", requirements))
	u := &unstructured.Unstructured{}
	Expect(yaml.Unmarshal([]byte(tmpl), &u.Object)).To(Succeed())
	return u
}

func tags(n int) string {
	var b strings.Builder
	b.WriteString("tags: {")
	for i := range n {
		fmt.Fprintf(&b, "k%d: v,", i)
	}
	b.WriteString("}")
	return b.String()
}

var _ = Describe("AKSNodeClass validation", func() {
	It("defaults an empty spec the way AKS node auto-provisioning does", func() {
		u := nodeClass("v1beta1", "{}")
		Expect(env.Client.Create(ctx, u)).To(Succeed())
		nc := &v1beta1.AKSNodeClass{}
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(u), nc)).To(Succeed())
		Expect(nc.Spec.ImageFamily).To(Equal(lo.ToPtr("Ubuntu")))
		Expect(nc.Spec.OSDiskSizeGB).To(Equal(lo.ToPtr[int32](128)))
		Expect(nc.Spec.OSDiskType).To(Equal(lo.ToPtr(v1beta1.OSDiskTypeAuto)))
		Expect(nc.Spec.WorkloadRuntime).To(Equal(lo.ToPtr(v1beta1.WorkloadRuntimeOCIContainer)))
		Expect(nc.Spec.Kubelet).To(BeNil())
		Expect(nc.Spec.Spot).To(BeNil())
		Expect(nc.Spec.MaxPods).To(BeNil(), "maxPods depends on the network plugin and is resolved by the controller")
	})

	It("defaults the kubelet block to upstream kubelet's values", func() {
		u := nodeClass("v1beta1", "kubelet: {}")
		Expect(env.Client.Create(ctx, u)).To(Succeed())
		nc := &v1beta1.AKSNodeClass{}
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(u), nc)).To(Succeed())
		k := nc.Spec.Kubelet
		Expect(k.CPUManagerPolicy).To(Equal(lo.ToPtr("none")))
		Expect(k.CPUCFSQuota).To(Equal(lo.ToPtr(true)))
		Expect(k.CPUCFSQuotaPeriod.Duration.String()).To(Equal("100ms"))
		Expect(k.TopologyManagerPolicy).To(Equal(lo.ToPtr("none")))
		Expect(k.ContainerLogMaxSize).To(Equal(lo.ToPtr("50Mi")))
		Expect(k.ContainerLogMaxFiles).To(Equal(lo.ToPtr[int32](5)))
	})

	It("defaults the spot price cap to the on-demand price", func() {
		u := nodeClass("v1beta1", "spot: {}")
		Expect(env.Client.Create(ctx, u)).To(Succeed())
		nc := &v1beta1.AKSNodeClass{}
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(u), nc)).To(Succeed())
		Expect(nc.Spec.Spot.MaxPrice).To(Equal(lo.ToPtr("-1")))
		Expect(nc.SpotMaxPrice()).To(Equal(-1.0))
	})

	It("serves the deprecated v1alpha2 version with the same schema and stores v1beta1", func() {
		u := nodeClass("v1alpha2", "imageFamily: AzureLinux\nosDiskSizeGB: 64")
		Expect(env.Client.Create(ctx, u)).To(Succeed())
		nc := &v1beta1.AKSNodeClass{}
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(u), nc)).To(Succeed())
		Expect(nc.GetImageFamily()).To(Equal("AzureLinux"))
		Expect(nc.GetOSDiskSizeGB()).To(Equal(int32(64)))
		Expect(nc.GetOSDiskType()).To(Equal(v1beta1.OSDiskTypeAuto), "v1alpha2 gets the same defaults")
		bad := nodeClass("v1alpha2", "workloadRuntime: KataVmIsolation")
		Expect(env.Client.Create(ctx, bad)).To(MatchError(ContainSubstring("requires imageFamily AzureLinux")), "v1alpha2 gets the same rules")
	})

	DescribeTable("accepts valid specs",
		func(spec string) {
			Expect(env.Client.Create(ctx, nodeClass("v1beta1", spec))).To(Succeed())
		},
		Entry("every image family: Ubuntu2204", "imageFamily: Ubuntu2204"),
		Entry("every image family: Ubuntu2404", "imageFamily: Ubuntu2404"),
		Entry("every image family: Windows2022", "imageFamily: Windows2022"),
		Entry("every image family: Windows2025 with encryption at host", "imageFamily: Windows2025\nsecurity: {encryptionAtHost: true}"),
		Entry("FIPS on AzureLinux", "imageFamily: AzureLinux\nfipsMode: FIPS"),
		Entry("FIPS on Ubuntu2204 with trusted launch", "imageFamily: Ubuntu2204\nfipsMode: FIPS\nsecurity: {trustedLaunch: {vtpm: true}}"),
		Entry("FIPS disabled on Ubuntu2404", "imageFamily: Ubuntu2404\nfipsMode: Disabled"),
		Entry("pod sandboxing on AzureLinux", "imageFamily: AzureLinux\nworkloadRuntime: KataVmIsolation"),
		Entry("confidential VM on Ubuntu2404", "imageFamily: Ubuntu2404\nsecurity: {confidentialVM: true}"),
		Entry("explicit ephemeral OS disk", "osDiskType: Ephemeral\nosDiskSizeGB: 64"),
		Entry("managed OS disk at the bounds", "osDiskType: Managed\nosDiskSizeGB: 2048"),
		Entry("smallest OS disk", "osDiskSizeGB: 30"),
		Entry("maxPods bounds (10)", "maxPods: 10"),
		Entry("maxPods bounds (250)", "maxPods: 250"),
		Entry("spot price cap with five decimals", "spot: {maxPrice: '0.12345'}"),
		Entry("dedicated host group", "dedicatedHostGroupID: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-hosts/providers/Microsoft.Compute/hostGroups/hg1"),
		Entry("subnet ID", "vnetSubnetID: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/MC_rg_aks_eastus/providers/Microsoft.Network/virtualNetworks/aks-vnet/subnets/aks-subnet"),
		Entry("tag keys with '/', as NAP YAML has them (written to Azure with '_')", `tags: {"app.kubernetes.io/team": payments, "kubernetes.io/owner": sre}`),
		Entry("45 tags with Azure's longest key and value", tags(44)[:len(tags(44))-1]+fmt.Sprintf("%s: %s}", strings.Repeat("k", 512), strings.Repeat("v", 256))),
		Entry("full kubelet block", `kubelet:
  cpuManagerPolicy: static
  cpuCFSQuota: false
  cpuCFSQuotaPeriod: 1ms
  imageGCHighThresholdPercent: 85
  imageGCLowThresholdPercent: 80
  topologyManagerPolicy: single-numa-node
  allowedUnsafeSysctls: ["kernel.msg*", "net.ipv4.route.min_pmtu", "kernel.sem", "fs.mqueue.msg_max"]
  containerLogMaxSize: 100Mi
  containerLogMaxFiles: 2
  podPidsLimit: -1`),
		Entry("CFS period upper bound", "kubelet: {cpuCFSQuotaPeriod: 1s}"),
	)

	DescribeTable("rejects invalid specs with a message that says what to fix",
		func(spec, message string) {
			err := env.Client.Create(ctx, nodeClass("v1beta1", spec))
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("unknown image family", "imageFamily: Debian12", `Unsupported value: "Debian12"`),
		Entry("OS disk below 30 GiB", "osDiskSizeGB: 29", "greater than or equal to 30"),
		Entry("OS disk above 2048 GiB", "osDiskSizeGB: 2049", "less than or equal to 2048"),
		Entry("unknown OS disk type", "osDiskType: Temp", `Unsupported value: "Temp"`),
		Entry("maxPods below 10", "maxPods: 9", "greater than or equal to 10"),
		Entry("maxPods above 250", "maxPods: 251", "less than or equal to 250"),
		Entry("unknown FIPS mode", "fipsMode: Enabled", `Unsupported value: "Enabled"`),
		Entry("FIPS on Ubuntu2404", "imageFamily: Ubuntu2404\nfipsMode: FIPS", "fipsMode FIPS is not available for imageFamily Ubuntu2404"),
		Entry("FIPS on Ubuntu2204 without trusted launch (as AKS node auto-provisioning)", "imageFamily: Ubuntu2204\nfipsMode: FIPS", "needs trusted launch"),
		Entry("unknown workload runtime", "workloadRuntime: gVisor", `Unsupported value: "gVisor"`),
		Entry("pod sandboxing on the default Ubuntu", "workloadRuntime: KataVmIsolation", "KataVmIsolation (pod sandboxing) requires imageFamily AzureLinux"),
		Entry("pod sandboxing on Windows", "imageFamily: Windows2022\nworkloadRuntime: KataVmIsolation", "requires imageFamily AzureLinux"),
		Entry("confidential VM on Windows2022", "imageFamily: Windows2022\nsecurity: {confidentialVM: true}", "security.confidentialVM is not supported with Windows image families"),
		Entry("confidential VM on Windows2025", "imageFamily: Windows2025\nsecurity: {confidentialVM: true}", "not supported with Windows image families"),
		Entry("pod sandboxing in a confidential VM", "imageFamily: AzureLinux\nworkloadRuntime: KataVmIsolation\nsecurity: {confidentialVM: true}", "needs nested virtualization, which confidential VMs do not offer"),
		Entry("spot on a dedicated host", "dedicatedHostGroupID: /subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/hostGroups/hg\nspot: {maxPrice: '-1'}", "Azure Spot VMs cannot run on dedicated hosts"),
		Entry("confidential VM on a dedicated host", "dedicatedHostGroupID: /subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/hostGroups/hg\nsecurity: {confidentialVM: true}", "confidential VMs cannot run on dedicated hosts"),
		Entry("dedicated host group that is not a host group ID", "dedicatedHostGroupID: /subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/availabilitySets/as", "dedicatedHostGroupID"),
		Entry("subnet that is not a subnet ID", "vnetSubnetID: aks-subnet", "vnetSubnetID"),
		Entry("tag key over 512 characters", "tags: {"+strings.Repeat("k", 513)+": v}", "tag keys must be at most 512 characters"),
		Entry("tag value over 256 characters", "tags: {k: "+strings.Repeat("v", 257)+"}", "tag values must be at most 256 characters"),
		Entry("tag key with <", `tags: {"a<b": v}`, "tag keys must not contain"),
		Entry("tag key with %", `tags: {"50%": v}`, "tag keys must not contain"),
		Entry("tag key with &", `tags: {"a&b": v}`, "tag keys must not contain"),
		Entry("tag key with ?", `tags: {"why?": v}`, "tag keys must not contain"),
		Entry("tag key with a backslash", `tags: {'a\b': v}`, "tag keys must not contain"),
		Entry("tag overriding an ownership tag", `tags: {"karpenter.azure.com_cluster": other}`, "are ownership tags set by the controller"),
		Entry("tag overriding an ownership tag through '/'", `tags: {"karpenter.sh/nodepool": other}`, "are ownership tags set by the controller"),
		Entry("tag overriding an ownership tag in another case", `tags: {"Karpenter.Azure.Com_cluster": other}`, "are ownership tags set by the controller"),
		Entry("tag key with a control character", "tags: {\"a\\tb\": v}", "tag keys must not contain"),
		Entry("empty tag key", `tags: {"": v}`, "tag keys must not be empty or only whitespace"),
		Entry("whitespace tag key", `tags: {"  ": v}`, "tag keys must not be empty or only whitespace"),
		Entry("two tag keys that are one Azure tag: '/' and '_'", `tags: {"app/team": a, "app_team": b}`, "tag keys must stay distinct in Azure"),
		Entry("two tag keys that are one Azure tag: case", `tags: {"Team": a, "team": b}`, "tag keys must stay distinct in Azure"),
		Entry("more tags than Azure leaves room for", tags(46), "must have at most 45 items"),
		Entry("spot price cap of zero", "spot: {maxPrice: '0'}", "spot.maxPrice must be -1 (up to the on-demand price) or greater than 0"),
		Entry("spot price cap that is not a number", "spot: {maxPrice: cheap}", "spec.spot.maxPrice"),
		Entry("spot price cap below -1", "spot: {maxPrice: '-2'}", "spec.spot.maxPrice"),
		Entry("spot price cap with six decimals", "spot: {maxPrice: '0.123456'}", "spec.spot.maxPrice"),
		Entry("image GC high not above low", "kubelet: {imageGCHighThresholdPercent: 50, imageGCLowThresholdPercent: 50}", "imageGCHighThresholdPercent must be greater than imageGCLowThresholdPercent"),
		Entry("image GC high over 100", "kubelet: {imageGCHighThresholdPercent: 101}", "less than or equal to 100"),
		Entry("image GC low below 0", "kubelet: {imageGCLowThresholdPercent: -1}", "greater than or equal to 0"),
		Entry("unknown CPU manager policy", "kubelet: {cpuManagerPolicy: dynamic}", `Unsupported value: "dynamic"`),
		Entry("unknown topology manager policy", "kubelet: {topologyManagerPolicy: strict}", `Unsupported value: "strict"`),
		Entry("container log size without a binary or decimal suffix", "kubelet: {containerLogMaxSize: 50MB}", "spec.kubelet.containerLogMaxSize"),
		Entry("a single container log file", "kubelet: {containerLogMaxFiles: 1}", "greater than or equal to 2"),
		Entry("pod PID limit of zero", "kubelet: {podPidsLimit: 0}", "podPidsLimit must be -1 (no limit) or greater than 0"),
		Entry("CFS quota period over 1s", "kubelet: {cpuCFSQuotaPeriod: 2s}", "cpuCFSQuotaPeriod must be between 1ms and 1s"),
		Entry("CFS quota period under 1ms", "kubelet: {cpuCFSQuotaPeriod: 500us}", "cpuCFSQuotaPeriod must be between 1ms and 1s"),
		Entry("CFS quota period that is not a duration", "kubelet: {cpuCFSQuotaPeriod: fast}", "spec.kubelet.cpuCFSQuotaPeriod"),
		Entry("safe sysctl listed as unsafe", "kubelet: {allowedUnsafeSysctls: [kernel.pid_max]}", "allowedUnsafeSysctls entries must be in the groups"),
		Entry("wrongly typed field", "maxPods: many", "spec.maxPods"),
	)
})

var _ = Describe("NodePool label rules for Azure", func() {
	DescribeTable("accepts labels and requirements users may set",
		func(labels, requirements string) {
			Expect(env.Client.Create(ctx, nodePool(labels, requirements))).To(Succeed())
		},
		Entry("AKS system mode label (system surge pool)", "{kubernetes.azure.com/mode: system}", ""),
		Entry("AKS eBPF dataplane label", "{kubernetes.azure.com/ebpf-dataplane: cilium}", ""),
		Entry("AKS labels AKS lets users select on", "", "[{key: kubernetes.azure.com/scalesetpriority, operator: In, values: [spot]}, {key: kubernetes.azure.com/os-sku, operator: In, values: [Ubuntu]}]"),
		Entry("every well-known karpenter.azure.com label", "", "["+strings.Join(lo.Map(v1beta1.WellKnownLabels.UnsortedList(), func(k string, _ int) string {
			return fmt.Sprintf("{key: %s, operator: Exists}", k)
		}), ", ")+"]"),
		Entry("numeric SKU requirements", "", "[{key: karpenter.azure.com/sku-cpu, operator: Gt, values: ['3']}, {key: karpenter.azure.com/sku-memory, operator: Lt, values: ['65537']}]"),
		Entry("placement scope", "", "[{key: karpenter.azure.com/placement-scope, operator: In, values: [zonal]}]"),
		Entry("well-known kubernetes.io requirements", "", "[{key: kubernetes.io/arch, operator: In, values: [arm64]}, {key: topology.kubernetes.io/zone, operator: In, values: [eastus-1]}, {key: node.kubernetes.io/instance-type, operator: In, values: [Standard_D4s_v5]}]"),
		Entry("labels in the namespaces kubelet and admins may set", "{node.kubernetes.io/pool: a, node-restriction.kubernetes.io/team: b}", ""),
		Entry("custom labels", "{team: payments, example.com/tier: gold}", ""),
		// As AKS node auto-provisioning: karpenter core puts kubernetes.io
		// labels a kubelet may not set on the Node itself after registration.
		Entry("kubernetes.io label a kubelet may not set", "{kubernetes.io/role: worker}", ""),
		Entry("node-role label", "{node-role.kubernetes.io/worker: ''}", ""),
		Entry("the NodeClass label core sets on NodeClaims", "", "[{key: karpenter.azure.com/aksnodeclass, operator: In, values: [default]}]"),
		Entry("AKS labels NAP lets users set", "{kubernetes.azure.com/ebpf-dataplane: cilium, kubernetes.azure.com/ebpf-host-routing: 'true', kubernetes.azure.com/network-policy: cilium, kubernetes.azure.com/hostedvm: 'true'}", ""),
		Entry("the Ultra Disk label", "", "[{key: karpenter.azure.com/sku-storage-ultra-ssd, operator: In, values: ['true']}]"),
	)

	DescribeTable("rejects reserved and restricted labels",
		func(labels, requirements, message string) {
			err := env.Client.Create(ctx, nodePool(labels, requirements))
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("AKS agentpool label in the template", "{kubernetes.azure.com/agentpool: mypool}", "", `label domain "kubernetes.azure.com" is reserved by AKS`),
		Entry("AKS instance-sku requirement", "", "[{key: kubernetes.azure.com/instance-sku, operator: In, values: [x]}]", `label domain "kubernetes.azure.com" is reserved by AKS`),
		Entry("unknown karpenter.azure.com label", "{karpenter.azure.com/pool: a}", "", `label domain "karpenter.azure.com" is restricted`),
		Entry("unknown karpenter.azure.com requirement", "", "[{key: karpenter.azure.com/sku-speed, operator: Exists}]", `label domain "karpenter.azure.com" is restricted`),
		Entry("subdomain of karpenter.azure.com", "{x.karpenter.azure.com/a: b}", "", `label domain "karpenter.azure.com" is restricted`),
		Entry("karpenter core's own restriction still applies", "{karpenter.sh/foo: a}", "", `label domain "karpenter.sh" is restricted`),
		Entry("the internal HyperV generation label", "", "[{key: karpenter.azure.com/sku-hyperv-generation, operator: In, values: ['2']}]", `label domain "karpenter.azure.com" is restricted`),
		Entry("a made-up AKS label", "{kubernetes.azure.com/custom: a}", "", `label domain "kubernetes.azure.com" is reserved by AKS`),
		Entry("AKS's cluster-health-monitor label", "", "[{key: kubernetes.azure.com/cluster-health-monitor-checker-synthetic, operator: Exists}]", `label domain "kubernetes.azure.com" is reserved by AKS`),
		Entry("legacy agentpool label", "{agentpool: a}", "", "are restricted: AKS sets them on its own nodes"),
		Entry("legacy storageprofile requirement", "", "[{key: storageprofile, operator: In, values: [managed]}]", "are restricted: AKS sets them on its own nodes"),
		Entry("legacy storagetier label", "{storagetier: Premium_LRS}", "", "are restricted: AKS sets them on its own nodes"),
		Entry("legacy accelerator requirement", "", "[{key: accelerator, operator: Exists}]", "are restricted: AKS sets them on its own nodes"),
	)

	It("lets NodeClaims carry the well-known Azure requirements", func() {
		nc := &karpv1.NodeClaim{}
		nc.Name = "nc-" + rand.String(8)
		nc.Spec.NodeClassRef = &karpv1.NodeClassReference{Group: "karpenter.azure.com", Kind: "AKSNodeClass", Name: "default"}
		nc.Spec.Requirements = []karpv1.NodeSelectorRequirementWithMinValues{
			{Key: v1beta1.LabelSKUName, Operator: "In", Values: []string{"Standard_D4s_v5"}},
		}
		Expect(env.Client.Create(ctx, nc)).To(Succeed())
		// karpenter core adds the NodeClass label to every NodeClaim it makes.
		nc.Name = "nc-" + rand.String(8)
		nc.ResourceVersion = ""
		nc.Spec.Requirements = []karpv1.NodeSelectorRequirementWithMinValues{{Key: "karpenter.azure.com/aksnodeclass", Operator: "In", Values: []string{"default"}}}
		Expect(env.Client.Create(ctx, nc)).To(Succeed())
		nc.Name = "nc-" + rand.String(8)
		nc.ResourceVersion = ""
		nc.Spec.Requirements = []karpv1.NodeSelectorRequirementWithMinValues{{Key: "karpenter.azure.com/made-up", Operator: "Exists"}}
		Expect(env.Client.Create(ctx, nc)).To(MatchError(ContainSubstring(`label domain "karpenter.azure.com" is restricted`)))
	})
})

var _ = Describe("examples", func() {
	It("applies every file in examples/ unchanged", func() {
		root, err := testutil.RepoRoot()
		Expect(err).NotTo(HaveOccurred())
		files, err := filepath.Glob(filepath.Join(root, "examples", "*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(files).NotTo(BeEmpty())
		kinds := map[string]int{}
		for _, f := range files {
			data, err := os.ReadFile(f)
			Expect(err).NotTo(HaveOccurred())
			dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(string(data)), 4096)
			for {
				u := &unstructured.Unstructured{}
				if err := dec.Decode(&u.Object); err != nil {
					break
				}
				if len(u.Object) == 0 {
					continue
				}
				Expect(env.Client.Create(ctx, u)).To(Succeed(), "%s: %s/%s", filepath.Base(f), u.GetKind(), u.GetName())
				kinds[u.GetKind()]++
			}
		}
		Expect(kinds).To(HaveKey("NodePool"))
		Expect(kinds).To(HaveKey("AKSNodeClass"))
	})
})
