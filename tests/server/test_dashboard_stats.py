"""The lead dashboard of a campaign too big to compute during a view, through the real server:
counts at once, the statistics computed in the background and fetched again by the page."""

from __future__ import annotations

import re
import time

import pytest

from assay.annotate import dashboard as D
from assay.store import Store
from tests.server.conftest import Rater, rating, rid, seed_basic, start_server, stop_server


@pytest.fixture(scope="module")
def big_server(backend_url):
    """`assay serve` (two workers) that treats every campaign as big: statistics only in the background."""
    with Store(backend_url) as s:
        ids = seed_basic(s)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASSAY_STATS_SYNC_JUDGMENTS", "0")
        url, proc = start_server(backend_url, workers=2)
    yield url, backend_url, ids
    stop_server(proc)


def test_statistics_come_from_the_background_and_match_the_library(big_server):
    url, store_url, ids = big_server
    cid = ids["rate"]
    ann, bob, lee = Rater(url, "ann"), Rater(url, "bob"), Rater(url, "lee")
    try:
        for who, level in ((ann, 4), (bob, 2)):
            for _ in range(3):
                assert who.post(f"/a/{who.next(cid)}", rating(level)).status_code == 303
        page = lee.client.get(f"/lead/c/{cid}")
        assert page.status_code == 200
        # the counts are current at once; the statistics are being computed
        assert re.search(r'id="campaign-progress">6 assignment', page.text)
        assert f'data-load="/lead/c/{cid}/quality"' in page.text and "not computed yet" in page.text
        deadline = time.monotonic() + 120
        frag = lee.client.get(f"/lead/c/{cid}/quality")
        while "data-refreshing" in frag.text and time.monotonic() < deadline:
            time.sleep(0.3)
            frag = lee.client.get(f"/lead/c/{cid}/quality")
        assert frag.status_code == 200 and "data-refreshing" not in frag.text
        page = lee.client.get(f"/lead/c/{cid}").text
        assert "data-load" not in page and 'id="stats-state"' not in page  # current: nothing to say
        with Store(store_url, create=False) as s:
            camp = s.get("campaigns", cid)
            kept = D.dashboard_view(s, camp, sync_judgments=0)
            assert kept["fresh"] and kept["stats"]["done"] == 6
            assert kept["agreement"] == D.agreement_summary(s, camp)
        agreed = kept["agreement"][0]
        # which units each rater drew is random (the queue spreads raters over its front), so ann and
        # bob may share no unit, or one (ann always says 4, bob 2: alpha needs variation to be defined)
        if agreed["alpha"] is not None:
            assert f"<td>{agreed['alpha']:.3f}</td>" in page
        else:
            assert agreed["units"] <= 1
        assert rid("ann") in page and rid("bob") in page
        # one answer more: the page shows the kept statistics, saying as of when
        assert ann.post(f"/a/{ann.next(cid)}", rating(5)).status_code == 303
        page = lee.client.get(f"/lead/c/{cid}").text
        assert re.search(r'id="campaign-progress">7 assignment', page)
        assert "as of 6 done assignment(s)" in page
    finally:
        for r in (ann, bob, lee):
            r.close()
