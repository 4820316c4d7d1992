package bootstrap

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/template"
)

// The Windows contract is AKS's (Azure/AgentBaker's kuberneteswindowssetup):
// custom data is a PowerShell setup script, which Azure places at
// C:\AzureData\CustomData.bin, and the Custom Script Extension copies it to a
// .ps1 and runs it with the secrets that are not in custom data. The script
// declares the node's settings as the variables AKS's Windows provisioning
// functions read ($MasterIP, $global:TLSBootstrapToken,
// $global:KubeletNodeLabels, $global:KubeletConfigArgs, …), then runs those
// functions from the scripts package cached on AKS Windows images.

// windowsResultFile is where the setup script reports its outcome ("0" or an
// "ExitCode: |n|, …" line) and what the extension checks.
const windowsResultFile = `%SYSTEMDRIVE%\AzureData\provision.complete`

// windowsScript is the setup script's template (windows_setup.ps1.tmpl):
// the configuration block, then AKS's provisioning steps with the helper
// functions the package expects beside it (windows_helpers.ps1).
var windowsScript = template.Must(template.New("windows").Funcs(template.FuncMap{"q": psQuote}).Parse(windowsSetupTemplate))

var (
	//go:embed windows_setup.ps1.tmpl
	windowsSetupTemplate string
	//go:embed windows_helpers.ps1
	windowsHelpers string
)

// WindowsKubeBinariesURL is the Kubernetes node package a Windows node
// installs (Get-KubePackage), as AKS names it (Azure/AgentBaker
// parts/common/components.json "windowsDownloadURL"); the image takes it
// from c:\akse-cache when it caches that file.
func WindowsKubeBinariesURL(version string) string {
	return fmt.Sprintf("https://packages.aks.azure.com/kubernetes/v%s/windowszip/v%s-1int.zip", version, version)
}

// aadClientSecretPlaceholder marks where the extension's command line takes
// the (base64) service principal secret.
const aadClientSecretPlaceholder = "aadClientSecret"

// windowsCommand is the extension's command line: copy the custom data to a
// script, run it, and fail unless it reported success.
const windowsCommand = `powershell.exe -ExecutionPolicy Unrestricted -command "` +
	`$inputFile = '%SYSTEMDRIVE%\AzureData\CustomData.bin'; ` +
	`$outputFile = '%SYSTEMDRIVE%\AzureData\CustomDataSetupScript.ps1'; ` +
	`if (!(Test-Path $inputFile)) { throw 'ExitCode: |49|, Output: |WINDOWS_CSE_ERROR_NO_CUSTOM_DATA_BIN|, Error: |$inputFile does not exist.|' }; ` +
	`Copy-Item $inputFile $outputFile -Force; ` +
	`PowerShell -File $outputFile -AADClientSecret 'aadClientSecret' -CSEResultFilePath ` + windowsResultFile + ` >> %SYSTEMDRIVE%\AzureData\CustomDataSetupScript.log 2>&1; ` +
	`if (!(Test-Path ` + windowsResultFile + `)) { throw 'ExitCode: |50|, Output: |WINDOWS_CSE_ERROR_NO_CSE_RESULT_LOG|, Error: |provision.complete is not generated.|' }; ` +
	`$result=(Get-Content ` + windowsResultFile + `); if ($result -ne '0') { throw $result }"`

// psQuote is a PowerShell single-quoted string: only ' needs escaping.
func psQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func renderWindows(c *Config) (*Artifact, error) {
	fqdnPrefix, _, _ := strings.Cut(c.Cluster.APIServerName, ".")
	// AKS's Windows nodes install Azure CNI themselves, overlay or not.
	plugin := c.Cluster.NetworkPlugin
	if c.Cluster.NetworkPluginMode == "overlay" {
		plugin = "azure"
	}
	var kubeProxyArgs []string
	if c.Cluster.PodCIDR != "" {
		kubeProxyArgs = append(kubeProxyArgs, "--cluster-cidr="+c.Cluster.PodCIDR)
	}
	data := map[string]any{
		"APIServerName": c.Cluster.APIServerName, "DNSServiceIP": c.Cluster.DNSServiceIP, "FQDNPrefix": fqdnPrefix,
		"Location": c.Cluster.Location, "KubeletIdentityClientID": c.Cluster.KubeletIdentityClientID,
		"CACertificate": base64.StdEncoding.EncodeToString(c.Cluster.CACertificate), "BootstrapToken": c.Cluster.BootstrapToken,
		"KubernetesVersion": c.KubernetesVersion, "KubeBinariesURL": WindowsKubeBinariesURL(c.KubernetesVersion), "VMSize": c.VMSize,
		"TenantID": c.Cluster.TenantID, "SubscriptionID": c.Cluster.SubscriptionID, "ResourceGroup": c.Cluster.ResourceGroup,
		"SubnetName": c.Cluster.SubnetName, "SecurityGroupName": c.Cluster.SecurityGroupName, "VNetName": c.Cluster.VNetName,
		"VNetResourceGroup": c.Cluster.VNetResourceGroup, "RouteTableName": c.Cluster.RouteTableName,
		"PodCIDR": c.Cluster.PodCIDR, "ServiceCIDR": c.Cluster.ServiceCIDR, "VNetCIDR": c.Cluster.VNetCIDR,
		"NetworkPlugin": plugin, "NetworkPluginMode": c.Cluster.NetworkPluginMode, "NetworkPolicy": c.Cluster.NetworkPolicy,
		"VNetCNIPluginsURL": c.VNetCNIPluginsURL, "PauseImage": c.PauseImage,
		"GPUDriver": fmt.Sprint(c.GPUDriver), "NodeLabels": nodeLabels(c.Labels), "KubeletArgs": KubeletCommandLine(&Config{OS: Windows, Taints: c.Taints, Kubelet: c.Kubelet}),
		"KubeProxyArgs": kubeProxyArgs, "Helpers": windowsHelpers,
	}
	var buf bytes.Buffer
	if err := windowsScript.Execute(&buf, data); err != nil {
		return nil, err
	}
	ext := WindowsExtension
	ext.CommandToExecute = strings.Replace(windowsCommand, "'"+aadClientSecretPlaceholder+"'", psQuote(base64.StdEncoding.EncodeToString([]byte(managedIdentity))), 1)
	return &Artifact{CustomData: base64.StdEncoding.EncodeToString(buf.Bytes()), Extension: ext}, nil
}

var (
	psAssignment  = regexp.MustCompile(`(?m)^\$(global:)?([A-Za-z]+)=('(?:[^']|'')*')\r?$`)
	psKubeletArgs = regexp.MustCompile(`(?m)^\$global:KubeletConfigArgs=@\((.*)\)\r?$`)
	psString      = regexp.MustCompile(`'((?:[^']|'')*)'`)
)

// decodeWindows reads the node configuration block of the setup script.
func decodeWindows(raw []byte) (*Config, error) {
	script := string(raw)
	start := strings.Index(script, "# --- node configuration ---")
	end := strings.Index(script, "# --- end of node configuration ---")
	if start < 0 || end < start {
		return nil, errors.New("custom data is not an AKS Windows setup script (no node configuration block)")
	}
	block := script[start:end]
	vars := map[string]string{}
	for _, m := range psAssignment.FindAllStringSubmatch(block, -1) {
		vars[m[2]] = psUnquote(m[3])
	}
	ca, err := base64.StdEncoding.DecodeString(vars["CACertificate"])
	if err != nil {
		return nil, fmt.Errorf("windows setup script: $global:CACertificate is not base64: %w", err)
	}
	plugin := vars["NetworkPlugin"]
	if vars["NetworkPluginMode"] == "overlay" {
		// Azure CNI overlay: the image-side plugin is "none" on Linux.
		plugin = "none"
	}
	c := &Config{
		OS:                Windows,
		KubernetesVersion: vars["KubeBinariesVersion"],
		VMSize:            vars["VMSize"],
		GPUDriver:         vars["ConfigGPUDriverIfNeeded"] == "true",
		PauseImage:        vars["WindowsPauseImageURL"],
		VNetCNIPluginsURL: vars["VNetCNIPluginsURL"],
		Cluster: Cluster{
			APIServerName: vars["MasterIP"], CACertificate: ca, BootstrapToken: vars["TLSBootstrapToken"],
			KubeletIdentityClientID: vars["UserAssignedClientID"], TenantID: vars["TenantId"], SubscriptionID: vars["SubscriptionId"],
			Location: vars["Location"], ResourceGroup: vars["ResourceGroup"], VNetName: vars["VNetName"],
			VNetResourceGroup: vars["VNetResourceGroup"], SubnetName: vars["SubnetName"], NetworkPlugin: plugin,
			NetworkPluginMode: vars["NetworkPluginMode"], NetworkPolicy: vars["NetworkPolicy"], DNSServiceIP: vars["KubeDnsServiceIp"],
			SecurityGroupName: vars["SecurityGroupName"], RouteTableName: vars["RouteTableName"],
			ServiceCIDR: vars["KubeServiceCIDR"], PodCIDR: vars["KubeClusterCIDR"], VNetCIDR: vars["VNetCIDR"],
		},
	}
	if labels := vars["KubeletNodeLabels"]; labels != "" {
		if c.Labels, err = parseKeyValues(labels, "=", "--node-labels"); err != nil {
			return nil, err
		}
	}
	m := psKubeletArgs.FindStringSubmatch(block)
	if m == nil {
		return nil, errors.New("windows setup script: no $global:KubeletConfigArgs")
	}
	flags := map[string]string{}
	for _, s := range psString.FindAllStringSubmatch(m[1], -1) {
		arg := strings.ReplaceAll(s[1], "''", "'")
		name, value, ok := strings.Cut(arg, "=")
		if !ok || !strings.HasPrefix(name, "--") {
			return nil, fmt.Errorf("windows setup script: kubelet argument %q is not --name=value", arg)
		}
		flags[name] = value
	}
	if err := parseKubeletFlags(flags, c); err != nil {
		return nil, err
	}
	return c, nil
}

func psUnquote(s string) string {
	return strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(s, "'"), "'"), "''", "'")
}

// WindowsRequired reports what AKS's Windows setup needs that a
// configuration lacks: the values its package functions take as mandatory
// parameters or read as globals (docs/bootstrap.md, "Windows").
func WindowsRequired(c *Config) error {
	var missing []string
	for _, v := range []struct{ value, name string }{
		{c.PauseImage, "the pause image ($global:WindowsPauseImageURL)"},
		{c.Cluster.DNSServiceIP, "the kube-dns IP ($KubeDnsServiceIp)"},
		{c.Cluster.SecurityGroupName, "the security group ($global:SecurityGroupName)"},
		{c.Cluster.RouteTableName, "the route table ($global:RouteTableName)"},
		{c.Cluster.ServiceCIDR, "the service CIDR ($global:KubeServiceCIDR)"},
		{c.Cluster.PodCIDR, "the pod CIDR ($global:KubeClusterCIDR)"},
		{c.Cluster.VNetCIDR, "the VNet CIDR ($global:VNetCIDR)"},
		{c.Cluster.TenantID, "the tenant ($global:TenantId)"},
		{c.Cluster.SubscriptionID, "the subscription ($global:SubscriptionId)"},
		{c.Cluster.ResourceGroup, "the node resource group ($global:ResourceGroup)"},
		{c.Cluster.VNetName, "the virtual network ($global:VNetName)"},
		{c.Cluster.SubnetName, "the subnet ($global:SubnetName)"},
	} {
		if v.value == "" {
			missing = append(missing, v.name)
		}
	}
	if c.Cluster.NetworkPlugin == "azure" && c.VNetCNIPluginsURL == "" {
		missing = append(missing, "the Azure CNI package ($global:VNetCNIPluginsURL)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("windows setup lacks %s", strings.Join(missing, ", "))
	}
	return nil
}
