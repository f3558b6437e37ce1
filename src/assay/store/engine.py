"""Opening a store: URL resolution, SQLite pragmas, PostgreSQL schemas, migrations."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.engine import URL, make_url

from assay.errors import StoreUnavailable

DEFAULT_URL = "sqlite:///assay.db"
MIGRATIONS = Path(__file__).parent / "migrations"


def resolve_url(url: str | None = None) -> str:
    """The store URL: the argument, else ``ASSAY_DATABASE_URL``, else ``./assay.db``.

    A bare path is a SQLite file; ``postgresql://`` uses the psycopg (3) driver.
    """
    url = url or os.environ.get("ASSAY_DATABASE_URL") or DEFAULT_URL
    if "://" not in url:
        url = f"sqlite:///{url}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DB-API connection
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA cache_size=-1048576")  # up to 1 GiB, used only as needed: bulk imports touch random index pages
    cur.close()


def shown_url(url: str) -> str:
    """``url`` as messages name it: a SQLite file's path, else the URL with its password hidden."""
    try:
        u = make_url(url)
        if u.get_backend_name() == "sqlite" and u.database:
            return u.database
        shown = u.render_as_string(hide_password=True)
    except (exc.ArgumentError, ValueError):
        shown = re.sub(r"(://[^/@:]*:)[^@]*@", r"\1***@", url)
    return re.sub(r"^postgresql\+psycopg://", "postgresql://", shown)


def _parse(url: str) -> URL:
    try:
        u = make_url(url)
    except (exc.ArgumentError, ValueError) as e:  # a port that is not a number raises ValueError
        raise StoreUnavailable(f"cannot read the store URL {shown_url(url)!r} ({e}): give a SQLite file path or "
                               "postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE") from None
    if u.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreUnavailable(f"unsupported store URL {shown_url(url)!r}: give a SQLite file path or "
                               "postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
    return u


def _hint(url: URL, reason: str) -> str:
    """What to check, given the driver's reason for not opening the store."""
    low = reason.lower()
    if "does not exist" in low and "database" in low:
        return f"create it first (createdb {url.database}) or name another database"
    if "connection refused" in low or "could not connect" in low or "timeout" in low:
        return "is PostgreSQL running there, and is the host and port right?"
    if "resolve host" in low or "name or service not known" in low:
        return "check the host name"
    if "authentication" in low or "password" in low or ("role" in low and "does not exist" in low):
        return "check the user name and password"
    if "not a database" in low:
        return "that file is not an assay (SQLite) store: name another file"
    if "unable to open" in low or "readonly" in low or "read-only" in low:
        return "check that it is a file (not a folder) you can write"
    return "check the store URL and that the database accepts connections"


@contextmanager
def opening(url: str) -> Iterator[None]:
    """Turns a driver's failure to open the store into one StoreUnavailable line (no SQL, no password)."""
    try:
        yield
    except exc.DBAPIError as e:
        u = make_url(url)
        # the driver's first line says what failed; psycopg's second is a generic hint we replace
        reason = " ".join((str(e.orig).strip().splitlines() or [""])[0].split()) or type(e.orig).__name__
        if u.password:
            reason = reason.replace(str(u.password), "***")
        raise StoreUnavailable(f"cannot open the store {shown_url(url)}: {reason}; {_hint(u, reason)}") from None


def make_engine(url: str | None = None, *, pool_size: int = 10) -> Engine:
    """An engine on the store ``url`` (see resolve_url); StoreUnavailable when it cannot be opened.

    A SQLite file's folder must exist: a mistyped path is refused, not created.
    """
    url = resolve_url(url)
    u = _parse(url)
    if u.get_backend_name() == "sqlite":
        db = u.database
        if db and db != ":memory:" and not Path(db).parent.is_dir():
            raise StoreUnavailable(f"no folder {str(Path(db).parent)!r} for the SQLite store {db!r}: "
                                   "create the folder first, or name a file in an existing one")
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    schema = u.query.get("schema")  # PostgreSQL
    if schema:
        # A schema parameter isolates a store inside a shared database (one per test run).
        u = u.difference_update_query(["schema"])
        engine = create_engine(
            u, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True,
            connect_args={"options": f"-csearch_path={schema}"},
        )
        with opening(url), engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        return engine
    return create_engine(u, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True)


def migrate(engine: Engine, target: str = "head") -> None:
    """Bring the schema to the newest migration, or to ``target`` (creates a fresh store)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()
