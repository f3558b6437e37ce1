"""The report's lowest-scored responses show texts a reader can judge, and say what they leave out."""

from __future__ import annotations

import json

from assay.cli import main


def _store(url: str) -> None:
    from assay import records as R
    from assay.rubrics import get_rubric
    from assay.store import Store

    s = Store(url)
    rub = get_rubric(s, "default")
    s.add([R.Dataset(name="d"), R.Model(id="a@1"), R.Model(id="b@1"), R.Rater(id="human:h", kind="human", name="h")])
    s.add([R.Item(id=f"i{k}", dataset="d", prompt=f"Question {k}?") for k in range(4)])
    # b's answers were imported with their scores only: the two lowest-scored responses have no text
    s.add([R.Response(id=f"{m}{k}", item_id=f"i{k}", model=f"{m}@1",
                      text=f"Answer {k} by {m}" if m == "a" else "[text not bundled]",
                      metadata={} if m == "a" else {"text_available": False}) for k in range(4) for m in "ab"])
    s.add([R.Judgment(id=f"j{m}{k}", response_id=f"{m}{k}", rater_id="human:h", rubric=rub.id, dimension="factuality",
                      value=float(k + 1 if m == "a" else (1 if k < 2 else 5))) for k in range(4) for m in "ab"])
    s.close()


def test_lowest_leaves_out_responses_without_text_and_counts_them(tmp_path, capsys, store_url):
    _store(store_url)
    assert main(["--db", store_url, "report", "--out", str(tmp_path / "r.json"), "--rounds", "20"]) == 0
    (low,) = json.loads((tmp_path / "r.json").read_text())["lowest"]
    shown = [(r["response_id"], r["mean"], r["response"]) for r in low["responses"]]
    assert shown == [("a0", 1.0, "Answer 0 by a"), ("a1", 2.0, "Answer 1 by a"), ("a2", 3.0, "Answer 2 by a"),
                     ("a3", 4.0, "Answer 3 by a")]
    assert low["without_text"] == 2  # b0 and b1 (1.0) scored lower than a3; b2 and b3 (5.0) did not
    assert main(["--db", store_url, "report", "--out", str(tmp_path / "r.html"), "--rounds", "20"]) == 0
    html = (tmp_path / "r.html").read_text()
    lowest = html[html.index('<section id="lowest">'):]
    assert "[text not bundled]" not in lowest
    assert "2 responses scored as low or lower are left out: the store holds their scores but not their texts" in lowest


def test_lowest_reads_batches_and_agrees_with_reading_everything(store):
    """130 responses, a third without text, many tied scores: the batched look gives what reading every
    response's metadata gives (the k lowest with text; textless ones scored no higher counted)."""
    import numpy as np

    from assay import records as R
    from assay.analysis.frames import judgment_codes
    from assay.report.build import _lowest, _textless
    from assay.rubrics import get_rubric

    rng = np.random.default_rng(5)
    rub = get_rubric(store, "default")
    store.add([R.Dataset(name="d"), R.Model(id="a@1"), R.Rater(id="human:h", kind="human", name="h"),
               R.Rater(id="human:g", kind="human", name="g")])
    store.add([R.Item(id=f"i{k:03d}", dataset="d", prompt=f"Q{k}") for k in range(130)])
    textless = {k for k in range(130) if k % 3 == 0}
    store.add([R.Response(id=f"r{k:03d}", item_id=f"i{k:03d}", model="a@1", text=f"A{k}",
                          metadata={"text_available": False} if k in textless else {}) for k in range(130)])
    store.add([R.Judgment(response_id=f"r{k:03d}", rater_id=r, rubric=rub.id, dimension="factuality",
                          value=float(rng.integers(1, 4)), justification=f"why {k} {r}")
               for k in range(130) for r in ("human:h", "human:g")])
    jf = judgment_codes(store, items=True)
    means = jf.groupby("unit", observed=True)["value"].mean().sort_index().sort_values(kind="stable")
    gone = _textless(store, [str(u) for u in means.index])
    for k in (1, 5, 60):
        (got,) = _lowest(jf, store, k)
        readable = means[~means.index.isin(gone)].head(k)
        assert [r["response_id"] for r in got["responses"]] == list(readable.index)
        assert got["without_text"] == int(((means <= readable.iloc[-1]) & means.index.isin(gone)).sum())
        first = got["responses"][0]
        assert {j["rater"] for j in first["judgments"]} == {"human:h", "human:g"}
        assert all(j["justification"].startswith(f"why {int(first['response_id'][1:])} ") for j in first["judgments"])
