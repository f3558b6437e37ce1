"""`assay rank`: a leaderboard with intervals from comparisons or from a rubric dimension's judgments.

With ``--judge`` and people's verdicts on some of the same units, a judge-assisted table follows
the leaderboard: PPI++ Bradley-Terry (Angelopoulos, Duchi, Zrnic 2023; Boyeau et al. 2024,
"AutoEval done right", arXiv:2403.07008) beside the human-only and judge-only ratings, see
:mod:`assay.analysis.judge_assisted`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli._app import G, JsonOpt, app, console, emit_json, wants_json, confidence_option
from assay.cli.agreement import resolve_raters


def _f(x: Any, digits: int = 1) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


TIED_RANKS = "ranks tie when intervals overlap: a model's rank is 1 + the number of models whose interval lies wholly above its own"


def comparisons_line(counts: dict[str, Any]) -> str:
    """How many comparisons were stored, used and dropped (and by what), in one line."""
    dropped = {k: v for k, v in counts["dropped"].items() if v or k == "one_per_rater"}
    why = {"superseded": "superseded by a correction", "three_or_more_responses": "rankings of 3+ responses",
           "same_model": "both responses by one model", "one_per_rater": "--one-per-rater"}
    tail = "; dropped " + ", ".join(f"{v} ({why.get(k, k)})" for k, v in dropped.items()) if dropped else ""
    every = "" if "one_per_rater" in counts["dropped"] else " (every stored comparison counts)"
    return f"comparisons: {counts['stored']} stored, {counts['used']} used{every}{tail}"


def print_leaderboard(rep: dict[str, Any]) -> None:
    conf = int(round(rep["confidence"] * 100))
    what = "comparisons" if rep["source"] == "comparisons" else f"{rep['rubric']} · {rep['dimension']}"
    weight = rep.get("strong_weight") or 1
    battles = f"{rep['battles']} battles" + (f", strong wins x{weight}" if weight != 1 else "")
    title = (f"{what}: {battles} ({rep['aggregate']}), Bradley-Terry on the Elo scale, "
             f"{conf}% bootstrap intervals over {rep['rounds']} rounds")
    baseline = rep.get("baseline")
    if baseline:
        title += f"; {baseline} anchored at 1000"
    t = Table(title=title, title_justify="left")
    cols = ["rank", "model", "rating", f"{conf}% interval", "battles"]
    if baseline:
        cols += ["win rate vs baseline"]
    for col in cols:
        t.add_column(col, justify="left" if col == "model" else "right")
    for r in rep["leaderboard"]:
        row = [str(r["rank"]), r["model"], _f(r["rating"]), f"[{_f(r['lower'])}, {_f(r['upper'])}]",
               str(int(r["battles"]))]
        if baseline:
            pct = {k: None if r.get(k) is None else 100 * r[k]
                   for k in ("win_rate_vs_baseline", "win_rate_lower", "win_rate_upper")}
            row.append(f"{_f(pct['win_rate_vs_baseline'])}% [{_f(pct['win_rate_lower'])}, "
                       f"{_f(pct['win_rate_upper'])}]")
        t.add_row(*row)
    console.print(t)
    console.print(f"  {TIED_RANKS}", highlight=False)
    if rep.get("comparisons"):
        console.print(f"  {comparisons_line(rep['comparisons'])}", highlight=False)
    if rep.get("failed_rounds"):
        console.print(f"  {rep['failed_rounds']} bootstrap rounds had no finite fit (try --l2 0.5)", highlight=False)
    if rep.get("mean_scores"):
        m = Table(title=f"mean score per model ({conf}% t interval over prompts)", title_justify="left")
        for col in ("rank", "model", "score", f"{conf}% interval", "prompts"):
            m.add_column(col, justify="left" if col == "model" else "right")
        for r in rep["mean_scores"]:
            m.add_row(str(r["rank"]), r["model"], _f(r["score"], 3), f"[{_f(r['lower'], 3)}, {_f(r['upper'], 3)}]",
                      str(r["n"]))
        console.print(m)
        console.print(f"  {TIED_RANKS}", highlight=False)
    if rep.get("win_rates"):
        print_win_rates(rep["win_rates"], baseline)
    sc = rep.get("style_control")
    if sc:
        s = Table(title="style-controlled ratings (length and markdown held equal)", title_justify="left")
        has_ci = any("lower" in r for r in sc["leaderboard"])
        for col in ("rank", "model", "rating") + ((f"{conf}% interval",) if has_ci else ()):
            s.add_column(col, justify="left" if col == "model" else "right")
        for i, r in enumerate(sc["leaderboard"], start=1):
            row = [str(r.get("rank", i)), r["model"], _f(r["rating"])]
            if has_ci:
                row.append(f"[{_f(r.get('lower'))}, {_f(r.get('upper'))}]")
            s.add_row(*row)
        console.print(s)
        if has_ci:
            console.print(f"  {TIED_RANKS}", highlight=False)
        c = Table(title="style covariates (effect of one SD of a's minus b's normalised difference)",
                  title_justify="left")
        for col in ("covariate", "logit", "Elo points"):
            c.add_column(col, justify="left" if col == "covariate" else "right")
        for r in sc["coefficients"]:
            c.add_row(r["covariate"], _f(r["logit"], 3), _f(r["elo"]))
        console.print(c)
        if rep.get("style_covariates_constant"):
            console.print(f"  constant or too rare (under 1% of battles), left out: {', '.join(rep['style_covariates_constant'])}", highlight=False)


ASSISTED_NOTE = ("PPI++ (Angelopoulos, Duchi, Zrnic 2023) as Boyeau et al. 2024 apply it: the judge's verdicts on every "
                 "comparison, corrected by its errors where people also judged; n: units people and the judge both "
                 "rated, N: units the judge alone rated; normal intervals per model")


def print_judge_assisted(ja: dict[str, Any]) -> None:
    """The judge-assisted (PPI++) leaderboard: human-only, judge-only (biased) and PPI++ ratings side by side."""
    conf = int(round(ja["confidence"] * 100))
    u = ja["units"]
    if ja.get("error"):
        console.print(f"judge-assisted ratings: {ja['error']}", highlight=False)
        return
    anchor = f"; {ja['anchor']} anchored at 1000" if ja.get("anchor") else ""
    t = Table(title=(f"judge-assisted ratings (PPI++ Bradley-Terry, Elo scale{anchor}): n = {ja['n']} rated by "
                     f"people and the judge, N = {ja['N']} by the judge only, lam = {ja['lam']:.2f}"),
              title_justify="left")
    for col in ("rank", "model", f"PPI++ [{conf}%]", f"human only [{conf}%]", "judge only (biased)", "n", "N",
                "worth"):
        t.add_column(col, justify="left" if col == "model" else "right")

    def cell(r: dict[str, Any], pre: str) -> str:
        return f"{_f(r[pre + 'rating'], 0)} [{_f(r[pre + 'lower'], 0)}, {_f(r[pre + 'upper'], 0)}]"

    for r in ja["leaderboard"]:
        extra = r.get("extra_labels")
        t.add_row(str(r["rank"]), r["model"], cell(r, ""), cell(r, "human_"), _f(r["judge_rating"], 0),
                  str(r["labels"]), str(r["judge_only"]), "—" if extra is None else f"{extra:+.0f}")
    console.print(t)
    console.print(f"  {ja['worth']}; the worth column: extra human labels per model", highlight=False)
    if u["human_only"]:
        console.print(f"  {u['human_only']} units people rated and the judge did not: not used", highlight=False)
    for note in ja.get("notes", []):
        console.print(f"  {note}", highlight=False)
    console.print(f"  {TIED_RANKS}", highlight=False)
    console.print(f"  {ASSISTED_NOTE}", highlight=False)


WIN_RATES_NOTE = ("each comparison with the baseline counts once; a tie counts half; soft: the mean probability "
                  "that the model is preferred (a comparison without one counts 1, 1/2 or 0); LC: length-controlled, "
                  "the GLM of Dubois et al. 2024 with its length term set to zero")


def print_win_rates(rows: list[dict[str, Any]], baseline: str) -> None:
    """AlpacaEval's three win rates against the baseline, in percent, with standard errors."""
    t = Table(title=f"win rates against {baseline} (AlpacaEval's: hard, soft, length-controlled)",
              title_justify="left")
    for col in ("model", "comparisons", "won / tied / lost", "win rate", "soft win rate", "LC win rate",
                "avg length"):
        t.add_column(col, justify="left" if col == "model" else "right")

    def pct(x: Any, se: Any = None) -> str:
        if x is None:
            return "—"
        return f"{100 * x:.2f}" + (f" ± {100 * se:.2f}" if se is not None else "")

    for r in rows:
        soft = pct(r["soft_win_rate"], r["soft_win_rate_se"])
        if not r["with_probability"]:
            soft += " (no probabilities)"
        t.add_row(r["model"], str(int(r["comparisons"])), f"{r['wins']} / {r['ties']} / {r['losses']}",
                  pct(r["win_rate"], r["win_rate_se"]), soft, pct(r["lc_win_rate"]), _f(r["avg_length"], 0))
    console.print(t)
    console.print(f"  {WIN_RATES_NOTE}", highlight=False)


@app.command()
def rank(
    rubric: Annotated[str | None, typer.Option(help="Rank on this rubric's judgments (NAME or NAME@VERSION).")] = None,
    dimension: Annotated[str | None, typer.Option(help="The rubric dimension to rank on.")] = None,
    comparisons: Annotated[bool, typer.Option("--comparisons", help="Rank from pairwise comparisons instead.")] = False,
    judges: Annotated[list[str] | None, typer.Option("--judge", help="Only these raters (alias of --rater); with "
                                                     "human verdicts on the same units, also judge-assisted "
                                                     "(PPI++) ratings.")] = None,
    raters: Annotated[list[str] | None, typer.Option("--rater", help="Only these raters: id, name or id prefix (repeatable).")] = None,
    kind: Annotated[list[str] | None, typer.Option(help="Only raters of these kinds: human, llm, program.")] = None,
    humans: Annotated[list[str] | None, typer.Option("--human", help="With --judge: these raters are the people "
                                                     "(repeatable; default: raters of --human-kind).")] = None,
    human_kind: Annotated[str, typer.Option(help="With --judge: raters of this kind are the people.")] = "human",
    campaign: Annotated[str | None, typer.Option(help="Only verdicts from this campaign (id).")] = None,
    aggregate: Annotated[str | None, typer.Option(help="Several raters on one pair/response: separate battles, or "
                                                       "majority (comparisons) / mean (judgments, the default).")] = None,
    pair_by: Annotated[str, typer.Option(help="Judgments: match prompts by item, by prompt text, or auto.")] = "auto",
    style_control: Annotated[bool, typer.Option("--style-control", help="Also ratings controlled for length and markdown.")] = False,
    rounds: Annotated[int, typer.Option(help="Bootstrap rounds for the intervals.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed of the bootstrap.")] = 0,
    confidence: confidence_option("Interval confidence level.") = 0.95,
    l2: Annotated[float, typer.Option(help="Ridge penalty on Bradley-Terry strengths (0: plain MLE).")] = 0.0,
    one_per_rater: Annotated[bool, typer.Option("--one-per-rater", help="Comparisons: keep only each rater's latest "
                                                "comparison of a pair (default: every stored comparison counts, "
                                                "e.g. both orders a judge saw).")] = False,
    strong_weight: Annotated[int, typer.Option(min=1, help="Comparisons: a strong win (A>>B, strength 2) counts as "
                                               "this many battles (Arena-Hard uses 3).")] = 1,
    baseline: Annotated[str | None, typer.Option(help="Anchor this model at 1000 and show each model's predicted "
                                                 "win rate against it (Arena-Hard's score).")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the report as JSON to this file.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Leaderboard: Bradley-Terry rating, interval, rank (overlapping intervals tie) and battles per model; with --judge and people's verdicts on some of the same units, also judge-assisted (PPI++) ratings."""
    from assay.analysis.judge_assisted import JudgeAssist
    from assay.analysis.options import Options, Selection
    from assay.analysis.ranking import BattleRules, RatingFit, rank_models
    from assay.errors import BadInput
    from assay.rubrics import get_rubric

    if not comparisons and not (rubric and dimension):
        raise BadInput("give either --rubric R --dimension D, or --comparisons (optionally with --rubric/--dimension)")
    store = G.store()
    rubric_id = get_rubric(store, rubric).id if rubric else None
    chosen = resolve_raters(store, (judges or []) + (raters or []) or None, kind)
    if chosen == []:
        raise BadInput("no rater matches the --judge/--rater/--kind selection")
    assist = None
    if humans and not judges:
        raise BadInput("--human names the people for judge-assisted ratings: give --judge too")
    if judges:
        from assay.analysis.assisted import human_raters

        people = human_raters(store, humans, human_kind, chosen or [])
        assist = JudgeAssist(humans=people, judges=chosen, campaign=campaign) if people else None
        # with a judge (no person among --judge/--rater), a campaign is where people's verdicts come from: it
        # narrows people's side of the judge-assisted ratings, not the judge's own board (as in abtest --judge)
        if chosen and not any(r.kind == "human" for r in store.list("raters") if r.id in set(chosen)):
            campaign = None
    lb = rank_models(
        store, comparisons=comparisons,
        select=Selection(rubric=rubric_id, dimensions=(dimension,) if dimension else None, raters=chosen,
                         campaign=campaign),
        options=Options(rounds=rounds, confidence=confidence, random_state=seed),
        battles=BattleRules(aggregate=aggregate, pair_by=pair_by, one_per_rater=one_per_rater,
                            strong_weight=strong_weight),
        fit=RatingFit(l2=l2, style_control=style_control, baseline=baseline), assist=assist)
    rep = lb.to_dict()
    if out:
        out.write_text(json.dumps(rep, indent=2, default=str))
    if wants_json(json_out):
        emit_json(rep)
        return
    print_leaderboard(rep)
    if rep.get("judge_assisted"):
        print_judge_assisted(rep["judge_assisted"])
    if out:
        console.print(f"wrote {out}", highlight=False)
