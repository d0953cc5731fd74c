#!/usr/bin/env bash
# Cold build times of the README's set-up commands, printed as Markdown on stdout: each build
# starts from an empty target directory (the crates are fetched first, so the network is not
# timed). Slow: about 20-30 minutes on 2 cores. bench/run.sh calls it when BENCH_BUILD=1.
#
# Usage: bench/build.sh [WORK_DIR]   (default bench/.work/build; removed afterwards)
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-$PWD/bench/.work/build}
rm -rf "$W"
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT
cargo fetch -q

# seconds of wall-clock time of "$@", with a fresh CARGO_TARGET_DIR=$1.
timed() {
    local dir=$1
    shift
    local start end
    start=$(date +%s.%N)
    CARGO_TARGET_DIR=$dir "$@" >/dev/null 2>&1
    end=$(date +%s.%N)
    python3 -c "print('%.0f' % ($end - $start))"
}

fast=$(timed "$W/fast" cargo build --release -q -p pyve -p pyve-venv -p pyve-testenv -p pyve-distutils-shim)
conda=$(timed "$W/fast" cargo build --release -q -p pyve-micromamba)
whole=$(timed "$W/whole" cargo build --release -q --workspace)
tests=$(timed "$W/tests" cargo build -q --workspace --lib --bins --examples)

echo "### Cold builds (\`nproc\` $(nproc), load average at start $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "| command (empty target directory, crates already fetched) | wall-clock (s) |"
echo "|---|---|"
echo "| \`cargo build --release -p pyve -p pyve-venv -p pyve-testenv -p pyve-distutils-shim\` (the fast path) | $fast |"
echo "| then \`cargo build --release -p pyve-micromamba\` (the conda plugin, on its own line) | $conda |"
echo "| \`cargo build --release --workspace\` (everything at once) | $whole |"
echo "| \`cargo build --workspace --lib --bins --examples\` (dev profile: what the tests run) | $tests |"
echo
