"""The :class:`Law` base class: a small, immutable description of a scaling law.

A law knows its formula, its parameter names, its default priors and how to evaluate itself on
arrays of parameter draws. It holds no data and no samples: :meth:`Law.fit` returns a
:class:`~bayescale.fit.Fit`, which does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .. import constants as K
from ..data import load_runs
from ..exceptions import ConfigError
from ..likelihood import Likelihood
from ..priors import Prior, merge_priors, priors_from_dict, priors_to_dict

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Law", "register_law", "law_from_dict", "make_law", "raw_log", "provide_verb", "LAWS"]

LAWS: dict[str, type[Law]] = {}
POOLING = ("complete", "partial", "none")

#: The procedures behind :meth:`Law.fit` and :meth:`Law.prior_predictive`. They live on
#: higher floors (:mod:`bayescale.fitting`, :mod:`bayescale.simulate`), which hand them down
#: here when imported (``import bayescale`` imports both), so that imports only go down.
_VERBS: dict[str, Callable[..., Any]] = {}


def provide_verb(name: str, procedure: Callable[..., Any]) -> None:
    """Make ``procedure(law, ...)`` the implementation of ``Law.<name>``; the method shows the
    procedure's documentation and signature (less the law), so ``help(law.fit)`` is complete."""
    import inspect

    _VERBS[name] = procedure
    method = getattr(Law, name)
    method.__doc__ = procedure.__doc__
    sig = inspect.signature(procedure)
    params = list(sig.parameters.values())
    method.__signature__ = sig.replace(
        parameters=[inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *params[1:]]
    )


def _verb(name: str) -> Callable[..., Any]:
    if name not in _VERBS:  # only when bayescale.laws is used without importing bayescale
        raise ConfigError(f"Law.{name} needs `import bayescale` first")
    return _VERBS[name]


def register_law(cls: type[Law]) -> type[Law]:
    """Class decorator: make a law known by its ``name`` (for the CLI and for loading fits)."""
    LAWS[cls.name] = cls
    return cls


class Law:
    """Base class of scaling laws.

    Subclasses set the class attributes and implement :meth:`location` and
    :meth:`default_law_priors`.

    Parameters
    ----------
    priors
        Priors to use instead of the defaults, by parameter name (``defaults | priors``), or
        the name of a literature prior set (:meth:`literature_priors`).
    likelihood
        ``"studentt"`` (default), ``"normal"``, ``"curve"`` (whole training curves, see
        :mod:`bayescale.likelihood`; laws of D on log loss), or a
        :class:`~bayescale.likelihood.Likelihood`.
    nu
        Student-t degrees of freedom (``None``: sampled).
    pooling
        With a ``group`` column: ``"complete"`` (default; one set of parameters for all runs),
        ``"none"`` (every law parameter per group, independent priors) or ``"partial"`` (per
        group, with the exponents drawn from a shared population:
        ``log alpha_g ~ Normal(alpha_mu, alpha_tau)``; amplitudes and E per group). The noise
        model is shared by all groups.

    Examples
    --------
    >>> from bayescale import KaplanN
    >>> law = KaplanN(likelihood="normal")
    >>> law.sampled_params, law.inputs
    (('E', 'A', 'alpha', 'sigma'), ('N',))
    >>> round(float(law.predict({"E": 1.7, "A": 400.0, "alpha": 0.34}, N=1e9)), 3)
    2.048
    """

    #: Short name used by the CLI and in saved fits.
    name: ClassVar[str]
    #: Human-readable formula.
    formula: ClassVar[str]
    #: Parameters of the law itself (noise parameters come from the likelihood).
    params: ClassVar[tuple[str, ...]]
    #: Input columns the law reads from the runs table.
    inputs: ClassVar[tuple[str, ...]]
    #: Amplitude parameters sampled as a log-amplitude centred at the data:
    #: ``{"A": ("alpha", "N")}`` means the term ``A / N**alpha``.
    amplitudes: ClassVar[dict[str, tuple[str, str]]] = {}
    #: Name of the measured column.
    target: ClassVar[str] = K.LOSS
    #: Scale of the likelihood: ``"log"`` (noise on log target; target must be positive) or
    #: ``"identity"`` (noise on the target itself, e.g. scores that can be 0).
    observation: ClassVar[str] = "log"
    #: Whether the law answers compute-optimal questions (allocation, compute for a loss).
    has_allocation: ClassVar[bool] = False
    #: Reference for the law.
    reference: ClassVar[str] = ""
    #: Prior median of a partially pooled exponent's population (default 0.35).
    population_centres: ClassVar[dict[str, float]] = {}
    #: Partially pooled exponents sampled centred (``log e_g ~ Normal(e_mu, e_tau)``) rather
    #: than non-centred: those each group's runs pin down on their own, where the non-centred
    #: form has a curved ridge between the population scale and the offsets. With
    #: ``centred="auto"`` (the default) this is the pilot run's form, and each fit chooses the
    #: main run's from the pilot's draws (:mod:`bayescale.centring`).
    centred_exponents: ClassVar[frozenset[str]] = frozenset()
    #: The irreducible term (``"E"``) when the sampler should reach it through the law's level
    #: at the centre of the data (``E`` plus the amplitudes' terms there): where the data pin
    #: the level down but not the split between ``E`` and a slowly decaying term, the posterior
    #: is a curved ridge in ``log E`` and straight in the level (see :mod:`bayescale.model`).
    level_param: ClassVar[str | None] = None
    #: Grouped laws: the irreducible term and the amplitude (``("E", "R")``) whose sum at the
    #: centre of the data is the law's frontier there. When the amplitude's exponent is
    #: sampled centred (``centred=``), each group samples its frontier through its level, E's
    #: share of it and its slope (:func:`bayescale.model.frontier_logs`), coordinates that are
    #: straight along each group's curved E-exponent ridge.
    frontier_params: ClassVar[tuple[str, str] | None] = None
    #: Parameters the sampler reaches through a coordinate of the law's own choosing
    #: (:meth:`from_coordinate`), the prior staying on the parameter: where the data pin down
    #: a combination of parameters rather than each (a sigmoid seen only in its tail fixes
    #: the tail's amplitude, not its midpoint and ceiling apart). Ungrouped laws only.
    mapped_params: ClassVar[tuple[str, ...]] = ()
    #: Whether a fit takes every checkpoint of training curves as data (past the warm-up rule
    #: of :func:`bayescale.curves.keep_checkpoints`), not each run's final one: a relation that
    #: holds at every checkpoint, such as a link from task loss to score.
    every_checkpoint: ClassVar[bool] = False

    def __init__(
        self,
        priors: Mapping[str, Any] | str | None = None,
        likelihood: str | Likelihood = "studentt",
        nu: float | None = 4.0,
        pooling: str = "complete",
        centred: Any = None,
    ) -> None:
        if pooling not in POOLING:
            raise ConfigError(f"pooling must be one of {POOLING}, got {pooling!r}")
        self.pooling = pooling
        self._centred: str | tuple[str, ...] | None = None
        if centred is None and self.pooled_exponents:
            centred = "auto"  # partially pooled: the form chosen per fit (bayescale.centring)
        if centred == "auto":
            if not self.pooled_exponents:
                raise ConfigError(
                    "centred names partially pooled exponents (none: pooling is not partial); "
                    "got 'auto'"
                )
            self._centred = "auto"
        elif centred is not None:  # which pooled exponents are sampled centred
            known = self.pooled_exponents
            names = known if centred == "all" else () if centred == "none" else tuple(centred)
            unknown = [n for n in names if n not in known]
            if unknown or not known:
                pooled = ", ".join(known) or "none: pooling is not partial"
                got = ", ".join(map(str, unknown or names)) or repr(centred)
                raise ConfigError(f"centred names partially pooled exponents ({pooled}); got {got}")
            self._centred = tuple(sorted(names))
            self.centred_exponents = frozenset(names)
        if isinstance(priors, str):
            sets = self.literature_priors()
            if priors not in sets:
                known = ", ".join(sorted(sets)) or "none"
                raise ConfigError(f"unknown prior set {priors!r} for {self.name}; known: {known}")
            priors = sets[priors]
        if isinstance(likelihood, Likelihood):
            self.likelihood = likelihood
        else:
            self.likelihood = Likelihood(
                kind=likelihood, nu=nu if likelihood == "studentt" else None
            )
        if self.likelihood.curve and (K.D not in self.inputs or self.observation != "log"):
            raise ConfigError(
                f"the curve likelihood models checkpoints along D on log loss; the {self.name} "
                f"law takes {', '.join(self.inputs)} ({self.observation} scale)"
            )
        if self.likelihood.curve and self.grouped:
            raise ConfigError("the curve likelihood does not take pooling yet: pooling='complete'")
        self.priors: dict[str, Prior] = merge_priors(self._defaults(), priors)

    # ----------------------------------------------------------------- description
    @classmethod
    def default_law_priors(cls) -> dict[str, Prior]:
        """Documented default priors of the law's own parameters."""
        raise NotImplementedError

    def literature_priors(self) -> dict[str, dict[str, Prior]]:
        """Named prior sets centred on published fits (name -> priors by parameter)."""
        return {}

    @property
    def grouped(self) -> bool:
        """True when the law's parameters vary by group (pooling "none" or "partial")."""
        return self.pooling != "complete"

    @property
    def pooled_exponents(self) -> tuple[str, ...]:
        """Exponents partially pooled across groups (empty unless ``pooling="partial"``)."""
        if self.pooling != "partial":
            return ()
        return tuple(dict.fromkeys(e for e, _ in self.amplitudes.values()))

    @property
    def hyper_params(self) -> tuple[str, ...]:
        """Population-level parameters of a partially pooled law."""
        return tuple(f"{e}_{h}" for e in self.pooled_exponents for h in ("mu", "tau"))

    @property
    def sampled_params(self) -> tuple[str, ...]:
        """Every parameter the sampler draws: the law's, then the noise model's."""
        return (*self.params, *self.likelihood.noise_params, *self.noise_params)

    #: Extra noise parameters of the law's own noise model (see :meth:`noise_scale`).
    noise_params: tuple[str, ...] = ()

    def noise_scale(self, p: Mapping[str, Any], logx: Mapping[str, Any], xp: Any) -> Any:
        """Noise scale of each run on the observation scale (default: the constant ``sigma``)."""
        return p["sigma"]

    def likelihood_params(self, p: Mapping[str, Any], logx: Mapping[str, Any], xp: Any) -> dict:
        """The likelihood's parameters at each run: ``p`` with ``sigma`` replaced by the run's
        noise scale (:meth:`noise_scale`)."""
        return {**p, "sigma": self.noise_scale(p, logx, xp)}

    @property
    def n_free(self) -> int:
        """Free parameters per group (fewer runs than this cannot be fitted)."""
        return len(self.sampled_params)

    def options(self) -> dict[str, Any]:
        """Constructor options beyond priors and likelihood (saved with the fit)."""
        opts: dict[str, Any] = {"pooling": self.pooling} if self.grouped else {}
        if self._centred is not None and self._centred != "auto":  # "auto": the default
            opts["centred"] = list(self._centred)
        return opts

    @property
    def auto_centred(self) -> bool:
        """Whether each fit chooses which pooled exponents to sample centred from its pilot
        run (``centred="auto"``, the default of partial pooling; :mod:`bayescale.centring`)."""
        return self._centred == "auto"

    def with_centred(self, names: tuple[str, ...] | list[str]) -> Law:
        """This law with the pooled exponents ``names`` sampled centred and the others
        non-centred: the same posterior, another geometry (a fit's ``centred="auto"`` choice).

        Examples
        --------
        >>> from bayescale.laws import ChinchillaLaw
        >>> law = ChinchillaLaw(pooling="partial")
        >>> law.auto_centred, sorted(law.with_centred(["beta"]).centred_exponents)
        (True, ['beta'])
        """
        import copy

        unknown = [n for n in names if n not in self.pooled_exponents]
        if unknown:
            raise ConfigError(f"not partially pooled exponents of {self.name}: {unknown}")
        out = copy.copy(self)
        out._centred = tuple(sorted(names))
        out.centred_exponents = frozenset(names)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (name, options, priors, likelihood), enough to rebuild it."""
        return {
            "name": self.name,
            "options": self.options(),
            "priors": priors_to_dict(self.priors),
            "likelihood": self.likelihood.to_dict(),
        }

    def cache_key(self) -> str:
        """Two laws with the same key compile to the same sampler: the saved description
        (:meth:`to_dict`) and what shapes the model beyond it (the class, and the class-level
        choices of how it is sampled), so that a changed model never reuses a compiled one."""
        structure = {
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "level_param": self.level_param,
            "centred_exponents": sorted(self.centred_exponents),
            "frontier_params": self.frontier_params,
            "amplitudes": self.amplitudes,
        }
        described = self.to_dict()  # the model's form is in the structure: "auto" or a list
        described["options"] = {k: v for k, v in described["options"].items() if k != "centred"}
        return json.dumps({**described, "structure": structure}, sort_keys=True, default=str)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Law)
            and self.cache_key() == other.cache_key()
            and self.options() == other.options()
        )

    def __hash__(self) -> int:
        return hash(self.cache_key())

    def __repr__(self) -> str:
        defaults = self._defaults()
        changed = {k: v for k, v in self.priors.items() if v != defaults.get(k)}
        lik = self.likelihood
        lik_s = f"studentt(nu={lik.nu})" if lik.kind == "studentt" else repr(lik.kind)
        opts = "".join(f"{k}={v!r}, " for k, v in self.options().items())
        extra = f", priors={changed}" if changed else ""
        return f"{type(self).__name__}({opts}likelihood={lik_s}{extra})"

    def _defaults(self) -> dict[str, Prior]:
        law = self.default_law_priors()
        for e in self.pooled_exponents:
            # The population of log exponents replaces the exponent's own prior.
            del law[e]
            centre = self.population_centres.get(e, 0.35)
            law[f"{e}_mu"] = Prior("Normal", mu=float(np.log(centre)), sigma=0.5)
            law[f"{e}_tau"] = Prior("HalfNormal", sigma=0.3)
        return {**law, **self.likelihood.default_priors(), **self.default_noise_priors()}

    def default_noise_priors(self) -> dict[str, Prior]:
        """Priors of :attr:`noise_params`."""
        return {}

    # ------------------------------------------------------------------- maths
    def to_observed(self, y: Any) -> Any:
        """Target values on the likelihood's scale."""
        return np.log(y) if self.observation == "log" else y

    def from_observed(self, z: Any) -> Any:
        """Inverse of :meth:`to_observed`."""
        return np.exp(z) if self.observation == "log" else z

    def location(self, p: Mapping[str, Any], logx: Mapping[str, Any], xp: Any) -> Any:
        """The law's prediction on the observation scale (its log for ``observation="log"``).

        Inputs named in :attr:`amplitudes` may arrive centred (``log x - mean log x``): the law
        must use them only in the amplitude's term ``exp(log_A - exponent * logx[x])``.

        Parameters
        ----------
        p
            Parameter values; amplitude parameters are given as ``log_<name>``.
        logx
            Natural logs of the inputs, by input name.
        xp
            ``numpy`` or ``pytensor.tensor`` (the formula is written once for both).
        """
        raise NotImplementedError

    def predict(self, params: Mapping[str, Any], **inputs: Any) -> Any:
        """Evaluate the law (NumPy / xarray broadcasting) for parameter values or draws.

        Examples
        --------
        >>> from bayescale import ChinchillaLaw
        >>> hoffmann = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
        >>> round(float(ChinchillaLaw().predict(hoffmann, N=70e9, D=1.4e12)), 3)
        1.937
        """
        missing = [x for x in self.inputs if x not in inputs]
        if missing:
            raise ConfigError(f"{self.name} needs input(s) {missing}")
        p = self.numpy_params(params)
        logx = {x: np.log(inputs[x]) for x in self.inputs}
        return self.from_observed(self.location(p, logx, np))

    def numpy_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Named parameter values -> the form :meth:`location` takes (log amplitudes)."""
        missing = [name for name in self.params if name not in params]
        if missing:
            raise ConfigError(f"missing parameter(s) {missing} for {self.name}")
        p = {}
        for name in self.sampled_params:
            if name in params:
                value = params[name]
                p[name] = value
                if name in self.amplitudes:
                    p["log_" + name] = np.log(value)
        return p

    def predictive(self, params: Mapping[str, Any], **inputs: Any) -> tuple[Any, dict]:
        """What a new run's outcome needs: the law on the observation scale at ``inputs`` and
        the likelihood's parameters there (each run's noise scale; see :meth:`noise_scale`).

        Examples
        --------
        >>> from bayescale import ChinchillaLaw
        >>> p = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28, sigma=0.01, sigma_slope=0.0)
        >>> mu, lik = ChinchillaLaw().predictive(p, N=70e9, D=1.4e12)
        >>> round(float(np.exp(mu)), 3), float(lik["sigma"])
        (1.937, 0.01)
        """
        mu = self.to_observed(self.predict(params, **inputs))
        logx = {x: np.log(inputs[x]) for x in self.inputs}
        return mu, self.likelihood_params(self.numpy_params(params), logx, np)

    def noise_variance(self, params: Mapping[str, Any], **inputs: Any) -> Any:
        """Variance of a run's noise around the law (observation scale) at ``inputs``; for a
        Student-t likelihood the variance of the t (capped where ``nu`` is small)."""
        _, lik = self.predictive(params, **inputs)
        sigma = np.asarray(self.likelihood.new_run_scale(lik))
        if self.likelihood.kind in ("normal", "curve"):
            return sigma**2
        nu = np.asarray(params["nu"]) if self.likelihood.free_nu else self.likelihood.nu
        return sigma**2 * np.where(np.asarray(nu) > 2.5, nu / np.maximum(nu - 2.0, 0.5), 5.0)

    def flat_draws(self, posterior: Any, group: str | None = None) -> dict[str, np.ndarray]:
        """The sampled parameters' draws from a posterior (dims chain, draw[, group]) as
        arrays of shape (draws, 1), ready to broadcast against runs; ``group`` selects one
        group's values of a grouped law."""
        out = {}
        for name in self.sampled_params:
            values = posterior[name]
            if group is not None and K.GROUP in values.dims:
                values = values.sel({K.GROUP: group})
            out[name] = values.to_numpy().reshape(-1, 1)
        return out

    def optimal_allocation(
        self, params: Mapping[str, Any], compute: Any, k: float = K.FLOPS_PER_PARAM_TOKEN
    ) -> dict[str, Any]:
        """Compute-optimal ``N_opt``, ``D_opt``, ``loss_opt``, ``tokens_per_param`` at ``compute``.

        Only laws of both N and D have one; the base class raises :class:`ConfigError`.
        """
        raise ConfigError(f"the {self.name} law has no compute-optimal allocation (needs N and D)")

    def compute_for_loss(
        self, params: Mapping[str, Any], target: Any, k: float = K.FLOPS_PER_PARAM_TOKEN
    ) -> dict[str, Any]:
        """Compute, ``N_opt``, ``D_opt`` and ``reachable`` where the optimal loss is ``target``."""
        raise ConfigError(f"the {self.name} law has no compute-optimal frontier (needs N and D)")

    def from_coordinate(self, name: str, u: Any, values: Mapping[str, Any], xp: Any) -> Any:
        """A mapped parameter (:attr:`mapped_params`) from its sampler coordinate ``u``, given
        the other parameters' ``values``: ``(value, log |d value / d u|)``."""
        raise NotImplementedError

    def to_coordinate(self, name: str, values: Mapping[str, Any]) -> Any:
        """The inverse of :meth:`from_coordinate`: the coordinate of ``values[name]`` (NumPy;
        for the sampler's start and for tests)."""
        raise NotImplementedError

    def derived(self, posterior: Mapping[str, Any]) -> dict[str, Any]:
        """Derived quantities added to the posterior (e.g. allocation exponents)."""
        return {}

    def prior_predictive(self, runs: pd.DataFrame, *, draws: int = 500, seed: int = 0) -> Any:
        """Prior draws and simulated targets at ``runs``; see
        :func:`bayescale.simulate.prior_predictive`."""
        return _verb("prior_predictive")(self, runs, draws=draws, seed=seed)

    # ------------------------------------------------------------------ fitting
    def load_runs(
        self, runs: Any, columns: Mapping[str, str] | None = None, **options: Any
    ) -> pd.DataFrame:
        """Validate ``runs`` (a CSV path or DataFrame) for this law: its target column, a
        positive target on the log scale, and any extra inputs; ``options`` (``loss_unit``,
        ``flops_per_param_token``) as for :func:`bayescale.load_runs`."""
        return load_runs(
            runs,
            columns=columns,
            **options,
            target=self.target,
            positive_target=self.observation == "log",
            require=tuple(x for x in self.inputs if x not in (K.N, K.D, K.C)),
        )

    def fit(self, runs: pd.DataFrame, **options: Any) -> Any:
        """Sample the posterior of this law given ``runs``; returns a :class:`~bayescale.Fit`.

        The options and their defaults are those of :func:`bayescale.fitting.fit_law` (its
        signature and documentation are this method's once ``bayescale`` is imported).
        """
        return _verb("fit")(self, runs, **options)


def raw_log(logx: Mapping[str, Any], x: str) -> Any:
    """Uncentred ``log x`` inside :meth:`Law.location`, whether or not the sampler centred it."""
    return logx[x] + logx.get("centre_" + x, 0.0)


def make_law(name: str, **kwargs: Any) -> Law:
    """Build a registered law by name; unknown names and options raise :class:`ConfigError`.

    Examples
    --------
    >>> make_law("kaplan-n", irreducible=False).formula
    'L(N) = A / N^alpha'
    """
    import inspect

    if name not in LAWS:
        raise ConfigError(f"unknown law {name!r}; known: {', '.join(sorted(LAWS))}")
    cls = LAWS[name]
    accepted: set[str] = set()
    for klass in cls.__mro__:  # an __init__ that passes **kw on also takes its parents' options
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        named = {p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        accepted |= named - {"self"}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise ConfigError(f"the {name} law has no option(s) {unknown}")
    return cls(**kwargs)


def law_from_dict(data: Mapping[str, Any]) -> Law:
    """Rebuild a law from :meth:`Law.to_dict` output."""
    lik = data.get("likelihood", {})
    options = dict(data.get("options", {}))
    return make_law(
        str(data.get("name")),
        **options,
        priors=priors_from_dict(data.get("priors", {})),
        likelihood=Likelihood(kind=lik.get("kind", "studentt"), nu=lik.get("nu", 4.0)),
    )
