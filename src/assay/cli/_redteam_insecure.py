"""`assay redteam scan-code`, `scan-rendering` and `insecure`: insecure outputs found in responses, and their rates."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli._app import G, ExecutorOpt, JsonOpt, RayAddressOpt, WorkersOpt, console, emit_json, executor_choice, \
    confidence_option, progress, wants_json
from assay.cli.redteam import redteam_app
from assay.cli.run_report import RunBar

ModelsOpt = Annotated[list[str] | None, typer.Option("--model", help="Only responses of these models; repeat or comma-separate.")]
DatasetOpt = Annotated[str | None, typer.Option(help="Only responses to this dataset's items.")]
AttemptsOpt = Annotated[bool, typer.Option("--attempts-only", help="Only responses that some attack attempt produced.")]


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _scan(detector: str, args: dict[str, Any], models: list[str] | None, dataset: str | None, attempts_only: bool,
          executor: str, ray_address: str | None, workers: int | None, json_out: bool) -> None:
    from assay.redteam.insecure import DETECTORS, make_detector, scan_outputs
    from assay.session import Session

    judge = make_detector(detector, **args)  # a missing extra is reported here, before any work
    where = executor_choice(executor, ray_address, workers)
    store = G.store()
    with progress() as bar:
        b = RunBar(bar, f"{DETECTORS[detector][0]} detector")
        session = Session(store, execution=dataclasses.replace(where, on_start=b.start, on_progress=b.update))
        run, rater = scan_outputs(session, detector, models=_split(models) or None, dataset=dataset,
                                  attempts_only=attempts_only, judge=judge)
    dim = DETECTORS[detector][1]
    labels: dict[str, int] = {}
    findings = 0
    skipped: dict[str, int] = {}  # why -> blocks not scanned (njsscan absent)
    for j in store.iter("judgments", rater_id=rater.id, run_id=run.id):
        if j.dimension == dim:
            labels[j.label or "?"] = labels.get(j.label or "?", 0) + 1
            findings += len(j.detail.get("findings", []))
            for k in j.detail.get("not_scanned") or []:
                why = j.detail["blocks"][k].get("not_scanned", "?")
                skipped[why] = skipped.get(why, 0) + 1
    out = {"run": run.id, "status": run.status, "total": run.total, "failed": run.failed, "rater": rater.id,
           "labels": dict(sorted(labels.items())), "findings": findings,
           "not_scanned": [{"blocks": n, "why": why} for why, n in sorted(skipped.items())]}
    if wants_json(json_out):
        emit_json(out)
        return
    console.print(f"run {run.id[:12]} {run.status}: {run.total} responses, {run.failed} failed; rater {rater.id}; "
                  f"{findings} findings")
    for k, v in out["labels"].items():
        console.print(f"  {k}: {v}")
    for row in out["not_scanned"]:
        console.print(f"{row['blocks']} JavaScript/TypeScript block(s) not scanned ({row['why']})", markup=False)


@redteam_app.command("scan-code")
def scan_code(
    models: ModelsOpt = None,
    dataset: DatasetOpt = None,
    attempts_only: AttemptsOpt = False,
    min_severity: Annotated[str, typer.Option(help="Lowest severity that makes a response insecure: low, medium or high (njsscan's INFO, WARNING, ERROR).")] = "low",
    skip: Annotated[list[str] | None, typer.Option(help="bandit rule ids to leave out (default B101,B403,B404,B603); repeat or comma-separate.")] = None,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    workers: WorkersOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Extract code from responses, scan Python with bandit and JavaScript/TypeScript with njsscan (never run);
    Judgments on insecure-output@1."""
    from assay.errors import BadInput
    from assay.redteam.code import SEVERITIES

    if min_severity not in SEVERITIES:
        raise BadInput(f"must be one of {', '.join(SEVERITIES)}, not {min_severity!r}", field="--min-severity")
    args: dict[str, Any] = {"min_severity": min_severity}
    if skip:
        args["skip"] = _split(skip)
    _scan("code", args, models, dataset, attempts_only, executor, ray_address, workers, json_out)


@redteam_app.command("scan-rendering")
def scan_rendering(
    models: ModelsOpt = None,
    dataset: DatasetOpt = None,
    attempts_only: AttemptsOpt = False,
    allow_host: Annotated[list[str] | None, typer.Option("--allow-host", help="Hosts (and their subdomains) whose images and links are trusted; repeat or comma-separate.")] = None,
    min_payload: Annotated[int, typer.Option(min=1, help="Characters of an encoded query value that count as data carried by a URL.")] = 16,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    workers: WorkersOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Find unsafe rendering in responses (data-carrying images and links, script, raw HTML); Judgments on insecure-output@1."""
    args = {"allow_hosts": _split(allow_host) or None, "min_payload": min_payload}
    _scan("rendering", args, models, dataset, attempts_only, executor, ray_address, workers, json_out)


@redteam_app.command("insecure")
def insecure_cmd(
    detector: Annotated[str, typer.Option(help="code (bandit findings) or rendering (unsafe rendering).")] = "code",
    rater: Annotated[str | None, typer.Option(help="Rater id or name of the detector's Judgments (default: the only one).")] = None,
    models: Annotated[list[str] | None, typer.Option("--model", help="Only these models; repeat or comma-separate.")] = None,
    confidence: confidence_option("Confidence level of the Wilson intervals.") = 0.95,
    json_out: JsonOpt = False,
) -> None:
    """Insecure-code or unsafe-rendering rate per model with Wilson intervals, and the most frequent CWE ids or rules."""
    from assay.redteam.insecure import insecure_rates

    res = insecure_rates(G.store(), detector, rater=rater, models=_split(models) or None, confidence=confidence)
    if wants_json(json_out):
        emit_json(res)
        return
    what = "insecure code (responses with code)" if detector == "code" else "unsafe rendering (all responses)"
    t = Table(title=f"{what}, rater {res['rater']}, {100 * confidence:g}% Wilson interval", title_justify="left")
    for c in ("model", "scanned", "with code" if detector == "code" else "n", "hits", "rate", "interval",
              "top CWE ids" if detector == "code" else "top rules"):
        t.add_column(c)
    for r in res["rows"]:
        t.add_row(r["model"], str(r["scanned"]), str(r["n"]), str(r["hits"]), _pct(r["rate"]),
                  "-" if r["low"] is None else f"{_pct(r['low'])} - {_pct(r['high'])}",
                  ", ".join(f"{x['id']} ({x['count']})" for x in r["top"]))
    console.print(t)
