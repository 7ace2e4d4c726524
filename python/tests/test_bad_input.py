"""Bad input from Python: a clear exception naming what is wrong, never a crash, and nothing
on disk lost. Random inputs (seeded) stand in for what a user might pass."""

import math
import random

import numpy as np
import pytest

import xyz
from xyz import _xyz
from xyz._binary import worker_binary
from conftest import guest

ODD = [
    None, True, 2**63, -(2**64), float("nan"), math.inf, 1e308, "", "x", "1+2j", b"bytes", 1 + 2j,
    object(), [], {}, {"linspace": [0, 1, 3]}, {"range": [0, "a"]}, [1, "a"], [[1, 2]], {1: 2},
    np.float32(1.5), np.arange(3), np.array([[1.0]]), range(3), {"uniform": [0, 1]},
]


def random_value(rng, depth=0):
    r = rng.random()
    if depth < 2 and r < 0.2:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if depth < 2 and r < 0.3:
        return {rng.choice(["linspace", "range", "logspace", "a", "uniform"]): random_value(rng, depth + 1)}
    return rng.choice(ODD)


def test_any_combos_and_constants_give_a_result_or_an_exception_naming_the_field():
    r = xyz.Runner(guest("add"))
    rng = random.Random(7)
    for _ in range(300):
        combos = {rng.choice(["a", "b", "c", "d"]): random_value(rng) for _ in range(rng.randrange(1, 4))}
        constants = {rng.choice(["a", "b", "c"]): random_value(rng) for _ in range(rng.randrange(0, 3))}
        try:
            ds = r.run_combos(combos, constants=constants)
        except xyz.XyzError as e:
            assert str(e), combos
        except TypeError as e:
            assert "`" in str(e), e  # names the field
        else:
            assert "sum" in ds


def test_damaged_tasks_are_refused_not_trusted():
    with open(guest("add"), "rb") as f:
        module = f.read()
    sha = xyz.Runner(guest("add")).function.sha256
    rng = random.Random(11)
    for _ in range(200):
        call = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
        with pytest.raises(xyz.ExecutorError, match="a damaged task"):
            _xyz.evaluate(call, module, sha, worker_binary(), None, None, False)
    with pytest.raises(xyz.FunctionError, match="not the 0000 it was sent with"):
        _xyz.evaluate(b"", module, "0000", worker_binary(), None, None, False)
    for deadline in (-1.0, float("nan"), float("inf")):
        with pytest.raises(xyz.ExecutorError, match="a task's deadline"):
            _xyz.evaluate(b"", module, sha, worker_binary(), None, deadline, False)


def test_the_lazy_errors_read_as_the_whole_array_does():
    r = xyz.Runner(guest("faulty"))
    ds = r.run_combos({"mode": ["ok", "trap", "panic", "none"], "x": np.arange(7.0)})
    whole = np.asarray(ds.xyz_error.values)
    rng = np.random.default_rng(3)
    for _ in range(300):
        key = []
        for n in ds.xyz_error.shape:
            kind = rng.integers(3)
            if kind == 0:
                key.append(int(rng.integers(-n, n)))
            elif kind == 1:
                a, b = sorted(rng.integers(-n, n + 1, size=2))
                step = int(rng.choice([1, 2, -1]))
                key.append(slice(int(a), int(b), step) if step > 0 else slice(None, None, -1))
            else:
                key.append(list(rng.integers(0, n, size=int(rng.integers(1, 4)))))
        got = ds.xyz_error.isel(mode=key[0], x=key[1]).values
        want = ds.xyz_error.copy(data=whole).isel(mode=key[0], x=key[1]).values
        assert (np.asarray(got) == np.asarray(want)).all(), key
