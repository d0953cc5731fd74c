#!/usr/bin/env bash
# The benchmarks of DESIGN.md section 6, measured side by side in one run, printed as Markdown
# (also written to bench/.work/results.md). Usage: bench/run.sh [RUNS]
#
# Needs hyperfine (apt-get install hyperfine), GNU time, python3 and pyenv's CPython
# (PYENV_ROOT, default ~/.pyenv; BENCH_PYTHON picks the version, default the newest 3.11).
# uv and virtualenv are installed from PyPI into bench/.work/tools. Everything happens under
# bench/.work with HOME, the cache and the plugin path isolated there. bench/init.sh (called here)
# adds pyve --init on every interpreter 3.8-3.13, the default first (INIT_ALL_RUNS, COLD_RUNS).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-200}
ROOT=$PWD
W=$ROOT/bench/.work
R=$ROOT/target/release

command -v hyperfine >/dev/null || { echo "bench/run.sh needs hyperfine: apt-get install hyperfine" >&2; exit 1; }

echo "building (release)..." >&2
cargo build --release --workspace --lib --bins --examples -q

PYENV_ROOT=${PYENV_ROOT:-$HOME/.pyenv}
PYV=${BENCH_PYTHON:-$(ls "$PYENV_ROOT/versions" | grep -E '^3\.11\.[0-9]+$' | sort -t. -k3 -n | tail -1)}
PY=$PYENV_ROOT/versions/$PYV/bin/python${PYV%.*}
[ -x "$PY" ] || { echo "no CPython $PYV under $PYENV_ROOT (set BENCH_PYTHON)" >&2; exit 1; }
export PYENV_ROOT

rm -rf "$W"
mkdir -p "$W/home"
echo "installing uv and virtualenv into $W/tools..." >&2
"$PY" -m venv "$W/tools" && "$W/tools/bin/pip" install -q --disable-pip-version-check uv virtualenv >&2
export HOME=$W/home XDG_CACHE_HOME=$W/cache PYVE_HOME=$W/home/.pyve
# Python writes and reuses its bytecode, as on a developer's machine (without it every pytest
# run recompiles pytest, which hides everything else in noise).
unset PYVE_PLUGIN_PATH CI PYVE_FORCE_YES PYTHONDONTWRITEBYTECODE

# hyperfine's JSON -> "median mean stddev" in milliseconds for each command, one line each.
medians() {
    python3 - "$1" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print("%.3f %.3f %.3f" % (r["median"] * 1e3, r["mean"] * 1e3, (r["stddev"] or 0) * 1e3))
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

# 4. pyve --init (venv, pip seeded) against python -m venv, virtualenv and uv venv --seed.
I=$W/install            # pyve installed with its bundled plugins, as a user has it
mkdir -p "$I"
cp "$R/pyve" "$R/pyve-venv" "$I/"
for f in pyve-distutils-shim libpyve_distutils_shim.so pyve-testenv; do [ -e "$R/$f" ] && cp "$R/$f" "$I/"; done
P=$W/project
mkdir -p "$P"
cd "$P"
clean="rm -rf .venv .pyve .env .gitignore .python-version"
"$I/pyve" --init --no-direnv --python-version "$PYV" -q && $clean      # warm the wheel and plugin caches
"$W/tools/bin/uv" venv -q --seed -p "$PY" .venv && rm -rf .venv           # uv's cache (pip) for --offline
"$W/tools/bin/virtualenv" -q -p "$PY" .venv && rm -rf .venv              # virtualenv's app-data
INIT_RUNS=${INIT_RUNS:-10}
FAST_RUNS=${FAST_RUNS:-40}
# Every run starts from the same state: no environment, and nothing left for the kernel to
# write back from the previous run (python -m venv writes a lot).
prep="sh -c '$clean && sync'"
hyperfine -N --runs "$FAST_RUNS" --prepare "$prep" --export-json "$W/init-fast.json" \
    -n "pyve --init --no-direnv" "$I/pyve --init --no-direnv --python-version $PYV -q" \
    -n "uv venv --seed --offline" "$W/tools/bin/uv venv -q --seed --offline -p $PY .venv" >&2
hyperfine -N --runs "$INIT_RUNS" --prepare "$prep" --export-json "$W/init-slow.json" \
    -n "python -m venv" "$PY -m venv .venv" \
    -n "virtualenv" "$W/tools/bin/virtualenv -q -p $PY .venv" >&2
python3 - "$W/init-fast.json" "$W/init-slow.json" "$W/init.json" <<'PY'
import json, sys
fast, slow = (json.load(open(p))["results"] for p in sys.argv[1:3])
json.dump({"results": [fast[0], slow[0], slow[1], fast[1]]}, open(sys.argv[3], "w"))
PY
peak() { /usr/bin/time -f %M -o "$W/peak" "$@" >/dev/null 2>&1; $clean; cat "$W/peak"; }
mem_pyve=$(peak "$I/pyve" --init --no-direnv --python-version "$PYV" -q)
mem_venv=$(peak "$PY" -m venv .venv)
mem_virtualenv=$(peak "$W/tools/bin/virtualenv" -q -p "$PY" .venv)
mem_uv=$(peak "$W/tools/bin/uv" venv -q --seed --offline -p "$PY" .venv)
mapfile -t init_rows < <(medians "$W/init.json")
read -r venv_med _ _ <<<"${init_rows[1]}"
{
echo "### \`pyve --init\` against the others, Python $PYV, pip seeded (target: at most 1/20 of \`python -m venv\`, stretch 1/50; no slower than uv)"
echo
echo "| command | median (ms) | mean ± σ (ms) | vs \`python -m venv\` | peak memory (MiB) |"
echo "|---|---|---|---|---|"
names=("\`pyve --init --no-direnv\`" "\`python -m venv .venv\`" "\`virtualenv .venv\`" "\`uv venv --seed --offline\`")
mems=("$mem_pyve" "$mem_venv" "$mem_virtualenv" "$mem_uv")
for i in 0 1 2 3; do
    read -r med mean sd <<<"${init_rows[$i]}"
    echo "| ${names[$i]} | $med | $mean ± $sd | 1/$(python3 -c "print('%.0f' % ($venv_med / $med))") | $(python3 -c "print('%.1f' % (${mems[$i]} / 1024))") |"
done
echo
echo "pyve's row includes everything \`pyve --init\` does: resolving the interpreter and pinning it (\`.python-version\`), the venv with pip (and setuptools on 3.11), the post-create hooks, \`.env\`, \`.gitignore\`, \`.pyve/config\`."
echo
} >> "$out"

# 4b. pyve --init on every interpreter (the default first) against uv venv --seed --offline, and
# the cold first run on 3.12+ against pip install setuptools wheel (bench/init.sh).
cd "$ROOT"
bash bench/init.sh "$I" "$W/tools/bin/uv" "${INIT_ALL_RUNS:-20}" >> "$out"
cd "$P"

# 5. pyve run against the direct call.
"$I/pyve" --init --no-direnv --python-version "$PYV" -q
hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$W/run.json" \
    -n "pyve run python -c pass" "$I/pyve run python -c pass" \
    -n ".venv/bin/python -c pass" "$P/.venv/bin/python -c pass" >&2
read -r run_med run_mean run_sd < <(medians "$W/run.json" | sed -n 1p)
read -r py_med py_mean py_sd < <(medians "$W/run.json" | sed -n 2p)
mem_run=$(/usr/bin/time -f %M "$I/pyve" run python -c pass 2>&1 >/dev/null | tail -1)
mem_py=$(/usr/bin/time -f %M "$P/.venv/bin/python" -c pass 2>&1 >/dev/null | tail -1)
{
echo "### \`pyve run\` overhead (target: at most 1.1x the direct call)"
echo
echo "| command | median (ms) | mean ± σ (ms) | peak memory (MiB) |"
echo "|---|---|---|---|"
echo "| \`.venv/bin/python -c pass\` | $py_med | $py_mean ± $py_sd | $(python3 -c "print('%.1f' % ($mem_py / 1024))") |"
echo "| \`pyve run python -c pass\` | $run_med | $run_mean ± $run_sd | $(python3 -c "print('%.1f' % ($mem_run / 1024))") |"
echo "| **ratio** | **$(python3 -c "print('%.3f' % ($run_med / $py_med))")x** | | |"
echo
} >> "$out"

# 5b. pyve doctor: the host's part (outside a project: no plugin is started; manifests come
# from the cache) and the whole diagnosis of the venv project, whose backend part (a session
# with pyve-venv: env/describe, env/activation, doctor/checks, which starts the environment's
# python) is also measured alone.
doctor_rpc=$W/doctor-rpc.jsonl
{
printf '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"pyve","version":"0"},"project":{"root":"%s"},"settings":{"interactive":false,"color":false}}}\n' "$P"
printf '{"jsonrpc":"2.0","id":2,"method":"doctor/checks","params":{"project_root":"%s","backend":"venv","settings":{"directory":".venv"}}}\n' "$P"
printf '{"jsonrpc":"2.0","id":3,"method":"shutdown"}\n'
} > "$doctor_rpc"
mkdir -p "$W/outside"
"$I/pyve" doctor >/dev/null    # warm the manifest cache; the project is healthy (exit 0)
hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$W/doctor.json" "$I/pyve doctor" >&2
# Outside a project doctor exits 1 (no environment): -i accepts that.
(cd "$W/outside" && hyperfine -N -i --warmup 5 --runs "$RUNS" --export-json "$W/doctor-outside.json" \
    "$I/pyve doctor" >&2)
# The host's part in the project: the same project, an installation without the backend's
# plugin (every host check runs; doctor exits 1 for the missing plugin).
I2=$W/install-no-backend
mkdir -p "$I2" && cp "$I/pyve" "$I2/"
hyperfine -N -i --warmup 5 --runs "$RUNS" --export-json "$W/doctor-host.json" "$I2/pyve doctor" >&2
hyperfine --shell=bash --warmup 3 --runs "$RUNS" --export-json "$W/doctor-plugin.json" \
    "$I/pyve-venv --pyve-rpc < $doctor_rpc > /dev/null" >&2
read -r dout_med dout_mean dout_sd < <(medians "$W/doctor-outside.json" | sed -n 1p)
read -r dproj_med dproj_mean dproj_sd < <(medians "$W/doctor.json" | sed -n 1p)
read -r dplug_med dplug_mean dplug_sd < <(medians "$W/doctor-plugin.json" | sed -n 1p)
read -r dhost_med dhost_mean dhost_sd < <(medians "$W/doctor-host.json" | sed -n 1p)
{
echo "### \`pyve doctor\` (target: the host's part under 5 ms)"
echo
echo "| command | median (ms) | mean ± σ (ms) |"
echo "|---|---|---|"
echo "| \`pyve doctor\` outside a project (the host alone: no plugin started) | $dout_med | $dout_mean ± $dout_sd |"
echo "| \`pyve doctor\` in the venv project, the host's part (no backend plugin installed) | $dhost_med | $dhost_mean ± $dhost_sd |"
echo "| \`pyve doctor\` in the venv project (host and backend) | $dproj_med | $dproj_mean ± $dproj_sd |"
echo "| a \`pyve-venv --pyve-rpc\` session: \`doctor/checks\` alone (through bash) | $dplug_med | $dplug_mean ± $dplug_sd |"
echo
} >> "$out"

# 6. pyve --purge against rm -rf of the same tree.
setup="$I/pyve --init --no-direnv --python-version $PYV -q"
$clean
hyperfine -N --runs "$RUNS" --prepare "$setup" --export-json "$W/purge.json" \
    -n "pyve --purge" "$I/pyve --purge -q" \
    -n "rm -rf (the same tree)" "rm -rf .venv .pyve .env .gitignore .python-version" >&2
read -r pg_med pg_mean pg_sd < <(medians "$W/purge.json" | sed -n 1p)
read -r rm_med rm_mean rm_sd < <(medians "$W/purge.json" | sed -n 2p)
$setup
mem_purge=$(/usr/bin/time -f %M "$I/pyve" --purge -q 2>&1 >/dev/null | tail -1)
{
echo "### \`pyve --purge\` (target: at most 1.3x \`rm -rf\` of the same tree)"
echo
echo "| command | median (ms) | mean ± σ (ms) |"
echo "|---|---|---|"
echo "| \`rm -rf .venv .pyve .env .gitignore .python-version\` | $rm_med | $rm_mean ± $rm_sd |"
echo "| \`pyve --purge\` | $pg_med | $pg_mean ± $pg_sd |"
echo "| **ratio** | **$(python3 -c "print('%.2f' % ($pg_med / $rm_med))")x** | |"
echo
echo "Peak memory of \`pyve --purge\`: $(python3 -c "print('%.1f' % ($mem_purge / 1024))") MiB."
echo
} >> "$out"
# 7. pyve test against running pytest from the test environment directly.
"$I/pyve" -q testenv --init && "$I/pyve" -q testenv --install >/dev/null
mkdir -p tests && printf 'def test_ok():\n    assert True\n' > tests/test_ok.py
TEST_RUNS=${TEST_RUNS:-100}
hyperfine -N --warmup 5 --runs "$TEST_RUNS" --export-json "$W/test.json" \
    -n "pyve test -q" "$I/pyve test -q -p no:cacheprovider" \
    -n "python -m pytest -q" "$P/.pyve/testenv/venv/bin/python -m pytest -q -p no:cacheprovider" >&2
read -r pt_med pt_mean pt_sd < <(medians "$W/test.json" | sed -n 1p)
read -r dt_med dt_mean dt_sd < <(medians "$W/test.json" | sed -n 2p)
# The same path (pyve -> pyve-testenv -> exec) without pytest's own variance.
hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$W/testrun.json" \
    -n "pyve testenv run python -c pass" "$I/pyve testenv run python -c pass" \
    -n "python -c pass" "$P/.pyve/testenv/venv/bin/python -c pass" >&2
read -r tr_med tr_mean tr_sd < <(medians "$W/testrun.json" | sed -n 1p)
read -r dp_med dp_mean dp_sd < <(medians "$W/testrun.json" | sed -n 2p)
# The dispatch alone, interleaved (bench/interleave.c): the exec plan pyve-testenv left (pyve
# execs the program itself), without plans (pyve -> pyve-testenv -> the program), and the
# program run directly.
gcc -O2 -o "$W/interleave" "$ROOT/bench/interleave.c"
"$I/pyve" testenv run true && "$I/pyve" testenv run true
"$W/interleave" "$RUNS" /bin/true -- "$I/pyve" testenv run true -- @PYVE_NO_EXEC_PLANS=1 "$I/pyve" testenv run true \
    > "$W/plan.txt"
read -r true_med plan_med noplan_med < <(awk '{for (i = 1; i <= NF; i++) if ($i == "median") m = m " " $(i + 1)} END {print m}' "$W/plan.txt")
{
echo "### \`pyve test\` (target: at most 1 ms added)"
echo
echo "| command | median (ms) | mean ± σ (ms) |"
echo "|---|---|---|"
echo "| \`.pyve/testenv/venv/bin/python -m pytest -q\` (one test) | $dt_med | $dt_mean ± $dt_sd |"
echo "| \`pyve test -q\` | $pt_med | $pt_mean ± $pt_sd |"
echo "| added by pyve (within pytest's own spread) | $(python3 -c "print('%.2f' % ($pt_med - $dt_med))") | |"
echo "| \`.pyve/testenv/venv/bin/python -c pass\` | $dp_med | $dp_mean ± $dp_sd |"
echo "| \`pyve testenv run python -c pass\` (the same dispatch as \`pyve test\`) | $tr_med | $tr_mean ± $tr_sd |"
echo "| **added by pyve's dispatch** | **$(python3 -c "print('%.2f' % ($tr_med - $dp_med))")** | |"
echo
echo "The dispatch alone, interleaved ($RUNS rounds, medians in ms): \`/bin/true\` $true_med;"
echo "\`pyve testenv run true\` from its exec plan $plan_med (**$(python3 -c "print('%.2f' % ($plan_med - $true_med))") ms added**),"
echo "with \`PYVE_NO_EXEC_PLANS=1\` (pyve, then pyve-testenv) $noplan_med ($(python3 -c "print('%.2f' % ($noplan_med - $true_med))") ms added)."
echo
} >> "$out"
cd "$ROOT"

# 8. Python start-up in an environment with the distutils shim, against a plain venv.
PY312=$(ls -d "$PYENV_ROOT"/versions/3.12.*/bin/python3.12 2>/dev/null | sort -V | tail -n 1 || true)
if [ -n "$PY312" ]; then
    PYVE_DISTUTILS_SHIM="$R/pyve-distutils-shim" bash plugins/distutils-shim/bench/startup.sh "$PY312" "$RUNS" > "$W/shim.txt" 2>"$W/shim.err"
    {
    echo "### Python start-up with the distutils shim (target: at most 1.1x a plain venv)"
    echo
    echo "\`python -c pass\` in a plain venv, with setuptools only, with pyve's shim (setuptools, wheel and the deferred \`sitecustomize.py\`), and with the original tool's eager \`import setuptools\`; $(head -1 "$W/shim.err"); cases interleaved:"
    echo
    echo '```'
    sed -n '/^Interleaved/,$p' "$W/shim.txt"
    echo '```'
    echo
    } >> "$out"
fi

# 9. Start-up.
mem_version=$(/usr/bin/time -f %M "$R/pyve" --version 2>&1 >/dev/null | tail -1)
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
echo "Peak memory of \`pyve --version\`: $(python3 -c "print('%.1f' % ($mem_version / 1024))") MiB."
echo
} >> "$out"

# 10. What `pyve --install` puts on the user's PATH (stripped copies), against the build.
IH=$W/install-home
mkdir -p "$IH"
HOME=$IH SHELL=/bin/bash "$R/pyve" --install >/dev/null 2>&1
{
echo "### What \`pyve --install\` installs (target: at most 35 MB in all)"
echo
echo "| file | installed (MB) | as built (MB) |"
echo "|---|---|---|"
total=0
built_total=0
for f in "$IH"/.local/bin/*; do
    [ -f "$f" ] || continue
    n=$(basename "$f")
    size=$(stat -c %s "$f")
    built=$(stat -c %s "$R/$n" 2>/dev/null || echo 0)
    total=$((total + size))
    built_total=$((built_total + built))
    echo "| \`$n\` | $(python3 -c "print('%.1f' % ($size / 1e6))") | $(python3 -c "print('%.1f' % ($built / 1e6))") |"
done
echo "| **all** | **$(python3 -c "print('%.1f' % ($total / 1e6))")** | $(python3 -c "print('%.1f' % ($built_total / 1e6))") |"
echo
} >> "$out"

# 11. Cold build times of the README's commands (slow: only with BENCH_BUILD=1).
if [ "${BENCH_BUILD:-0}" = 1 ]; then
    bash bench/build.sh >> "$out"
else
    {
    echo "### Cold builds"
    echo
    echo "Not measured in this run: \`BENCH_BUILD=1 bench/run.sh\` (or \`bench/build.sh\` alone) builds the README's commands from empty target directories (20-30 minutes on 2 cores)."
    echo
    } >> "$out"
fi

cat "$out"
