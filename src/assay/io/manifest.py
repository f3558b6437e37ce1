"""The folder `assay export --all` writes: which kinds go in it, which stay out, and its manifest.

The manifest (``manifest.json``) names the format, the record schema version, the store's
migration, one file and one row count per kind, what was left out and why, and that user
accounts travel with their password hashes. ``assay import FOLDER`` checks it first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assay import records as R
from assay.errors import BadInput
from assay.store import tables as T
from assay.store.kinds import all_kinds, dependency_order

MANIFEST = "manifest.json"
FORMAT = "assay-store-export"

_LEFT_OUT = {
    "app_sessions": "login sessions: moving them would move live credentials; users sign in again",
    "login_attempts": "the rate limiter's recent failed sign-ins: meaningful only where they happened",
    "login_limits": "the rate limiter's counters: meaningful only where they happened",
    "request_cache": "the cache of model calls: large, and only a saving; exported only when asked for",
}
LEFT_OUT = {k: v for k, v in _LEFT_OUT.items() if k in all_kinds()}
"""Tables `export --all` leaves out, with the reason written into the manifest."""

EXPORTED: tuple[str, ...] = tuple(dependency_order(
    k for k in [*T.TABLES, *T.APP_TABLES, "run_units", "request_cache"] if k not in LEFT_OUT))
"""Every record kind, the rating app's accounts and campaign bookkeeping, and the run engine's
units, referenced kinds first."""

IMPORTABLE: tuple[str, ...] = (*EXPORTED, "request_cache")
"""Kinds ``export`` writes and ``import --kind`` reads (sessions and login attempts never travel)."""

PASSWORDS = ("users carry their argon2 password hashes, so accounts keep working in the new store; "
             "treat the folder like the store itself")


def write_manifest(folder: Path, *, counts: dict[str, int], files: dict[str, str], migration: str | None,
                   store: str, left_out: dict[str, str]) -> dict[str, Any]:
    manifest = {
        "format": FORMAT,
        "schema_version": R.SCHEMA_VERSION,
        "migration": migration,
        "exported_from": store,
        "exported_at": R.utcnow().isoformat(),
        "order": list(files),
        "files": files,
        "counts": counts,
        "left_out": left_out,
        "passwords": PASSWORDS,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _migrations() -> set[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from assay.store.engine import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return {s.revision for s in ScriptDirectory.from_config(cfg).walk_revisions()}


def is_store_export(path: str | Path) -> bool:
    """Whether ``path`` is a folder written by ``export_store`` (it holds the manifest)."""
    return Path(path).is_dir() and (Path(path) / MANIFEST).is_file()


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of an export folder, refused with one line when it is not one this assay can read."""
    mpath = folder / MANIFEST
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise BadInput(f"unreadable manifest: {e}", file=str(mpath)) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BadInput(f"not a store export: field 'format' must be {FORMAT!r}", file=str(mpath))
    if manifest.get("schema_version") != R.SCHEMA_VERSION:
        raise BadInput(f"records of schema version {manifest.get('schema_version')!r}; this assay reads "
                       f"version {R.SCHEMA_VERSION}", file=str(mpath), field="schema_version")
    if manifest.get("migration") not in _migrations():
        raise BadInput(f"written by a store at migration {manifest.get('migration')!r}, which this assay does "
                       "not know: import it with a version of assay that has that migration",
                       file=str(mpath), field="migration")
    files, counts = manifest.get("files"), manifest.get("counts")
    if not isinstance(files, dict) or not isinstance(counts, dict):
        raise BadInput("fields 'files' and 'counts' must map each kind to its file and row count", file=str(mpath))
    unknown = sorted(set(files) - set(IMPORTABLE))
    if unknown:
        raise BadInput(f"unknown record kinds {unknown}", file=str(mpath), field="files")
    return manifest
