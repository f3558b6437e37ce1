"""Label Studio, both ways, without a server: the generated project, and exports read back.

The export files here are written in Label Studio's JSON export format by the test; the
round trip through a real Label Studio is tests/annotate/test_label_studio_live.py.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from assay import annotate as A
from assay.annotate.tools import export_campaign, import_answers
from assay.cli import main
from assay.errors import BadInput
from assay.io import OnInvalid
from tests.annotate.tools_helpers import campaign, preference_results, rating_results, ranking_results, seed

USERS = [{"id": 2, "email": "ann@example.com"}, {"id": 3, "email": "bo@example.com"},
         {"id": 4, "email": "cy@example.com"}]


def ls_export(tasks: list[dict], answers) -> list[dict]:  # noqa: ANN001
    """Label Studio's JSON export of these tasks: ``answers(task_index, user)`` gives (results, lead) or None."""
    out, ann_id = [], 0
    for t, task in enumerate(tasks):
        anns = []
        for u in USERS:
            got = answers(t, u)
            if got is None:
                continue
            results, lead = got
            ann_id += 1
            anns.append({"id": ann_id, "completed_by": {**u, "first_name": "", "last_name": ""}, "result": results,
                         "was_cancelled": results is None, "ground_truth": False,
                         "created_at": "2026-01-05T10:00:00.000000Z", "updated_at": "2026-01-05T10:01:00.000000Z",
                         "lead_time": lead, "task": t + 1, "project": 1})
            if results is None:
                anns[-1]["result"] = []
        out.append({"id": t + 1, "annotations": anns, "drafts": [], "predictions": [], "data": task["data"],
                    "meta": {}, "project": 1})
    return out


def write(path, data) -> str:  # noqa: ANN001
    path.write_text(json.dumps(data, indent=1))  # pretty-printed, as Label Studio writes it
    return str(path)


def plan(t: int, u: dict):  # noqa: ANN201
    """Ann and Bo agree; Cy rates one level lower on odd tasks and cancels task 0."""
    if u["id"] == 4 and t == 0:
        return None, 1.0
    q = 1 + t % 4
    if u["id"] == 4 and t % 2:
        q = max(1, q - 1)
    flags = ["ambiguous"] if (u["id"] == 3 and t == 1) else None
    return rating_results(q, "yes" if t % 3 else "no", ["formal", "casual", "rude"][t % 3], 0.5 + t / 10,
                          f"task {t} is level {q}", flags, "is a partial answer good?"), 10.0 + t


def test_config_has_a_question_for_every_scale_and_tasks_are_blind(store, tmp_path):
    seed(store)
    camp = campaign(store, "c")
    export_campaign(store, camp.name, "label-studio", tmp_path / "ls")
    view = ET.fromstring((tmp_path / "ls" / "config.xml").read_text())
    tags = {el.get("name"): el for el in view.iter() if el.get("name")}
    assert tags["quality"].tag == "Rating" and tags["quality"].get("maxRating") == "4"
    assert [c.get("value") for c in tags["safe"]] == ["yes", "no"]
    assert [c.get("value") for c in tags["tone"]] == ["formal", "casual", "rude"]
    assert tags["confidence"].tag == "Number" and (tags["confidence"].get("min"), tags["confidence"].get("max")) == ("0", "1")
    assert tags["justification"].tag == "TextArea" and tags["justification"].get("required") == "true"
    assert tags["flags"].get("choice") == "multiple"
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    assert len(tasks) == 4 and all(t["data"]["assay"]["campaign"] == camp.id for t in tasks)
    text = (tmp_path / "ls" / "tasks.json").read_text()
    assert not any(r.id in text for r in store.iter("responses"))  # ids could be matched to models
    assert not any(k.startswith("model") for t in tasks for k in t["data"])
    project = json.loads((tmp_path / "ls" / "project.json").read_text())
    assert project["maximum_annotations"] == 3 and "Judge the response only" in project["expert_instruction"]
    assert project["label_config"] == (tmp_path / "ls" / "config.xml").read_text()


def test_unblinded_tasks_name_the_models(store, tmp_path):
    seed(store)
    camp = campaign(store, "c", kind="compare", blind=False)
    export_campaign(store, camp.name, "label-studio", tmp_path / "ls")
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    assert {t["data"]["model_a"] for t in tasks} | {t["data"]["model_b"] for t in tasks} == {"m1@1", "m2@1", "m3@1"}
    for t in tasks:  # the text shown as A is the text of the model named as A
        assert t["data"]["response_a"].startswith(t["data"]["model_a"])


def test_ratings_come_back_as_judgments_with_annotator_time_and_guidelines(store, tmp_path):
    seed(store)
    camp = campaign(store, "c")
    export_campaign(store, camp.name, "label-studio", tmp_path / "ls")
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    f = write(tmp_path / "export.json", ls_export(tasks, plan))
    s = import_answers(store, f, source="label-studio", campaign="c")
    assert (s.tasks, s.answers, s.added, s.not_submitted, s.rejected) == (4, 11, 11, 1, 0)
    assert s.raters == ["human:ann@example.com", "human:bo@example.com", "human:cy@example.com"]
    js = store.list("judgments", campaign_id=camp.id)
    assert len(js) == 11 * 4
    by = {(j.rater_id, j.dimension, j.justification.split()[1]): j for j in js}
    j = by[("human:cy@example.com", "quality", "1")]
    assert (j.value, j.time_spent_s, j.guideline_version) == (1.0, 11.0, 1)  # task 1: 2 -> 1
    assert by[("human:ann@example.com", "safe", "0")].value == 0.0
    assert by[("human:ann@example.com", "tone", "2")].label == "rude"
    assert by[("human:ann@example.com", "confidence", "3")].value == pytest.approx(0.8)
    assert j.detail["source"] == "label-studio" and j.created_at.isoformat().startswith("2026-01-05T10:01")
    # the campaign's own bookkeeping: done assignments, a flagged case for the lead
    asgs = store.list("assignments", campaign_id=camp.id)
    assert len(asgs) == 11 and {a.status for a in asgs} == {"done"}
    assert [e.note for e in store.list("edge_cases")] == ["flagged ambiguous: is a partial answer good?"]
    # nobody is offered a unit again through the app once three annotators did it
    assert A.next_assignment(store, camp, "human:ann@example.com") is None
    again = import_answers(store, f, source="label-studio", campaign="c")
    assert (again.added, again.duplicates) == (0, 11) and store.count("judgments", campaign_id=camp.id) == 44


def test_guideline_version_is_the_one_the_tasks_were_exported_under(store, tmp_path):
    from assay import records as R

    seed(store)
    camp = campaign(store, "c")
    export_campaign(store, camp.name, "label-studio", tmp_path / "v1")
    case = R.EdgeCase(rubric="mixed@1", dimension="quality", note="partial answers?", campaign_id=camp.id,
                      source="manual")
    store.add([case])
    A.resolve_edge_case(store, case.id, clarification="A partial answer is weak.")
    assert A.get_campaign(store, "c").guideline_version == 2
    tasks = json.loads((tmp_path / "v1" / "tasks.json").read_text())
    import_answers(store, write(tmp_path / "e.json", ls_export(tasks, plan)), source="label-studio", campaign="c")
    assert {j.guideline_version for j in store.iter("judgments")} == {1}
    export_campaign(store, camp.name, "label-studio", tmp_path / "v2")
    assert json.loads((tmp_path / "v2" / "tasks.json").read_text())[0]["data"]["assay"]["guideline_version"] == 2
    assert "A partial answer is weak." in json.loads((tmp_path / "v2" / "project.json").read_text())["expert_instruction"]


def test_comparisons_and_rankings(store, tmp_path):
    seed(store, n_items=2)
    camp = campaign(store, "pairs", kind="compare")
    export_campaign(store, "pairs", "label-studio", tmp_path / "p")
    tasks = json.loads((tmp_path / "p" / "tasks.json").read_text())
    picks = ["A>>B", "B>A", "tie", "both_bad"]
    f = write(tmp_path / "p.json", ls_export(tasks, lambda t, u: (preference_results(picks[(t + u["id"]) % 4], "x"), 5)))
    assert import_answers(store, f, source="label-studio", campaign="pairs").added == 18
    for c in store.iter("comparisons", campaign_id=camp.id):
        texts = {r.text for r in store.iter("responses", id=c.response_ids)}
        t = next(t for t in tasks if {t["data"]["response_a"], t["data"]["response_b"]} == texts)
        shown = [store.get("responses", i).text for i in c.shown_order]
        assert shown == [t["data"]["response_a"], t["data"]["response_b"]]  # recorded as shown
        if c.outcome == "win":
            assert store.get("responses", c.winner).text == t["data"]["response_a" if c.strength == 2 else "response_b"]
    rank = campaign(store, "ranks", kind="rank")
    export_campaign(store, "ranks", "label-studio", tmp_path / "r")
    tasks = json.loads((tmp_path / "r" / "tasks.json").read_text())
    f = write(tmp_path / "r.json", ls_export(tasks, lambda t, u: (ranking_results(["C", "A", "B"], "C first"), 5)))
    assert import_answers(store, f, source="label-studio", campaign="ranks").added == 6
    for c in store.iter("comparisons", campaign_id=rank.id):
        assert c.ranking == [c.shown_order[2], c.shown_order[0], c.shown_order[1]] and c.winner == c.shown_order[2]


def test_bad_input_is_one_line_with_file_line_and_field_and_writes_nothing(store, store_url, tmp_path, capsys):
    seed(store)
    campaign(store, "c")
    export_campaign(store, "c", "label-studio", tmp_path / "ls")
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    data = ls_export(tasks, plan)
    data[2]["annotations"][1]["result"] = [r for r in data[2]["annotations"][1]["result"] if r["from_name"] != "tone"]
    f = write(tmp_path / "bad.json", data)
    line = next(n for n, text in enumerate((tmp_path / "bad.json").read_text().splitlines(), 1)
                if text.strip() == '"id": 8,') - 1  # the annotation's opening brace
    with pytest.raises(BadInput) as e:
        import_answers(store, f, source="label-studio", campaign="c")
    assert e.value.message == f"{f}, line {line}: field 'annotations[1].result.tone': choose a value for tone"
    assert store.count("judgments") == 0 and store.count("assignments") == 0  # one transaction
    capsys.readouterr()
    code = main(["--db", store_url, "import", "--from", "label-studio", f, "--campaign", "c"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "line" in err[0] and "annotations[1].result.tone" in err[0]
    s = import_answers(store, f, source="label-studio", campaign="c", on_invalid=OnInvalid(skip=True))
    assert (s.added, s.rejected) == (10, 1) and store.count("judgments") == 40
    reject = json.loads(open(s.rejects_file).readline())
    assert (reject["line"], reject["field"]) == (line, "annotations[1].result.tone")


@pytest.mark.parametrize("change, where, reason", [
    (lambda d: d[0]["data"].pop("assay"), "data.assay", "not a task exported by"),
    (lambda d: d[0]["data"]["assay"].update(campaign="other"), "data.assay.campaign", "task of campaign 'other'"),
    (lambda d: d[0]["data"]["assay"].update(task="nope"), "task", "no unit of campaign c has task key 'nope'"),
    (lambda d: d[0]["data"]["assay"].update(guideline_version=9), "guideline_version",
     "rubric mixed@1 has no guideline version 9"),
    (lambda d: d[1]["annotations"][0]["result"][0]["value"].update(rating=7), "annotations[0].result.quality",
     "ordinal value must be an integer 1..4, got 7.0"),
    (lambda d: d[1]["annotations"][0]["result"][1]["value"].update(choices=["maybe"]), "annotations[0].result.safe",
     "'maybe' is neither 'yes' nor 'no'"),
    (lambda d: d[1]["annotations"][0]["result"][4]["value"].update(text=[""]), "annotations[0].result.justification",
     "the justification must be at least 1 characters"),
    (lambda d: d[1]["annotations"][0].update(lead_time="slow"), "annotations[0].lead_time", "seconds spent"),
    (lambda d: d[1]["annotations"][0].update(completed_by=None), "annotations[0].completed_by", "annotator"),
    (lambda d: d[1]["annotations"].append(d[1]["annotations"][0]), "annotator", "answered this task twice"),
])
def test_each_bad_field_is_named(store, tmp_path, change, where, reason):
    seed(store)
    campaign(store, "c")
    export_campaign(store, "c", "label-studio", tmp_path / "ls")
    data = ls_export(json.loads((tmp_path / "ls" / "tasks.json").read_text()), plan)
    change(data)
    f = write(tmp_path / "bad.json", data)
    with pytest.raises(BadInput) as e:
        import_answers(store, f, source="label-studio", campaign="c")
    assert e.value.file == f and e.value.line and e.value.field.endswith(where) and reason in e.value.reason
    assert store.count("judgments") == 0


def test_not_json_and_wrong_shape(store, tmp_path):
    seed(store)
    campaign(store, "c")
    bad = tmp_path / "x.json"
    bad.write_text('[\n {"id": 1,\n  "data": }\n]')
    with pytest.raises(BadInput, match=r"x.json, line 3: invalid JSON"):
        import_answers(store, bad, source="label-studio", campaign="c")
    bad.write_text('{"tasks": []}')
    with pytest.raises(BadInput, match="expected a JSON array of Label Studio tasks"):
        import_answers(store, bad, source="label-studio", campaign="c")


def test_cli_usage_mistakes_are_one_line(store_url, tmp_path, capsys):
    f = tmp_path / "e.json"
    f.write_text("[]")
    for args, says in ((["import", "--from", "label-studio", str(f)], "needs --campaign"),
                       (["import", "--from", "labelbox", str(f)], "annotation tools label-studio, argilla"),
                       (["import", str(f), "--campaign", "c"], "--campaign and --annotators go with --from"),
                       (["campaign", "export", "c", "--format", "label-studio"], "give --out FOLDER")):
        capsys.readouterr()
        code = main(["--db", store_url, *args])
        err = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
        assert code == 2 and len(err) == 1 and says in err[0], (args, err)


def test_gold_units_give_annotators_a_gold_accuracy(store, tmp_path):
    """Calibration works on answers made in Label Studio: gold units go out unmarked and come
    back as gold assignments, so the lead's rater report has each annotator's gold accuracy."""
    from assay.annotate.dashboard import rater_report

    seed(store)
    units = A.units_from_dataset(store, "d", models=["m1@1"])
    gold = [A.Gold(response_ids=tuple(u), explanation="known", values={"quality": 1 + i % 4})
            for i, u in enumerate(units[:2])]
    camp = A.create_campaign(store, "g", rubric="mixed@1", units=units[2:], gold=gold,
                             spec=A.CampaignSpec(gold_share=0.5, dimensions=["quality"], overlap=3))
    export_campaign(store, "g", "label-studio", tmp_path / "ls")
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    order = {t["data"]["response"]: t for t in tasks}
    prompts = {r.id: r.text for r in store.iter("responses")}
    gold_texts = {prompts[g.response_ids[0]]: g.values["quality"] for g in gold}

    def answers(t: int, u: dict):  # noqa: ANN202 - Ann always matches gold, Bo never does
        text = tasks[t]["data"]["response"]
        want = gold_texts.get(text, 2)
        q = want if u["id"] != 3 else (want % 4) + 1
        return [{"from_name": "quality", "to_name": "response", "type": "rating", "value": {"rating": q}},
                {"from_name": "justification", "to_name": "response", "type": "textarea",
                 "value": {"text": ["why"]}}], 3.0

    assert len(order) == 4
    import_answers(store, write(tmp_path / "e.json", ls_export(tasks, answers)), source="label-studio", campaign="g")
    report = {r["rater"]: r for r in rater_report(store, camp)}
    assert report["human:ann@example.com"]["gold_accuracy"] == 1.0
    assert report["human:bo@example.com"]["gold_accuracy"] == 0.0
    assert report["human:ann@example.com"]["gold_done"] == 2 and report["human:ann@example.com"]["done"] == 4
