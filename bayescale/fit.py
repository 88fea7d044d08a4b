"""The result of fitting a law: posterior, runs, settings and diagnostics, saved in open formats.

A :class:`Fit` is created by :meth:`bayescale.laws.Law.fit` and never changes afterwards. Its
``idata`` is an :class:`arviz.InferenceData` with the groups ``posterior`` (dims ``chain``,
``draw``), ``sample_stats``, ``observed_data`` and ``constant_data`` (dim ``run``) and
``log_likelihood`` (dims ``chain``, ``draw``, ``run``), ready for ``arviz.loo`` / ``arviz.compare``.

On disk a fit is a directory: ``posterior.nc`` (NetCDF), ``fit.json`` (law, priors, settings,
versions, data hash, diagnostics), ``summary.csv`` and ``runs.csv``: open formats only.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from . import constants as K
from .checks import check_interval
from .curves import curve_data
from .data import runs_sha256
from .diagnostics import diagnose, warn_if_untrustworthy
from .exceptions import ConfigError, FitFileError
from .io import dumps, versions, write_result_dir
from .laws.base import Law, law_from_dict

__all__ = ["Fit", "load_fit", "FORMAT", "FORMAT_VERSION"]

FORMAT = "bayescale-fit"
FORMAT_VERSION = 1
#: The log-likelihood's dimension in curve fits: one entry per run (its whole curve).
CURVE = "curve"
FILES = ("posterior.nc", "fit.json", "summary.csv", "runs.csv")
#: What a refit into a fit's directory removes first: files made from the saved fit
#: (``bayescale report``'s default outputs) and a chain's step 2 (rewritten when there is one).
DERIVED = ("report.html", "report", "link")
#: Where a downstream chain keeps its step 2 (the link's own fit directory).
LINK_DIR = "link"


def observed_name(law: Law) -> str:
    """Name of the observed variable: ``log_loss`` for log-scale laws, else the target."""
    return f"log_{law.target}" if law.observation == "log" else law.target


def pointwise_loglik(law: Law, posterior: xr.Dataset, runs: pd.DataFrame) -> xr.DataArray:
    """Log-likelihood of every run under every posterior draw, dims (chain, draw, run); for
    the curve likelihood, of each run's checkpoints together, dims (chain, draw, curve) (so
    that PSIS-LOO leaves out one run's whole curve)."""
    if law.likelihood.curve:
        return _curve_loglik(law, posterior, runs)
    logx = {x: xr.DataArray(np.log(runs[x].to_numpy(float)), dims=K.RUN) for x in law.inputs}
    y = xr.DataArray(law.to_observed(runs[law.target].to_numpy(float)), dims=K.RUN)
    params = {name: posterior[name] for name in law.sampled_params}
    if K.GROUP in posterior.dims:  # each run takes its group's parameters
        codes = {g: i for i, g in enumerate(posterior[K.GROUP].values.astype(str))}
        idx = xr.DataArray(runs[K.GROUP].astype(str).map(codes).to_numpy(), dims=K.RUN)
        params = {n: v.isel({K.GROUP: idx}) if K.GROUP in v.dims else v for n, v in params.items()}
    p = law.numpy_params(params)
    mu = law.location(p, logx, np)
    return law.likelihood.logpdf(y, mu, law.likelihood_params(p, logx, np)).transpose(..., K.RUN)


def _curve_loglik(law: Law, posterior: xr.Dataset, runs: pd.DataFrame) -> xr.DataArray:
    p = law.numpy_params(law.flat_draws(posterior))
    logx = {x: np.log(runs[x].to_numpy(float)) for x in law.inputs}
    y = law.to_observed(runs[law.target].to_numpy(float))
    data = curve_data(runs)
    blocks = []
    n = posterior.sizes[K.CHAIN] * posterior.sizes[K.DRAW]
    for start in range(0, n, 500):  # bounded memory on long curves
        part = {k: v[start : start + 500] for k, v in p.items()}
        mu = law.location(part, logx, np)
        lik = {**law.likelihood_params(part, logx, np), **data}
        blocks.append(law.likelihood.curve_logpdf(y, mu, lik))
    values = np.concatenate(blocks).reshape(posterior.sizes[K.CHAIN], posterior.sizes[K.DRAW], -1)
    names = list(dict.fromkeys(runs[K.RUN_ID].astype(str)))
    return xr.DataArray(values, dims=(K.CHAIN, K.DRAW, CURVE), coords={CURVE: names})


class Fit:
    """A fitted law. Build it with :meth:`bayescale.laws.Law.fit`, or :func:`load_fit`.

    Attributes
    ----------
    law : Law
        The law and its priors.
    runs : pandas.DataFrame
        The runs the posterior is conditioned on (after any exclusion).
    idata : arviz.InferenceData
        Posterior and everything ArviZ needs.
    settings : dict
        Sampler settings, the seed actually used, timings.
    diagnostics : dict
        See :func:`bayescale.diagnostics.diagnose`.
    data_info : dict
        Source file, its SHA-256, hash of the runs used, excluded runs.
    link : Fit or None
        A downstream chain's step 2 (:func:`bayescale.fit_chain`): the fitted link from this
        law's loss to a task score; ``None`` for a plain fit.

    Examples
    --------
    ``fit`` is a fitted Chinchilla law (:meth:`bayescale.Law.fit`):

    >>> fit.params[:6]
    ('E', 'A', 'B', 'alpha', 'beta', 'sigma')
    >>> s = fit.summary()
    >>> bool(s.loc["alpha", "lower"] < s.loc["alpha", "median"] < s.loc["alpha", "upper"])
    True
    >>> dict(fit.idata.posterior.sizes)
    {'chain': 2, 'draw': 300}
    """

    def __init__(
        self,
        law: Law,
        runs: pd.DataFrame,
        idata: Any,
        settings: Mapping[str, Any],
        diagnostics: Mapping[str, Any],
        data_info: Mapping[str, Any],
        link: Fit | None = None,
    ) -> None:
        self.law = law
        self.link = link
        self.runs = runs
        self.idata = idata
        self.settings = dict(settings)
        self.diagnostics = dict(diagnostics)
        self.data_info = dict(data_info)

    # ------------------------------------------------------------------ build
    @classmethod
    def from_samples(
        cls,
        law: Law,
        runs: pd.DataFrame,
        posterior: xr.Dataset,
        sample_stats: xr.Dataset,
        *,
        settings: Mapping[str, Any],
        excluded: pd.DataFrame,
        whitening: Mapping[str, Any] | None = None,
        groups: list[str] | None = None,
        method: str = "mcmc",
    ) -> Fit:
        """Assemble the InferenceData of a finished sampler run and check its diagnostics.

        ``method`` other than ``"mcmc"`` (a point fit, a bootstrap) has no convergence
        diagnostics: ``diagnostics["method"]`` records it and no check is made.
        """
        import arviz as az

        names = (*law.sampled_params, *law.hyper_params)
        coords = {
            K.CHAIN: np.arange(posterior.sizes[K.CHAIN]),
            K.DRAW: np.arange(posterior.sizes[K.DRAW]),
        }
        if law.grouped:
            coords[K.GROUP] = list(groups or [])
        variables = {}
        for name in names:
            values = posterior[name].to_numpy()
            dims = (K.CHAIN, K.DRAW, K.GROUP) if values.ndim == 3 else (K.CHAIN, K.DRAW)
            variables[name] = (dims, values)
        posterior = xr.Dataset(variables, coords=coords)
        for name, value in law.derived(posterior).items():
            posterior[name] = value
        run = np.arange(len(runs))
        constant = {c: (K.RUN, runs[c].to_numpy(float)) for c in (K.N, K.D, K.C)}
        if K.GROUP in runs.columns:
            constant[K.GROUP] = (K.RUN, runs[K.GROUP].astype(str).to_numpy())
        obs_name = observed_name(law)
        observed = xr.Dataset(
            {obs_name: (K.RUN, law.to_observed(runs[law.target].to_numpy(float)))},
            coords={K.RUN: run},
        )
        loglik = pointwise_loglik(law, posterior, runs)
        if K.RUN in loglik.dims:
            loglik = loglik.assign_coords({K.RUN: run})
        stats = sample_stats.drop_vars(
            [v for v in sample_stats.data_vars if sample_stats[v].dims[2:]], errors="ignore"
        )
        idata = az.InferenceData(
            posterior=posterior,
            sample_stats=stats,
            observed_data=observed,
            constant_data=xr.Dataset(constant, coords={K.RUN: run}),
            log_likelihood=xr.Dataset({obs_name: loglik}),
        )
        idata.posterior.attrs.update(
            {"law": law.name, "bayescale_version": versions()["bayescale"]}
        )
        if method == "mcmc":
            diagnostics = diagnose(idata, names)
            warn_if_untrustworthy(diagnostics, stacklevel=5)
        else:
            diagnostics = {
                "method": method,
                "chains": int(posterior.sizes[K.CHAIN]),
                "n_draws": int(posterior.sizes[K.DRAW]),
                "max_rhat": float("nan"),
                "min_ess_bulk": float("nan"),
                "divergences": 0,
                "problems": [],
                "ok": True,
                "note": f"{method}: not MCMC, no convergence diagnostics apply",
            }
        info = {
            "source": runs.attrs.get("source", "<DataFrame>"),
            "sha256": runs.attrs.get("sha256"),
            "runs_sha256": runs_sha256(runs),
            "n_runs": int(len(runs)),
            "excluded": excluded[[K.N, K.D, K.C, law.target]].to_dict(orient="records"),
            "flops_per_param_token": float(
                runs.attrs.get("flops_per_param_token", K.FLOPS_PER_PARAM_TOKEN)
            ),
        }
        for key in ("derived", "loss_unit", "converted_from", "checkpoints"):
            if runs.attrs.get(key):
                info[key] = runs.attrs[key]
        if whitening is not None:
            settings = {**settings, "whitening": dict(whitening)}
        return cls(law, runs, idata, settings, diagnostics, info)

    # -------------------------------------------------------------- accessors
    @property
    def posterior(self) -> xr.Dataset:
        """Posterior draws of the named and derived parameters, dims (chain, draw)."""
        return self.idata.posterior

    def draws(self, group: str | None = None) -> dict[str, np.ndarray]:
        """The law's sampled parameters as arrays of shape (draws, 1) (chains pooled), ready
        to broadcast against runs; ``group`` picks one group's values of a grouped fit.

        Examples
        --------
        >>> p = fit.draws()
        >>> p["alpha"].shape
        (600, 1)
        """
        return self.law.flat_draws(self.select(group))

    def select(self, group: str | None = None) -> xr.Dataset:
        """The posterior; for a grouped (pooled) fit restricted to one group's parameters
        (``group`` is then required, and refused for a fit without groups)."""
        post = self.posterior
        if K.GROUP not in post.dims:
            if group is not None:
                raise ConfigError(
                    f"group={group!r} given, but the fit has no group-level parameters"
                )
            return post
        names = [str(g) for g in post[K.GROUP].values]
        if group is None or str(group) not in names:
            raise ConfigError(
                f"this fit has parameters per group: pass group= one of {names[:10]}"
                + (" ..." if len(names) > 10 else "")
            )
        return post.sel({K.GROUP: str(group)})

    @property
    def drift(self) -> float | None:
        """The extrapolation drift ``tau`` the fit's predictions carry beyond its largest run
        (per sqrt(decade) of compute), or None when none was learned (see :attr:`drift_note`)."""
        tau = (self.settings.get("drift") or {}).get("tau")
        return None if tau is None else float(tau)

    def _tpp_drift_note(self) -> str:
        """A curve fit's tokens-per-parameter drift, as a clause of :attr:`drift_note`."""
        tpp = (self.settings.get("drift") or {}).get("tpp") or {}
        if tpp.get("tau") is None:  # not learned (too few checkpoints left out)
            return ""
        return (
            f"; tau = {tpp['tau']:.3g} per sqrt(decade) of D/N below the fitted "
            f"{tpp['tpp_min']:.3g} tokens per parameter (learned from {tpp['n_left_out']} "
            "checkpoints left out there)"
        )

    def _allocation_drift_note(self) -> str:
        """The allocation drift (:mod:`bayescale.alloc_drift`), as a clause of
        :attr:`drift_note`."""
        info = (self.settings.get("drift") or {}).get("allocation") or {}
        if info.get("tau") is None:
            return ""
        source = (
            f"learned from {info['budgets']} held-out IsoFLOP budget(s)"
            if info.get("budgets")
            else "its prior alone"
        )
        return f"; allocation drift tau = {info['tau']:.3g} on log N* ({source})"

    @property
    def drift_note(self) -> str:
        """One line saying what an extrapolation from this fit carries: the learned drift, or
        that none was learned and why (shown by the fit's display, ``predict`` and the report).

        Examples
        --------
        >>> fit.drift_note.split(" = ")[0]  # 240 runs: a leave-future-out drift was learned
        'extrapolation drift tau'
        """
        info = self.settings.get("drift") or {}
        if self.drift is not None:
            if info.get("method") == "prior":
                source = info.get("note", "from the prior learned on the shipped data sets")
            else:
                source = f"learned from {info.get('n_inner_test', '?')} held-out runs"
            return (
                f"extrapolation drift tau = {self.drift:.3g} per sqrt(decade) of compute beyond "
                f"the largest run ({source})"
                + self._tpp_drift_note()
                + self._allocation_drift_note()
            )
        why = info.get("note") or "not estimated"
        if self.settings.get("method", "mcmc") != "mcmc":
            why = f"{self.settings.get('method')} point fit"
        return (
            f"no extrapolation drift ({why}): intervals beyond the largest run carry parameter "
            "uncertainty and run noise only, and may be too narrow far out"
        )

    @property
    def params(self) -> tuple[str, ...]:
        """Names in the posterior: sampled parameters, then derived ones."""
        return tuple(self.posterior.data_vars)

    def summary(self, interval: float = K.DEFAULT_INTERVAL) -> pd.DataFrame:
        """Posterior summary: mean, sd, median, central interval, R-hat and ESS.

        Parameters
        ----------
        interval
            Mass of the central interval (default 0.9): columns ``lower`` and ``upper``.

        Returns
        -------
        pandas.DataFrame
            One row per parameter (the law's, the noise model's, then derived ones).
        """
        import arviz as az

        interval = check_interval(interval)
        post = self.posterior
        q = (1 - interval) / 2
        mcmc = self.settings.get("method", "mcmc") == "mcmc"
        rhat = az.rhat(post) if mcmc and post.sizes[K.CHAIN] > 1 else None
        if mcmc:
            ess_b, ess_t = az.ess(post, method="bulk"), az.ess(post, method="tail")
        else:  # draws of a point fit or a bootstrap are not a Markov chain
            ess_b = ess_t = xr.full_like(post.isel({K.CHAIN: 0, K.DRAW: 0}), np.nan)
        rows = []
        for name in self.params:
            cells = [({}, name)]
            if K.GROUP in post[name].dims:
                cells = [({K.GROUP: g}, f"{name}[{g}]") for g in post[K.GROUP].values]
            for sel, label in cells:
                x = post[name].sel(sel).to_numpy().ravel()
                rows.append(
                    {
                        "param": label,
                        "mean": x.mean(),
                        "sd": x.std(ddof=1) if x.size > 1 else np.nan,
                        "median": np.median(x),
                        "lower": np.quantile(x, q),
                        "upper": np.quantile(x, 1 - q),
                        "r_hat": float(rhat[name].sel(sel)) if rhat is not None else np.nan,
                        "ess_bulk": float(ess_b[name].sel(sel)),
                        "ess_tail": float(ess_t[name].sel(sel)),
                    }
                )
        table = pd.DataFrame(rows).set_index("param")
        table.attrs["interval"] = interval
        return table

    def __repr__(self) -> str:
        d = self.diagnostics
        if d.get("method", "mcmc") != "mcmc":
            return (
                f"<Fit {self.law!r} on {len(self.runs)} runs: {d['method']} point fit, "
                f"{self.settings.get('draws')} draw(s), seed {self.settings.get('seed')}; "
                "not MCMC: no convergence diagnostics>"
            )
        flag = "ok" if d.get("ok") else f"{len(d.get('problems', []))} problem(s)"
        return (
            f"<Fit {self.law!r} on {len(self.runs)} runs: {self.settings.get('chains')} chains x "
            f"{self.settings.get('draws')} draws, seed {self.settings.get('seed')}; "
            f"max R-hat {d.get('max_rhat', float('nan')):.3f}, "
            f"min ESS bulk {d.get('min_ess_bulk', 0):.0f}, tail {d.get('min_ess_tail', 0):.0f}, "
            f"{d.get('divergences', 0)} divergences: {flag}; {self.drift_note}>"
        )

    def _repr_html_(self) -> str:
        from .display import fit_html

        return fit_html(self)

    # ------------------------------------------------------------------- I/O
    def metadata(self) -> dict[str, Any]:
        """The content of ``fit.json``."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "versions": versions(),
            "law": self.law.to_dict(),
            "settings": self.settings,
            "data": self.data_info,
            "diagnostics": self.diagnostics,
        }

    def save(self, path: str | os.PathLike, *, extra: Mapping[str, Any] | None = None) -> Path:
        """Write the fit to directory ``path`` atomically (created if missing).

        ``extra`` entries are added to ``fit.json`` (the CLI records its command line there).
        """
        meta = {**self.metadata(), **(extra or {})}

        def write_nc(p: Path) -> None:
            self.idata.to_netcdf(str(p), engine="h5netcdf")

        writers = {
            "posterior.nc": write_nc,
            "fit.json": lambda p: p.write_text(dumps(meta), encoding="utf-8"),
            "summary.csv": lambda p: self.summary().to_csv(p),
            "runs.csv": lambda p: self.runs.to_csv(p, index=False, float_format="%.17g"),
        }
        if self.link is not None:  # a chain's step 2, a fit directory of its own inside
            writers[LINK_DIR] = lambda p: self.link.save(p)
        return write_result_dir(path, writers, derived=DERIVED)


def _migrate_law(law: Mapping[str, Any]) -> dict[str, Any]:
    """A saved law description in today's form: fits saved before an option was recorded get
    the value they were fitted with."""
    law = dict(law)
    if law.get("name") == "chinchilla":  # the noise option came later; before, noise was constant
        law["options"] = {"noise": "constant", **law.get("options", {})}
    return law


def load_fit(path: str | os.PathLike) -> Fit:
    """Load a fit saved by :meth:`Fit.save` (or ``bayescale fit``).

    Raises
    ------
    FitFileError
        If the directory or one of its files is missing, or was not written by bayescale.

    Examples
    --------
    >>> import tempfile
    >>> path = fit.save(tempfile.mkdtemp() + "/chinchilla")
    >>> again = bs.load_fit(path)
    >>> again.law == fit.law, again.settings["seed"] == fit.settings["seed"]
    (True, True)
    """
    import arviz as az

    path = Path(path)
    if not path.is_dir():
        raise FitFileError(f"no fit directory at {path}")
    missing = [f for f in FILES if not (path / f).is_file()]
    if missing:
        raise FitFileError(f"{path} is not a complete bayescale fit: missing {', '.join(missing)}")
    try:
        meta = json.loads((path / "fit.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FitFileError(f"{path / 'fit.json'} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise FitFileError(
            f"{path / 'fit.json'} was not written by bayescale (format != {FORMAT!r})"
        )
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise FitFileError(
            f"{path} was written by a newer bayescale (format {meta['format_version']}); upgrade"
        )
    law = law_from_dict(_migrate_law(meta["law"]))
    try:
        idata = az.from_netcdf(str(path / "posterior.nc"), engine="h5netcdf")
        for group in idata.groups():
            getattr(idata, group).load()
    except Exception as exc:  # h5py / xarray raise many types for a damaged file
        raise FitFileError(f"cannot read {path / 'posterior.nc'}: {exc}") from None
    if idata.posterior.attrs.get("law") != law.name:
        raise FitFileError(f"{path}: posterior.nc was made by another law than fit.json says")
    runs = pd.read_csv(path / "runs.csv")
    if K.GROUP in runs.columns:
        runs[K.GROUP] = runs[K.GROUP].astype(str)
    data = meta.get("data", {})
    if meta.get("command"):
        data = {**data, "command": meta["command"]}
    runs.attrs.update({k: data[k] for k in ("source", "sha256") if data.get(k)})
    link = load_fit(path / LINK_DIR) if (path / LINK_DIR).is_dir() else None
    settings, diagnostics = meta.get("settings", {}), meta.get("diagnostics", {})
    return Fit(law, runs, idata, settings, diagnostics, data, link=link)
