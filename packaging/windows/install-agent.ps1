<#
.SYNOPSIS
Installs, enrolls and starts the deskhand agent as a Windows service.

.DESCRIPTION
Run from an elevated PowerShell in the folder unpacked from
deskhand-agent-VERSION-windows-x86_64.zip, with the line
`deskhand tokens create` prints:

  powershell -ExecutionPolicy Bypass -File install-agent.ps1 -Server HOST:PORT -Token T -CaFingerprint SHA256

It copies deskhand-agent.exe to "$env:ProgramFiles\deskhand", registers the
service (automatic start, LocalSystem), restricts the state directory
"$env:ProgramData\deskhand" to SYSTEM and Administrators, enrolls, and
starts the service, and puts "Get IT help" (`deskhand-agent help --open`,
the requester portal) in every user's Start menu. Run it again with
-Force to enroll again.
#>
param(
    [Parameter(Mandatory = $true)][string]$Server,
    [Parameter(Mandatory = $true)][string]$Token,
    [Parameter(Mandatory = $true)][string]$CaFingerprint,
    [string]$InstallDir = (Join-Path $env:ProgramFiles 'deskhand'),
    [string]$StateDir = (Join-Path $env:ProgramData 'deskhand'),
    [switch]$Force
)
$ErrorActionPreference = 'Stop'

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    throw 'install-agent.ps1: run it from an elevated (Run as administrator) PowerShell'
}

$source = Join-Path $PSScriptRoot 'deskhand-agent.exe'
if (-not (Test-Path $source)) {
    throw "install-agent.ps1: no deskhand-agent.exe next to this script ($PSScriptRoot); unpack the whole zip"
}
$exe = Join-Path $InstallDir 'deskhand-agent.exe'

function Invoke-Agent {
    & $exe --state-dir $StateDir @args
    if ($LASTEXITCODE -ne 0) {
        throw "install-agent.ps1: deskhand-agent $($args -join ' ') failed with exit code $LASTEXITCODE (see the error above)"
    }
}

# 1. Files. An existing service is stopped first so its exe can be replaced.
if (Get-Service -Name 'deskhand-agent' -ErrorAction SilentlyContinue) {
    & $exe service uninstall
}
New-Item -ItemType Directory -Force -Path $InstallDir | Out-Null
Copy-Item -Force $source $exe

# 2. The service; this also creates the state directory with its ACL, so
#    the key enrollment writes is never readable by users.
Invoke-Agent service install

# 3. Enroll, then start.
$enroll = @('enroll', '--server', $Server, '--token', $Token, '--ca-fingerprint', $CaFingerprint)
if ($Force) { $enroll += '--force' }
Invoke-Agent @enroll
Invoke-Agent service start

# 4. "Get IT help" in every user's Start menu: the requester portal,
#    signed in as whoever clicks it (the agent names them from the pipe).
$menu = Join-Path $env:ProgramData 'Microsoft\Windows\Start Menu\Programs'
$shortcut = (New-Object -ComObject WScript.Shell).CreateShortcut((Join-Path $menu 'Get IT help.lnk'))
$shortcut.TargetPath = $exe
$shortcut.Arguments = 'help --open'
$shortcut.Description = 'Ask IT for help and follow your tickets'
$shortcut.WindowStyle = 7
$shortcut.Save()
Write-Host "deskhand agent installed and running; state in $StateDir, log in $(Join-Path $StateDir 'agent.log')"
