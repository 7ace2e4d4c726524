"""`Crop.submit` on a real one-node Slurm cluster, brought up by the project's own script
(`tests/clusters/slurm.sh`, as the command line's cluster tests do)."""

import os
import subprocess
import time

import numpy as np
import pytest

import xyz
from conftest import ROOT, guest


@pytest.fixture
def slurm(tmp_path):
    assert os.geteuid() == 0, "the cluster tests start daemons and need root"
    script = ROOT / "tests" / "clusters" / "slurm.sh"
    state = tmp_path / "slurm"
    state.mkdir()
    up = subprocess.run(["bash", script, "up", state], capture_output=True, text=True)
    assert up.returncode == 0, f"slurm did not come up:\n{up.stdout}{up.stderr}"
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(state / "slurm.conf")
    try:
        yield state
    finally:
        if old is None:
            del os.environ["SLURM_CONF"]
        else:
            os.environ["SLURM_CONF"] = old
        subprocess.run(["bash", script, "down", state], capture_output=True)


def test_a_crop_sown_in_python_submitted_to_slurm_and_reaped(slurm, tmp_path):
    r = xyz.Runner(guest("mandel"), constants={"maxiter": 50})
    combos = {"x": np.linspace(-2, 0.5, 30), "y": np.linspace(-1, 1, 20)}
    local = r.run_combos(combos)
    work = tmp_path / "work"
    c = xyz.Crop(name="m", fn=r, num_batches=6, parent_dir=work).sow_combos(combos)
    jobs = c.submit("slurm", time="0:10:00", mem="500M")
    assert [j["scheduler"] for j in jobs] == ["slurm"]
    deadline = time.time() + 180
    while not c.is_ready_to_reap():
        assert time.time() < deadline, f"not grown in 180 s: {c!r}"
        time.sleep(1)
    assert repr(c).startswith("<xyz.Crop m: 6/6 batches grown")
    assert c.reap().identical(local)
