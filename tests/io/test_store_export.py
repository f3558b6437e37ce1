"""`assay export --all FOLDER` and `assay import FOLDER`: a whole store moves, SQLite to PostgreSQL and back."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from assay.cli import main
from assay.io import EXPORTED, LEFT_OUT
from assay.store import Store
from assay.store.engine import head_revision
from tests.factories import every_kind

from .rich_store import build

EVERY = (*EXPORTED, "request_cache")


def _utc(v):
    if isinstance(v, datetime):
        return v.replace(tzinfo=timezone.utc) if v.tzinfo is None else v.astimezone(timezone.utc)
    return v


def snapshot(store: Store) -> dict[str, list[dict]]:
    """Every row of every exported table (ids, hashes, timestamps as UTC), in a backend-independent order."""
    return {k: sorted(({c: _utc(v) for c, v in r.items()} for r in store.rows(k)), key=repr) for k in EVERY}


def _cli(*args: str) -> int:
    return main(list(args))


def test_a_rich_store_moves_to_postgresql_and_back_unchanged(tmp_path, pg_store_url, capsys):
    src_url = f"sqlite:///{tmp_path / 'src.db'}"
    src = Store(src_url)
    build(src, src_url)
    before = snapshot(src)
    assert all(before[k] for k in EVERY), [k for k in EVERY if not before[k]]

    assert _cli("--db", src_url, "export", "--all", str(tmp_path / "a"), "--with-cache") == 0
    assert _cli("--db", pg_store_url, "import", str(tmp_path / "a")) == 0
    pg = Store(pg_store_url)
    assert snapshot(pg) == before
    assert _cli("--db", pg_store_url, "export", "--all", str(tmp_path / "b"), "--with-cache") == 0
    back_url = f"sqlite:///{tmp_path / 'back.db'}"
    assert _cli("--db", back_url, "import", str(tmp_path / "b")) == 0
    assert snapshot(Store(back_url)) == before
    # the same files, whichever store wrote them
    for kind in EVERY:
        assert (tmp_path / "a" / f"{kind}.jsonl").read_text() == (tmp_path / "b" / f"{kind}.jsonl").read_text(), kind

    # what stays behind: sessions and sign-in attempts; the cache only without --with-cache
    assert src.count("app_sessions") == src.count("login_attempts") == 1
    assert pg.count("app_sessions") == pg.count("login_attempts") == 0
    capsys.readouterr()
    assert _cli("--db", src_url, "export", "--all", str(tmp_path / "c"), "--json") == 0
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert set(manifest["left_out"]) == set(LEFT_OUT) and not (tmp_path / "c" / "request_cache.jsonl").exists()
    assert manifest["counts"] == {k: src.count(k) for k in EXPORTED}
    assert manifest["order"] == list(EXPORTED) and manifest["migration"] == head_revision()
    assert "password hashes" in manifest["passwords"]


@pytest.fixture
def exported(tmp_path):
    """A folder exported from a store of linked records (one of every record kind)."""
    url = f"sqlite:///{tmp_path / 'src.db'}"
    Store(url).add(every_kind())
    assert _cli("--db", url, "export", "--all", str(tmp_path / "exp")) == 0
    return tmp_path / "exp"


def _lines(path):
    return path.read_text().splitlines()


def _drop_line(folder, kind: str, keep=lambda row: True) -> None:
    """Remove the rows of ``kind`` that ``keep`` refuses, and fix the manifest's count."""
    p = folder / f"{kind}.jsonl"
    rows = [x for x in _lines(p) if keep(json.loads(x))]
    p.write_text("".join(x + "\n" for x in rows))
    m = json.loads((folder / "manifest.json").read_text())
    m["counts"][kind] = len(rows)
    (folder / "manifest.json").write_text(json.dumps(m))


def test_importing_the_same_folder_twice_adds_nothing(exported, store, store_url, capsys):
    assert _cli("--db", store_url, "import", str(exported)) == 0
    capsys.readouterr()
    assert _cli("--db", store_url, "import", str(exported), "--json") == 0
    kinds = json.loads(capsys.readouterr().out)["kinds"]
    assert kinds["judgments"] == {"rows": 8, "records_added": 0, "duplicates": 8, "rejected": 0}
    assert all(v["records_added"] == 0 for v in kinds.values())


def test_a_broken_reference_stops_the_whole_import(exported, store, store_url, capsys):
    _drop_line(exported, "raters", keep=lambda r: r["kind"] != "llm")
    assert _cli("--db", store_url, "import", str(exported)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {exported / 'judgments.jsonl'}, line 2: field 'rater_id': no rater 'llm:judge:")
    assert err.count("\n") == 1
    assert all(store.count(k) == 0 for k in EXPORTED), "the import is one transaction"


def test_skip_invalid_rejects_rows_and_what_depends_on_them(exported, store, store_url, capsys):
    _drop_line(exported, "raters", keep=lambda r: r["kind"] != "llm")
    assert _cli("--db", store_url, "import", str(exported), "--skip-invalid", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kinds"]["judgments"]["rejected"] == 4 and out["kinds"]["comparisons"]["rejected"] == 1
    assert store.count("judgments") == 4 and store.count("items") == 2
    rejects = [json.loads(x) for x in _lines(exported / "rejects.jsonl")]
    assert {(r["file"], r["field"]) for r in rejects} == {("judgments.jsonl", "rater_id"),
                                                          ("comparisons.jsonl", "rater_id")}


def test_a_folder_that_does_not_match_its_manifest_is_refused(exported, store, store_url, capsys):
    p = exported / "judgments.jsonl"
    p.write_text("".join(x + "\n" for x in _lines(p)[:-1]))
    assert _cli("--db", store_url, "import", str(exported)) == 2
    assert capsys.readouterr().err.strip() == \
        f"error: {p}: 7 rows, but the manifest says 8: the export is incomplete or was edited"
    m = json.loads((exported / "manifest.json").read_text())
    (exported / "manifest.json").write_text(json.dumps(m | {"migration": "9999"}))
    assert _cli("--db", store_url, "import", str(exported)) == 2
    assert "field 'migration': written by a store at migration '9999'" in capsys.readouterr().err
    (exported / "manifest.json").write_text(json.dumps(m | {"files": {**m["files"], "widgets": "w.jsonl"}}))
    assert _cli("--db", store_url, "import", str(exported)) == 2
    assert "unknown record kinds ['widgets']" in capsys.readouterr().err
    (exported / "manifest.json").write_text(json.dumps(m))
    (exported / "runs.jsonl").unlink()
    assert _cli("--db", store_url, "import", str(exported)) == 2
    assert "runs.jsonl: missing: the manifest lists it" in capsys.readouterr().err
    assert all(store.count(k) == 0 for k in EXPORTED)


def test_export_all_refuses_what_it_cannot_do(tmp_path, store_url, capsys):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    assert _cli("--db", store_url, "export", "--all", str(tmp_path / "busy")) == 2
    assert "is not empty and holds no manifest.json" in capsys.readouterr().err
    assert _cli("--db", store_url, "export", "judgments", "--all", str(tmp_path / "x")) == 2
    assert _cli("--db", store_url, "export", "--all", str(tmp_path / "x"), "--rater", "human:ann") == 2
    assert _cli("--db", store_url, "export", "judgments") == 2
    assert "give a record KIND and --out FILE, or --all FOLDER" in capsys.readouterr().err
    assert _cli("--db", store_url, "import", str(tmp_path / "x")) == 2  # nothing was written there


def test_export_refuses_a_nan_the_store_holds(tmp_path, pg_store_url):
    """PostgreSQL floats hold NaN (SQLite turns it into NULL): an export says which record, not a bad file."""
    from assay.errors import AssayError
    from assay.io import export

    s = Store(pg_store_url)
    recs = every_kind()
    s.add(recs)
    s.update("runs", "run1", cost_usd=float("nan"))
    with pytest.raises(AssayError, match=r"runs id='run1': a number is NaN or infinite"):
        export(s, "runs", tmp_path / "runs.jsonl")
