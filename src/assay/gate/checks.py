"""The gate's checks: each reads the store with assay's own analyses and says pass or fail, with the figures.

A check whose figures cannot be computed (no such model, no judgments, too few items) is an
error: the gate fails on it as on a failed condition, saying what is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from assay.errors import AssayError
from assay.gate.config import Condition
from assay.store import Store


@dataclass
class Outcome:
    """What one condition gave: passed, failed, or an error; one line saying why, and a table of figures."""

    condition: Condition
    status: str  # "passed", "failed" or "error"
    summary: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "passed"


class Unmet(AssayError):
    """A check cannot be computed from what the store holds."""


def _f(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _p(p: float | None) -> str:
    return "—" if p is None else ("< 0.0001" if p < 0.0001 else f"{p:.4f}")


def _raters(store: Store, refs: list[str] | None, kind: str | None) -> list[str] | None:
    from assay.analysis.judge_trust import resolve_rater

    chosen = [resolve_rater(store, r).id for r in refs] if refs else None
    if kind:
        of_kind = [r.id for r in store.iter("raters") if r.kind == kind]
        chosen = [r for r in chosen if r in of_kind] if chosen is not None else of_kind
        if not chosen:
            raise Unmet(f"no rater of kind {kind} in the store")
    return chosen


def _non_inferior_outcome(rows: list[dict[str, Any]], dims: list[dict[str, Any]], how: str
                          ) -> tuple[bool, str, list[dict[str, Any]]]:
    """Passed when every dimension is non-inferior; the summary names those that are not."""
    bad = [r["dimension"] for r, d in zip(rows, dims) if not d.get("non_inferior")]
    if bad:
        return False, f"not shown non-inferior on {len(bad)} of {len(rows)} dimensions ({how}): {', '.join(bad)}", rows
    return True, f"non-inferior on all {len(rows)} dimensions ({how})", rows


def non_inferiority(store: Store, a: dict[str, Any]) -> tuple[bool, str, list[dict[str, Any]]]:
    from assay.analysis.abtest import non_inferiority as test
    from assay.analysis.options import Options, Selection
    from assay.rubrics import get_rubric

    rubric = get_rubric(store, a["rubric"]).id if a["rubric"] else None
    if a.get("judge"):
        return _assisted_non_inferiority(store, a, rubric)
    if a.get("humans"):
        raise Unmet("humans: goes with judge: (the people whose scores correct the judge's)")
    select = Selection(rubric=rubric, dimensions=a["dimensions"], raters=_raters(store, a["raters"], a["kind"]),
                       campaign=a["campaign"])
    rep = test(store, a["baseline"], a["candidate"], margin=a["margin"], select=select,
               options=Options(alpha=a["alpha"], adjust=a["adjust"], cluster=a["cluster"]))
    if not rep["dimensions"]:
        raise Unmet(f"no rubric dimension has scores of both {a['baseline']} and {a['candidate']} on the same prompts")
    rows = [{"dimension": f"{d['rubric']} · {d['dimension']}", "n": d["n"],
             "baseline": _f(d.get("mean_baseline")), "candidate": _f(d.get("mean_candidate")),
             "difference": _f(d.get("difference")), f"lower {1 - a['alpha']:.0%} bound": _f(d.get("lower")),
             f"p ({a['adjust']})": _p(d.get("p_adjusted")),
             "result": d["error"] if d.get("error") else ("non-inferior" if d["non_inferior"] else "not shown")}
            for d in rep["dimensions"]]
    return _non_inferior_outcome(rows, rep["dimensions"], f"margin {a['margin']:g}, alpha {a['alpha']:g}, "
                                                          f"{a['adjust']}")


def _assisted_non_inferiority(store: Store, a: dict[str, Any], rubric: str | None
                              ) -> tuple[bool, str, list[dict[str, Any]]]:
    """Non-inferiority from people's scores on some prompts and the judge's on all (PPI++ lower bounds)."""
    from assay.analysis.assisted import human_raters
    from assay.analysis.assisted_plan import assisted_non_inferiority
    from assay.analysis.judge_assisted import JudgeAssist
    from assay.analysis.options import Options, Selection

    if a["raters"] or a["kind"]:
        raise Unmet("with judge:, the sides are judge: and humans: (raters: and kind: are not used)")
    judges = _raters(store, a["judge"], None) or []
    people = human_raters(store, a["humans"], "human", judges)
    if not people:
        raise Unmet("no human rater to correct the judge with (humans:, or raters of kind human)")
    rep = assisted_non_inferiority(store, a["baseline"], a["candidate"], margin=a["margin"],
                                   sides=JudgeAssist(humans=people, judges=judges), select=Selection(rubric=rubric, dimensions=a["dimensions"],
                                                                   campaign=a["campaign"]),
                                   options=Options(alpha=a["alpha"], adjust=a["adjust"]))
    if not rep["dimensions"]:
        raise Unmet(f"the judge has no scores of both {a['baseline']} and {a['candidate']} on the same prompts")
    level = f"{1 - a['alpha']:.0%}"
    rows = [{"dimension": f"{d['rubric']} · {d['dimension']}", "people + judge only": f"{d['n']} + {d['N']}",
             "difference (PPI++)": _f(d.get("difference")), f"lower {level} bound (PPI++)": _f(d.get("lower")),
             f"lower {level} bound (people only)": _f(d.get("human_lower")),
             "judge only (biased)": _f(d.get("judge_difference")), f"p ({a['adjust']})": _p(d.get("p_adjusted")),
             "result": d["error"] if d.get("error") else ("non-inferior" if d["non_inferior"] else "not shown")}
            for d in rep["dimensions"]]
    return _non_inferior_outcome(rows, rep["dimensions"], f"margin {a['margin']:g}, alpha {a['alpha']:g}, "
                                                          f"{a['adjust']}, people and judge combined by PPI++")


def ifeval(store: Store, a: dict[str, Any]) -> tuple[bool, str, list[dict[str, Any]]]:
    from assay.stats.proportions import wilson_interval

    raters = [r.id for r in store.iter("raters") if r.kind == "program" and r.name == "ifeval"
              and r.config.get("mode", "strict") == a["mode"]]
    resp = store.frame("responses", model=a["model"])
    if a["dataset"] and not resp.empty:
        items = {r["id"] for r in store.rows("items", dataset=a["dataset"])}
        resp = resp[resp["item_id"].isin(items)]
    js = store.frame("judgments", rater_id=raters) if raters and not resp.empty else None
    if js is not None and not js.empty:
        js = js[js["response_id"].isin(set(resp["id"])) & js["value"].notna()]
        js = js.sort_values("created_at").drop_duplicates("response_id", keep="last")
    if js is None or js.empty:
        raise Unmet(f"no IFEval ({a['mode']}) judgments of {a['model']}'s responses: run `assay verify --ifeval`")
    if a["level"] == "prompt":
        k, n = int(js["value"].sum()), len(js)
    else:
        followed = [bool(i["followed"]) for d in js["detail"] for i in (d or {}).get("instructions", [])]
        k, n = sum(followed), len(followed)
    p = wilson_interval(k, n, confidence=a["confidence"])
    figure = p.low if a["bound"] == "lower" else p.rate
    unit = "prompts" if a["level"] == "prompt" else "instructions"
    rows = [{"model": a["model"], "mode": a["mode"], "level": a["level"], "followed": k, unit: n,
             "accuracy": _f(p.rate), f"{a['confidence']:.0%} interval": f"[{_f(p.low)}, {_f(p.high)}]"}]
    what = f"{_f(figure)} ({'lower bound; ' if a['bound'] == 'lower' else ''}{k} of {n} {unit}, {a['mode']})"
    ok = figure >= a["at_least"]
    return ok, f"{what} {'≥' if ok else '<'} {a['at_least']:g}", rows


def attack_success(store: Store, a: dict[str, Any]) -> tuple[bool, str, list[dict[str, Any]]]:
    from assay.redteam.asr import asr

    attacks = a["attacks"]
    if a.get("suite"):
        from assay.redteam.suites import load_suite

        labels = load_suite(a["suite"]).labels()
        attacks = [x for x in attacks if x in labels] if attacks else labels
        if not attacks:
            raise Unmet(f"none of the attacks given is in suite {a['suite']}")
    by = ("model", "attack") if a.get("each") else ("model",)
    rep = asr(store, rater=a["rater"], dimension=a["dimension"], by=by, per=a["per"], models=[a["model"]],
              attacks=attacks, confidence=a["confidence"])
    if not rep["rows"]:
        raise Unmet(f"{a['model']} has no attempts" + (f" of suite {a['suite']}'s attacks" if a.get("suite") else ""))
    judged = [r for r in rep["rows"] if r["n"]]
    if not judged:
        raise Unmet(f"none of {a['model']}'s {sum(r['attempts'] for r in rep['rows'])} attempts is judged by "
                    f"{rep['rater']}")
    if a.get("each") and a.get("suite"):
        missing = sorted(set(attacks) - {r["attack"] for r in judged})
        if missing:
            raise Unmet(f"no judged attempts of {a['model']} for suite {a['suite']}'s attacks {', '.join(missing)}")
    rows, over = [], []
    for row in judged:
        figure = row["high"] if a["bound"] == "upper" else row["asr"]
        out = {"model": a["model"]}
        if a.get("each"):
            out["attack"] = row["attack"]
        out.update({"rater": rep["rater"], "per": a["per"], "successes": row["successes"], "n": row["n"],
                    "asr": _f(row["asr"]), f"{a['confidence']:.0%} interval": f"[{_f(row['low'])}, {_f(row['high'])}]",
                    "unjudged": row["unjudged"]})
        rows.append(out)
        if figure > a["at_most"]:
            over.append((row, figure))
    bound = f"upper {a['confidence']:.0%} bound; " if a["bound"] == "upper" else ""
    if a.get("each"):
        if over:
            said = ", ".join(f"{r['attack']} {_f(f)}" for r, f in over)
            return False, f"{len(over)} of {len(judged)} attacks above {a['at_most']:g} ({bound.rstrip('; ')}): {said}", rows
        worst = max(row["high"] if a["bound"] == "upper" else row["asr"] for row in judged)
        return True, (f"all {len(judged)} attacks at most {a['at_most']:g} ({bound}highest {_f(worst)})"), rows
    (row,) = judged
    figure = row["high"] if a["bound"] == "upper" else row["asr"]
    ok = figure <= a["at_most"]
    return ok, (f"{_f(figure)} ({bound}{row['successes']} of {row['n']} {a['per']}s broken) "
                f"{'≤' if ok else '>'} {a['at_most']:g}"), rows


def judge_kappa(store: Store, a: dict[str, Any]) -> tuple[bool, str, list[dict[str, Any]]]:
    from assay.analysis.judge_trust import judge_report
    from assay.rubrics import get_rubric

    rubric = get_rubric(store, a["rubric"]).id if a["rubric"] else None
    rep = judge_report(store, a["judge"], humans=a["humans"], rubric=rubric, dimension=a["dimension"])
    parts = [(f"{r['rubric']} · {r['dimension']}", r) for r in rep["rubric"]]
    if rep["pairwise"] is not None and not a["dimension"]:
        parts.append(("pairwise preferences", rep["pairwise"]))
    rows, low, missing = [], [], []
    for what, r in parts:
        ag = r.get("agreement") or {}
        kappa = ag.get("judge_mean_kappa_with_humans")
        rows.append({"scores": what, "humans": len(ag.get("humans", [])), "units": ag.get("units", "—"),
                     "mean kappa with each human": _f(kappa)})
        if kappa is None:
            missing.append(f"{what} ({'kappa undefined' if ag.get('humans') else 'no human rated it'})")
        elif kappa < a["at_least"]:
            low.append(f"{what} {kappa:.3f}")
    if not rows or len(missing) == len(rows):
        raise Unmet(f"no kappa between {rep['judge']['id']} and human raters on the same units")
    if low or missing:
        said = low + missing
        return False, f"below {a['at_least']:g}: {', '.join(said)}", rows
    kappas = ", ".join(f"{w} {float(r['mean kappa with each human']):.3f}" for w, r in
                       zip([p[0] for p in parts], rows))
    return True, f"{kappas} ≥ {a['at_least']:g}", rows


CHECKERS: dict[str, Callable[[Store, dict[str, Any]], tuple[bool, str, list[dict[str, Any]]]]] = {
    "non-inferiority": non_inferiority,
    "ifeval": ifeval,
    "attack-success": attack_success,
    "judge-kappa": judge_kappa,
}
"""The function of each check of ``gate.config.CHECKS`` (a fixed set: each has its own fields there)."""
