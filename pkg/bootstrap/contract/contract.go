// Package contract is the AKS Linux node image's bootstrap contract as a
// table: every AKSNodeConfig value the image's provisioning reads, for
// which node images, network setups and features, what reads it (the
// Azure/AgentBaker script or template, cited per row) and what becomes of a
// node without it.
//
// One table serves both sides. The provider checks every node it launches
// against it (pkg/providers/launchtemplate) and a matrix test renders every
// combination the product accepts against it; the simulator's node agent
// (pkg/azuresim/nodeagent) refuses to join a node whose custom data misses
// a value its image needs, as the image would. docs/bootstrap.md shows the
// table (TestTableInDocs keeps the two in step).
package contract

import (
	"fmt"
	"sort"
	"strings"

	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/aksnodeconfig"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/nodeimage"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
)

// Feature is a node setting that changes what the image reads.
type Feature string

// The features of the contract matrix.
const (
	FeatureGPU               Feature = "GPU"
	FeatureKata              Feature = "Kata"
	FeatureLocalDNS          Feature = "LocalDNS"
	FeatureArtifactStreaming Feature = "ArtifactStreaming"
	FeatureCFSQuotaPeriod    Feature = "CFSQuotaPeriod"
	FeatureHTTPProxy         Feature = "HTTPProxy"
	FeatureCustomCA          Feature = "CustomCA"
	FeatureTrustedLaunch     Feature = "TrustedLaunch"
)

// Features lists every feature, in the order tables show them.
var Features = []Feature{FeatureGPU, FeatureKata, FeatureLocalDNS, FeatureArtifactStreaming, FeatureCFSQuotaPeriod, FeatureHTTPProxy, FeatureCustomCA, FeatureTrustedLaunch}

// Node is what decides which values the image needs: the image it boots,
// the cluster's network setup and the features it runs with.
type Node struct {
	Image nodeimage.Image
	// ImageVersion is the image version, for what it caches ("" when
	// unknown: then any pause image the floor's images cache passes).
	ImageVersion string
	Setup        cluster.NetworkSetup
	Features     map[Feature]bool
	// KubeDNS is the cluster's kube-dns Service IP, when known.
	KubeDNS string
}

// Has reports whether the node runs with f.
func (n Node) Has(f Feature) bool { return n.Features[f] }

// String names the combination, e.g. "Ubuntu2204 (FIPS)/Kubenet/+LocalDNS".
func (n Node) String() string {
	var fs []string
	for _, f := range Features {
		if n.Has(f) {
			fs = append(fs, "+"+string(f))
		}
	}
	return strings.Join(append([]string{n.Image.String(), string(n.Setup)}, fs...), "/")
}

// Effect is what becomes of a node whose custom data lacks a value.
type Effect string

// Effects, from worst.
const (
	// NoNode: provisioning fails or the kubelet refuses to start; no Node
	// registers.
	NoNode Effect = "no Node"
	// NotReady: the kubelet registers, but the node never becomes Ready
	// (no pod sandbox, no CNI) and cloud-node-manager never initializes it.
	NotReady Effect = "Node never Ready"
	// Degraded: the node joins, but a feature or AKS parity is lost.
	Degraded Effect = "joins, degraded"
)

// Field is one row of the contract.
type Field struct {
	// Path is the AKSNodeConfig field (proto names), or what else the row
	// is about (the image definition, a kubelet flag).
	Path string
	// ReadBy cites what reads it: the Azure/AgentBaker file (and function
	// or template key), or another reader.
	ReadBy string
	// Need says what the image does with it.
	Need string
	// Applies selects the combinations the row is for (nil: every one).
	Applies func(Node) bool
	// Check reports what is wrong with the value ("" when it is right).
	Check  func(*aksnodeconfig.Configuration, Node) string
	Effect Effect
}

// Violation is a row a configuration breaks.
type Violation struct {
	Field   *Field
	Problem string
}

func (v Violation) Error() string {
	return fmt.Sprintf("%s %s (read by %s; %s)", v.Field.Path, v.Problem, v.Field.ReadBy, v.Field.Effect)
}

// Check returns the rows cfg breaks for node n.
func Check(cfg *aksnodeconfig.Configuration, n Node) []Violation {
	var out []Violation
	for i := range Linux {
		f := &Linux[i]
		if f.Applies != nil && !f.Applies(n) {
			continue
		}
		if p := f.Check(cfg, n); p != "" {
			out = append(out, Violation{Field: f, Problem: p})
		}
	}
	return out
}

// Worst is the worst effect among violations ("" when none).
func Worst(vs []Violation) Effect {
	worst := Effect("")
	for _, v := range vs {
		switch {
		case v.Field.Effect == NoNode:
			return NoNode
		case v.Field.Effect == NotReady:
			worst = NotReady
		case worst == "":
			worst = Degraded
		}
	}
	return worst
}

// Errors joins violations into one message.
func Errors(vs []Violation) string {
	msgs := make([]string, 0, len(vs))
	for _, v := range vs {
		msgs = append(msgs, v.Error())
	}
	return strings.Join(msgs, "; ")
}

// NodeOf is the combination a node's own view gives: its image (from the
// VM's image reference) and, from its AKSNodeConfig, its network setup and
// features. Labels and plugin say the setup as AKS's network agents read
// them: the overlay and Cilium labels select their DaemonSets.
func NodeOf(imageID string, cfg *aksnodeconfig.Configuration) (Node, bool) {
	def, version := nodeimage.ParseID(imageID)
	img, ok := nodeimage.Classify(def)
	if !ok || img.Windows() {
		return Node{}, false
	}
	n := Node{Image: img, ImageVersion: version, Features: map[Feature]bool{}}
	labels := map[string]string{}
	flags := map[string]string{}
	if k := cfg.KubeletConfig; k != nil {
		labels, flags = k.KubeletNodeLabels, k.KubeletFlags
	}
	plugin := ""
	if cfg.NetworkConfig != nil {
		plugin = cfg.NetworkConfig.NetworkPlugin
	}
	cilium := labels[labelEBPFDataplane] == "cilium"
	overlay := labels[labelAzureCNIOverlay] == "true"
	switch {
	case plugin == aksnodeconfig.NetworkPluginKubenet:
		n.Setup = cluster.NetworkSetupKubenet
	case plugin == aksnodeconfig.NetworkPluginAzure && cilium:
		n.Setup = cluster.NetworkSetupAzureCNICiliumNodeSubnet
	case plugin == aksnodeconfig.NetworkPluginAzure:
		n.Setup = cluster.NetworkSetupAzureCNINodeSubnet
	case cilium:
		n.Setup = cluster.NetworkSetupAzureCNICilium
	case overlay:
		n.Setup = cluster.NetworkSetupAzureCNIOverlay
	default:
		n.Setup = cluster.NetworkSetupBYOCNI
	}
	n.Features[FeatureGPU] = cfg.GPUConfig != nil && cfg.GPUConfig.ConfigGPUDriver
	n.Features[FeatureKata] = img.Kata || cfg.IsKata
	n.Features[FeatureLocalDNS] = cfg.LocalDNSProfile != nil && cfg.LocalDNSProfile.EnableLocalDNS
	n.Features[FeatureArtifactStreaming] = cfg.EnableArtifactStreaming
	n.Features[FeatureCFSQuotaPeriod] = flags[flagCPUCFSQuotaPeriod] != ""
	n.Features[FeatureHTTPProxy] = cfg.HTTPProxyConfig != nil
	n.Features[FeatureCustomCA] = len(cfg.CustomCACerts) > 0
	n.Features[FeatureTrustedLaunch] = img.TrustedLaunch
	if cc := cfg.ClusterConfig; cc != nil && cc.ClusterNetworkConfig != nil {
		n.KubeDNS = cc.ClusterNetworkConfig.CoreDNSServiceIP
	}
	return n, true
}

// Rows lists the table for documentation: each row's path, when it
// applies, its reader and effect.
func Rows() [][]string {
	rows := make([][]string, 0, len(Linux))
	for _, f := range Linux {
		rows = append(rows, []string{f.Path, f.When(), f.ReadBy, string(f.Effect)})
	}
	return rows
}

// When describes in words which combinations the row is for.
func (f Field) When() string {
	if f.Applies == nil {
		return "every node"
	}
	plain := func(setup cluster.NetworkSetup) Node {
		return Node{Image: nodeimage.Image{Family: nodeimage.Ubuntu2204}, Setup: setup, Features: map[Feature]bool{}}
	}
	var setups []string
	for _, s := range cluster.NetworkSetups {
		if f.Applies(plain(s)) {
			setups = append(setups, string(s))
		}
	}
	if len(setups) == len(cluster.NetworkSetups) {
		setups = []string{"every network setup"}
	}
	var features []string
	base := plain(cluster.NetworkSetupAzureCNIOverlay)
	for _, ft := range Features {
		n := plain(cluster.NetworkSetupAzureCNIOverlay)
		n.Features[ft] = true
		switch ft {
		case FeatureKata:
			n.Image = nodeimage.Image{Family: nodeimage.AzureLinux3, Kata: true}
		case FeatureTrustedLaunch:
			n.Image.TrustedLaunch = true
		}
		if f.Applies(n) && !f.Applies(base) {
			features = append(features, "with "+string(ft))
		}
	}
	parts := append(setups, features...)
	if len(parts) == 0 {
		return "never"
	}
	return strings.Join(parts, ", ")
}

// SortedKeys returns a map's keys in order.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
