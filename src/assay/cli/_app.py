"""The Typer app, its global options, and helpers every command module shares."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from assay.session import Execution
from rich.console import Console

app = typer.Typer(
    name="assay",
    help="assay: rate, compare and rank LLM responses with judges and human raters, over one store.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},  # subcommands' contexts inherit it
)

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]


def confidence_option(help: str = "Confidence level of the intervals.") -> Any:  # noqa: A002 - typer's name
    """A ``--confidence`` option that refuses, as a usage error, a level outside 0.5 to 0.9999 (NaN and
    infinity included) before any data is read."""
    return Annotated[float, typer.Option(min=0.5, max=0.9999, help=help)]


@dataclass
class Globals:
    db: str | None = None
    json: bool = False
    _store: Any = None

    def store(self):  # noqa: ANN201
        """The store named by --db / ASSAY_DATABASE_URL / ./assay.db, opened (and migrated) once."""
        if self._store is None:
            from assay.store import Store

            self._store = Store(self.db)
        return self._store


G = Globals()


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("assay")
        except PackageNotFoundError:  # running from a source tree that is not installed
            from assay import __version__ as number
        console.print(f"assay {number}", highlight=False)
        raise typer.Exit()


@app.callback()
def _global(
    db: Annotated[
        str | None,
        typer.Option("--db", envvar="ASSAY_DATABASE_URL", help="Store: a SQLite path or a postgresql:// URL (default ./assay.db)."),
    ] = None,
    json_out: JsonOpt = False,
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_version,
                                          help="Print assay's version and exit.")] = False,
) -> None:
    G.db = db
    G.json = json_out
    G._store = None


def wants_json(flag: bool) -> bool:
    return flag or G.json


def emit_json(data: Any) -> None:
    """Write JSON to stdout (dates and other objects as strings)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def progress(transient: bool = False):  # noqa: ANN201
    """A Rich progress bar with rate and ETA, on stderr so --json output stays clean."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=transient,
        disable=not err_console.is_terminal,
    )


# How a command calls a model endpoint; the same options on every command that calls one.
RpmOpt = Annotated[float | None, typer.Option(help="Requests-per-minute limit.")]
TpmOpt = Annotated[float | None, typer.Option(help="Tokens-per-minute limit.")]
TimeoutOpt = Annotated[float, typer.Option(help="Seconds to wait for one answer.")]
RetriesOpt = Annotated[int, typer.Option(min=0, help="Retries of a call on 429, 5xx, timeouts, connection errors.")]
BackoffOpt = Annotated[float, typer.Option(help="Base of the exponential backoff, seconds.")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Answer nothing from other runs' cached calls (the run "
                                          "keeps its own answers, so a rerun after a crash repeats none).")]

# What a run will spend, shown before its first call (assay.runs.plan; cli/_runs.py).
PriceInOpt = Annotated[float | None, typer.Option(
    min=0, help="USD per million prompt tokens of the models this command calls (else their stored price).")]
PriceOutOpt = Annotated[float | None, typer.Option(
    min=0, help="USD per million completion tokens of the models this command calls (else their stored price).")]
YesOpt = Annotated[bool, typer.Option(
    "--yes", "-y", help="Start without asking, however large the plan (on a terminal, a run above "
                        "ASSAY_CONFIRM_CALLS calls, default 1000, or ASSAY_CONFIRM_USD dollars, default 1, asks first).")]
DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", help="Print the plan (calls, estimated tokens and cost) and stop: nothing is sent, no run starts.")]

# Where a run's units execute; the same three options on every command that runs one.
ExecutorOpt = Annotated[str, typer.Option(
    help="Where units run: local (asyncio in this process) or ray (Ray workers; needs the 'ray' extra of assay).")]
RayAddressOpt = Annotated[str | None, typer.Option(
    help="With --executor ray: the Ray cluster to join (else RAY_ADDRESS, else a local Ray is started).")]
WorkersOpt = Annotated[int | None, typer.Option(
    min=1, help="With --executor ray: Ray workers (default: one per CPU of the cluster).")]


def executor_choice(executor: str, ray_address: str | None, workers: int | None) -> Execution:
    """The session's Execution for the executor options (``--executor``, ``--ray-address``, ``--workers``), checked.

    A command adds its concurrency and callbacks with ``dataclasses.replace``.
    """
    from assay.errors import BadInput
    from assay.runs import executors
    from assay.session import Execution

    if executor not in executors():
        raise BadInput(f"must be one of {', '.join(executors())}", field="--executor")
    if executor != "ray":
        if ray_address is not None or workers is not None:
            raise BadInput("--ray-address and --workers go with --executor ray", field="--executor")
        return Execution(executor=executor)
    from assay.errors import require_extra

    require_extra("ray", "the Ray executor", "ray")  # refused before the plan is shown or anything is stored
    options = {k: v for k, v in {"address": ray_address, "num_workers": workers}.items() if v is not None}
    return Execution(executor=executor, options=options)


def base_url_value(value: str | None) -> str | None:
    """An option callback: a base URL must be http(s)://host..., refused as a usage error before any work."""
    from urllib.parse import urlsplit

    if value is None:
        return None
    u = urlsplit(value)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise typer.BadParameter(f"{value!r} is not an http:// or https:// URL (e.g. http://localhost:8000/v1)")
    return value


# the target model's endpoint and sampling, as the red-team commands that send prompts take them
BaseUrlOpt = Annotated[str | None, typer.Option(callback=base_url_value,
                                                help="OpenAI-compatible base URL for models the store has none for.")]
KeyEnvOpt = Annotated[str | None, typer.Option(
    help="Environment variable holding the API key (default: OPENAI_API_KEY, when set).")]
TempOpt = Annotated[float | None, typer.Option(help="Target's sampling temperature.")]
MaxTokOpt = Annotated[int | None, typer.Option(min=1, help="Target's maximum completion tokens.")]
ConcOpt = Annotated[int, typer.Option(min=1, help="Requests in flight at once.")]
