"""`assay cache`: how large the request cache is, and pruning it (by age, model, run, or all)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli._app import G, JsonOpt, app, console, emit_json, err_console, wants_json

cache_app = typer.Typer(help="Size of the request cache, and pruning it.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_AGE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*")


def parse_age(value: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``45s`` (a number and one unit) as a timedelta; ValueError otherwise."""
    m = _AGE.fullmatch(value)
    if m is None:
        raise ValueError(f"{value!r} is not an age: give a number and a unit, s, m, h or d (e.g. 30d)")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    scaled: float = n
    for unit in ("B", "kB", "MB", "GB"):
        if abs(scaled) < 1000 or unit == "GB":
            return f"{n:,} B" if unit == "B" else f"{scaled:.1f} {unit}"
        scaled /= 1000
    return f"{scaled:.1f} TB"


def _entries(n: int, what: str = "") -> str:
    return f"{n:,} {what}entry" if n == 1 else f"{n:,} {what}entries"


def _when(v: datetime | None) -> str:
    return v.strftime("%Y-%m-%d %H:%M") if v is not None else ""


@cache_app.command("stats")
def stats(
    top: Annotated[int, typer.Option(min=1, help="Models and runs to list (the largest first).")] = 10,
    json_out: JsonOpt = False,
) -> None:
    """Entries, bytes and dates of the request cache, per model and per run, and its share of the store."""
    from assay.store.cache_admin import cache_stats

    st = cache_stats(G.store(), top=top)
    if wants_json(json_out):
        emit_json(st.as_dict())
        return
    console.print(f"request cache: {_entries(st.entries)}, {_size(st.payload_bytes)} of requests and answers"
                  + (f", {_when(st.oldest)} to {_when(st.newest)} (UTC)" if st.entries else ""), highlight=False)
    if st.table_bytes is not None and st.store_bytes:
        where = "of the store file" if st.backend == "sqlite" else "of the store's tables"
        console.print(f"on disk: {_size(st.table_bytes)} with its indexes, {st.share:.0%} {where} "
                      f"({_size(st.store_bytes)})", highlight=False)
    elif st.backend == "sqlite":
        console.print(f"store file: {_size(st.store_bytes)} (this SQLite has no dbstat table to size the cache's pages)",
                      highlight=False)
    if st.free_bytes:
        console.print(f"free pages: {_size(st.free_bytes)} (reused by later writes; "
                      "`assay cache prune ... --vacuum` gives them back)", highlight=False)
    if not st.entries:
        return
    for title, groups, more, key in (("by model", st.models, st.more_models, "model"),
                                     ("by run", st.runs, st.more_runs, "run")):
        if not groups:
            continue
        t = Table(title=title, title_justify="left")
        for col in (key, *(("kind", "status") if key == "run" else ()), "entries", "bytes", "oldest", "newest"):
            t.add_column(col, justify="right" if col in ("entries", "bytes") else "left", no_wrap=True)
        for g in groups:
            extra = (g.kind or "?", g.status or "(not stored)") if key == "run" else ()
            name = (g.key or "")[:12] if key == "run" else (g.key or "")
            t.add_row(name, *extra, f"{g.entries:,}", _size(g.bytes), _when(g.oldest), _when(g.newest))
        console.print(t)
        if more:
            console.print(f"and {more:,} more {key}s (--top to list them)", highlight=False)
    if st.no_run.entries:
        verb = "has" if st.no_run.entries == 1 else "have"
        console.print(f"{_entries(st.no_run.entries)} ({_size(st.no_run.bytes)}) {verb} no run: made before the store "
                      "recorded runs in the cache, or by a client outside a run; prune them by age or model",
                      highlight=False)


def _selection(older_than: str | None, model: str | None, run: str | None, everything: bool) -> Any:
    from assay.errors import BadInput
    from assay.store.cache_admin import CacheSelection, cache_run_ids, cached_models

    if everything and (older_than or model or run):
        raise BadInput("--all removes every entry: give it alone, or choose by --older-than, --model, --run",
                       field="--all")
    if not (everything or older_than or model or run):
        raise BadInput("choose what to remove with --older-than, --model or --run, or give --all")
    age = None
    if older_than is not None:
        try:
            age = parse_age(older_than)
        except ValueError as e:
            raise BadInput(str(e), field="--older-than") from None
    store = G.store()
    run_id = None
    if run is not None:
        ids = cache_run_ids(store, run) if run else []
        if len(ids) != 1:
            why = f"no run starts with {run!r}" if not ids else f"{len(ids)} runs start with {run!r}: give more of the id"
            raise BadInput(f"{why} (`assay runs` and `assay cache stats` list them)", field="--run")
        run_id = ids[0]
    if model is not None and store.find("models", model) is None and model not in cached_models(store):
        known = ", ".join(cached_models(store)[:10]) or "none"
        raise BadInput(f"no model {model!r} in the store; models in the cache: {known}", field="--model")
    return CacheSelection(older_than=age, model=model, run_id=run_id, everything=everything)


@cache_app.command("prune")
def prune(
    older_than: Annotated[str | None, typer.Option(
        "--older-than", help="Entries made longer ago than this: a number and s, m, h or d (30d, 12h).")] = None,
    model: Annotated[str | None, typer.Option(help="Entries of this model (NAME@VERSION, as `cache stats` lists it).")] = None,
    run: Annotated[str | None, typer.Option(help="Entries made by this run (a prefix of its id is enough).")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every entry.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing.")] = False,
    vacuum: Annotated[bool, typer.Option(
        help="Then compact the store so it shrinks (SQLite: VACUUM, which needs the store to itself; "
             "PostgreSQL: VACUUM FULL of the cache table).")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Remove cached requests (only those: finished runs keep their results and are not redone).

    Selectors combine: --older-than 30d --model judge@1 removes that model's entries older than
    30 days. A run that needs a removed request later sends it to the model again.
    """
    from dataclasses import asdict

    from assay.store.cache_admin import prune_cache, vacuum_store

    selection = _selection(older_than, model, run, everything)
    store = G.store()
    result = prune_cache(store, selection, dry_run=dry_run)
    vac = vacuum_store(store) if vacuum and not dry_run else None
    if wants_json(json_out):
        emit_json({**asdict(result), "vacuum": asdict(vac) if vac is not None else None})
        return
    what = f"{_entries(result.entries, 'cache ')} ({_size(result.bytes)} of requests and answers)"
    if dry_run:
        console.print(f"would remove {what}; nothing removed (--dry-run)", highlight=False)
        return
    console.print(f"removed {what}; run results are kept", highlight=False)
    if vac is None:
        if store.backend == "sqlite" and result.entries:
            console.print("the store file keeps its size (the space is reused by later writes); "
                          "--vacuum shrinks it", highlight=False)
    elif vac.done:
        thing = "store file" if vac.what == "file" else "cache table"
        console.print(f"vacuumed: the {thing} went from {_size(vac.before)} to {_size(vac.after)}", highlight=False)
    else:
        err_console.print(f"not vacuumed: {vac.error} (is another process using the store?); "
                          "the freed space is reused by later writes", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
