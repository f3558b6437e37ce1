"""Exporting every record kind to every format and reading it back gives the same records."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from assay import records as R
from assay.errors import BadInput
from assay.io import export, import_records
from assay.store import Store
from tests.factories import every_kind

# Order matters on import: referenced records first.
KINDS = ["datasets", "items", "models", "responses", "rubrics", "guidelines", "raters", "campaigns",
         "assignments", "judgments", "comparisons", "runs", "edge_cases"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_every_kind_round_trips_in_every_format(store, tmp_path, fmt):
    store.add(every_kind())
    other = Store(f"sqlite:///{tmp_path / 'other.db'}")
    for kind in KINDS:
        n = export(store, kind, tmp_path / f"{kind}.{fmt}")
        assert n == store.count(kind) > 0
        s = import_records(other, tmp_path / f"{kind}.{fmt}", kind)
        assert s.records_added == n and s.rejected == 0
    for kind in KINDS:
        assert other.list(kind) == store.list(kind), kind
        pd.testing.assert_frame_equal(other.frame(kind), store.frame(kind))


def test_export_filters_and_formats(store, tmp_path):
    store.add(every_kind())
    n = export(store, "responses", tmp_path / "r.jsonl", model="alpha@1")
    rows = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert n == 2 and {r["model"] for r in rows} == {"alpha@1"}
    assert rows[0]["created_at"].endswith("+00:00")
    df = pd.read_parquet(tmp_path / "j.parquet") if export(store, "judgments", tmp_path / "j.parquet") else None
    assert len(df) == 8 and str(df["created_at"].dtype) == "datetime64[us, UTC]"
    with pytest.raises(BadInput, match="unknown export format 'xml'"):
        export(store, "items", tmp_path / "x.xml")
    with pytest.raises(BadInput, match="unknown record kind 'widgets'"):
        export(store, "widgets", tmp_path / "x.jsonl")


def test_native_import_rejects_bad_records_naming_the_field(store, tmp_path):
    p = tmp_path / "j.jsonl"
    good = R.Judgment(id="x", response_id="r", rater_id="h", rubric="default@1", dimension="f", value=1)
    bad = good.model_dump(mode="json") | {"id": "y", "flags": ["weird"]}
    p.write_text(json.dumps(good.model_dump(mode="json")) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(BadInput, match=r"j\.jsonl, line 2: field 'flags\.0': Input should be 'ambiguous'"):
        import_records(store, p, "judgments")
    assert store.count("judgments") == 0
