"""The ``xyz`` executable the wheel carries: it serves functions in worker processes, grows
crops in batch jobs, and is the ``xyz`` command."""

import os
import sys
from pathlib import Path

from . import _xyz


def worker_binary():
    """The path of the ``xyz`` executable inside the installed package (``xyz/bin/xyz``):
    every function is first loaded in one of its worker processes, bounded in time."""
    path = Path(__file__).parent / "bin" / ("xyz.exe" if os.name == "nt" else "xyz")
    if path.is_file():
        return str(path)
    raise _xyz.FunctionError(f"{path}: the xyz executable is missing from the installed package; reinstall the wheel")


def main():
    """The ``xyz`` command: the executable, with this process's arguments."""
    exe = worker_binary()
    os.execv(exe, [exe, *sys.argv[1:]])
