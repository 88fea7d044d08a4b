"""Build the notebooks in notebooks/ from their sources in notebooks/src/ and execute them.

Usage: python scripts/build_notebooks.py [NAME ...] [--quick] [--no-execute]
       python scripts/build_notebooks.py --check DIR   (in a Jupyter kernel; `make test` runs
                                                      the same cells in its own process)

A source is a Python file in "percent" format: ``# %%`` starts a code cell, ``# %% [markdown]``
a Markdown cell whose lines are comments (``# ``). The stored notebooks keep the outputs of a
full run (default draws); ``--quick`` runs with BAYESCALE_NOTEBOOK_QUICK=1 (small draws) and is
for checking only: its outputs say so in their first cell. ``--check DIR`` executes the *stored*
notebooks with small draws, writes the executed copies into DIR (the stored ones are untouched)
and ``NAME.error`` beside any that fails; its exit code is the number of failures.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "notebooks" / "src"
QUICK_ENV = "BAYESCALE_NOTEBOOK_QUICK"


def cells_from_source(text: str) -> list[tuple[str, str]]:
    """``[(kind, source), ...]`` with kind "code" or "markdown"."""
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("# %%"):
            kind = "markdown" if "[markdown]" in line else "code"
            cells.append((kind, []))
        elif cells:
            kind, lines = cells[-1]
            if kind == "markdown":
                line = line[2:] if line.startswith("# ") else line.lstrip("#")
            lines.append(line)
    out = []
    for kind, lines in cells:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if lines:
            out.append((kind, "\n".join(lines)))
    return out


def notebook_from_source(path: Path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    for kind, source in cells_from_source(path.read_text(encoding="utf-8")):
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        nb.cells.append(make(source))
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def execute(nb, cwd: Path, quick: bool, timeout: int = 1800, km=None):
    """Run every cell (in ``cwd``); raises on the first cell that errors. ``km``: a running
    kernel's manager to reuse (the check runs all notebooks in one kernel)."""
    from nbclient import NotebookClient

    old = os.environ.get(QUICK_ENV)
    os.environ[QUICK_ENV] = "1" if quick else "0"
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    try:
        NotebookClient(
            nb,
            km=km,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(cwd)}},
        ).execute()
    finally:
        if old is None:
            os.environ.pop(QUICK_ENV, None)
        else:
            os.environ[QUICK_ENV] = old
    return nb


#: First cell of each notebook in the check's shared kernel: a clean namespace (imported
#: modules, and bayescale's compiled models, stay: each law is compiled once for all notebooks).
RESET = "%reset -f\nimport matplotlib.pyplot as _plt\n_plt.close('all')\ndel _plt"


def check(out: Path, names: list[str]) -> int:
    """Execute the stored notebooks with small draws into ``out``, one after the other in one
    kernel (namespace reset between them); return the failure count."""
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient.exceptions import CellExecutionError

    out.mkdir(parents=True, exist_ok=True)
    failures = 0
    km = KernelManager(kernel_name="python3")
    try:
        for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
            if names and path.stem not in names:
                continue
            t0 = time.perf_counter()
            nb = nbformat.read(str(path), as_version=4)
            nb.cells.insert(0, nbformat.v4.new_code_cell(RESET))
            try:
                execute(nb, ROOT / "notebooks", quick=True, timeout=600, km=km)
            except CellExecutionError as exc:
                failures += 1
                (out / f"{path.stem}.error").write_text(str(exc), encoding="utf-8")
            except Exception as exc:  # kernel died, timeout, ...
                failures += 1
                (out / f"{path.stem}.error").write_text(f"{type(exc).__name__}: {exc}")
            nb.cells.pop(0)
            nbformat.write(nb, str(out / path.name))
            print(f"{path.name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    (out / "done").write_text(str(failures))  # for test processes that did not start the check
    return failures


def main() -> None:
    import nbformat

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="Notebook names (default: all sources).")
    parser.add_argument("--quick", action="store_true", help="Small draws (a check, not stored).")
    parser.add_argument("--no-execute", action="store_true")
    parser.add_argument("--check", type=Path, metavar="DIR", help="Execute stored notebooks.")
    args = parser.parse_args()
    if args.check:
        sys.exit(check(args.check, args.names))
    sources = sorted(SRC.glob("*.py"))
    if args.names:
        sources = [s for s in sources if s.stem in args.names or s.name in args.names]
    for src in sources:
        t0 = time.perf_counter()
        nb = notebook_from_source(src)
        if not args.no_execute:
            execute(nb, ROOT / "notebooks", args.quick)
        target = ROOT / "notebooks" / f"{src.stem}.ipynb"
        tmp = target.with_suffix(".ipynb.tmp")
        nbformat.write(nb, str(tmp))
        os.replace(tmp, target)
        print(f"{target.relative_to(ROOT)}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
