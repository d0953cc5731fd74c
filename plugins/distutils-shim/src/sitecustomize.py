# pyve-managed: distutils shim
# Written by pyve (plugin distutils-shim), which rewrites it; a file without the line above is
# never touched. Python 3.12 removed distutils from the standard library; setuptools provides
# it. Nothing is imported here at start-up: setuptools' distutils-precedence.pth normally
# answers `import distutils` itself, and the finder below, last on sys.meta_path, is asked
# only when nothing else could; it then hands over to setuptools and steps aside.
# Skip it when creating an environment with PYVE_DISABLE_DISTUTILS_SHIM=1; see
# docs/distutils-shim.md in pyve.
import os
import sys

os.environ.setdefault("SETUPTOOLS_USE_DISTUTILS", "local")


class _PyveDistutilsFinder:
    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if fullname != "distutils" or os.environ.get("SETUPTOOLS_USE_DISTUTILS") != "local":
            return None
        try:
            from _distutils_hack import DISTUTILS_FINDER
        except ImportError:
            return None
        spec = DISTUTILS_FINDER.find_spec(fullname, path, target)
        if spec is not None and _PyveDistutilsFinder in sys.meta_path:
            sys.meta_path.remove(_PyveDistutilsFinder)
        return spec


sys.meta_path.append(_PyveDistutilsFinder)
