package v1beta1_test

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
)

// AKS node auto-provisioning's own CRD validation cases, case for case
// (karpenter-provider-azure's pkg/apis/v1beta1/crd_validation_cel_test.go),
// against our CRD on a real API server, in both served versions. A manifest
// NAP accepts must apply here unchanged, and one NAP rejects must be
// rejected: the verdicts match; our messages may say more. NodePool
// requirement and label cases are in validation_test.go.

// anyError stands for "rejected", whatever the message.
const anyError = "*"

func expectVerdict(spec, wantErr string) {
	for _, version := range []string{"v1beta1", "v1alpha2"} {
		err := env.Client.Create(ctx, nodeClass(version, spec))
		switch wantErr {
		case "":
			Expect(err).NotTo(HaveOccurred(), "%s should accept:\n%s", version, spec)
		case anyError:
			Expect(err).To(HaveOccurred(), "%s should reject:\n%s", version, spec)
		default:
			Expect(err).To(MatchError(ContainSubstring(wantErr)), "%s should reject:\n%s", version, spec)
		}
	}
}

// zone is one LocalDNS zone override as NAP's tests build it: forwarded to
// VnetDNS (vnet) or ClusterCoreDNS, with the other fields valid. edits
// replace fields ("protocol: ForceTCP").
func zone(name string, vnet bool, edits ...string) string {
	fields := map[string]string{
		"zone": fmt.Sprintf("%q", name), "queryLogging": "Error", "protocol": "PreferUDP",
		"forwardDestination": "ClusterCoreDNS", "forwardPolicy": "Sequential", "maxConcurrent": "100",
		"cacheDuration": "1h", "serveStaleDuration": "30m", "serveStale": "Verify",
	}
	if vnet {
		fields["forwardDestination"] = "VnetDNS"
	}
	for _, e := range edits {
		k, v, _ := strings.Cut(e, ": ")
		if v == "<omit>" {
			delete(fields, k)
			continue
		}
		fields[k] = v
	}
	parts := make([]string, 0, len(fields))
	for _, k := range []string{"zone", "queryLogging", "protocol", "forwardDestination", "forwardPolicy", "maxConcurrent", "cacheDuration", "serveStaleDuration", "serveStale"} {
		if v, ok := fields[k]; ok {
			parts = append(parts, k+": "+v)
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// localDNS is a LocalDNS spec with the required zones, plus extra vnet
// overrides; mode "" omits the mode.
func localDNS(mode string, vnet, kube []string) string {
	if vnet == nil {
		vnet = []string{zone(".", true), zone("cluster.local", false)}
	}
	if kube == nil {
		kube = []string{zone(".", false), zone("cluster.local", false)}
	}
	m := ""
	if mode != "" {
		m = "mode: " + mode + ", "
	}
	return fmt.Sprintf("localDNS: {%svnetDNSOverrides: [%s], kubeDNSOverrides: [%s]}", m, strings.Join(vnet, ", "), strings.Join(kube, ", "))
}

// withVnetZone is the base LocalDNS plus one vnet override.
func withVnetZone(z string) string {
	return localDNS("Required", []string{zone(".", true), zone("cluster.local", false), z}, nil)
}

const subnetPrefix = "/subscriptions/12345678-1234-1234-1234-123456789012/resourceGroups/"

var _ = Describe("AKSNodeClass validation, as AKS node auto-provisioning validates it", func() {
	DescribeTable("vnetSubnetID", func(id, wantErr string) { expectVerdict("vnetSubnetID: "+id, wantErr) },
		Entry("a subnet ID", subnetPrefix+"rgname/providers/Microsoft.Network/virtualNetworks/vnet/subnets/subnet", ""),
		Entry("mixed case", subnetPrefix+"rgName/providers/Microsoft.Network/virtualNetworks/vnetName/subnets/subnetName", ""),
		Entry("another subnet", subnetPrefix+"rgname/providers/Microsoft.Network/virtualNetworks/vnet/subnets/anotherSubnet", ""),
		Entry("upper-case subnet", subnetPrefix+"rgname/providers/Microsoft.Network/virtualNetworks/vnet/subnets/SUBNET", ""),
		Entry("capitalised names", subnetPrefix+"MyResourceGroup/providers/Microsoft.Network/virtualNetworks/MyVirtualNetwork/subnets/MySubnet", ""),
		Entry("long names", subnetPrefix+strings.Repeat("a", 63)+"/providers/Microsoft.Network/virtualNetworks/"+strings.Repeat("b", 63)+"/subnets/"+strings.Repeat("c", 63), ""),
		Entry("resource group with - and _", subnetPrefix+"my-resource_group/providers/Microsoft.Network/virtualNetworks/vnet/subnets/subnet", ""),
		Entry("resource group starting with a dot", subnetPrefix+".starting.with.dot/providers/Microsoft.Network/virtualNetworks/vnet/subnets/subnet", ""),
		Entry("resource group ending with a hyphen", subnetPrefix+"ends-with-hyphen-/providers/Microsoft.Network/virtualNetworks/vnet/subnets/subnet", ""),
		Entry("resource group with parentheses", subnetPrefix+"contains.(parentheses)/providers/Microsoft.Network/virtualNetworks/vnet/subnets/subnet", ""),
		Entry("resource group with several kinds of character", subnetPrefix+"valid.name-with-multiple.characters/providers/Microsoft.Network/virtualNetworks/vnet/subnets/subnet", ""),
		Entry("no resourceGroups segment", "/subscriptions/12345678-1234-1234-1234-123456789012/rgname/providers/Microsoft.Network/virtualNetworks/vnet/subnets/subnet", anyError),
		Entry("another provider", subnetPrefix+"rgname/providers/Microsoft.Storage/virtualNetworks/vnet/subnets/subnet", anyError),
		Entry("no virtual network", subnetPrefix+"rgname/providers/Microsoft.Network/subnets/subnet", anyError),
		Entry("resource group ending with a dot", subnetPrefix+"ends.with.dot./providers/Microsoft.Network/virtualNetworks/vnet/subnets/subnet", anyError),
		Entry("resource group with #", subnetPrefix+"invalid#character/providers/Microsoft.Network/virtualNetworks/vnet/subnets/subnet", anyError),
		Entry("resource group with @*&", subnetPrefix+"name@with*unsupported&chars/providers/Microsoft.Network/virtualNetworks/vnet/subnets/subnet", anyError),
	)

	DescribeTable("enums and simple fields", expectVerdict,
		Entry("imageFamily 123", `imageFamily: "123"`, "Unsupported value"),
		Entry("fipsMode 123", `fipsMode: "123"`, "Unsupported value"),
		Entry("artifactStreaming omitted", "{}", ""),
		Entry("artifactStreaming enabled", "artifactStreaming: {enabled: true}", ""),
		Entry("artifactStreaming disabled", "artifactStreaming: {enabled: false}", ""),
		Entry("gpu mode Driver", "gpu: {mode: Driver}", ""),
		Entry("gpu mode None", "gpu: {mode: None}", ""),
		Entry("gpu mode Invalid", "gpu: {mode: Invalid}", "Unsupported value"),
		Entry("gpu omitted", "{}", ""),
		Entry("gpu empty", "gpu: {}", ""),
		Entry("osDiskSizeGB 30", "osDiskSizeGB: 30", ""),
		Entry("osDiskSizeGB 128", "osDiskSizeGB: 128", ""),
		Entry("osDiskSizeGB 1024", "osDiskSizeGB: 1024", ""),
		Entry("osDiskSizeGB 2048", "osDiskSizeGB: 2048", ""),
		Entry("osDiskSizeGB omitted", "{}", ""),
		Entry("osDiskSizeGB 29", "osDiskSizeGB: 29", "should be greater than or equal to 30"),
		Entry("osDiskSizeGB 2049", "osDiskSizeGB: 2049", "should be less than or equal to 2048"),
		Entry("osDiskSizeGB 4096", "osDiskSizeGB: 4096", "should be less than or equal to 2048"),
	)

	DescribeTable("localDNS", expectVerdict,
		Entry("omitted", "{}", ""),
		Entry("the required zones", localDNS("Required", nil, nil), ""),
		Entry("mode Preferred", localDNS("Preferred", nil, nil), ""),
		Entry("mode Required", localDNS("Required", nil, nil), ""),
		Entry("mode Disabled", localDNS("Disabled", nil, nil), ""),
		Entry("mode invalid-string", localDNS("invalid-string", nil, nil), "spec.localDNS.mode"),
		Entry("mode empty", localDNS(`""`, nil, nil), "spec.localDNS.mode"),
		Entry("no mode", localDNS("", nil, nil), "spec.localDNS.mode"),

		Entry("queryLogging Error", withVnetZone(zone("test.domain", true, "queryLogging: Error")), ""),
		Entry("queryLogging Log", withVnetZone(zone("test.domain", true, "queryLogging: Log")), ""),
		Entry("queryLogging invalid-string", withVnetZone(zone("test.domain", true, "queryLogging: invalid-string")), "queryLogging"),
		Entry("queryLogging empty", withVnetZone(zone("test.domain", true, `queryLogging: ""`)), "queryLogging"),

		Entry("protocol PreferUDP", withVnetZone(zone("test.domain", true, "protocol: PreferUDP")), ""),
		Entry("protocol ForceTCP", withVnetZone(zone("test.domain", true, "protocol: ForceTCP", "serveStale: Immediate")), ""),
		Entry("protocol invalid-string", withVnetZone(zone("test.domain", true, "protocol: invalid-string")), "protocol"),
		Entry("protocol empty", withVnetZone(zone("test.domain", true, `protocol: ""`)), "protocol"),

		Entry("external domain to ClusterCoreDNS", withVnetZone(zone("test.domain", false)), "external domains cannot be forwarded to ClusterCoreDNS"),
		Entry("forwardDestination VnetDNS", withVnetZone(zone("test.domain", true)), ""),
		Entry("forwardDestination invalid-string", withVnetZone(zone("test.domain", true, "forwardDestination: invalid-string")), "forwardDestination"),
		Entry("forwardDestination empty", withVnetZone(zone("test.domain", true, `forwardDestination: ""`)), "forwardDestination"),

		Entry("forwardPolicy Sequential", withVnetZone(zone("test.domain", true, "forwardPolicy: Sequential")), ""),
		Entry("forwardPolicy RoundRobin", withVnetZone(zone("test.domain", true, "forwardPolicy: RoundRobin")), ""),
		Entry("forwardPolicy Random", withVnetZone(zone("test.domain", true, "forwardPolicy: Random")), ""),
		Entry("forwardPolicy invalid-string", withVnetZone(zone("test.domain", true, "forwardPolicy: invalid-string")), "forwardPolicy"),
		Entry("forwardPolicy empty", withVnetZone(zone("test.domain", true, `forwardPolicy: ""`)), "forwardPolicy"),

		Entry("serveStale Verify", withVnetZone(zone("test.domain", true, "serveStale: Verify")), ""),
		Entry("serveStale Immediate", withVnetZone(zone("test.domain", true, "serveStale: Immediate")), ""),
		Entry("serveStale Disable", withVnetZone(zone("test.domain", true, "serveStale: Disable")), ""),
		Entry("serveStale invalid-string", withVnetZone(zone("test.domain", true, "serveStale: invalid-string")), "serveStale"),
		Entry("serveStale empty", withVnetZone(zone("test.domain", true, `serveStale: ""`)), "serveStale"),

		Entry("cacheDuration 1h", withVnetZone(zone("test.domain", true, "cacheDuration: 1h")), ""),
		Entry("cacheDuration 30m", withVnetZone(zone("test.domain", true, "cacheDuration: 30m")), ""),
		Entry("cacheDuration 60s", withVnetZone(zone("test.domain", true, "cacheDuration: 60s")), ""),
		Entry("cacheDuration 1h30m", withVnetZone(zone("test.domain", true, "cacheDuration: 1h30m")), ""),
		Entry("cacheDuration 2h15m30s", withVnetZone(zone("test.domain", true, "cacheDuration: 2h15m30s")), ""),
		Entry("serveStaleDuration 1h", withVnetZone(zone("test.domain", true, "serveStaleDuration: 1h")), ""),
		Entry("serveStaleDuration 30m", withVnetZone(zone("test.domain", true, "serveStaleDuration: 30m")), ""),
		Entry("serveStaleDuration 60s", withVnetZone(zone("test.domain", true, "serveStaleDuration: 60s")), ""),
		Entry("serveStaleDuration 1h30m", withVnetZone(zone("test.domain", true, "serveStaleDuration: 1h30m")), ""),
		Entry("serveStaleDuration 2h15m30s", withVnetZone(zone("test.domain", true, "serveStaleDuration: 2h15m30s")), ""),

		Entry("maxConcurrent 0", withVnetZone(zone("test.domain", true, "maxConcurrent: 0")), ""),
		Entry("maxConcurrent 1", withVnetZone(zone("test.domain", true, "maxConcurrent: 1")), ""),
		Entry("maxConcurrent 100", withVnetZone(zone("test.domain", true, "maxConcurrent: 100")), ""),
		Entry("maxConcurrent 1000", withVnetZone(zone("test.domain", true, "maxConcurrent: 1000")), ""),
		Entry("maxConcurrent -1", withVnetZone(zone("test.domain", true, "maxConcurrent: -1")), "maxConcurrent"),
		Entry("maxConcurrent -100", withVnetZone(zone("test.domain", true, "maxConcurrent: -100")), "maxConcurrent"),

		Entry("duplicate vnet zone", localDNS("Required", []string{zone(".", true), zone("cluster.local", false), zone("example.com", true), zone("example.com", true)}, nil), `{"zone":"example.com"}`),
		Entry("duplicate kube zone", localDNS("Required", nil, []string{zone(".", false), zone("cluster.local", false), zone("test.com", false), zone("test.com", false)}), `{"zone":"test.com"}`),

		Entry("vnet without '.'", localDNS("Required", []string{zone("cluster.local", false)}, nil), "must contain required zones '.' and 'cluster.local'"),
		Entry("vnet without 'cluster.local'", localDNS("Required", []string{zone(".", true)}, nil), "must contain required zones '.' and 'cluster.local'"),
		Entry("kube without '.'", localDNS("Required", nil, []string{zone("cluster.local", false)}), "must contain required zones '.' and 'cluster.local'"),
		Entry("kube without 'cluster.local'", localDNS("Required", nil, []string{zone(".", false)}), "must contain required zones '.' and 'cluster.local'"),

		Entry("vnet '.' to ClusterCoreDNS", localDNS("Required", []string{zone(".", false), zone("cluster.local", false)}, nil), "root zone '.' cannot be forwarded to ClusterCoreDNS from vnetDNSOverrides"),
		Entry("vnet 'cluster.local' to VnetDNS", localDNS("Required", []string{zone(".", true), zone("cluster.local", true)}, nil), "'cluster.local' cannot be forwarded to VnetDNS"),
		Entry("vnet 'svc.cluster.local' to VnetDNS", withVnetZone(zone("svc.cluster.local", true)), "'cluster.local' cannot be forwarded to VnetDNS"),

		Entry("ForceTCP with serveStale Verify", withVnetZone(zone("example.com", true, "protocol: ForceTCP", "serveStale: Verify")), "serveStale Verify cannot be used with protocol ForceTCP"),
		Entry("ForceTCP with serveStale Immediate", withVnetZone(zone("example.com", true, "protocol: ForceTCP", "serveStale: Immediate")), ""),
		Entry("ForceTCP with serveStale Disable", withVnetZone(zone("example.com", true, "protocol: ForceTCP", "serveStale: Disable")), ""),
		Entry("PreferUDP with serveStale Verify", withVnetZone(zone("example.com", true, "protocol: PreferUDP", "serveStale: Verify")), ""),
	)

	// FIPS, image family and trusted launch (vtpm), as NAP's matrix: only
	// Ubuntu2204+FIPS without TL, Ubuntu2404+FIPS and AzureLinux+FIPS+TL fail.
	entries := []any{expectVerdict}
	for _, family := range []string{"Ubuntu", "Ubuntu2204", "Ubuntu2404", "AzureLinux", ""} {
		for _, fips := range []string{"Disabled", "", "FIPS"} {
			for _, tl := range []bool{false, true} {
				if fips == "Disabled" && tl {
					continue // not in NAP's matrix
				}
				spec := []string{}
				if family != "" {
					spec = append(spec, "imageFamily: "+family)
				}
				if fips != "" {
					spec = append(spec, "fipsMode: "+fips)
				}
				if tl {
					spec = append(spec, "security: {trustedLaunch: {vtpm: true}}")
				}
				want := ""
				switch {
				case fips == "FIPS" && family == "Ubuntu2404":
					want = "fipsMode FIPS is not available for imageFamily Ubuntu2404"
				case fips == "FIPS" && family == "Ubuntu2204" && !tl:
					want = "needs trusted launch"
				case fips == "FIPS" && family == "AzureLinux" && tl:
					want = "trusted launch with fipsMode FIPS is only available for imageFamily Ubuntu and Ubuntu2204"
				}
				name := fmt.Sprintf("imageFamily %q fipsMode %q trustedLaunch %t", family, fips, tl)
				if len(spec) == 0 {
					spec = []string{"{}"}
				}
				entries = append(entries, Entry(name, strings.Join(spec, "\n"), want))
			}
		}
	}
	DescribeTable("fipsMode with imageFamily and trusted launch", entries...)

	DescribeTable("tags", expectVerdict,
		Entry("valid keys and values", "tags: {valid-key: valid-value, anotherKey: anotherValue}", ""),
		// NAP accepts '/' and writes it as '_' (launchtemplate.Tags).
		Entry("key with /", `tags: {"app.kubernetes.io/name": v}`, ""),
		Entry("key with <", `tags: {"invalid<key": v}`, "must not contain"),
		Entry("key with >", `tags: {"invalid>key": v}`, "must not contain"),
		Entry("key with %", `tags: {"invalid%key": v}`, "must not contain"),
		Entry("key with &", `tags: {"invalid&key": v}`, "must not contain"),
		Entry(`key with \`, `tags: {"invalid\\key": v}`, "must not contain"),
		Entry("key with ?", `tags: {"invalid?key": v}`, "must not contain"),
		Entry("key of 513 characters", fmt.Sprintf("tags: {%s: v}", strings.Repeat("a", 513)), "at most 512"),
		Entry("value of 257 characters", fmt.Sprintf("tags: {k: %s}", strings.Repeat("b", 257)), "at most 256"),
		Entry("key of 512 and value of 256 characters", fmt.Sprintf("tags: {%s: %s}", strings.Repeat("a", 512), strings.Repeat("b", 256)), ""),
	)

	DescribeTable("sysctls", func(sysctls, wantErr string) {
		expectVerdict("linuxOSConfig: {sysctls: {"+sysctls+"}}", wantErr)
	},
		Entry("rmem default above max", "netCoreRmemDefault: 1048576, netCoreRmemMax: 212992", "netCoreRmemDefault must be <= netCoreRmemMax"),
		Entry("rmem default within max", "netCoreRmemDefault: 212992, netCoreRmemMax: 1048576", ""),
		Entry("wmem default above max", "netCoreWmemDefault: 1048576, netCoreWmemMax: 212992", "netCoreWmemDefault must be <= netCoreWmemMax"),
		Entry("wmem default within max", "netCoreWmemDefault: 212992, netCoreWmemMax: 1048576", ""),
		Entry("rmem default alone", "netCoreRmemDefault: 1048576", ""),
		Entry("port range 32768 60999", `netIPv4IPLocalPortRange: "32768 60999"`, ""),
		Entry("port range 1024 32768", `netIPv4IPLocalPortRange: "1024 32768"`, ""),
		Entry("port range starting at 500", `netIPv4IPLocalPortRange: "500 65535"`, "first port must be in [1024, 60999]"),
		Entry("port range ending at 70000", `netIPv4IPLocalPortRange: "1024 70000"`, "last port must be in [32768, 65535]"),
		Entry("port range starting at 61000", `netIPv4IPLocalPortRange: "61000 65535"`, "first port must be in [1024, 60999]"),
		Entry("port range ending at 30000", `netIPv4IPLocalPortRange: "1024 30000"`, "last port must be in [32768, 65535]"),
		Entry("port range reversed", `netIPv4IPLocalPortRange: "60000 32768"`, "first port must be <= last port"),
		Entry("no port range", "netCoreSomaxconn: 8192", ""),
		Entry("gc thresh1 above thresh2", "netIPv4NeighDefaultGcThresh1: 80000, netIPv4NeighDefaultGcThresh2: 512", "netIPv4NeighDefaultGcThresh1 must be <= netIPv4NeighDefaultGcThresh2"),
		Entry("gc thresh2 above thresh3", "netIPv4NeighDefaultGcThresh2: 90000, netIPv4NeighDefaultGcThresh3: 1024", "netIPv4NeighDefaultGcThresh2 must be <= netIPv4NeighDefaultGcThresh3"),
		Entry("gc thresholds in order", "netIPv4NeighDefaultGcThresh1: 128, netIPv4NeighDefaultGcThresh2: 512, netIPv4NeighDefaultGcThresh3: 1024", ""),
		Entry("gc thresh1 alone", "netIPv4NeighDefaultGcThresh1: 80000", ""),
		Entry("gc thresholds equal", "netIPv4NeighDefaultGcThresh1: 1024, netIPv4NeighDefaultGcThresh2: 1024, netIPv4NeighDefaultGcThresh3: 1024", ""),
	)

	DescribeTable("swap and failSwapOn", expectVerdict,
		Entry("swap without a kubelet block", "linuxOSConfig: {swapFileSize: 1500Mi}", "kubelet.failSwapOn set to false"),
		Entry("swap with failSwapOn true", "linuxOSConfig: {swapFileSize: 1500Mi}\nkubelet: {failSwapOn: true}", "kubelet.failSwapOn set to false"),
		Entry("swap with failSwapOn false", "linuxOSConfig: {swapFileSize: 1500Mi}\nkubelet: {failSwapOn: false}", ""),
		Entry("linuxOSConfig without swap", "linuxOSConfig: {sysctls: {netCoreSomaxconn: 8192}}", ""),
		Entry("failSwapOn false without swap", "kubelet: {failSwapOn: false}", ""),
	)

	// The bounds and enums of every sysctl and linuxOSConfig field.
	bounds := []any{expectVerdict}
	for _, b := range []struct {
		field    string
		min, max int
	}{
		{"fsAioMaxNr", 65536, 6553500}, {"fsFileMax", 8192, 12000500}, {"fsInotifyMaxUserWatches", 781250, 2097152},
		{"fsNrOpen", 8192, 20000500}, {"kernelThreadsMax", 20, 513785}, {"netCoreNetdevMaxBacklog", 1000, 3240000},
		{"netCoreOptmemMax", 20480, 4194304}, {"netCoreSomaxconn", 4096, 3240000}, {"netIPv4TCPFinTimeout", 5, 120},
		{"netIPv4TCPKeepaliveProbes", 1, 15}, {"netIPv4TCPKeepaliveTime", 30, 432000}, {"netIPv4TCPMaxSynBacklog", 128, 3240000},
		{"netIPv4TCPMaxTwBuckets", 8000, 1440000}, {"netIPv4TCPKeepaliveIntvl", 10, 90}, {"netNetfilterNfConntrackBuckets", 65536, 524288},
		{"netNetfilterNfConntrackMax", 131072, 2097152}, {"vmMaxMapCount", 65530, 262144}, {"vmSwappiness", 0, 100}, {"vmVfsCachePressure", 0, 100},
	} {
		bounds = append(bounds,
			Entry(b.field+" at its minimum", fmt.Sprintf("linuxOSConfig: {sysctls: {%s: %d}}", b.field, b.min), ""),
			Entry(b.field+" at its maximum", fmt.Sprintf("linuxOSConfig: {sysctls: {%s: %d}}", b.field, b.max), ""),
			Entry(b.field+" above its maximum", fmt.Sprintf("linuxOSConfig: {sysctls: {%s: %d}}", b.field, b.max+1), "should be less than or equal to"),
		)
		if b.min > 0 {
			bounds = append(bounds, Entry(b.field+" below its minimum", fmt.Sprintf("linuxOSConfig: {sysctls: {%s: %d}}", b.field, b.min-1), "should be greater than or equal to"))
		}
	}
	bounds = append(bounds,
		Entry("netIPv4TCPTwReuse", "linuxOSConfig: {sysctls: {netIPv4TCPTwReuse: true}}", ""),
		Entry("port range not two numbers", `linuxOSConfig: {sysctls: {netIPv4IPLocalPortRange: "1024-65535"}}`, "should match"),
		Entry("THP enabled madvise", "linuxOSConfig: {transparentHugePageEnabled: madvise}", ""),
		Entry("THP enabled sometimes", "linuxOSConfig: {transparentHugePageEnabled: sometimes}", "Unsupported value"),
		Entry("THP defrag defer+madvise", "linuxOSConfig: {transparentHugePageDefrag: defer+madvise}", ""),
		Entry("THP defrag sometimes", "linuxOSConfig: {transparentHugePageDefrag: sometimes}", "Unsupported value"),
		Entry("swap 2Gi", "linuxOSConfig: {swapFileSize: 2Gi}\nkubelet: {failSwapOn: false}", ""),
		Entry("swap without a unit", "linuxOSConfig: {swapFileSize: \"2048\"}\nkubelet: {failSwapOn: false}", "should match"),
		Entry("trusted launch with both settings", "security: {trustedLaunch: {vtpm: true, secureBoot: true}}", ""),
		Entry("trusted launch secure boot only", "security: {trustedLaunch: {secureBoot: true}}", ""),
		Entry("kubelet failSwapOn true", "kubelet: {failSwapOn: true}", ""),
	)
	DescribeTable("field bounds", bounds...)
})

// NodePool requirement values karpenter checks at run time against the
// values a well-known label can have, as AKS node auto-provisioning does:
// only unknown values fail; a mix fails open; values are case-sensitive.
var _ = Describe("NodePool requirement values, as AKS node auto-provisioning checks them", func() {
	runtimeValidate := func(key string, values ...string) error {
		np := &karpv1.NodePool{Spec: karpv1.NodePoolSpec{Template: karpv1.NodeClaimTemplate{Spec: karpv1.NodeClaimTemplateSpec{
			NodeClassRef: &karpv1.NodeClassReference{Group: "karpenter.azure.com", Kind: "AKSNodeClass", Name: "default"},
			Requirements: []karpv1.NodeSelectorRequirementWithMinValues{{Key: key, Operator: corev1.NodeSelectorOpIn, Values: values}},
		}}}}
		np.Name = "np-" + rand.String(8)
		Expect(env.Client.Create(ctx, np)).To(Succeed(), "the API server takes it; karpenter decides at run time")
		DeferCleanup(func() { Expect(env.Client.Delete(ctx, np)).To(Succeed()) })
		return np.RuntimeValidate(ctx)
	}
	DescribeTable("a label's values", func(key, valid, invalid string) {
		Expect(runtimeValidate(key, invalid)).To(MatchError(ContainSubstring("no valid values found")))
		Expect(runtimeValidate(key, valid)).To(Succeed())
		Expect(runtimeValidate(key, valid, invalid)).To(Succeed(), "a valid value among invalid ones fails open")
		Expect(runtimeValidate(key, strings.ToUpper(valid))).To(MatchError(ContainSubstring("no valid values found")), "values are case-sensitive")
	},
		Entry("capacity type", karpv1.CapacityTypeLabelKey, "on-demand", "xspot"),
		Entry("capacity type reserved (Azure has none)", karpv1.CapacityTypeLabelKey, "spot", "reserved"),
		Entry("sku-networking-accelerated", "karpenter.azure.com/sku-networking-accelerated", "true", "maybe"),
		Entry("sku-storage-premium-capable", "karpenter.azure.com/sku-storage-premium-capable", "true", "maybe"),
		Entry("sku-storage-ultra-ssd", "karpenter.azure.com/sku-storage-ultra-ssd", "true", "maybe"),
		Entry("sku-gpu-manufacturer", "karpenter.azure.com/sku-gpu-manufacturer", "nvidia", "intel"),
		Entry("placement-scope", "karpenter.azure.com/placement-scope", "zonal", "global"),
		Entry("AKS mode", "kubernetes.azure.com/mode", "system", "control-plane"),
		Entry("AKS scalesetpriority", "kubernetes.azure.com/scalesetpriority", "regular", "low"),
		Entry("AKS priority", "kubernetes.azure.com/priority", "regular", "low"),
		Entry("AKS os-sku Ubuntu", "kubernetes.azure.com/os-sku", "Ubuntu", "Ubuntu2204"),
		Entry("AKS os-sku AzureLinux", "kubernetes.azure.com/os-sku", "AzureLinux", "AzureLinux3"),
		Entry("AKS fips_enabled", "kubernetes.azure.com/fips_enabled", "true", "false"),
	)
})
