"""Run me with `pyve run python main.py`: I say where I run."""
import sys

inside = sys.prefix != sys.base_prefix
print("Python %s" % sys.version.split()[0])
print("environment: %s" % sys.prefix)
print("inside a virtual environment: %s" % ("yes" if inside else "no"))
sys.exit(0 if inside else 1)
