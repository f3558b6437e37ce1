"""Preference-data exports for training: TRL (standard and conversational), KTO, reward, HH-RLHF.

Where pairs come from
    ``source="comparisons"``: every current (non-superseded) comparison is a vote on one
    pair of responses to an item. A comparison of N > 2 responses with a ranking votes on
    every pair of the ranking (the higher-ranked wins); with only a winner, the winner
    beats each other response; a tie or both-bad of N responses votes tie / both-bad on
    every pair. Every current comparison is a vote: a rater who judged a pair twice (both
    orders, as Arena-Hard and MT-Bench judges do) votes twice; a correction supersedes
    the record it corrects. A ranking an LLM judge derived from its own pairwise verdicts
    (``detail["method"] == "pairs"``, see ``judges.jobs.store_rankings``) is not a vote:
    its pairs already are, and its order of responses with equal points says nothing
    (dropped as ``derived_ranking``). The pair's verdict is the majority vote (first,
    second, tie or both-bad); ``agreement`` is the share of the pair's votes that agree
    with it; a pair without a strict majority is dropped. A tie is never exported as a
    chosen/rejected pair.

    ``source="judgments"``: scores on one rubric dimension. A response's score is the mean
    of its raters' values; two responses to the same item make a pair when their scores
    differ by at least ``min_gap`` (the better one is chosen, by the dimension's direction).
    ``agreement`` is the share of raters who scored both responses and order them the same
    way; when no rater scored both it is undefined and only ``min_agreement=0`` keeps it.
    The pair's rater count is the smaller of the two responses' rater counts.

Drop reasons, checked in this order (the first that applies is counted)
    ``model`` (a response's model is not selected), ``flagged`` (``exclude_flagged`` and a
    selected record on the item carries a flag), ``too_few_raters`` (distinct raters),
    ``tie_vote`` (``exclude_ties`` and any vote called the pair a tie), ``both_bad_vote``
    (``exclude_both_bad`` and any vote called both bad), ``no_majority``, ``small_gap``
    (judgments), ``low_agreement``, ``tie`` (the majority is a tie: never a preference),
    ``both_bad`` (the majority is both-bad: kept only by ``kto``, as two undesirable rows),
    ``chat_prompt`` (standard text formats cannot hold a chat of more than one message
    without a chat template; use ``trl-conversational`` or ``hh-rlhf``), ``kto_conflict``
    (``kto``: a response that is chosen in one kept pair and rejected in another, like the
    middle of a ranking, is neither desirable nor undesirable and is left out).
    Records are dropped before pairing when they are derived rankings
    (``derived_ranking``), their rater is not selected (``rater``, ``rater_kind``), below
    the gold accuracy or without a gold unit (``gold_accuracy``, ``no_gold``), or their
    item is not in a selected dataset (``dataset``).

Formats
    ``trl``: ``{"prompt", "chosen", "rejected"}`` plain text; ``trl-conversational``: the
    prompt as chat messages (a text prompt becomes one user message), chosen and rejected
    as one assistant message each; ``kto``: ``{"prompt", "completion", "label"}``, one row
    per response (label true for chosen, false for rejected); ``reward``: ``{"prompt",
    "chosen", "rejected", "margin"}`` where margin is the mean signed strength of the votes
    (a vote for the chosen counts +strength, 1 when not given, against it -strength, a tie
    or both-bad 0; for judgments the score difference); ``hh-rlhf``: ``{"chosen",
    "rejected"}`` transcripts of ``\\n\\nHuman: ...\\n\\nAssistant: ...`` turns (a system
    message is folded into the first Human turn).

Each export writes ``OUT.manifest.json`` beside the file: format, filters, the ids of the
records the rows came from, counts kept and dropped per reason, gold accuracies, one
provenance entry per row, the assay version, the time and the output's SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

from assay import records as R
from assay.errors import BadInput
from assay.store import Store
from assay.store import rating as S

FORMATS = ("trl", "trl-conversational", "kto", "reward", "hh-rlhf")
_TEXT_FORMATS = ("trl", "kto", "reward")


@dataclass(frozen=True)
class PreferenceFilters:
    """What goes into a preference export (see the module docstring for the exact rules)."""

    source: Literal["comparisons", "judgments"] = "comparisons"
    rubric: str | None = None  # comparisons: only this rubric; judgments: the rubric scored
    dimension: str | None = None  # judgments: required; comparisons: only this dimension
    min_gap: float = 1.0  # judgments: smallest score difference that makes a preference
    min_agreement: float = 0.0  # share of a pair's votes agreeing with its majority
    min_raters: int = 1  # distinct raters who voted on the pair
    exclude_ties: bool = False  # drop pairs any vote called a tie
    exclude_both_bad: bool = False  # drop pairs any vote called both bad
    exclude_flagged: bool = False  # drop pairs on items any selected record flagged
    min_gold_accuracy: float | None = None
    gold_rater: str | None = None  # whose verdicts are gold (besides campaign gold answers)
    raters: tuple[str, ...] | None = None
    rater_kinds: tuple[str, ...] | None = None
    campaign: str | None = None
    datasets: tuple[str, ...] | None = None
    models: tuple[str, ...] | None = None  # both responses of a pair must be by these models
    margin: bool = True  # reward: write the margin column

    def __post_init__(self) -> None:
        if self.source not in ("comparisons", "judgments"):
            raise BadInput(f"source must be 'comparisons' or 'judgments', not {self.source!r}")
        if self.source == "judgments" and not self.dimension:
            raise BadInput("a judgments source needs a rubric dimension (--dimension)")
        if not 0 <= self.min_agreement <= 1:
            raise BadInput(f"min_agreement must lie in [0, 1], got {self.min_agreement}")
        if self.min_gold_accuracy is not None and not 0 <= self.min_gold_accuracy <= 1:
            raise BadInput(f"min_gold_accuracy must lie in [0, 1], got {self.min_gold_accuracy}")
        if self.min_raters < 1:
            raise BadInput(f"min_raters must be at least 1, got {self.min_raters}")
        bad = set(self.rater_kinds or ()) - {"human", "llm", "program"}
        if bad:
            raise BadInput(f"rater kinds are human, llm, program; not {', '.join(sorted(bad))}")


@dataclass
class Pair:
    """One pair's verdict: ``chosen`` over ``rejected`` (or both bad), with who said so."""

    item_id: str
    chosen: str
    rejected: str
    outcome: str  # "win" or "both_bad"
    raters: int  # distinct raters behind the votes
    agreement: float | None
    margin: float
    records: list[str] = field(default_factory=list)


@dataclass
class _Vote:
    a: str
    b: str
    label: str  # "a", "b", "tie", "both_bad"
    strength: int
    rater: str
    record: str
    created: Any


def is_derived_ranking(c: Any) -> bool:
    """A ranking an LLM judge derived from its own pairwise verdicts (``judges.jobs.store_rankings``)."""
    return bool(c.ranking or len(c.response_ids) > 2) and (c.detail or {}).get("method") == "pairs"


def _current(records: list[Any]) -> list[Any]:
    replaced = {r.supersedes for r in records if r.supersedes}
    return [r for r in records if r.id not in replaced]


# ---- gold --------------------------------------------------------------------------------


def _comparison_answer(outcome: str | None, winner: str | None, ranking: Sequence[str] | None) -> str:
    if ranking:
        return "rank:" + ">".join(ranking)
    return f"win:{winner}" if outcome == "win" else str(outcome)


def _gold(store: Store, f: PreferenceFilters, records: list[Any]) -> dict[str, str]:
    """Gold answers by unit: the gold rater's records, then campaign gold answers (which win)."""
    gold: dict[str, str] = {}
    if f.gold_rater:
        for r in sorted((r for r in records if r.rater_id == f.gold_rater), key=lambda r: r.created_at):
            gold[_unit(f, r)] = _answer(f, r)
    for row in S.gold_answers(store, None):  # campaign gold answers
        if f.source == "comparisons":
            if row["outcome"] is None and not row["ranking"]:
                continue
            # a campaign stores a compared unit under a digest of its sorted response ids
            gold[row["unit_id"]] = _comparison_answer(row["outcome"], row["winner"], row["ranking"])
        elif row["dimension"] == f.dimension:
            gold[row["unit_id"]] = str(row["label"] if row["value"] is None else float(row["value"]))
    return gold


def _unit(f: PreferenceFilters, r: Any) -> str:
    if f.source == "judgments":
        return r.response_id
    return R.unit_id(r.response_ids)


def _answer(f: PreferenceFilters, r: Any) -> str:
    if f.source == "judgments":
        return str(r.label if r.value is None else float(r.value))
    return _comparison_answer(r.outcome, r.winner, r.ranking if len(r.response_ids) > 2 else None)


def gold_accuracy(store: Store, f: PreferenceFilters, records: list[Any]) -> dict[str, dict[str, float]]:
    """Each rater's ``n`` gold units answered and ``accuracy`` against the gold answers."""
    import pandas as pd

    from assay.stats.raters import rater_vs_gold

    gold = _gold(store, f, records)
    rows = [{"unit": _unit(f, r), "rater": r.rater_id, "value": _answer(f, r)} for r in records
            if r.rater_id != f.gold_rater]
    if not gold or not rows:
        return {}
    try:
        with warnings.catch_warnings():  # only accuracy is used; kappa may be undefined on few units
            warnings.simplefilter("ignore", RuntimeWarning)
            table = rater_vs_gold(pd.DataFrame(rows), gold)
    except ValueError:  # no rating falls on a gold unit
        return {}
    return {str(k): {"n": int(v["n"]), "accuracy": float(v["accuracy"])} for k, v in table.iterrows()}


# ---- selection ---------------------------------------------------------------------------


def _select(store: Store, f: PreferenceFilters, dropped: Counter) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    """Current records of the source that pass the record-level filters; and the gold table."""
    if f.source == "comparisons":
        everything = _current(store.list(R.Comparison, campaign_id=f.campaign, rubric=f.rubric,
                                         dimension=f.dimension))
    else:
        everything = _current(store.list(R.Judgment, campaign_id=f.campaign, rubric=f.rubric,
                                         dimension=f.dimension))
        rubrics = {r.rubric for r in everything}
        if len(rubrics) > 1:
            raise BadInput(f"dimension {f.dimension!r} is judged under several rubrics "
                           f"({', '.join(sorted(rubrics))}); choose one with --rubric")
    kinds = {r.id: r.kind for r in store.by_id(R.Rater, {r.rater_id for r in everything}).values()}
    records = []
    for r in everything:
        if f.source == "comparisons" and is_derived_ranking(r):
            dropped["derived_ranking"] += 1
        elif f.raters and r.rater_id not in f.raters:
            dropped["rater"] += 1
        elif f.rater_kinds and kinds.get(r.rater_id) not in f.rater_kinds:
            dropped["rater_kind"] += 1
        else:
            records.append(r)
    gold_info: dict[str, Any] = {}
    if f.min_gold_accuracy is not None:
        # gold comes from every current record of the gold rater, whatever the rater filters;
        # the gold rater's own records, when selected, are gold and pass
        acc = gold_accuracy(store, f, [r for r in everything if f.source != "comparisons"
                                       or not is_derived_ranking(r)])
        gold_info = {"min_accuracy": f.min_gold_accuracy, "gold_rater": f.gold_rater, "raters": acc}
        kept = []
        for r in records:
            if r.rater_id != f.gold_rater and r.rater_id not in acc:
                dropped["no_gold"] += 1
            elif r.rater_id != f.gold_rater and acc[r.rater_id]["accuracy"] < f.min_gold_accuracy:
                dropped["gold_accuracy"] += 1
            else:
                kept.append(r)
        records = kept
    if f.source == "judgments":
        responses = store.by_id(R.Response, {r.response_id for r in records})
    else:
        responses = store.by_id(R.Response, {i for r in records for i in r.response_ids})
    items = store.by_id(R.Item, {r.item_id for r in responses.values()})
    if f.datasets:
        keep = []
        for r in records:
            item_id = responses[r.response_id].item_id if f.source == "judgments" else r.item_id
            if items[item_id].dataset in f.datasets:
                keep.append(r)
            else:
                dropped["dataset"] += 1
        records = keep
    return records, {"responses": responses, "items": items}, gold_info


# ---- pairs -------------------------------------------------------------------------------


def _votes(c: R.Comparison) -> Iterable[_Vote]:
    ids = list(c.response_ids)
    if not c.ranking:
        better = {c.winner} if c.outcome == "win" else set()
        for x, y in combinations(ids, 2):
            a, b = sorted((x, y))
            if c.outcome != "win":
                label = c.outcome
            elif better & {a, b}:
                label = "a" if c.winner == a else "b"
            else:
                continue  # N > 2 with only a winner says nothing about two losers
            yield _Vote(a, b, label, c.strength or 1, c.rater_id, c.id, c.created_at)
        return
    pos = {rid: k for k, rid in enumerate(c.ranking)}
    for x, y in combinations(ids, 2):
        a, b = sorted((x, y))
        if c.outcome != "win":
            label = c.outcome
        else:
            label = "a" if pos[a] < pos[b] else "b"
        yield _Vote(a, b, label, c.strength or 1, c.rater_id, c.id, c.created_at)


def _flagged_items(f: PreferenceFilters, records: list[Any], responses: dict[str, Any]) -> set[str]:
    if f.source == "judgments":
        return {responses[r.response_id].item_id for r in records if r.flags}
    return {r.item_id for r in records if r.flags}


def _model_ok(f: PreferenceFilters, responses: dict[str, Any], *ids: str) -> bool:
    return not f.models or all(responses[i].model in f.models for i in ids)


def comparison_pairs(f: PreferenceFilters, records: list[R.Comparison], responses: dict[str, Any],
                     dropped: Counter) -> list[Pair]:
    """Majority verdicts of pairwise votes (rankings expanded; every vote counts), after the pair-level filters."""
    by_pair: dict[tuple[str, str, str], list[_Vote]] = defaultdict(list)
    for c in records:
        for v in _votes(c):
            by_pair[(c.item_id, v.a, v.b)].append(v)
    flagged = _flagged_items(f, records, responses) if f.exclude_flagged else set()
    out = []
    for (item, a, b), votes in sorted(by_pair.items()):
        counts = Counter(v.label for v in votes)
        top = counts.most_common()
        n = len(votes)
        raters = len({v.rater for v in votes})
        if not _model_ok(f, responses, a, b):
            reason = "model"
        elif item in flagged:
            reason = "flagged"
        elif raters < f.min_raters:
            reason = "too_few_raters"
        elif f.exclude_ties and counts["tie"]:
            reason = "tie_vote"
        elif f.exclude_both_bad and counts["both_bad"]:
            reason = "both_bad_vote"
        elif len(top) > 1 and top[0][1] == top[1][1]:
            reason = "no_majority"
        elif top[0][1] / n < f.min_agreement:
            reason = "low_agreement"
        elif top[0][0] == "tie":
            reason = "tie"
        else:
            reason = ""
        if reason:
            dropped[reason] += 1
            continue
        label = top[0][0]
        chosen, rejected = (a, b) if label in ("a", "both_bad") else (b, a)
        signed = sum(v.strength if v.label == label else -v.strength if v.label in ("a", "b") else 0
                     for v in votes) if label in ("a", "b") else 0.0
        out.append(Pair(item, chosen, rejected, "both_bad" if label == "both_bad" else "win", raters,
                        top[0][1] / n, signed / n, sorted({v.record for v in votes})))
    return out


def judgment_pairs(store: Store, f: PreferenceFilters, records: list[R.Judgment], responses: dict[str, Any],
                   dropped: Counter) -> list[Pair]:
    """Pairs of responses to one item whose mean scores differ by at least ``min_gap``."""
    if f.dimension is None:  # PreferenceFilters refuses a judgments source without one
        raise BadInput("a judgments source needs a rubric dimension (--dimension)")
    latest: dict[tuple[str, str], R.Judgment] = {}
    for j in records:
        if j.value is None:
            dropped["no_value"] += 1
            continue
        key = (j.response_id, j.rater_id)
        if key not in latest or (j.created_at, j.id) > (latest[key].created_at, latest[key].id):
            latest[key] = j
    if not latest:
        return []
    rubric = f.rubric or next(iter(latest.values())).rubric
    sign = -1.0 if store.rubric(rubric).dimension(f.dimension).direction == "lower_is_better" else 1.0
    scores: dict[str, dict[str, float]] = defaultdict(dict)  # response -> rater -> value
    ids: dict[str, list[str]] = defaultdict(list)
    for (resp, rater), j in latest.items():
        if j.value is not None:  # always: judgments without a value were dropped above
            scores[resp][rater] = sign * float(j.value)
            ids[resp].append(j.id)
    by_item: dict[str, list[str]] = defaultdict(list)
    for resp in scores:
        by_item[responses[resp].item_id].append(resp)
    flagged = _flagged_items(f, list(latest.values()), responses) if f.exclude_flagged else set()
    out = []
    for item in sorted(by_item):
        for a, b in combinations(sorted(by_item[item]), 2):
            sa, sb = scores[a], scores[b]
            gap = sum(sa.values()) / len(sa) - sum(sb.values()) / len(sb)
            both = sorted(set(sa) & set(sb))
            same = [r for r in both if (sa[r] - sb[r]) * gap > 0]
            agreement = len(same) / len(both) if both else None
            n = min(len(sa), len(sb))
            if not _model_ok(f, responses, a, b):
                reason = "model"
            elif item in flagged:
                reason = "flagged"
            elif n < f.min_raters:
                reason = "too_few_raters"
            elif abs(gap) < f.min_gap or gap == 0:
                reason = "small_gap"
            elif (agreement is None and f.min_agreement > 0) or (agreement or 0) < f.min_agreement:
                reason = "low_agreement"
            else:
                reason = ""
            if reason:
                dropped[reason] += 1
                continue
            chosen, rejected = (a, b) if gap > 0 else (b, a)
            out.append(Pair(item, chosen, rejected, "win", n, agreement, abs(gap), sorted(ids[a] + ids[b])))
    return out


# ---- rows --------------------------------------------------------------------------------


def _hh(chat: list[dict[str, str]], answer: str) -> str:
    parts, pending = [], []
    for m in chat:
        if m["role"] in ("system", "developer"):
            pending.append(m["content"])
        elif m["role"] == "assistant":
            parts.append(f"\n\nAssistant: {m['content']}")
        else:
            parts.append("\n\nHuman: " + "\n\n".join([*pending, m["content"]]))
            pending = []
    return "".join(parts) + f"\n\nAssistant: {answer}"


def _text_prompt(item: R.Item) -> str | None:
    if item.prompt is not None:
        return item.prompt
    msgs = item.messages or []
    return msgs[0].content if len(msgs) == 1 and msgs[0].role == "user" else None


def preference_rows(fmt: str, pairs: list[Pair], responses: dict[str, Any], items: dict[str, Any], *,
                    margin: bool = True, dropped: Counter | None = None) -> tuple[list[dict], list[dict]]:
    """The output rows of ``fmt`` for the pairs, and one provenance entry per row."""
    if fmt not in FORMATS:
        raise BadInput(f"unknown preference format {fmt!r}; use one of {', '.join(FORMATS)}")
    dropped = dropped if dropped is not None else Counter()
    rows: list[dict] = []
    prov: list[dict] = []
    text = {rid: r.text for rid, r in responses.items()}
    usable = []
    for p in pairs:
        if p.outcome == "both_bad" and fmt != "kto":
            dropped["both_bad"] += 1
        elif fmt in _TEXT_FORMATS and _text_prompt(items[p.item_id]) is None:
            dropped["chat_prompt"] += 1
        else:
            usable.append(p)
    if fmt == "kto":
        labels: dict[tuple[str, str], set[bool]] = defaultdict(set)
        sources: dict[tuple[str, str], set[str]] = defaultdict(set)
        for p in usable:
            for rid, good in ((p.chosen, p.outcome == "win"), (p.rejected, False)):
                labels[(p.item_id, rid)].add(good)
                sources[(p.item_id, rid)].update(p.records)
        for (item, rid), seen in sorted(labels.items()):
            if len(seen) > 1:
                dropped["kto_conflict"] += 1
                continue
            good = next(iter(seen))
            rows.append({"prompt": _text_prompt(items[item]), "completion": text[rid], "label": good})
            prov.append({"item_id": item, "response_id": rid, "label": good, "records": sorted(sources[(item, rid)])})
        return rows, prov
    for p in usable:
        item = items[p.item_id]
        if fmt == "trl":
            row: dict[str, Any] = {"prompt": _text_prompt(item), "chosen": text[p.chosen], "rejected": text[p.rejected]}
        elif fmt == "reward":
            row = {"prompt": _text_prompt(item), "chosen": text[p.chosen], "rejected": text[p.rejected]}
            if margin:
                row["margin"] = round(float(p.margin), 6)
        elif fmt == "trl-conversational":
            row = {"prompt": item.chat(), "chosen": [{"role": "assistant", "content": text[p.chosen]}],
                   "rejected": [{"role": "assistant", "content": text[p.rejected]}]}
        else:
            row = {"chosen": _hh(item.chat(), text[p.chosen]), "rejected": _hh(item.chat(), text[p.rejected])}
        rows.append(row)
        prov.append({"item_id": p.item_id, "chosen": p.chosen, "rejected": p.rejected, "raters": p.raters,
                     "agreement": p.agreement, "margin": p.margin, "records": p.records})
    return rows, prov


# ---- writing -----------------------------------------------------------------------------


def _arrow_schema(fmt: str, margin: bool):  # noqa: ANN202
    import pyarrow as pa

    msgs = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    s = pa.string()
    return pa.schema({
        "trl": [("prompt", s), ("chosen", s), ("rejected", s)],
        "reward": [("prompt", s), ("chosen", s), ("rejected", s)] + ([("margin", pa.float64())] if margin else []),
        "trl-conversational": [("prompt", msgs), ("chosen", msgs), ("rejected", msgs)],
        "kto": [("prompt", s), ("completion", s), ("label", pa.bool_())],
        "hh-rlhf": [("chosen", s), ("rejected", s)],
    }[fmt])


def _write(rows: list[dict], out: Path, fmt: str, margin: bool) -> str:
    tmp = out.with_name(out.name + ".partial")
    if out.suffix.lower() == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows, schema=_arrow_schema(fmt, margin)), tmp)
        kind = "parquet"
    else:
        with open(tmp, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False))
                fh.write("\n")
        kind = "jsonl"
    tmp.replace(out)
    return kind


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build_preferences(store: Store, fmt: str, filters: PreferenceFilters | None = None) -> tuple[list[dict], dict]:
    """The rows of a preference export and its manifest (without the output's name and digest)."""
    f = filters or PreferenceFilters()
    if fmt not in FORMATS:
        raise BadInput(f"unknown preference format {fmt!r}; use one of {', '.join(FORMATS)}")
    dropped_records: Counter = Counter()
    dropped_pairs: Counter = Counter()
    records, ctx, gold = _select(store, f, dropped_records)
    responses, items = ctx["responses"], ctx["items"]
    if f.source == "comparisons":
        pairs = comparison_pairs(f, records, responses, dropped_pairs)
    else:
        pairs = judgment_pairs(store, f, records, responses, dropped_pairs)
    n_pairs = len(pairs) + sum(dropped_pairs.values())
    rows, prov = preference_rows(fmt, pairs, responses, items, margin=f.margin, dropped=dropped_pairs)
    kto_conflicts = dropped_pairs.pop("kto_conflict", 0)
    used = sorted({r for p in prov for r in p["records"]})
    manifest = {
        "format": fmt,
        "fields": list(rows[0]) if rows else [n for n in _arrow_schema(fmt, f.margin).names],
        "source": f.source,
        "filters": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(f).items()},
        "records": {f.source: used},
        "counts": {
            "records_selected": len(records),
            "records_dropped": dict(sorted(dropped_records.items())),
            "records_used": len(used),
            "pairs": n_pairs,
            "pairs_dropped": dict(sorted(dropped_pairs.items())),
            "pairs_kept": n_pairs - sum(dropped_pairs.values()),
            "rows": len(rows),
            "responses_dropped": {"kto_conflict": kto_conflicts} if fmt == "kto" else {},
        },
        "gold": gold or None,
        "provenance": prov,
    }
    return rows, manifest


def export_preferences(store: Store, out: str | Path, fmt: str, filters: PreferenceFilters | None = None) -> dict:
    """Write a preference export to ``out`` (JSONL, or Parquet when it ends in .parquet) and
    ``out.manifest.json`` beside it; return the manifest."""
    from assay import __version__

    out = Path(out)
    rows, manifest = build_preferences(store, fmt, filters)
    out.parent.mkdir(parents=True, exist_ok=True)
    file_format = _write(rows, out, fmt, (filters or PreferenceFilters()).margin)
    manifest = {"output": out.name, "file_format": file_format, "sha256": _sha256(out),
                "assay_version": __version__, "created_at": datetime.now(timezone.utc).isoformat(), **manifest}
    manifest_path = out.with_name(out.name + ".manifest.json")
    manifest_path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest
