"""Every table a store holds, what each row refers to, and the order they can be written in.

``REFERENCES`` lists, per kind, the fields naming a row of another kind: the database's
foreign keys and the references it does not enforce (a judgment's rubric, campaign, run or
the judgment it supersedes). An import checks them all before writing anything, and
``dependency_order`` writes referenced kinds first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, Table, select

from assay.store import tables as T

_ALL: dict[str, Table] = {**T.TABLES, **T.APP_TABLES, "run_units": T.run_units, "request_cache": T.request_cache}


def table_of(kind: str) -> Table:
    """The table of a record kind (``judgments``) or of a bookkeeping table (``users``, ``run_units``)."""
    return _ALL[kind]


def all_kinds() -> list[str]:
    return list(_ALL)


@dataclass(frozen=True)
class Ref:
    """``field`` of a row names a row of ``kind`` by its ``column`` (a list of names when ``many``)."""

    field: str
    kind: str
    column: str = "id"
    many: bool = False


RUBRIC = "rubrics"  # referred to as "name@version", the table's two key columns joined

REFERENCES: dict[str, tuple[Ref, ...]] = {
    "items": (Ref("dataset", "datasets", "name"),),
    "responses": (Ref("item_id", "items"), Ref("model", "models"), Ref("run_id", "runs")),
    "guidelines": (Ref("rubric", RUBRIC), Ref("edge_case_id", "edge_cases")),
    "judgments": (Ref("response_id", "responses"), Ref("rater_id", "raters"), Ref("rubric", RUBRIC),
                  Ref("run_id", "runs"), Ref("campaign_id", "campaigns"), Ref("assignment_id", "assignments"),
                  Ref("supersedes", "judgments")),
    "comparisons": (Ref("item_id", "items"), Ref("rater_id", "raters"), Ref("response_ids", "responses", many=True),
                    Ref("rubric", RUBRIC), Ref("run_id", "runs"), Ref("campaign_id", "campaigns"),
                    Ref("assignment_id", "assignments"), Ref("supersedes", "comparisons")),
    "campaigns": (Ref("rubric", RUBRIC),),
    "assignments": (Ref("campaign_id", "campaigns"), Ref("rater_id", "raters"),
                    Ref("response_ids", "responses", many=True)),
    "edge_cases": (Ref("rubric", RUBRIC), Ref("response_id", "responses"), Ref("item_id", "items"),
                   Ref("campaign_id", "campaigns")),
    "attempts": (Ref("behavior_id", "items"), Ref("item_id", "items"), Ref("response_id", "responses"),
                 Ref("parent_id", "attempts"), Ref("run_id", "runs")),
    "library": (Ref("examples", "responses", many=True),),
    "curation_log": (Ref("run_id", "runs"), Ref("source", "datasets", "name"), Ref("target", "datasets", "name"),
                     Ref("item_id", "items"), Ref("related_id", "items"), Ref("new_item_id", "items")),
    "run_units": (Ref("run_id", "runs"),),
    "users": (Ref("rater_id", "raters"),),
    "app_sessions": (Ref("user_name", "users", "name"),),
    "campaign_units": (Ref("campaign_id", "campaigns"), Ref("item_id", "items"),
                       Ref("response_ids", "responses", many=True)),
    "campaign_frame": (Ref("campaign_id", "campaigns"), Ref("item_id", "items")),
    "unit_claims": (Ref("campaign_id", "campaigns"), Ref("rater_id", "raters"), Ref("assignment_id", "assignments")),
    "campaign_members": (Ref("campaign_id", "campaigns"), Ref("rater_id", "raters")),
    "gold_answers": (Ref("campaign_id", "campaigns"), Ref("winner", "responses")),
    "submissions": (Ref("assignment_id", "assignments"), Ref("campaign_id", "campaigns"), Ref("rater_id", "raters")),
    "skips": (Ref("assignment_id", "assignments"), Ref("campaign_id", "campaigns"), Ref("rater_id", "raters")),
}


def dependency_order(kinds: Iterable[str]) -> list[str]:
    """``kinds`` ordered so that every kind comes after the kinds it refers to (ties: table order)."""
    given = set(kinds)
    wanted = [k for k in _ALL if k in given]
    done: list[str] = []
    pending = list(wanted)
    while pending:
        for k in pending:
            needs = {r.kind for r in REFERENCES.get(k, ())} & set(wanted)
            if needs <= set(done) | {k}:
                done.append(k)
                pending.remove(k)
                break
        else:  # pragma: no cover - REFERENCES has no cycle; a new one must be broken by hand
            raise ValueError(f"references among {pending} form a cycle")
    return done


def key_of(kind: str, row: dict) -> str | None:
    """The value other rows use to name this row (None for kinds nothing refers to by one column)."""
    if kind == RUBRIC:
        return f"{row['name']}@{row['version']}"
    cols = [c.name for c in table_of(kind).primary_key.columns]
    return str(row[cols[0]]) if len(cols) == 1 else None


def rubric_specs(conn: Connection, ids: Iterable[str]) -> dict[str, dict]:
    """The stored specs of the rubrics among ``ids`` (``name@version``), by id."""
    wanted = set(ids)
    names = sorted({i.rpartition("@")[0] for i in wanted})
    t = T.rubrics
    out = {}
    for start in range(0, len(names), 500):
        for name, version, spec in conn.execute(select(t.c.name, t.c.version, t.c.spec)
                                                .where(t.c.name.in_(names[start:start + 500]))):
            if f"{name}@{version}" in wanted:
                out[f"{name}@{version}"] = spec
    return out


def existing(conn: Connection, kind: str, column: str, values: Iterable[str]) -> set[str]:
    """Which of ``values`` name a stored row of ``kind`` (by ``column``; rubrics by ``name@version``)."""
    values = list(values)
    if kind == RUBRIC:
        return set(rubric_specs(conn, values))
    found: set[str] = set()
    col = table_of(kind).c[column]
    for start in range(0, len(values), 1000):
        found.update(conn.execute(select(col).where(col.in_(values[start:start + 1000]))).scalars())
    return found
