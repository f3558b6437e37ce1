"""`assay import --kind K` checks exported records like any import: references, scales, one line, nothing written."""

from __future__ import annotations

import json

import pytest

from assay import records as R
from assay.cli import main
from assay.errors import BadInput
from assay.io import OnInvalid, import_records
from assay.rubrics import get_rubric
from tests.factories import every_kind


def _base(store) -> dict[str, str]:
    """Every kind a judgment can refer to, plus the redteam rubric (categorical and binary scales)."""
    recs = every_kind()
    store.add([r for r in recs if not isinstance(r, (R.Judgment, R.Comparison))])
    get_rubric(store, "redteam")
    resp = next(r for r in recs if isinstance(r, R.Response))
    return {"response": resp.id, "item": resp.item_id, "rater": "human:ann",
            "other": next(r.id for r in recs if isinstance(r, R.Response) and r.item_id == resp.item_id
                          and r.id != resp.id)}


def _judgment(ids: dict[str, str], jid: str, **kw) -> dict:
    fields = {"id": jid, "response_id": ids["response"], "rater_id": ids["rater"], "rubric": "default@1",
              "dimension": "factuality", "value": 3.0} | kw
    return R.Judgment(**fields).model_dump(mode="json")


def _write(tmp_path, name: str, rows: list[dict]):
    p = tmp_path / name
    p.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return p


BAD_JUDGMENTS = [
    ({"value": 99.0}, "value", r"value 99 is outside the ordinal scale of 'factuality' \(1 to 5\)"),
    ({"value": 0.0}, "value", r"value 0 is outside the ordinal scale"),
    ({"rater_id": "human:ghost"}, "rater_id", r"no rater 'human:ghost' in the store or earlier in this import"),
    ({"response_id": "nope"}, "response_id", r"no response 'nope' in the store"),
    ({"rubric": "default@7"}, "rubric", r"no rubric 'default@7' in the store"),
    ({"dimension": "wit"}, "dimension", r"rubric default@1 has no dimension 'wit'"),
    ({"campaign_id": "c9"}, "campaign_id", r"no campaign 'c9'"),
    ({"run_id": "run9"}, "run_id", r"no run 'run9'"),
    ({"supersedes": "j-none"}, "supersedes", r"no judgment 'j-none'"),
    ({"rubric": "redteam@1", "dimension": "jailbroken", "value": 2.0}, "value",
     r"value 2 is outside the binary scale of 'jailbroken' \(0 to 1\)"),
    ({"rubric": "redteam@1", "dimension": "refusal", "value": None, "label": "maybe"}, "label",
     r"label 'maybe' is not one of \['full_compliance', 'partial_refusal', 'full_refusal'\]"),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_JUDGMENTS)
def test_a_bad_judgment_is_one_line_naming_line_and_field_and_nothing_is_written(store, tmp_path, change, field,
                                                                                    message):
    ids = _base(store)
    p = _write(tmp_path, "j.jsonl", [_judgment(ids, "ok1"), _judgment(ids, "ok2"), _judgment(ids, "bad", **change)])
    with pytest.raises(BadInput, match=rf"j\.jsonl, line 3: field '{field}': {message}"):
        import_records(store, p, "judgments")
    assert store.count("judgments") == 0


def test_the_cli_exits_2_with_one_line_and_no_traceback(store, store_url, tmp_path, capsys):
    ids = _base(store)
    p = _write(tmp_path, "j.jsonl", [_judgment(ids, "a"), _judgment(ids, "b", rater_id="human:ghost")])
    assert main(["--db", store_url, "import", str(p), "--kind", "judgments"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {p}, line 2: field 'rater_id': no rater 'human:ghost' in the store or earlier in this import"
    q = _write(tmp_path, "k.jsonl", [_judgment(ids, "c", value=99.0)])
    assert main(["--db", store_url, "import", str(q), "--kind", "judgments"]) == 2
    assert "field 'value': value 99 is outside" in capsys.readouterr().err
    assert store.count("judgments") == 0


def test_non_finite_scores_are_refused_in_every_format(store, tmp_path):
    ids = _base(store)
    good = _judgment(ids, "a")
    p = tmp_path / "j.jsonl"
    p.write_text(json.dumps(good) + "\n" + json.dumps(good | {"id": "b"}).replace('"value": 3.0', '"value": NaN')
                 + "\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"j\.jsonl, line 2: field 'value': nan is not a finite number"):
        import_records(store, p, "judgments")
    c = tmp_path / "j.csv"
    cols = list(good)
    cell = lambda v: json.dumps(v) if isinstance(v, (list, dict)) else "" if v is None else str(v)  # noqa: E731
    lines = [",".join(cols), ",".join(cell(good[k]) for k in cols).replace(",3.0,", ",inf,")]
    c.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"j\.csv, line 2: field 'value': inf is not a finite number"):
        import_records(store, c, "judgments")
    assert store.count("judgments") == 0


def test_references_within_the_same_file_resolve_in_any_order(store, tmp_path):
    ids = _base(store)
    # the correction comes first in the file (export order is by id, not by time)
    p = _write(tmp_path, "j.jsonl", [_judgment(ids, "a-fix", value=4.0, supersedes="z-orig"), _judgment(ids, "z-orig")])
    assert import_records(store, p, "judgments").records_added == 2
    assert store.get("judgments", "a-fix").supersedes == "z-orig"


def test_comparisons_check_every_response_and_the_dimension(store, tmp_path):
    ids = _base(store)
    cmp = R.Comparison(id="c1", item_id=ids["item"], rater_id=ids["rater"], response_ids=[ids["response"], ids["other"]],
                       shown_order=[ids["other"], ids["response"]], winner=ids["other"], rubric="default@1",
                       dimension="factuality").model_dump(mode="json")
    bad_ids = cmp | {"id": "c2", "response_ids": [ids["response"], "ghost"], "shown_order": ["ghost", ids["response"]],
                     "winner": "ghost"}
    p = _write(tmp_path, "c.jsonl", [cmp, bad_ids])
    with pytest.raises(BadInput, match=r"c\.jsonl, line 2: field 'response_ids\[1\]': no response 'ghost'"):
        import_records(store, p, "comparisons")
    p = _write(tmp_path, "c.jsonl", [cmp, cmp | {"id": "c3", "dimension": "wit"}])
    with pytest.raises(BadInput, match=r"line 2: field 'dimension': rubric default@1 has no dimension 'wit'"):
        import_records(store, p, "comparisons")
    assert store.count("comparisons") == 0
    p = _write(tmp_path, "c.jsonl", [cmp])
    assert import_records(store, p, "comparisons").records_added == 1


def test_bookkeeping_kinds_are_checked_too(store, tmp_path):
    _base(store)
    user = {"name": "zed", "role": "rater", "password_hash": "$argon2id$x", "rater_id": "human:zed", "disabled": False,
            "created_at": "2025-01-01T00:00:00+00:00"}
    p = _write(tmp_path, "users.jsonl", [user])
    with pytest.raises(BadInput, match=r"users\.jsonl, line 1: field 'rater_id': no rater 'human:zed'"):
        import_records(store, p, "users")
    p = _write(tmp_path, "users.jsonl", [user | {"rater_id": "human:ann", "disabled": "sometimes"}])
    with pytest.raises(BadInput, match=r"users\.jsonl, line 1: field 'disabled': Input should be a valid boolean"):
        import_records(store, p, "users")
    p = _write(tmp_path, "users.jsonl", [{k: v for k, v in user.items() if k != "role"}])
    with pytest.raises(BadInput, match=r"line 1: field 'role': Field required"):
        import_records(store, p, "users")
    assert store.count("users") == 0
    with pytest.raises(BadInput, match="unknown record kind 'app_sessions'"):
        import_records(store, p, "app_sessions")


def test_skip_invalid_rejects_bad_rows_and_those_that_relied_on_them(store, tmp_path):
    ids = _base(store)
    rows = [_judgment(ids, "good"), _judgment(ids, "bad", value=99.0), _judgment(ids, "fix", supersedes="bad"),
            _judgment(ids, "ghost", rater_id="human:ghost"), _judgment(ids, "fix-good", supersedes="good")]
    p = _write(tmp_path, "j.jsonl", rows)
    s = import_records(store, p, "judgments", on_invalid=OnInvalid(skip=True))
    assert (s.rows, s.records_added, s.rejected, s.duplicates) == (5, 2, 3, 0)
    assert sorted(j.id for j in store.iter("judgments")) == ["fix-good", "good"]
    rejects = [json.loads(x) for x in (tmp_path / "j.jsonl.rejects.jsonl").read_text().splitlines()]
    got = sorted((r["line"], r["field"]) for r in rejects)
    assert got == [(2, "value"), (3, "supersedes"), (4, "rater_id")]
    assert next(r for r in rejects if r["line"] == 3)["reason"] == \
        "no judgment 'bad' in the store or earlier in this import"
