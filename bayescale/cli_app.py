"""The command line's shared parts: the Typer ``app``, the option types and the helpers every
command module uses (errors to exit code 2, warnings to stderr, JSON and table output).

The command modules (:mod:`bayescale.cli_fit`, :mod:`bayescale.cli_decisions`,
:mod:`bayescale.cli_batch`) import this; :mod:`bayescale.cli` imports them to register their
commands and holds the entry point.
"""

from __future__ import annotations

import sys
import warnings
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from . import constants as K

app = typer.Typer(
    name="bayescale",
    help="Bayesian scaling-law modelling: fit laws by MCMC, answer with intervals.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

EXIT_BAD_INPUT = 2
#: ``fit --strict``: the fit was written but its diagnostics failed (do not trust it).
EXIT_UNTRUSTED = 3


#: The samplers of :data:`bayescale.constants.SAMPLERS` as CLI choices.
SamplerName = Enum("SamplerName", {name: name for name in K.SAMPLERS}, type=str)


class FitMethod(str, Enum):
    mcmc = "mcmc"
    map = "map"
    bootstrap = "bootstrap"


class PoolingName(str, Enum):
    complete = "complete"
    partial = "partial"
    none = "none"


class LikelihoodName(str, Enum):
    studentt = "studentt"
    normal = "normal"
    curve = "curve"


def err(message: str) -> None:
    typer.echo(f"bayescale: error: {' '.join(str(message).split())}", err=True)


def warn(message: str) -> None:
    """One warning line on stderr (the result itself still goes to stdout)."""
    typer.echo(f"bayescale: warning: {' '.join(str(message).split())}", err=True)


@contextmanager
def library_calls():
    """Turn bayescale errors into exit code 2 and print bayescale warnings on one line each."""
    from .exceptions import BayescaleError, BayescaleWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BayescaleWarning)
        try:
            yield
        except BayescaleError as exc:
            err(str(exc))
            raise typer.Exit(EXIT_BAD_INPUT) from None
        finally:
            for w in caught:
                if issubclass(w.category, BayescaleWarning):
                    typer.echo(f"bayescale: warning: {w.message}", err=True)


def progress_flag(flag: bool | None) -> bool:
    return sys.stderr.isatty() if flag is None else flag


def emit_json(doc: dict) -> None:
    from .io import dumps

    typer.echo(dumps(doc), nl=False)


def print_table(frame) -> None:
    typer.echo(frame.to_string(float_format=lambda v: f"{v:.4g}"))


Draws = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Posterior draws per chain, exactly (default: adaptive, 1000 and more until the "
        "diagnostics pass, up to 8000; recorded in fit.json).",
    ),
]
Tune = Annotated[int, typer.Option(min=0, help="Tuning steps per chain.")]
Chains = Annotated[int, typer.Option(min=1, help="Number of chains.")]
LossColumn = Annotated[
    str | None,
    typer.Option(
        help="Fit the law to this column as the loss (e.g. a task's bits per byte); the same "
        "as --column loss=COL."
    ),
]
ScoreColumn = Annotated[
    str | None,
    typer.Option(
        help="Downstream chain: the score (e.g. accuracy) beside the task loss. The law is "
        "fitted to the loss, a link from loss to score to every checkpoint past --min-fraction; "
        "predictions then carry a new run's score."
    ),
]


class LinkName(str, Enum):
    sigmoid = "sigmoid"
    exp = "exp"


LinkOption = Annotated[
    LinkName,
    typer.Option(
        help="Downstream chain: the link from task loss to score: sigmoid (the OLMo ladder's, "
        "floor to ceiling) or exp (Gadre et al.'s)."
    ),
]
Chance = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        max=0.999,
        help="Downstream chain: the task's chance score (0.25 for four choices): the link's "
        "floor prior.",
    ),
]
CeilingSd = Annotated[
    float | None,
    typer.Option(
        "--ceiling-sd",
        min=1e-6,
        help="Downstream chain, sigmoid link: the sd of the ceiling's prior below 1 (default "
        "0.02: a task loss of zero scores 1); wider, e.g. 0.15, for a score that cannot reach 1.",
    ),
]
GroupColumn = Annotated[
    str | None, typer.Option(help="Column that groups the runs (read as 'group').")
]
RunColumn = Annotated[
    str | None,
    typer.Option(
        help="Training curves: the column naming each checkpoint's run (default: 'run' when "
        "present); the law is fitted to each run's final checkpoint."
    ),
]
LrColumn = Annotated[
    str | None, typer.Option(help="Training curves: the learning rate at each checkpoint.")
]
RunTokensColumn = Annotated[
    str | None,
    typer.Option(help="Training curves: each run's planned total tokens (default: its largest D)."),
]
Pooling = Annotated[
    PoolingName, typer.Option(help="Parameters shared by all groups, per group, or pooled.")
]
Centred = Annotated[
    str | None,
    typer.Option(
        help="--pooling partial: which pooled exponents are sampled centred. 'auto' (the "
        "default) chooses per fit from its pilot run, centred where each group's data pin an "
        "exponent more than the population spreads; 'all', 'none', or names, comma-separated "
        "(centred gamma: the IsoFLOP law samples it through each group's frontier).",
    ),
]
TargetAccept = Annotated[float, typer.Option(help="NUTS target acceptance.")]
LikelihoodOption = Annotated[
    LikelihoodName,
    typer.Option(
        "--likelihood",
        help="Noise model on log loss; curve: whole training curves (with --run-column), "
        "a schedule term, run offsets and noise correlated along a run.",
    ),
]
MinFraction = Annotated[
    float,
    typer.Option(
        min=0.0,
        max=1.0,
        help="--likelihood curve: use checkpoints past this fraction of their run (and at "
        "least the shortest run's tokens per parameter).",
    ),
]
Noise = Annotated[
    str | None,
    typer.Option(
        help="chinchilla, data-constrained: 'offopt' (noise grows off the optimum; chinchilla's "
        "default unpooled), 'asym' (its own slope on each side of the optimum), 'size' (noise "
        "changes with model size) or 'constant' (default pooled and data-constrained)."
    ),
]
Seed = Annotated[
    int | None, typer.Option(min=0, help="Random seed (default: drawn and recorded in fit.json).")
]
Progress = Annotated[
    bool | None,
    typer.Option("--progress/--no-progress", help="Progress bar (default: on a terminal)."),
]


FitDir = Annotated[Path, typer.Argument(help="A fit directory written by `bayescale fit`.")]
Interval = Annotated[float, typer.Option(help="Central interval mass, in (0, 1).")]
AsJson = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]


class LossUnit(str, Enum):
    nats = "nats"
    bits = "bits"


UnitOfLoss = Annotated[
    LossUnit | None,
    typer.Option(
        "--loss-unit",
        help="Unit of the loss column: nats, or bits (converted to nats; recorded in fit.json).",
    ),
]
FlopsPerTokenParam = Annotated[
    float | None,
    typer.Option(
        "--flops-per-token-param",
        help="k in C = k*N*D, to fill a missing C or D column (default 6; recorded in fit.json).",
    ),
]


def read_options(loss_unit: LossUnit | None, k: float | None) -> dict:
    """``--loss-unit`` and ``--flops-per-token-param`` as ``load_runs`` keywords."""
    return {
        "loss_unit": loss_unit.value if loss_unit is not None else None,
        "flops_per_param_token": k,
    }


Column = Annotated[
    list[str] | None,
    typer.Option(
        "--column",
        help="Read a bayescale column from another column of the file: NAME=SOURCE, e.g. "
        "--column N=params --column loss=val_loss (repeatable; NAME: N, D, C, loss, score, "
        "group or a law's extra input such as unique_tokens).",
    ),
]


def column_map(
    items: list[str] | None,
    group_column: str | None = None,
    run_column: str | None = None,
    lr_column: str | None = None,
    run_tokens_column: str | None = None,
    loss_column: str | None = None,
    score_column: str | None = None,
) -> dict[str, str] | None:
    """``--column NAME=SOURCE`` options (and ``--group-column``, ``--run-column``,
    ``--lr-column``, ``--run-tokens-column``, ``--loss-column``, ``--score-column``) as
    ``load_runs``' ``columns=``.

    Examples
    --------
    >>> column_map(["N=params", "loss=val_loss"], group_column="mix")
    {'N': 'params', 'loss': 'val_loss', 'group': 'mix'}
    >>> column_map(None, None, "name", lr_column="learning_rate")
    {'run': 'name', 'lr': 'learning_rate'}
    """
    from .exceptions import ConfigError

    mapping: dict[str, str] = {}
    for item in items or []:
        name, sep, source = item.partition("=")
        name, source = name.strip(), source.strip()
        if not sep or not name or not source:
            raise ConfigError(f"--column wants NAME=SOURCE (e.g. N=params), got {item!r}")
        if name in mapping and mapping[name] != source:
            raise ConfigError(f"--column maps {name!r} twice: {mapping[name]!r} and {source!r}")
        mapping[name] = source
    named = {
        K.GROUP: group_column,
        K.RUN_ID: run_column,
        K.LR: lr_column,
        K.RUN_TOKENS: run_tokens_column,
        K.LOSS: loss_column,
        "score": score_column,
    }
    for name, source in named.items():
        if source is None:
            continue
        if mapping.get(name, source) != source:
            flag = "--" + name.replace("_", "-") + "-column"
            raise ConfigError(f"{flag} {source!r} and --column {name}={mapping[name]} disagree")
        mapping[name] = source
    return mapping or None
