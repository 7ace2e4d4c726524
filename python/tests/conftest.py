"""Fixtures of the Python module's tests: the example functions the Rust build made, the
`xyz` executable the installed wheel carries, and a dataset written by `xyz run` to compare
with."""

import os
import subprocess
from pathlib import Path

import pytest
import xarray as xr

import xyz
from xyz._binary import worker_binary

ROOT = Path(__file__).resolve().parents[2]
GUESTS = Path(os.environ.get("XYZ_GUESTS", ROOT / "target" / "guests"))


def guest(name):
    """An example function built by the test build (`tests/build.rs`)."""
    for path in (
        GUESTS / "wasm32-unknown-unknown" / "guest" / f"example_{name}.wasm",
        GUESTS / "c" / name,
    ):
        if path.is_file():
            return str(path)
    raise FileNotFoundError(f"example {name} is not built under {GUESTS}: run cargo test first")


@pytest.fixture(scope="session")
def exe():
    """The `xyz` executable inside the installed package."""
    return worker_binary()


@pytest.fixture
def cli(exe, tmp_path):
    """Runs `xyz` with arguments, in `tmp_path`; gives the completed process."""

    def run(*args, check=True, **kw):
        p = subprocess.run(
            [exe, *map(str, args)], cwd=kw.pop("cwd", tmp_path), capture_output=True, text=True, **kw
        )
        if check and p.returncode not in (0, 3):
            raise AssertionError(f"xyz {' '.join(map(str, args))} exited {p.returncode}: {p.stderr}")
        return p

    return run


@pytest.fixture
def cli_dataset(cli, tmp_path):
    """The dataset `xyz run` writes for a sweep, as xarray reads it back."""

    def run(function, *args, name="cli.zarr"):
        out = tmp_path / name
        cli("run", "--function", function, *args, "-o", out, "--force", "-q")
        return xr.open_zarr(out).load()

    return run
