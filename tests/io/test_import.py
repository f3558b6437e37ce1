"""Importing items and responses: every format, field mapping, stable ids, and bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from assay.errors import BadInput
from assay.io import FieldMap, OnInvalid, import_file

ROWS = [
    {"qid": "q1", "question": "What is 2+2?", "answer": "4", "gold": "4", "llm": "m@1", "category": "math",
     "tags": None},
    {"qid": "q1", "question": "What is 2+2?", "answer": "four", "gold": "4", "llm": "m@2", "category": "math",
     "tags": None},
    {"qid": "q2", "question": "Name a colour.", "answer": "blue", "gold": None, "llm": "m@1", "category": None,
     "tags": ["easy"]},
]
MAP = FieldMap(prompt="question", response="answer", reference="gold", id="qid", model_field="llm")


def write(tmp_path, fmt: str, rows: list[dict]):
    """Write rows in a format; return the path."""
    if fmt == "jsonl":
        p = tmp_path / "data.jsonl"
        p.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif fmt == "csv":
        p = tmp_path / "data.csv"
        df = pd.DataFrame(rows)
        if "tags" in df:
            df["tags"] = df["tags"].map(lambda t: json.dumps(t) if isinstance(t, list) else None)
        df.to_csv(p, index=False)
    elif fmt == "parquet":
        p = tmp_path / "data.parquet"
        pd.DataFrame(rows).to_parquet(p)
    else:
        import datasets

        p = tmp_path / "data_hf"
        datasets.Dataset.from_list(rows).save_to_disk(str(p))
    return p


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "hf"])
def test_every_format_imports_the_same_records(store, tmp_path, fmt):
    path = write(tmp_path, fmt, ROWS)
    s = import_file(store, path, dataset="qa", fields=MAP)
    assert (s.rows, s.items_added, s.responses_added, s.rejected) == (3, 2, 3, 0)
    items = {i.external_id: i for i in store.iter("items")}
    assert items["q1"].prompt == "What is 2+2?" and items["q1"].reference == "4" and items["q1"].category == "math"
    assert items["q2"].reference is None and items["q2"].tags == ["easy"]
    texts = sorted((r.model, r.text) for r in store.iter("responses"))
    assert texts == [("m@1", "4"), ("m@1", "blue"), ("m@2", "four")]
    assert sorted(m.id for m in store.iter("models")) == ["m@1", "m@2"]


def test_hf_dataset_dict_split(store, tmp_path):
    import datasets

    dd = datasets.DatasetDict({"train": datasets.Dataset.from_list(ROWS[:1]),
                               "test": datasets.Dataset.from_list(ROWS[2:])})
    dd.save_to_disk(str(tmp_path / "dd"))
    s = import_file(store, tmp_path / "dd", fields=MAP, split="test")
    assert s.items_added == 1 and store.list("items")[0].external_id == "q2"
    with pytest.raises(BadInput, match="no split 'dev'"):
        import_file(store, tmp_path / "dd", fields=MAP, split="dev")


def test_importing_the_same_file_twice_adds_nothing(store, tmp_path):
    path = write(tmp_path, "jsonl", ROWS)
    import_file(store, path, fields=MAP)
    again = import_file(store, path, fields=MAP)
    assert (again.items_added, again.responses_added, again.duplicates) == (0, 0, 3)
    assert store.count("responses") == 3


def test_ids_come_from_content_when_there_is_no_id_field(store, tmp_path):
    rows = [{"prompt": "a", "response": "x"}, {"prompt": "a", "response": "y"}, {"prompt": "b", "response": "z"}]
    path = write(tmp_path, "jsonl", rows)
    s = import_file(store, path, fields=FieldMap(model="m@1"))
    # the same prompt twice is one item with two samples of the model
    assert (s.items_added, s.responses_added) == (2, 3)
    assert sorted(r.sample_index for r in store.iter("responses")) == [0, 0, 1]
    assert import_file(store, path, fields=FieldMap(model="m@1")).responses_added == 0


def test_chat_message_prompts_and_default_field_names(store, tmp_path):
    rows = [{"id": 7, "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"}],
             "output": "Hello.", "model": "chat@v2", "language": "en", "extra": {"a": 1}}]
    s = import_file(store, write(tmp_path, "jsonl", rows))
    item = store.list("items")[0]
    assert s.responses_added == 1 and item.external_id == "7"
    assert [m.role for m in item.messages] == ["system", "user"] and item.prompt is None
    assert item.prompt_text() == "Hi" and item.language == "en" and item.metadata == {"extra": {"a": 1}}


def test_chat_messages_in_a_csv_cell(store, tmp_path):
    p = tmp_path / "c.csv"
    p.write_text('prompt,response\n"[{""role"": ""user"", ""content"": ""Hi""}]",yo\n', encoding="utf-8")
    import_file(store, p, fields=FieldMap(model="m@1"))
    assert store.list("items")[0].messages[0].content == "Hi"


def test_items_only_file(store, tmp_path):
    s = import_file(store, write(tmp_path, "jsonl", [{"prompt": "p1"}, {"prompt": "p2", "reference": "r"}]))
    assert (s.items_added, s.responses_added) == (2, 0)


def test_dotted_field_paths(store, tmp_path):
    rows = [{"conv": {"q": "deep?"}, "out": {"text": "yes"}}]
    import_file(store, write(tmp_path, "jsonl", rows), fields=FieldMap(prompt="conv.q", response="out.text",
                                                                       model="m@1"))
    assert store.list("items")[0].prompt == "deep?" and store.list("responses")[0].text == "yes"


# ---- bad input: one line naming file, line and field; nothing written ------------------

BAD_JSONL = [
    ('{"prompt": "ok", "response": "r"}\n{"prompt": "ok2", "response": "r"}\n{"prompt": "x", "response": \n',
     r"data\.jsonl, line 3: invalid JSON"),
    ('{"prompt": "ok", "response": "r"}\n{"response": "r"}\n', r"data\.jsonl, line 2: field 'prompt': missing"),
    ('{"prompt": "ok", "response": "r"}\n{"prompt": 12.5, "response": "r"}\n'.replace("12.5", "{\"a\": 1}"),
     r"data\.jsonl, line 2: field 'prompt': expected text or a list of chat messages, got dict"),
    ('{"prompt": "ok", "response": "r"}\n{"prompt": "ok", "response": ["a"]}\n',
     r"data\.jsonl, line 2: field 'response': expected text, got list"),
    ('{"prompt": "ok", "response": "r"}\n\n{"prompt": [{"role": "robot", "content": "x"}], "response": "r"}\n',
     r"data\.jsonl, line 3: field 'prompt\[0\]\.role': role must be one of"),
    ('[1, 2]\n', r"data\.jsonl, line 1: expected a JSON object, got list"),
]


@pytest.mark.parametrize(("content", "message"), BAD_JSONL)
def test_bad_rows_stop_the_import_and_write_nothing(store, tmp_path, content, message):
    p = tmp_path / "data.jsonl"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(BadInput, match=message):
        import_file(store, p, fields=FieldMap(model="m@1"))
    assert store.count("items") == store.count("responses") == store.count("datasets") == 0


def test_invalid_utf8_names_the_line(store, tmp_path):
    p = tmp_path / "data.jsonl"
    p.write_bytes(b'{"prompt": "ok"}\n{"prompt": "caf\xe9"}\n')
    with pytest.raises(BadInput, match=r"data\.jsonl, line 2: invalid UTF-8 \(byte 0xe9"):
        import_file(store, p)
    c = tmp_path / "data.csv"
    c.write_bytes(b"prompt\nok\nfine\ncaf\xe9\n")
    with pytest.raises(BadInput, match=r"data\.csv, line 4: invalid UTF-8"):
        import_file(store, c)
    assert store.count("items") == 0


@pytest.mark.parametrize("name,content", [("empty.jsonl", b""), ("blank.jsonl", b"\n  \n"), ("empty.csv", b""),
                                          ("header.csv", b"prompt,response\n")])
def test_empty_files_are_rejected(store, tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(BadInput, match=rf"{name.replace('.', '[.]')}: empty file"):
        import_file(store, tmp_path / name)


def test_missing_file(store, tmp_path):
    with pytest.raises(BadInput, match=r"nope\.jsonl: no such file"):
        import_file(store, tmp_path / "nope.jsonl")


def test_csv_and_parquet_bad_rows_name_line_and_row(store, tmp_path):
    c = tmp_path / "d.csv"
    c.write_text("prompt,response\nhello,hi\n,missing prompt\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"d\.csv, line 3: field 'prompt': missing"):
        import_file(store, c, fields=FieldMap(model="m@1"))
    p = tmp_path / "d.parquet"
    pd.DataFrame({"prompt": ["a", "b", "c"], "response": ["x", None, "z"]}).to_parquet(p)
    with pytest.raises(BadInput, match=r"d\.parquet, row 2: field 'response': missing"):
        import_file(store, p, fields=FieldMap(model="m@1"))
    assert store.count("items") == 0


def test_a_late_error_rolls_back_earlier_batches(store, tmp_path):
    """Rows are written in batches inside one transaction: an error at the end leaves nothing."""
    p = tmp_path / "big.jsonl"
    lines = [json.dumps({"prompt": f"p{i}", "response": "r"}) for i in range(12_000)] + ['{"prompt": 5}']
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"line 12001: field 'prompt': expected text"):
        import_file(store, p, fields=FieldMap(model="m@1"))
    assert store.count("items") == 0 and store.count("responses") == 0


def test_model_must_be_name_at_version(store, tmp_path):
    p = write(tmp_path, "jsonl", [{"prompt": "a", "response": "b", "model": "gpt4"}])
    with pytest.raises(BadInput, match=r"line 1: field 'model': model 'gpt4' must be written NAME@VERSION"):
        import_file(store, p)
    with pytest.raises(BadInput, match="no model"):
        import_file(store, write(tmp_path, "jsonl", [{"prompt": "a", "response": "b"}]))


def test_an_id_reused_for_another_prompt_is_an_error(store, tmp_path):
    p = write(tmp_path, "jsonl", [{"id": 1, "prompt": "a"}, {"id": 1, "prompt": "b"}])
    with pytest.raises(BadInput, match=r"line 2: field 'id': id '1' is used earlier in this file"):
        import_file(store, p)


def test_skip_invalid_imports_good_rows_and_writes_rejects(store, tmp_path):
    p = tmp_path / "mixed.jsonl"
    p.write_bytes(b'{"prompt": "good1", "response": "r"}\n'
                  b'{"prompt": "bad json"\n'
                  b'{"response": "no prompt"}\n'
                  b'{"prompt": "caf\xe9"}\n'
                  b'{"prompt": "good2", "response": "r"}\n')
    s = import_file(store, p, fields=FieldMap(model="m@1"), on_invalid=OnInvalid(skip=True))
    assert (s.rows, s.items_added, s.responses_added, s.rejected) == (5, 2, 2, 3)
    rejects = [json.loads(x) for x in (tmp_path / "mixed.jsonl.rejects.jsonl").read_text().splitlines()]
    assert [(r["line"], r["field"]) for r in rejects] == [(2, None), (3, "prompt"), (4, None)]
    assert "invalid JSON" in rejects[0]["reason"] and rejects[1]["reason"] == "missing"
    assert "invalid UTF-8" in rejects[2]["reason"] and rejects[1]["row"] == {"response": "no prompt"}
    assert s.rejects_file.endswith("mixed.jsonl.rejects.jsonl")
