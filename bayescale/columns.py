"""What a runs table's columns mean: the names other tools give them (for the hint when one is
missing) and the unit of the loss (bits converted to nats, values that look like another unit
pointed out). Used by :func:`bayescale.data.load_runs`."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from . import constants as K
from .exceptions import DataWarning

__all__ = ["LOSS_UNITS", "LOSS_LOOKS_WRONG", "column_hint", "loss_in_nats"]

#: Units a loss column may come in (converted to nats).
LOSS_UNITS = ("nats", "bits")
#: Losses above this look like perplexities or percentages, not cross-entropy in nats.
LOSS_LOOKS_WRONG = 20.0


#: Common spellings of bayescale's columns in other tools' tables (for the missing-column hint).
_ALIASES = {
    K.N: ("params", "n_params", "num_params", "parameters", "model_size", "nparams", "size"),
    K.D: ("tokens", "n_tokens", "num_tokens", "train_tokens", "data", "tokens_seen"),
    K.C: ("flops", "compute", "train_flops", "flop"),
    K.LOSS: ("val_loss", "eval_loss", "valid_loss", "validation_loss", "train_loss", "ce_loss"),
}


def column_hint(name: str, found: list[str]) -> str | None:
    """The source column that probably means ``name`` (same name in another case, a common
    alias, or a close spelling), or None.

    Examples
    --------
    >>> column_hint("loss", ["params", "tokens", "Loss"])
    'Loss'
    >>> column_hint("N", ["params", "tokens", "val_loss"])
    'params'
    """
    import difflib

    lower = {f.lower(): f for f in found}
    if name.lower() in lower:
        return lower[name.lower()]
    for alias in _ALIASES.get(name, ()):
        if alias in lower:
            return lower[alias]
    spellings = [name.lower()] if len(name) > 2 else []
    for spelling in [*spellings, *_ALIASES.get(name, ())]:
        close = difflib.get_close_matches(spelling, list(lower), n=1, cutoff=0.75)
        if close:
            return lower[close[0]]
    return None


def loss_in_nats(
    y: np.ndarray, unit: str | None, source: str, attrs: dict[str, Any], where: str
) -> np.ndarray:
    """Losses in nats: bits converted (once: a table loaded before says so in ``attrs``); a
    warning where the values or the column's name suggest another unit."""
    import re

    if attrs.get("converted_from") == "bits":
        return y
    if unit == "bits":
        attrs.update(loss_unit="nats", converted_from="bits")
        return y * np.log(2.0)
    attrs["loss_unit"] = "nats"
    if unit is None and re.search(r"bit|bpb|bpc", source, re.IGNORECASE):
        warnings.warn(
            f"loss column '{source}'{where} looks like bits (by its name); bayescale takes "
            "nats: pass loss_unit='bits' (CLI: --loss-unit bits) to convert, or 'nats' to "
            "confirm",
            DataWarning,
            stacklevel=3,
        )
    if unit is None and np.max(y) > LOSS_LOOKS_WRONG:
        warnings.warn(
            f"losses{where} reach {np.max(y):.4g}: that looks like a perplexity or a percentage, "
            "not a cross-entropy in nats (a law for losses takes log-loss); pass "
            "loss_unit='nats' to confirm",
            DataWarning,
            stacklevel=3,
        )
    return y
