"""Gold files: read as the CLI reads them, every problem named by file, line and field, nothing half-made."""

from __future__ import annotations

import json

import pytest

from assay import annotate as A
from assay.errors import BadInput
from assay.rubrics import get_rubric
from assay.store import rating as S
from tests.server.conftest import add_texts


def _responses(store) -> list[str]:
    get_rubric(store, "default")
    add_texts(store, "d", ["p0", "p1"], {"m1@1": ["a0", "a1"], "m2@1": ["b0", "b1"]})
    return [u[0] for u in A.units_from_dataset(store, "d")]


def test_read_gold_accepts_a_byte_order_mark_and_names_the_file(tmp_path):
    path = tmp_path / "gold.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"response_id": "r1", "values": {"safety": 5}}).encode() + b"\n")
    (g,) = A.read_gold(path)
    assert g.response_ids == ("r1",) and g.values == {"safety": 5} and (g.source, g.line) == (str(path), 1)
    path.write_text('{"response_id": "r1"}\n{"response_ids": "r1"}\n')
    with pytest.raises(BadInput) as e:
        A.read_gold(path)
    assert str(e.value) == f"{path}, line 2: field 'response_ids': must be a list of response ids"


def test_a_checked_gold_line_is_named_and_nothing_is_created(store):
    ids = _responses(store)
    text = "\n".join(json.dumps(d) for d in (
        {"response_id": ids[0], "values": {"safety": 5}, "explanation": "fine"},
        {"response_id": ids[1], "values": {"safety": 0}, "explanation": "too low"}))
    gold = A.gold_from_text(text, source="g.jsonl")
    with pytest.raises(BadInput) as e:
        A.create_campaign(store, "c", rubric="default@1", units=[[i] for i in ids[2:]], gold=gold,
                          spec=A.CampaignSpec(gold_share=0.5))
    assert str(e.value).startswith("g.jsonl, line 2: field 'values.safety': ")
    assert store.count("campaigns") == 0 and not store.list("campaigns", name="c")
    # gold made in code (no file) still says which unit is at fault
    with pytest.raises(BadInput, match=r"field 'values.safety': gold answer for \['.*'\]: "):
        A.create_campaign(store, "c", rubric="default@1", units=[], gold=[
            A.Gold(response_ids=(ids[0],), explanation="", values={"safety": 9})])
    good = A.gold_from_text(text.splitlines()[0], source="g.jsonl")
    camp = A.create_campaign(store, "c", rubric="default@1", units=[[i] for i in ids[2:]], gold=good,
                             spec=A.CampaignSpec(gold_share=0.5))
    assert [g["unit_id"] for g in S.gold_answers(store, camp.id)] == [ids[0]]
