"""pytest fixtures for the scripted model server: ``pytest_plugins = ["assay.testing.pytest_plugin"]``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from assay.testing._server import ScriptedServer


@pytest.fixture
def model_server() -> Iterator[ScriptedServer]:
    """A started ScriptedServer (echoes by default; script it with ``enqueue``, ``handler``, ``faults``)."""
    with ScriptedServer() as srv:
        yield srv
