"""The ``xyz`` executable the wheel carries: it serves functions in worker processes, grows
crops in batch jobs, and is the ``xyz`` command."""

import os
import sys
from pathlib import Path

from . import _xyz


def worker_binary(required=True):
    """The path of the ``xyz`` executable inside the installed package (``xyz/bin/xyz``)."""
    path = Path(__file__).parent / "bin" / ("xyz.exe" if os.name == "nt" else "xyz")
    if path.is_file():
        return str(path)
    if required:
        raise _xyz.FunctionError(
            f"{path}: the xyz executable is missing from the installed package; reinstall "
            "the wheel (or pass isolate=False to run functions in this process)"
        )
    return None


def main():
    """The ``xyz`` command: the executable, with this process's arguments."""
    exe = worker_binary()
    os.execv(exe, [exe, *sys.argv[1:]])
