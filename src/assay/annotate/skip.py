"""Skipping an assignment a rater cannot judge: it closes, and its unit goes back to the queue."""

from __future__ import annotations

from assay import records as R
from assay.annotate.campaigns import unit_id
from assay.errors import BadInput
from assay.store import Store
from assay.store import rating as S

MAX_REASON = 2000


def skip(store: Store, camp: R.Campaign, asg: R.Assignment, reason: str = "") -> bool:
    """Skip a rater's pending assignment, exactly once; True when this call skipped it.

    The assignment becomes "skipped" with the reason and time, and the unit's slot is freed
    so that another rater can take it (this rater is not given it again). A repeat changes
    nothing and returns False. Refused (BadInput) for an answered assignment, a closed
    campaign, and a gold unit in calibration mode, which must be answered.
    """
    if asg.campaign_id != camp.id:
        raise BadInput("assignment does not belong to this campaign")
    if camp.calibration and asg.is_gold:
        raise BadInput("this is a calibration item with a gold answer: answer it, it cannot be skipped")
    if asg.status == "skipped":
        return False
    if asg.status == "done":
        raise BadInput("this item is answered already: it cannot be skipped")
    if camp.status != "open":
        raise BadInput("this campaign is closed")
    text = " ".join((reason or "").split())
    if len(text) > MAX_REASON:
        raise BadInput(f"the reason is longer than {MAX_REASON} characters", field="reason")
    if S.record_skip(store, asg, unit_id(asg.response_ids), text):
        return True
    now = store.get(R.Assignment, asg.id)  # lost a race: answered or skipped meanwhile
    if now.status == "done":
        raise BadInput("this item is answered already: it cannot be skipped")
    return False
