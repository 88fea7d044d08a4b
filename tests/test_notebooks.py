"""The three notebooks: executed from the stored files with small draws in every `make test`
(in a background process started at collection, see conftest.py), stored with the outputs of a
full run, and in sync with their sources in notebooks/src/."""

from __future__ import annotations

import sys

import nbformat
import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from build_notebooks import cells_from_source  # noqa: E402

NAMES = ["01_chinchilla_replication", "02_choosing_a_law", "03_planning_a_run"]


@pytest.fixture(scope="module")
def executed(request):
    import os
    import time
    from pathlib import Path

    from conftest import start_notebook_check

    shared = os.environ.get("BAYESCALE_NOTEBOOK_CHECK")
    if shared and not getattr(request.config, "notebook_check", None):  # an xdist worker
        done, t0 = Path(shared) / "done", time.monotonic()
        while not done.exists() and time.monotonic() - t0 < 1200:
            time.sleep(2)
        assert done.exists(), f"the notebook check in {shared} did not finish in 20 minutes"
        return Path(shared)
    check = getattr(request.config, "notebook_check", None) or start_notebook_check()
    proc, out = check
    proc.wait(timeout=1200)
    return out


def _text(cell) -> str:
    parts = []
    for o in cell.get("outputs", []):
        if "text" in o:
            parts.append(o["text"])
        for key in ("text/plain", "text/markdown"):
            if key in o.get("data", {}):
                parts.append(o["data"][key])
    return "".join(parts)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes_without_error(executed, name):
    error = executed / f"{name}.error"
    assert not error.exists(), error.read_text()[-3000:]
    nb = nbformat.read(str(executed / f"{name}.ipynb"), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert "small-draws check run" in _text(code[0])


@pytest.mark.parametrize("name", NAMES)
def test_stored_notebook_is_a_full_run_in_sync_with_its_source(name):
    nb = nbformat.read(str(ROOT / "notebooks" / f"{name}.ipynb"), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "full run" in _text(code[0]) and "small-draws" not in _text(code[0])
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), "stored outputs are not from one clean run"
    for c in code:
        assert not any(o.get("output_type") == "error" for o in c.outputs)
    images = sum("image/png" in o.get("data", {}) for c in code for o in c.outputs)
    assert images >= 2, "the stored notebook lost its figures"
    source = cells_from_source((ROOT / "notebooks" / "src" / f"{name}.py").read_text())
    assert [(c.cell_type, c.source) for c in nb.cells] == source, (
        f"notebooks/{name}.ipynb differs from notebooks/src/{name}.py: "
        f"run python scripts/build_notebooks.py {name}"
    )
