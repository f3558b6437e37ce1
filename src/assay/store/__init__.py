"""The store: SQLAlchemy tables and migrations; SQLite by default, PostgreSQL by URL."""

from assay.store.engine import DEFAULT_URL, make_engine, migrate, resolve_url
from assay.store.store import Store, from_row, to_row

__all__ = ["DEFAULT_URL", "Store", "from_row", "make_engine", "migrate", "resolve_url", "to_row"]
