"""Blind rating: the opaque handles a rater sees for the responses of an assignment.

A response id is a digest of (item id, model, sample), and an item id a digest of the dataset
name and the prompt: a rater who guesses the dataset and the candidate models could compute
them. So no page, JSON answer, URL or form field a rater sees carries one. Letters (A, B, ...)
name the responses on the page; scripts get a handle per response, an HMAC-SHA256 (RFC 2104)
of the assignment and response ids under the store's secret (``store.rating.app_secret``, made
once per store and shared by every worker), cut to 16 URL-safe characters. The server maps a
handle back by recomputing those of the assignment's own responses, so a handle means nothing
outside its assignment, and nothing without the secret. The assignment ids and shown orders are
keyed with the same secret (``annotate.queue``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from assay import records as R

HANDLE_CHARS = 16  # 96 bits


def handle(key: str, assignment_id: str, response_id: str) -> str:
    """The handle a rater sees for one response of one assignment."""
    mac = hmac.new(key.encode(), f"response\x1f{assignment_id}\x1f{response_id}\x1f".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode()[:HANDLE_CHARS]


def handles(key: str, asg: R.Assignment) -> list[str]:
    """The handles of an assignment's responses, in the order the rater sees them."""
    return [handle(key, asg.id, rid) for rid in asg.shown_order]


def by_reference(key: str, asg: R.Assignment) -> dict[str, str]:
    """What a rater may post to name a response (its letter or its handle) -> the response id."""
    out = {}
    for i, rid in enumerate(asg.shown_order):
        out[chr(65 + i)] = rid
        out[handle(key, asg.id, rid)] = rid
    return out
