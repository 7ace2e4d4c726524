"""The README's Python section runs as written: its blocks in order, beside `mandel.wasm` and
`add.wasm`, each printed value the one its comment gives."""

import contextlib
import io
import os
import re
import shutil

from conftest import ROOT, guest


def python_section():
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## Python\n")
    end = text.index("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end], re.S)


def test_the_readme_python_examples_run_as_written(tmp_path, monkeypatch):
    blocks = python_section()
    assert len(blocks) >= 4
    shutil.copy(guest("mandel"), tmp_path / "mandel.wasm")
    shutil.copy(guest("add"), tmp_path / "add.wasm")
    monkeypatch.chdir(tmp_path)
    expected = []
    for block in blocks:
        for line in block.splitlines():
            m = re.match(r"\s*print\(.*\)\s*#\s*(.*)$", line)
            if m:
                expected.append(m.group(1))
    out = io.StringIO()
    scope = {"__name__": "__readme__"}
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block, "README.md", "exec"), scope)
    printed = out.getvalue().splitlines()
    assert len(printed) == len(expected), printed
    for got, comment in zip(printed, expected):
        assert comment.startswith(got), f"printed {got!r}, the README says {comment!r}"
    assert os.path.isdir("adds.zarr")
