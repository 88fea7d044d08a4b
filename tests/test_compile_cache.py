"""A damaged compile cache never stops a fit nor changes its numbers (bayescale.compile_cache).

The unit tests read numba cache files through numba's own reader (``IndexDataCacheFile``, what
PyTensor's cache uses); the last test damages every entry of a real PyTensor cache between two
processes and checks that the second fits the same draws, warns, and leaves a cache the next
process reads.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from numba.core.caching import IndexDataCacheFile

from bayescale.compile_cache import (
    CacheWarning,
    cache_failure,
    compile_tolerating_cache,
    unreadable_entries,
)

ROOT = Path(__file__).resolve().parent.parent


def _entry(folder: Path, name: str) -> IndexDataCacheFile:
    return IndexDataCacheFile(str(folder), name, source_stamp=("stamp", 1))


def test_the_damaged_file_is_found_in_numbas_error(tmp_path):
    good, bad = _entry(tmp_path, "good.py311"), _entry(tmp_path, "bad.py311")
    good.save("key", ("some", "data"))
    assert good.load("key") == ("some", "data")
    Path(bad._index_path).write_bytes(b"\x80\x04 damaged")
    with pytest.raises(Exception) as info:  # numba does not catch it
        bad.load("key")
    assert cache_failure(info.value) == [bad._index_path]
    assert cache_failure(ValueError("elsewhere")) is None
    assert unreadable_entries(tmp_path) == [bad._index_path]


def test_a_damaged_entry_is_removed_and_the_compile_repeated(tmp_path):
    good, bad, other = (_entry(tmp_path, f"{n}.py311") for n in ("good", "bad", "other"))
    good.save("key", 1)
    for entry in (bad, other):
        Path(entry._index_path).write_bytes(b"garbage")
    calls = []

    def compile_fn():
        calls.append(1)
        bad.load("key")  # raises while the damaged index is there, returns None once removed
        return "compiled"

    with pytest.warns(CacheWarning, match="2 damaged compile cache file"):
        assert compile_tolerating_cache(compile_fn) == "compiled"
    assert len(calls) == 2
    # both damaged indexes of the folder are gone, the intact entry is kept and still read
    assert not Path(bad._index_path).exists() and not Path(other._index_path).exists()
    assert good.load("key") == 1


def test_other_errors_propagate_and_a_cache_that_keeps_failing_is_bypassed(tmp_path):
    def broken():
        raise RuntimeError("not the cache")

    with pytest.raises(RuntimeError, match="not the cache"):
        compile_tolerating_cache(broken)

    entry = _entry(tmp_path, "again.py311")
    seen = []

    def always_damaged():  # the cache is damaged again at every attempt
        import pytensor

        seen.append(pytensor.config.numba__cache)
        if pytensor.config.numba__cache:
            Path(entry._index_path).write_bytes(b"garbage")
            entry.load("key")
        return "compiled without the cache"

    with pytest.warns(CacheWarning, match="without the cache"):
        assert compile_tolerating_cache(always_damaged, attempts=2) == "compiled without the cache"
    assert seen[-1] is False and seen[:-1] == [True, True]


FIT = """
import hashlib, warnings
import numpy as np
import bayescale as bs
from bayescale.laws.base import make_law
warnings.simplefilter("always")
runs = bs.load_runs("data/chinchilla.csv").iloc[::6]
fit = make_law("kaplan-c").fit(runs, seed=1, draws=100, tune=100, chains=2, drift=False)
draws = np.stack([fit.posterior[name].to_numpy() for name in fit.law.sampled_params])
print("DRAWS", hashlib.sha256(draws.tobytes()).hexdigest())
from bayescale import sampling
compiled = list(sampling._COMPILED.values())
hits = sum(c.compiled_logp_func._cache_hits + c.compiled_expand_func._cache_hits for c in compiled)
print("CALLBACKS FROM CACHE", hits)
"""


def test_a_fit_through_a_damaged_cache_gives_the_same_draws(tmp_path):
    """Every file of a real PyTensor numba cache (bayescale's C callbacks included) overwritten
    with random bytes between two processes: the second process fits bitwise the same draws,
    with one warning; the third reads the rebuilt cache without one, callbacks included."""
    env = {
        **os.environ,
        "PYTENSOR_FLAGS": f"base_compiledir={tmp_path / 'pytensor'}",
        "NUMBA_CACHE_DIR": str(tmp_path / "numba"),
    }

    hits = []

    def fit() -> tuple[str, str]:
        out = subprocess.run(
            [sys.executable, "-c", FIT], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr[-2000:]
        hits.append(int(out.stdout.split("CALLBACKS FROM CACHE ")[1]))
        return out.stdout.split("DRAWS ")[1].split()[0], out.stderr

    reference, _ = fit()
    entries = list((tmp_path / "pytensor" / "numba").glob("*.nb[ic]"))
    assert len(entries) > 10
    # bayescale's own C callbacks are cached beside PyTensor's entries, and damaged with them
    assert any(path.name.startswith("bayescale_") for path in entries)
    for path in entries:
        path.write_bytes(os.urandom(max(path.stat().st_size, 16)))
    damaged, stderr = fit()
    assert damaged == reference
    assert stderr.count("CacheWarning") == 1 and "damaged compile cache file" in stderr
    rebuilt, stderr = fit()
    assert rebuilt == reference and "CacheWarning" not in stderr
    # the first process compiled both callbacks, the last read both from the cache: the
    # callbacks read back give the same draws
    assert hits[0] == 0 and hits[-1] == 2


def test_the_callbacks_cache_key_changes_with_everything_frozen_into_it():
    """A cached C callback is only read back for the same source, the same PyTensor graph it
    calls (PyTensor's key) and the same constants numba froze into it; where PyTensor does
    not cache the graph, or its cache is off, the callback is not cached either."""
    from types import SimpleNamespace

    import numpy as np
    import pytensor
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    from bayescale.compiled_logp import _callback_cache_key as key

    def inner():
        return None

    fn = SimpleNamespace(vm=SimpleNamespace(jit_fn=SimpleNamespace(py_func=inner)))
    scope = {"N_DIM": 7, "DTYPE0": np.dtype("float64"), "FN": object(), "np": np}
    CACHED_SRC_FUNCTIONS[inner] = "graph-a"
    base = key("logp", fn, "src", scope)
    assert base.startswith("bayescale_")
    assert key("logp", fn, "src", {**scope, "FN": object()}) == base  # FN counts by its graph
    changed = [
        key("expand", fn, "src", scope),
        key("logp", fn, "src2", scope),
        key("logp", fn, "src", {**scope, "N_DIM": 8}),
        key("logp", fn, "src", {**scope, "DTYPE0": np.dtype("float32")}),
    ]
    CACHED_SRC_FUNCTIONS[inner] = "graph-b"
    changed.append(key("logp", fn, "src", scope))
    assert len({base, *changed}) == 6
    with pytensor.config.change_flags(numba__cache=False):
        assert key("logp", fn, "src", scope) is None
    del CACHED_SRC_FUNCTIONS[inner]
    assert key("logp", fn, "src", scope) is None
