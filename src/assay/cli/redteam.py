"""`assay redteam`: attack a model, detect what broke, measure attack success rates."""

from __future__ import annotations

import typer

from assay.cli._app import app

redteam_app = typer.Typer(help="Red teaming: run attacks, import attack results, detect refusals, attack success rates, bias probes.",
                          no_args_is_help=True)
app.add_typer(redteam_app, name="redteam")

# Each module registers its commands on `redteam_app` when imported.
from assay.cli import _redteam_run as _run  # noqa: E402,F401
from assay.cli import _redteam_results as _results  # noqa: E402,F401
from assay.cli import _redteam_bias as _bias  # noqa: E402,F401
from assay.cli import _redteam_insecure as _insecure  # noqa: E402,F401
from assay.cli import _redteam_inject as _inject  # noqa: E402,F401
