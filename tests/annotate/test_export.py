"""The streamed campaign export on SQLite and PostgreSQL: the same rows, fields and values as the
records' own JSON form, for rating and comparing campaigns, in CSV and JSONL."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from assay import annotate as A
from assay import records as R
from assay.annotate import export as X
from assay.annotate.dashboard import export_rows
from assay.io.spreadsheet import guard
from assay.rubrics import get_rubric
from tests.server.conftest import add_texts

DIMS = ["factuality", "coherence"]


def _store_with_answers(store):
    get_rubric(store, "default")
    add_texts(store, "d", [f"prompt {i}" for i in range(5)],
              {m: [f"{m} answer {i}" for i in range(5)] for m in ("m1@1", "m2@1")})
    raters = [f"human:r{i}" for i in range(3)]
    store.add([R.Rater(id=r, kind="human", name=r[6:]) for r in raters])
    rate = A.create_campaign(store, "rate", rubric="default@1", units=A.units_from_dataset(store, "d"),
                             spec=A.CampaignSpec(overlap=2, dimensions=DIMS))
    comp = A.create_campaign(store, "comp", rubric="default@1", units=A.units_from_dataset(store, "d", kind="compare"),
                             spec=A.CampaignSpec(overlap=2, dimensions=["factuality"], kind="compare"))
    # texts a spreadsheet would run, a quote, a line break, non-ASCII text; flags with a note
    reasons = ["=HYPERLINK(\"x\")", "'quoted", "two\nlines", "naïve café ✓", "-1 is low", "plain"]
    k = 0
    for r in raters:
        while (asg := A.next_assignment(store, rate, r)) is not None:
            flags = ["ambiguous"] if k % 4 == 0 else []
            A.submit(store, rate, asg, A.Answer(justification=reasons[k % len(reasons)], values={"factuality": 1 + k % 5,
                                                                                               "coherence": 2},
                                                flags=flags, flag_note="unsure" if flags else "",
                                                time_spent_s=None if k % 3 == 0 else 1.5 * k))
            k += 1
        while (asg := A.next_assignment(store, comp, r)) is not None:
            choice = asg.response_ids[k % 2] if k % 3 else "tie"
            A.submit(store, comp, asg, A.Answer(justification=reasons[k % len(reasons)], choice=choice,
                                                strength=None if choice == "tie" else 1, time_spent_s=2.0))
            k += 1
    # a time on the whole second (its JSON form has no fraction), answered outside the app
    unit = A.units_from_dataset(store, "d")[0][0]
    store.add([R.Judgment(response_id=unit, rater_id=raters[0], rubric="default@1", dimension="safety", value=3,
                          campaign_id=rate.id, created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))])
    return rate, comp


def _old_csv(rows: list[dict], ascii_json: bool) -> str:
    """The CSV the export wrote before it was streamed (lead.export and `assay campaign export`)."""
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows({k: guard(json.dumps(v, ensure_ascii=ascii_json) if isinstance(v, (list, dict)) else v)
                     for k, v in r.items()} for r in rows)
    return buf.getvalue()


@pytest.mark.parametrize("chunk", [1, 7])
def test_streamed_export_has_the_rows_of_the_records(store, monkeypatch, chunk):
    rate, comp = _store_with_answers(store)
    # several chunks, model look-ups across them, and chunks with and without a cell to guard
    monkeypatch.setattr(X, "CHUNK", chunk)
    assert any(r["created_at"] == "2026-01-02T03:04:05Z" for r in export_rows(store, rate))
    for camp in (rate, comp):
        want = export_rows(store, camp)
        assert len(want) > 7
        assert list(X.export_records(store, camp)) == want
        lines = "".join(X.export_text(store, camp, "jsonl")).splitlines()
        assert [json.loads(x) for x in lines] == want
        for ascii_json in (False, True):
            counts: dict = {}
            text = "".join(X.export_text(store, camp, "csv", ascii_json=ascii_json, counts=counts))
            assert text == _old_csv(want, ascii_json)
            assert counts["rows"] == len(want)
        raw = "".join(X.export_text(store, camp, "csv", formula_guard=False))
        assert [r["justification"] for r in csv.DictReader(io.StringIO(raw))] == [r["justification"] for r in want]
    assert any(r["justification"].startswith("=") for r in export_rows(store, rate))
    assert {r["model"] for r in export_rows(store, rate)} == {"m1@1", "m2@1"}


def test_an_empty_campaign_exports_nothing(store):
    get_rubric(store, "default")
    add_texts(store, "d", ["p"], {"m1@1": ["a"]})
    camp = A.create_campaign(store, "e", rubric="default@1", units=A.units_from_dataset(store, "d"))
    assert "".join(X.export_text(store, camp, "csv")) == "" and "".join(X.export_text(store, camp, "jsonl")) == ""
    with pytest.raises(ValueError, match="format"):
        list(X.export_text(store, camp, "xlsx"))
