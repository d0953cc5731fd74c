#!/usr/bin/env bash
# A project with 10 dependencies, side by side in one run (printed as Markdown):
#   pyve --init (venv, dependencies installed through uv)   vs   uv venv && uv pip install -r
#   pyve --init of a uv project (uv.lock installed exactly) vs   uv sync
#   pyve sync with nothing to do                             vs   uv sync with nothing to do
# with warm caches (filled once), then the first two pairs again with cold caches (uv's cache
# and pyve's deleted before every run: the packages come from the index).
#
# Usage: bench/deps.sh INSTALL_DIR UV [RUNS [COLD_RUNS]]   (run alone, export HOME,
# XDG_CACHE_HOME and PYVE_HOME to a scratch directory first). INSTALL_DIR holds pyve and its
# plugins (target/release); UV is a uv binary.
set -euo pipefail
I=$(cd "$1" && pwd)
UV=$2
RUNS=${3:-10}
COLD_RUNS=${4:-3}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}
export UV_CACHE_DIR=$CACHE/uv
PYENV_ROOT=${PYENV_ROOT:-$HOME/.pyenv}
W=$(mktemp -d "${TMPDIR:-/tmp}/pyve-bench-deps.XXXXXX")
trap 'rm -rf "$W"' EXIT
export PYENV_ROOT PIP_DISABLE_PIP_VERSION_CHECK=1 PYVE_DISABLE_DISTUTILS_SHIM=1
export PATH="$(dirname "$UV"):$PATH"

PY=$(ls -d "$PYENV_ROOT"/versions/3.11.* | sort -t. -k3 -n | tail -1)/bin/python3.11
DEPS="six iniconfig tomli packaging pluggy idna certifi attrs typing-extensions colorama"

medians() {
    python3 - "$1" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print("%.1f %.1f %.1f" % (r["median"] * 1e3, r["mean"] * 1e3, (r["stddev"] or 0) * 1e3))
PY
}

# The two projects: requirements.txt, and a uv project (pyproject.toml + uv.lock).
mkdir -p "$W/req" "$W/uvp"
printf '%s\n' $DEPS > "$W/req/requirements.txt"
{
    printf '[project]\nname = "bench"\nversion = "0.1.0"\nrequires-python = ">=3.11"\ndependencies = ['
    for d in $DEPS; do printf '"%s", ' "$d"; done
    printf ']\n'
} > "$W/uvp/pyproject.toml"
(cd "$W/uvp" && "$UV" lock -q -p "$PY")
pin=$(basename "$(dirname "$(dirname "$PY")")")
echo "$pin" > "$W/req/.python-version"
echo "$pin" > "$W/uvp/.python-version"

# Warm every cache once (pyve's provisioned uv, uv's wheels).
for p in req uvp; do
    rm -rf "$W/run" && cp -r "$W/$p" "$W/run" && (cd "$W/run" && "$I/pyve" --init --no-direnv >/dev/null)
done
(cd "$W/req" && cp -r . "$W/run2" && cd "$W/run2" && "$UV" venv -q -p "$PY" && "$UV" pip install -q -r requirements.txt)

cd "$W"
hyperfine -N -w 1 -r "$RUNS" --export-json "$W/a.json" \
    --prepare "sh -c 'rm -rf $W/run && cp -r $W/req $W/run'" \
    -n "pyve --init" "sh -c 'cd $W/run && $I/pyve --init --no-direnv -q'" \
    -n "uv venv && uv pip install -r" "sh -c 'cd $W/run && $UV venv -q -p $PY && $UV pip install -q -r requirements.txt'" >&2
hyperfine -N -w 1 -r "$RUNS" --export-json "$W/b.json" \
    --prepare "sh -c 'rm -rf $W/run && cp -r $W/uvp $W/run'" \
    -n "pyve --init (uv.lock)" "sh -c 'cd $W/run && $I/pyve --init --no-direnv -q'" \
    -n "uv sync" "sh -c 'cd $W/run && $UV sync -q -p $PY'" >&2
rm -rf "$W/run" && cp -r "$W/uvp" "$W/run" && (cd "$W/run" && "$I/pyve" --init --no-direnv -q >/dev/null)
rm -rf "$W/run3" && cp -r "$W/uvp" "$W/run3" && (cd "$W/run3" && "$UV" sync -q -p "$PY")
hyperfine -N -w 3 -r $((RUNS * 10)) --export-json "$W/c.json" \
    -n "pyve sync (nothing to do)" "sh -c 'cd $W/run && $I/pyve sync -q'" \
    -n "uv sync (nothing to do)" "sh -c 'cd $W/run3 && $UV sync -q -p $PY'" >&2

# Cold: nothing cached, by uv or by pyve (its seeding cache too), before every run.
cold="rm -rf $W/run $UV_CACHE_DIR $CACHE/pyve"
hyperfine -N -r "$COLD_RUNS" --export-json "$W/d.json" \
    --prepare "sh -c '$cold && cp -r $W/req $W/run'" \
    -n "pyve --init (cold)" "sh -c 'cd $W/run && $I/pyve --init --no-direnv -q'" \
    -n "uv venv && uv pip install -r (cold)" "sh -c 'cd $W/run && $UV venv -q -p $PY && $UV pip install -q -r requirements.txt'" >&2
hyperfine -N -r "$COLD_RUNS" --export-json "$W/e.json" \
    --prepare "sh -c '$cold && cp -r $W/uvp $W/run'" \
    -n "pyve --init (uv.lock, cold)" "sh -c 'cd $W/run && $I/pyve --init --no-direnv -q'" \
    -n "uv sync (cold)" "sh -c 'cd $W/run && $UV sync -q -p $PY'" >&2

echo "| what | median (ms) | mean ± σ (ms) |"
echo "|---|---|---|"
for f in a b c d e; do
    names=()
    case $f in
    a) names=("\`pyve --init\`, requirements.txt (10 deps, uv)" "\`uv venv && uv pip install -r requirements.txt\`") ;;
    b) names=("\`pyve --init\`, uv.lock (10 deps)" "\`uv sync\`") ;;
    c) names=("\`pyve sync\`, nothing to do" "\`uv sync\`, nothing to do") ;;
    d) names=("\`pyve --init\`, requirements.txt, cold caches" "\`uv venv && uv pip install -r requirements.txt\`, cold cache") ;;
    e) names=("\`pyve --init\`, uv.lock, cold caches" "\`uv sync\`, cold cache") ;;
    esac
    i=0
    while read -r med mean sd; do
        echo "| ${names[$i]} | $med | $mean ± $sd |"
        i=$((i + 1))
    done < <(medians "$W/$f.json")
done
