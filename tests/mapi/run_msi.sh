#!/bin/sh
# tests/mapi/run_msi.sh — builds the provider MSI (ctest mapi_msi, label mapi)
# and checks its contents with msitools: both DLLs, each in its Program Files
# directory under the name MAPI loads (outpost-mapi32.dll), the right bitness
# (x86-64 and i386 PE), only MSProviderInit and ServiceEntry exported, the
# registration script and MAPISVC.INF fragment, the HKLM\SOFTWARE\Outpost\MAPI
# values, and the deferred custom actions that register and unregister.
# Usage: run_msi.sh SOURCE_DIR WORK_DIR. Exit 77 without mingw-w64 or wixl.
set -u
src=$1
work=$2
say() { printf 'run_msi: %s\n' "$*"; }
passed=0 failed=0
check() { # check DESCRIPTION COMMAND...
    d=$1
    shift
    if "$@" >/dev/null 2>&1; then say "ok   - $d"; passed=$((passed + 1)); else say "FAIL - $d"; failed=$((failed + 1)); fi
}
for t in x86_64-w64-mingw32-gcc i686-w64-mingw32-gcc wixl msiinfo msiextract; do
    command -v $t >/dev/null 2>&1 || { say "skipped: $t not found (scripts/deps.sh installs mingw-w64, msitools, wixl)"; exit 77; }
done
mkdir -p "$work"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$work/.lock"
    flock -w 600 9 || { say "another run holds $work/.lock"; exit 1; }
fi
unset CC CFLAGS CPPFLAGS LDFLAGS MAKEFLAGS MFLAGS MAKELEVEL
for arch in x86_64 i686; do
    b=$work/cross-$arch
    if [ ! -f "$b/CMakeCache.txt" ]; then
        cmake -S "$src/frontends/mapi/win32" -B "$b" -DCMAKE_TOOLCHAIN_FILE="$src/cmake/mingw-w64-$arch.cmake" \
            >"$work/configure-$arch.log" 2>&1 || { cat "$work/configure-$arch.log"; exit 1; }
    fi
    cmake --build "$b" -j2 --target "$( [ $arch = x86_64 ] && echo outpost-mapi64 || echo outpost-mapi32 )" \
        >"$work/build-$arch.log" 2>&1 || { cat "$work/build-$arch.log"; exit 1; }
    if grep -q 'warning:' "$work/build-$arch.log"; then
        grep 'warning:' "$work/build-$arch.log"
        say "FAIL: the $arch cross build has warnings"
        exit 1
    fi
done
msi=$work/outpost-mapi.msi
rm -f "$msi"
"$src/frontends/mapi/win32/install/make_msi.sh" "$work/cross-x86_64/outpost-mapi64.dll" \
    "$work/cross-i686/outpost-mapi32.dll" "$msi" 0.1.0 >"$work/wixl.log" 2>&1
check "wixl builds outpost-mapi.msi" test -s "$msi"
[ -s "$msi" ] || { cat "$work/wixl.log"; exit 1; }

msiinfo export "$msi" File | tr -d '\r' >"$work/File.idt"
msiinfo export "$msi" Component | tr -d '\r' >"$work/Component.idt"
msiinfo export "$msi" Directory | tr -d '\r' >"$work/Directory.idt"
msiinfo export "$msi" Registry | tr -d '\r' >"$work/Registry.idt"
msiinfo export "$msi" CustomAction | tr -d '\r' >"$work/CustomAction.idt"
msiinfo export "$msi" InstallExecuteSequence | tr -d '\r' >"$work/Sequence.idt"
msiinfo suminfo "$msi" >"$work/suminfo.txt"

check "64-bit package (Template x64)" grep -q 'x64;' "$work/suminfo.txt"
check "File: outpost-mapi32.dll of component Provider64" grep -Eq '^Dll64	Provider64	outpost-mapi32\.dll' "$work/File.idt"
check "File: outpost-mapi32.dll of component Provider32" grep -Eq '^Dll32	Provider32	outpost-mapi32\.dll' "$work/File.idt"
check "File: outpost-mapi-register.ps1 and outpost-mapisvc.inf" sh -c "grep -q 'outpost-mapi-register.ps1' '$work/File.idt' && grep -q 'outpost-mapisvc.inf' '$work/File.idt'"
check "Provider64 is a 64-bit component in ProgramFiles64Folder\\Outpost" sh -c "grep -Eq '^Provider64	[^	]*	INSTALLDIR64	256	' '$work/Component.idt' && grep -Eq '^INSTALLDIR64	ProgramFiles64Folder	Outpost' '$work/Directory.idt'"
check "Provider32 is a 32-bit component in ProgramFilesFolder\\Outpost" sh -c "grep -Eq '^Provider32	[^	]*	INSTALLDIR32	0	' '$work/Component.idt' && grep -Eq '^INSTALLDIR32	ProgramFilesFolder	Outpost' '$work/Directory.idt'"
check "Registry: HKLM\\SOFTWARE\\Outpost\\MAPI InstallDir64, InstallDir32, Version" sh -c "grep -c 'SOFTWARE\\\\Outpost\\\\MAPI' '$work/Registry.idt' | grep -q 4"
check "CustomAction RegisterProvider: deferred, elevated, runs outpost-mapi-register.ps1" grep -Eq '^RegisterProvider	3186	POWERSHELLEXE	.*outpost-mapi-register\.ps1"	' "$work/CustomAction.idt"
check "CustomAction UnregisterProvider runs it with -Uninstall" grep -Eq '^UnregisterProvider	3186	POWERSHELLEXE	.*-Uninstall' "$work/CustomAction.idt"
check "InstallExecuteSequence: register after InstallFiles, unregister on REMOVE=ALL" sh -c "grep -q '^RegisterProvider	NOT REMOVE' '$work/Sequence.idt' && grep -q '^UnregisterProvider	REMOVE=\"ALL\"' '$work/Sequence.idt'"

rm -rf "$work/extract" && mkdir -p "$work/extract"
(cd "$work/extract" && msiextract "$msi" >"$work/msiextract.log" 2>&1)
# msiextract lays the directories out its own way: tell the DLLs apart by format.
x64= x86=
for f in $(find "$work/extract" -name outpost-mapi32.dll | tr ' ' '?'); do
    f=$(printf '%s' "$f" | tr '?' ' ')
    fmt=$(x86_64-w64-mingw32-objdump -f "$f" 2>/dev/null | sed -n 's/.*file format //p')
    case $fmt in pei-x86-64) x64=$f ;; pei-i386) x86=$f ;; esac
done
check "msiextract: a 64-bit outpost-mapi32.dll (pe-x86-64)" sh -c "[ -n '$x64' ] && x86_64-w64-mingw32-objdump -f '$x64' | grep -q 'file format pei-x86-64'"
check "msiextract: a 32-bit outpost-mapi32.dll (pe-i386)" sh -c "[ -n '$x86' ] && i686-w64-mingw32-objdump -f '$x86' | grep -q 'file format pei-i386'"
for f in "$x64" "$x86"; do
    [ -n "$f" ] || continue
    ex=$(x86_64-w64-mingw32-objdump -p "$f" | sed -n '/\[Ordinal\/Name Pointer\] Table/,/^$/p' |
        sed -n 's/^[[:space:]]*\[ *[0-9]*\] //p' | tr '\n' ' ')
    check "exports of ${f#"$work/extract/"}: $ex" test "$ex" = "MSProviderInit ServiceEntry "
done
check "msiextract: outpost-mapisvc.inf names the store provider" sh -c "grep -rq 'PR_RESOURCE_TYPE=MAPI_STORE_PROVIDER' '$work/extract'"
say "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
