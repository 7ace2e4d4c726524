"""`xyz.Crop`: sow, grow and reap from Python, on the directories the command line uses."""

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

import xyz
from conftest import guest

COMBOS = {"x": np.linspace(-2, 0.5, 12), "y": np.linspace(-1, 1, 9)}


def expected(cli, tmp_path):
    cli("run", "--function", guest("mandel"), "--combo", "x={ linspace = [-2, 0.5, 12] }",
        "--combo", "y={ linspace = [-1, 1, 9] }", "--constant", "maxiter=40", "-o", tmp_path / "e.zarr", "-q")
    return xr.open_zarr(tmp_path / "e.zarr").load()


def test_sown_in_python_grown_by_xyz_grow_workers_reaped_in_python(cli, exe, tmp_path):
    r = xyz.Runner(guest("mandel"), constants={"maxiter": 40})
    c = xyz.Crop(name="m", fn=r, batchsize=10, parent_dir=tmp_path)
    c.sow_combos(COMBOS)
    assert repr(c) == "<xyz.Crop m: 0/11 batches grown, 0/108 cases, 0 failed>"
    assert c.missing_results() == tuple(range(1, 12))
    workers = [
        subprocess.Popen([exe, "grow", "m", "--worker", "-q"], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for w in workers:
        assert w.wait(timeout=120) == 0, w.stderr.read()
    assert repr(c) == "<xyz.Crop m: 11/11 batches grown, 108/108 cases, 0 failed>"
    assert c.is_ready_to_reap()
    ds = c.reap()
    assert ds.identical(expected(cli, tmp_path))
    assert not c.is_prepared  # a complete crop is removed once reaped


def test_sown_by_the_cli_grown_and_reaped_in_python(cli, tmp_path):
    cli("sow", "--function", guest("mandel"), "--combo", "x={ linspace = [-2, 0.5, 12] }",
        "--combo", "y={ linspace = [-1, 1, 9] }", "--constant", "maxiter=40", "--name", "m",
        "--batchsize", "20", "-q")
    c = xyz.Crop(name="m", parent_dir=tmp_path)
    assert c.num_sown_batches == 6
    assert c.grow(1) == (1, 20, 0)
    assert c.grow_missing(parallel=True) == (5, 88, 0)
    with pytest.raises(xyz.CropError, match="no batch 7"):
        c.grow(7)
    ds = c.reap(keep=True)
    assert ds.identical(expected(cli, tmp_path))
    p = cli("reap", "m", "-o", tmp_path / "cli.zarr", "-q")
    assert p.returncode == 0
    assert xr.open_zarr(tmp_path / "cli.zarr").load().identical(ds)


def test_xyzpy_s_batch_script_line_grows_a_batch(tmp_path):
    r = xyz.Runner(guest("mandel"), constants={"maxiter": 40})
    c = xyz.Crop(name="m", fn=r, num_batches=3, parent_dir=tmp_path).sow_combos(COMBOS)
    for i in (1, 2, 3):
        subprocess.run(
            [sys.executable, "-c", f"import xyz; c = xyz.Crop(name='m'); xyz.grow({i}, crop=c)"],
            cwd=tmp_path, check=True,
        )
    assert c.num_results == 3
    ds = c.reap(allow_incomplete=False)
    assert (ds.xyz_status == 0).all()


def test_an_incomplete_crop_is_refused_unless_asked_and_then_marked_not_evaluated(tmp_path):
    r = xyz.Runner(guest("mandel"), constants={"maxiter": 40})
    c = xyz.Crop(name="m", fn=r, num_batches=4, parent_dir=tmp_path).sow_combos(COMBOS)
    c.grow([1, 2])
    with pytest.raises(xyz.CropError, match="not grown"):
        c.reap()
    ds = c.reap(allow_incomplete=True)
    assert set(np.unique(ds.xyz_status.values)) == {0, 2}
    assert c.is_prepared  # kept: it is not complete


def test_a_harvester_s_crop_merges_into_its_file(tmp_path):
    r = xyz.Runner(guest("mandel"), constants={"maxiter": 40})
    h = xyz.Harvester(r, tmp_path / "all.zarr")
    h.harvest_combos({"x": [0.0], "y": [0.0]})
    c = xyz.Crop(name="m", fn=h, batchsize=30, parent_dir=tmp_path).sow_combos(COMBOS)
    c.grow_missing()
    part = c.reap()
    full = h.full_ds
    assert full.sizes == {"x": 13, "y": 9}  # y = 0 is among the crop's
    assert full.sel(x=part.x, y=part.y)["n"].equals(part["n"])


def test_submit_writes_the_scripts_a_scheduler_runs(tmp_path, exe):
    r = xyz.Runner(guest("mandel"), constants={"maxiter": 40})
    c = xyz.Crop(name="m", fn=r, num_batches=5, parent_dir=tmp_path).sow_combos(COMBOS)
    [job] = c.submit("slurm", time="0:10:00", mem="1GiB", dry_run=True)
    assert "#SBATCH --array=1-5" in job["script"]
    assert exe in job["script"]
    with pytest.raises(xyz.SchedulerError, match="slurm, sge, pbs"):
        c.submit("condor", dry_run=True)


def test_a_growing_crop_reads_as_it_stands_without_reaping(cli, exe, tmp_path):
    exp = expected(cli, tmp_path)
    r = xyz.Runner(guest("mandel"), constants={"maxiter": 40})
    c = xyz.Crop(name="m", fn=r, batchsize=10, parent_dir=tmp_path).sow_combos(COMBOS)
    assert (c.dataset(partial=True).xyz_status == 2).all()  # nothing grown: not evaluated
    with pytest.raises(xyz.CropError, match="not grown"):
        c.dataset()
    c.grow([1, 2, 3])
    ds = c.dataset(partial=True)
    done = ds.xyz_status == 0
    assert int(done.sum()) == 30
    xr.testing.assert_equal(ds.n.where(done, drop=True), exp.n.where(done, drop=True))

    # Read again and again while a worker grows the rest: never less than before, and what
    # is there is right.
    worker = subprocess.Popen([exe, "grow", "m", "--worker", "-q"], cwd=tmp_path,
                              stderr=subprocess.PIPE, text=True)
    seen = 30
    while True:
        finished = worker.poll() is not None
        ds = c.dataset(partial=True)
        done = ds.xyz_status == 0
        assert int(done.sum()) >= seen
        seen = int(done.sum())
        assert (ds.n.values[done.values] == exp.n.values[done.values]).all()
        if finished:
            break
    assert worker.returncode == 0, worker.stderr.read()
    assert seen == 108
    assert c.dataset().identical(exp)
    assert c.is_prepared  # read, not reaped
    assert c.reap().identical(exp)


def test_an_adaptive_study_sown_in_python_grows_round_by_round_to_the_runner_s_dataset(cli, exe, tmp_path):
    r = xyz.Runner(guest("ring"), constants={"spins": 0})
    study = {"x": [-1, 1], "y": [-1, 1], "n": 96, "rounds": 8}
    combos = {"a": [0.2, 0.5]}
    c = xyz.Crop(name="ring", fn=r, parent_dir=tmp_path).sow_adaptive(study, combos=combos)
    s = c.status()["study"]
    assert (s["rounds"], s["points"], s["n"], s["finished"]) == (1, 8, 96, None)
    # Round 1 alone grown by `xyz grow --batches`: every batch there, the study not finished.
    assert subprocess.run([exe, "grow", "ring", "--batches", "missing", "--subprocess", "-q"],
                          cwd=tmp_path).returncode == 0
    assert not c.missing_results() and not c.is_ready_to_reap()
    with pytest.raises(xyz.CropError, match="the adaptive study is not finished: 1 rounds of 8 points"):
        c.dataset()
    assert c.dataset(partial=True).sizes["point"] == 8
    assert c.grow_missing(parallel=True) == (88, 88, 0)
    s = c.status()["study"]
    assert (s["rounds"], s["points"], s["finished"]) == (12, 96, "evaluations")
    assert c.is_ready_to_reap()
    ds = c.reap()
    assert ds.identical(r.run_adaptive(study, combos=combos))
    assert not c.is_prepared
