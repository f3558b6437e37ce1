"""`assay abtest --judge` and `assay abtest plan --human-budget`: people and a judge combined (PPI++), printed."""

from __future__ import annotations

import math
from typing import Any

from rich.table import Table

from assay.cli._app import G, console, emit_json, wants_json
from assay.cli.agreement import resolve_raters
from assay.errors import BadInput


def _p(p: float | None) -> str:
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _f(x: float | None, d: int = 3) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{d}f}"


def assisted_section(store, model_a, model_b, judges, humans, human_kind, select, options, pair_by,  # noqa: ANN001, ANN202, PLR0913
              human_sample, calibrate):
    """The PPI++ section when people scored some of the prompts the judge did; None when they scored none."""
    from dataclasses import replace

    from assay.analysis.assisted import Assist, assisted_report, human_raters

    judge_ids = resolve_raters(store, judges, None) or []
    people = human_raters(store, humans, human_kind, judge_ids)
    if not people:
        if humans:
            raise BadInput("no rater is left on the human side once the judges are taken out")
        return None
    rep = assisted_report(store, model_a, model_b, judges=judge_ids, humans=people,
                          select=replace(select, raters=None), options=options,
                          assist=Assist(pair_by=pair_by, weights=_campaign_weights(store, select.campaign),
                                        human_sample=human_sample, calibrate=calibrate))
    return rep if rep["labelled"] or humans or human_sample is not None else None


def _campaign_weights(store, campaign):  # noqa: ANN001, ANN202
    """Inclusion probabilities of an actively sampled campaign, per prompt key; None for uniform or no campaign."""
    if not campaign:
        return None
    try:
        from assay.analysis.active import inclusion_probabilities
    except ImportError:  # pragma: no cover - the active sampler ships with this module
        return None
    import pandas as pd

    pi = inclusion_probabilities(store, campaign)  # item id -> probability, over the campaign's frame
    return None if pi is None else pd.Series(pi, dtype=float)


def print_assisted(rep: dict[str, Any]) -> None:
    """The judge-assisted table: human-only, judge-only (biased) and PPI++ B - A per dimension, and what the judge was worth."""
    conf = int(round(rep["confidence"] * 100))
    a, b = rep["model_a"], rep["model_b"]
    t = Table(title=f"B = {b} against A = {a}, people and judge combined (PPI++, Angelopoulos et al. 2023): "
                    f"B - A with {conf}% CI per dimension, p adjusted by {rep['adjust']}", title_justify="left")
    for col in ("dimension", "prompts\npeople + judge", "people only", "judge only\n(biased)", "PPI++", "λ", "p adj"):
        t.add_column(col, justify="left" if col == "dimension" else "right")
    several = len({s["rubric"] for s in rep["dimensions"]}) > 1
    for s in rep["dimensions"]:
        name = f"{s['rubric']} · {s['dimension']}" if several else s["dimension"]
        counts = f"{s['n']} + {s['N']}"
        if s.get("error"):
            t.add_row(name, counts, "", "", "", "", "")
            continue
        t.add_row(name, counts, f"{s['human_estimate']:+.2f}\n[{_f(s['human_low'], 2)}, {_f(s['human_high'], 2)}]",
                  f"{s['judge_estimate']:+.2f}",
                  f"{s['estimate']:+.2f}\n[{_f(s['ci_low'], 2)}, {_f(s['ci_high'], 2)}]", f"{s['lam']:.2f}",
                  _p(s.get("p_adjusted")))
    if rep["dimensions"]:
        console.print(t)
    for s in rep["dimensions"]:
        if s.get("error"):
            console.print(f"  {s['dimension']}: {s['error']}", highlight=False)
        if s.get("verdict"):
            console.print(f"  {s['verdict']}", highlight=False)
            console.print(f"    {s['worth']}", highlight=False)
        ref = s.get("all_people")
        if ref and ref.get("low") is not None:
            console.print(f"    people on all {ref['n']} prompts they and the judge scored (the reference): {ref['estimate']:+.2f} "
                          f"[{ref['low']:.2f}, {ref['high']:.2f}]; above, {s['n']} of them drawn with seed "
                          f"{rep['seed']}", highlight=False)
        if s.get("human_only_prompts"):
            console.print(f"    {s['human_only_prompts']} prompt(s) people scored but the judge did not are left out",
                          highlight=False)
    for s in rep.get("preferences", []):
        what = f"{s['rubric']} · {s['dimension']}" if s.get("dimension") else "pairwise preferences"
        if s.get("error"):
            console.print(f"{what}, people and judge combined: {s['error']}", highlight=False)
            continue
        console.print(f"{what}, people and judge combined (PPI++): B's win rate {s['estimate']:.3f} "
                      f"[{s['ci_low']:.3f}, {s['ci_high']:.3f}] on {s['n']} items people compared + {s['N']} only "
                      f"the judge did; people only {s['human_estimate']:.3f} [{s['human_low']:.3f}, "
                      f"{s['human_high']:.3f}]; judge only {s['judge_estimate']:.3f} (biased); λ {s['lam']:.2f}",
                      highlight=False)
        console.print(f"    {s['worth']}", highlight=False)
        ref = s.get("all_people")
        if ref:
            console.print(f"    people on all {ref['n']} items they and the judge compared (the reference): {ref['estimate']:.3f} "
                          f"[{ref['low']:.3f}, {ref['high']:.3f}]; above, {s['n']} of them drawn with seed "
                          f"{rep['seed']}", highlight=False)
    notes = []
    if any(s.get("clusters_ignored") for s in rep["dimensions"]):
        notes.append("PPI++ intervals treat prompts as independent (item clusters are not used)")
    if rep.get("calibrate"):
        notes.append(f"the judge's scores were mapped onto people's scale (isotonic, cross-fitted over "
                     f"{rep['calibrate']} folds, seed {rep['seed']}): cross-prediction-powered intervals "
                     "(Zrnic and Candès 2024), λ = 1")
    if any(s.get("sampling") == "active" for s in rep["dimensions"]):
        notes.append("people's prompts were chosen by the judge's uncertainty: inverse-probability weights "
                     "(active inference, Zrnic and Candès 2024)")
    for note in notes:
        console.print(f"  {note}", highlight=False)


def budget_plan(mde, pilot, judges, humans, budgets, prompts, rubric, dimension, alpha, power, json_out):  # noqa: ANN001, ANN202, PLR0913
    from assay.analysis.assisted import human_raters
    from assay.analysis.assisted_plan import Budgets, ppi_plan
    from assay.analysis.judge_assisted import JudgeAssist
    from assay.analysis.options import Options, Selection
    from assay.rubrics import get_rubric

    if not judges:
        raise BadInput("--human-budget needs --judge (the judge that scores every prompt)")
    if not pilot or len(pilot) != 2:
        raise BadInput("--human-budget needs the pilot's models as arguments: MODEL_A MODEL_B")
    if not rubric or not dimension:
        raise BadInput("--human-budget needs --rubric and --dimension")
    store = G.store()
    judge_ids = resolve_raters(store, judges, None) or []
    people = human_raters(store, humans, "human", judge_ids)
    if not people:
        raise BadInput("no human rater in the store to plan from (the pilot needs people's scores on some prompts)")
    rep = ppi_plan(store, pilot[0], pilot[1], sides=JudgeAssist(humans=people, judges=judge_ids),
                   budgets=Budgets(sorted(set(budgets)), prompts=prompts),
                   select=Selection(rubric=get_rubric(store, rubric).id, dimensions=(dimension,)),
                   options=Options(alpha=alpha, power=power))
    rep["mde_asked"] = mde
    if wants_json(json_out):
        emit_json(rep)
        return
    p = rep["pilot"]
    corr = "—" if p["corr"] is None else f"{p['corr']:.2f}"
    console.print(f"pilot {rep['model_a']} vs {rep['model_b']} on {rep['rubric']} · {rep['dimension']}: {p['n']} prompts "
                  f"with people's and the judge's scores, {p['N']} with the judge's only; correlation of the "
                  f"judge's B - A with people's {corr}", highlight=False)
    conf = int(round(rep["confidence"] * 100))
    t = Table(title=f"what a budget of human-labelled prompts buys among {rep['prompts']} prompts the judge scores "
                    f"({conf}% interval half-width; MDE at power {power:g}, alpha {alpha:g})", title_justify="left")
    for col in ("human labels", "PPI++ ±", "people only ±", "PPI++ MDE", "people only MDE", "worth (labels)",
                "lambda"):
        t.add_column(col, justify="right")
    for r in rep["table"]:
        t.add_row(str(r["budget"]), _f(r["half_width"]), _f(r["human_half_width"]), _f(r["mde"]),
                  _f(r["human_mde"]), f"{r['n_eff']:,.0f}", f"{r['lam']:.2f}")
    console.print(t)
    for r in rep["table"]:
        enough = "detects" if r["mde"] <= mde else "does not detect"
        console.print(f"  {r['budget']} human labels with the judge {enough} {mde:g} points with power {power:g}",
                      highlight=False)
    console.print("  planned from the pilot's variances and correlation: as good as the pilot is", highlight=False)
