"""`executor=`: every kind of pool xyzpy takes, evaluating chunks of cases with xyz's engine in
their own processes."""

import concurrent.futures as cf
import multiprocessing
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import xyz
from conftest import guest

COMBOS = {"x": np.linspace(-2, 0.5, 30), "y": np.linspace(-1, 1, 20), "maxiter": [10, 60]}


@pytest.fixture(scope="module")
def local():
    return xyz.Runner(guest("mandel")).run_combos(COMBOS)


def test_a_process_pool(local):
    with cf.ProcessPoolExecutor(2) as ex:
        assert xyz.Runner(guest("mandel")).run_combos(COMBOS, executor=ex).identical(local)


def test_a_spawned_process_pool(local):
    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
        assert xyz.Runner(guest("mandel")).run_combos(COMBOS, executor=ex).identical(local)


def test_a_multiprocessing_pool(local):
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        assert xyz.Runner(guest("mandel")).run_combos(COMBOS, executor=pool).identical(local)


def test_a_thread_pool_and_failures_kept_per_case():
    r = xyz.Runner(guest("faulty"))
    combos = {"mode": ["ok", "trap", "panic"], "x": np.arange(40.0)}
    with cf.ThreadPoolExecutor(3) as ex:
        assert r.run_combos(combos, executor=ex).identical(r.run_combos(combos))


def test_a_dask_local_cluster(local):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            ds = xyz.Runner(guest("mandel")).run_combos(COMBOS, executor=client)
    assert ds.identical(local)


def test_a_crop_grown_through_an_executor(local, tmp_path):
    c = xyz.Crop(name="m", fn=guest("mandel"), num_batches=7, parent_dir=tmp_path).sow_combos(COMBOS)
    with cf.ProcessPoolExecutor(2) as ex:
        assert c.grow_missing(executor=ex) == (7, 1200, 0)
    assert c.reap().identical(local)


class Flaky:
    """A pool whose connection drops the first task it is given, as a cluster's does when a
    node goes away: the task is lost and must be submitted again."""

    def __init__(self):
        self.pool = cf.ThreadPoolExecutor(2)
        self.submitted = 0

    def submit(self, fn, *args):
        self.submitted += 1
        if self.submitted == 1:
            f = cf.Future()
            f.set_exception(ConnectionResetError("the node went away"))
            return f
        return self.pool.submit(fn, *args)


def test_a_lost_task_is_submitted_again(local):
    ex = Flaky()
    assert xyz.Runner(guest("mandel")).run_combos(COMBOS, executor=ex, num_workers=2).identical(local)
    assert ex.submitted > 1


class Broken:
    def submit(self, fn, *args):
        f = cf.Future()
        f.set_exception(ConnectionRefusedError("no scheduler at tcp://10.0.0.1:8786"))
        return f


def test_a_pool_that_loses_every_task_fails_the_run_naming_why():
    with pytest.raises(xyz.ExecutorError, match="failed 4 times on Broken: ConnectionRefusedError: no scheduler"):
        xyz.Runner(guest("mandel")).run_combos(COMBOS, executor=Broken(), num_workers=2)
    with pytest.raises(xyz.ExecutorError, match="neither submit"):
        xyz.Runner(guest("mandel")).run_combos(COMBOS, executor=object())


MPI_SCRIPT = """
import sys
import numpy as np
import xarray as xr
import xyz
from mpi4py.futures import MPIPoolExecutor

if __name__ == "__main__":
    combos = {"x": np.linspace(-2, 0.5, 30), "y": np.linspace(-1, 1, 20), "maxiter": [10, 60]}
    r = xyz.Runner(sys.argv[1])
    with MPIPoolExecutor() as ex:
        ds = r.run_combos(combos, executor=ex)
    ds.to_netcdf(sys.argv[2])
"""


def test_an_mpi4py_pool_under_open_mpi(local, tmp_path):
    pytest.importorskip("mpi4py")
    mpirun = shutil.which("mpirun")
    assert mpirun, "Open MPI's mpirun is not installed (scripts/debian/test.txt installs openmpi-bin)"
    script = tmp_path / "mpi_sweep.py"
    script.write_text(textwrap.dedent(MPI_SCRIPT))
    env = dict(os.environ, OMPI_MCA_rmaps_base_oversubscribe="1")
    p = subprocess.run(
        [mpirun, "--allow-run-as-root", "-n", "3", sys.executable, "-m", "mpi4py.futures", script,
         guest("mandel"), tmp_path / "out.nc"],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert p.returncode == 0, p.stderr
    import xarray as xr

    ds = xr.open_dataset(tmp_path / "out.nc").load()
    np.testing.assert_array_equal(ds["n"].values, local["n"].values)
    np.testing.assert_array_equal(ds.xyz_status.values, local.xyz_status.values)


def test_an_ipyparallel_view(local):
    ipp = pytest.importorskip("ipyparallel")
    cluster = ipp.Cluster(n=2, log_level=40)
    client = cluster.start_and_connect_sync(activate=False)
    try:
        view = client.load_balanced_view()
        assert xyz.Runner(guest("mandel")).run_combos(COMBOS, executor=view).identical(local)
    finally:
        client.close()
        cluster.stop_cluster_sync()
