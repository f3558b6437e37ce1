"""`assay curate`: clean a dataset into a new one, with a log of what each step removed and why."""

from __future__ import annotations

import typer

from assay.cli._app import app

curate_app = typer.Typer(help="Curate data: deduplicate, filter and scrub a dataset into a new one, logging every removal.",
                         no_args_is_help=True)
app.add_typer(curate_app, name="curate")
