"""`xyz.Harvester`: merges into a dataset on disk, as `xyz run --into` does."""

import numpy as np
import pytest
import xarray as xr

import xyz
from conftest import guest


def test_harvests_merge_and_evaluate_only_what_the_dataset_lacks(cli, tmp_path):
    r = xyz.Runner(guest("mandel"), constants={"maxiter": 30})
    h = xyz.Harvester(r, data_name=tmp_path / "m.zarr")
    first = h.harvest_combos({"x": [-1.0, 0.0], "y": [0.0, 0.5]})
    assert first["evaluated"] == 4
    second = h.harvest_combos({"x": [-1.0, 0.0, 0.25], "y": [0.0, 0.5, 1.0]})
    assert second["evaluated"] == 5 and second["skipped"] == 4
    again = h.harvest_combos({"x": [-1.0, 0.0, 0.25], "y": [0.0, 0.5, 1.0]})
    assert again["evaluated"] == 0
    full = h.full_ds
    assert full.identical(xr.open_zarr(tmp_path / "m.zarr").load())
    cli("run", "--function", guest("mandel"), "--combo", "x=-1.0,0.0,0.25", "--combo", "y=0.0,0.5,1.0",
        "--constant", "maxiter=30", "-o", tmp_path / "whole.zarr", "-q")
    assert full.identical(xr.open_zarr(tmp_path / "whole.zarr").load())


def test_the_cli_and_python_merge_into_one_dataset(cli, tmp_path):
    data = tmp_path / "d.nc"
    cli("run", "--function", guest("add"), "--combo", "a=1,2", "--combo", "b=1", "--constant", "c=0",
        "--into", data, "-q")
    h = xyz.Harvester(xyz.Runner(guest("add"), constants={"c": 0}), data)
    summary = h.harvest_combos({"a": [1.0, 2.0, 3.0], "b": [1.0, 2.0]})
    assert summary["evaluated"] == 4
    assert h.full_ds["sum"].shape == (3, 2)
    np.testing.assert_array_equal(h.full_ds["sum"].values, [[2, 3], [3, 4], [4, 5]])


def test_a_dataset_of_another_function_is_refused_without_losing_it(tmp_path):
    data = tmp_path / "d.zarr"
    xyz.Harvester(xyz.Runner(guest("add"), constants={"c": 0}), data).harvest_combos({"a": [1.0], "b": [1.0]})
    before = xr.open_zarr(data).load()
    other = xyz.Harvester(xyz.Runner(guest("stats"), constants={"n": 2}), data)
    with pytest.raises(xyz.XyzError) as e:
        other.harvest_combos({"x": [1.0]})
    assert "d.zarr" in str(e.value)
    assert xr.open_zarr(data).load().identical(before)


def test_overwrite_and_csv_refused():
    with pytest.raises(xyz.DatasetError, match=r"\.csv"):
        xyz.Harvester(xyz.Runner(guest("add"), constants={"c": 0}), "d.csv").harvest_combos({"a": [1.0], "b": [1.0]})


def test_an_adaptive_study_grows_by_harvests_into_what_one_run_gives(tmp_path):
    r = xyz.Runner(guest("ring"), constants={"a": 0.2, "spins": 0})
    h = xyz.Harvester(r, tmp_path / "ring.zarr")
    study = {"x": [-1.0, 1.0], "y": [-1.0, 1.0], "rounds": 8}
    first = h.harvest_adaptive({**study, "n": 160})
    assert first["evaluated"] == 160 and first["points"] == 160
    more = h.harvest_adaptive({**study, "n": 320})
    assert more["evaluated"] == 160 and more["points"] == 320
    once = r.run_adaptive({**study, "n": 320})
    assert h.full_ds.load().identical(once)
    # Another study's points are refused, the dataset left as it was.
    with pytest.raises(xyz.DatasetError, match="learnt with loss"):
        h.harvest_adaptive({**study, "n": 400, "loss": "uniform"})
    assert h.full_ds.sizes["point"] == 320
