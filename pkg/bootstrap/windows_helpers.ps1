# --- helper functions ---
# The functions of AKS's Windows CSE scripts package call back into helper
# functions AKS delivers beside its setup script, not in the package
# (Azure/AgentBaker parts/windows/windowscsehelper.ps1). These are
# azkarpenter's own, with the names, parameters and behaviour the package
# expects of them.

$global:WINDOWS_CSE_ERROR_UNKNOWN=1
$global:WINDOWS_CSE_ERROR_DOWNLOAD_FILE_WITH_RETRY=2
$global:WINDOWS_CSE_ERROR_INVOKE_EXECUTABLE=3
$global:WINDOWS_CSE_ERROR_FILE_NOT_EXIST=4
$global:WINDOWS_CSE_ERROR_CHECK_API_SERVER_CONNECTIVITY=5
$global:WINDOWS_CSE_ERROR_NETWORK_INTERFACES_NOT_EXIST=9
$global:WINDOWS_CSE_ERROR_NETWORK_ADAPTER_NOT_EXIST=10
$global:WINDOWS_CSE_ERROR_MANAGEMENT_IP_NOT_EXIST=11
$global:WINDOWS_CSE_ERROR_INVALID_PARAMETER_IN_AZURE_CONFIG=17
$global:WINDOWS_CSE_ERROR_NOT_FOUND_MANAGEMENT_IP=29
$global:WINDOWS_CSE_ERROR_NOT_FOUND_BUILD_NUMBER=30
$global:WINDOWS_CSE_ERROR_NOT_FOUND_PROVISIONING_SCRIPTS=31
$global:WINDOWS_CSE_ERROR_START_NODE_RESET_SCRIPT_TASK=32
$global:WINDOWS_CSE_ERROR_DOWNLOAD_CSE_PACKAGE=33
$global:WINDOWS_CSE_ERROR_DOWNLOAD_KUBERNETES_PACKAGE=34
$global:WINDOWS_CSE_ERROR_DOWNLOAD_CNI_PACKAGE=35
$global:WINDOWS_CSE_ERROR_DOWNLOAD_HNS_MODULE=36
$global:WINDOWS_CSE_ERROR_DOWNLOAD_CSI_PROXY_PACKAGE=39
$global:WINDOWS_CSE_ERROR_DOWNLOAD_CONTAINERD_PACKAGE=40
$global:WINDOWS_CSE_ERROR_COPY_LOG_COLLECTION_SCRIPTS=51
$global:WINDOWS_CSE_ERROR_RESIZE_OS_DRIVE=52
$global:WINDOWS_CSE_ERROR_GPU_DRIVER_INSTALLATION_FAILED=53
$global:WINDOWS_CSE_ERROR_GPU_DRIVER_INSTALLATION_URL_NOT_SET=56
$global:WINDOWS_CSE_ERROR_GPU_SKU_INFO_NOT_FOUND=57
$global:WINDOWS_CSE_ERROR_GPU_DRIVER_INSTALLATION_DOWNLOAD_FAILURE=58
$global:WINDOWS_CSE_ERROR_GPU_DRIVER_INVALID_SIGNATURE=59
$global:WINDOWS_CSE_ERROR_GPU_DRIVER_INSTALLATION_EXCEPTION=60
$global:WINDOWS_CSE_ERROR_GPU_DRIVER_INSTALLATION_URL_NOT_EXE=61
$global:WINDOWS_CSE_ERROR_UPDATING_KUBE_CLUSTER_CONFIG=62
$global:WINDOWS_CSE_ERROR_GET_CONTAINERD_VERSION=64
$global:WINDOWS_CSE_ERROR_INSTALL_CREDENTIAL_PROVIDER=65
$global:WINDOWS_CSE_ERROR_DOWNLOAD_CREDEDNTIAL_PROVIDER=66
$global:WINDOWS_CSE_ERROR_CREDENTIAL_PROVIDER_CONFIG=67
$global:WINDOWS_CSE_ERROR_LOOKUP_INSTANCE_DATA_TAG=69
$global:WINDOWS_CSE_ERROR_EXTRACT_ZIP=73
$global:WINDOWS_CSE_ERROR_LOAD_METADATA=74
$global:WINDOWS_CSE_ERROR_PARSE_METADATA=75
$global:WINDOWS_CSE_ERROR_ORAS_PULL_WINDOWSZIP_FAIL=80
$global:WINDOWS_CSE_ERROR_ORAS_PULL_CREDENTIAL_PROVIDER=81
$global:WINDOWS_CSE_ERROR_ORAS_PULL_POD_INFRA_CONTAINER=82
$global:WINDOWS_CSE_ERROR_ORAS_PULL_CONTAINERD=84

# Containerd packages: the package's Install-Containerd downloads (or takes
# from c:\akse-cache) the one named by $global:ContainerdUrl; a URL ending
# in "/" is completed here by Windows and Kubernetes version.
$global:ContainerdPackageTemplate="v{0}-azure.1/binaries/containerd-v{0}-azure.1-windows-amd64.tar.gz"
$global:StableContainerdVersion="1.6.35"
$global:LatestContainerdVersion="1.7.20"
$global:LatestContainerd2Version="2.0.4"
$global:MinimalKubernetesVersionWithLatestContainerd="1.28.0"
$global:WindowsVersion2025="2025"
$global:PackageDownloadFqdn="packages.aks.azure.com"
$global:EventsLoggingDir="C:\WindowsAzure\Logs\Plugins\Microsoft.Compute.CustomScriptExtension\Events\"
$global:TaskName=""
$global:TaskTimeStamp=""

function Write-Log($message) {
    Write-Host ("[{0}] {1}" -f (Get-Date -Format "yyyy-MM-ddTHH:mm:ss.fffK"), $message)
}

# Set-ExitCode records the failure and ends the script; the setup's
# finally block writes it to the result file the extension reads.
function Set-ExitCode {
    Param(
        [Parameter(Mandatory=$true)][int]$ExitCode,
        [Parameter(Mandatory=$true)][string]$ErrorMessage
    )
    Write-Log "Exiting with $ExitCode. Error: $ErrorMessage"
    $global:ExitCode=$ExitCode
    $global:ErrorMessage=($ErrorMessage -replace '\|', '%7C')
    exit $ExitCode
}

function Logs-To-Event {
    Param(
        [Parameter(Mandatory=$true)][string]$TaskName,
        [Parameter(Mandatory=$true)][string]$TaskMessage
    )
    $global:TaskName=$TaskName
    $global:TaskTimeStamp=(Get-Date -Format "yyyy-MM-dd HH:mm:ss.fff")
    Write-Log "$TaskName - $TaskMessage"
}

function Create-Directory {
    Param(
        [Parameter(Mandatory=$true)][string]$FullPath,
        [Parameter(Mandatory=$false)][string]$DirectoryUsage="general purpose"
    )
    if (-not (Test-Path $FullPath)) {
        Write-Log "Creating $FullPath ($DirectoryUsage)"
        New-Item -ItemType Directory -Path $FullPath | Out-Null
    }
}

function New-TemporaryDirectory {
    $dir=Join-Path ([System.IO.Path]::GetTempPath()) ([System.Guid]::NewGuid().ToString())
    New-Item -ItemType Directory -Path $dir
}

function Retry-Command {
    Param(
        [Parameter(Mandatory=$true)][string]$Command,
        [Parameter(Mandatory=$true)][hashtable]$Args,
        [Parameter(Mandatory=$true)][int]$Retries,
        [Parameter(Mandatory=$true)][int]$RetryDelaySeconds
    )
    for ($attempt=1; ; $attempt++) {
        try {
            return & $Command @Args
        } catch {
            if ($attempt -ge $Retries) { throw }
            Write-Log "$Command failed (attempt $attempt of $Retries): $_"
            Start-Sleep -Seconds $RetryDelaySeconds
        }
    }
}

function Invoke-Executable {
    Param(
        [Parameter(Mandatory=$true)][string]$Executable,
        [string[]]$ArgList,
        [int[]]$AllowedExitCodes=@(0),
        [int]$Retries=1,
        [int]$RetryDelaySeconds=1,
        [Parameter(Mandatory=$true)][int]$ExitCode
    )
    for ($attempt=1; $attempt -le $Retries; $attempt++) {
        & $Executable $ArgList
        if ($LASTEXITCODE -in $AllowedExitCodes) { return }
        Write-Log "$Executable exited with $LASTEXITCODE (attempt $attempt of $Retries)"
        Start-Sleep -Seconds $RetryDelaySeconds
    }
    Set-ExitCode -ExitCode $ExitCode -ErrorMessage "$Executable $ArgList failed $Retries times"
}

function Assert-FileExists {
    Param(
        [Parameter(Mandatory=$true)][string]$Filename,
        [Parameter(Mandatory=$true)][int]$ExitCode
    )
    if (-not (Test-Path $Filename)) {
        Set-ExitCode -ExitCode $ExitCode -ErrorMessage "$Filename does not exist"
    }
}

function Update-BaseUrl {
    Param([Parameter(Mandatory=$true)][string]$InitialUrl)
    return $InitialUrl
}

function Resolve-PackagesDownloadFqdn {
    Param(
        [Parameter(Mandatory=$true)][string]$PreferredFqdn,
        [Parameter(Mandatory=$true)][string]$FallbackFqdn,
        [int]$Retries=1,
        [int]$WaitSleepSeconds=1
    )
    $global:PackageDownloadFqdn=$PreferredFqdn
    return $PreferredFqdn
}

# DownloadFileOverHttp takes a file the image caches in c:\akse-cache by its
# name, and downloads it otherwise.
function DownloadFileOverHttp {
    Param(
        [Parameter(Mandatory=$true)][string]$Url,
        [Parameter(Mandatory=$true)][string]$DestinationPath,
        [Parameter(Mandatory=$true)][int]$ExitCode
    )
    $fileName=[IO.Path]::GetFileName($Url.Split('?')[0])
    $cached=@()
    if (Test-Path $global:CacheDir) {
        $cached=[IO.Directory]::GetFiles($global:CacheDir, $fileName, [IO.SearchOption]::AllDirectories)
    }
    if ($cached.Count -gt 0) {
        Write-Log "Using the cached $($cached[0]) for $Url"
        Copy-Item -Path $cached[0] -Destination $DestinationPath -Force
        return
    }
    try {
        $ProgressPreference='SilentlyContinue'
        Retry-Command -Command "Invoke-WebRequest" -Args @{Uri=$Url; OutFile=$DestinationPath; UseBasicParsing=$true; ErrorAction="Stop"} -Retries 5 -RetryDelaySeconds 10
    } catch {
        Set-ExitCode -ExitCode $ExitCode -ErrorMessage "downloading $Url failed: $_"
    }
}

function AKS-Expand-Archive {
    Param(
        [Parameter(Mandatory=$true)][string]$Path,
        [Parameter(Mandatory=$true)][string]$DestinationPath,
        [boolean]$Force
    )
    try {
        Expand-Archive -Path $Path -DestinationPath $DestinationPath -Force -ErrorAction Stop
    } catch {
        Set-ExitCode -ExitCode $global:WINDOWS_CSE_ERROR_EXTRACT_ZIP -ErrorMessage "expanding $Path failed: $_"
    }
}

function Get-WindowsBuildNumber {
    return (Get-ItemProperty "HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion").CurrentBuild
}

function Get-WindowsVersion {
    $build=Get-WindowsBuildNumber
    switch ($build) {
        "17763" { return "1809" }
        "20348" { return "ltsc2022" }
        "25398" { return "23H2" }
        { $_ -ge "25399" -and $_ -le "30397" } { return $global:WindowsVersion2025 }
        default { Set-ExitCode -ExitCode $global:WINDOWS_CSE_ERROR_NOT_FOUND_BUILD_NUMBER -ErrorMessage "unknown Windows build $build" }
    }
}

function Get-WindowsPauseVersion {
    $build=Get-WindowsBuildNumber
    if ($build -eq "17763") { return "1809" }
    return "ltsc2022"
}

# Install-Containerd-Based-On-Kubernetes-Version completes a containerd
# URL that ends in "/" with the package for the Windows version (containerd
# 2 on Windows Server 2025) and installs it with the package's
# Install-Containerd.
function Install-Containerd-Based-On-Kubernetes-Version {
    Param(
        [Parameter(Mandatory=$true)][string]$ContainerdUrl,
        [Parameter(Mandatory=$true)][string]$CNIBinDir,
        [Parameter(Mandatory=$true)][string]$CNIConfDir,
        [Parameter(Mandatory=$true)][string]$KubeDir,
        [Parameter(Mandatory=$true)][string]$KubernetesVersion
    )
    if ($ContainerdUrl.EndsWith("/")) {
        $version=$global:StableContainerdVersion
        if ((Get-WindowsVersion) -eq $global:WindowsVersion2025) {
            $version=$global:LatestContainerd2Version
        } elseif (([version]$KubernetesVersion).CompareTo([version]$global:MinimalKubernetesVersionWithLatestContainerd) -ge 0) {
            $version=$global:LatestContainerdVersion
        }
        $ContainerdUrl=$ContainerdUrl + [string]::Format($global:ContainerdPackageTemplate, $version)
    }
    Install-Containerd -ContainerdUrl $ContainerdUrl -CNIBinDir $CNIBinDir -CNIConfDir $CNIConfDir -KubeDir $KubeDir
}

# Start-NodeResetScriptTask runs the task Register-NodeResetScriptTask
# registered (windowsnodereset.ps1), which starts the kubelet and
# kube-proxy services, and fails unless the kubelet then runs.
function Start-NodeResetScriptTask {
    Param([int]$TimeoutSeconds=180)
    $taskName="k8s-restart-job"
    $previous=(Get-ScheduledTaskInfo -TaskName $taskName).LastRunTime
    Start-ScheduledTask -TaskName $taskName
    $timer=[Diagnostics.Stopwatch]::StartNew()
    while ($true) {
        $info=Get-ScheduledTaskInfo -TaskName $taskName
        $task=Get-ScheduledTask -TaskName $taskName
        # 0x41301: the task is still running.
        if ($task.State -eq "Ready" -and $info.LastRunTime -ne $previous -and $info.LastTaskResult -ne 0x00041301) { break }
        if ($timer.Elapsed.TotalSeconds -gt $TimeoutSeconds) {
            Set-ExitCode -ExitCode $global:WINDOWS_CSE_ERROR_START_NODE_RESET_SCRIPT_TASK -ErrorMessage "$taskName did not finish within $TimeoutSeconds seconds"
        }
        Start-Sleep -Seconds 3
    }
    if ($info.LastTaskResult -ne 0) {
        Set-ExitCode -ExitCode $global:WINDOWS_CSE_ERROR_START_NODE_RESET_SCRIPT_TASK -ErrorMessage "$taskName failed with $($info.LastTaskResult)"
    }
    $kubelet=Get-Service -Name "kubelet" -ErrorAction SilentlyContinue
    if ($null -eq $kubelet -or $kubelet.Status -ne "Running") {
        Set-ExitCode -ExitCode $global:WINDOWS_CSE_ERROR_START_NODE_RESET_SCRIPT_TASK -ErrorMessage "the kubelet service is not running after $taskName"
    }
}

function Postpone-RestartComputer {
    $action=New-ScheduledTaskAction -Execute "powershell.exe" -Argument "-Command `"Restart-Computer -Force`""
    $principal=New-ScheduledTaskPrincipal -UserId SYSTEM -LogonType ServiceAccount -RunLevel Highest
    $trigger=New-JobTrigger -At (Get-Date).AddSeconds(15).DateTime -Once
    Register-ScheduledTask -TaskName "restart-computer" -InputObject (New-ScheduledTask -Action $action -Principal $principal -Trigger $trigger -Description "Restart after provisioning")
}
# --- end of helper functions ---
