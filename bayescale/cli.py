"""Command-line interface (Typer). No model logic lives here: each command parses its options,
calls the library, and prints.

Exit codes: 0 success; 2 bad input or usage (one line on stderr, no traceback, no output
written); 1 an unexpected internal error.

The commands live in :mod:`bayescale.cli_fit` (fit, laws, compare, demo),
:mod:`bayescale.cli_decisions` (predict, allocate, target, backtest, report) and
:mod:`bayescale.cli_batch` (batch), all registered on :data:`bayescale.cli_app.app`; importing
them here registers them. This module holds the console entry point.
"""

from __future__ import annotations

import sys

import typer

from . import cli_batch, cli_decisions, cli_design, cli_fit  # noqa: F401  (register them)
from .cli_app import EXIT_BAD_INPUT, app, err

__all__ = ["app", "main"]


def main() -> None:
    """Console entry point: usage errors become one line on stderr with exit code 2."""
    try:  # typer >= 0.2x vendors click; its exceptions derive from TyperException
        from typer import TyperException as CliError
    except ImportError:  # pragma: no cover - older typer on top of click
        from click import ClickException as CliError

    command = typer.main.get_command(app)
    try:
        rc = command.main(prog_name="bayescale", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err("aborted")
        sys.exit(130)
    except CliError as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            typer.echo(ctx.get_help())
            sys.exit(0)
        err(exc.format_message())
        sys.exit(getattr(exc, "exit_code", EXIT_BAD_INPUT))
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()
