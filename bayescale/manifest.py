"""Batch manifests: a TOML file listing fit jobs and the questions to answer with each fit.

A manifest is validated as a whole before anything is sampled; every problem is reported at
once, each naming the job and the key.

.. code-block:: toml

    [defaults]              # any job key; each job may override it
    draws = 1000            # exactly 1000 per chain (omit it: adaptive, see Law.fit)
    seed = 1
    budgets = [1e21, 5.88e23]

    [[job]]
    name = "chinchilla"     # unique; the job's folder under OUT/jobs/
    runs = "data/chinchilla.csv"   # relative to the manifest's folder
    law = "chinchilla"
    priors = "besiroglu2024"
    options = { noise = "constant" }   # the law's options (see `bayescale laws`)
    columns = { N = "params", loss = "val_loss" }   # bayescale name = the file's column
    loss_unit = "nats"      # or "bits" (converted); flops_per_token_param = 6 (k in C = k N D)
    filter = { group = ["a", "b"] }    # keep runs whose column equals a value
    plans = [{ N = 7e10, D = 1.4e12, target = 1.95 }]
    targets = [1.9]

    [[job]]                 # a downstream chain: the law on a task loss, a link to a score
    name = "mmlu"
    runs = "data/olmo_ladder_curves.csv"
    columns = { loss = "bpb_mmlu", score = "acc_mmlu" }
    loss_unit = "bits"
    link = "sigmoid"        # or "exp"; chance = 0.25 (the link floor's prior)
    ceiling_sd = 0.02       # the sigmoid's ceiling prior sd below 1 (default; wider: 0.15)
    plans = [{ N = 6.9e9, D = 3.9e12 }]   # adds the score's interval to the row

Questions: ``budgets`` (compute-optimal allocation at each budget), ``plans`` (predicted loss of
a run at (N, D), with the probability of ending below ``target`` when given, and a chain job's
score), ``targets`` (compute needed to reach each loss).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import constants as K
from .exceptions import BayescaleError, ConfigError
from .laws.link import LINKS

__all__ = ["Job", "load_manifest", "parse_manifest", "SAMPLERS"]

SAMPLERS = K.SAMPLERS
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

#: Every key a job (or [defaults]) may set, with its default.
JOB_DEFAULTS: dict[str, Any] = {
    "law": "chinchilla",
    "priors": None,
    "options": {},
    "group_column": None,
    "columns": {},
    "loss_unit": None,
    "flops_per_token_param": None,
    "filter": {},
    "draws": None,  # adaptive (see Law.fit); a number means exactly that many
    "tune": 1000,
    "chains": 4,
    "seed": 0,
    "sampler": "nutpie",
    "target_accept": 0.9,
    "exclude_top_loss": 0,
    "cores": None,
    "drift": True,
    "interval": 0.9,
    "budgets": [],
    "plans": [],
    "targets": [],
    "link": None,  # a downstream chain (bayescale.fit_chain): "sigmoid" or "exp"
    "chance": None,  # the chain's chance score (its link's floor prior)
    "ceiling_sd": None,  # the sigmoid link's ceiling prior sd below 1 (default 0.02)
}
_JOB_ONLY = ("name", "runs")


@dataclass(frozen=True)
class Job:
    """One validated job of a manifest."""

    name: str
    runs: Path
    law: str
    law_options: dict[str, Any]
    group_column: str | None
    columns: dict[str, str]
    read_options: dict[str, Any]
    filter: dict[str, list[Any]]
    fit_settings: dict[str, Any]
    interval: float
    budgets: list[float] = field(default_factory=list)
    plans: list[dict[str, float]] = field(default_factory=list)
    targets: list[float] = field(default_factory=list)
    link: str | None = None
    chance: float | None = None
    ceiling_sd: float | None = None

    def make_law(self):
        """The job's law object."""
        from .laws import make_law

        return make_law(self.law, **self.law_options)

    def fit_spec(self) -> dict[str, Any]:
        """Everything that determines the fit except the data (part of the skip key)."""
        spec = {
            "law": self.make_law().to_dict(),
            "settings": {k: v for k, v in self.fit_settings.items() if k != "cores"},
            "filter": self.filter,
            "group_column": self.group_column,
        }
        # (absent when unset: the skip keys of earlier batches still hold)
        if self.columns:
            spec["columns"] = self.columns
        if any(v is not None for v in self.read_options.values()):
            spec["read_options"] = self.read_options
        if self.link:
            spec["chain"] = {"link": self.link, "chance": self.chance}
            if self.ceiling_sd is not None:
                spec["chain"]["ceiling_sd"] = self.ceiling_sd
        return spec

    def column_map(self) -> dict[str, str] | None:
        """``columns`` with ``group_column`` as ``load_runs``' ``columns=`` (None if empty)."""
        mapping = dict(self.columns)
        if self.group_column:
            mapping[K.GROUP] = self.group_column
        return mapping or None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_value(key: str, v: Any) -> str | None:
    """Why value ``v`` is wrong for ``key`` (None if fine)."""
    if key == "draws" and v is None:
        return None
    if key in ("draws", "chains"):
        return None if _is_int(v) and v >= 1 else f"must be an integer >= 1, got {v!r}"
    if key in ("tune", "exclude_top_loss", "seed"):
        return None if _is_int(v) and v >= 0 else f"must be an integer >= 0, got {v!r}"
    if key == "drift":
        return None if isinstance(v, bool) else f"must be true or false, got {v!r}"
    if key == "cores":
        return None if v is None or (_is_int(v) and v >= 1) else f"must be >= 1, got {v!r}"
    if key in ("target_accept", "interval"):
        return None if _is_num(v) and 0 < v < 1 else f"must be a number in (0, 1), got {v!r}"
    if key == "sampler":
        return None if v in SAMPLERS else f"must be one of {SAMPLERS}, got {v!r}"
    if key in ("law", "priors", "group_column"):
        return None if v is None or isinstance(v, str) else f"must be a string, got {v!r}"
    if key in ("options", "filter"):
        return None if isinstance(v, Mapping) else f"must be a table, got {v!r}"
    if key == "link":
        return None if v is None or v in LINKS else f"must be one of {tuple(LINKS)}, got {v!r}"
    if key == "chance":
        ok = v is None or (_is_num(v) and 0 <= v < 1)
        return None if ok else f"must be a score in [0, 1), got {v!r}"
    if key == "ceiling_sd":
        ok = v is None or (_is_num(v) and v > 0)
        return None if ok else f"must be a positive number, got {v!r}"
    if key == "loss_unit":
        return None if v in (None, "nats", "bits") else f"must be 'nats' or 'bits', got {v!r}"
    if key == "flops_per_token_param":
        return None if v is None or (_is_num(v) and v > 0) else f"must be > 0, got {v!r}"
    if key == "columns":
        ok = isinstance(v, Mapping) and all(isinstance(x, str) and x for x in v.values())
        return None if ok else f'must be a table of column names {{N = "params"}}, got {v!r}'
    if key in ("budgets", "targets"):
        if not isinstance(v, list) or not all(_is_num(x) and x > 0 for x in v):
            return f"must be a list of positive numbers, got {v!r}"
        return None
    if key == "plans":
        if not isinstance(v, list):
            return f"must be a list of tables {{N = .., D = .., target = ..}}, got {v!r}"
        for i, plan in enumerate(v):
            if not isinstance(plan, Mapping):
                return f"entry {i} must be a table {{N = .., D = ..}}, got {plan!r}"
            extra = sorted(set(plan) - {"N", "D", "target"})
            if extra:
                return f"entry {i} has unknown key(s) {extra}; allowed: N, D, target"
            for k in ("N", "D"):
                if k not in plan:
                    return f"entry {i} needs {k}"
            for k, x in plan.items():
                if not (_is_num(x) and x > 0):
                    return f"entry {i}: {k} must be a positive number, got {x!r}"
        return None
    return None


def _job(raw: Mapping[str, Any], defaults: Mapping[str, Any], base: Path, where: str, errors):
    def err(key: str, why: str) -> None:
        errors.append(f"{where}: key '{key}' {why}")

    unknown = sorted(set(raw) - set(JOB_DEFAULTS) - set(_JOB_ONLY))
    for key in unknown:
        err(key, f"is not a job key; known: {', '.join([*_JOB_ONLY, *JOB_DEFAULTS])}")
    spec = {**JOB_DEFAULTS, **defaults, **raw}
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        err("name", f"must be a name of letters, digits, '.', '_' or '-', got {name!r}")
    runs = raw.get("runs")
    if not isinstance(runs, str) or not runs:
        err("runs", f"must be the path of a runs CSV file, got {runs!r}")
    bad = False
    for key in JOB_DEFAULTS:
        why = _check_value(key, spec[key])
        if why:
            err(key, why)
            bad = True
    if bad or unknown or not isinstance(name, str) or not isinstance(runs, str):
        return None
    options = dict(spec["options"])
    if spec["priors"] is not None:
        options["priors"] = spec["priors"]
    filt = {str(k): (v if isinstance(v, list) else [v]) for k, v in spec["filter"].items()}
    job = Job(
        name=name,
        runs=(base / os.path.expanduser(runs)).resolve(),
        law=spec["law"],
        law_options=options,
        group_column=spec["group_column"],
        columns={str(k): v for k, v in spec["columns"].items()},
        read_options={
            "loss_unit": spec["loss_unit"],
            "flops_per_param_token": spec["flops_per_token_param"],
        },
        filter=filt,
        fit_settings={
            k: spec[k]
            for k in (
                "draws",
                "tune",
                "chains",
                "seed",
                "sampler",
                "target_accept",
                "exclude_top_loss",
                "cores",
                "drift",
            )
        },
        interval=float(spec["interval"]),
        budgets=[float(x) for x in spec["budgets"]],
        plans=[{k: float(x) for k, x in p.items()} for p in spec["plans"]],
        targets=[float(x) for x in spec["targets"]],
        link=spec["link"],
        chance=None if spec["chance"] is None else float(spec["chance"]),
        ceiling_sd=None if spec["ceiling_sd"] is None else float(spec["ceiling_sd"]),
    )
    try:
        law = job.make_law()
    except BayescaleError as exc:
        msg = str(exc)
        key = "priors" if "prior" in msg else ("law" if "unknown law" in msg else "options")
        err(key, msg)
        return None
    if (job.budgets or job.targets) and not law.has_allocation:
        which = "budgets" if job.budgets else "targets"
        err(which, f"cannot be answered by the {law.name} law (it has no compute-optimal frontier)")
        return None
    if job.plans and not set(law.inputs) <= {"N", "D", "C"}:
        err("plans", f"cannot be answered by the {law.name} law (it needs {list(law.inputs)})")
        return None
    return job


def parse_manifest(doc: Mapping[str, Any], base: str | os.PathLike = ".") -> list[Job]:
    """Validate a parsed manifest and return its jobs.

    Raises
    ------
    ConfigError
        Listing every problem found, each naming the job and the key.

    Examples
    --------
    >>> jobs = parse_manifest({"job": [{"name": "a", "runs": "runs.csv", "budgets": [1e21]}]})
    >>> jobs[0].name, jobs[0].law, jobs[0].budgets
    ('a', 'chinchilla', [1e+21])
    >>> try:
    ...     parse_manifest({"job": [{"name": "a", "runs": "r.csv", "draws": 0}]})
    ... except ConfigError as exc:
    ...     print(exc)
    invalid manifest: job 'a': key 'draws' must be an integer >= 1, got 0
    """
    errors: list[str] = []
    base = Path(base)
    unknown = sorted(set(doc) - {"defaults", "job"})
    if unknown:
        errors.append(f"unknown top-level key(s) {unknown}; expected [defaults] and [[job]]")
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, Mapping):
        errors.append("[defaults] must be a table")
        defaults = {}
    for key in defaults:
        if key not in JOB_DEFAULTS:
            errors.append(f"[defaults]: key '{key}' cannot have a default (or is unknown)")
    defaults = {k: v for k, v in defaults.items() if k in JOB_DEFAULTS}
    raw_jobs = doc.get("job", [])
    if not isinstance(raw_jobs, list) or not raw_jobs:
        errors.append("the manifest lists no jobs: add [[job]] tables with name and runs")
        raw_jobs = []
    jobs: list[Job] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_jobs):
        label = raw.get("name") if isinstance(raw, Mapping) else None
        where = f"job {label!r}" if isinstance(label, str) else f"job #{i + 1}"
        if not isinstance(raw, Mapping):
            errors.append(f"{where}: must be a table")
            continue
        if isinstance(label, str) and label in seen:
            errors.append(f"{where}: key 'name' is used by another job")
        seen.add(label)
        job = _job(raw, defaults, base, where, errors)
        if job is not None:
            jobs.append(job)
    if errors:
        raise ConfigError("invalid manifest: " + "; ".join(errors))
    return jobs


def load_manifest(path: str | os.PathLike) -> list[Job]:
    """Read and validate a TOML manifest (run paths are relative to its folder)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"manifest not found: {path}")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return parse_manifest(doc, base=path.parent)
