"""Argilla, both ways, on files made with the Argilla SDK's own types.

Argilla's server needs Elasticsearch or OpenSearch, which cannot be installed here, so no
dataset is created on a server. The SDK builds its types offline but connects once when its
client is made (it asks who the user is); a local stand-in answers that one question and
fails the test if the SDK asks anything else. Everything else is the SDK's own code: it reads
assay's settings (``Settings.from_json``), turns assay's records into its ``Record`` objects
(the mapper ``dataset.records.log`` uses), takes the annotators' ``Response`` objects and
writes the two exports assay reads: the Hugging Face dataset (``records.to_datasets()``, saved
as ``dataset.to_hub`` lays it out) and the records JSON (``records.to_json``).
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assay.annotate.tools import export_campaign, import_answers
from assay.cli import main
from assay.errors import BadInput
from assay.io import OnInvalid
from tests.annotate.tools_helpers import campaign, seed
from tests.conftest import require_module

USERS = [uuid.UUID(int=i) for i in (11, 12, 13)]


@pytest.fixture(scope="module")
def rg():
    """The argilla SDK with a default client, made against a stand-in that only says who the user is."""
    argilla = require_module("argilla")
    asked: list[str] = []

    class Me(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            asked.append(self.path)
            if self.path != "/api/v1/me":
                self.send_response(501)
                self.end_headers()
                return
            body = json.dumps({"id": str(uuid.UUID(int=1)), "username": "lead", "role": "owner"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):  # noqa: ANN002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Me)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    argilla.Argilla(api_url=f"http://127.0.0.1:{server.server_port}", api_key="offline", retries=0)
    yield argilla
    server.shutdown()
    assert set(asked) == {"/api/v1/me"}  # the files were made offline


def annotate(rg, folder: Path, answers) -> tuple[object, list]:  # noqa: ANN001
    """The SDK reads assay's export and the annotators answer: ``answers(i, user)`` gives
    {question: value} and a status, or None."""
    from argilla.records._mapping import IngestedRecordMapper

    settings = rg.Settings.from_json(folder / ".argilla" / "settings.json")
    dataset = rg.Dataset(name=f"assay-{uuid.uuid4().hex[:6]}", settings=settings)
    mapper = IngestedRecordMapper(dataset=dataset, user_id=uuid.UUID(int=1))
    rows = [json.loads(line) for line in (folder / "records.jsonl").read_text().splitlines()]
    records = []
    for i, row in enumerate(rows):
        rec = mapper(row)
        for user in USERS:
            got = answers(i, user)
            if got is None:
                continue
            values, status = got
            for q, v in values.items():
                rec.responses.add(rg.Response(q, v, user_id=user, status=status))
        records.append(rec)
    return dataset, records


def hub_export(dataset, records, out: Path) -> Path:  # noqa: ANN001
    """The Hugging Face export, laid out as ``dataset.to_hub`` pushes it: data/*.parquet and .argilla/."""
    from argilla.records._io._datasets import HFDatasetsIO

    (out / "data").mkdir(parents=True)
    HFDatasetsIO.to_datasets(records, dataset).to_parquet(out / "data" / "train-00000-of-00001.parquet")
    (out / ".argilla").mkdir()
    dataset.settings.to_json(out / ".argilla" / "settings.json")
    return out


def json_export(records, out: Path) -> Path:  # noqa: ANN001
    from argilla.records._io._json import JsonIO

    JsonIO.to_json(records, out)
    return out


def rating(i: int, user: uuid.UUID):  # noqa: ANN201
    """Users 11 and 12 agree; 13 rates odd records one lower and leaves record 0 as a draft."""
    q = 1 + i % 4
    if user.int == 13 and i % 2:
        q = max(1, q - 1)
    values = {"quality": q, "safe": "yes" if i % 3 else "no", "tone": ["formal", "casual", "rude"][i % 3],
              "confidence": f"{0.5 + i / 10:.1f}", "justification": f"record {i} is level {q}"}
    if user.int == 12 and i == 1:
        values |= {"flags": ["novel"], "flag_note": "a new kind of refusal"}
    return values, "draft" if (user.int == 13 and i == 0) else "submitted"


def test_settings_are_what_the_sdk_reads(rg, store, tmp_path):
    seed(store)
    campaign(store, "c")
    export_campaign(store, "c", "argilla", tmp_path / "out")
    s = rg.Settings.from_json(tmp_path / "out" / ".argilla" / "settings.json")
    q = {x.name: x for x in s.questions}
    assert isinstance(q["quality"], rg.RatingQuestion) and q["quality"].values == [1, 2, 3, 4]
    assert isinstance(q["safe"], rg.LabelQuestion) and q["safe"].labels == ["yes", "no"]
    assert q["tone"].labels == ["formal", "casual", "rude"]
    assert isinstance(q["confidence"], rg.TextQuestion) and "from 0 to 1" in q["confidence"].description
    assert q["justification"].required and not q["flags"].required
    assert [f.name for f in s.fields] == ["prompt", "response"]
    assert "Judge the response only" in s.guidelines and s.distribution.min_submitted == 3


@pytest.mark.parametrize("layout", ["hub", "json"])
def test_ratings_come_back_from_the_sdks_exports(rg, store, tmp_path, layout):
    seed(store)
    camp = campaign(store, "c")
    export_campaign(store, "c", "argilla", tmp_path / "out")
    dataset, records = annotate(rg, tmp_path / "out", rating)
    f = hub_export(dataset, records, tmp_path / "hub") if layout == "hub" else \
        json_export(records, tmp_path / "records.json")
    s = import_answers(store, f, source="argilla", campaign="c",
                       annotators={str(USERS[0]): "ann", str(USERS[1]): "bo"})
    # the records JSON carries no status, so the draft counts as submitted there
    want = (11, 1) if layout == "hub" else (12, 0)
    assert (s.added, s.not_submitted, s.rejected, s.tasks) == (*want, 0, 4)
    assert s.raters == ["human:ann", f"human:argilla-user-{USERS[2]}", "human:bo"]
    js = store.list("judgments", campaign_id=camp.id)
    assert len(js) == want[0] * 4 and {j.guideline_version for j in js} == {1}
    by = {(j.rater_id, j.dimension, j.justification.split()[1]): j for j in js}
    assert by[(f"human:argilla-user-{USERS[2]}", "quality", "1")].value == 1.0
    assert by[("human:ann", "safe", "0")].value == 0.0 and by[("human:ann", "tone", "2")].label == "rude"
    assert by[("human:bo", "confidence", "3")].value == pytest.approx(0.8)
    assert by[("human:bo", "quality", "1")].flags == ["novel"]
    from assay.analysis.agreement import agreement_report
    from assay.analysis.options import Options, Selection

    report = agreement_report(store, select=Selection(campaign=camp.id), options=Options(rounds=20, random_state=0))
    quality = next(sec for sec in report["sections"] if sec["dimension"] == "quality")
    assert quality["raters"] == 3 and quality["units"] == 4
    again = import_answers(store, f, source="argilla", campaign="c",
                           annotators={str(USERS[0]): "ann", str(USERS[1]): "bo"})
    assert (again.added, again.duplicates) == (0, want[0])


def test_comparisons_and_rankings(rg, store, tmp_path):
    seed(store, n_items=2)
    pairs = campaign(store, "pairs", kind="compare")
    export_campaign(store, "pairs", "argilla", tmp_path / "p")
    picks = ["A>>B", "B>A", "tie"]
    dataset, records = annotate(rg, tmp_path / "p", lambda i, u: (
        {"preference": picks[(i + u.int) % 3], "justification": "because"}, "submitted"))
    s = import_answers(store, hub_export(dataset, records, tmp_path / "ph"), source="argilla", campaign="pairs")
    assert s.added == 18
    for c in store.iter("comparisons", campaign_id=pairs.id):
        if c.outcome == "win":
            assert c.winner == c.shown_order[0 if c.strength == 2 else 1]
    ranks = campaign(store, "ranks", kind="rank")
    export_campaign(store, "ranks", "argilla", tmp_path / "r")
    dataset, records = annotate(rg, tmp_path / "r", lambda i, u: (
        {"ranking": ["B", "C", "A"], "justification": "B first"}, "submitted"))
    s = import_answers(store, hub_export(dataset, records, tmp_path / "rh"), source="argilla", campaign="ranks")
    assert s.added == 6
    for c in store.iter("comparisons", campaign_id=ranks.id):
        assert c.ranking == [c.shown_order[1], c.shown_order[2], c.shown_order[0]]


def test_bad_input_names_file_row_or_line_and_field(rg, store, store_url, tmp_path, capsys):
    from argilla.records._io._datasets import HFDatasetsIO

    seed(store)
    campaign(store, "c")
    export_campaign(store, "c", "argilla", tmp_path / "out")

    def bad(i: int, user: uuid.UUID):  # noqa: ANN202
        values, status = rating(i, user)
        if i == 2 and user.int == 12:
            values["confidence"] = "very"
        return values, status

    dataset, records = annotate(rg, tmp_path / "out", bad)
    hub = hub_export(dataset, records, tmp_path / "hub")
    with pytest.raises(BadInput) as e:
        import_answers(store, hub, source="argilla", campaign="c")
    parquet = str(hub / "data" / "train-00000-of-00001.parquet")
    assert e.value.message == f"{parquet}, row 3: field 'confidence.responses[1]': 'very' is not a number"
    assert store.count("judgments") == 0
    capsys.readouterr()  # the SDK's progress bars
    code = main(["--db", store_url, "import", "--from", "argilla", str(hub), "--campaign", "c"])
    err = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert code == 2 and len(err) == 1 and "row 3: field 'confidence.responses[1]'" in err[0]
    # the same records as JSON lines (datasets' to_json): a line, not a row
    jsonl = tmp_path / "records.jsonl"
    HFDatasetsIO.to_datasets(records, dataset).to_json(jsonl)
    with pytest.raises(BadInput, match=r"records.jsonl, line 3: field 'confidence.responses\[1\]'"):
        import_answers(store, jsonl, source="argilla", campaign="c")
    s = import_answers(store, hub, source="argilla", campaign="c", on_invalid=OnInvalid(skip=True))
    assert (s.added, s.rejected) == (10, 1) and store.count("judgments") == 40
    assert json.loads(Path(s.rejects_file).read_text())["field"] == "confidence.responses[1]"


def test_a_record_of_another_campaign_is_refused(rg, store, tmp_path):
    seed(store)
    campaign(store, "c")
    campaign(store, "d")
    export_campaign(store, "d", "argilla", tmp_path / "out")
    dataset, records = annotate(rg, tmp_path / "out", rating)
    f = json_export(records, tmp_path / "records.json")
    with pytest.raises(BadInput) as e:
        import_answers(store, f, source="argilla", campaign="c")
    assert e.value.line == 1 and e.value.field == "metadata.assay_campaign"  # the SDK writes one line and "not of c" in e.value.reason
