"""Shared fixtures: a store on each backend (SQLite file and a private PostgreSQL schema)."""

from __future__ import annotations

import os
import uuid

import pytest

PG_URL = os.environ.get("ASSAY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _pg_reachable() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("postgresql+psycopg", "postgresql"), connect_timeout=3):
            return None
    except Exception as e:  # noqa: BLE001 - any failure means "not reachable"
        return f"PostgreSQL not reachable at {PG_URL}: {str(e).splitlines()[0]}"


_PG_PROBLEM: str | None | bool = False


def require_postgres() -> None:
    """Skip (locally) or fail (under CI=true) when PostgreSQL is absent."""
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = _pg_reachable()
    if _PG_PROBLEM:
        if IN_CI:
            pytest.fail(f"CI=true but {_PG_PROBLEM}")
        pytest.skip(_PG_PROBLEM)


@pytest.fixture
def pg_store_url():
    """A store URL in a fresh PostgreSQL schema of its own, dropped afterwards."""
    require_postgres()
    import psycopg

    schema = f"assay_test_{uuid.uuid4().hex[:12]}"
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}schema={schema}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path):
    """A fresh store URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'assay.db'}"
    else:
        yield request.getfixturevalue("pg_store_url")


@pytest.fixture
def store(store_url):
    """A fresh, migrated store on each backend."""
    from assay.store import Store

    s = Store(store_url)
    yield s
    s.close()
