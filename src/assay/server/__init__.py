"""The rating web app (`assay serve`): FastAPI with server-rendered pages for raters, leads and admins.

Accounts live in :mod:`assay.server.accounts` (no web framework needed to manage them);
the app itself is built by :func:`assay.server.app.create_app`.
"""

from __future__ import annotations

from typing import Any


def create_app(*args: Any, **kwargs: Any) -> Any:
    from assay.server.app import create_app as _create

    return _create(*args, **kwargs)


__all__ = ["create_app"]
