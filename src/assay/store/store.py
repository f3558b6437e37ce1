"""The store: the only place that talks SQL. Records in, records (or DataFrames) out."""

from __future__ import annotations

import builtins
import functools
import operator
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar, overload

import orjson
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.engine import make_url

from assay import records as R
from assay.errors import AssayError, NotFound
from assay.store import tables as T
from assay.store.engine import make_engine, migrate, opening, resolve_url
from assay.store.kinds import table_of

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

_TS_COLUMNS = {
    name: [c.name for c in table.columns if isinstance(c.type, type(T.TS))] for name, table in T.TABLES.items()
}
_BATCH = 5000
_ID_CHUNK = 500  # ids per IN (...) of a read: well under SQLite's limit of bound values

RecordT = TypeVar("RecordT", bound=R.Record)
Kind = str | type[R.Record]
"""A record kind: its table name (``"judgments"``) or its record class (``R.Judgment``)."""


def kind_name(kind: Kind) -> str:
    """The table name of a kind given by name or by record class."""
    if isinstance(kind, str):
        return kind
    try:
        return R.KIND_OF[kind]
    except KeyError:
        raise AssayError(f"{kind.__name__} records are not stored in tables of their own") from None


def _json_text(v: Any) -> str | None:
    if v is None:
        return None
    if not v and isinstance(v, (list, dict)):
        return "[]" if isinstance(v, list) else "{}"
    return orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()


def _sqlite_ts(v: datetime | None) -> str | None:
    """The text SQLAlchemy's SQLite DateTime type writes (UTC, microseconds always present)."""
    if v is None:
        return None
    if v.tzinfo is not None:
        v = v.astimezone(timezone.utc).replace(tzinfo=None)
    return v.isoformat(sep=" ", timespec="microseconds")


def _in_memory(url: str) -> bool:
    u = make_url(url)
    return u.get_backend_name() == "sqlite" and (not u.database or u.database == ":memory:")


# SQLite's file locks belong to the process, and the ADBC driver brings a SQLite library of its
# own: two libraries in one process on one file release each other's locks (SQLite's "multiple
# copies" hazard: "disk I/O error", or worse). So a SQLite store is read by ADBC in a child
# process, which streams the Arrow batches back (Arrow IPC on a pipe; ~0.3 s to start).
_SQLITE_READER = """
import sys
import adbc_driver_sqlite.dbapi as driver
import pyarrow as pa
import pyarrow.compute as pc
sql = sys.stdin.read()
encode = set(sys.argv[2].split(",")) - {""}
with driver.connect(sys.argv[1]) as conn:
    cur = conn.cursor()
    # one batch: the driver infers each column's type from its first batch, and a text column
    # whose first rows are NULL would be taken for integers and fail on the first string
    cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": "1000000000"})
    cur.execute(sql)
    batches = cur.fetch_record_batch()
    out = None
    for batch in batches:
        names, cols = batch.schema.names, batch.columns
        del batch  # so each column's buffers go as soon as it is encoded
        for i, name in enumerate(names):
            if name in encode:
                cols[i] = pc.dictionary_encode(cols[i])
        batch = pa.RecordBatch.from_arrays(cols, names=names)
        del cols
        out = out or pa.ipc.new_stream(sys.stdout.buffer, batch.schema)
        out.write_batch(batch)
    (out or pa.ipc.new_stream(sys.stdout.buffer, batches.schema)).close()
"""


def _encode(table: pa.Table, names: Sequence[str]) -> pa.Table:
    """These columns dictionary-encoded (chunks with one dictionary)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for name in names:
        i = table.schema.get_field_index(name)
        if i >= 0 and not pa.types.is_dictionary(table.schema.field(i).type):
            col = table.column(i)
            if pa.types.is_nested(col.type):  # JSON read in memory comes as lists: left as they are
                continue
            if isinstance(col.type, pa.BaseExtensionType):  # PostgreSQL's json: arrow.json over text
                col = pa.chunked_array([c.storage for c in col.chunks], col.type.storage_type)
            table = table.set_column(i, name, pc.dictionary_encode(col))
    return table.unify_dictionaries()


def _read_sqlite(path: str, sql: str, dictionary: Sequence[str] = ()) -> pa.Table:
    import subprocess
    import sys
    import tempfile

    import pyarrow as pa

    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-c", _SQLITE_READER, path, ",".join(dictionary)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=err)
        stdin = proc.stdin
        assert stdin is not None, "opened with stdin=PIPE"
        try:
            stdin.write(sql.encode())
            stdin.close()
            try:
                table = pa.ipc.open_stream(proc.stdout).read_all()
            except pa.ArrowInvalid:
                table = None  # the reader failed before writing: its message says why
        finally:
            code = proc.wait()
        if code != 0 or table is None:
            err.seek(0)
            lines = err.read().decode(errors="replace").strip().splitlines()
            raise AssayError(f"reading {path} as columns failed: {lines[-1] if lines else f'exit {code}'}")
    return table


def _declared_types(table: pa.Table, stmt: Any) -> pa.Table:
    """SQLite's columns as their declared types where the values left the type open (all NULL: int64)."""
    import pyarrow as pa
    from sqlalchemy import JSON, DateTime, Float, String

    for i, col in enumerate(stmt.selected_columns):
        if i >= table.num_columns or table.column(i).null_count != table.num_rows:
            continue
        kind = col.type
        want = (pa.string() if isinstance(kind, (String, JSON, DateTime)) else
                pa.float64() if isinstance(kind, Float) else None)
        if want is not None and table.schema.field(i).type != want:
            table = table.set_column(i, table.schema.field(i).name, pa.nulls(table.num_rows, want))
    return table


def _postgres_read(url: str, sql: str, dictionary: Sequence[str] = ()) -> pa.Table:
    import adbc_driver_postgresql.dbapi as driver
    import pyarrow as pa

    u = make_url(url)
    schema = u.query.get("schema")
    plain = u.difference_update_query(["schema"]).set(drivername="postgresql")
    with driver.connect(plain.render_as_string(hide_password=False)) as conn:
        cur = conn.cursor()
        try:
            if schema:
                cur.execute(f'SET search_path TO "{schema}"')
            cur.execute(sql)
            if not dictionary:
                return cur.fetch_arrow_table()
            reader = cur.fetch_record_batch()  # encoded a batch at a time: the texts are never all held
            parts = [_encode(pa.Table.from_batches([b]), dictionary) for b in reader]
            return _encode(pa.concat_tables(parts) if parts else reader.schema.empty_table(), dictionary)
        finally:
            cur.close()


def _key_columns(kind: str) -> list[str]:
    return [c.name for c in table_of(kind).primary_key.columns]


def to_row(kind: str, record: R.Record) -> dict[str, Any]:
    """The table row of a record."""
    if kind == "rubrics":
        if not isinstance(record, R.Rubric):
            raise TypeError(f"a rubrics row is made from a Rubric, not a {type(record).__name__}")
        return {"name": record.name, "version": record.version, "spec": record.model_dump(mode="json")}
    return record.model_dump()


@overload
def from_row(kind: type[RecordT], row: dict[str, Any]) -> RecordT: ...
@overload
def from_row(kind: str, row: dict[str, Any]) -> R.Record: ...


def from_row(kind: Kind, row: dict[str, Any]) -> R.Record:
    """The record of a table row (timestamps read back as UTC)."""
    kind = kind_name(kind)
    if kind == "rubrics":
        return R.Rubric.model_validate(row["spec"])
    for col in _TS_COLUMNS[kind]:
        v = row.get(col)
        if v is not None and v.tzinfo is None:
            row[col] = v.replace(tzinfo=timezone.utc)
    return R.KINDS[kind].model_validate(row)


class Store:
    """A handle on one assay store (SQLite file or PostgreSQL database), migrated on open."""

    def __init__(self, url: str | None = None, *, engine: Engine | None = None, create: bool = True) -> None:
        self.url = resolve_url(url)
        self.engine = engine or make_engine(self.url)
        if create:
            with opening(self.url):  # the first connection: an unreachable or wrong store fails here
                migrate(self.engine)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def describe(self) -> str:
        u = make_url(self.url)
        if self.backend == "sqlite":
            return f"sqlite:{u.database}"
        return u.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: everything written inside commits together or not at all."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _conn(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self.engine.begin() as c:
                yield c

    # ---- writing --------------------------------------------------------------------

    def _bulk_insert(self, c: Connection, kind: str, rows: Sequence[dict[str, Any]]) -> int:
        """INSERT ... ON CONFLICT DO NOTHING through the driver's executemany; returns rows inserted.

        Values are converted here, column by column, rather than by SQLAlchemy's per-row
        processors: the import of a million responses spends its time in this loop.
        """
        table = table_of(kind)
        sqlite = self.backend == "sqlite"
        names = [col.name for col in table.columns]
        convert = []
        for i, col in enumerate(table.columns):
            if isinstance(col.type, T.JSON):
                convert.append((i, _json_text))
            elif sqlite and isinstance(col.type, type(T.TS)):
                convert.append((i, functools.lru_cache(maxsize=64)(_sqlite_ts)))  # bulk rows share timestamps
        mark = "?" if sqlite else "%s"
        quoted = ", ".join(f'"{name}"' for name in names)
        sql = (f'INSERT INTO "{table.name}" ({quoted}) VALUES ({", ".join([mark] * len(names))}) '
               "ON CONFLICT DO NOTHING")
        getter = operator.itemgetter(*names)
        params = []
        for r in rows:
            try:
                vals = list(getter(r))
            except KeyError:  # a row without some optional column
                vals = [r.get(n) for n in names]
            for i, f in convert:
                vals[i] = f(vals[i])
            params.append(tuple(vals))
        return c.exec_driver_sql(sql, params).rowcount

    def add_rows(self, kind: Kind, rows: Sequence[dict[str, Any]], conn: Connection | None = None) -> int:
        """Insert rows whose key is not yet stored (others are left as they are); return how many were new."""
        if not rows:
            return 0
        kind = kind_name(kind)
        added = 0
        with self._conn(conn) as c:
            for start in range(0, len(rows), _BATCH):
                added += self._bulk_insert(c, kind, rows[start : start + _BATCH])
        return added

    def add(self, records: Iterable[R.Record], conn: Connection | None = None) -> int:
        """Insert records not yet stored (by id); return how many were new."""
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for rec in records:
            kind = R.KIND_OF[type(rec)]
            by_kind.setdefault(kind, []).append(to_row(kind, rec))
        with self._conn(conn) as c:
            return sum(self.add_rows(kind, rows, c) for kind, rows in by_kind.items())

    def update(self, kind: Kind, key: Any, conn: Connection | None = None, **values: Any) -> None:
        """Change bookkeeping fields of a mutable record (runs, assignments, campaigns, edge cases)."""
        kind = kind_name(kind)
        if kind not in {"runs", "assignments", "campaigns", "edge_cases"}:
            raise AssayError(f"{kind} are immutable: write a new record that supersedes the old one")
        table = T.TABLES[kind]
        with self._conn(conn) as c:
            c.execute(table.update().where(table.c[_key_columns(kind)[0]] == key).values(**values))

    # ---- reading --------------------------------------------------------------------

    def _get_row(self, c: Connection, kind: str, key: tuple) -> dict[str, Any] | None:
        table = T.TABLES[kind]
        cond = [table.c[k] == v for k, v in zip(_key_columns(kind), key)]
        row = c.execute(select(table).where(*cond)).mappings().first()
        return dict(row) if row else None

    @overload
    def get(self, kind: type[RecordT], *key: Any) -> RecordT: ...
    @overload
    def get(self, kind: str, *key: Any) -> R.Record: ...

    def get(self, kind: Kind, *key: Any) -> R.Record:
        """The record with this key (rubrics: name, version); NotFound if absent.

        ``kind`` is the record class (``store.get(R.Judgment, id)`` is typed as a judgment)
        or its table name (``"judgments"``).
        """
        kind = kind_name(kind)
        with self.engine.connect() as c:
            row = self._get_row(c, kind, key)
        if row is None:
            raise NotFound(f"no {kind[:-1].replace('_', ' ')} {'@'.join(map(str, key))!r} in the store")
        return from_row(kind, row)

    @overload
    def find(self, kind: type[RecordT], *key: Any) -> RecordT | None: ...
    @overload
    def find(self, kind: str, *key: Any) -> R.Record | None: ...

    def find(self, kind: Kind, *key: Any) -> R.Record | None:
        """The record with this key, or None."""
        try:
            return self.get(kind, *key)
        except NotFound:
            return None

    def _select(self, kind: Kind, filters: dict[str, Any]):  # noqa: ANN202
        kind = kind_name(kind)
        table = table_of(kind)
        stmt = select(table)
        for col, val in filters.items():
            if val is None:
                continue
            if col not in table.c:
                raise AssayError(f"{kind} cannot be filtered by {col!r}")
            if isinstance(val, (list, tuple, set, frozenset)):
                stmt = stmt.where(table.c[col].in_(list(val)))
            else:
                stmt = stmt.where(table.c[col] == val)
        return stmt.order_by(*[table.c[k] for k in _key_columns(kind)])

    def rows(self, kind: Kind, **filters: Any) -> Iterator[dict[str, Any]]:
        """Raw table rows, streamed, in key order; filters are column == value (or IN a list)."""
        with self.engine.connect() as c:
            result = c.execution_options(yield_per=5000).execute(self._select(kind, filters))
            for row in result.mappings():
                yield dict(row)

    @overload
    def iter(self, kind: type[RecordT], **filters: Any) -> Iterator[RecordT]: ...
    @overload
    def iter(self, kind: str, **filters: Any) -> Iterator[R.Record]: ...

    def iter(self, kind: Kind, **filters: Any) -> Iterator[Any]:
        """Records of one kind, streamed in key order (filters as for ``rows``)."""
        kind = kind_name(kind)
        for row in self.rows(kind, **filters):
            yield from_row(kind, row)

    @overload
    def list(self, kind: type[RecordT], **filters: Any) -> builtins.list[RecordT]: ...
    @overload
    def list(self, kind: str, **filters: Any) -> builtins.list[R.Record]: ...

    def list(self, kind: Kind, **filters: Any) -> builtins.list[Any]:
        """Records of one kind in key order, as a list."""
        return builtins.list(self.iter(kind, **filters))

    def by_id(self, kind: type[RecordT], ids: Iterable[str]) -> dict[str, RecordT]:
        """The stored records of ``kind`` among ``ids``, by id (ids not stored are left out), read in chunks."""
        wanted = sorted(set(ids))
        name = kind_name(kind)
        out: dict[str, RecordT] = {}
        for start in range(0, len(wanted), _ID_CHUNK):
            for row in self.rows(name, id=wanted[start:start + _ID_CHUNK]):
                out[row["id"]] = from_row(kind, row)
        return out

    def count(self, kind: Kind, **filters: Any) -> int:
        sub = self._select(kind, filters).order_by(None).subquery()
        with self.engine.connect() as c:
            return c.execute(select(func.count()).select_from(sub)).scalar_one()

    def frame(self, kind: Kind, **filters: Any) -> pd.DataFrame:
        """Records of one kind as a pandas DataFrame (one column per field)."""
        import pandas as pd

        kind = kind_name(kind)
        if kind == "rubrics":
            return pd.DataFrame([r.model_dump(mode="json") for r in self.iter(kind, **filters)])
        cols = [c.name for c in T.TABLES[kind].columns]
        df = pd.DataFrame.from_records(list(self.rows(kind, **filters)), columns=cols)
        for col in _TS_COLUMNS[kind]:
            df[col] = pd.to_datetime(df[col], utc=True)
        return df

    def columns(self, kind: Kind, names: Sequence[str], **filters: Any) -> pd.DataFrame:
        """Some columns of a kind's table as a DataFrame (cheap where ``frame`` would read texts)."""
        import pandas as pd

        table = T.TABLES[kind_name(kind)]
        stmt = self._select(kind, filters).with_only_columns(*[table.c[n] for n in names])
        with self.engine.connect() as c:
            return pd.DataFrame.from_records(list(c.execute(stmt)), columns=list(names))

    def arrow(self, kind: Kind, names: Sequence[str], **filters: Any) -> pa.Table:
        """Some columns of a kind's table as an Arrow table, read by the ADBC driver (columnar: no object per row).

        Filters as for ``rows``; rows in no particular order (sorting millions of rows by key
        in the database costs more than the read). Timestamps come as the store keeps them
        (text on SQLite), JSON columns as their text. For the analyses of millions of rows.
        """
        table = T.TABLES[kind_name(kind)]
        return self.arrow_select(self._select(kind, filters).with_only_columns(*[table.c[n] for n in names])
                                 .order_by(None))

    def arrow_select(self, stmt: Any, *, dictionary: Sequence[str] = ()) -> pa.Table:
        """The rows of a SQLAlchemy ``select`` (of this store's tables) as an Arrow table, read by ADBC.

        Its parameters are rendered into the SQL by the dialect's own quoting (ADBC drivers
        differ in their parameter styles): values, not code, as with bound parameters.
        The columns named in ``dictionary`` come dictionary-encoded (each distinct value
        once, an integer per row), encoded as they are read: ids repeated over millions of
        rows then cost a few bytes a row, not their text.
        """
        if _in_memory(self.url):  # no file for a second connection to open: the rows, made columns
            import pyarrow as pa

            with self.engine.connect() as c:
                result = c.execute(stmt)
                names = list(result.keys())
                rows = result.all()
            return _encode(pa.table({n: [row[i] for row in rows] for i, n in enumerate(names)}), dictionary)
        sql = str(stmt.compile(dialect=self.engine.dialect, compile_kwargs={"literal_binds": True}))
        if self.backend == "sqlite":
            table = _declared_types(_read_sqlite(str(make_url(self.url).database), sql, dictionary), stmt)
            return _encode(table, dictionary) if dictionary else table
        return _postgres_read(self.url, sql, dictionary)

    def group_counts(self, kind: Kind, column: str) -> dict[Any, int]:
        table = T.TABLES[kind_name(kind)]
        stmt = select(table.c[column], func.count()).group_by(table.c[column]).order_by(table.c[column])
        with self.engine.connect() as c:
            return {k: n for k, n in c.execute(stmt)}

    def summary(self) -> dict[str, Any]:
        """Counts per dataset, model, rubric and rater kind (what `assay ls` shows)."""
        join = (select(T.items.c.dataset, func.count()).select_from(T.responses.join(T.items))
                .group_by(T.items.c.dataset))
        with self.engine.connect() as c:
            resp_by_ds = dict(c.execute(join).all())
        items = self.group_counts("items", "dataset")
        resp_by_model = self.group_counts("responses", "model")
        judg_by_rubric = self.group_counts("judgments", "rubric")
        return {
            "store": self.describe(),
            "datasets": [{"dataset": d.name, "items": items.get(d.name, 0), "responses": resp_by_ds.get(d.name, 0)}
                         for d in self.iter(R.Dataset)],
            "models": [{"model": m.id, "responses": resp_by_model.get(m.id, 0)}
                       for m in self.iter(R.Model)],
            "rubrics": [{"rubric": r.id, "dimensions": len(r.dimensions), "judgments": judg_by_rubric.get(r.id, 0)}
                        for r in self.iter(R.Rubric)],
            "raters": self.group_counts("raters", "kind"),
            "totals": {k: self.count(k) for k in ("items", "responses", "judgments", "comparisons", "runs")},
        }

    # ---- rubrics --------------------------------------------------------------------

    def rubric(self, ref: str) -> R.Rubric:
        """A stored rubric by ``name`` (newest version) or ``name@version``."""
        name, _, version = ref.partition("@")
        table = T.rubrics
        stmt = select(table.c.spec).where(table.c.name == name)
        if version:
            stmt = stmt.where(table.c.version == int(version))
        stmt = stmt.order_by(table.c.version.desc()).limit(1)
        with self.engine.connect() as c:
            spec = c.execute(stmt).scalar_one_or_none()
        if spec is None:
            raise NotFound(f"no rubric {ref!r} in the store (add it with `assay rubric add FILE`)")
        return R.Rubric.model_validate(spec)

    def guideline(self, rubric_id: str, version: int | None = None) -> R.GuidelineVersion | None:
        """A rubric's guideline version (the newest when ``version`` is None)."""
        table = T.guidelines
        stmt = select(table).where(table.c.rubric == rubric_id)
        if version is not None:
            stmt = stmt.where(table.c.version == version)
        stmt = stmt.order_by(table.c.version.desc()).limit(1)
        with self.engine.connect() as c:
            row = c.execute(stmt).mappings().first()
        return from_row(R.GuidelineVersion, dict(row)) if row else None
