"""The notebook in `docs/` runs from top to bottom in a real Jupyter kernel."""

import shutil

import nbformat
import pytest

from conftest import ROOT, guest


def test_the_notebook_runs(tmp_path):
    nbclient = pytest.importorskip("nbclient")
    shutil.copy(guest("mandel"), tmp_path / "mandel.wasm")
    nb = nbformat.read(ROOT / "docs" / "python.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, errors
    texts = [o.get("data", {}).get("text/plain", "") for o in outputs]
    assert texts.count("True") == 2  # the pool's dataset, and the crop's, identical to the run's
    assert any(t.startswith("<xyz.Crop mandel: 2/6 batches grown") for t in texts), texts
