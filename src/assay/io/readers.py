"""Readers for JSONL, JSON, CSV, Parquet and HuggingFace datasets saved to disk.

Each reader yields ``(where, row)``: ``where`` is ``("line", n)`` for text formats and
``("row", n)`` for columnar ones (1-based), so an error can name the exact place.
Bad bytes, bad JSON, empty files and values no store may hold (see :mod:`assay.io.guard`:
NUL characters, lone surrogates, NaN or Infinity, nesting deeper than 64) raise
:class:`BadInput` naming file, line and field.
"""

from __future__ import annotations

import csv
import io
import json

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from assay.errors import BadInput
from assay.io.guard import Unsafe, check_row, needs_check, parse

Where = tuple[str, int]
Row = dict[str, Any]

FORMATS = ("jsonl", "json", "csv", "parquet", "hf")


def detect_format(path: Path) -> str:
    """The format of ``path`` from its suffix (a directory is a HuggingFace dataset)."""
    if path.is_dir():
        return "hf"
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json":
        return "json"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise BadInput("unknown file type: use .jsonl, .json, .csv, .parquet or a saved HuggingFace dataset folder",
                   file=str(path))


def _line_of_byte(data: bytes, pos: int) -> int:
    return data.count(b"\n", 0, pos) + 1


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadInput(f"invalid UTF-8 (byte {e.object[e.start]:#04x} at offset {e.start})", file=name,
                       line=_line_of_byte(data, e.start)) from None


OnError = Callable[[BadInput], None] | None


def _json_error(e: json.JSONDecodeError) -> str:
    # some of json's messages end in "at" ("Invalid control character at"): say it once
    return f"invalid JSON: {e.msg.removesuffix(' at')} at column {e.colno}"


def _unsafe(e: Unsafe, name: str, where: Where) -> BadInput:
    return BadInput(e.reason, file=name, field=e.path, **{where[0]: where[1]})


def _fail(on_error: OnError, err: BadInput) -> None:
    """Raise ``err``, or hand it to ``on_error`` (which records it) so reading goes on."""
    if on_error is None:
        raise err
    on_error(err)


def read_jsonl(path: Path, on_error: OnError = None) -> Iterator[tuple[Where, Row]]:
    name = str(path)
    n_rows = 0
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                n_rows += 1
                _fail(on_error, BadInput(f"invalid UTF-8 (byte {raw[e.start]:#04x} at column {e.start + 1})",
                                         file=name, line=lineno))
                continue
            if not text.strip():
                continue
            n_rows += 1
            try:
                row = orjson.loads(raw)
                checked = not needs_check(raw, row)
            except orjson.JSONDecodeError:
                # the standard library accepts more (huge integers; also NaN, lone surrogates, which
                # check_row then refuses by name) and says where and why
                checked = False
                try:
                    row = parse(text)
                except json.JSONDecodeError as e:
                    _fail(on_error, BadInput(_json_error(e), file=name, line=lineno))
                    continue
                except Unsafe as e:
                    _fail(on_error, _unsafe(e, name, ("line", lineno)))
                    continue
            if not isinstance(row, dict):
                _fail(on_error, BadInput(f"expected a JSON object, got {type(row).__name__}", file=name, line=lineno))
                continue
            if not checked:
                try:
                    check_row(row)
                except Unsafe as e:
                    _fail(on_error, _unsafe(e, name, ("line", lineno)))
                    continue
            yield ("line", lineno), row
    if n_rows == 0:
        raise BadInput("empty file: no rows to import", file=name)


def read_json(path: Path) -> Iterator[tuple[Where, Row]]:
    name = str(path)
    text = _decode(path.read_bytes(), name)
    if not text.strip():
        raise BadInput("empty file: no rows to import", file=name)
    try:
        data = parse(text)
    except json.JSONDecodeError as e:
        raise BadInput(_json_error(e), file=name, line=e.lineno) from None
    except Unsafe as e:
        raise BadInput(e.reason, file=name) from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise BadInput("expected a JSON array of objects", file=name)
    if not data:
        raise BadInput("empty file: no rows to import", file=name)
    for i, row in enumerate(data, start=1):
        if not isinstance(row, dict):
            raise BadInput(f"expected a JSON object, got {type(row).__name__}", file=name, row=i)
        try:
            check_row(row)
        except Unsafe as e:
            raise _unsafe(e, name, ("row", i)) from None
        yield ("row", i), row


def _decode_lines(data: bytes, name: str, on_error: OnError) -> str:
    """Decode CSV bytes; with ``on_error``, lines with bad bytes are reported and dropped."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        if on_error is None:
            return _decode(data, name)
    out = []
    for lineno, raw in enumerate(data.splitlines(keepends=True), start=1):
        try:
            out.append(raw.decode("utf-8-sig" if lineno == 1 else "utf-8"))
        except UnicodeDecodeError as e:
            on_error(BadInput(f"invalid UTF-8 (byte {raw[e.start]:#04x} at column {e.start + 1})", file=name,
                              line=lineno))
            out.append("\n")  # keep line numbers of later rows right
    return "".join(out)


def read_csv(path: Path, on_error: OnError = None) -> Iterator[tuple[Where, Row]]:
    name = str(path)
    text = _decode_lines(path.read_bytes(), name, on_error)
    if not text.strip():
        raise BadInput("empty file: no header and no rows", file=name)
    has_nul = "\x00" in text  # the only thing decoded CSV text can hold that a store cannot
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except csv.Error as e:
        raise BadInput(f"unreadable CSV: {e}", file=name, line=1) from None
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise BadInput(f"duplicate column names {dup}", file=name, line=1)
    n_rows = 0
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise BadInput(f"unreadable CSV: {e}", file=name, line=start) from None
        if not cells or all(not c.strip() for c in cells):
            start = reader.line_num + 1
            continue
        n_rows += 1
        if len(cells) != len(header):
            _fail(on_error, BadInput(f"expected {len(header)} columns, found {len(cells)}", file=name, line=start))
            start = reader.line_num + 1
            continue
        # An empty CSV cell means "no value".
        row = {h: (c if c != "" else None) for h, c in zip(header, cells)}
        if has_nul:
            try:
                check_row(row)
            except Unsafe as e:
                _fail(on_error, _unsafe(e, name, ("line", start)))
                start = reader.line_num + 1
                continue
        yield ("line", start), row
        start = reader.line_num + 1
    if n_rows == 0:
        raise BadInput("empty file: a header but no rows", file=name)


def read_parquet(path: Path, on_error: OnError = None) -> Iterator[tuple[Where, Row]]:
    import pyarrow.parquet as pq

    name = str(path)
    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise BadInput(f"not a readable Parquet file: {str(e).splitlines()[0]}", file=name) from None
    yield from _arrow_batches(pf.iter_batches(batch_size=20_000), name, on_error)


def _arrow_batches(batches, name: str, on_error: OnError) -> Iterator[tuple[Where, Row]]:  # noqa: ANN001
    n = 0
    for batch in batches:
        for row in batch.to_pylist():
            n += 1
            try:
                check_row(row)  # Arrow strings are valid UTF-8, but may hold NUL; floats may be NaN
            except Unsafe as e:
                _fail(on_error, _unsafe(e, name, ("row", n)))
                continue
            yield ("row", n), row
    if n == 0:
        raise BadInput("empty file: no rows to import", file=name)


def read_hf(path: Path, *, split: str | None = None, on_error: OnError = None) -> Iterator[tuple[Where, Row]]:
    """A dataset written by ``datasets.Dataset.save_to_disk`` (or a DatasetDict, choosing ``split``).

    Read with pyarrow from the saved Arrow files, so importing needs no ``datasets`` install.
    """
    import pyarrow as pa

    name = str(path)
    if (path / "dataset_dict.json").exists():
        splits = json.loads((path / "dataset_dict.json").read_text())["splits"]
        if split is None:
            if len(splits) != 1 and "train" not in splits:
                raise BadInput(f"a DatasetDict with splits {splits}: choose one with --split", file=name)
            split = splits[0] if len(splits) == 1 else "train"
        if split not in splits:
            raise BadInput(f"no split {split!r}; splits are {splits}", file=name)
        path = path / split
    state_file = path / "state.json"
    if not state_file.exists():
        raise BadInput("not a saved HuggingFace dataset (no state.json or dataset_dict.json)", file=name)
    files = [f["filename"] for f in json.loads(state_file.read_text()).get("_data_files", [])]

    def batches():  # noqa: ANN202
        for fname in files:
            with pa.memory_map(str(path / fname)) as source:
                try:
                    reader = pa.ipc.open_stream(source)
                except pa.ArrowInvalid:
                    reader = pa.ipc.open_file(source)
                    for i in range(reader.num_record_batches):
                        yield reader.get_batch(i)
                    continue
                yield from reader

    yield from _arrow_batches(batches(), name, on_error)


def read_rows(path: str | Path, *, fmt: str | None = None, split: str | None = None,
              on_error: OnError = None) -> Iterator[tuple[Where, Row]]:
    """Rows of a file in any supported format, each with where it came from.

    A row that cannot be read raises BadInput, or with ``on_error`` is handed to it and skipped.
    """
    path = Path(path)
    if not path.exists():
        raise BadInput("no such file", file=str(path))
    fmt = fmt or detect_format(path)
    if fmt == "jsonl":
        return read_jsonl(path, on_error)
    if fmt == "json":
        return read_json(path)
    if fmt == "csv":
        return read_csv(path, on_error)
    if fmt == "parquet":
        return read_parquet(path, on_error)
    if fmt == "hf":
        return read_hf(path, split=split, on_error=on_error)
    raise BadInput(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}", file=str(path))
