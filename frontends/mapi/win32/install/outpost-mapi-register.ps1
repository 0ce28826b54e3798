# frontends/mapi/win32/install/outpost-mapi-register.ps1 — registers (or with
# -Uninstall removes) the Outpost store provider in the MAPISVC.INF that the
# installed Outlook 2016/2019/2021/365 reads. Run by the MSI as a deferred
# custom action (elevated); safe to run again.
#
# Which MAPISVC.INF: Click-to-Run Office keeps its own under
#   <InstallPath>\root\vfs\System\MAPISVC.INF      (Office bitness = Windows')
#   <InstallPath>\root\vfs\SystemX86\MAPISVC.INF   (32-bit Office on 64-bit Windows)
# with InstallPath and Platform from HKLM\SOFTWARE\Microsoft\Office\ClickToRun\
# Configuration; MSI-installed Office uses %SystemRoot%\System32 (or SysWOW64
# for 32-bit Office on 64-bit Windows). The provider DLL must match Outlook's
# bitness: the 64-bit one lives in %ProgramFiles%\Outpost, the 32-bit one in
# %ProgramFiles(x86)%\Outpost, both named outpost-mapi32.dll.
#
# NOT TESTED on Windows: there was no Windows machine where this was written.
param([switch]$Uninstall)
$ErrorActionPreference = 'Stop'

$here = Split-Path -Parent $MyInvocation.MyCommand.Path
$fragment = Join-Path $here 'outpost-mapisvc.inf'
$win64 = [Environment]::Is64BitOperatingSystem

function Get-Targets {
    $targets = @()
    $c2r = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Office\ClickToRun\Configuration' -ErrorAction SilentlyContinue
    if ($c2r -and $c2r.InstallationPath) {
        $root = Join-Path $c2r.InstallationPath 'root\vfs'
        if ($c2r.Platform -eq 'x86' -and $win64) {
            $targets += @{ Inf = Join-Path $root 'SystemX86\MAPISVC.INF'; Bits = 32 }
        } else {
            $targets += @{ Inf = Join-Path $root 'System\MAPISVC.INF'; Bits = $(if ($c2r.Platform -eq 'x86') { 32 } else { 64 }) }
        }
    }
    foreach ($ver in '16.0') {
        $msi64 = Get-ItemProperty -Path "HKLM:\SOFTWARE\Microsoft\Office\$ver\Outlook" -ErrorAction SilentlyContinue
        if ($msi64 -and $msi64.Bitness) {
            if ($msi64.Bitness -eq 'x86' -and $win64) {
                $targets += @{ Inf = Join-Path $env:SystemRoot 'SysWOW64\MAPISVC.INF'; Bits = 32 }
            } else {
                $targets += @{ Inf = Join-Path $env:SystemRoot 'System32\MAPISVC.INF'; Bits = $(if ($msi64.Bitness -eq 'x86') { 32 } else { 64 }) }
            }
        }
    }
    return $targets
}

# Removes our sections and our [Services] line; keeps everything else as is.
function Remove-Outpost([string[]]$lines) {
    $out = New-Object System.Collections.Generic.List[string]
    $skip = $false
    foreach ($l in $lines) {
        if ($l -match '^\s*\[(.+)\]\s*$') { $skip = $Matches[1] -in @('OUTPOST', 'OUTPOST_MS') }
        if ($skip) { continue }
        if ($l -match '^\s*OUTPOST\s*=') { continue }
        $out.Add($l)
    }
    return $out
}

function Merge-Outpost([System.Collections.Generic.List[string]]$lines, [string]$dllpath) {
    $frag = Get-Content -LiteralPath $fragment | Where-Object { $_ -notmatch '^\s*;' } |
        ForEach-Object { $_.Replace('@DLLPATH@', $dllpath) }
    $service = ($frag | Where-Object { $_ -match '^OUTPOST=' } | Select-Object -First 1)
    $i = $lines.FindIndex({ param($x) $x -match '^\s*\[Services\]\s*$' })
    if ($i -lt 0) { $lines.Add('[Services]'); $i = $lines.Count - 1 }
    $lines.Insert($i + 1, $service)
    $inServices = $false
    foreach ($l in $frag) {
        if ($l -match '^\s*\[Services\]') { $inServices = $true; continue }
        if ($l -match '^\s*\[') { $inServices = $false }
        if (-not $inServices) { $lines.Add($l) }
    }
    return $lines
}

$targets = Get-Targets
if ($targets.Count -eq 0) {
    Write-Warning 'No Outlook 2016/2019/2021/365 found: nothing registered. Install Outlook, then run this script again.'
    exit 0
}
foreach ($t in $targets) {
    $dir = if ($t.Bits -eq 64) { Join-Path $env:ProgramW6432 'Outpost' } else { Join-Path ${env:ProgramFiles(x86)} 'Outpost' }
    if (-not $win64) { $dir = Join-Path $env:ProgramFiles 'Outpost' }
    $dllpath = Join-Path $dir 'outpost-mapi.dll'   # MAPI loads outpost-mapi32.dll
    if (($dllpath.Split('\') | Select-Object -SkipLast 1 | Where-Object { $_ -like '*.*' })) {
        throw "The install path $dir contains a period; MAPI would insert '32' in the wrong place."
    }
    $lines = @()
    if (Test-Path -LiteralPath $t.Inf) { $lines = Get-Content -LiteralPath $t.Inf }
    $kept = Remove-Outpost $lines
    if (-not $Uninstall) { $kept = Merge-Outpost $kept $dllpath }
    if (Test-Path -LiteralPath $t.Inf) { Copy-Item -LiteralPath $t.Inf -Destination "$($t.Inf).outpost-backup" -Force }
    Set-Content -LiteralPath $t.Inf -Value $kept -Encoding Ascii
    Write-Output ("{0} {1} ({2}-bit Outlook)" -f $(if ($Uninstall) { 'Removed from' } else { 'Registered in' }), $t.Inf, $t.Bits)
}
