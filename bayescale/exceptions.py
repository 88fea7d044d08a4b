"""Error and warning types raised by bayescale.

Every error a user can cause by bad input derives from :class:`BayescaleError`, so a command-line
tool can catch that one class and print a one-line message instead of a traceback.
"""

from __future__ import annotations


class BayescaleError(Exception):
    """Base class of every error bayescale raises on purpose."""


class DataError(BayescaleError, ValueError):
    """The runs table is unusable: a missing column, a bad value, too few runs, ..."""


class ConfigError(BayescaleError, ValueError):
    """An argument, prior or setting is invalid."""


class FitFileError(BayescaleError, OSError):
    """A saved fit directory is missing, incomplete, or was written by something else."""


class BayescaleWarning(UserWarning):
    """Base class of bayescale's warnings."""


class DataWarning(BayescaleWarning):
    """Suspicious but usable data: duplicated runs, compute far from k*N*D, ..."""


class ConvergenceWarning(BayescaleWarning):
    """The sampler's diagnostics say the posterior should not be trusted yet."""


class ExtrapolationWarning(BayescaleWarning):
    """A prediction lies far outside the range of the fitted runs."""
