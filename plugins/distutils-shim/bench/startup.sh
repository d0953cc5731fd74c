#!/usr/bin/env bash
# Interpreter start-up cost of the distutils shim: `python -c pass` in
#
#   plain       a fresh venv (pip only), as `python -m venv` makes it
#   setuptools  the same plus setuptools and wheel (their distutils-precedence.pth alone)
#   shim        an environment prepared by the real hook (pyve-distutils-shim --pyve-rpc):
#               setuptools, wheel and pyve's deferred sitecustomize.py
#   eager       setuptools, wheel and the original tool's sitecustomize.py (`import setuptools`)
#
# Usage: plugins/distutils-shim/bench/startup.sh [PYTHON] [RUNS]
#   PYTHON  a CPython 3.12+ (default: the newest pyenv 3.12, else python3.12)
#   RUNS    runs per case (default 200)
# Needs PyPI (setuptools, wheel). Runs hyperfine when present, then always an interleaved
# timing loop (the cases take turns, so a busy machine skews them alike; medians reported).
# Nothing is written outside a temporary directory (HOME and caches point into it).
# PYVE_DISTUTILS_SHIM may name the plugin executable; otherwise it is built with cargo.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
python=${1:-}
runs=${2:-200}
if [[ -z $python ]]; then
    python=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12.*/bin/python3.12 2>/dev/null | sort -V | tail -n 1 || true)
    [[ -n $python ]] || python=$(command -v python3.12)
fi
[[ -x $python ]] || { echo "ERROR: no Python 3.12+ found; pass one: $0 /path/to/python3.12" >&2; exit 1; }

plugin=${PYVE_DISTUTILS_SHIM:-}
if [[ -z $plugin ]]; then
    # The plugin's own speed does not matter here: a debug build is enough.
    (cd "$root" && cargo build -q -p pyve-distutils-shim --bin pyve-distutils-shim)
    plugin="${CARGO_TARGET_DIR:-$root/target}/debug/pyve-distutils-shim"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/pyve-shim-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" XDG_CACHE_HOME="$work/home/.cache"
mkdir -p "$HOME"
unset SETUPTOOLS_USE_DISTUTILS PYVE_DISABLE_DISTUTILS_SHIM
cd "$work"

echo "Python: $("$python" -VV | head -n 1) ($python)" >&2
echo "PYTHONDONTWRITEBYTECODE=${PYTHONDONTWRITEBYTECODE:-}" >&2

for env in plain setuptools shim eager; do
    "$python" -m venv "$env"
done
for env in setuptools eager; do
    "$env/bin/python" -m pip install -q --disable-pip-version-check setuptools wheel
done
# The real hook, through the protocol, as pyve runs it.
params=$(printf '{"project_root":"%s","backend":"venv","env_path":"%s/shim","interpreter":"%s/shim/bin/python","created":true}' \
    "$work" "$work" "$work")
{
    printf '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocol_versions":["1.0"],"host":{"name":"bench","version":"0"}}}\n'
    printf '{"jsonrpc":"2.0","id":2,"method":"hook/post-create","params":%s}\n' "$params"
    # Keep stdin open until the hook has answered (end of input would cancel it).
    for _ in $(seq 3000); do
        grep -q '"id":2' "$work/rpc.out" 2>/dev/null && break
        sleep 0.1
    done
    printf '{"jsonrpc":"2.0","id":3,"method":"shutdown"}\n'
} | "$plugin" --pyve-rpc > "$work/rpc.out"
grep -q '"result":{"changed":true' "$work/rpc.out" || { echo "ERROR: the hook did not install the shim:" >&2; cat "$work/rpc.out" >&2; exit 1; }
site=$("$work/eager/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
printf '# pyve-managed: distutils shim\nimport os\nos.environ.setdefault("SETUPTOOLS_USE_DISTUTILS", "local")\nimport setuptools  # noqa: F401\n' \
    > "$site/sitecustomize.py"
"$work/eager/bin/python" -c 'import py_compile, sys; py_compile.compile(sys.argv[1])' "$site/sitecustomize.py"

for env in plain setuptools shim eager; do
    "$env/bin/python" -c pass # warm the page cache and write any bytecode
done

if command -v hyperfine > /dev/null; then
    hyperfine -N --warmup 20 --runs "$runs" \
        -n plain 'plain/bin/python -c pass' \
        -n setuptools 'setuptools/bin/python -c pass' \
        -n shim 'shim/bin/python -c pass' \
        -n eager 'eager/bin/python -c pass'
fi

echo
echo "Interleaved, $runs runs each:"
"$python" - "$runs" <<'EOF'
import os, statistics, sys, time
runs = int(sys.argv[1])
envs = ("plain", "setuptools", "shim", "eager")
times = {env: [] for env in envs}
devnull = os.open(os.devnull, os.O_RDWR)
def once(env):
    argv = [env + "/bin/python", "-c", "pass"]
    t = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1)])
    _, status = os.waitpid(pid, 0)
    assert status == 0, (env, status)
    return (time.perf_counter() - t) * 1000
for env in envs:
    for _ in range(10):
        once(env)
for i in range(runs):
    order = envs[i % 4:] + envs[:i % 4]
    for env in order:
        times[env].append(once(env))
med = {env: statistics.median(t) for env, t in times.items()}
for env in envs:
    t = times[env]
    print("%-10s median %6.2f ms  mean %6.2f ms  min %6.2f ms  %5.2fx plain (median)"
          % (env, med[env], statistics.mean(t), min(t), med[env] / med["plain"]))
EOF
