"""`assay library`: the failure library, its discovery from judgments and attacks, and its re-checks."""

from __future__ import annotations

import typer

from assay.cli._app import app

library_app = typer.Typer(help="The failure library: find recurring failure modes, record, edit and re-check them.",
                          no_args_is_help=True)
app.add_typer(library_app, name="library")
