package bootstrap

import (
	"bytes"
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

var windowsScript = template.Must(template.New("windows").Funcs(template.FuncMap{"q": psQuote}).Parse(`<#
    AKS Windows node setup (the AgentBaker kuberneteswindowssetup contract),
    rendered by azkarpenter. The Custom Script Extension runs it with the
    secrets that are not in custom data.
#>
[CmdletBinding(DefaultParameterSetName="Standard")]
param(
    # The kubelet client key; empty when the node TLS-bootstraps.
    [string]$AgentKey = "",
    [parameter(Mandatory=$true)]
    [ValidateNotNullOrEmpty()]
    $AADClientSecret, # base64
    [parameter(Mandatory=$true)]
    [ValidateNotNullOrEmpty()]
    $CSEResultFilePath
)

# --- node configuration ---
$MasterIP={{q .APIServerName}}
$KubeDnsServiceIp={{q .ClusterDNS}}
$MasterFQDNPrefix={{q .FQDNPrefix}}
$Location={{q .Location}}
$UserAssignedClientID={{q .KubeletIdentityClientID}}
$TargetEnvironment='AzurePublicCloud'
$AADClientId='msi'
$NetworkAPIVersion='2018-08-01'
$global:CACertificate={{q .CACertificate}}
$global:AgentCertificate=''
$global:TLSBootstrapToken={{q .BootstrapToken}}
$global:KubeBinariesVersion={{q .KubernetesVersion}}
$global:VMSize={{q .VMSize}}
$global:TenantId={{q .TenantID}}
$global:SubscriptionId={{q .SubscriptionID}}
$global:ResourceGroup={{q .ResourceGroup}}
$global:VmType='standard'
$global:SubnetName={{q .SubnetName}}
$global:VNetName={{q .VNetName}}
$global:VNetResourceGroup={{q .VNetResourceGroup}}
$global:NetworkPlugin={{q .NetworkPlugin}}
$global:NetworkPolicy={{q .NetworkPolicy}}
$global:UseManagedIdentityExtension='true'
$global:UseInstanceMetadata='true'
$global:LoadBalancerSku='Standard'
$global:ExcludeMasterFromStandardLB='true'
$global:ConfigGPUDriverIfNeeded={{q .GPUDriver}}
$global:KubeletNodeLabels={{q .NodeLabels}}
$global:KubeletConfigArgs=@( {{range $i, $a := .KubeletArgs}}{{if $i}}, {{end}}{{q $a}}{{end}} )
# --- end of node configuration ---

$global:ExitCode=0
$global:ErrorMessage=""
$global:KubeDir="c:\k"
$global:CacheDir="c:\akse-cache"
$global:CSEScriptsPackageUrl=""
$StartTime=Get-Date

try {
    if (Test-Path -Path $CSEResultFilePath -PathType Leaf) {
        return
    }
    # The provisioning functions come from the CSE scripts package that AKS
    # Windows images cache.
    $package=Get-ChildItem -Path $global:CacheDir -Filter "aks-windows-cse-scripts-*.zip" -Recurse | Sort-Object Name | Select-Object -Last 1
    if (-not $package) { throw "the AKS Windows CSE scripts package is not cached in $global:CacheDir" }
    Expand-Archive -Path $package.FullName -DestinationPath "C:\AzureData\" -Force
    foreach ($script in @("windowscsehelper", "azurecnifunc", "calicofunc", "configfunc", "containerdfunc", "kubeletfunc", "kubernetesfunc", "nvidiagpudriverfunc")) {
        . "C:\AzureData\windows\$script.ps1"
    }

    Initialize-DataDirectories
    Create-Directory -FullPath $global:KubeDir
    Write-KubeClusterConfig -MasterIP $MasterIP -KubeDnsServiceIp $KubeDnsServiceIp
    Install-CredentialProvider -KubeDir $global:KubeDir -CustomCloudContainerRegistryDNSSuffix ""
    Get-KubePackage -KubeBinariesSASURL ""
    Install-Containerd-Based-On-Kubernetes-Version -ContainerdUrl "" -CNIBinDir "c:\k\azurecni\bin" -CNIConfDir "c:\k\azurecni\netconf" -KubeDir $global:KubeDir -KubernetesVersion $global:KubeBinariesVersion

    Write-BootstrapKubeConfig -CACertificate $global:CACertificate -KubeDir $global:KubeDir -MasterFQDNPrefix $MasterFQDNPrefix -MasterIP $MasterIP -TLSBootstrapToken $global:TLSBootstrapToken
    # Parameters splatted from a table (Write-AzureConfig takes many).
    $azureConfig=@{ KubeDir=$global:KubeDir; AADClientId=$AADClientId; AADClientSecret=[System.Text.Encoding]::ASCII.GetString([System.Convert]::FromBase64String($AADClientSecret)); TenantId=$global:TenantId; SubscriptionId=$global:SubscriptionId; ResourceGroup=$global:ResourceGroup; Location=$Location; VmType=$global:VmType; SubnetName=$global:SubnetName; SecurityGroupName=""; VNetName=$global:VNetName; RouteTableName=""; PrimaryAvailabilitySetName=""; PrimaryScaleSetName=""; UseManagedIdentityExtension=$global:UseManagedIdentityExtension; UserAssignedClientID=$UserAssignedClientID; UseInstanceMetadata=$global:UseInstanceMetadata; LoadBalancerSku=$global:LoadBalancerSku; ExcludeMasterFromStandardLB=$global:ExcludeMasterFromStandardLB; TargetEnvironment=$TargetEnvironment }
    Write-AzureConfig @azureConfig
    Install-VnetPlugins -AzureCNIConfDir "c:\k\azurecni\netconf" -AzureCNIBinDir "c:\k\azurecni\bin" -VNetCNIPluginsURL ""
    Set-AzureCNIConfig -AzureCNIConfDir "c:\k\azurecni\netconf" -KubeDnsSearchPath "svc.cluster.local" -KubeClusterCIDR "" -KubeServiceCIDR "" -VNetCIDR "" -IsDualStackEnabled $false -IsAzureCNIOverlayEnabled ($global:NetworkPlugin -eq "none")
    New-ExternalHnsNetwork -IsDualStackEnabled $false
    Start-InstallGPUDriver -EnableInstall ([System.Convert]::ToBoolean($global:ConfigGPUDriverIfNeeded)) -GpuDriverURL ""
    Install-KubernetesServices -KubeDir $global:KubeDir
}
catch {
    $global:ExitCode=1
    $global:ErrorMessage="$_"
}
finally {
    if ($global:ExitCode -eq 0) {
        Set-Content -Path $CSEResultFilePath -Value $global:ExitCode -Force
    } else {
        Set-Content -Path $CSEResultFilePath -Value "ExitCode: |$global:ExitCode|, Output: |WINDOWS_CSE_ERROR_UNKNOWN|, Error: |$global:ErrorMessage|" -Force
    }
}
`))

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
	data := map[string]any{
		"APIServerName": c.Cluster.APIServerName, "ClusterDNS": c.Kubelet.ClusterDNS, "FQDNPrefix": fqdnPrefix,
		"Location": c.Cluster.Location, "KubeletIdentityClientID": c.Cluster.KubeletIdentityClientID,
		"CACertificate": base64.StdEncoding.EncodeToString(c.Cluster.CACertificate), "BootstrapToken": c.Cluster.BootstrapToken,
		"KubernetesVersion": c.KubernetesVersion, "VMSize": c.VMSize, "TenantID": c.Cluster.TenantID, "SubscriptionID": c.Cluster.SubscriptionID,
		"ResourceGroup": c.Cluster.ResourceGroup, "SubnetName": c.Cluster.SubnetName, "VNetName": c.Cluster.VNetName,
		"VNetResourceGroup": c.Cluster.VNetResourceGroup, "NetworkPlugin": c.Cluster.NetworkPlugin, "NetworkPolicy": c.Cluster.NetworkPolicy,
		"GPUDriver": fmt.Sprint(c.GPUDriver), "NodeLabels": nodeLabels(c.Labels), "KubeletArgs": KubeletCommandLine(&Config{OS: Windows, Taints: c.Taints, Kubelet: c.Kubelet}),
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
	psAssignment = regexp.MustCompile(`(?m)^\$(global:)?([A-Za-z]+)=('(?:[^']|'')*')\r?$`)
	psArray      = regexp.MustCompile(`(?m)^\$global:KubeletConfigArgs=@\((.*)\)\r?$`)
	psString     = regexp.MustCompile(`'((?:[^']|'')*)'`)
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
	c := &Config{
		OS:                Windows,
		KubernetesVersion: vars["KubeBinariesVersion"],
		VMSize:            vars["VMSize"],
		GPUDriver:         vars["ConfigGPUDriverIfNeeded"] == "true",
		Cluster: Cluster{
			APIServerName: vars["MasterIP"], CACertificate: ca, BootstrapToken: vars["TLSBootstrapToken"],
			KubeletIdentityClientID: vars["UserAssignedClientID"], TenantID: vars["TenantId"], SubscriptionID: vars["SubscriptionId"],
			Location: vars["Location"], ResourceGroup: vars["ResourceGroup"], VNetName: vars["VNetName"],
			VNetResourceGroup: vars["VNetResourceGroup"], SubnetName: vars["SubnetName"], NetworkPlugin: vars["NetworkPlugin"],
			NetworkPolicy: vars["NetworkPolicy"],
		},
	}
	if labels := vars["KubeletNodeLabels"]; labels != "" {
		if c.Labels, err = parseKeyValues(labels, "=", "--node-labels"); err != nil {
			return nil, err
		}
	}
	m := psArray.FindStringSubmatch(block)
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
	c.Kubelet.ClusterDNS = vars["KubeDnsServiceIp"]
	return c, nil
}

func psUnquote(s string) string {
	return strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(s, "'"), "'"), "''", "'")
}
