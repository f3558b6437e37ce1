"""Gathering a report's content from the store: every section is data first, rendered later.

Each section comes from the library function that the matching command uses (`assay
agreement`, `rank`, `abtest`, `judge-report`), so the report and the commands agree. A
section that cannot be computed says why instead of showing anything made up.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assay import __version__
from assay import records as R
from assay.analysis.assisted import JudgeAB
from assay.analysis.frames import comparisons_frame, judgment_codes, judgments_frame, shared_reads
from assay.analysis.options import Options, Selection
from assay.errors import AssayError
from assay.report.raters import agreement_raters, describe_raters
from assay.store import Store

REDTEAM_RUBRIC = "redteam@1"
REDTEAM_RUBRICS = (REDTEAM_RUBRIC, "injection@1", "insecure-output@1")
"""Rubrics whose verdicts only the red-team section reports (redteam.detect, redteam.canary, redteam.insecure)."""


def _safe(fn, *args, **kwargs) -> dict[str, Any]:  # noqa: ANN001
    """Run one section; an AssayError or ValueError becomes the section's stated reason."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return {"ok": True, "data": fn(*args, **kwargs)}
    except (AssayError, ValueError) as e:
        return {"ok": False, "error": str(e)}


def _score_distributions(jf: pd.DataFrame, store: Store) -> list[dict[str, Any]]:
    """Per rubric dimension and model: n, mean, quartiles and fences of the scores."""
    out = []
    numeric = jf[jf["value"].notna()]
    for (rubric, dim), part in numeric.groupby(["rubric", "dimension"], sort=True, observed=True):
        rows = []
        for model, g in part.groupby("model", observed=True):
            v = g["value"].astype(float).to_numpy()
            q1, med, q3 = np.percentile(v, [25, 50, 75])
            iqr = q3 - q1
            rows.append({"model": model, "n": int(len(v)), "mean": float(v.mean()), "q1": float(q1),
                         "median": float(med), "q3": float(q3),
                         "lower": float(v[v >= q1 - 1.5 * iqr].min()), "upper": float(v[v <= q3 + 1.5 * iqr].max()),
                         "min": float(v.min()), "max": float(v.max())})
        out.append({"rubric": rubric, "dimension": dim, "models": sorted(rows, key=lambda r: -r["mean"])})
    return out


def _speed(store: Store, models: Sequence[str] | None) -> list[dict[str, Any]]:
    """Per model: how fast and how costly its answers were (latency, time to first token when
    streamed, output tokens per second, cost), from the responses generated through assay."""
    df = store.columns("responses", ["model", "latency_ms", "ttft_ms", "completion_tokens", "cost_usd"])
    if models:
        df = df[df["model"].isin(models)]
    out = []
    for model, g in df.groupby("model", sort=True):
        lat = g["latency_ms"].dropna().astype(float).to_numpy()
        if not len(lat):
            continue  # imported answers carry no timing
        ttft = g["ttft_ms"].dropna().astype(float).to_numpy()
        timed = g.dropna(subset=["latency_ms", "completion_tokens"])
        timed = timed[timed["latency_ms"] > 0]
        rate = (timed["completion_tokens"].astype(float) / (timed["latency_ms"].astype(float) / 1000)).to_numpy()
        cost = g["cost_usd"].dropna().astype(float)
        out.append({
            "model": model, "responses": int(len(g)), "timed": int(len(lat)),
            "latency_p50": float(np.percentile(lat, 50)), "latency_p95": float(np.percentile(lat, 95)),
            "streamed": int(len(ttft)),
            "ttft_p50": float(np.percentile(ttft, 50)) if len(ttft) else None,
            "ttft_p95": float(np.percentile(ttft, 95)) if len(ttft) else None,
            "tokens_per_s": float(np.median(rate)) if len(rate) else None,
            "cost_usd": float(cost.sum()) if len(cost) else None,
        })
    return out


def _redteam(store: Store, models: Sequence[str] | None) -> dict[str, Any]:
    """The red-team sections (ASR, over-refusal), the failure library and curation; None / [] when there is no data."""
    from assay.report.redteam import asr_section, bias_section, injection_section, insecure_section, \
        library_section, refusal_section

    out: dict[str, Any] = {}
    from assay.report.curation import curation_section

    for key, fn in (("redteam", asr_section), ("refusals", refusal_section), ("injection", injection_section),
                    ("insecure", insecure_section), ("bias", bias_section), ("library", library_section),
                    ("curation", curation_section)):
        res = _safe(fn, store, models)
        out[key] = res["data"] if res["ok"] else {"error": res["error"]}
    return out


def _textless(store: Store, units: Sequence[str]) -> set[str]:
    """Responses stored with scores but without their text (``text_available: False`` in their metadata,
    as HANNA's generated stories): a reader cannot judge them."""
    out: set[str] = set()
    units = list(units)
    for start in range(0, len(units), 5000):  # SQLite allows at most 32,766 bound values in a statement
        meta = store.columns("responses", ["id", "metadata"], id=units[start:start + 5000])
        out |= {rid for rid, m in zip(meta["id"], meta["metadata"]) if (m or {}).get("text_available") is False}
    return out


def _lowest(jf: pd.DataFrame, store: Store, k: int, text_limit: int = 400) -> list[dict[str, Any]]:
    """Per dimension, the k responses with the lowest mean score, with the reasons raters gave.

    Responses without their text are left out; ``without_text`` counts those scored no higher
    than the last one shown (all of the dimension's, when none has text). Only the lowest
    responses are looked at, a batch at a time, so a store of millions reads a few hundred.
    """
    out = []
    numeric = jf[jf["value"].notna()]
    for (rubric, dim), part in numeric.groupby(["rubric", "dimension"], sort=True, observed=True):
        means = part.groupby("unit", observed=True)["value"].mean()
        means = means.sort_index().sort_values(kind="stable")  # ties in the order of the responses' ids
        readable, textless, seen = [], set(), 0
        # look at the lowest a batch at a time, until k have text and the next scores above the k-th
        while seen < len(means) and (len(readable) < k or (readable and means.iloc[seen] <= means.iloc[readable[-1]])):
            batch = [str(u) for u in means.index[seen:seen + max(4 * k, 50)]]
            textless |= _textless(store, batch)
            readable += [seen + i for i, u in enumerate(batch) if u not in textless][:max(k - len(readable), 0)]
            seen += len(batch)
        if readable:
            ceiling = means.iloc[readable[-1]]
            skipped = sum(str(u) in textless for u in means.index[:seen][means.iloc[:seen].to_numpy() <= ceiling])
        else:  # none with text (or none asked for): every textless response counts
            skipped = len(_textless(store, [str(u) for u in means.index]))
        shown = [str(means.index[i]) for i in readable]
        said = (judgments_frame(store, select=Selection(rubric=str(rubric), dimensions=[str(dim)]), units=shown)
                if shown else None)
        rows = []
        for i, unit in zip(readable, shown):
            resp = store.get(R.Response, unit)
            item = store.get(R.Item, resp.item_id)
            js = said[(said["unit"] == unit) & said["rater"].isin(set(part.loc[part["unit"] == unit, "rater"]))]
            js = js[js["value"].notna()].sort_values("value", kind="stable")
            rows.append({
                "response_id": unit, "model": resp.model, "mean": float(means.iloc[i]),
                "prompt": item.prompt_text()[:text_limit],
                "response": resp.text[:text_limit],
                "judgments": [{"rater": r.rater, "value": float(r.value), "justification": r.justification or ""}
                              for r in js.head(3).itertuples()],
            })
        out.append({"rubric": rubric, "dimension": dim, "responses": rows, "without_text": skipped})
    return out


def _verifiers(store: Store, jf: pd.DataFrame) -> list[dict[str, Any]]:
    """Program raters: share of responses that pass, per model."""
    prog = jf[jf["rater_kind"] == "program"]
    out = []
    for (rater, dim), part in prog.groupby(["rater", "dimension"], observed=True):
        by_model = part.groupby("model", observed=True)["value"].agg(["mean", "count"]).reset_index()
        out.append({"rater": rater, "dimension": dim,
                    "models": [{"model": r["model"], "pass_rate": float(r["mean"]), "n": int(r["count"])}
                               for _, r in by_model.iterrows()]})
    return out


def _judges(store: Store, jf: pd.DataFrame, cf: pd.DataFrame, rubric: str | None, limit: int) -> list[dict[str, Any]]:
    """judge-report for each LLM rater whose work overlaps human raters' work."""
    from assay.analysis.judge_calibration import judge_calibration
    from assay.analysis.judge_trust import judge_report

    judges = sorted(_judges_of_human_units(jf) | _judges_of_human_units(cf))
    out = []
    for j in judges[:limit]:
        res = _safe(judge_report, store, j, rubric=rubric)
        out.append({"judge": j, **res, "calibration": _safe(judge_calibration, store, j, rubric=rubric)})
    return out


def _judges_of_human_units(frame: pd.DataFrame) -> set[str]:
    """The LLM raters who rated a unit some human rated too."""
    human = (frame["rater_kind"] == "human").to_numpy()
    if not human.any():
        return set()
    units = frame["unit"].unique() if not isinstance(frame["unit"].dtype, pd.CategoricalDtype) else None
    if units is None:  # codes: a flag per unit
        codes = np.asarray(frame["unit"].cat.codes)
        flag = np.zeros(len(frame["unit"].cat.categories) + 1, dtype=bool)
        flag[codes[human]] = True
        shared = flag[codes] & (codes >= 0)
    else:
        shared = frame["unit"].isin(set(frame.loc[human, "unit"])).to_numpy()
    llm = (frame["rater_kind"] == "llm").to_numpy()
    return {str(r) for r in frame.loc[llm & shared, "rater"].unique()}


STEPS = ("reading judgments", "scores", "lowest scores", "speed and red team", "agreement", "leaderboards",
         "A/B test", "judges")
"""The sections :func:`build_report` computes, in order."""


@dataclass(frozen=True)
class Limits:
    """How much :func:`build_report` lists: the ``lowest``-scored responses per dimension, at most
    ``judges`` judges in the trust section and leaderboards for at most ``dimensions`` dimensions."""

    lowest: int = 5
    judges: int = 8
    dimensions: int = 8


def _auto_judge_ab(jf: pd.DataFrame, cf: pd.DataFrame, pair: Sequence[str] | None) -> list[JudgeAB]:
    """The A/B pair with the LLM rater that judged it most, when people judged it too; else nothing."""
    if not pair or len(pair) < 2:
        return []
    mine = jf[jf["model"].isin(pair)]
    kinds = mine.groupby("rater_kind", observed=True).size()
    llm = mine[mine["rater_kind"] == "llm"]
    if llm.empty or not kinds.get("human", 0):
        return []
    counts = llm.groupby("rater", observed=True).size()
    best = sorted(counts[counts == counts.max()].index.astype(str))[0]
    return [JudgeAB(pair[0], pair[1], (best,))]


def _judge_assisted(store: Store, jf: pd.DataFrame, cf: pd.DataFrame, specs: Sequence[JudgeAB],
                    campaign: str | None, options: Options) -> list[dict[str, Any]]:
    from assay.analysis.assisted import Assist, assisted_report, human_raters

    out = []
    for spec in specs:
        people = human_raters(store, None, "human", spec.judges)
        res = _safe(assisted_report, store, spec.model_a, spec.model_b, judges=list(spec.judges), humans=people,
                    select=Selection(rubric=spec.rubric, campaign=campaign), options=options,
                    assist=Assist(human_sample=spec.human_sample))
        out.append({"model_a": spec.model_a, "model_b": spec.model_b, "judges": list(spec.judges),
                    **({"data": res["data"]} if res["ok"] else {"error": res["error"]})})
    return out


@dataclass(frozen=True)
class Sections:
    """The optional sections :func:`build_report` is asked for (the defaults: only what it finds by itself).

    ``ab_models``: the A/B section tests B against A (else the first two of the report's models,
    else the two models judged on the most shared items). ``judge_ab`` lists judge-assisted A/B
    tests (PPI++, :mod:`assay.analysis.assisted`); when empty and people and an LLM judge both
    rated the A/B pair, the judge with the most verdicts on the pair is combined with every human
    rater. ``slices`` lists slice searches to run (:func:`assay.report.slices.parse_spec`); none
    are run unless asked. ``profile`` (a ``report.profile.ProfileRequest``) adds the data-profile
    section of a dataset, or of two compared; it is computed last.
    """

    ab_models: Sequence[str] | None = None
    judge_ab: Sequence[JudgeAB] = ()
    slices: Sequence[str] = ()
    profile: Any = None


def build_report(
    store: Store,
    *,
    select: Selection = Selection(),
    models: Sequence[str] | None = None,
    options: Options = Options(rounds=500),
    limits: Limits = Limits(),
    sections: Sections = Sections(),
    notes: Sequence[str] = (),
    on_step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Everything `assay report` shows, as JSON-ready data.

    ``select`` narrows every section to a rubric and a campaign (its other fields are refused);
    ``models`` to those models. ``options`` gives the bootstrap rounds and the seed of every
    interval; ``limits`` how much each section lists; ``sections`` the optional sections asked
    for (:class:`Sections`). ``on_step`` is called with each of :data:`STEPS` as it starts (the
    CLI's progress bar).
    """
    select.only("rubric", "campaign", where="the report")
    step = on_step or (lambda name: None)
    with shared_reads():  # the judgments are read once; every section filters that read
        report = _build(store, select=select, models=models, options=options, limits=limits, sections=sections,
                        notes=notes, step=step)
    if sections.profile is not None:
        from assay.report.profile import profile_section

        step("data profile")
        res = _safe(profile_section, store, sections.profile)
        report["profile"] = res["data"] if res["ok"] else {"error": res["error"]}
    return report


def _build(store: Store, *, select: Selection, models: Sequence[str] | None, options: Options, limits: Limits,
           sections: Sections, notes: Sequence[str], step: Callable[[str], None]) -> dict[str, Any]:
    rubric, campaign = select.rubric, select.campaign
    ab_models, judge_ab, slices = sections.ab_models, sections.judge_ab, sections.slices
    step(STEPS[0])
    from assay.analysis.abtest import compare_models
    from assay.analysis.agreement import agreement_report
    from assay.analysis.ranking import rank_models
    from assay.rubrics import get_rubric

    rounds, seed = options.rounds, options.random_state
    rubric_id = get_rubric(store, rubric).id if rubric else None
    jf = judgment_codes(store, rubric=rubric_id, campaign=campaign, items=True)
    cf = comparisons_frame(store, campaign=campaign)
    if models:
        jf = jf[jf["model"].isin(models)]
    # red-team verdicts have their own section (ASR, refusals, agreement with a reference rater); the
    # score, agreement, verifier and leaderboard sections are about the other rubrics
    every, jf = jf, jf[~jf["rubric"].isin(REDTEAM_RUBRICS)]
    report: dict[str, Any] = {
        "title": "assay report", "generated_at": R.utcnow().isoformat(timespec="seconds"),
        "assay_version": __version__, "filters": {"rubric": rubric_id, "models": list(models or []),
                                                  "campaign": campaign},
        "bootstrap": {"rounds": rounds, "seed": seed}, "summary": store.summary(),
        "rater_kinds": sorted({str(k) for k in every["rater_kind"].dropna().unique()}
                              | set(cf["rater_kind"].dropna().unique())),
        "notes": list(notes),
    }
    step("scores")
    report["scores"] = _score_distributions(jf[jf["rater_kind"] != "program"], store)
    # people's and judges' scores first; a dimension only programs scored (IFEval's verifiers) is
    # listed too, so a store whose rated texts were imported without them still shows failures to read
    rated = jf[jf["rater_kind"] != "program"]
    by_program = jf[(jf["rater_kind"] == "program") & ~jf["dimension"].isin(list(rated["dimension"].unique()))]
    step("lowest scores")
    report["lowest"] = _lowest(rated, store, limits.lowest) + _lowest(by_program, store, limits.lowest)
    report["verifiers"] = _verifiers(store, jf)
    step("speed and red team")
    report["speed"] = _speed(store, models)
    report.update(_redteam(store, models))

    step("agreement")
    agreement: list[dict[str, Any]] = []
    if not jf.empty:
        raters = (sorted(jf.loc[jf["rater_kind"] != "program", "rater"].unique())
                  or sorted(jf["rater"].unique()))
        res = _safe(agreement_report, store, select=Selection(rubric=rubric_id, raters=raters, campaign=campaign),
                    options=options)
        agreement += res["data"]["sections"] if res["ok"] else [{"dimension": "judgments", "error": res["error"]}]
    if not cf.empty:
        res = _safe(agreement_report, store, comparisons=True, select=Selection(campaign=campaign), options=options)
        agreement += res["data"]["sections"] if res["ok"] else [{"dimension": "preference", "error": res["error"]}]
    # agreement_report reads the store by rater: a detector that also judged other rubrics (the refusal
    # detector on bias probes) would bring its red-team verdicts back in
    agreement = [sec for sec in agreement if sec.get("rubric") not in REDTEAM_RUBRICS]
    known = {r.id: r for r in store.list(R.Rater)}
    for sec in agreement:
        ids = agreement_raters(sec)
        if ids:
            sec["rater_ids"], sec["rater_names"] = ids, describe_raters(ids, known)
    report["agreement"] = agreement

    step("leaderboards")
    boards = []
    if not cf.empty:
        res = _safe(rank_models, store, comparisons=True, select=Selection(campaign=campaign), options=options,
                    assist=_judge_assist(cf))
        boards.append({"title": "pairwise preferences (all raters)", **_board(res)})
        humans = sorted(cf.loc[cf["rater_kind"] == "human", "rater"].unique())
        if humans and len(humans) < cf["rater"].nunique():
            res = _safe(rank_models, store, comparisons=True, select=Selection(raters=humans, campaign=campaign),
                        options=options)
            boards.append({"title": "pairwise preferences (human raters)",
                           **({"data": res["data"].to_dict()} if res["ok"] else {"error": res["error"]})})
    scored = jf[(jf["rater_kind"] != "program") & jf["value"].notna()]
    dimensions = scored[["rubric", "dimension"]].drop_duplicates().astype(str).sort_values(["rubric", "dimension"])
    for rub, dim in list(dimensions.itertuples(index=False, name=None))[:limits.dimensions]:
        res = _safe(rank_models, store, select=Selection(rubric=rub, dimensions=(dim,), campaign=campaign),
                    options=options,
                    assist=_judge_assist(scored[(scored["rubric"] == rub) & (scored["dimension"] == dim)]))
        boards.append({"title": f"{rub} · {dim}", **_board(res)})
    report["leaderboards"] = boards

    step("A/B test")
    pair = list(ab_models or [])[:2] or (list(models)[:2] if models and len(models) >= 2 else None) \
        or _default_pair(jf, cf, store)
    if pair:
        # red-team verdicts are not quality scores: without a rubric, test the other rubrics' dimensions only
        dims = sorted(map(str, jf["dimension"].unique())) if rubric_id is None and len(every) != len(jf) else None
        res = _safe(compare_models, store, pair[0], pair[1],
                    select=Selection(rubric=rubric_id, dimensions=dims or None, campaign=campaign),
                    options=options)
        report["abtest"] = {"model_a": pair[0], "model_b": pair[1],
                            **({"data": res["data"]} if res["ok"] else {"error": res["error"]})}
    else:
        report["abtest"] = {"error": "no two models were judged on the same items"}
    report["judge_assisted"] = _judge_assisted(store, jf, cf, judge_ab or _auto_judge_ab(jf, cf, pair),
                                               campaign, options)
    step("judges")
    report["judges"] = _judges(store, every, cf, rubric_id, limits.judges)
    report["has_llm_judges"] = "llm" in report["rater_kinds"]
    if slices:
        from assay.report.slices import slices_section

        report["slices"] = slices_section(store, slices)
    return report


def _judge_assist(frame: pd.DataFrame) -> Any:
    """The people and the LLM judges among a frame's raters, for judge-assisted ratings; None unless both rated.

    Every LLM rater is the judge panel (a unit's judge verdict is their mean), every human rater
    the people (see :mod:`assay.analysis.judge_assisted`).
    """
    from assay.analysis.judge_assisted import JudgeAssist

    kinds = frame["rater_kind"].astype(str).to_numpy()
    humans = sorted(map(str, frame.loc[kinds == "human", "rater"].unique()))
    judges = sorted(map(str, frame.loc[kinds == "llm", "rater"].unique()))
    return JudgeAssist(humans=humans, judges=judges) if humans and judges else None


def _board(res: dict[str, Any]) -> dict[str, Any]:
    """A leaderboard section's data or error; judge-assisted ratings only where people and the judge shared
    units and the judge rated others too."""
    if not res["ok"]:
        return {"error": res["error"]}
    data = res["data"].to_dict()
    units = (data.get("judge_assisted") or {}).get("units", {})
    if units and not (units["labelled"] and units["judge_only"]):  # no shared units, or nothing for the judge to add
        del data["judge_assisted"]
    return {"data": data}


def _default_pair(jf: pd.DataFrame, cf: pd.DataFrame, store: Store) -> list[str] | None:
    """The two models judged on the most shared items (judgments first, then comparisons)."""
    if not jf.empty:
        model, item = np.asarray(jf["model"].cat.codes), np.asarray(jf["item_id"].cat.codes)
        n_items = len(jf["item_id"].cat.categories)
        per = {str(name): np.bincount(item[(model == code) & (item >= 0)], minlength=n_items) > 0
               for code, name in enumerate(jf["model"].cat.categories) if (model == code).any()}
        best, pair = 0, None
        names = sorted(per)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                n = int((per[a] & per[b]).sum())
                if n > best:
                    best, pair = n, [a, b]
        if pair:
            return pair
    if not cf.empty:
        ids = sorted(set(cf["first"]) | set(cf["second"]))
        model = dict(zip(*store.frame("responses", id=ids)[["id", "model"]].T.to_numpy()))
        pairs = (cf["first"].map(model) + "\x1f" + cf["second"].map(model)).map(
            lambda s: "\x1f".join(sorted(s.split("\x1f"))))
        top = pairs.value_counts()
        if len(top):
            return top.index[0].split("\x1f")
    return None
