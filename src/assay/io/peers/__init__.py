"""Logs of other evaluation tools (Inspect, lm-evaluation-harness, promptfoo) as items, responses and judgments.

``import_peer(store, path, "inspect")`` reads the log with the tool's format, then stores
it in one transaction (:func:`assay.io.peers._common.write_log`): what everything assay
computes (agreement, judge trust, rankings, A/B tests, the gate) then works on it.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from assay.errors import BadInput
from assay.io.importer import OnInvalid
from assay.io.peers._common import PeerImportSummary, PeerLog, Sample, SampleError, Score, write_log
from assay.store import Store

PEERS = {
    "inspect": "assay.io.peers.inspect_log",
    "lm-eval": "assay.io.peers.lm_eval",
    "promptfoo": "assay.io.peers.promptfoo",
}
"""Peer formats by name: the module whose ``read(path)`` gives a :class:`PeerLog`."""


def read_peer(path: str | Path, source: str) -> PeerLog:
    """The log at ``path`` in the format ``source`` (a key of :data:`PEERS`)."""
    if source not in PEERS:
        raise BadInput(f"unknown log format {source!r}; known: {', '.join(PEERS)}", param="source")
    return importlib.import_module(PEERS[source]).read(path)


def import_peer(
    store: Store,
    path: str | Path,
    source: str,
    *,
    dataset: str | None = None,
    model: str | None = None,
    on_invalid: OnInvalid = OnInvalid(),
) -> PeerImportSummary:
    """Import another tool's log (``source``: inspect, lm-eval or promptfoo) as one transaction."""
    return write_log(store, read_peer(path, source), dataset=dataset, model=model, on_invalid=on_invalid)


__all__ = ["PEERS", "PeerImportSummary", "PeerLog", "Sample", "SampleError", "Score", "import_peer", "read_peer"]
