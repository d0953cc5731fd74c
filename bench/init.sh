#!/usr/bin/env bash
# `pyve --init` on every interpreter, side by side with `uv venv --seed --offline`, in one run,
# printed as Markdown on stdout: the default row (no --python-version: the newest installed)
# first, then one row per CPython 3.8-3.13 found under PYENV_ROOT; then the cold first run
# (empty wheel cache) on 3.12+ against `pip install setuptools wheel` alone.
#
# Usage: bench/init.sh INSTALL_DIR UV [RUNS]   (bench/run.sh calls it with its isolated HOME
# and cache; run alone, export HOME, XDG_CACHE_HOME and PYVE_HOME to a scratch directory first).
# INSTALL_DIR holds pyve and its plugins; UV is a uv binary. COLD_RUNS (default 3) sets the
# cold runs, which download from the package index.
set -euo pipefail
I=$1
UV=$2
RUNS=${3:-20}
COLD_RUNS=${COLD_RUNS:-3}
PYENV_ROOT=${PYENV_ROOT:-$HOME/.pyenv}
W=$(mktemp -d "${TMPDIR:-/tmp}/pyve-bench-init.XXXXXX")
trap 'rm -rf "$W"' EXIT
export PYENV_ROOT PIP_DISABLE_PIP_VERSION_CHECK=1
unset PYVE_DISABLE_DISTUTILS_SHIM

medians() {
    python3 - "$1" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print("%.1f %.1f %.1f" % (r["median"] * 1e3, r["mean"] * 1e3, (r["stddev"] or 0) * 1e3))
PY
}

# side_by_side RUNS PREPARE PYVE_FLAGS PYTHON: hyperfine of pyve --init against uv venv --seed
# --offline; prints "pyve-median | pyve-mean ± sd | uv-median | uv-mean ± sd | ratio".
side_by_side() {
    hyperfine -N --runs "$1" --prepare "$2" --export-json "$W/init.json" \
        -n pyve "$I/pyve --init --no-direnv $3 -q" \
        -n uv "$UV venv -q --seed --offline -p $4 .venv" >&2
    read -r p_med p_mean p_sd < <(medians "$W/init.json" | sed -n 1p)
    read -r u_med u_mean u_sd < <(medians "$W/init.json" | sed -n 2p)
    echo "$p_med | $p_mean ± $p_sd | $u_med | $u_mean ± $u_sd | $(python3 -c "print('%.2f' % ($p_med / $u_med))")"
}

# The newest X.Y.Z of each 3.8-3.13 under the pyenv root.
versions=()
for m in 8 9 10 11 12 13; do
    v=$(ls "$PYENV_ROOT/versions" | grep -E "^3\.$m\.[0-9]+$" | sort -t. -k3 -n | tail -1 || true)
    [ -n "$v" ] && versions+=("$v")
done
newest=${versions[-1]}

P=$W/project
mkdir -p "$P"
cd "$P"
clean="rm -rf .venv .pyve .env .gitignore .python-version"
# Between timed runs the previous run's files are moved into a directory of their own (removed
# with $W at exit), not deleted: for about 30 s after an inode is freed, ext4 skips it when it
# allocates a new one, scanning past the recently freed inodes of the block group, so a create
# right after `rm -rf` of the last one can pay for the files the benchmark deleted lately
# (docs/benchmarks.md, bench/inode_drift.py). A new project's first init, which this
# measures, has no such neighbours. DELETED_RUNS (default
# 20) times the 3.12+ rows again with `rm -rf` between runs: an environment re-made right
# after its predecessor was deleted.
TRASH=$W/trash
mkdir -p "$TRASH"
move="d=\$(mktemp -d $TRASH/r.XXXXXX) && for f in .venv .pyve .env .gitignore .python-version; do if [ -e \$f ] || [ -L \$f ]; then mv \$f \$d/; fi; done"
prep="sh -c '$move; sync'"

echo "### \`pyve --init\` on every interpreter, warm caches (target: no slower than \`uv venv --seed --offline\`)"
echo
echo "| interpreter | seeded | \`pyve --init --no-direnv\` median (ms) | mean ± σ | \`uv venv --seed --offline\` median (ms) | mean ± σ | pyve / uv |"
echo "|---|---|---|---|---|---|---|"
for row in default "${versions[@]}"; do
    if [ "$row" = default ]; then v=$newest; flag=""; label="default (newest: $v)"; else v=$row; flag="--python-version $v"; label=$v; fi
    py=$PYENV_ROOT/versions/$v/bin/python${v%.*}
    case $v in 3.8.*|3.9.*|3.10.*|3.11.*) seeded="pip, setuptools" ;; *) seeded="pip, setuptools, wheel (shim)" ;; esac
    # Warm pyve's wheel cache and uv's cache for this interpreter.
    "$I/pyve" --init --no-direnv $flag -q >/dev/null 2>&1 && $clean
    "$UV" venv -q --seed -p "$py" .venv && rm -rf .venv
    echo "| $label | $seeded | $(side_by_side "$RUNS" "$prep" "$flag" "$py") |"
    $clean
done
echo
echo "Each run in a new directory: the previous run's environment is moved aside, not deleted (see the script's comment)."
echo
echo "uv seeds pip only on every interpreter; pyve's rows also write \`.python-version\`, \`.env\`, \`.gitignore\` and \`.pyve/config\`, and on 3.12+ run the distutils shim (setuptools, wheel and packaging linked from pyve's wheel cache, the \`sitecustomize.py\`, and its bytecode and the probe's verdict from the cache, which the warm-up run kept: no python start)."
echo

DELETED_RUNS=${DELETED_RUNS:-20}
echo "### \`pyve --init\` on 3.12+ re-made right after \`rm -rf\` of the previous one, warm caches"
echo
echo "| interpreter | \`pyve --init --no-direnv\` median (ms) | mean ± σ | \`uv venv --seed --offline\` median (ms) | mean ± σ | pyve / uv |"
echo "|---|---|---|---|---|---|"
for v in "${versions[@]}"; do
    case $v in 3.8.*|3.9.*|3.10.*|3.11.*) continue ;; esac
    py=$PYENV_ROOT/versions/$v/bin/python${v%.*}
    # Let the inodes the runs above freed age past ext4's window first.
    sleep 35
    echo "| $v | $(side_by_side "$DELETED_RUNS" "sh -c '$clean && sync'" "--python-version $v" "$py") |"
    $clean
done
echo
echo "A run allocates its new inodes past those freed in the last ~30 s: pyve's 3.12 rows make about 165 (131 directories, the new files and symlinks; the ~900 package files are links), uv's about 105 (83 directories), so both can be slowed by the scan, pyve more."
echo

echo "### The cold first run on 3.12+ (empty wheel cache; target: within 1.2x of \`pip install setuptools wheel\` alone)"
echo
echo "| interpreter | \`pyve --init\`, empty wheel cache: median (s) | \`pip install --no-compile setuptools wheel\` into a fresh venv: median (s) | ratio |"
echo "|---|---|---|---|"
for v in "${versions[@]}"; do
    case $v in 3.8.*|3.9.*|3.10.*|3.11.*) continue ;; esac
    py=$PYENV_ROOT/versions/$v/bin/python${v%.*}
    # Both download from the index every time (pip's HTTP cache off).
    PIP_NO_CACHE_DIR=1 hyperfine -N --runs "$COLD_RUNS" \
        --prepare "sh -c '$clean && rm -rf $XDG_CACHE_HOME/pyve/wheels && sync'" --export-json "$W/cold-pyve.json" \
        -n pyve "$I/pyve --init --no-direnv --python-version $v -q" >&2
    # pip alone: a pip-seeded venv made beforehand (not timed), then only the install.
    PIP_NO_CACHE_DIR=1 hyperfine -N --runs "$COLD_RUNS" \
        --prepare "sh -c '$clean && PYVE_DISABLE_DISTUTILS_SHIM=1 $I/pyve --init --no-direnv --python-version $v -q && sync'" \
        --export-json "$W/cold-pip.json" \
        -n pip "$P/.venv/bin/python -m pip install -q --no-compile setuptools wheel" >&2
    read -r c_med _ _ < <(medians "$W/cold-pyve.json")
    read -r q_med _ _ < <(medians "$W/cold-pip.json")
    echo "| $v | $(python3 -c "print('%.2f' % ($c_med / 1e3))") | $(python3 -c "print('%.2f' % ($q_med / 1e3))") | $(python3 -c "print('%.2f' % ($c_med / $q_med))") |"
    $clean
done
echo
