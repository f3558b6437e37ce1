"""Bad input at the edges: lone surrogates, NUL, deep nesting, NaN/Infinity; exit 2 with file and line on both stores."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from assay.cli import main
from assay.errors import BadInput
from assay.io import MAX_DEPTH, FieldMap, OnInvalid, import_file
from assay.store import Store

GOOD = '{"prompt": "fine", "response": "r"}\n'
DEEP = "[" * 100_000 + "]" * 100_000


def _nested(levels: int) -> str:
    return "[" * levels + "]" * levels


# (second line of a JSONL file, what the error says after "data.jsonl, line 2: ")
EDGES = [
    ('{"prompt": "x\\ud800y", "response": "r"}', "field 'prompt': contains a lone surrogate (\\ud800), which is not "
                                                 "valid Unicode"),
    ('{"prompt": "a\\u0000b", "response": "r"}', "field 'prompt': contains a NUL character (\\u0000), which a store "
                                                 "cannot hold as text"),
    ('{"prompt": "p", "response": "r", "meta": {"k\\u0000": 1}}', "field 'meta': a key contains a NUL character"),
    ('{"prompt": "p", "response": "r", "meta": ' + DEEP + "}", f"nested deeper than {MAX_DEPTH} levels"),
    ('{"prompt": "p", "response": "r", "meta": ' + _nested(MAX_DEPTH + 1) + "}",
     f"field 'meta[0][0][0][0][0]...': nested deeper than {MAX_DEPTH} levels"),
    ('{"prompt": "p", "response": "r", "score": NaN}', "field 'score': nan is not a finite number"),
    ('{"prompt": "p", "response": "r", "x": {"y": [1, Infinity]}}', "field 'x.y[1]': inf is not a finite number"),
    ('{"prompt": "p", "response": "r", "score": -Infinity}', "field 'score': -inf is not a finite number"),
    ('{"prompt": "p", "response": "r", "score": 1e400}', "field 'score': inf is not a finite number"),
    ('{"prompt": "tab\there", "response": "r"}', "invalid JSON: Invalid control character at column 16"),
    # wider than the store's column: PostgreSQL failed the whole import with a store error, SQLite kept it
    ('{"prompt": "p", "response": "r", "category": "' + "c" * 201 + '"}',
     "field 'category': is 201 characters long; at most 200 fit"),
    ('{"prompt": "p", "response": "r", "language": "' + "l" * 51 + '"}',
     "field 'language': is 51 characters long; at most 50 fit"),
]


@pytest.mark.parametrize(("line", "message"), EDGES, ids=["surrogate", "nul", "nul-key", "deep-100000", "deep-65",
                                                          "nan", "infinity", "-infinity", "1e400", "control",
                                                          "long-category", "long-language"])
def test_edges_exit_2_with_file_line_and_field_and_write_nothing(store_url, tmp_path, capsys, line, message):
    p = tmp_path / "data.jsonl"
    p.write_text(GOOD + line + "\n", encoding="utf-8")
    assert main(["--db", store_url, "import", str(p), "--model", "m@1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {p}, line 2: {message}") and err.count("\n") == 1, err
    assert "at at" not in err and "Traceback" not in err
    with Store(store_url) as s:
        assert s.count("items") == s.count("datasets") == 0


@pytest.mark.parametrize(("line", "message"), EDGES[:4])
def test_skip_invalid_rejects_the_edge_and_keeps_the_rest(store, store_url, tmp_path, capsys, line, message):
    p = tmp_path / "data.jsonl"
    p.write_text(GOOD + line + "\n" + GOOD.replace("fine", "also fine"), encoding="utf-8")
    assert main(["--db", store_url, "import", str(p), "--model", "m@1", "--skip-invalid"]) == 0
    assert "1 rejected" in capsys.readouterr().out
    (reject,) = [json.loads(x) for x in (tmp_path / "data.jsonl.rejects.jsonl").read_text().splitlines()]
    assert reject["line"] == 2 and message.split(": ", 1)[-1].startswith(reject["reason"][:20])
    assert sorted(i.prompt for i in store.iter("items")) == ["also fine", "fine"]


def test_nesting_up_to_the_limit_is_kept(store, tmp_path):
    p = tmp_path / "data.jsonl"
    p.write_text('{"prompt": "p", "meta": ' + _nested(MAX_DEPTH) + "}\n", encoding="utf-8")
    import_file(store, p)
    depth, v = 0, store.list("items")[0].metadata["meta"]
    while isinstance(v, list):
        depth, v = depth + 1, (v[0] if v else None)
    assert depth == MAX_DEPTH


def test_a_json_array_file(store, tmp_path):
    p = tmp_path / "data.json"
    p.write_text('[{"prompt": "a"}, {"prompt": "b", "score": NaN}]', encoding="utf-8")
    with pytest.raises(BadInput, match=r"data\.json, row 2: field 'score': nan is not a finite number"):
        import_file(store, p)
    p.write_text('[{"prompt": "a"}, {"prompt": "b\\udc00"}]', encoding="utf-8")
    with pytest.raises(BadInput, match=r"data\.json, row 2: field 'prompt': contains a lone surrogate"):
        import_file(store, p)
    p.write_text('[{"prompt": "a", "m": ' + DEEP + "}]", encoding="utf-8")
    with pytest.raises(BadInput, match=rf"data\.json: nested deeper than {MAX_DEPTH} levels"):
        import_file(store, p)
    p.write_text('[{"prompt": "a\x01"}]', encoding="utf-8")
    with pytest.raises(BadInput, match=r"data\.json, line 1: invalid JSON: Invalid control character at column 15$"):
        import_file(store, p)
    assert store.count("items") == 0


def test_csv_cells(store, tmp_path):
    p = tmp_path / "data.csv"
    p.write_text("prompt,response\nfine,r\nbad\x00cell,r\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"data\.csv, line 3: field 'prompt': contains a NUL character"):
        import_file(store, p, fields=FieldMap(model="m@1"))
    # structure in a cell is JSON text: the same limits apply to it
    p.write_text(f'prompt,tags\nfine,\nok,"{_nested(5000)}"\n', encoding="utf-8")
    with pytest.raises(BadInput, match=rf"data\.csv, line 3: field 'tags': nested deeper than {MAX_DEPTH}"):
        import_file(store, p)
    p.write_text('prompt,tags\nok,"[""a"", NaN]"\n', encoding="utf-8")
    with pytest.raises(BadInput, match=r"data\.csv, line 2: field 'tags\[1\]': nan is not a finite number"):
        import_file(store, p)
    p.write_text('prompt,tags\n"[{""role"": ""user"", ""content"": ""a\\u0000""}]",\n', encoding="utf-8")
    with pytest.raises(BadInput, match=r"data\.csv, line 2: field 'prompt\[0\]\.content': contains a NUL"):
        import_file(store, p)
    assert store.count("items") == 0


def test_parquet_values(store, tmp_path):
    p = tmp_path / "data.parquet"
    pd.DataFrame({"prompt": ["a", "b"], "score": [1.0, float("nan")]}).to_parquet(p)
    # pandas writes a missing float as null, not NaN: write a real NaN with pyarrow
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"prompt": ["a", "b"], "score": pa.array([1.0, float("nan")], from_pandas=False)}), p)
    with pytest.raises(BadInput, match=r"data\.parquet, row 2: field 'score': nan is not a finite number"):
        import_file(store, p)
    pq.write_table(pa.table({"prompt": ["a", "b\x00"]}), p)
    with pytest.raises(BadInput, match=r"data\.parquet, row 2: field 'prompt': contains a NUL character"):
        import_file(store, p)
    s = import_file(store, p, on_invalid=OnInvalid(skip=True))
    assert (s.items_added, s.rejected) == (1, 1)
