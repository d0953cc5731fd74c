#!/usr/bin/env bash
# The benchmarks of DESIGN.md section 6, measured side by side in one run, printed as Markdown
# (also written to bench/.work/results.md). Usage: bench/run.sh [RUNS]
#
# Needs hyperfine (apt-get install hyperfine) and python3. Everything happens under
# bench/.work with HOME, the cache and the plugin path isolated there.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-200}
ROOT=$PWD
W=$ROOT/bench/.work
R=$ROOT/target/release

command -v hyperfine >/dev/null || { echo "bench/run.sh needs hyperfine: apt-get install hyperfine" >&2; exit 1; }

echo "building (release)..." >&2
cargo build --release --workspace --bins --examples -q

rm -rf "$W"
mkdir -p "$W/home"
export HOME=$W/home XDG_CACHE_HOME=$W/cache PYVE_HOME=$W/home/.pyve
unset PYVE_PLUGIN_PATH

# hyperfine's JSON -> "median mean stddev" in milliseconds for each command, one line each.
medians() {
    python3 - "$1" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print("%.3f %.3f %.3f" % (r["median"] * 1e3, r["mean"] * 1e3, r["stddev"] * 1e3))
PY
}

out=$W/results.md
{
echo "## Run of $(date -u +%Y-%m-%d) on $(uname -srm)"
echo
echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) cores)"
echo "- memory: $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- pyve $($R/pyve --version | awk '{print $3}'), release build; hyperfine $(hyperfine --version | awk '{print $2}'), $RUNS runs per command"
echo
} > "$out"

# 1. Passthrough dispatch: pyve hello --version against pyve-hello --version.
P=$W/passthrough
mkdir -p "$P"
cp "$R/pyve" "$R/examples/pyve-hello" "$P/"
hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$W/passthrough.json" \
    "$P/pyve hello --version" "$P/pyve-hello --version" >&2
read -r via_med via_mean via_sd < <(medians "$W/passthrough.json" | sed -n 1p)
read -r dir_med dir_mean dir_sd < <(medians "$W/passthrough.json" | sed -n 2p)
{
echo "### Passthrough dispatch (target: at most 1 ms added, median)"
echo
echo "| command | median (ms) | mean ± σ (ms) |"
echo "|---|---|---|"
echo "| \`pyve-hello --version\` | $dir_med | $dir_mean ± $dir_sd |"
echo "| \`pyve hello --version\` | $via_med | $via_mean ± $via_sd |"
echo "| **added by pyve** | **$(python3 -c "print('%.3f' % ($via_med - $dir_med))")** | |"
echo
} >> "$out"

# 2. pyve --list with 1, 10 and 100 plugins on PATH, cold and warm cache.
{
echo "### \`pyve --list\` with N plugins on PATH (target: 100 plugins warm within 50 ms)"
echo
echo "| plugins | cold cache: median (ms) | warm cache: median (ms) | warm: mean ± σ (ms) |"
echo "|---|---|---|---|"
} >> "$out"
for n in 1 10 100; do
    L=$W/list-$n
    mkdir -p "$L/bin" "$L/pyve"
    cp "$R/pyve" "$L/pyve/"
    for i in $(seq -f "%03g" 1 "$n"); do cp "$R/bench-plugin" "$L/bin/pyve-p$i"; done
    cold_runs=$(( n == 100 ? 20 : 50 ))
    PATH="$L/bin:/usr/bin:/bin" XDG_CACHE_HOME="$L/cache" hyperfine -N --runs "$cold_runs" \
        --prepare "rm -rf $L/cache" --export-json "$W/list-$n-cold.json" "$L/pyve/pyve --list" >&2
    PATH="$L/bin:/usr/bin:/bin" XDG_CACHE_HOME="$L/cache" hyperfine -N --warmup 5 --runs "$RUNS" \
        --export-json "$W/list-$n-warm.json" "$L/pyve/pyve --list" >&2
    read -r c_med _ _ < <(medians "$W/list-$n-cold.json")
    read -r w_med w_mean w_sd < <(medians "$W/list-$n-warm.json")
    echo "| $n | $c_med | $w_med | $w_mean ± $w_sd |" >> "$out"
done
echo >> "$out"

# 3. RPC: a session with the example plugin as an executable and as a library.
{
echo "### RPC session: executable against dynamic library (target: the library at most 1/50 of the process)"
echo
"$R/rpc-roundtrip" "$R/examples/pyve-hello" "$R/examples/libhello_dylib.so" "$RUNS"
echo
} >> "$out"

# 4. Start-up.
hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$W/startup.json" "$R/pyve --version" "$R/pyve --help" >&2
read -r v_med v_mean v_sd < <(medians "$W/startup.json" | sed -n 1p)
read -r h_med h_mean h_sd < <(medians "$W/startup.json" | sed -n 2p)
{
echo "### Start-up (target: under 1.5 ms)"
echo
echo "| command | median (ms) | mean ± σ (ms) |"
echo "|---|---|---|"
echo "| \`pyve --version\` | $v_med | $v_mean ± $v_sd |"
echo "| \`pyve --help\` | $h_med | $h_mean ± $h_sd |"
echo
} >> "$out"

cat "$out"
