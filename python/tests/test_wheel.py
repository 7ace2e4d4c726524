"""The wheel alone, installed into a fresh virtual environment: `import xyz`, the `xyz`
command, a sweep, help and type stubs."""

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from conftest import ROOT, guest


def the_wheel():
    given = os.environ.get("XYZ_WHEEL")
    if given:
        return Path(given)
    wheels = sorted((ROOT / "target" / "wheels").glob("xyz_sweeps-*.whl"), key=lambda p: p.stat().st_mtime)
    if not wheels:
        pytest.fail("no wheel in target/wheels: run scripts/python-wheel.sh")
    return wheels[-1]


def test_the_wheel_installs_into_a_fresh_venv_and_works(tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True, system_site_packages=False)
    py = env_dir / "bin" / "python"
    pip = subprocess.run(
        [py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", the_wheel()],
        capture_output=True, text=True, timeout=900,
    )
    assert pip.returncode == 0, pip.stderr
    version = subprocess.run([env_dir / "bin" / "xyz", "--version"], capture_output=True, text=True)
    assert version.stdout.startswith("xyz "), version
    code = f"""
import xyz
r = xyz.Runner({guest("add")!r}, constants={{"c": 0}})
ds = r.run_combos({{"a": [1.0, 2.0], "b": [10.0]}})
assert ds["sum"].values.ravel().tolist() == [11.0, 12.0], ds
doc = xyz.Runner.run_combos.__doc__
assert "executor" in doc
import pathlib
assert (pathlib.Path(xyz.__file__).parent / "_xyz.pyi").is_file()
assert (pathlib.Path(xyz.__file__).parent / "py.typed").is_file()
print("ok", xyz.__version__)
"""
    p = subprocess.run([py, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "ok 0.1.0"
    # help() renders the classes' documentation.
    p = subprocess.run([py, "-c", "import xyz; help(xyz.Runner)"], capture_output=True, text=True,
                       env=dict(os.environ, PAGER="cat"), timeout=120)
    assert "Evaluates every combination of" in p.stdout
