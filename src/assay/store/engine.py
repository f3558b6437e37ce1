"""Opening a store: URL resolution, SQLite pragmas, PostgreSQL schemas, migrations."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from assay.errors import AssayError

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


def make_engine(url: str | None = None, *, pool_size: int = 10) -> Engine:
    url = resolve_url(url)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        db = u.database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if u.get_backend_name() == "postgresql":
        schema = u.query.get("schema")
        if schema:
            # A schema parameter isolates a store inside a shared database (one per test run).
            u = u.difference_update_query(["schema"])
            engine = create_engine(
                u, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True,
                connect_args={"options": f"-csearch_path={schema}"},
            )
            with engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            return engine
        return create_engine(u, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True)
    raise AssayError(f"unsupported store URL {url!r}: use a SQLite path or postgresql://")


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
