#!/usr/bin/env python3
"""`pyve --init` against `uv venv --seed --offline`, interleaved, with the previous run's
environment either deleted (`rm`) or moved aside (`mv`) between runs, untimed, then `sync`ed.

Shows ext4's deleted-inode scan (docs/benchmarks.md, "After the link and fsync changes"): with
`rm`, every new inode is allocated past the ones freed in the last ~30 s, and both tools get
slower as the rounds go on; with `mv` they stay flat.

Usage: bench/inode_drift.py INSTALL_DIR UV X.Y.Z rm|mv [ROUNDS]
Run it in a scratch HOME (HOME, XDG_CACHE_HOME and PYVE_HOME exported), after a warm-up
`pyve --init` and `uv venv --seed` of that interpreter, and after 30 s without file deletions.
Prints the median of all rounds and of the first and last quarter, in ms.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

install, uv, version, kind = sys.argv[1:5]
rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 60
root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
python = f"{root}/versions/{version}/bin/python{version.rsplit('.', 1)[0]}"
commands = {
    "pyve": [f"{install}/pyve", "--init", "--no-direnv", "--python-version", version, "-q"],
    "uv": [uv, "venv", "-q", "--seed", "--offline", "-p", python, ".venv"],
}
names = [".venv", ".pyve", ".env", ".gitignore", ".python-version"]
work = tempfile.mkdtemp(prefix="pyve-inode-drift.")
project, trash = os.path.join(work, "project"), os.path.join(work, "trash")
os.makedirs(project)
os.makedirs(trash)
os.chdir(project)


def prepare():
    if kind == "rm":
        subprocess.run(["rm", "-rf", *names], check=True)
    else:
        aside = tempfile.mkdtemp(dir=trash)
        for name in names:
            if os.path.lexists(name):
                os.rename(name, os.path.join(aside, name))
    os.sync()


times = {name: [] for name in commands}
for _ in range(rounds):
    for name, argv in commands.items():
        prepare()
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times[name].append((time.perf_counter() - start) * 1000)
quarter = max(1, rounds // 4)
for name, t in times.items():
    print(
        f"{kind} {name}: median {statistics.median(t):.1f}, first quarter {statistics.median(t[:quarter]):.1f}, "
        f"last quarter {statistics.median(t[-quarter:]):.1f}"
    )
print(f"pyve / uv: {statistics.median(times['pyve']) / statistics.median(times['uv']):.2f}")
subprocess.run(["rm", "-rf", work], check=True)
