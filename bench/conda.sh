#!/usr/bin/env bash
# A conda environment.yml, side by side in one run (printed as Markdown):
#   pyve --init (micromamba backend, built-in engine)   vs   py-rattler: rattler.solve + rattler.install
#   on a 3-package channel and a 200-package / 10 000-file channel, warm and cold package caches
#   pyve run hello in the conda environment             vs   the environment's bin/hello
#
# Usage: bench/conda.sh INSTALL_DIR [RUNS]
# INSTALL_DIR holds pyve and pyve-micromamba (target/release). The channels are written at run
# time by the bench crate's `conda-channel` (built here in debug: it only writes the channels).
# py-rattler is installed from PyPI into a throwaway venv unless PYRATTLER names a python that
# has it. HOME, PYVE_HOME, XDG_CACHE_HOME, RATTLER_CACHE_DIR and MAMBA_ROOT_PREFIX are scratch
# directories; pyve and py-rattler each get their own cache (same layout: <cache>/pkgs,
# <cache>/repodata). "cold" empties the cache before every timed run, "warm" fills it once.
set -euo pipefail
I=$(cd "$1" && pwd)
RUNS=${2:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/pyve-bench-conda.XXXXXX")
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/bin" "$W/home"
cp "$I/pyve" "$I/pyve-micromamba" "$W/bin/"
# Built and installed with the real HOME (rustup, pip), before it is isolated.
(cd "$ROOT" && cargo build -q -p pyve-bench --bin conda-channel)
CC=${CARGO_TARGET_DIR:-$ROOT/target}/debug/conda-channel
if [ -n "${PYRATTLER:-}" ]; then
    PY=$PYRATTLER
else
    python3 -m venv "$W/pyr" && "$W/pyr/bin/pip" install -q py-rattler
    PY=$W/pyr/bin/python
fi
export HOME="$W/home" PYVE_HOME="$W/home/.pyve" XDG_CACHE_HOME="$W/home/.cache" \
    MAMBA_ROOT_PREFIX="$W/mamba-root" PYVE_MICROMAMBA_ENGINE=builtin PYVE_DISABLE_DISTUTILS_SHIM=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
unset CONDA_PREFIX VIRTUAL_ENV

RS=$ROOT/bench/conda_rattler.py

medians() {
    python3 - "$1" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print("%.1f %.1f %.1f" % (r["median"] * 1e3, r["mean"] * 1e3, (r["stddev"] or 0) * 1e3))
PY
}

# Channels: 3 packages with 1 file each; 200 packages with 50 files each (10 000 files).
"$CC" "$W/ch3" 3 1
"$CC" "$W/ch200" 200 50
for c in ch3 ch200; do
    mkdir -p "$W/proj-$c"
    printf 'name: demo\nchannels:\n  - %s\ndependencies:\n  - hello\n' "$W/$c" > "$W/proj-$c/environment.yml"
done

PYVE_INIT="cd $W/run && RATTLER_CACHE_DIR=$W/cache-pyve $W/bin/pyve --init --no-direnv -q"
rattler() { echo "RATTLER_CACHE_DIR=$W/cache-rattler $PY $RS $W/$1 $W/prefix hello"; }

# Check once that both make a working environment, with the built-in engine.
for c in ch3 ch200; do
    rm -rf "$W/run" && cp -r "$W/proj-$c" "$W/run"
    (cd "$W/run" && RATTLER_CACHE_DIR=$W/cache-pyve "$W/bin/pyve" --init --no-direnv) > "$W/init.log" 2>&1
    grep -q "Engine: built-in" "$W/init.log" || { cat "$W/init.log" >&2; exit 1; }
    "$W/run/.pyve/envs/demo/bin/hello" | grep -q "hello from conda"
    rm -rf "$W/prefix" && sh -c "$(rattler $c)"
    "$W/prefix/bin/hello" | grep -q "hello from conda"
done

json=()
for c in ch3 ch200; do
    for t in warm cold; do
        if [ $t = warm ]; then
            empty=true
        else
            empty="rm -rf $W/cache-pyve $W/cache-rattler"
        fi
        hyperfine -N -w 1 -r "$RUNS" --export-json "$W/$c-$t.json" \
            --prepare "sh -c 'rm -rf $W/run $W/prefix && cp -r $W/proj-$c $W/run && $empty'" \
            -n "pyve --init" "sh -c '$PYVE_INIT'" \
            -n "py-rattler" "sh -c '$(rattler $c)'" >&2
        json+=("$c-$t")
    done
done
# py-rattler's fixed cost: the interpreter and the import.
hyperfine -N -w 1 -r $((RUNS * 2)) --export-json "$W/import.json" \
    -n "import rattler" "$PY -c 'import rattler'" >&2

# pyve run in the conda environment (the 200-package one left by the last run).
rm -rf "$W/run" && cp -r "$W/proj-ch200" "$W/run" && sh -c "$PYVE_INIT"
hyperfine -N -w 5 -r $((RUNS * 20)) --export-json "$W/run.json" \
    -n "pyve run hello" "sh -c 'cd $W/run && $W/bin/pyve run hello'" \
    -n "bin/hello" "sh -c 'cd $W/run && .pyve/envs/demo/bin/hello'" >&2

echo "| what | median (ms) | mean ± σ (ms) |"
echo "|---|---|---|"
for f in "${json[@]}"; do
    case $f in
    ch3-*) what="3 packages" ;;
    ch200-*) what="200 packages, 10 000 files" ;;
    esac
    cache=${f#*-}
    names=("\`pyve --init\`, $what, $cache cache" "py-rattler solve + install, $what, $cache cache")
    i=0
    while read -r med mean sd; do
        echo "| ${names[$i]} | $med | $mean ± $sd |"
        i=$((i + 1))
    done < <(medians "$W/$f.json")
done
read -r med mean sd < <(medians "$W/import.json")
echo "| \`python -c 'import rattler'\` (py-rattler's fixed cost) | $med | $mean ± $sd |"
names=("\`pyve run hello\` (conda env)" "\`.pyve/envs/demo/bin/hello\`")
i=0
while read -r med mean sd; do
    echo "| ${names[$i]} | $med | $mean ± $sd |"
    i=$((i + 1))
done < <(medians "$W/run.json")
