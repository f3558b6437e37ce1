"""The table ``assay slices`` searches: one row per unit with its outcome, and the features of each row.

Outcomes (:class:`Outcome`), one row per response unless said otherwise:

- a rubric dimension: the mean of the current judgments on the response; a failure when
  that mean is on the bad side of ``threshold`` (:func:`assay.library.failures.worse`,
  default the scale's middle), or the mean itself with ``mean=True``;
- a program verifier (``verifier``: a name, ``NAME(k=v)`` or a rater id): 1 when it
  failed the response, by the failure library's rule; with ``per_instruction`` one row per
  checked instruction of the verdict (IFEval's ``detail["instructions"]``), 1 when not
  followed, so a slice's failure rate is 1 - the instruction-level accuracy (Zhou et al.
  2023, "Instruction-Following Evaluation for Large Language Models", sec. 3);
- red-team verdicts: 1 when the attack on the response worked (``library.failures.redteam_failures``);
  a row's item features are its behaviour's, and ``attack`` names the attack;
- ``paired_rows``: model B's score minus model A's per prompt (``abtest.paired_scores``).

Features (:data:`FEATURES`): item metadata, derived item features, topic clusters from
the bundled embedding model and response features, see each builder.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from assay import records as R
from assay.analysis.slices import Feature
from assay.errors import BadInput

if TYPE_CHECKING:
    from assay.store import Store

__all__ = ["FEATURES", "Outcome", "build_features", "rubric_dimension", "outcome_rows", "paired_rows"]

FEATURES = ("model", "attack", "dataset", "category", "language", "tags", "cluster", "prompt_length", "multi_turn",
            "has_reference", "instruction", "topic", "response_length", "refusal", "code_block", "list", "markdown")
"""Features ``assay slices`` knows by name (``meta:KEY`` adds an item metadata key)."""
RESPONSE_FEATURES = ("response_length", "refusal", "code_block", "list", "markdown")
TOPIC_LIMIT = 5000
"""More distinct prompts than this: topics are not clustered unless asked for (embedding costs)."""


@dataclass(frozen=True)
class Outcome:
    """Which outcome a row has (one source: a rubric dimension, a verifier or red-team verdicts)."""

    rubric: str | None = None
    dimension: str | None = None
    threshold: float | None = None
    """A failure is a mean worse than this (default: the scale's middle)."""
    mean: bool = False
    """The mean score itself rather than failure."""
    verifier: str | None = None
    per_instruction: bool = False
    redteam: bool = False

    def describe(self, *, paired: bool = False) -> str:
        if paired:
            return f"score difference on {self.rubric}/{self.dimension}"
        if self.rubric:
            return f"{'mean' if self.mean else 'failure rate'} on {self.rubric}/{self.dimension}"
        if self.verifier:
            return f"failure rate of verifier {self.verifier}" + (" per instruction" if self.per_instruction else "")
        return "red-team attack success rate"

    def check(self) -> None:
        sources = sum([self.rubric is not None, self.verifier is not None, self.redteam])
        if sources != 1:
            raise BadInput("give one outcome: --rubric R --dimension D, --verifier NAME or --redteam", param="rubric")
        if (self.rubric is None) != (self.dimension is None):
            raise BadInput("give --rubric and --dimension together", param="dimension" if self.rubric else "rubric")
        if self.per_instruction and self.verifier is None:
            raise BadInput("--per-instruction reads a verifier's instructions: give --verifier", param="verifier")


def _current(js: Sequence[R.Judgment]) -> list[R.Judgment]:
    replaced = {j.supersedes for j in js if j.supersedes}
    return [j for j in js if j.id not in replaced]


def rubric_dimension(store: Store, rubric: str, dimension: str) -> tuple[R.Rubric, R.Dimension]:
    from assay.rubrics import get_rubric

    from assay.errors import NotFound

    try:
        rub = get_rubric(store, rubric)
    except BadInput as e:
        raise BadInput(e.reason, param="rubric") from None
    except NotFound as e:
        raise BadInput(str(e), param="rubric") from None
    try:
        return rub, rub.dimension(dimension)
    except KeyError as e:
        raise BadInput(str(e.args[0]), param="dimension") from None


def _check_models(store: Store, models: Sequence[str] | None) -> None:
    known = {m.id for m in store.iter(R.Model)}
    for m in models or ():
        if m not in known:
            raise BadInput(f"no model {m!r} in the store", param="model")


def outcome_rows(store: Store, outcome: Outcome, *, models: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per unit: ``response_id``, ``item_id``, ``model``, ``y`` (and ``instruction`` per instruction)."""
    from assay.library import failures as F

    outcome.check()
    _check_models(store, models)
    rows: list[dict[str, Any]] = []
    if outcome.rubric is not None and outcome.dimension is not None:
        rub, dim = rubric_dimension(store, outcome.rubric, outcome.dimension)
        if dim.scale.kind == "categorical":
            raise BadInput(f"dimension {dim.name!r} is categorical: it has no score", param="dimension")
        threshold = F.default_threshold(dim) if outcome.threshold is None else outcome.threshold
        by: dict[str, list[float]] = {}
        for j in _current(list(store.iter(R.Judgment, rubric=rub.id, dimension=dim.name))):
            if j.value is not None:
                by.setdefault(j.response_id, []).append(j.value)
        for r in _responses(store, by, models):
            m = float(np.mean(by[r.id]))
            rows.append({"response_id": r.id, "item_id": r.item_id, "model": r.model,
                         "y": m if outcome.mean else float(F.worse(dim, m, threshold))})
    elif outcome.verifier is not None:
        raters = _verifier_raters(store, outcome.verifier)
        js = [j for j in _current([j for rid in raters for j in store.iter(R.Judgment, rater_id=rid)])
              if j.rubric.split("@")[0] == "verifiers"]
        by_resp: dict[str, list[R.Judgment]] = {}
        for j in js:
            by_resp.setdefault(j.response_id, []).append(j)
        for r in _responses(store, by_resp, models):
            verdicts = by_resp[r.id]
            if outcome.per_instruction:
                checks = [c for j in verdicts for c in j.detail.get("instructions") or [] if isinstance(c, dict)]
                if not checks and verdicts:
                    raise BadInput(f"verifier {outcome.verifier!r} records no per-instruction checks",
                                   param="per_instruction")
                rows += [{"response_id": r.id, "item_id": r.item_id, "model": r.model, "instruction": c["id"],
                          "y": float(c.get("followed") is False)} for c in checks]
                continue
            failed = any(j.detail.get("passed") is False or (j.detail.get("passed") is None and j.value == 0
                                                             and j.label in (None, "fail")) for j in verdicts)
            rows.append({"response_id": r.id, "item_id": r.item_id, "model": r.model, "y": float(failed)})
    else:
        found = F.redteam_failures(store, models=models)
        bad = {f.response_id for f in found.failures}
        attempts = {a.response_id: a for a in store.iter(R.Attempt, model=list(models) if models else None)
                    if a.response_id}
        for r in _responses(store, attempts, models):  # the behaviour's features, and the attack
            a = attempts[r.id]
            rows.append({"response_id": r.id, "item_id": a.behavior_id, "model": r.model, "attack": a.attack,
                         "y": float(r.id in bad)})
    frame = pd.DataFrame(rows, columns=["response_id", "item_id", "model", "y", "instruction", "attack"])
    if frame.empty:
        raise BadInput(f"no {outcome.describe()} found" + (f" for {', '.join(models)}" if models else ""),
                       param="rubric" if outcome.rubric else "verifier" if outcome.verifier else "redteam")
    return frame


def _responses(store: Store, ids: Any, models: Sequence[str] | None) -> list[R.Response]:
    found = store.by_id(R.Response, list(ids))
    return sorted((r for r in found.values() if not models or r.model in set(models)), key=lambda r: r.id)


def _verifier_raters(store: Store, spec: str) -> list[str]:
    """The program raters ``spec`` names: a rater id, a name, or ``NAME(k=v, ...)`` matching its arguments."""
    programs = [r for r in store.iter(R.Rater) if r.kind == "program"]
    if any(r.id == spec for r in programs):
        return [spec]
    m = re.fullmatch(r"\s*([^()\s]+)\s*(?:\((.*)\))?\s*", spec)
    if m is None:
        raise BadInput(f"cannot read verifier {spec!r}; write NAME or NAME(k=v)", param="verifier")
    name, args = m.group(1), m.group(2)
    wanted = dict(part.split("=", 1) for part in args.split(",") if "=" in part) if args else {}
    found = [r for r in programs if r.name == name
             and all(str(r.config.get(k.strip())) == v.strip().strip("'\"") for k, v in wanted.items())]
    if not found:
        names = sorted({r.name for r in programs})
        raise BadInput(f"no verifier {spec!r} has judged here; stored: {', '.join(names) or 'none'}",
                       param="verifier")
    if len(found) > 1:
        spelled = ", ".join(f"{r.name}({', '.join(f'{k}={v}' for k, v in r.config.items())})" for r in found)
        raise BadInput(f"{spec!r} names {len(found)} raters: {spelled}; say which", param="verifier")
    return [found[0].id]


def paired_rows(store: Store, outcome: Outcome, model_a: str, model_b: str) -> pd.DataFrame:
    """Per prompt: ``y`` = B's mean score minus A's on a rubric dimension (``abtest.paired_scores``'s pairing)."""
    from assay.analysis.abtest import paired_scores
    from assay.analysis.options import Selection
    from assay.analysis.ranking import pair_keys

    if outcome.rubric is None or outcome.dimension is None:
        raise BadInput("--compare reads scores: give --rubric R --dimension D", param="rubric")
    if model_a == model_b:
        raise BadInput("compare two different models", param="compare")
    _check_models(store, [model_a, model_b])
    rub, dim = rubric_dimension(store, outcome.rubric, outcome.dimension)
    scores = paired_scores(store, model_a, model_b, select=Selection(rubric=rub.id, dimensions=[dim.name]))
    if scores.empty:
        raise BadInput(f"no prompt has scores of both {model_a} and {model_b} on {rub.id}/{dim.name}",
                       param="compare")
    if scores.attrs.get("pair_by") == "item":
        item_of = scores["key"]
    else:  # a prompt key: the first item (by id) answered by either model with that key
        answered = sorted({r.item_id for r in store.iter(R.Response, model=[model_a, model_b])})
        keys = pair_keys(store, answered, scores.attrs["pair_by"])
        first = keys.reset_index().groupby("key").first()
        item_of = scores["key"].map(first.iloc[:, 0])
    return pd.DataFrame({"response_id": None, "item_id": item_of.to_numpy(), "model": f"{model_b} - {model_a}",
                         "y": (scores["b"] - scores["a"]).to_numpy(float), "instruction": None, "attack": None})


# ---- features ---------------------------------------------------------------------------------


def _length_bins(values: np.ndarray, bins: int = 4) -> list[str]:
    """Quantile bins (quartiles by default) named by their ranges of characters."""
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])) if len(values) else np.array([])
    which = np.searchsorted(edges, values, side="right")
    lows = np.concatenate([[values.min() if len(values) else 0], edges])
    highs = np.concatenate([edges - 1, [values.max() if len(values) else 0]])
    names = [f"{int(lo)}-{int(hi)} chars" for lo, hi in zip(lows, highs)]
    return [f"q{w + 1} {names[w]}" for w in which]


_CODE = re.compile(r"```")
_LIST = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+\S", re.MULTILINE)
_MARKDOWN = re.compile(r"^\s{0,3}#{1,6}\s|\*\*[^*\n]+\*\*|^\s*\|.*\|\s*$", re.MULTILINE)


def _yes(flags: Any) -> list[str]:
    return ["yes" if f else "no" for f in flags]


def build_features(store: Store, rows: pd.DataFrame, *, names: Sequence[str] | None = None,
                   metadata: Sequence[str] = (), paired: bool = False,
                   say: Callable[[str], None] = lambda _m: None) -> tuple[list[Feature], list[str]]:
    """The features of ``rows`` (``outcome_rows`` or ``paired_rows``), and notes on what was left out.

    ``names`` restricts to those features (default: all that apply and vary); ``metadata``
    adds item metadata keys as features ``meta:KEY`` (a list value is a set of values).
    """
    from assay.errors import MissingExtra

    asked = list(names or ())
    unknown = [n for n in asked if n not in FEATURES and not n.startswith("meta:")]
    if unknown:
        raise BadInput(f"unknown feature {unknown[0]!r}; choose from {', '.join(FEATURES)} or meta:KEY",
                       param="features")
    if paired and any(n in RESPONSE_FEATURES for n in asked):
        raise BadInput("--compare slices prompts: response features do not apply", param="features")
    metadata = [*metadata, *(n[5:] for n in asked if n.startswith("meta:"))]
    wanted = [n for n in asked if not n.startswith("meta:")] or [
        n for n in FEATURES if not (paired and n in RESPONSE_FEATURES)]
    notes: list[str] = []
    items = store.by_id(R.Item, set(rows["item_id"]))
    its = [items[i] for i in rows["item_id"]]
    resp: list[R.Response] = []
    if any(n in RESPONSE_FEATURES for n in wanted) and not paired:
        found = store.by_id(R.Response, set(rows["response_id"]))
        resp = [found[i] for i in rows["response_id"]]
    per_instruction = rows["instruction"].notna().any()
    extra: list[Feature] = []  # metadata keys first: a key no item has is refused before any embedding
    for key in metadata:
        vals = [it.metadata.get(key) for it in its]
        if all(v is None for v in vals):
            raise BadInput(f"no item here has metadata key {key!r}", param="metadata")
        if any(isinstance(v, (list, tuple, set)) for v in vals):
            extra.append(Feature.multi(f"meta:{key}", [v if isinstance(v, (list, tuple, set)) else
                                                     ([] if v is None else [v]) for v in vals]))
        else:
            extra.append(Feature.categorical(f"meta:{key}", [v if v is None or isinstance(v, (str, int, float, bool))
                                                           else str(v) for v in vals]))
    out: list[Feature] = []
    for name in wanted:
        if name == "topic":
            feat = _topics(its, asked=bool(asked), say=say, notes=notes, error=MissingExtra)
        else:
            feat = _feature(name, its, resp, rows, per_instruction)
        if feat is None:
            continue
        varies = len(feat.labels) > 1 or (feat.is_multi and len(feat.labels) == 1
                                           and len(feat.rows[0]) < len(rows))  # type: ignore[index]
        if varies or name in asked:
            out.append(feat)
    return out + extra, notes


def _feature(name: str, its: list[R.Item], resp: list[R.Response], rows: pd.DataFrame,
             per_instruction: bool) -> Feature | None:
    if name == "model":
        return Feature.categorical(name, rows["model"].tolist())
    if name == "attack":  # red-team rows only
        return Feature.categorical(name, rows["attack"].tolist()) if rows["attack"].notna().any() else None
    if name in ("dataset", "category", "language", "cluster"):
        return Feature.categorical(name, [getattr(it, name) for it in its])
    if name == "tags":
        return Feature.multi(name, [it.tags for it in its])
    if name == "prompt_length":
        return Feature.categorical(name, _length_bins(np.array([len(it.prompt_text()) for it in its])))
    if name == "multi_turn":
        return Feature.categorical(name, _yes(sum(m.role == "user" for m in it.messages or []) > 1 for it in its))
    if name == "has_reference":
        return Feature.categorical(name, _yes(bool(it.reference) for it in its))
    if name == "instruction":
        if per_instruction:  # one row per instruction: its own type
            return Feature.categorical(name, rows["instruction"].tolist())
        return Feature.multi(name, [it.metadata.get("instruction_id_list") or [] for it in its])
    if not resp:
        return None
    if name == "response_length":
        return Feature.categorical(name, _length_bins(np.array([len(r.text) for r in resp])))
    if name == "refusal":
        from assay.redteam.detect import classify_refusal

        return Feature.categorical(name, [classify_refusal(r.text).label for r in resp])
    pattern = {"code_block": _CODE, "list": _LIST, "markdown": _MARKDOWN}[name]
    return Feature.categorical(name, _yes(pattern.search(r.text) is not None for r in resp))


def _topics(its: list[R.Item], *, asked: bool, say: Callable[[str], None], notes: list[str],
            error: type) -> Feature | None:
    """Topic clusters of the prompts by the bundled embedding model (the ``embed`` extra)."""
    from assay.library.discover import cluster_labels, embed_texts, require_embed

    texts = list(dict.fromkeys(it.prompt_text() for it in its))
    if len(texts) > TOPIC_LIMIT and not asked:
        notes.append(f"topic: {len(texts)} prompts is more than {TOPIC_LIMIT} to embed; ask with --feature topic")
        return None
    try:
        require_embed()
    except error as e:
        if asked:
            raise BadInput(f"topic clusters need the embed extra: {e}", param="features") from None
        notes.append("topic: skipped, the embed extra is not installed (pip install 'assay[embed]')")
        return None
    say(f"embedding {len(texts)} prompts for topic clusters")
    label = dict(zip(texts, cluster_labels(embed_texts(texts))))
    return Feature.categorical("topic", [f"topic {label[it.prompt_text()]}" for it in its])
