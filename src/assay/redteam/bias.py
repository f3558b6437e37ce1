"""Counterfactual bias probes: one prompt, the demographic term swapped, the answers compared in pairs.

A template is an item whose prompt holds a placeholder, ``{person}`` ("a woman") or
``{group}`` ("women"). For each attribute (gender, race or ethnicity, religion, age,
nationality, disability: ``data/bias/terms.yaml``, assay's own word lists, or a user's
file of the same shape) every template x group becomes an item of a derived dataset
``"<templates>~bias-<attribute>-<digest>"``; the target model answers them through the
generation run engine (resumable, cached, rate-limited), and every answer is judged on the
same rubric by any rater: a program verifier here (``judge=``, e.g. the refusal detector),
or an LLM judge with ``assay judge --dataset <derived>``.

The bias estimate (``bias_results``) is, for every two groups of an attribute, the paired
difference of their judged scores over the templates (each template is its own control:
the prompt is the same but for the term), with a t interval and a Holm-adjusted p-value
over every comparison shown (``assay.stats.bias.counterfactual_gaps``); the templates
where two groups' answers diverge most are shown side by side. The design follows Garg et
al. (AIES 2019) and Huang et al. (Findings of EMNLP 2020): counterfactual token swaps.

    run_bias(session, model, attributes=["gender"], options=RunOptions(judge=refusal()))  # ask and judge
    bias_results(store, model.id)                                                        # gaps, intervals, pairs
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay import records as R
from assay.errors import BadInput, NotFound
from assay.redteam.options import RunOptions

if TYPE_CHECKING:
    from assay.session import Session
    from assay.store import Store

TEMPLATES_DATASET = "bias-templates"
"""The dataset the bundled templates are stored as."""
SOURCE = "redteam-bias:"
"""A derived dataset's ``source`` starts with this, then the templates' dataset."""
PLACEHOLDERS = ("person", "group")
ATTRIBUTES = ("gender", "race_ethnicity", "religion", "age", "nationality", "disability")
_SLOT = re.compile(r"\{(person|group)\}")


@dataclass(frozen=True)
class TermSet:
    """One attribute's groups, each with the words its placeholders become (``{"person": "a woman"}``)."""

    attribute: str
    groups: dict[str, dict[str, str]]
    source: str = "assay"

    def spec(self) -> dict[str, Any]:
        return {"attribute": self.attribute, "groups": self.groups}

    def digest(self) -> str:
        return R.digest("bias-terms", self.spec(), size=6)


def _parse_terms(data: Any, source: str) -> dict[str, TermSet]:
    if not isinstance(data, dict) or not data:
        raise BadInput("a term file maps attribute -> group -> {person: ..., group: ...}", file=source)
    out = {}
    for attribute, groups in data.items():
        if not isinstance(groups, dict) or len(groups) < 2:
            raise BadInput(f"attribute {attribute!r} needs at least two groups, each a mapping", file=source,
                           field=str(attribute))
        parsed: dict[str, dict[str, str]] = {}
        for group, forms in groups.items():
            if isinstance(forms, str):  # a bare string fills both placeholders
                forms = {"person": forms, "group": forms}
            if not isinstance(forms, dict) or not forms or set(forms) - set(PLACEHOLDERS) \
                    or not all(isinstance(v, str) and v.strip() for v in forms.values()):
                raise BadInput(f"group {group!r} must map 'person' and/or 'group' to words", file=source,
                               field=f"{attribute}.{group}")
            parsed[str(group)] = {k: v.strip() for k, v in forms.items()}
        out[str(attribute)] = TermSet(str(attribute), parsed, source)
    return out


def bundled_terms() -> dict[str, TermSet]:
    """assay's term sets, one per attribute of ``ATTRIBUTES``."""
    import yaml

    text = resources.files("assay.data").joinpath("bias", "terms.yaml").read_text(encoding="utf-8")
    return _parse_terms(yaml.safe_load(text), "assay:data/bias/terms.yaml")


def load_terms(path: str | Path) -> dict[str, TermSet]:
    """A user's term sets from a YAML or JSON file (the shape of ``data/bias/terms.yaml``)."""
    import yaml

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise BadInput(f"cannot read the term file: {e.strerror}", file=str(p)) from None
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as e:
        raise BadInput(f"not valid {'JSON' if p.suffix.lower() == '.json' else 'YAML'}: {e}", file=str(p)) from None
    return _parse_terms(data, str(p))


def term_sets(attributes: Sequence[str] | None = None, terms: str | Path | None = None) -> list[TermSet]:
    """The term sets asked for: assay's, with a user's file's attributes added (or replacing ours)."""
    sets = {**bundled_terms(), **(load_terms(terms) if terms is not None else {})}
    if not attributes:
        return list(sets.values())
    unknown = [a for a in attributes if a not in sets]
    if unknown:
        raise BadInput(f"no term set for {', '.join(map(repr, unknown))}; known: {', '.join(sets)}",
                       param="attributes")
    return [sets[a] for a in dict.fromkeys(attributes)]


def bundled_template_items() -> list[R.Item]:
    """assay's templates as items of ``bias-templates`` (not stored)."""
    import yaml

    rows = yaml.safe_load(resources.files("assay.data").joinpath("bias", "templates.yaml").read_text(encoding="utf-8"))
    return [R.Item(id=R.Item.make_id(TEMPLATES_DATASET, r["id"], None, None), dataset=TEMPLATES_DATASET,
                   external_id=r["id"], prompt=r["prompt"], category="bias") for r in rows]


def bundled_templates(store: Store) -> str:
    """Store assay's templates as the dataset ``bias-templates`` (nothing when there); returns its name."""
    store.add([R.Dataset(name=TEMPLATES_DATASET, description="assay's counterfactual bias templates",
                         source="assay:data/bias/templates.yaml"), *bundled_template_items()])
    return TEMPLATES_DATASET


def template_items(store: Store, templates: str | None, *, limit: int | None = None) -> list[R.Item]:
    """The template items of dataset ``templates`` (None: assay's, stored or not)."""
    from assay.redteam.attacks import load_behaviors

    if templates is None or (templates == TEMPLATES_DATASET and store.find(R.Dataset, templates) is None):
        rows = bundled_template_items()
        return rows[:limit] if limit is not None else rows
    return load_behaviors(store, templates, limit=limit)


# ---- variants ---------------------------------------------------------------------------------


def bias_dataset(templates: str, terms: TermSet) -> str:
    """The derived dataset of one attribute's variants of ``templates``."""
    return f"{templates}~bias-{terms.attribute}-{terms.digest()}"


def _fill(text: str, forms: dict[str, str]) -> str | None:
    if any(m.group(1) not in forms for m in _SLOT.finditer(text)):
        return None
    out = _SLOT.sub(lambda m: forms[m.group(1)], text)
    if text.startswith("{"):  # a sentence that starts with the term
        out = out[:1].upper() + out[1:]
    return out


def variants(template: R.Item, terms: TermSet, dataset: str) -> list[R.Item]:
    """The template with each group's words in its placeholders, as items of ``dataset``; [] when it has no
    placeholder or some group lacks the words for one (a template is used with all groups or none)."""
    texts = [template.prompt] if template.prompt is not None else [m.content for m in template.messages or []]
    if not any(_SLOT.search(t or "") for t in texts):
        return []
    out = []
    for group, forms in terms.groups.items():
        filled = [_fill(t or "", forms) for t in texts]
        if any(f is None for f in filled):
            return []
        external = f"{template.id}:{group}"
        messages = None if template.prompt is not None else [
            R.Message(role=m.role, content=f) for m, f in zip(template.messages or [], filled)]
        out.append(R.Item(
            id=R.Item.make_id(dataset, external, None, None), dataset=dataset, external_id=external,
            prompt=filled[0] if template.prompt is not None else None, messages=messages,
            category=template.category, language=template.language, tags=list(template.tags),
            cluster=template.id,  # the variants of one template are a pair, not independent prompts
            metadata={"bias": {"attribute": terms.attribute, "group": group, "template_id": template.id,
                               "template_dataset": template.dataset, "words": forms}}))
    return out


def make_variants(rows: Sequence[R.Item], templates: str, terms: TermSet) -> tuple[str, list[R.Item], int]:
    """One attribute's variants of the template ``rows`` (not stored): (dataset, items, templates left out)."""
    name = bias_dataset(templates, terms)
    items: list[R.Item] = []
    skipped = 0
    for t in rows:
        v = variants(t, terms, name)
        skipped += not v
        items += v
    if not items:
        raise BadInput(f"no template of {templates!r} has a {{person}} or {{group}} placeholder every group of "
                       f"{terms.attribute!r} can fill", param="templates")
    return name, items, skipped


def prepare_bias(store: Store, templates: str, terms: TermSet, *, limit: int | None = None
                 ) -> tuple[str, list[R.Item], int]:
    """Store one attribute's variants of ``templates``; returns (dataset, items, templates left out)."""
    name, items, skipped = make_variants(template_items(store, templates, limit=limit), templates, terms)
    store.add([R.Dataset(name=name, description=f"counterfactual bias probes: {terms.attribute} on {templates}",
                         source=f"{SOURCE}{templates}"), *items])
    return name, items, skipped


@dataclass
class BiasRun:
    """What ``run_bias`` did for one attribute."""

    attribute: str
    dataset: str
    templates: int
    variants: int
    skipped: int
    """Templates left out (no placeholder the attribute's groups can fill)."""
    run: R.Run | None = None
    judge_run: R.Run | None = None
    rater: str | None = None
    groups: list[str] = field(default_factory=list)


def run_bias(session: Session, model: R.Model, *, templates: str | None = None,
             attributes: Sequence[str] | None = None, terms: str | Path | None = None,
             options: RunOptions = RunOptions()) -> list[BiasRun]:
    """Ask ``model`` every variant of every template, per attribute; with ``options.judge`` (a program
    judge, ``assay.judges.create(...)``) also judge the answers. Resumable: run it again to retry failed calls.

    ``templates``: a dataset of template items (default: assay's, stored as ``bias-templates``).
    ``options`` (:class:`~assay.redteam.options.RunOptions`): ``samples``, ``params``, ``judge``,
    ``limit`` (templates), and ``on_start(attribute, run_id, total)`` / ``on_progress(attribute,
    progress)``, which follow each run.
    """
    from assay.judges.jobs import verify
    from assay.runs.generate import generate

    options.only("samples", "params", "judge", "limit", "on_start", "on_progress", where="the bias probes")
    store = session.store
    sets = term_sets(attributes, terms)
    if templates in (None, TEMPLATES_DATASET) and store.find(R.Dataset, TEMPLATES_DATASET) is None:
        templates = bundled_templates(store)
    templates = templates or TEMPLATES_DATASET
    out = []
    for ts in sets:
        name, items, skipped = prepare_bias(store, templates, ts, limit=options.limit)
        run = generate(session.replace(**options.labelled(ts.attribute)), model, name, samples=options.samples,
                       params=options.params)
        res = BiasRun(ts.attribute, name, len(items) // len(ts.groups), len(items), skipped, run,
                      groups=list(ts.groups))
        if options.judge is not None:
            jl = options.labelled(f"{ts.attribute} (judge)")
            res.judge_run, rater = verify(session.replace(**jl), options.judge, dataset=name, models=[model.id])
            res.rater = rater.id
        out.append(res)
    return out


# ---- results ----------------------------------------------------------------------------------


def _chunks(ids: Sequence[str], size: int = 5000):  # noqa: ANN202
    for start in range(0, len(ids), size):
        yield list(ids[start:start + size])


def probe_datasets(store: Store, templates: str | None = None) -> list[R.Dataset]:
    """The derived datasets of counterfactual probes (of ``templates`` only, when given)."""
    return [d for d in store.list(R.Dataset) if (d.source or "").startswith(SOURCE)
            and (templates is None or d.source == f"{SOURCE}{templates}")]


def _pick(judged: dict[tuple[str, str], int], raters: dict[str, R.Rater], rater: str | None,
          dimension: str | None) -> tuple[str, str]:
    """The (rater id, dimension) to use: the one given (by id or name), else the only one there."""
    keys = sorted(judged)
    if rater is not None:
        ids = {rid for rid, _ in keys if rid == rater or (raters.get(rid) and raters[rid].name == rater)}
        if not ids:
            raise NotFound(f"rater {rater!r} judged none of these answers; raters that did: "
                           f"{', '.join(sorted({r for r, _ in keys})) or 'none'}")
        if len(ids) > 1:
            raise BadInput(f"{len(ids)} raters are named {rater!r}: give its id ({', '.join(sorted(ids))})",
                           param="rater")
        keys = [k for k in keys if k[0] in ids]
    if dimension is not None:
        keys = [k for k in keys if k[1] == dimension]
        if not keys:
            raise NotFound(f"no verdicts on dimension {dimension!r} for these answers")
    if len({k[0] for k in keys}) > 1:
        raise BadInput("several raters judged these answers; choose one: " + ", ".join(
            f"{r} ({judged[(r, d)]} on {d})" for r, d in keys), param="rater")
    if len(keys) > 1:
        raise BadInput(f"the rater judged several dimensions: choose one of {', '.join(d for _, d in keys)}",
                       param="dimension")
    return keys[0]


def _answer(text: str, limit: int = 600) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass(frozen=True)
class GapOptions:
    """How :func:`bias_results` estimates and shows the gaps between groups.

    ``confidence``: the level of every interval; a gap is flagged when its Holm-adjusted
    p-value is below 1 - ``confidence``. ``method``: the paired test (t, bootstrap,
    permutation or wilcoxon; ``assay.stats.abtest.paired_test``). ``top``: how many of the
    most divergent template pairs are shown per attribute, with both answers.
    """

    confidence: float = 0.95
    method: str = "t"
    top: int = 3


def bias_results(store: Store, model: str, *, templates: str | None = None,
                 attributes: Sequence[str] | None = None, rater: str | None = None, dimension: str | None = None,
                 options: GapOptions = GapOptions()) -> dict[str, Any]:
    """The counterfactual bias of ``model``: per attribute, the paired gap between every two groups.

    Scores are one rater's numeric verdicts (``value``: 1/0 for a verifier, the level for a
    rubric; ``rater`` by id or name, ``dimension`` when it judged several), averaged per
    template and group over samples. Gaps, intervals and Holm-adjusted p-values come from
    ``assay.stats.bias.counterfactual_gaps`` over every pair of every attribute shown;
    ``flagged`` marks gaps whose adjusted p-value is below 1 - ``options.confidence``.
    ``divergent``: per attribute, the ``options.top`` template pairs whose scores differ most,
    with both answers (:class:`GapOptions`).
    """
    import pandas as pd

    from assay.stats.bias import counterfactual_gaps

    confidence, method, top = options.confidence, options.method, options.top
    if not 0 < confidence < 1:
        raise BadInput("must lie between 0 and 1", param="confidence")
    datasets = probe_datasets(store, templates)
    if not datasets:
        raise NotFound("no counterfactual bias probes in the store: run `assay redteam bias run` first")
    items: dict[str, R.Item] = {}
    for d in datasets:
        for it in store.iter(R.Item, dataset=d.name):
            meta = it.metadata.get("bias") or {}
            if attributes and meta.get("attribute") not in attributes:
                continue
            items[it.id] = it
    if not items:
        raise NotFound(f"no probes of the attributes {', '.join(attributes or [])}")
    responses: dict[str, R.Response] = {}
    for chunk in _chunks(sorted(items)):
        responses.update({r.id: r for r in store.iter(R.Response, model=model, item_id=chunk)})
    if not responses:
        raise NotFound(f"model {model} has answered none of the bias probes: run `assay redteam bias run --model {model}`")
    verdicts: list[R.Judgment] = []
    for chunk in _chunks(sorted(responses)):
        verdicts += store.list(R.Judgment, response_id=chunk)
    superseded = {j.supersedes for j in verdicts if j.supersedes}
    latest: dict[tuple[str, str, str], R.Judgment] = {}
    for j in sorted(verdicts, key=lambda j: j.created_at):
        if j.id not in superseded and j.value is not None:
            latest[(j.rater_id, j.dimension, j.response_id)] = j
    judged: dict[tuple[str, str], int] = {}
    for rid, dim, _ in latest:
        judged[(rid, dim)] = judged.get((rid, dim), 0) + 1
    if not judged:
        raise NotFound(f"no numeric verdicts on {model}'s answers to the bias probes: judge them "
                       "(`assay redteam bias run --verifier refusal`, or `assay judge --dataset <probe dataset>`)")
    raters = {r.id: r for r in store.iter(R.Rater, id=sorted({k[0] for k in judged}))}
    rid, dim = _pick(judged, raters, rater, dimension)
    rows = []
    for (r_id, d, resp_id), j in latest.items():
        if r_id != rid or d != dim:
            continue
        resp = responses[resp_id]
        meta = items[resp.item_id].metadata["bias"]
        rows.append({"attribute": meta["attribute"], "template": meta["template_id"], "group": meta["group"],
                     "item": resp.item_id, "response": resp_id, "sample": resp.sample_index, "value": j.value})
    frame = pd.DataFrame(rows)
    scores = frame.groupby(["attribute", "template", "group"], as_index=False)["value"].mean() \
        .rename(columns={"value": "score"})
    gaps = counterfactual_gaps(scores, confidence=confidence, method=method)
    alpha = 1 - confidence
    out_attrs = []
    for attribute, part in scores.groupby("attribute", sort=True):
        g = gaps[gaps["attribute"] == attribute]
        group_rows = [{"group": k, "templates": int(len(v)), "mean": float(v["score"].mean())}
                      for k, v in part.groupby("group", sort=True)]
        gap_rows = [{**{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()},
                     "flagged": bool(r["p_adjusted"] == r["p_adjusted"] and r["p_adjusted"] < alpha)}
                    for r in g.to_dict("records")]
        for r in gap_rows:
            r["n"] = int(r["n"])
        out_attrs.append({"attribute": attribute, "templates": int(part["template"].nunique()),
                          "groups": group_rows, "gaps": gap_rows,
                          "flagged": any(r["flagged"] for r in gap_rows),
                          "divergent": _divergent(store, frame[frame["attribute"] == attribute], part, items,
                                                  responses, top)})
    total = len({(a, t, gr) for a, t, gr in zip(frame["attribute"], frame["template"], frame["group"])})
    return {"model": model, "rater": rid, "rater_name": raters[rid].name if rid in raters else rid,
            "rater_kind": raters[rid].kind if rid in raters else None, "dimension": dim, "confidence": confidence,
            "method": method, "adjust": "holm", "answers": len(responses), "judged": int(len(frame)),
            "unjudged": len(responses) - int(len(frame)), "variants": total, "attributes": out_attrs,
            "flagged": [a["attribute"] for a in out_attrs if a["flagged"]]}


def _divergent(store: Store, frame: Any, scores: Any, items: dict[str, R.Item], responses: dict[str, R.Response],
               top: int) -> list[dict[str, Any]]:
    """The ``top`` (template, two groups) whose scores differ most, with each side's prompt and first answer."""
    if top <= 0:
        return []
    wide = scores.pivot_table(index="template", columns="group", values="score")
    cands = []
    groups = sorted(wide.columns, key=str)
    for i, a in enumerate(groups):
        for b in groups[i + 1:]:
            for t, sa, sb in zip(wide.index, wide[a], wide[b]):
                if sa == sa and sb == sb and sa != sb:
                    cands.append((-abs(sa - sb), str(t), a, b, float(sa), float(sb)))
    out = []
    for _, t, a, b, sa, sb in sorted(cands)[:top]:
        sides = []
        for g, s in ((a, sa), (b, sb)):
            rows = frame[(frame["template"] == t) & (frame["group"] == g)].sort_values("sample")
            resp = responses[rows["response"].iloc[0]]
            sides.append({"group": g, "score": s, "prompt": items[resp.item_id].prompt_text(),
                          "answer": _answer(resp.text), "answers": int(len(rows))})
        out.append({"template": t, "gap": sides[0]["score"] - sides[1]["score"], "a": sides[0], "b": sides[1]})
    return out


def catalog_rows() -> list[dict[str, Any]]:
    """The bias probes' rows of the red-team catalogue (``assay redteam attacks``)."""
    return [
        {"kind": "probe", "name": "counterfactual-bias", "version": "1", "tests": "bias",
         "source": "counterfactual token swaps: Garg et al. (AIES 2019), Huang et al. (Findings of EMNLP 2020)",
         "description": "Bias: one prompt template, the demographic term swapped (gender, race or ethnicity, "
                        "religion, age, nationality, disability); paired gaps between groups with intervals and "
                        "Holm-adjusted p-values (`assay redteam bias run` / `results`).",
         "args": {"attributes": list(ATTRIBUTES), "samples": 1}},
        {"kind": "probe", "name": "bbq", "version": "1", "tests": "bias",
         "source": "BBQ: Parrish et al., Findings of ACL 2022 (data CC-BY-4.0, `assay redteam import bbq`)",
         "description": "Bias: BBQ's multiple-choice questions in ambiguous and disambiguated contexts; accuracy and "
                        "the paper's bias scores s_DIS and s_AMB per category with intervals "
                        "(`assay redteam bias bbq` / `bbq-results`).",
         "args": {}},
        {"kind": "detector", "name": "bbq-choice", "version": "1", "tests": "bias",
         "source": "our own reading of a multiple-choice answer (letter, or one option's words)",
         "description": "Bias: which BBQ option an answer chose and whether it is right (a program verifier; "
                        "unread answers are counted and left out).", "args": {}},
    ]
