"""A PyMC model compiled for nutpie with a lean C callback for the log density.

``nutpie.compile_pymc_model`` wraps PyTensor's numba function of the log density and its
gradient in a C callback that reads the model's data through a generic, ``literal_unroll``-ed
extraction; numba types and lowers that wrapper afresh in every process, which is most of a
law's compile time (about 12 s of 16 for the default law on 2 cores, with PyTensor's own numba
cache warm). :func:`compile_model` builds the same :class:`nutpie.compile_pymc.CompiledPyMCModel`
(same data layout, so ``with_data`` and sampling are unchanged) around a callback generated
for the model at hand: one straight line per data array, no unrolling, no generic array
assignment. It computes the same numbers (tests/test_sampler.py checks the callback against
PyTensor's function, for the compiled data and for data set later with ``with_data``), and it
is cached on disk beside PyTensor's numba code (:func:`_callback_cache_key`), so a later process
on the machine reads it instead of compiling it: 6–9x faster than nutpie's own compile
(``benchmarks/bench_compile.py``).

It leans on helpers of nutpie's module that are not public API; where they are missing or
changed (another nutpie version), :func:`compile_model` falls back to
``nutpie.compile_pymc_model`` (same results, slower compile) and says so once per process.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .compile_cache import cache_failure

__all__ = ["compile_model", "lean_callback_source"]

_log = logging.getLogger(__name__)
_FELL_BACK: list[str] = []
# Bumped whenever the templates' meaning changes without their text changing.
_CACHE_VERSION = "2"

# The callbacks' return codes are nutpie's own: 0 ok, -1 a dimension mismatch; for the log
# density 1 an error inside it, 3 a non-finite gradient, 4 a non-finite value; for the expansion
# -2 an error inside it. Only the call of PyTensor's function sits in the ``try``: numba types a
# ``try`` block's every statement again for each way out of it, which made a wider block
# compile ten times slower.
_LOGP = """\
def callback(dim, x_, out_, logp_, user_data_):
    if dim != N_DIM:
        return -1
    x = numba.carray(x_, (N_DIM,))
    out = numba.carray(out_, (N_DIM,))
    shared = numba.carray(user_data_, (), RECORD)["shared"]
{read}    try:
        logp_val, grad = FN(x{args})
    except Exception:  # noqa: BLE001
        return 1
    logp_[0] = logp_val
    for i in range(N_DIM):
        g = grad[i]
        if not np.isfinite(g):
            return 3
        out[i] = g
    if not np.isfinite(logp_val):
        return 4
    return 0
"""

_EXPAND = """\
def callback(dim, expanded, x_, out_, user_data_):
    if dim != N_DIM or expanded != N_OUT:
        return -1
    x = numba.carray(x_, (N_DIM,))
    out = numba.carray(out_, (N_OUT,))
    shared = numba.carray(user_data_, (), RECORD)["shared"]
{read}    try:
        (values,) = FN(x{args})
    except Exception:  # noqa: BLE001
        return -2
    for i in range(N_OUT):
        out[i] = values[i]
    return 0
"""


def lean_callback_source(kind: str, names: list[str], ndims: list[int]) -> str:
    """Source of the C callback (``kind`` "logp" or "expand") for data arrays ``names`` of
    ranks ``ndims``.

    Each array is read from nutpie's user-data record (address, size and shape per name), in
    the order PyTensor's compiled function takes them.

    Examples
    --------
    >>> src = lean_callback_source("logp", ["y"], [1])
    >>> print(src.splitlines()[6].strip())
    a0 = numba.carray(VOIDP(shared["data"]['y'][()]), shared["size"]['y'][()], DTYPE0)
    """
    read = []
    for i, (name, ndim) in enumerate(zip(names, ndims, strict=True)):
        key = repr(name)
        read.append(
            f'    a{i} = numba.carray(VOIDP(shared["data"][{key}][()]), '
            f'shared["size"][{key}][()], DTYPE{i})\n'
        )
        if ndim == 0:
            read.append(f"    a{i} = a{i}.reshape(())\n")
        elif ndim > 1:
            dims = ", ".join(f'shared["shape"][{key}][{j}]' for j in range(ndim))
            read.append(f"    a{i} = a{i}.reshape(({dims},))\n")
    args = "".join(f", a{i}" for i in range(len(names)))
    template = {"logp": _LOGP, "expand": _EXPAND}[kind]
    return template.format(read="".join(read), args=args)


def _lean_cfunc(kind: str, fn_pt, shared: dict, record_dtype, n_dim: int, n_out: int = 0):
    """A numba C callback of ``kind`` around the compiled PyTensor function ``fn_pt``."""
    import numba
    from nutpie.compile_pymc import address_as_void_pointer

    names = [var.name for var in fn_pt.get_shared()]
    scope: dict[str, Any] = {
        # numba's disk cache rebuilds the callback's environment from this module
        "__name__": __name__,
        "numba": numba,
        "np": np,
        "N_DIM": n_dim,
        "N_OUT": n_out,
        "RECORD": record_dtype,
        "FN": fn_pt.vm.jit_fn,
        "VOIDP": address_as_void_pointer,
    }
    for i, name in enumerate(names):
        scope[f"DTYPE{i}"] = np.dtype(shared[name].dtype)
    source = lean_callback_source(kind, names, [shared[name].ndim for name in names])
    # The source is this module's template filled with the model's own data-array names
    # (bayescale's ``pm.Data`` names, quoted by ``repr``): no user input is executed. PyTensor
    # builds its numba functions the same way.
    exec(compile(source, f"<bayescale_{kind}_callback>", "exec"), scope)  # noqa: S102
    ptr = numba.types.CPointer(numba.types.double)
    u64 = numba.types.uint64
    if kind == "logp":
        signature = numba.types.int64(u64, ptr, ptr, ptr, numba.types.voidptr)
    else:
        signature = numba.types.int64(u64, u64, ptr, ptr, numba.types.voidptr)
    key = _callback_cache_key(kind, fn_pt, source, scope)
    if key is None:
        return numba.cfunc(signature)(scope["callback"])
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    # PyTensor's cache locator finds the callback by this key and keeps it beside PyTensor's
    # own entries (``<compiledir>/numba``), where ``compile_tolerating_cache`` removes a
    # damaged entry.
    CACHED_SRC_FUNCTIONS[scope["callback"]] = key
    try:
        return numba.cfunc(signature, cache=True)(scope["callback"])
    except Exception as err:  # noqa: BLE001 (the cache is a speed-up: compile without it)
        if cache_failure(err) is not None:
            raise  # a damaged entry: compile_tolerating_cache removes it and says so
        CACHED_SRC_FUNCTIONS.pop(scope["callback"], None)
        _log.debug("bayescale: %s callback not cached (%r); compiled in this process", kind, err)
        return numba.cfunc(signature)(scope["callback"])


def _callback_cache_key(kind: str, fn_pt, source: str, scope: dict[str, Any]) -> str | None:
    """The key of the callback in PyTensor's numba disk cache, or None where it must not be
    cached (PyTensor does not cache the function it calls)."""
    import hashlib

    import pytensor

    try:
        from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS
    except ImportError:
        return None
    if not pytensor.config.numba__cache:
        return None
    inner = CACHED_SRC_FUNCTIONS.get(getattr(fn_pt.vm.jit_fn, "py_func", None))
    if inner is None:
        return None
    # Everything numba freezes into the machine code: the source, the function it calls
    # (PyTensor's own key: the graph, its constants, fastmath) and the constants it reads;
    # and the versions of what wrote it (PyTensor's locator does not key on its own version).
    import numba
    import nutpie

    frozen = {k: repr(v) for k, v in sorted(scope.items()) if k.isupper() and k != "FN"}
    stack = f"pytensor {pytensor.__version__} numba {numba.__version__} nutpie {nutpie.__version__}"
    text = "\n".join([_CACHE_VERSION, stack, kind, source, inner, repr(frozen)])
    return "bayescale_" + hashlib.sha256(text.encode()).hexdigest()


def _compile_lean(model, var_names: list[str]):
    from nutpie import compile_pymc as cp
    from pymc.initial_point import make_initial_point_fn

    initial_point_fn = cp._wrap_with_lock(
        make_initial_point_fn(
            model=model,
            default_strategy="support_point",
            jitter_rvs=set(model.free_RVs),
            return_transformed=True,
        )
    )
    n_dim, n_expanded, logp_pt, expand_pt, initial_fn, shape_info = cp._make_functions(
        model,
        mode="NUMBA",
        compute_grad=True,
        join_expanded=True,
        pymc_initial_point_fn=initial_point_fn,
        var_names=var_names,
    )
    shared_data: dict[str, np.ndarray] = {}
    shared_vars: dict[str, Any] = {}
    for var in [*logp_pt.get_shared(), *expand_pt.get_shared()]:
        if var.name in shared_vars and shared_vars[var.name] is not var:
            raise ValueError(f"Shared variables must have unique names: {var.name}")
        shared_data[var.name] = np.array(var.get_value(), order="C", copy=True)
        shared_vars[var.name] = var
    for value in shared_data.values():
        value.flags.writeable = False
    user_data = cp.make_user_data(shared_vars, shared_data)

    logp_cfunc = _lean_cfunc("logp", logp_pt, shared_data, user_data.dtype, n_dim)
    expand_cfunc = _lean_cfunc("expand", expand_pt, shared_data, user_data.dtype, n_dim, n_expanded)
    dims, coords = cp._prepare_dims_and_coords(model, shape_info)
    return cp.CompiledPyMCModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=logp_cfunc,
        compiled_expand_func=expand_cfunc,
        initial_point_func=initial_fn,
        shared_data=shared_data,
        user_data=user_data,
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=logp_pt,
        expand_func=expand_pt,
    )


def compile_model(model, var_names: list[str], *, lean: bool = True):
    """``model`` compiled for ``nutpie.sample``, keeping ``var_names`` in the trace.

    Parameters
    ----------
    model : pymc.Model
        The model (its data as ``pm.Data``, replaceable later with ``with_data``).
    var_names : list of str
        Variables to keep in nutpie's trace.
    lean : bool, default True
        Use the lean callback (:func:`lean_callback_source`); ``False`` is nutpie's own
        ``compile_pymc_model`` (the benchmark's reference). Where nutpie's helpers
        are not what this module expects, the lean path falls back to nutpie's own.

    Returns
    -------
    nutpie.compile_pymc.CompiledPyMCModel
    """
    import nutpie

    if lean:
        from numba.core.errors import NumbaError

        try:
            return _compile_lean(model, list(var_names))
        except (AttributeError, ImportError, TypeError, ValueError, NumbaError) as err:
            if cache_failure(err) is not None:
                raise  # a damaged cache entry: compile_tolerating_cache removes it
            if not _FELL_BACK:
                _FELL_BACK.append(repr(err))
                _log.warning(
                    "bayescale: the lean compile does not fit this nutpie (%s); "
                    "using nutpie.compile_pymc_model (slower to compile, same results)",
                    err,
                )
    return nutpie.compile_pymc_model(model, var_names=list(var_names))
