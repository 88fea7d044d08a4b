"""NUTS in JAX for a law's model, compiled once per law configuration and data shape.

PyMC's JAX path (``pm.sample(nuts_sampler="numpyro")``) turns the model's data into constants
and compiles the log density and numpyro's sampler again at every call: a fit paid JAX's whole
compile at every main run, and a second fit of the same law in the same process paid it again
(issue #19 measured 41.7 s, then 16.2 s, for the 240 Chinchilla runs on an H200). Here:

- the model's log density is turned into a JAX function once per law configuration and data
  shape (:func:`signature`: JAX must know shapes when it compiles), with the model's data (the
  runs, their centres, the whitening ``loc`` and ``chol``) as *arguments*
  (:func:`log_density`);
- numpyro's NUTS kernel (its functional form, :func:`numpyro.infer.hmc.hmc` with
  ``potential_fn_gen``: the same kernel, warm-up adaptation and defaults as PyMC's numpyro path)
  steps every chain in one jitted program (:func:`_program`), which JAX compiles once for each
  law configuration, data shape, number of chains, tuning steps and draws, and reuses for any
  data of that shape: adaptive reruns, refits on resampled runs, a simulation study;
- JAX's persistent compilation cache is pointed at PyTensor's compile directory (where the user
  has not set one), so a later process on the machine reads the compiled program from disk.
  JAX keys an entry on the program itself and its own version and backend, so a stale entry is
  never read. JAX compiles again where it cannot read an entry, but never replaces an entry
  that exists: a damaged one would cost every later process the compile (and a warning), so
  it is removed (:func:`_remove_unreadable`, with a
  :class:`~bayescale.compile_cache.CacheWarning`); the next process writes it again.

The chains run side by side (``pmap``) where JAX sees a device for each, as on CPUs (PyMC's
JAX module declares 100 host devices); otherwise vectorised on one device (``vmap``: one GPU),
where PyMC's default drew them one after another.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import constants as K
from .compile_cache import CacheWarning

__all__ = [
    "clear_programs",
    "jax_options",
    "log_density",
    "signature",
    "sample_nuts",
    "side_by_side",
    "use_persistent_cache",
]

_DENSITIES: dict[tuple, tuple[list[str], Callable]] = {}
_PROGRAMS: dict[tuple, Any] = {}

#: Sampler statistics kept, as PyMC names them.
STATS = ("diverging", "energy", "n_steps", "tree_depth", "acceptance_rate", "step_size", "lp")


def clear_programs() -> None:
    """Forget the JAX log densities and sampling programs of this process."""
    _DENSITIES.clear()
    _PROGRAMS.clear()


def use_persistent_cache() -> str | None:
    """Point JAX's persistent compilation cache at ``<PyTensor compiledir>/jax`` unless the user
    chose a directory (``JAX_COMPILATION_CACHE_DIR`` or ``jax.config``); the directory used."""
    import jax

    chosen = jax.config.jax_compilation_cache_dir
    if chosen:
        return str(chosen)
    import pytensor

    where = Path(pytensor.config.compiledir) / "jax"
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only home: compile in memory only
        return None
    jax.config.update("jax_compilation_cache_dir", str(where))
    return str(where)


#: The start of JAX's warning about a persistent cache entry it could not read.
_UNREADABLE = "Error reading persistent compilation cache entry"


def _remove_unreadable(message: str) -> None:
    """Remove the entries of JAX's persistent cache that JAX could not read (``message``: its
    warning, which names the program): the entries that do not decompress, or where all do,
    the entries of the program the warning names. Says so once (:class:`CacheWarning`)."""
    import jax
    from jax._src import compilation_cache as cc

    where = jax.config.jax_compilation_cache_dir
    if not where or not Path(where).is_dir():
        return
    entries = sorted(Path(where).glob("*-cache"))
    removed = []
    for entry in entries:
        try:
            cc.extract_executable_and_time(cc.decompress_executable(entry.read_bytes()))
        except Exception:  # noqa: BLE001  (whatever fails to read is damaged)
            removed.append(entry)
    if not removed:
        name = message.split("'")[1] if message.count("'") >= 2 else None
        removed = [e for e in entries if name and e.name.startswith(f"{name}-")]
    for entry in removed:
        entry.unlink(missing_ok=True)
    warnings.warn(
        f"bayescale: {len(removed)} damaged JAX compile cache file(s) in {where} could not be "
        "read; removed them and compiled again (the same results)",
        CacheWarning,
        stacklevel=3,
    )


def _is_static(var) -> bool:
    """Whether model data is an integer scalar (such as a curve fit's number of runs)."""
    return var.type.ndim == 0 and var.type.dtype.startswith(("int", "uint"))


def signature(model, settings: dict[str, Any]) -> tuple:
    """What JAX must know of the data in ``settings`` when it compiles: each model data
    array's shape, and the value of each integer scalar (they set shapes, such as a curve
    fit's number of runs). :func:`log_density` freezes them in; new ones compile anew.

    PyTensor computes some shapes from the data's shapes (a curve fit's runs from the length
    of ``y``); with the shapes fixed those computations fold into constants, which JAX needs.
    """
    return tuple(
        (v.name, int(settings[v.name]) if _is_static(v) else np.shape(settings[v.name]))
        for v in model.data_vars
    )


def log_density(key: str, model, fixed: tuple = ()):
    """The log density of ``model`` (bayescale's whitened PyMC model: one vector ``w``) as a JAX
    function ``f(w, *data)``, with the names of the model data it takes, in order; one per
    ``key`` (the law's configuration) and ``fixed`` (:func:`signature`) for the life of the
    process.

    The model data (PyMC's shared variables) become the function's arguments instead of the
    constants PyMC's JAX path freezes into the program, so one compiled program serves any data
    of the same shapes (``fixed``: their shapes, and the values of integer scalars, which are
    frozen in as constants).
    """
    if (key, fixed) in _DENSITIES:
        return _DENSITIES[key, fixed]
    import pytensor.tensor as pt
    from pymc.sampling.jax import get_jaxified_graph
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.replace import graph_replace
    from pytensor.graph.traversal import ancestors

    logp = model.logp()
    w = model.rvs_to_values[model["w"]]
    shared = sorted(
        {v for v in ancestors([logp]) if isinstance(v, SharedVariable)}, key=lambda v: v.name
    )
    known = dict(fixed)
    replace, dynamic, inputs = {}, [], []
    for v in shared:
        if _is_static(v) and v.name in known:
            replace[v] = pt.constant(known[v.name], dtype=v.type.dtype)
        else:
            shape = known.get(v.name, v.type.shape)
            inputs.append(pt.tensor(name=v.name, dtype=v.type.dtype, shape=shape))
            dynamic.append(v)
            replace[v] = inputs[-1]
    logp = graph_replace(logp, replace, strict=False)
    fn = get_jaxified_graph(inputs=[w, *inputs], outputs=[logp])

    def density(w_value, *data):
        return fn(w_value, *data)[0]

    _DENSITIES[key, fixed] = ([v.name for v in dynamic], density)
    return _DENSITIES[key, fixed]


def _program(key: str, model, chains: int, parallel: bool, fixed: tuple = ()):
    """The jitted program that runs ``chains`` NUTS chains of ``key``'s model for data of the
    signature ``fixed``: ``run(rng_keys, w0, data, target_accept, tune, draws)`` (``tune``,
    ``draws`` static), with the names of the data it takes (:func:`log_density`)."""
    cache_key = (key, chains, parallel, fixed)
    if cache_key in _PROGRAMS:
        return _PROGRAMS[cache_key]
    import jax
    from numpyro.infer.hmc import hmc

    names, density = log_density(key, model, fixed)

    def potential_gen(*data):
        return lambda w: -density(w, *data)

    init_kernel, sample_kernel = hmc(potential_fn_gen=potential_gen, algo="NUTS")

    def chain(rng_key, w0, data, target_accept, tune, draws):
        state = init_kernel(
            w0, tune, target_accept_prob=target_accept, model_args=data, rng_key=rng_key
        )

        def step(state, _):
            state = sample_kernel(state, model_args=data)
            stats = (
                state.diverging,
                state.energy,
                state.num_steps,
                state.accept_prob,
                state.adapt_state.step_size,
                state.potential_energy,
            )
            return state, (state.z, stats)

        state, _ = jax.lax.scan(step, state, None, length=tune)
        return jax.lax.scan(step, state, None, length=draws)[1]

    if parallel:
        run = jax.pmap(chain, in_axes=(0, 0, None, None), static_broadcasted_argnums=(4, 5))
    else:
        run = jax.jit(
            jax.vmap(chain, in_axes=(0, 0, None, None, None, None)), static_argnums=(4, 5)
        )
    _PROGRAMS[cache_key] = (names, run)
    return _PROGRAMS[cache_key]


def side_by_side(chains: int) -> bool:
    """Whether JAX has a device per chain (then the chains run side by side, else vectorised
    on one device).

    Examples
    --------
    >>> side_by_side(1)  # every machine has a device for one chain
    True
    """
    import jax
    import pymc.sampling.jax  # noqa: F401  (declares XLA's host devices before JAX starts)

    return jax.local_device_count() >= chains


def sample_nuts(
    key: str,
    model,
    settings: dict[str, np.ndarray],
    *,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    target_accept: float,
):
    """NUTS draws of ``w`` for ``model`` given its data ``settings`` (name -> array, the
    whitening included): ``(posterior, sample_stats)`` as xarray Datasets with dims
    ``(chain, draw)``, the statistics named as PyMC names them (:data:`STATS`).

    Each chain starts at ``w`` drawn uniformly in [-1, 1] (``w`` is whitened, so this is within
    about a posterior sd of the pilot's mean), as PyMC jitters its starts.
    """
    import jax
    import xarray as xr

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        parallel = side_by_side(chains)
        use_persistent_cache()
        names, run = _program(key, model, chains, parallel, signature(model, settings))
    data = tuple(np.asarray(settings[n], dtype=model[n].dtype) for n in names)
    k = int(np.shape(settings["loc"])[0])
    rng = np.random.default_rng(seed)
    w0 = rng.uniform(-1.0, 1.0, size=(chains, k))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        keys = jax.random.split(jax.random.PRNGKey(int(rng.integers(2**31))), chains)
        z, stats = run(keys, w0, data, float(target_accept), int(tune), int(draws))
    unreadable = [w for w in caught if _UNREADABLE in str(w.message)]
    for w in caught:
        if w not in unreadable:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if unreadable:  # the next process compiles and writes them again, the one after reads them
        _remove_unreadable(str(unreadable[0].message))
    z = np.asarray(z)
    diverging, energy, n_steps, accept, step_size, potential = (np.asarray(s) for s in stats)
    dims = (K.CHAIN, K.DRAW)
    posterior = xr.Dataset({"w": xr.DataArray(z, dims=(*dims, "w_dim_0"))})
    n_steps = n_steps.astype(np.int64)
    sample_stats = xr.Dataset(
        {
            "diverging": (dims, diverging.astype(bool)),
            "energy": (dims, energy),
            "n_steps": (dims, n_steps),
            "tree_depth": (dims, np.floor(np.log2(np.maximum(n_steps, 1))).astype(int) + 1),
            "acceptance_rate": (dims, accept),
            "step_size": (dims, step_size),
            "lp": (dims, -potential),
        }
    )
    return posterior, sample_stats


def jax_options(sampler: str, chains: int) -> dict[str, Any]:
    """PyMC's options for a JAX sampler it runs (blackjax): with fewer devices than chains (one
    GPU), the chains vectorised on one device (one program stepping all chains at once), where
    PyMC's default draws them one after another (issue #19 measured 4 chains in turn on an
    H200). With a device per chain, PyMC's default: on CPUs PyMC's JAX module declares 100
    host devices, so the chains run side by side (11.8 s against 18.4 s vectorised, 240
    Chinchilla runs, 4 x 500 draws, 2 cores: vectorised NUTS waits at every step for the
    longest trajectory). bayescale's own numpyro program chooses alike
    (:func:`side_by_side`)."""
    if sampler not in K.JAX_SAMPLERS or side_by_side(chains):
        return {}
    return {"nuts_sampler_kwargs": {"chain_method": "vectorized"}}
