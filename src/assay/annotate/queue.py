"""A rater's queue: which unit they get next, in which order its responses are shown."""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass

from assay import records as R
from assay.store import Store
from assay.store import rating as S


def can_rate(store: Store, camp: R.Campaign, rater_id: str) -> bool:
    """Whether a rater may work on a campaign (listed as a member, or the campaign lists nobody)."""
    return S.is_member(store, camp.id, rater_id)


def _sha(*parts: str) -> bytes:
    return hashlib.sha256("".join(p + "\x1f" for p in parts).encode()).digest()


def assignment_id(campaign_id: str, unit: str, rater_id: str, *, key: str) -> str:
    """The id of a unit given to a rater. sha256, not :func:`assay.records.digest`, because
    PostgreSQL computes the same id when it claims a unit (``store/rating_pg.py``). ``key`` is the
    store's secret (``store.rating.app_secret``): raters see this id in URLs, and without the key
    they cannot compute it from the unit's response ids (which would tell them the models)."""
    return _sha("assignment", key, campaign_id, unit, rater_id).hex()[:32]


def shown_order(campaign_id: str, assignment: str, response_ids: list[str], *, key: str) -> list[str]:
    """The order a rater sees a unit's responses in: sorted by a keyed hash of each id with the
    assignment, a uniformly random permutation that differs across raters yet is reproducible
    (and computable in SQL) by whoever holds the store's secret ``key``; recorded on the assignment."""
    return sorted(response_ids, key=lambda r: _sha("order", key, campaign_id, assignment, r))


def is_open(camp: R.Campaign) -> bool:
    return camp.status == "open" and (camp.deadline is None or R.utcnow() < camp.deadline)


def _pools(store: Store, camp: R.Campaign, rater_id: str) -> list[tuple[bool, int | None]]:
    """Which pools to draw from, in order: (gold?, overlap cap or None for every rater)."""
    want_gold = False
    if camp.gold_share > 0:
        counts = S.rater_counts(store, camp.id, rater_id)
        want_gold = counts["gold_done"] < camp.gold_share * (counts["done"] + 1)
    cap = None if camp.calibration else camp.overlap
    return [(True, None), (False, cap)] if want_gold or camp.calibration else [(False, cap), (True, None)]


def _maker(camp: R.Campaign, rater_id: str, key: str):
    def make(unit: dict) -> R.Assignment:
        aid = assignment_id(camp.id, unit["unit_id"], rater_id, key=key)
        return R.Assignment(id=aid, campaign_id=camp.id, rater_id=rater_id, response_ids=list(unit["response_ids"]),
                            shown_order=shown_order(camp.id, aid, list(unit["response_ids"]), key=key),
                            is_gold=bool(unit["is_gold"]))

    return make


def next_assignment(store: Store, camp: R.Campaign, rater_id: str) -> R.Assignment | None:
    """The rater's pending assignment, or a newly claimed unit, or None when nothing is left.

    Regular units go to ``overlap`` different raters (every rater in calibration mode); gold
    units go to every rater, served so that about ``gold_share`` of a rater's work is gold.
    Claims are atomic, so concurrent raters never push a unit past its overlap, and a rater has
    at most one pending assignment per campaign however many of their requests race.
    """
    pending = S.pending_assignment(store, camp.id, rater_id)
    if pending is not None:
        return pending
    if not is_open(camp):
        return None
    if store.backend == "postgresql":
        from assay.store.rating_pg import record_and_claim

        for attempt in range(200):
            # one statement picks the pool, skips units others are claiming (SKIP LOCKED) and claims
            _, got = record_and_claim(store, camp, None, rater_id, claim=True)
            if got == "pending":  # another request of this rater claimed meanwhile: that one is theirs
                pending = S.pending_assignment(store, camp.id, rater_id)
                if pending is not None:
                    return pending
                continue
            if got != "busy":
                return got if isinstance(got, R.Assignment) else None
            time.sleep(0.002 * min(attempt + 1, 10))  # the last free units are being claimed: wait for them
        return None
    pools = _pools(store, camp, rater_id)
    make = _maker(camp, rater_id, S.app_secret(store))
    rng = random.Random()
    for gold, pool_cap in pools:
        for _ in range(20):  # retries only when other raters win the same units meanwhile
            cands = S.candidate_units(store, camp.id, rater_id, gold=gold, cap=pool_cap)
            if not cands:
                break
            # raters arriving together spread over the front of the queue instead of fighting for one unit
            head = cands[: max(1, min(len(cands), 8))]
            rng.shuffle(head)
            for unit in head:
                asg = make(unit)
                got = S.claim(store, unit, asg, pool_cap)
                if got == "claimed":
                    return asg
                if got == "pending":  # another request of this rater claimed meanwhile: that one is theirs
                    pending = S.pending_assignment(store, camp.id, rater_id)
                    if pending is not None:
                        return pending
    return None


AVAILABLE_SHOWN = 100
"""Units open to a rater are counted up to this many ("100+"): an exact count would read the
whole queue on every page."""


@dataclass(frozen=True)
class QueueStatus:
    """What a rater has done in a campaign and how much is still open to them.

    ``available`` is exact up to :data:`AVAILABLE_SHOWN`; ``more`` says there are more than that.
    """

    done: int
    gold_done: int
    pending: int
    available: int
    skipped: int = 0
    more: bool = False

    @property
    def total(self) -> int:
        return self.done + self.pending + self.available

    @property
    def open(self) -> str:
        """Pending plus available, as shown: "12", or "100+" past the count."""
        return f"{self.pending + self.available}{'+' if self.more else ''}"


def queue_status(store: Store, camp: R.Campaign, rater_id: str) -> QueueStatus:
    avail = S.count_available(store, camp.id, rater_id, cap=None if camp.calibration else camp.overlap,
                              limit=AVAILABLE_SHOWN + 1) if is_open(camp) else 0
    return queue_status_of(S.rater_counts(store, camp.id, rater_id), avail)


def queue_status_of(counts: dict, available: int) -> QueueStatus:
    """A queue status from a rater's counts (done, gold_done, pending, skipped) and the units
    available, counted up to ``AVAILABLE_SHOWN + 1``."""
    return QueueStatus(done=counts["done"], gold_done=counts["gold_done"], pending=counts["pending"],
                       skipped=counts.get("skipped", 0), available=min(available, AVAILABLE_SHOWN),
                       more=available > AVAILABLE_SHOWN)
