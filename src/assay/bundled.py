"""Public data that ships inside assay (with licences and attribution in ``assay/data``)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from assay import records as R
from assay.store import Store

PANDALM_MODELS = ("llama-7b", "bloom-7b", "cerebras-gpt-6.7B", "opt-7b", "pythia-6.9b")
PANDALM_VERSION = "pandalm-v1"


def _data(*parts: str) -> Any:
    return json.loads(resources.files("assay.data").joinpath(*parts).read_text(encoding="utf-8"))


def _pandalm_winner(code: Any, r1: str, r2: str) -> dict[str, Any]:
    code = int(code)
    if code == 0:
        return {"outcome": "tie", "winner": None}
    return {"outcome": "win", "winner": r1 if code == 1 else r2}


def load_pandalm(store: Store, *, dataset: str = "pandalm") -> dict[str, int]:
    """Load the PandaLM test set: 999 items, two responses each, 3 human and GPT-3.5 verdicts.

    Returns counts of what was added. Loading twice adds nothing.
    """
    rows = _data("pandalm", "testset-v1.json")
    gpt = {r["idx"]: r for r in _data("pandalm", "gpt-3.5-turbo-testset-v1.json")}
    models = [R.Model(id=f"{m}@{PANDALM_VERSION}", provider="none") for m in PANDALM_MODELS]
    humans = [R.Rater(id=R.Rater.make_id("human", f"pandalm-annotator{i}"), kind="human",
                      name=f"pandalm-annotator{i}") for i in (1, 2, 3)]
    judge = R.Rater(id=R.Rater.make_id("llm", "gpt-3.5-turbo", "pandalm"), kind="llm", name="gpt-3.5-turbo",
                    model="gpt-3.5-turbo@pandalm", config={"source": "PandaLM published verdicts"})
    records: list[R.Record] = [R.Dataset(name=dataset, source="WeOpenML/PandaLM@3871806 data/testset-v1.json"),
                               *models, R.Model(id="gpt-3.5-turbo@pandalm", provider="none", family="gpt"),
                               *humans, judge]
    for row in rows:
        prompt = row["instruction"] + (f"\n\n{row['input']}" if row.get("input") else "")
        item = R.Item(id=R.Item.make_id(dataset, str(row["idx"]), None, None), dataset=dataset,
                      external_id=str(row["idx"]), prompt=prompt, category=row.get("motivation_app"),
                      metadata={"cmp_key": row["cmp_key"]})
        model_a, model_b = _split_cmp_key(row["cmp_key"])
        resp = []
        for model, text in ((model_a, row["response1"]), (model_b, row["response2"])):
            mid = f"{model}@{PANDALM_VERSION}"
            resp.append(R.Response(id=R.Response.make_id(item.id, mid, 0), item_id=item.id, model=mid, text=str(text)))
        r1, r2 = resp[0].id, resp[1].id
        records += [item, *resp]
        for i, rater in enumerate(humans, start=1):
            records.append(R.Comparison(id=R.digest("pandalm", row["idx"], rater.id), item_id=item.id,
                                        rater_id=rater.id, response_ids=[r1, r2], shown_order=[r1, r2],
                                        **_pandalm_winner(row[f"annotator{i}"], r1, r2)))
        g = gpt.get(row["idx"])
        # GPT-3.5's file writes its ties as "Tie" (and unreadable answers as "garbage", left out).
        code = {"tie": "0"}.get(str(g.get("gpt_result")).lower(), str(g.get("gpt_result"))) if g else None
        if code in {"0", "1", "2"}:
            records.append(R.Comparison(id=R.digest("pandalm", row["idx"], judge.id), item_id=item.id,
                                        rater_id=judge.id, response_ids=[r1, r2], shown_order=[r1, r2],
                                        justification=g.get("gpt_reason") or "",
                                        **_pandalm_winner(code, r1, r2)))
    before = {k: store.count(k) for k in ("items", "responses", "comparisons")}
    with store.transaction() as conn:
        store.add(records, conn)
    return {k: store.count(k) - n for k, n in before.items()}


def _split_cmp_key(key: str) -> tuple[str, str]:
    for m in PANDALM_MODELS:
        if key.startswith(m + "_") and key[len(m) + 1 :] in PANDALM_MODELS:
            return m, key[len(m) + 1 :]
    raise ValueError(f"unknown PandaLM cmp_key {key!r}")


HANNA_CRITERIA = {"RE": "relevance", "CH": "coherence", "EM": "empathy", "SU": "surprise", "EG": "engagement",
                  "CX": "complexity"}
HANNA_LLMS = ("Beluga-13B", "Llama-13B", "Mistral-7B", "OrcaPlatypus", "ChatGPT")


def hanna_rubric() -> R.Rubric:
    from assay.rubrics import parse_rubric

    text = resources.files("assay.data").joinpath("hanna", "rubric.yaml").read_text(encoding="utf-8")
    return parse_rubric(text, source="assay/data/hanna/rubric.yaml")


def load_hanna(store: Store, *, dataset: str = "hanna", prompts: tuple[int, ...] = (1, 2, 3, 4)) -> dict[str, int]:
    """Load the HANNA ratings: 96 prompts x 11 systems = 1,056 stories, 6 criteria, humans and 5 LLMs.

    The humans are one rater, ``human:hanna-mturk-mean``, each story's mean of its three
    Mechanical Turk ratings (the file also lists the three, but "Human k" is the k-th rating a
    story got, not one worker across stories); each (LLM, prompt) pair is an LLM rater. An LLM
    score outside [1, 5] (the source marks a failed answer with 0 or a negative number, so
    such a mean of three includes one) is left out.

    The prompts and stories are not bundled (see ``assay/data/hanna/ATTRIBUTION.md``): items
    and responses say so in their text and carry ``text_available: False`` in their metadata,
    which the report reads (its lists of responses leave them out and say how many).
    """
    import ast
    import csv
    import io

    from assay.rubrics import add_rubric

    rub = hanna_rubric()
    text = resources.files("assay.data").joinpath("hanna", "hanna_metric_scores_llm.csv").read_text(encoding="utf-8")
    table = list(csv.DictReader(io.StringIO(text)))
    human = R.Rater(id=R.Rater.make_id("human", "hanna-mturk-mean"), kind="human", name="hanna-mturk-mean",
                    config={"note": "mean of three Mechanical Turk workers per story"})
    llms = {(m, p): R.Rater(id=R.Rater.make_id("llm", f"{m}/p{p}", "hanna"), kind="llm", name=f"{m}/p{p}",
                            model=f"{m}@hanna", config={"prompt": p, "source": "HANNA published ratings"})
            for m in HANNA_LLMS for p in prompts}
    records: list[R.Record] = [R.Dataset(name=dataset, source="dig-team/hanna-benchmark-asg@282f275"),
                               human, *llms.values()]
    records += [R.Model(id=f"{m}@hanna", provider="none") for m in HANNA_LLMS]
    for s, row in enumerate(table):
        system = row["Model"]
        model_id = f"{system.replace(' ', '-').replace('(', '').replace(')', '')}@hanna"
        records.append(R.Model(id=model_id, provider="none"))
        columns = {name: ast.literal_eval(row[name.capitalize()]) for name in HANNA_CRITERIA.values()}
        llm_columns = {(m, p, code): ast.literal_eval(row[f"{m} {code} {p}"])
                       for m in HANNA_LLMS for p in prompts for code in HANNA_CRITERIA}
        for j in range(96):
            story = s * 96 + j
            # the 11 systems answered the same 96 prompts: one item per prompt, one response per system
            item = R.Item(id=R.Item.make_id(dataset, f"prompt-{j}", None, None), dataset=dataset,
                          external_id=f"prompt-{j}",
                          prompt=f"[text not bundled] HANNA prompt {j} (a WritingPrompts prompt): assay ships "
                          "HANNA's scores, not its texts (see assay/data/hanna/ATTRIBUTION.md)",
                          metadata={"prompt_index": j, "text_available": False})
            resp = R.Response(id=R.Response.make_id(item.id, model_id, 0), item_id=item.id, model=model_id,
                              text=f"[text not bundled] HANNA story {story}, by {system}: assay ships "
                              "HANNA's scores for it, not its text (see assay/data/hanna/ATTRIBUTION.md)",
                              metadata={"story_id": story, "system": system, "text_available": False})
            records += [item, resp]
            for name, values in columns.items():
                records.append(R.Judgment(id=R.digest("hanna", story, human.id, name), response_id=resp.id,
                                          rater_id=human.id, rubric=rub.id, dimension=name, value=float(values[j]),
                                          guideline_version=1))
            for (m, p, code), values in llm_columns.items():
                v = float(values[j])
                if not 1.0 <= v <= 5.0:
                    continue  # a mean of three valid 1-5 ratings lies in [1, 5]: this one holds a failed answer
                rater = llms[(m, p)]
                records.append(R.Judgment(id=R.digest("hanna", story, rater.id, code), response_id=resp.id,
                                          rater_id=rater.id, rubric=rub.id, dimension=HANNA_CRITERIA[code], value=v,
                                          guideline_version=1))
    add_rubric(store, rub)
    before = {k: store.count(k) for k in ("items", "responses", "judgments")}
    with store.transaction() as conn:
        store.add(records, conn)
    return {k: store.count(k) - n for k, n in before.items()}
