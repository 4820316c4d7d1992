package bootstrap_test

import (
	"encoding/base64"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/azkarpenter/azkarpenter/pkg/bootstrap"
)

// packageFunctions are the functions of AKS's Windows CSE scripts package
// the setup script calls, with the parameters each declares
// [Parameter(Mandatory = $true)], as Azure/AgentBaker staging/cse/windows
// declares them (the file is named per function).
var packageFunctions = map[string]struct {
	file      string
	mandatory []string
}{
	"Resize-OSDrive":                              {"configfunc.ps1", nil},
	"Initialize-DataDisks":                        {"configfunc.ps1", nil},
	"Initialize-DataDirectories":                  {"kubernetesfunc.ps1", nil},
	"Get-ProvisioningScripts":                     {"kubernetesfunc.ps1", nil},
	"Get-LogCollectionScripts":                    {"kubernetesfunc.ps1", nil},
	"Write-KubeClusterConfig":                     {"kubernetesfunc.ps1", []string{"MasterIP", "KubeDnsServiceIp"}},
	"Install-CredentialProvider":                  {"configfunc.ps1", []string{"KubeDir"}},
	"Get-KubePackage":                             {"kubeletfunc.ps1", []string{"KubeBinariesSASURL"}},
	"Install-Containerd":                          {"containerdfunc.ps1", []string{"ContainerdUrl", "CNIBinDir", "CNIConfDir", "KubeDir"}},
	"New-CsiProxyService":                         {"configfunc.ps1", []string{"CsiProxyPackageUrl", "KubeDir"}},
	"Update-DefenderPreferences":                  {"kubernetesfunc.ps1", nil},
	"Write-BootstrapKubeConfig":                   {"kubeletfunc.ps1", []string{"CACertificate", "MasterFQDNPrefix", "MasterIP", "TLSBootstrapToken", "KubeDir"}},
	"Configure-KubeletServingCertificateRotation": {"kubeletfunc.ps1", nil},
	"Write-AzureConfig": {"kubeletfunc.ps1", []string{"AADClientId", "AADClientSecret", "TenantId", "SubscriptionId", "ResourceGroup", "Location", "VmType",
		"SubnetName", "SecurityGroupName", "VNetName", "RouteTableName", "UseManagedIdentityExtension", "UseInstanceMetadata", "LoadBalancerSku",
		"ExcludeMasterFromStandardLB", "KubeDir", "TargetEnvironment"}},
	"Write-CACert":                 {"kubeletfunc.ps1", []string{"CACertificate", "KubeDir"}},
	"Install-KubernetesServices":   {"kubeletfunc.ps1", []string{"KubeDir"}},
	"Update-ServiceFailureActions": {"configfunc.ps1", nil},
	"Check-APIServerConnectivity":  {"kubernetesfunc.ps1", []string{"MasterIP"}},
	"Get-HnsPsm1":                  {"azurecnifunc.ps1", []string{"HNSModule"}},
	"Install-VnetPlugins":          {"azurecnifunc.ps1", []string{"AzureCNIConfDir", "AzureCNIBinDir", "VNetCNIPluginsURL"}},
	"Set-AzureCNIConfig": {"azurecnifunc.ps1", []string{"AzureCNIConfDir", "KubeDnsSearchPath", "KubeClusterCIDR", "KubeServiceCIDR", "VNetCIDR",
		"IsDualStackEnabled"}},
	"New-ExternalHnsNetwork":       {"azurecnifunc.ps1", []string{"IsDualStackEnabled"}},
	"Register-NodeResetScriptTask": {"kubernetesfunc.ps1", nil},
	"Start-InstallGPUDriver":       {"nvidiagpudriverfunc.ps1", []string{"EnableInstall"}},
}

// packageGlobals are the globals the package functions the script calls
// read (and kubeletstart.ps1 / kubeproxystart.ps1 through
// kubeclusterconfig.json): each must be set, and those that carry the
// node's configuration must not be empty.
var packageGlobals = map[string]bool{
	// name: must be non-empty
	"CacheDir": true, "KubeDir": true, "KubeClusterConfigPath": true, "KubeBinariesVersion": true, "NetworkPlugin": true,
	"WindowsPauseImageURL": true, "KubeClusterCIDR": true, "KubeServiceCIDR": true, "VNetCIDR": true, "VNetCNIPluginsURL": true,
	"KubeletNodeLabels": true, "KubeletConfigArgs": true, "KubeproxyConfigArgs": true, "ContainerdUrl": true,
	"KubeproxyFeatureGates": false, "MasterSubnet": false, "EnableCsiProxy": false, "EnableHostsConfigAgent": false,
	"HNSRemediatorIntervalInMinutes": false, "IsSkipCleanupNetwork": false, "EnableSecureTLSBootstrapping": false,
	"SecureTLSBootstrappingAADResource": false, "SecureTLSBootstrappingUserAssignedIdentityID": false,
	"SecureTLSBootstrappingValidateKubeconfigTimeout": false, "SecureTLSBootstrappingGetAccessTokenTimeout": false,
	"SecureTLSBootstrappingGetInstanceDataTimeout": false, "SecureTLSBootstrappingGetNonceTimeout": false,
	"SecureTLSBootstrappingGetAttestedDataTimeout": false, "SecureTLSBootstrappingGetCredentialTimeout": false,
	"BootstrapProfileContainerRegistryServer": false, "CiliumDataplaneEnabled": false, "IsAzureCNIOverlayEnabled": false,
	"IsDisableWindowsOutboundNat": false, "IsDualStackEnabled": false, "IsIMDSRestrictionEnabled": false,
	"ConfigGPUDriverIfNeeded": false, "GpuDriverURL": false, "CredentialProviderURL": false, "NetworkMode": false,
	"EnableKubeletServingCertificateRotation": false, "MCRRepositoryBase": true, "RebootNeeded": false, "OperationId": false,
	"ContainerdPackageTemplate": true, "StableContainerdVersion": true, "LatestContainerdVersion": true,
	"LatestContainerd2Version": true, "MinimalKubernetesVersionWithLatestContainerd": true, "WindowsVersion2025": true,
}

// windowsScript renders a Windows node's setup script.
func windowsScript(t *testing.T, edit func(*bootstrap.Config)) string {
	t.Helper()
	c := config(bootstrap.Windows)
	if edit != nil {
		edit(c)
	}
	a, err := bootstrap.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(a.CustomData)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

var (
	psCall       = regexp.MustCompile(`(?m)^\s*([A-Z][A-Za-z]+-[A-Za-z0-9-]+)\b(.*)$`)
	psParam      = regexp.MustCompile(`-([A-Za-z]+)\s+(\([^)]*\)\)?|'[^']*'|"[^"]*"|\$[A-Za-z:]+|\S+)`)
	psAssignLine = regexp.MustCompile(`(?m)^\$(global:)?([A-Za-z0-9]+)\s*=\s*(.*)$`)
)

// assigned maps each variable the script sets to the value it sets it to.
func assigned(script string) map[string]string {
	out := map[string]string{}
	for _, m := range psAssignLine.FindAllStringSubmatch(script, -1) {
		out[strings.ToLower(m[2])] = strings.TrimSpace(m[3])
	}
	return out
}

func emptyValue(v string) bool {
	return v == "''" || v == `""` || v == "@(  )" || v == "@()" || v == "$null"
}

// Every package function the script calls gets every parameter the package
// declares mandatory, with a value: a literal that is not empty, or a
// variable the script sets to one.
func TestWindowsPackageFunctionsGetTheirMandatoryParameters(t *testing.T) {
	for _, mode := range []string{"", "overlay"} {
		script := windowsScript(t, func(c *bootstrap.Config) { c.Cluster.NetworkPluginMode = mode })
		steps := script[strings.Index(script, "# --- end of helper functions ---"):]
		vars := assigned(script)
		called := map[string]bool{}
		helpers := definedFunctions(script)
		for _, m := range psCall.FindAllStringSubmatch(steps, -1) {
			name, rest := m[1], m[2]
			fn, isPackage := packageFunctions[name]
			if !isPackage {
				if !helpers[name] && !builtin(name) {
					t.Errorf("the script calls %s, which is neither in the package table, a helper it defines nor a PowerShell command", name)
				}
				continue
			}
			called[name] = true
			given := map[string]string{}
			for _, p := range psParam.FindAllStringSubmatch(rest, -1) {
				given[p[1]] = p[2]
			}
			for _, want := range fn.mandatory {
				v, ok := given[want]
				switch {
				case !ok:
					t.Errorf("%s (%s) is called without its mandatory -%s", name, fn.file, want)
				case emptyValue(v):
					t.Errorf("%s -%s is empty", name, want)
				case strings.HasPrefix(v, "$"):
					name := strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(v, "$"), "global:"))
					if val, ok := vars[name]; !ok || emptyValue(val) {
						t.Errorf("%s -%s %s: the script does not set %s to a value", fn.file, want, v, v)
					}
				}
			}
		}
		// The helper calls Install-Containerd; every other package function
		// the table lists is called by the steps.
		for name := range packageFunctions {
			if !called[name] && name != "Install-Containerd" {
				t.Errorf("%s is in the table but the script never calls it", name)
			}
		}
		if !strings.Contains(script, "Install-Containerd -ContainerdUrl $ContainerdUrl -CNIBinDir $CNIBinDir -CNIConfDir $CNIConfDir -KubeDir $KubeDir") {
			t.Error("the helper does not call Install-Containerd with its mandatory parameters")
		}
		for g, nonEmpty := range packageGlobals {
			v, ok := vars[strings.ToLower(g)]
			switch {
			case !ok:
				t.Errorf("the script never sets $global:%s, which the package reads", g)
			case nonEmpty && emptyValue(v):
				t.Errorf("$global:%s is empty", g)
			}
		}
	}
}

// The package's layout, as the image caches it: expanded into
// C:\AzureData\windows (where all.ps1 and the provisioning scripts are
// looked for), and the helpers defined before anything runs.
func TestWindowsPackageLayout(t *testing.T) {
	script := windowsScript(t, nil)
	for _, want := range []string{
		`"aks-windows-cse-scripts-current.zip"`,
		`AKS-Expand-Archive -Path $package -DestinationPath "C:\AzureData\windows"`,
		`. "C:\AzureData\windows\all.ps1"`,
		// kubeletstart.ps1 and windowsnodereset.ps1 come from the package's
		// provisioningscripts; the kubelet starts through the reset task.
		"Get-ProvisioningScripts", "Install-KubernetesServices -KubeDir $global:KubeDir", "Register-NodeResetScriptTask", "Start-NodeResetScriptTask",
		// The CA, written where the kubelet's --client-ca-file points.
		"Write-CACert -CACertificate $global:CACertificate -KubeDir $global:KubeDir", `'--client-ca-file=c:\k\ca.crt'`,
		`'--bootstrap-kubeconfig=c:\k\bootstrap-config'`, `'--kubeconfig=c:\k\config'`,
	} {
		if !strings.Contains(script, want) {
			t.Errorf("the setup script lacks %s", want)
		}
	}
	if strings.Index(script, "function Set-ExitCode") > strings.Index(script, "try {") {
		t.Error("helpers are defined after the steps start")
	}
	if strings.Contains(script, `"C:\AzureData\"`) {
		t.Error(`the package is expanded into C:\AzureData\ rather than C:\AzureData\windows`)
	}
}

func definedFunctions(script string) map[string]bool {
	out := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^function\s+([A-Za-z0-9-]+)`).FindAllStringSubmatch(script, -1) {
		out[m[1]] = true
	}
	return out
}

// builtin reports whether a Verb-Noun name is a PowerShell command the
// script may call.
func builtin(name string) bool {
	return slices.Contains([]string{"Test-Path", "Set-Content", "Write-Log", "Import-Module", "Select-Object", "New-Timespan", "Get-Date", "Write-Host"}, name)
}
