"""`xyz.Runner`: datasets identical to what `xyz run` writes, in every way a sweep is given."""

import threading
import time

import numpy as np
import pytest

import xyz
from conftest import guest


def test_combos_with_failures_are_identical_to_the_cli(cli_dataset):
    r = xyz.Runner(guest("faulty"))
    ds = r.run_combos({"mode": ["ok", "trap", "panic"], "x": [1, 2, 3]})
    assert ds.identical(cli_dataset(guest("faulty"), "--combo", 'mode=["ok","trap","panic"]', "--combo", "x=1,2,3"))
    assert list(ds.xyz_status.values.ravel()) == [0, 0, 0, 1, 1, 1, 1, 1, 1]
    assert str(ds.xyz_error.values[1, 0]) == "error: unknown mode `trap`"
    assert r.last_run["evaluated"] == 9 and r.last_run["failed"] == 6


def test_complex_values_and_extra_dims_are_identical_to_the_cli(cli_dataset):
    r = xyz.Runner(guest("resolvent"))
    ds = r.run_combos({"e": np.linspace(-1, 1, 5), "eta": [0.1, 0.2], "level": [1 + 0j, 0.5 - 0.5j]})
    expected = cli_dataset(
        guest("resolvent"), "--combo", "e={ linspace = [-1, 1, 5] }", "--combo", "eta=0.1,0.2",
        "--combo", 'level=["1+0j", "0.5-0.5j"]',
    )
    assert ds.identical(expected)
    assert ds.wave.dims == ("e", "eta", "level", "site")
    assert ds.g.dtype == np.complex128


def test_booleans_strings_constants_and_attrs_are_identical_to_the_cli(cli, tmp_path):
    r = xyz.Runner(guest("classify"), constants={"flag": True}, attrs={"study": "demo", "k": 3})
    ds = r.run_combos({"x": [-1.0, 1.0], "label": ["a", "bb"]})
    spec = tmp_path / "classify.toml"
    spec.write_text(
        f'function = "{guest("classify")}"\n[combos]\nx = [-1.0, 1.0]\nlabel = ["a", "bb"]\n'
        '[constants]\nflag = true\n[attrs]\nstudy = "demo"\nk = 3\n'
    )
    cli("run", spec, "-o", tmp_path / "c.zarr", "-q")
    import xarray as xr

    assert ds.identical(xr.open_zarr(tmp_path / "c.zarr").load())
    assert ds.attrs["flag"] == 1 and ds.attrs["study"] == "demo"


def test_integer_outputs_and_a_constant_given_per_call(cli_dataset):
    r = xyz.Runner(guest("mandel"), constants={"maxiter": 10})
    ds = r.run_combos({"x": np.linspace(-2, 0.5, 7), "y": [0.0, 0.5]}, constants={"maxiter": 20})
    expected = cli_dataset(
        guest("mandel"), "--combo", "x={ linspace = [-2, 0.5, 7] }", "--combo", "y=0.0,0.5",
        "--constant", "maxiter=20",
    )
    assert ds.identical(expected)
    assert ds.n.dtype == np.int64


def test_cases_as_dicts_or_as_tuples_with_fields(cli, tmp_path):
    r = xyz.Runner(guest("add"), constants={"c": 0.5})
    a = r.run_cases([{"a": 1.0, "b": 2.0}, {"a": 3.0, "b": 4.0}])
    b = r.run_cases([(1.0, 2.0), (3.0, 4.0)], fields=["a", "b"])
    assert a.identical(b)
    spec = tmp_path / "cases.toml"
    spec.write_text(
        f'function = "{guest("add")}"\n[constants]\nc = 0.5\n'
        "[[cases]]\na = 1.0\nb = 2.0\n[[cases]]\na = 3.0\nb = 4.0\n"
    )
    cli("run", spec, "-o", tmp_path / "c.zarr", "-q")
    import xarray as xr

    assert a.identical(xr.open_zarr(tmp_path / "c.zarr").load())
    assert float(a["sum"].sel(a=3.0, b=4.0)) == 7.0
    assert list(a.xyz_status.values.ravel()) == [0, 3, 3, 0]  # cells no case reaches


def test_samples_are_identical_to_the_cli(cli, tmp_path):
    r = xyz.Runner(guest("add"), constants={"c": 0.0})
    samples = {"n": 20, "seed": 7, "method": "sobol", "a": {"uniform": [0.0, 1.0]}, "b": {"uniform": [-1.0, 1.0]}}
    ds = r.run_samples(samples)
    spec = tmp_path / "s.toml"
    spec.write_text(
        f'function = "{guest("add")}"\n[constants]\nc = 0.0\n'
        '[samples]\nn = 20\nseed = 7\nmethod = "sobol"\na = { uniform = [0.0, 1.0] }\n'
        "b = { uniform = [-1.0, 1.0] }\n"
    )
    cli("run", spec, "-o", tmp_path / "s.zarr", "-q")
    import xarray as xr

    assert ds.identical(xr.open_zarr(tmp_path / "s.zarr").load())
    assert ds.sizes["sample"] == 20
    np.testing.assert_allclose(ds["sum"].values, ds.a.values + ds.b.values)


def test_an_adaptive_study_is_identical_to_the_cli_and_learns_where_the_function_changes(cli, tmp_path):
    r = xyz.Runner(guest("ring"), constants={"a": 0.2, "spins": 0})
    study = {"x": [-1.0, 1.0], "y": [-1.0, 1.0], "n": 400, "rounds": 8}
    ds = r.run_adaptive(study, parallel=True)
    spec = tmp_path / "r.toml"
    spec.write_text(
        f'function = "{guest("ring")}"\n[constants]\na = 0.2\nspins = 0\n'
        "[adaptive]\nx = [-1.0, 1.0]\ny = [-1.0, 1.0]\nn = 400\nrounds = 8\n"
    )
    cli("run", spec, "-o", tmp_path / "r.zarr", "-j", "1", "-q")
    import xarray as xr

    assert ds.identical(xr.open_zarr(tmp_path / "r.zarr").load())
    assert ds.z.dims == ("point",) and ds.x.dims == ("point",)
    x, y = ds.x.values, ds.y.values
    np.testing.assert_allclose(ds.z.values, x + np.exp(-((x**2 + y**2 - 0.75**2) ** 2) / 0.2**4), rtol=1e-12, atol=1e-15)
    on_ring = np.abs(np.hypot(x, y) - 0.75) < 0.15
    assert on_ring.sum() > 0.4 * len(x), "points gather on the ring"
    assert r.last_run["rounds"] == 50 and r.last_run["evaluated"] == 400
    assert 0 < r.last_run["loss"] < 1
    # The goal alone ends it, and a study that cannot be learnt is refused naming the field.
    ds = r.run_adaptive({"x": [-1.0, 1.0], "y": [-1.0, 1.0], "loss_goal": 0.05})
    assert r.last_run["loss"] <= 0.05 and ds.sizes["point"] == r.last_run["evaluated"]
    with pytest.raises(xyz.SpecError, match="adaptive.loss"):
        r.run_adaptive({"x": [-1.0, 1.0], "y": [-1.0, 1.0], "n": 5, "loss": "curvature"})
    with pytest.raises(xyz.SpecError, match="when to stop is missing"):
        r.run_adaptive({"x": [-1.0, 1.0], "y": [-1.0, 1.0]})
    # A learner per combination, each with its corners, along the one dim of points.
    r = xyz.Runner(guest("ring"), constants={"spins": 0})
    ds = r.run_adaptive({"x": [-1.0, 1.0], "y": [-1.0, 1.0], "n": 300}, combos={"a": [0.1, 0.3]})
    assert ds.a.dims == ("point",) and sorted(set(ds.a.values.tolist())) == [0.1, 0.3]
    for a in (0.1, 0.3):
        corners = {(x, y) for x, y, w in zip(ds.x.values, ds.y.values, ds.a.values) if w == a and abs(x) == 1 and abs(y) == 1}
        assert len(corners) == 4


def test_parallel_runs_give_the_same_dataset():
    r = xyz.Runner(guest("mandel"), constants={"maxiter": 50})
    combos = {"x": np.linspace(-2, 0.5, 40), "y": np.linspace(-1, 1, 30)}
    one = r.run_combos(combos)
    assert one.identical(r.run_combos(combos, parallel=True))
    assert one.identical(r.run_combos(combos, num_workers=2))


def test_a_function_given_as_bytes_and_a_native_library():
    with open(guest("add"), "rb") as f:
        r = xyz.Runner(f.read(), constants={"c": 1.0})
    assert r.signature == "add(a: f64, b: f64, c: f64) -> (sum: f64)"
    ds = r.run_combos({"a": [1.0], "b": [2.0]})
    assert ds["sum"].values.item() == 3.0
    lib = xyz.Runner(guest("libcollatz.so"))
    wasm = xyz.Runner(guest("collatz.wasm"))
    n = {wasm.function.args[0]: list(range(1, 30))}
    a, b = lib.run_combos(n), wasm.run_combos(n)
    assert (a[lib.function.outputs[0]].values == b[wasm.function.outputs[0]].values).all()


def test_errors_are_exceptions_with_the_cli_messages(cli, tmp_path):
    r = xyz.Runner(guest("add"))
    with pytest.raises(xyz.SpecError) as e:
        r.run_combos({"a": [1.0], "b": [1.0], "c": [1.0], "d": [2]})
    p = cli("run", "--function", guest("add"), "--combo", "a=1.0", "--combo", "b=1.0", "--combo", "c=1.0",
            "--combo", "d=2", check=False)
    assert p.returncode != 0
    assert str(e.value) in p.stderr
    with pytest.raises(xyz.SpecError, match=r"combos\.a"):
        r.run_combos({"a": {"linspace": [0, 1]}, "b": [1.0], "c": [0.0]})
    bad = tmp_path / "bad.wasm"
    bad.write_bytes(b"\0asm not really")
    with pytest.raises(xyz.FunctionError, match="bad.wasm"):
        xyz.Runner(str(bad))
    with pytest.raises(xyz.FunctionError, match="nothing-here"):
        xyz.Runner(str(tmp_path / "nothing-here.wasm"))
    with pytest.raises(TypeError, match="fn:"):
        xyz.Runner(42)
    with pytest.raises(xyz.SpecError, match="memory"):
        xyz.Runner(guest("add"), memory="lots")
    assert issubclass(xyz.SpecError, xyz.XyzError) and issubclass(xyz.XyzError, Exception)
    assert xyz.SpecError.__module__ == "xyz"


def test_the_gil_is_released_while_cases_run():
    r = xyz.Runner(guest("mandel"), constants={"maxiter": 20000})
    counted = []
    stop = threading.Event()

    def count():
        n = 0
        while not stop.is_set():
            n += 1
            time.sleep(0.001)
        counted.append(n)

    t = threading.Thread(target=count)
    t.start()
    began = time.perf_counter()
    r.run_combos({"x": np.linspace(-0.5, 0.25, 150), "y": np.linspace(-0.5, 0.5, 150)}, num_workers=1)
    took = time.perf_counter() - began
    stop.set()
    t.join()
    # The counting thread ran through the run: about one count per millisecond.
    assert took > 0.3, f"the run took {took:.3f} s, too short to tell"
    assert counted[0] > took * 1000 * 0.3, (counted, took)


def test_progress_reaches_every_case(capsys):
    r = xyz.Runner(guest("add"), constants={"c": 0.0})
    r.run_combos({"a": np.arange(300.0), "b": np.arange(300.0)}, progbar=True)
    err = capsys.readouterr().err
    assert "90000" in err


def test_a_deadline_fails_the_case_that_runs_past_it():
    r = xyz.Runner(guest("mandel"), constants={"maxiter": 10**12}, deadline=0.5)
    ds = r.run_combos({"x": [0.0, 3.0], "y": [0.0]})
    assert list(ds.xyz_status.values.ravel()) == [1, 0]  # (0, 0) never escapes; (3, 0) at once
    assert str(ds.xyz_error.values[0, 0]).startswith("deadline: ")
    assert ds.n.values[1, 0] == 1


def test_values_reach_numpy_in_the_engine_s_own_buffers():
    r = xyz.Runner(guest("mandel"), constants={"maxiter": 20})
    ds = r.run_combos({"x": np.linspace(-2, 0.5, 300), "y": np.linspace(-1, 1, 200)})
    n = ds.n.values
    assert n.flags.c_contiguous and n.shape == (300, 200)
    # A view of the buffer the engine filled, handed over whole: no array along the way owns
    # a copy; the first holds the engine's buffer (rust-numpy's container).
    root = n
    while isinstance(root.base, np.ndarray):
        assert not root.flags.owndata
        root = root.base
    assert not root.flags.owndata
    assert type(root.base).__name__ == "PySliceContainer"
    assert ds.xyz_status.values.dtype == np.int8
