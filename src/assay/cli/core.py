"""`assay init`, `assay ls` and `assay demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli._app import base_url_value, G, JsonOpt, app, console, emit_json, wants_json


@app.command()
def init(json_out: JsonOpt = False) -> None:
    """Create the store (or migrate it to the newest schema) and register the built-in rubrics."""
    from assay.rubrics import builtin_names, get_rubric
    from assay.store.engine import current_revision

    store = G.store()
    rubrics = [get_rubric(store, name).id for name in builtin_names()]
    info = {"store": store.describe(), "schema": current_revision(store.engine), "rubrics": rubrics}
    if wants_json(json_out):
        emit_json(info)
    else:
        console.print(f"store ready: {info['store']} (schema {info['schema']}); rubrics: {', '.join(rubrics)}",
                      highlight=False)


def print_summary(summary: dict[str, Any]) -> None:
    console.print(f"[bold]store[/bold] {summary['store']}", highlight=False)
    for key, cols in (("datasets", ("dataset", "items", "responses")), ("models", ("model", "responses")),
                      ("rubrics", ("rubric", "dimensions", "judgments"))):
        t = Table(title=key, title_justify="left")
        for col in cols:
            t.add_column(col, justify="left" if col == cols[0] else "right")
        for row in summary[key]:
            t.add_row(*(f"{row[c]:,}" if isinstance(row[c], int) else str(row[c]) for c in cols))
        if not summary[key]:
            t.add_row(*(["(none)"] + [""] * (len(cols) - 1)))
        console.print(t)
    tot = summary["totals"]
    raters = ", ".join(f"{n} {k}" for k, n in sorted(summary["raters"].items())) or "none"
    console.print(f"judgments {tot['judgments']:,}  comparisons {tot['comparisons']:,}  runs {tot['runs']:,}  "
                  f"raters: {raters}", highlight=False)


@app.command("ls")
def ls(json_out: JsonOpt = False) -> None:
    """What the store holds: counts per dataset, model and rubric."""
    summary = G.store().summary()
    if wants_json(json_out):
        emit_json(summary)
    else:
        print_summary(summary)


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--dir", help="Folder for the demo's store and report.")] = Path("assay-demo"),
    base_url: Annotated[str | None, typer.Option(callback=base_url_value, help="An OpenAI-compatible endpoint: also run an LLM judge.")] = None,
    judge: Annotated[str | None, typer.Option(help="The judge model NAME@VERSION at --base-url.")] = None,
    rounds: Annotated[int, typer.Option(help="Bootstrap resamples for intervals.")] = 200,
    json_out: JsonOpt = False,
) -> None:
    """The first run: a fresh store from bundled public data, verifiers, agreement, a leaderboard, an A/B test, a report."""
    from assay.demo import run_demo
    from assay.errors import BadInput
    from assay.store import Store

    if (base_url is None) != (judge is None):
        raise BadInput("give both --base-url and --judge NAME@VERSION to run an LLM judge", field="--judge")
    if G.db is None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for f in out_dir.glob("assay.db*"):
            f.unlink()
        store = Store(str(out_dir / "assay.db"))
    else:
        store = G.store()
    quiet = wants_json(json_out)
    result = run_demo(store, out_dir, base_url=base_url, judge=judge, rounds=rounds,
                      say=(lambda m: None) if quiet else (lambda m: console.print(f"[dim]·[/dim] {m}", highlight=False)))
    if quiet:
        emit_json({**result, "summary": store.summary()})
        return
    print_summary(store.summary())
    _print_demo_findings(result)
    db_arg = f"--db {out_dir / 'assay.db'} " if G.db is None else ""
    console.print(f"""
[bold]report[/bold]: {Path(result['report']).resolve()}  (open it in a browser; it works offline)
finished in {result['seconds']} s

[bold]next[/bold]
  assay {db_arg}agreement --comparisons --kind human   the 3 PandaLM annotators' agreement, as above
  assay {db_arg}agreement --comparisons          the same pairs with GPT-3.5 as a fourth rater, and each rater
                                                 against the human consensus
  assay {db_arg}rank --comparisons               the leaderboard
  assay {db_arg}judge-report --judge gpt-3.5-turbo   can GPT-3.5 replace the PandaLM raters?
  assay {db_arg}abtest bloom-7b@pandalm-v1 llama-7b@pandalm-v1 --judge gpt-3.5-turbo --human-sample 40
                                                 the A/B with 40 items' human verdicts and GPT-3.5's on all (PPI++)
  assay {db_arg}redteam asr --rater jailbreakbench.artifact.jailbroken --compare gpt-4-0125-preview@jbb,gpt-3.5-turbo-1106@jbb
                                                 attack success, and is GPT-4 harder to break?
  assay {db_arg}redteam refusals --rater refusal  over-refusal per model, by the refusal detector
  assay {db_arg}users add lead --role lead && assay {db_arg}serve     the rating app for human raters
  assay demo --base-url http://localhost:8000/v1 --judge NAME@VERSION   run an LLM judge on a real endpoint""",
                  highlight=False)


def _print_demo_findings(r: dict[str, Any]) -> None:
    s = r["verifiers"]["strict"]
    lo = r["verifiers"]["loose"]
    console.print(f"\n[bold]IFEval[/bold] (GPT-4's published responses): prompt-level strict "
                  f"{s['prompt_followed']}/{s['prompts']} = {100 * s['prompt_accuracy']:.2f}%, loose "
                  f"{lo['prompt_followed']}/{lo['prompts']} = {100 * lo['prompt_accuracy']:.2f}%", highlight=False)
    agr = r["agreement"]
    a, left_out = agr["pandalm_humans_alpha"], agr.get("left_out") or []
    console.print(f"[bold]agreement[/bold] of the {len(agr['raters'])} PandaLM annotators ({', '.join(agr['raters'])}"
                  + (f"; {', '.join(left_out)} left out" if left_out else "")
                  + f"): Krippendorff alpha {a['estimate']:.3f} [{a['low']:.3f}, {a['high']:.3f}]", highlight=False)
    board = sorted(r["leaderboard"], key=lambda x: x["rank"])
    console.print("[bold]leaderboard[/bold] (human verdicts, Bradley-Terry): " + ", ".join(
        f"{x['rank']}. {x['model'].split('@')[0]} {x['rating']:.0f} [{x['lower']:.0f}, {x['upper']:.0f}]"
        for x in board), highlight=False)
    console.print("  (ranks tie when the 95% intervals overlap: rank = 1 + the models whose interval lies wholly above)",
                  highlight=False)
    console.print(f"[bold]A/B[/bold] {r['abtest']['model_b']} vs {r['abtest']['model_a']} (HANNA human ratings):",
                  highlight=False)
    for d in r["abtest"]["dimensions"]:
        console.print(f"  {d.get('verdict') or d.get('error')}", highlight=False)
    for ja in r.get("judge_assisted") or []:
        judge = ", ".join(j.split(":")[1] for j in ja["judges"])
        console.print(f"[bold]A/B, people and judge combined[/bold] (PPI++) {ja['model_b']} vs {ja['model_a']}: "
                      f"people's verdicts kept on {ja['human_sample']} units (seed {ja['seed']}), {judge}'s on all; "
                      "B - A (or B's win rate): PPI++ | people only | judge only (biased) | people on all:",
                      highlight=False)
        for d in ja["dimensions"] + ja["preferences"]:
            what = d["dimension"] if d["kind"] == "dimension" else "B's win rate"
            if d.get("error"):
                console.print(f"  {what}: {d['error']}", highlight=False)
                continue
            ref = d.get("all_people") or {}
            sign = "+" if d["kind"] == "dimension" else ""
            console.print(f"  {what}: {d['estimate']:{sign}.2f} [{d['ci_low']:.2f}, {d['ci_high']:.2f}] | "
                          f"{d['human_estimate']:{sign}.2f} [{d['human_low']:.2f}, {d['human_high']:.2f}] | "
                          f"{d['judge_estimate']:{sign}.2f} | "
                          + (f"{ref['estimate']:{sign}.2f} (n = {ref['n']})" if ref else "—")
                          + f"; λ {d['lam']:.2f}, the judge worth {max(d['n_eff'] - d['n'], 0):.0f} extra labels",
                          highlight=False)
    _print_redteam(r["redteam"])
    if r["judge_run"] is None:
        console.print("[bold]LLM judge[/bold]: none run (no --base-url given). The report's judge sections show "
                      "only verdicts the sources published (GPT-3.5 on PandaLM, five LLMs on HANNA).", highlight=False)
    else:
        j = r["judge_run"]
        console.print(f"[bold]LLM judge[/bold] {j['rater']}: {j['succeeded']} judged, {j['failed']} failed",
                      highlight=False)


def _print_redteam(rt: dict[str, Any]) -> None:
    short = lambda m: m.split("@")[0]  # noqa: E731
    console.print("[bold]red team[/bold] ASR per behaviour (JailbreakBench's judge, 95% Wilson): " + ", ".join(
        f"{short(x['model'])} {x['attack']} {x['asr']:.2f} [{x['low']:.2f}, {x['high']:.2f}]" for x in rt["asr"]),
        highlight=False)
    c = rt["compare"]
    console.print(f"  PAIR, paired by behaviour: {short(c['first'])} {c['first_asr']:.2f} vs {short(c['second'])} "
                  f"{c['second_asr']:.2f} ({c['only_first']} vs {c['only_second']} broken by one only; McNemar "
                  f"p = {c['p_value']:.2g})", highlight=False)
    console.print("[bold]over-refusal[/bold], safe prompts of XSTest's 250 refused (by the human labels; by the refusal "
                  "detector): " + ", ".join(f"{short(x['model'])} {x['humans']['k']} ({x['detector']['k']})"
                                           for x in rt["over_refusal"]), highlight=False)
    k = rt["kappa"]
    console.print(f"  detector vs human labels on {k['n']:,} responses: Cohen kappa {k['three_labels']['estimate']:.3f} "
                  f"(3 labels), {k['refused_or_not']['estimate']:.3f} (refused or not)", highlight=False)


BUNDLED = {
    "pandalm": "PandaLM test set: 999 pairs from five 7B models, 3 human verdicts each and GPT-3.5's (Apache-2.0)",
    "hanna": "HANNA: 1,056 stories x 6 criteria, mean human ratings and 20 LLM raters (MIT; scores "
             "only, the prompts and stories are not bundled)",
}


@app.command()
def load(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(BUNDLED)}.")],
    json_out: JsonOpt = False,
) -> None:
    """Load a public data set that ships with assay into the store (loading twice adds nothing)."""
    from assay import bundled
    from assay.errors import BadInput

    if name not in BUNDLED:
        raise BadInput(f"no bundled data set {name!r}; choose one of {', '.join(BUNDLED)}")
    added = getattr(bundled, f"load_{name}")(G.store())
    if wants_json(json_out):
        emit_json({"loaded": name, "added": added})
    else:
        console.print(f"loaded {name}: {BUNDLED[name]}; added "
                      + ", ".join(f"{n:,} {k}" for k, n in added.items()), highlight=False)
