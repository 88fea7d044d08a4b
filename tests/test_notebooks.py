"""The three notebooks: every code cell executed with small draws in every `make test`, stored
with the outputs of a full run, and in sync with their sources in notebooks/src/."""

from __future__ import annotations

import sys

import nbformat
import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from build_notebooks import cells_from_source  # noqa: E402

NAMES = ["01_chinchilla_replication", "02_choosing_a_law", "03_planning_a_run"]


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
def test_notebook_executes_without_error(name, monkeypatch, capsys):
    """Every code cell of the stored notebook runs without error, with small draws, in order,
    in one namespace, in this test process: it shares a worker with the law-family tests
    (conftest.SHARED_WORKER), so the laws it fits are already compiled. Jupyter's own execution
    of the same cells is `python scripts/build_notebooks.py --check DIR`, and the full run
    `python scripts/build_notebooks.py` (whose outputs the next test checks)."""
    import matplotlib.pyplot as plt

    nb = nbformat.read(str(ROOT / "notebooks" / f"{name}.ipynb"), as_version=4)
    monkeypatch.setenv("BAYESCALE_NOTEBOOK_QUICK", "1")
    monkeypatch.chdir(ROOT / "notebooks")
    namespace: dict = {"__name__": "__main__"}
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    for i, source in enumerate(code, start=1):
        try:
            exec(compile(source, f"{name}.ipynb, code cell {i}", "exec"), namespace)
        except Exception as exc:
            pytest.fail(f"{name}: code cell {i} raised {type(exc).__name__}: {exc}\n{source}")
        finally:
            plt.close("all")
    assert "small-draws check run" in capsys.readouterr().out


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
