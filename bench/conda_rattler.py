"""py-rattler doing what `pyve --init` does for a conda environment.yml (bench/conda.sh).

Usage: python conda_rattler.py CHANNEL_DIR PREFIX SPEC...
Solves SPEC against the local channel (this platform + noarch, the host's virtual packages)
and installs into PREFIX; the package cache is $RATTLER_CACHE_DIR/pkgs and the repodata cache
$RATTLER_CACHE_DIR/repodata, as pyve's built-in engine does.
"""
import asyncio
import os
import sys

import rattler
from rattler import Channel, Gateway, Platform, VirtualPackage


async def main() -> None:
    channel_dir, prefix, *specs = sys.argv[1:]
    cache = os.environ["RATTLER_CACHE_DIR"]
    gateway = Gateway(cache_dir=os.path.join(cache, "repodata"))
    records = await rattler.solve(
        sources=[Channel(channel_dir)],
        specs=specs,
        gateway=gateway,
        platforms=[Platform.current(), Platform("noarch")],
        virtual_packages=VirtualPackage.detect(),
    )
    await rattler.install(records, target_prefix=prefix, cache_dir=os.path.join(cache, "pkgs"), show_progress=False)


asyncio.run(main())
# py-rattler 0.28 crashes now and then while the interpreter finalizes (SIGSEGV,
# "PyGILState_Release: thread state ... must be current", a runtime thread outliving Python):
# the install is finished by then, so leave without finalizing (this also saves the script the
# finalization's few milliseconds).
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
