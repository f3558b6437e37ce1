"""Shared fixtures: a store on each backend (SQLite file and a private PostgreSQL schema).

Nothing the suite needs may be silently missing: ``skip_or_fail`` (and ``require_module``,
``require_path``, ``require_postgres`` built on it) skips on a developer's machine but fails
under ``CI=true``, and ``tests/skipguard.py`` fails a CI session that skipped anything not on
``tests/skip_allowlist.txt``.
"""

from __future__ import annotations

import importlib
import importlib.resources
import os
import uuid
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

from tests.skipguard import in_ci
from tests.skipguard import pytest_configure  # noqa: F401 - the CI skip guard, registered for the session

PG_URL = os.environ.get("ASSAY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = in_ci()
BUNDLED = Path(str(importlib.resources.files("assay.data")))  # published data shipped in the package
# published reference data too large or too numerous to bundle: shared/validation beside the clone
VALIDATION = Path(os.environ.get("ASSAY_VALIDATION_DIR")
                  or Path(__file__).resolve().parents[1].parent / "shared" / "validation")


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the test here; under CI=true (read now, not at import) fail it, since CI must run everything."""
    if in_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def require_module(name: str, install: str = "pip install -e '.[test]'") -> ModuleType:
    """The module, or a skip (a failure under CI=true) saying how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        skip_or_fail(f"{name} is not installed ({e}): {install}")


def require_path(path: Path, what: str) -> Path:
    """The path when it exists, else a skip (a failure under CI=true) naming what is missing."""
    if not path.exists():
        skip_or_fail(f"{what} not found at {path} (set ASSAY_VALIDATION_DIR or put shared/ beside the clone)")
    return path


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
        skip_or_fail(_PG_PROBLEM)


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
