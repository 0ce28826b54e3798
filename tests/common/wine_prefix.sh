# wine_prefix.sh — sourced by the Wine harnesses (tests/windows/run_wine.sh,
# tests/mapi/run_wine_mapi.sh): makes a headless, quiet Wine prefix ready.
#
# wine_prefix_setup PREFIX WINEARCH WORK LOGS
#   exports WINEPREFIX/WINEARCH/WINEDEBUG/WINEDLLOVERRIDES (no Mono or Gecko
#   prompts), drops DISPLAY, gives Wine a HOME (WORK) when there is none, and
#   creates the prefix once (wineboot, marked .outpost-ready). Expects $wine,
#   $wineserver and the caller's say, fail, now and since functions.
#   Defines winpath PATH: the Windows path of a Unix one (Wine's Z: drive).

wine_prefix_setup() {
    _prefix=$1 _arch=$2 _work=$3 _logs=$4
    export WINEPREFIX="$_prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" WINEARCH="$_arch"
    unset DISPLAY WAYLAND_DISPLAY
    # Wine wants a home directory; CI containers sometimes have none set.
    [ -n "${HOME:-}" ] && [ -d "$HOME" ] || export HOME="$_work"
    # Wine refuses a prefix that is not owned by the user running it (a build
    # tree made by another user, or by root before a switch to a normal user).
    if [ -e "$_prefix" ] && [ ! -O "$_prefix" ]; then
        say "$_prefix belongs to another user; recreating it"
        rm -rf "$_prefix" || fail "cannot remove $_prefix; delete it or run as its owner"
    fi
    if [ ! -f "$_prefix/.outpost-ready" ]; then
        rm -rf "$_prefix"
        _t=$(now)
        timeout 300 "$wine" wineboot -i >"$_logs/wineboot.log" 2>&1 ||
            { cat "$_logs/wineboot.log"; fail "wineboot -i failed or took over 300 s (log above)"; }
        "$wineserver" -w
        touch "$_prefix/.outpost-ready"
        say "new Wine prefix $_prefix in $(since "$_t")"
    fi
}

winpath() { printf 'Z:%s' "$1" | tr / '\\'; }
