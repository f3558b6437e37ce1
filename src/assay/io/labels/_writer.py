"""Writing parsed label rows into the store: prompts and answers matched by content, in one transaction.

An item is the dataset's item with the same prompt (its text, or its chat messages), or,
when the row names an id, the item of that id; otherwise a new item. An answer is the
stored response of the same model to that item with the same text (whatever its sample
index), or a new response with the next free sample index. So labels imported after the
answers attach to the responses already in the store, and importing a file twice adds
nothing: verdict and score ids are digests of what they say and where.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from assay import records as R
from assay.errors import BadInput
from assay.io.importer import OnInvalid, rejects_writer
from assay.io.labels._parsed import Parsed, RaterRef, RowError, content_key
from assay.io.readers import Row, Where, read_rows
from assay.store import Store
from assay.store import tables as T

_BATCH = 2000


@dataclass
class LabelSummary:
    """What an import of labels did."""

    file: str
    source: str
    dataset: str
    rows: int = 0
    items_added: int = 0
    responses_added: int = 0
    comparisons_added: int = 0
    judgments_added: int = 0
    raters_added: int = 0
    duplicates: int = 0  # verdicts and scores that were already stored
    rejected: int = 0
    rejects_file: str | None = None
    skipped: dict[str, int] = field(default_factory=dict)  # parts of rows left out on purpose, by reason
    models: list[str] = field(default_factory=list)
    raters: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class RowReader:
    """Turns source rows into :class:`Parsed` rows; presets and the field mapping subclass it."""

    source = "labels"
    rubrics: tuple[R.Rubric, ...] = ()

    def __call__(self, row: Row) -> Parsed:  # pragma: no cover - abstract
        raise NotImplementedError


def _digest_text(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def rater_record(ref: RaterRef) -> R.Rater:
    """The rater a reference names: ``human:NAME``, or an LLM judge keyed by its name and identity."""
    if ref.kind == "human":
        return R.Rater(id=R.Rater.make_id("human", ref.name), kind="human", name=ref.name)
    return R.Rater(id=R.Rater.make_id("llm", ref.name, "imported", *ref.identity), kind="llm", name=ref.name,
                   config={"imported": True, **({"identity": list(ref.identity)} if ref.identity else {})})


class _Writer:
    """Resolves parsed rows to records against the store (seen through ``conn``) and buffers them."""

    def __init__(self, store: Store, conn: Connection, dataset: str, summary: LabelSummary) -> None:
        self.store, self.conn, self.dataset, self.summary = store, conn, dataset, summary
        self.now = R.utcnow()
        self.item_of_key: dict[str, str] = {}
        self.key_of_item: dict[str, str] = {}
        items = T.items
        for iid, prompt, messages in conn.execute(
                select(items.c.id, items.c.prompt, items.c.messages).where(items.c.dataset == dataset)):
            key = content_key(prompt, messages)
            self.item_of_key.setdefault(key, iid)
            self.key_of_item[iid] = key
        self.stored_items = set(self.key_of_item)
        self.loaded: set[str] = set()  # items whose stored responses are in the maps below
        self.response_of: dict[tuple[str, str, str], str] = {}  # (item, model, text digest) -> response id
        self.next_sample: dict[tuple[str, str], int] = {}
        self.models: set[str] = set()
        self.raters: dict[str, R.Rater] = {}
        self.seen_records: Counter[str] = Counter()  # verdicts and scores so far, by what they say
        self._row_raters: dict[str, R.Rater] = {}  # what the row being added brings, kept if it goes in
        self._row_counts: Counter[str] = Counter()
        self.items: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self.comparisons: list[dict[str, Any]] = []
        self.judgments: list[dict[str, Any]] = []
        self.new_models: list[str] = []
        self.new_raters: list[R.Rater] = []

    # ---- matching ------------------------------------------------------------------

    def _item_id(self, p: Parsed) -> str:
        key = p.content_key()
        if p.external_id is not None:
            iid = R.Item.make_id(self.dataset, p.external_id, None, None)
            if self.key_of_item.get(iid, key) != key:
                raise RowError("id", f"item {p.external_id!r} of dataset {self.dataset!r} is already stored "
                                     "(or earlier in this file) with a different prompt")
            return iid
        return self.item_of_key.get(key) or R.Item.make_id(self.dataset, None, p.prompt, p.messages)

    def load_responses(self, item_ids: Iterable[str]) -> None:
        """Read the stored responses of these items (once per item) so answers match them by text."""
        want = sorted({i for i in item_ids if i in self.stored_items and i not in self.loaded})
        r = T.responses
        for start in range(0, len(want), 900):
            chunk = want[start:start + 900]
            rows = self.conn.execute(select(r.c.id, r.c.item_id, r.c.model, r.c.sample_index, r.c.text)
                                     .where(r.c.item_id.in_(chunk)))
            for rid, iid, model, sample, text in rows:
                self.response_of.setdefault((iid, model, _digest_text(text)), rid)
                k = (iid, model)
                self.next_sample[k] = max(self.next_sample.get(k, 0), int(sample) + 1)
            self.loaded.update(chunk)

    def item_ids(self, parsed: list[Parsed]) -> list[str | None]:
        """Each row's item id, or None where the row's id clashes (reported when the row is added)."""
        out: list[str | None] = []
        for p in parsed:
            try:
                out.append(self._item_id(p))
            except RowError:
                out.append(None)
        return out

    # ---- one row ---------------------------------------------------------------------

    def add(self, p: Parsed) -> None:
        """Buffer the records of one row; RowError (and nothing buffered) when it cannot go in."""
        iid = self._item_id(p)
        key = p.content_key()
        # answers: stored or earlier in this import by text, else the next sample index
        resp_ids: list[str] = []
        fresh: dict[tuple[str, str, str], str] = {}
        taken: dict[tuple[str, str], int] = {}
        new_responses: list[dict[str, Any]] = []
        for a in p.answers:
            k = (iid, a.model, _digest_text(a.text))
            rid = self.response_of.get(k) or fresh.get(k)
            if rid is None:
                sample = taken.get((iid, a.model), self.next_sample.get((iid, a.model), 0))
                taken[(iid, a.model)] = sample + 1
                rid = R.Response.make_id(iid, a.model, sample)
                fresh[k] = rid
                new_responses.append({
                    "id": rid, "item_id": iid, "model": a.model, "sample_index": sample, "text": a.text,
                    "prompt_tokens": None, "completion_tokens": None, "latency_ms": None, "ttft_ms": None,
                    "cost_usd": None, "finish_reason": None, "run_id": None, "metadata": a.metadata,
                    "created_at": self.now})
            resp_ids.append(rid)
        self._row_raters: dict[str, R.Rater] = {}
        self._row_counts: Counter[str] = Counter()
        comparisons = [self._comparison(p, iid, resp_ids, i) for i in range(len(p.verdicts))]
        judgments = [self._judgment(p, resp_ids, i) for i in range(len(p.scores))]
        # nothing failed: keep what the row brought
        for rid, rater in self._row_raters.items():
            if rid not in self.raters:
                self.raters[rid] = rater
                self.new_raters.append(rater)
        self.seen_records.update(self._row_counts)
        if iid not in self.key_of_item:
            self.key_of_item[iid] = key
            self.item_of_key.setdefault(key, iid)
            self.items.append({
                "id": iid, "dataset": self.dataset, "external_id": p.external_id, "prompt": p.prompt,
                "messages": p.messages, "reference": p.reference, "category": p.category, "language": p.language,
                "tags": [], "cluster": None, "metadata": p.metadata})
        self.response_of.update(fresh)
        for (i, m), n in taken.items():
            self.next_sample[(i, m)] = n
        self.responses += new_responses
        for a in p.answers:
            if a.model not in self.models:
                self.models.add(a.model)
                self.new_models.append(a.model)
        self.comparisons += comparisons
        self.judgments += judgments
        for reason in p.skipped:
            self.summary.skipped[reason] = self.summary.skipped.get(reason, 0) + 1

    def _rater(self, ref: RaterRef) -> str:
        rater = rater_record(ref)
        self._row_raters.setdefault(rater.id, rater)
        return rater.id

    def _occurrence(self, base: str) -> str:
        """A record id from ``base``, told apart from earlier records of this import with the same base."""
        n = self.seen_records[base] + self._row_counts[base]
        self._row_counts[base] += 1
        return R.digest(base, n)

    def _comparison(self, p: Parsed, iid: str, resp_ids: list[str], i: int) -> dict[str, Any]:
        v = p.verdicts[i]
        where = f"verdicts[{i}]" if len(p.verdicts) > 1 else None
        ids = [resp_ids[a] for a in v.answers]
        if len(set(ids)) != len(ids):
            raise RowError(where, "the answers compared are one and the same response (same model, same text)")
        rater = self._rater(v.rater)
        shown = [resp_ids[a] for a in v.shown] if v.shown is not None else list(ids)
        base = R.digest("labels", iid, ids, rater, shown, v.key)
        try:
            rec = R.Comparison(
                id=self._occurrence(base), item_id=iid, rater_id=rater, response_ids=ids, shown_order=shown,
                outcome=v.outcome, winner=resp_ids[v.winner] if v.winner is not None else None,
                ranking=[resp_ids[a] for a in v.ranking] if v.ranking else None, strength=v.strength,
                probability=v.probability, justification=v.justification, detail=v.detail,
                created_at=v.created_at or self.now)
        except ValueError as e:
            raise RowError(where, _first_error(e)) from None
        return rec.model_dump()

    def _judgment(self, p: Parsed, resp_ids: list[str], i: int) -> dict[str, Any]:
        s = p.scores[i]
        rater = self._rater(s.rater)
        rid = resp_ids[s.answer]
        base = R.digest("labels", rid, rater, s.rubric, s.dimension)
        try:
            rec = R.Judgment(id=self._occurrence(base), response_id=rid, rater_id=rater, rubric=s.rubric,
                             dimension=s.dimension, value=s.value, label=s.label, justification=s.justification,
                             detail=s.detail, created_at=self.now)
        except ValueError as e:
            raise RowError(f"scores[{i}]", _first_error(e)) from None
        return rec.model_dump()

    # ---- writing -----------------------------------------------------------------------

    def flush(self) -> None:
        s, c = self.store, self.conn
        if self.new_models:
            s.add_rows("models", [R.Model(id=m, provider="none").model_dump() for m in self.new_models], c)
        if self.new_raters:
            self.summary.raters_added += s.add_rows("raters", [r.model_dump() for r in self.new_raters], c)
        self.summary.items_added += s.add_rows("items", self.items, c)
        self.summary.responses_added += s.add_rows("responses", self.responses, c)
        added_c = s.add_rows("comparisons", self.comparisons, c)
        added_j = s.add_rows("judgments", self.judgments, c)
        self.summary.comparisons_added += added_c
        self.summary.judgments_added += added_j
        self.summary.duplicates += len(self.comparisons) + len(self.judgments) - added_c - added_j
        for buf in (self.items, self.responses, self.comparisons, self.judgments, self.new_models, self.new_raters):
            buf.clear()


def _first_error(e: ValueError) -> str:
    errors = getattr(e, "errors", None)
    if callable(errors):
        err = errors()[0]
        loc = ".".join(str(x) for x in err.get("loc", ()))
        msg = str(err.get("msg", e)).removeprefix("Value error, ")
        return f"{loc}: {msg}" if loc else msg
    return str(e)


def _ensure_rubrics(store: Store, conn: Connection, rubrics: Iterable[R.Rubric]) -> None:
    """Store the reader's bundled rubrics (and their first guidelines) unless stored already."""
    for rub in rubrics:
        spec = conn.execute(select(T.rubrics.c.spec).where(T.rubrics.c.name == rub.name,
                                                           T.rubrics.c.version == rub.version)).scalar()
        if spec is not None:
            if R.Rubric.model_validate(spec) != rub:
                raise BadInput(f"rubric {rub.id} is stored with different content than the one this import "
                               "brings: store it under another version")
            continue
        store.add([rub, R.GuidelineVersion(rubric=rub.id, version=1, text=rub.guidelines,
                                           note="initial guidelines")], conn)


def import_labels(
    store: Store,
    path: str | Path,
    reader: RowReader,
    *,
    dataset: str,
    fmt: str | None = None,
    split: str | None = None,
    on_invalid: OnInvalid = OnInvalid(),
    on_progress: Callable[[int], None] | None = None,
) -> LabelSummary:
    """Import one file of labels through ``reader``, as one transaction (see the module docstring).

    A row that cannot be imported raises BadInput naming the file, line (or row) and field;
    with ``on_invalid=OnInvalid(skip=True)`` it is written with its reason to a rejects file
    and the rest goes in.
    """
    path = Path(path)
    summary = LabelSummary(file=str(path), source=reader.source, dataset=dataset)
    rejects = rejects_writer(on_invalid, path.with_name(path.name + ".rejects.jsonl"))
    rows = read_rows(path, fmt=fmt, split=split, on_error=rejects.on_error if rejects else None)

    def fail(where: Where, e: RowError, row: Row) -> None:
        reason = e.reason
        if reason == "missing" and reader.source != "mapped":
            reason = f"missing, and every {reader.source} row has it: is the file in that format?"
        if rejects is None:
            raise BadInput(reason, file=str(path), field=e.field, **{where[0]: where[1]}) from None
        rejects.add(where, e.field, reason, row)

    try:
        with store.transaction() as conn:
            store.add_rows("datasets", [{"name": dataset, "description": "", "source": str(path),
                                         "created_at": R.utcnow()}], conn)
            _ensure_rubrics(store, conn, reader.rubrics)
            w = _Writer(store, conn, dataset, summary)
            batch: list[tuple[Where, Row, Parsed]] = []

            def write() -> None:
                w.load_responses(i for i in w.item_ids([p for _, _, p in batch]) if i)
                for where, row, p in batch:
                    try:
                        w.add(p)
                    except RowError as e:
                        fail(where, e, row)
                batch.clear()
                w.flush()
                if on_progress:
                    on_progress(summary.rows)

            for where, row in rows:
                summary.rows += 1
                try:
                    batch.append((where, row, reader(row)))
                except RowError as e:
                    fail(where, e, row)
                    continue
                if len(batch) >= _BATCH:
                    write()
            write()
    finally:
        if rejects is not None:
            rejects.close()
    summary.models = sorted(w.models)
    summary.raters = sorted(w.raters)
    summary.rejected = rejects.count if rejects else 0
    summary.rows += rejects.unreadable if rejects else 0
    summary.rejects_file = str(rejects.path) if rejects and rejects.count else None
    return summary


def now_or(ts: Any, fieldname: str) -> datetime | None:
    """A Unix timestamp (seconds) as an aware datetime; None when absent."""
    from datetime import timezone

    if ts is None:
        return None
    if isinstance(ts, bool) or not isinstance(ts, (int, float)):
        raise RowError(fieldname, f"expected a Unix time in seconds, got {ts!r}")
    try:
        return datetime.fromtimestamp(float(ts), tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise RowError(fieldname, f"{ts!r} is not a valid Unix time") from None
