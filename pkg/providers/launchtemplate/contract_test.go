package launchtemplate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/scheduling"

	"github.com/azkarpenter/azkarpenter/pkg/apis/v1beta1"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/contract"
	"github.com/azkarpenter/azkarpenter/pkg/bootstrap/nodeimage"
	"github.com/azkarpenter/azkarpenter/pkg/providers/cluster"
	"github.com/azkarpenter/azkarpenter/pkg/providers/imagefamily"
	"github.com/azkarpenter/azkarpenter/pkg/providers/launchtemplate"
	"github.com/azkarpenter/azkarpenter/pkg/providers/sku"
	testutil "github.com/azkarpenter/azkarpenter/pkg/test"
)

// matrixFamily is an image family of the contract matrix: a family and
// whether it is its FIPS variant.
type matrixFamily struct {
	family string
	fips   bool
}

func (f matrixFamily) String() string {
	if f.fips {
		return f.family + "+FIPS"
	}
	return f.family
}

var matrixFamilies = []matrixFamily{
	{v1beta1.ImageFamilyUbuntu2204, false}, {v1beta1.ImageFamilyUbuntu2404, false}, {v1beta1.ImageFamilyAzureLinux, false},
	{v1beta1.ImageFamilyUbuntu2204, true}, {v1beta1.ImageFamilyAzureLinux, true},
}

// accepted says whether the product accepts a combination, by the
// AKSNodeClass's validation rules (pkg/apis/v1beta1/aksnodeclass.go
// XValidation): pod sandboxing needs imageFamily AzureLinux; FIPS on
// Ubuntu2204 needs Trusted Launch; Trusted Launch with FIPS is Ubuntu's
// only. Combinations AKS publishes no image for are found by the image
// provider (ImagesNotFound) and reported, not built.
func accepted(f matrixFamily, feature contract.Feature) (bool, string) {
	switch {
	case feature == contract.FeatureKata && f.family != v1beta1.ImageFamilyAzureLinux:
		return false, "workloadRuntime KataVmIsolation requires imageFamily AzureLinux"
	case feature == contract.FeatureTrustedLaunch && f.fips && f.family == v1beta1.ImageFamilyAzureLinux:
		return false, "trusted launch with fipsMode FIPS is only available for imageFamily Ubuntu and Ubuntu2204"
	}
	return true, ""
}

// matrixInput is the launch of one combination.
func matrixInput(f matrixFamily, feature contract.Feature) launchtemplate.Input {
	in := input(karpv1.CapacityTypeOnDemand, "eastus-1", func(nc *v1beta1.AKSNodeClass, _ *karpv1.NodeClaim) {
		nc.Spec.ImageFamily = to.Ptr(f.family)
		if f.fips {
			nc.Spec.FIPSMode = to.Ptr(v1beta1.FIPSModeFIPS)
		}
		trustedLaunch := feature == contract.FeatureTrustedLaunch || (f.fips && f.family == v1beta1.ImageFamilyUbuntu2204)
		if trustedLaunch {
			nc.Spec.Security = &v1beta1.Security{TrustedLaunch: &v1beta1.TrustedLaunch{VTPM: to.Ptr(true), SecureBoot: to.Ptr(true)}}
		}
		switch feature {
		case contract.FeatureKata:
			nc.Spec.WorkloadRuntime = to.Ptr(v1beta1.WorkloadRuntimeKataVMIsolation)
		case contract.FeatureLocalDNS:
			nc.Spec.LocalDNS = &v1beta1.LocalDNS{Mode: v1beta1.LocalDNSModeRequired}
			nc.Status.LocalDNSState = to.Ptr(v1beta1.LocalDNSStateEnabled)
		case contract.FeatureArtifactStreaming:
			nc.Spec.ArtifactStreaming = &v1beta1.ArtifactStreaming{Enabled: to.Ptr(true)}
		case contract.FeatureCFSQuotaPeriod:
			nc.Spec.Kubelet = &v1beta1.KubeletConfiguration{CPUCFSQuotaPeriod: &metav1.Duration{Duration: 50_000_000}}
		}
	})
	if feature == contract.FeatureGPU {
		gpu := *d4ds
		gpu.Name = "Standard_NC4as_T4_v3"
		gpu.Capabilities = map[string]string{}
		for k, v := range d4ds.Capabilities {
			gpu.Capabilities[k] = v
		}
		gpu.Capabilities[sku.CapGPUs] = "1"
		in.SKU = &gpu
		in.InstanceType.Requirements.Add(scheduling.NewRequirement(v1beta1.LabelSKUGPUManufacturer, corev1.NodeSelectorOpIn, v1beta1.ManufacturerNvidia))
	}
	return in
}

// matrixInputs are the cluster inputs of one combination.
func matrixInputs(setup cluster.NetworkSetup, feature contract.Feature) *testutil.StaticClusterInputs {
	inputs := clusterInputs()
	inputs.Set(func(i *cluster.Inputs) {
		setNetworkSetup(i, setup)
		switch feature {
		case contract.FeatureHTTPProxy:
			i.HTTPProxy = &cluster.HTTPProxy{HTTPProxy: "http://proxy.example.com:3128", HTTPSProxy: "http://proxy.example.com:3129",
				NoProxy: []string{"10.0.0.0/8", ".corp.example.com"}, TrustedCA: testutil.TestCA()}
		case contract.FeatureCustomCA:
			i.CustomCACerts = [][]byte{testutil.TestCA(), goldenCA}
		}
	}, nil)
	return inputs
}

// The contract matrix: every image family (Ubuntu 22.04 and 24.04, Azure
// Linux, and their FIPS variants) × network setup × feature the product
// accepts renders an AKSNodeConfig that sets every value the image's
// provisioning reads for that combination (package contract: one row per
// value, citing what reads it), and a kubelet command line the pinned
// kubelet's own flag and configuration validation accepts.
func TestContractMatrix(t *testing.T) {
	ctx := context.Background()
	applied := map[string]int{}
	commandLines := map[string][]string{}
	built, notOffered, refused := 0, []string{}, []string{}
	for _, f := range matrixFamilies {
		for _, setup := range cluster.NetworkSetups {
			for _, feature := range append([]contract.Feature{""}, contract.Features...) {
				name := fmt.Sprintf("%s/%s/%s", f, setup, feature)
				if ok, why := accepted(f, feature); !ok {
					refused = append(refused, name+": "+why)
					continue
				}
				spec, err := providerWith(matrixInputs(setup, feature)).Build(ctx, matrixInput(f, feature))
				if imagefamily.Reason(err) == imagefamily.ReasonNoImage {
					notOffered = append(notOffered, name)
					continue
				}
				// AKS publishes its FIPS images only in the shared image
				// galleries AKS itself reads; a self-hosted controller is
				// refused them with a reason that says so, never a node.
				if f.fips {
					if imagefamily.Reason(err) != imagefamily.ReasonFIPSNotPublished {
						t.Errorf("%s: want %s, got %v", name, imagefamily.ReasonFIPSNotPublished, err)
					}
					notOffered = append(notOffered, name)
					continue
				}
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				built++
				img, ok := nodeimage.Classify(spec.Image.Definition)
				if !ok {
					t.Fatalf("%s: image %s", name, spec.Image.Definition)
				}
				node := launchtemplate.ContractNode(spec.Bootstrap, img, spec.Image.Version, setup, feature == contract.FeatureTrustedLaunch)
				if feature != "" && !node.Has(feature) {
					t.Errorf("%s: the node does not run with %s", name, feature)
				}
				cfg, err := bootstrap.DecodeNodeConfig(spec.Artifact.CustomData)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				for _, v := range contract.Check(cfg, node) {
					t.Errorf("%s: %v", name, v)
				}
				for _, row := range contract.Linux {
					if row.Applies == nil || row.Applies(node) {
						applied[row.Path]++
					}
				}
				args := append(bootstrap.KubeletCommandLine(spec.Bootstrap), "--hostname-override=matrix-node")
				key := strings.Join(args, " ")
				commandLines[key] = append(commandLines[key], name)
			}
		}
	}
	t.Logf("%d combinations built; %d without an AKS image (%s); %d refused by the AKSNodeClass's validation", built, len(notOffered), strings.Join(notOffered, ", "), len(refused))
	// A row no combination exercises could not catch anything.
	for _, row := range contract.Linux {
		if applied[row.Path] == 0 {
			t.Errorf("no combination exercises contract row %q", row.Path)
		}
	}
	// Ubuntu 22.04, Ubuntu 24.04 and Azure Linux across every network setup
	// and feature, less what the validation refuses or AKS does not publish.
	if built < 140 {
		t.Errorf("only %d combinations built", built)
	}
	checkKubeletCommandLines(t, commandLines)
}

// checkKubeletCommandLines runs the kubelet's own validation (bin/kubelet-flagcheck,
// built from the pinned k8s.io/kubernetes) over every distinct command line.
func checkKubeletCommandLines(t *testing.T, commandLines map[string][]string) {
	t.Helper()
	type commandLine struct {
		Name string   `json:"name"`
		Args []string `json:"args"`
	}
	keys := make([]string, 0, len(commandLines))
	for k := range commandLines {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	in := make([]commandLine, 0, len(keys))
	for _, k := range keys {
		in = append(in, commandLine{Name: k, Args: strings.Fields(k)})
	}
	results, err := kubeletFlagCheck(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Error != "" {
			t.Errorf("the kubelet refuses the command line of %s: %s\n  %s", strings.Join(commandLines[r.Name], ", "), r.Error, r.Name)
		}
	}
	t.Logf("%d distinct kubelet command lines pass the kubelet's validation", len(results))
}

type flagCheckResult struct {
	Name  string `json:"name"`
	Error string `json:"error"`
}

// kubeletFlagCheck runs bin/kubelet-flagcheck (make tools builds it beside
// bin/kubelet).
func kubeletFlagCheck(in any) ([]flagCheckResult, error) {
	root, err := testutil.RepoRoot()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(root, "bin", "kubelet-flagcheck")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s is missing: `make tools` (hack/build-tools.sh kubernetes) builds it beside bin/kubelet: %w", bin, err)
	}
	data, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s", bin, err, stderr.String())
	}
	var results []flagCheckResult
	if err := json.Unmarshal(out, &results); err != nil {
		return nil, err
	}
	return results, nil
}

// The checker is the kubelet's validation, so it fails where a kubelet
// refuses to start: a CFS quota period without its feature gate (what nodes
// were once given), a flag the kubelet no longer has, a label a kubelet may
// not set.
func TestKubeletFlagCheckRefusesWhatTheKubeletRefuses(t *testing.T) {
	spec, err := provider().Build(context.Background(), matrixInput(matrixFamily{family: v1beta1.ImageFamilyUbuntu2204}, contract.FeatureCFSQuotaPeriod))
	if err != nil {
		t.Fatal(err)
	}
	good := bootstrap.KubeletCommandLine(spec.Bootstrap)
	withoutGate := make([]string, 0, len(good))
	for _, a := range good {
		if !strings.HasPrefix(a, "--feature-gates=") {
			withoutGate = append(withoutGate, a)
		}
	}
	results, err := kubeletFlagCheck([]map[string]any{
		{"name": "good", "args": good},
		{"name": "no gate", "args": withoutGate},
		{"name": "removed flag", "args": append(append([]string{}, good...), "--pod-infra-container-image=mcr.microsoft.com/oss/kubernetes/pause:3.6")},
		{"name": "restricted label", "args": append(append([]string{}, good...), "--node-labels=node-role.kubernetes.io/worker=")},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"good": "", "no gate": "requires feature gate CustomCPUCFSQuotaPeriod",
		"removed flag": "unknown flag: --pod-infra-container-image", "restricted label": "unknown 'kubernetes.io' or 'k8s.io' labels"}
	for _, r := range results {
		switch w := want[r.Name]; {
		case w == "" && r.Error != "":
			t.Errorf("%s: %s", r.Name, r.Error)
		case w != "" && !strings.Contains(r.Error, w):
			t.Errorf("%s: error %q, want %q", r.Name, r.Error, w)
		}
	}
	if len(results) != len(want) {
		t.Errorf("%d results", len(results))
	}
}

// A launch whose bootstrap data would break the contract fails, naming the
// value, before any VM is created.
func TestBuildRefusesWhatBreaksTheContract(t *testing.T) {
	inputs := clusterInputs()
	inputs.Set(func(i *cluster.Inputs) { i.SecurityGroupName = "" }, nil)
	_, err := providerWith(inputs).Build(context.Background(), input(karpv1.CapacityTypeOnDemand, "eastus-1", nil))
	if err == nil || !strings.Contains(err.Error(), "security_group_name is missing") {
		t.Errorf("error %v", err)
	}
}
