"""The `assay` command: one module per command group, all thin faces over the library."""

from __future__ import annotations

import sys

from assay.cli._app import app, err_console

# Each module registers its commands on `app` when imported.
from assay.cli import core as _core  # noqa: E402,F401
from assay.cli import data as _data  # noqa: E402,F401
from assay.cli import rubric as _rubric  # noqa: E402,F401
from assay.cli import generate as _generate  # noqa: E402,F401
from assay.cli import serve as _serve  # noqa: E402,F401
from assay.cli import campaign as _campaign  # noqa: E402,F401
from assay.cli import users as _users  # noqa: E402,F401
from assay.cli import judge as _judge  # noqa: E402,F401
from assay.cli import agreement as _agreement  # noqa: E402,F401
from assay.cli import rank as _rank  # noqa: E402,F401
from assay.cli import abtest as _abtest  # noqa: E402,F401
from assay.cli import calibration as _calibration  # noqa: E402,F401
from assay.cli import report as _report  # noqa: E402,F401
from assay.cli import redteam as _redteam  # noqa: E402,F401
from assay.cli import library as _library  # noqa: E402,F401
from assay.cli import curate as _curate  # noqa: E402,F401
from assay.cli import cache as _cache  # noqa: E402,F401


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the app, turning assay's errors into one line and an exit code."""
    from assay.errors import AssayError, BadInput

    try:
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:  # typer.Exit(n) comes back as its code when not standalone
            return code
    except BadInput as e:
        err_console.print(f"[red]error:[/red] {e.message}", highlight=False, soft_wrap=True)
        return 2
    except AssayError as e:
        err_console.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
        return 1
    except SystemExit as e:  # typer/click usage errors and explicit exits
        return int(e.code or 0)
    except KeyboardInterrupt:
        err_console.print("interrupted: finished work is saved; run the same command again to resume")
        return 130
    except Exception as e:  # click exceptions carry their own exit code
        import click

        if isinstance(e, click.exceptions.ClickException):
            e.show()
            return e.exit_code
        if isinstance(e, click.exceptions.Exit):
            return e.exit_code
        if isinstance(e, click.exceptions.Abort):
            return 1
        raise
    return 0


def _console_main() -> None:
    sys.exit(main())
