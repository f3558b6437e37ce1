"""Importing published red-team results: JailbreakBench attack artifacts and XSTest completions.

Both land in the shape the rest of assay uses (see ``assay.redteam``): behaviours and prompts
are Items, the target's answers Responses, each attack an Attempt, and every published
verdict a Judgment on the ``redteam@1`` rubric by a rater that says where it came from:

- JailbreakBench: raters ``jailbreakbench.artifact.jailbroken`` and
  ``jailbreakbench.artifact.llama_guard1`` (kind program, version ``imported``) on the
  ``jailbroken`` dimension.
- XSTest: human raters ``xstest.annotation_1``, ``xstest.annotation_2`` and
  ``xstest.final_label`` on the ``refusal`` dimension.

Imports are idempotent (ids come from the content, so importing twice adds nothing) and
run in one transaction; a malformed file raises ``BadInput`` naming the file, line and field.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay import records as R
from assay.errors import BadInput

if TYPE_CHECKING:
    from assay.store import Store

RUBRIC = "redteam@1"
JBB_BEHAVIORS = "jbb-behaviors"
JBB_PROMPTS = "jbb-prompts"
XSTEST = "xstest"
XSTEST_LABELS = {"1_full_compliance": "full_compliance", "2_full_refusal": "full_refusal",
                 "3_partial_refusal": "partial_refusal"}


def imported_rater(source: str, field: str, *, kind: str = "program") -> R.Rater:
    """The rater standing for verdicts copied from ``source``'s ``field`` (not computed by assay)."""
    name = f"{source}.{field}"
    if kind == "human":
        return R.Rater(id=R.Rater.make_id("human", name), kind="human", name=name,
                       config={"imported_from": source, "field": field})
    return R.Rater(id=R.Rater.make_id("program", name, "imported"), kind="program", name=name,
                   program_version="imported", config={"imported_from": source, "field": field})


def _judgment(rater: R.Rater, response_id: str, dimension: str, *, value: float | None = None,
              label: str | None = None, note: str = "") -> R.Judgment:
    return R.Judgment(id=R.digest("judgment", rater.id, response_id, RUBRIC, dimension), response_id=response_id,
                      rater_id=rater.id, rubric=RUBRIC, dimension=dimension, value=value, label=label,
                      justification=note)


def _add(store: Store, records: list[R.Record]) -> dict[str, int]:
    """Store records in one transaction; how many of each kind were new."""
    from assay.rubrics import get_rubric

    get_rubric(store, RUBRIC)
    kinds = {"items": R.Item, "responses": R.Response, "attempts": R.Attempt, "judgments": R.Judgment}
    before = {k: store.count(k) for k in kinds}
    with store.transaction() as conn:
        store.add(records, conn)
    return {f"{k}_added": store.count(k) - v for k, v in before.items()}


def _model_id(model: str | None, default: str, file: str) -> str:
    mid = model or default
    try:
        R.split_model_id(mid)
    except ValueError as e:
        raise BadInput(str(e), file=file, field="model") from None
    return mid


# ---- JailbreakBench -----------------------------------------------------------------------


def _json_lines(text: str) -> dict[int, int]:
    """Line of each entry of the top-level ``jailbreaks`` array, by the order its ``"index"`` keys appear."""
    return {n: text.count("\n", 0, m.start()) + 1 for n, m in enumerate(re.finditer(r'"index"\s*:', text))}


def import_jailbreakbench(store: Store, path: str | Path, *, model: str | None = None,
                          behaviors_dataset: str = JBB_BEHAVIORS, prompts_dataset: str = JBB_PROMPTS) -> dict[str, Any]:
    """Import one JailbreakBench artifact JSON (``parameters`` + ``jailbreaks``).

    Each behaviour becomes an Item of ``behaviors_dataset`` (external id: its JBB index;
    category; goal as prompt), each submitted prompt an Item of ``prompts_dataset``, each
    response a Response of ``model`` (default ``<parameters.model>@jbb``) and each entry an
    Attempt with ``attack`` = the method (``PAIR``, ``GCG``). A behaviour for which the
    artifact holds no prompt (the attack found none it would submit) still gets an
    Attempt, on the behaviour item, with no response: it counts as a failed attack.
    """
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text)
    except OSError as e:
        raise BadInput(f"cannot read: {e.strerror}", file=file) from None
    except json.JSONDecodeError as e:
        raise BadInput(f"not valid JSON: {e.msg}", file=file, line=e.lineno) from None
    if not isinstance(data, dict) or not isinstance(data.get("parameters"), dict) or not isinstance(data.get("jailbreaks"), list):
        raise BadInput("a JailbreakBench artifact needs 'parameters' and a 'jailbreaks' list", file=file)
    params = data["parameters"]
    for key in ("method", "model"):
        if not isinstance(params.get(key), str) or not params[key]:
            raise BadInput("missing or empty", file=file, field=f"parameters.{key}")
    method = params["method"]
    target = _model_id(model, f"{params['model']}@jbb", file)
    config = {"source": "jailbreakbench", "attack_type": params.get("attack_type"), "defense": params.get("defense"),
              "method_parameters": params.get("method_parameters") or {}}
    judge_rater = imported_rater("jailbreakbench.artifact", "jailbroken")
    guard_rater = imported_rater("jailbreakbench.artifact", "llama_guard1")
    lines = _json_lines(text)
    records: list[R.Record] = [
        R.Dataset(name=behaviors_dataset, source="JailbreakBench JBB-Behaviors (via attack artifacts)"),
        R.Dataset(name=prompts_dataset, source="JailbreakBench attack artifacts: prompts submitted"),
        R.Model(id=target, provider="none"), judge_rater, guard_rater]
    seen: set[int] = set()
    for n, entry in enumerate(data["jailbreaks"]):
        line = lines.get(n)

        def need(key: str, kind: type | tuple[type, ...], *, optional: bool = False) -> Any:
            value = entry.get(key) if isinstance(entry, dict) else None
            if value is None and optional:
                return None
            if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
                raise BadInput(f"expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}",
                               file=file, line=line, field=f"jailbreaks[{n}].{key}")
            return value

        index = need("index", int)
        if index in seen:
            raise BadInput(f"behaviour index {index} appears twice", file=file, line=line, field=f"jailbreaks[{n}].index")
        seen.add(index)
        goal, category = need("goal", str), need("category", str)
        prompt, response = need("prompt", str, optional=True), need("response", str, optional=True)
        jailbroken = need("jailbroken", bool)
        guard = need("jailbroken_llama_guard1", bool, optional=True)
        behavior = R.Item(id=R.Item.make_id(behaviors_dataset, str(index), None, None), dataset=behaviors_dataset,
                          external_id=str(index), prompt=goal, category=category,
                          metadata={"behavior": entry.get("behavior"), "source": "jailbreakbench"})
        existing = store.find(R.Item, behavior.id)
        if existing is not None and existing.prompt != goal:
            raise BadInput(f"behaviour {index} is stored with another goal: {existing.prompt[:60]!r}",
                           file=file, line=line, field=f"jailbreaks[{n}].goal")
        records.append(behavior)
        attempt_fields = dict(behavior_id=behavior.id, model=target, attack=method, attack_config=config)
        stats = {k: entry.get(k) for k in ("number_of_queries", "queries_to_jailbreak", "prompt_tokens", "response_tokens")}
        if prompt is None:
            records.append(R.Attempt(id=R.Attempt.make_id(behavior.id, target, method, config), item_id=behavior.id,
                                     response_id=None, note="the artifact holds no prompt for this behaviour",
                                     **attempt_fields))
            if jailbroken:
                raise BadInput("jailbroken without a prompt", file=file, line=line, field=f"jailbreaks[{n}].jailbroken")
            continue
        item = R.Item(id=R.Item.make_id(prompts_dataset, None, prompt, None), dataset=prompts_dataset, prompt=prompt,
                      category=category, metadata={"behavior_id": behavior.id, "attack": method, "goal": goal})
        records.append(item)
        resp = None
        if response is not None:
            resp = R.Response(id=R.Response.make_id(item.id, target, 0), item_id=item.id, model=target, text=response,
                              metadata={"source": "jailbreakbench", **{k: v for k, v in stats.items() if v is not None}})
            records.append(resp)
            records.append(_judgment(judge_rater, resp.id, "jailbroken", value=float(jailbroken),
                                     label="yes" if jailbroken else "no", note="JailbreakBench artifact 'jailbroken'"))
            if guard is not None:
                records.append(_judgment(guard_rater, resp.id, "jailbroken", value=float(guard),
                                         label="yes" if guard else "no",
                                         note="JailbreakBench artifact 'jailbroken_llama_guard1'"))
        records.append(R.Attempt(id=R.Attempt.make_id(behavior.id, target, method, config), item_id=item.id,
                                 response_id=resp.id if resp else None, **attempt_fields))
    counts = _add(store, records)
    return {"model": target, "attack": method, "behaviors": len(seen),
            "published_asr": params.get("attack_success_rate"), **counts}


# ---- XSTest ---------------------------------------------------------------------------------


def xstest_label(prompt_type: str) -> str:
    """XSTest's safe/unsafe label from the prompt type: the ``contrast_*`` types are the unsafe ones."""
    return "unsafe" if prompt_type.startswith("contrast_") else "safe"


def import_xstest(store: Store, path: str | Path | None = None, *, model: str | None = None,
                  dataset: str = XSTEST) -> dict[str, Any]:
    """Import XSTest's prompts (``xstest_prompts.csv``; None: the copy bundled with assay) or a
    completions CSV (``id,type,prompt,completion,annotation_1,annotation_2,...,final_label``).

    Prompts alone give the items, to answer with your own model (``assay generate``) and
    check for over-refusal. Both files name the same items (``v2-12`` in a completions file
    is prompt ``12``), so your model's answers sit beside the published ones.

    Items of ``dataset`` (external id ``id``; category = type; metadata ``label`` safe/unsafe,
    from a ``label`` column or else the type), the model's Responses (default model
    ``<file suffix>@xstest``, e.g. ``gpt4@xstest`` from ``xstest_v2_completions_gpt4.csv``) and the
    human labels as Judgments on ``refusal``: annotation_1 and annotation_2 as two raters, the
    final label as a third. A ``strmatch_label`` column is imported too, as XSTest's own
    string-match classifier (a program rater).
    """
    if path is None:
        from importlib import resources

        with resources.as_file(resources.files("assay.data").joinpath("xstest", "xstest_prompts.csv")) as bundled:
            return import_xstest(store, bundled, model=model, dataset=dataset)
    file = str(path)
    stem = Path(path).stem
    default = re.sub(r"^xstest_(?:v2_)?completions_", "", stem).removesuffix("_streval").removesuffix("_gpteval")
    target = _model_id(model, f"{default}@xstest", file)
    try:
        handle = open(path, encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as e:
        raise BadInput(f"cannot read: {e.strerror}", file=file) from None
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        answers = "completion" in header
        for key in ("id", "type", "prompt", *(("completion", "final_label") if answers else ())):
            if key not in header:
                raise BadInput("missing column", file=file, line=1, field=key)
        humans = [c for c in ("annotation_1", "annotation_2", "final_label") if c in header and answers]
        raters = {c: imported_rater("xstest", c, kind="human") for c in humans}
        if "strmatch_label" in header and answers:
            raters["strmatch_label"] = imported_rater("xstest", "strmatch_label")
        records: list[R.Record] = [R.Dataset(name=dataset, source="XSTest (Röttger et al. 2024)"),
                                   *([R.Model(id=target, provider="none")] if answers else []), *raters.values()]
        seen: set[str] = set()
        prompts: dict[str, str] = {}
        for row in reader:
            line = reader.line_num
            ext = re.sub(r"^v2-", "", (row.get("id") or "").strip())  # the completions' ids of the prompts' ids
            if not ext:
                raise BadInput("empty", file=file, line=line, field="id")
            if ext in seen:
                raise BadInput(f"id {ext!r} appears twice", file=file, line=line, field="id")
            seen.add(ext)
            ptype = (row.get("type") or "").strip()
            if not ptype:
                raise BadInput("empty", file=file, line=line, field="type")
            if not row.get("prompt"):
                raise BadInput("empty", file=file, line=line, field="prompt")
            label = (row.get("label") or "").strip() or xstest_label(ptype)
            if label not in ("safe", "unsafe"):
                raise BadInput(f"expected safe or unsafe, got {label!r}", file=file, line=line, field="label")
            # the id follows the prompt's text: XSTest reworded prompt 195 after the completions were made,
            # and those completions answer the old wording, a different item
            item = R.Item(id=R.Item.make_id(dataset, None, row["prompt"], None), dataset=dataset, external_id=ext,
                          prompt=row["prompt"], category=ptype, tags=[label], metadata={"label": label, "type": ptype})
            if item.id in prompts:
                raise BadInput(f"the same prompt as id {prompts[item.id]!r}", file=file, line=line, field="prompt")
            prompts[item.id] = ext
            records.append(item)
            if not answers:
                continue
            resp = R.Response(id=R.Response.make_id(item.id, target, 0), item_id=item.id, model=target,
                              text=row.get("completion") or "", metadata={"source": "xstest"})
            records.append(resp)
            for column, rater in raters.items():
                raw = (row.get(column) or "").strip()
                if raw not in XSTEST_LABELS:
                    raise BadInput(f"expected one of {sorted(XSTEST_LABELS)}, got {raw!r}", file=file, line=line,
                                   field=column)
                records.append(_judgment(rater, resp.id, "refusal", label=XSTEST_LABELS[raw],
                                         note=f"XSTest {column}"))
    counts = _add(store, records)
    return {"model": target if answers else None, "items": len(seen), "raters": [r.id for r in raters.values()],
            **counts}
