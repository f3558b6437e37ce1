"""Which items people label: assay.analysis.active and `assay campaign create --select`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assay import records as R
from assay.analysis import active as A
from assay.cli import main
from assay.store import Store
from tests.server.conftest import add_texts

# --- the probabilities and the draw ------------------------------------------------------------


@pytest.mark.parametrize("mix", [0.0, 0.2, 0.7])
def test_probabilities_sum_to_the_budget_stay_in_bounds_and_follow_the_uncertainty(mix):
    u = np.random.default_rng(1).gamma(0.5, 1.0, 500)
    u[:5] = 40.0  # a few items the judge is very unsure of: capped at 1, the excess spread on the rest
    pi = A.design_probabilities(u, 60, uniform_mix=mix)
    assert pi.sum() == pytest.approx(60, abs=1e-9)
    assert pi.max() <= 1 and pi.min() >= mix * 60 / 500 - 1e-12
    order = np.argsort(u)
    assert (np.diff(pi[order]) >= -1e-12).all()  # never less likely where the judge is less sure
    if mix == 0:
        assert (pi[:5] == 1).all()
        free = pi < 1
        ratio = pi[free] / u[free]
        assert ratio.max() == pytest.approx(ratio.min(), rel=1e-9)  # proportional below the cap


def test_the_floor_is_paid_for_by_the_others():
    u = np.array([0.0, 0.0, 1.0, 1.0, 2.0, 4.0])
    pi = A.design_probabilities(u, 3, uniform_mix=0, pi_min=0.1)
    assert pi.sum() == pytest.approx(3, abs=1e-9) and pi[:2] == pytest.approx([0.1, 0.1])
    assert pi[5] == 1 and pi[4] == pytest.approx(2 * pi[3])


def test_no_uncertainty_anywhere_is_a_uniform_design():
    assert A.design_probabilities(np.zeros(8), 2, uniform_mix=0).tolist() == [0.25] * 8


def test_an_item_that_could_never_be_drawn_is_an_error():
    with pytest.raises(ValueError, match="1 items would never be labelled"):
        A.design_probabilities([0.0, 1.0, 2.0, 3.0], 2, uniform_mix=0)


def test_the_draw_is_seeded_and_has_the_planned_size_on_average():
    pi = A.design_probabilities(np.linspace(0.1, 3, 400), 50)
    assert (A.poisson_draw(pi, 7) == A.poisson_draw(pi, 7)).all()
    sizes = [A.poisson_draw(pi, s).sum() for s in range(400)]
    # Poisson sampling: mean sum(pi) = 50, variance sum(pi(1 - pi)); four standard errors of the mean
    assert abs(np.mean(sizes) - 50) < 4 * np.sqrt(np.sum(pi * (1 - pi)) / 400)


# --- the uncertainty a verdict stores ----------------------------------------------------------


def _j(**detail) -> R.Judgment:  # noqa: ANN003
    return R.Judgment(response_id="r", rater_id="llm:j", rubric="default@1", dimension="d", value=3.0, detail=detail)


def test_spreads_of_samples_panels_and_logprobs_add_as_variances():
    assert A.judgment_spread(_j()) == (None, set())
    assert A.judgment_spread(_j(samples=[2, 4])) == (1.0, {"samples"})
    panel = {"members": {"a": {"value": 1}, "b": {"value": 3}, "c": {"value": 5}}}
    assert A.judgment_spread(_j(**panel))[0] == pytest.approx(8 / 3)
    # within: p(2) = p(4) = 1/2 gives variance 1 in each sample; between: samples 3 and 3
    var, signals = A.judgment_spread(_j(samples=[3, 3], probs=[{"2": 0.5, "4": 0.5}, {"2": 0.5, "4": 0.5}]))
    assert var == pytest.approx(1.0) and signals == {"samples", "logprobs"}


def test_a_pairwise_verdict_spreads_by_its_probability_panel_and_orders():
    base = {"item_id": "i", "rater_id": "llm:j", "response_ids": ["a", "b"], "shown_order": ["a", "b"]}
    assert A.comparison_spread(R.Comparison(**base, winner="a")) == (None, set())
    assert A.comparison_spread(R.Comparison(**base, winner="a", probability=0.8))[0] == pytest.approx(0.16)
    flip = R.Comparison(**base, outcome="tie", detail={"orders": [{}, {}], "consistent": False})
    assert A.comparison_spread(flip) == (0.25, {"orders"})


# --- campaigns on a store ----------------------------------------------------------------------


def _store(url: str, n_items: int = 40, detail=None) -> None:  # noqa: ANN001
    """A dataset of n_items prompts answered by two models, and judge j's K-sample verdicts on every answer."""
    s = Store(url)
    add_texts(s, "d", [f"q{i}" for i in range(n_items)],
              {"a@1": [f"x{i}" for i in range(n_items)], "b@1": [f"y{i}" for i in range(n_items)]})
    s.add([R.Rater(id="llm:j", kind="llm", name="j", model="j@1")])
    rng = np.random.default_rng(0)
    out = []
    for k, r in enumerate(s.iter(R.Response)):
        samples = [3.0, 3.0, 3.0] if k % 2 else [float(v) for v in rng.integers(1, 6, 3)]
        out.append(R.Judgment(response_id=r.id, rater_id="llm:j", rubric="default@1", dimension="factuality",
                              value=samples[0], detail={"samples": samples} if detail is None else detail))
    s.add(out)
    s.close()


def _create(url: str, name: str, *args: str) -> int:
    return main(["--db", url, "campaign", "create", name, "--dataset", "d", *args])


def test_an_active_campaign_stores_its_design_and_reads_it_back(store_url):
    _store(store_url)
    assert _create(store_url, "act", "--select", "active", "--judge", "j", "--budget", "12", "--seed", "5") == 0
    assert _create(store_url, "uni", "--select", "uniform", "--budget", "12", "--seed", "5") == 0
    assert _create(store_url, "all") == 0
    with Store(store_url) as s:
        pi = A.inclusion_probabilities(s, "act")
        camp = s.list(R.Campaign, name="act")[0]
        frame = A.frame(s, "act")
        units = s.list("campaigns")  # a campaign record round-trips with its selection
        assert {c.name: c.selection is None for c in units} == {"act": False, "uni": False, "all": True}
        assert A.inclusion_probabilities(s, "uni") is None and A.inclusion_probabilities(s, "all") is None
        assert A.frame(s, "all") == {}
        uni = A.frame(s, "uni")
        from sqlalchemy import select

        from assay.annotate.campaigns import get_campaign
        from assay.store import tables as T

        def units_of(c: R.Campaign) -> list[tuple[str, list[str]]]:
            t = T.campaign_units
            with s.engine.connect() as conn:
                return [(i, list(r)) for i, r in conn.execute(select(t.c.item_id, t.c.response_ids)
                                                               .where(t.c.campaign_id == c.id))]

        act_units = units_of(camp)
        uni_units = units_of(get_campaign(s, "uni"))
    sel = camp.selection
    assert (sel.method, sel.budget, sel.frame, sel.judge, sel.signal, sel.seed) == ("active", 12, 40, "llm:j",
                                                                                   "samples", 5)
    assert len(pi) == 40 and sum(pi.values()) == pytest.approx(12, abs=1e-9)
    drawn = {i for i, (_, chosen) in frame.items() if chosen}
    assert sel.selected == len(drawn) >= 2
    # each drawn item comes with both models' answers, and nothing else is queued
    assert sorted(i for i, _ in act_units) == sorted(i for i in drawn for _ in range(2))
    # the uniform half of the budget is the floor; the judge's spread decides the rest
    assert min(pi.values()) >= 0.5 * 12 / 40 - 1e-12 and max(pi.values()) <= 1
    assert max(pi.values()) > 1.5 * min(pi.values())
    assert sum(1 for _, chosen in uni.values() if chosen) == 12 and len({i for i, _ in uni_units}) == 12
    assert all(p == pytest.approx(12 / 40) for p, _ in uni.values())


def test_the_same_seed_draws_the_same_items(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    _store(url)
    for name in ("one", "two"):
        assert _create(url, name, "--select", "active", "--judge", "j", "--budget", "10", "--seed", "3") == 0
    assert _create(url, "three", "--select", "active", "--judge", "j", "--budget", "10", "--seed", "4") == 0
    with Store(url) as s:
        drawn = {n: {i for i, (_, c) in A.frame(s, n).items() if c} for n in ("one", "two", "three")}
    assert drawn["one"] == drawn["two"] != drawn["three"]


def test_a_judge_without_spread_gives_a_uniform_poisson_design(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    _store(url, detail={})
    assert _create(url, "flat", "--select", "active", "--judge", "j", "--budget", "10") == 0
    with Store(url) as s:
        camp = s.list(R.Campaign, name="flat")[0]
        pi = A.inclusion_probabilities(s, "flat")
    assert camp.selection.signal == "none" and list(pi.values()) == pytest.approx([0.25] * 40)


@pytest.mark.parametrize(("args", "message"), [
    (["--select", "active", "--budget", "10"], "field '--judge': selecting active needs the judge"),
    (["--select", "active", "--judge", "j", "--budget", "41"], "field '--budget': 41 is more than the 40 items"),
    (["--select", "uniform", "--budget", "1"], "field '--budget': must be at least 2"),
    (["--select", "uniform"], "field '--budget': selecting uniform needs the number of items"),
    (["--budget", "5"], "field '--budget': a budget needs a sample"),
    (["--select", "uniform", "--budget", "5", "--judge", "j"], "field '--judge': the judge's uncertainty is used"),
    (["--select", "bogus", "--budget", "5"], "field '--select': must be one of all, uniform, active"),
    (["--select", "active", "--judge", "j", "--budget", "5", "--dimensions", "safety"],
     "field '--judge': judge 'llm:j' has no verdicts on dataset 'd' under rubric default@1, dimensions"),
    (["--select", "active", "--judge", "j", "--budget", "5", "--uniform-mix", "1.5"],
     "field '--uniform-mix': must lie in [0, 1]"),
    (["--select", "active", "--judge", "j", "--budget", "5", "--uniform-mix", "0"],
     "items would never be labelled"),
])
def test_bad_selections_are_one_line_errors(tmp_path, capsys, args, message):
    url = f"sqlite:///{tmp_path / 's.db'}"
    _store(url)
    assert _create(url, "bad", *args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    with Store(url) as s:
        assert s.list(R.Campaign) == []


def test_select_needs_a_dataset(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 's.db'}"
    _store(url)
    ids = tmp_path / "ids.txt"
    with Store(url) as s:
        ids.write_text("\n".join(r.id for r in s.iter(R.Response)) + "\n")
    assert main(["--db", url, "campaign", "create", "f", "--responses", str(ids), "--select", "uniform",
                 "--budget", "3"]) == 2
    assert "give --dataset" in capsys.readouterr().err


def test_an_unknown_judge_is_not_found(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 's.db'}"
    _store(url)
    assert _create(url, "x", "--select", "active", "--judge", "nobody", "--budget", "5") == 1
    assert "no rater 'nobody'" in capsys.readouterr().err


def test_a_compare_campaign_reads_the_judges_pairwise_probabilities(tmp_path):
    """Pairs of an item are drawn together; the judge's soft preference sets the item's uncertainty."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    s = Store(url)
    items = add_texts(s, "d", [f"q{i}" for i in range(30)],
                      {m: [f"{m}{i}" for i in range(30)] for m in ("a@1", "b@1", "c@1")})
    s.add([R.Rater(id="llm:p", kind="llm", name="p", model="p@1")])
    resp = {}
    for r in s.iter(R.Response):
        resp.setdefault(r.item_id, []).append(r.id)
    cmps = []
    for k, it in enumerate(items):
        a, b = sorted(resp[it.id])[:2]
        p = 0.6 if k < 10 else 0.99  # sure about items 10..29, nearly a coin flip on the first ten
        cmps.append(R.Comparison(item_id=it.id, rater_id="llm:p", response_ids=[a, b], shown_order=[a, b],
                                 winner=a, probability=p))
    s.add(cmps)
    s.close()
    assert main(["--db", url, "campaign", "create", "cmp", "--dataset", "d", "--kind", "compare", "--select",
                 "active", "--judge", "p", "--budget", "8", "--uniform-mix", "0.2"]) == 0
    with Store(url) as s:
        pi = A.inclusion_probabilities(s, "cmp")
        camp = s.list(R.Campaign, name="cmp")[0]
    unsure = {it.id for it in items[:10]}
    assert camp.selection.signal == "probability"
    # sd sqrt(0.6 * 0.4) = 0.49 against sqrt(0.99 * 0.01) = 0.0995: five times as likely, before the uniform fifth
    assert min(pi[i] for i in unsure) > 3 * max(p for i, p in pi.items() if i not in unsure)
    assert sum(pi.values()) == pytest.approx(8, abs=1e-9)


def _ab_campaign(tmp_path):  # noqa: ANN001, ANN202
    """Two models on 120 items; judge j scores every answer three times (sd 1.5 on a third of the items,
    0.2 elsewhere, plus a bias of 0.8); an active campaign of budget 40; a person labels the drawn items."""
    from assay.rubrics import add_rubric

    url = f"sqlite:///{tmp_path / 's.db'}"
    s = Store(url)
    add_rubric(s, R.Rubric(name="ab", version=1, dimensions=[
        R.Dimension(name="quality", description="quality", scale=R.Scale(kind="continuous", min=-100, max=100))]))
    rng = np.random.default_rng(5)
    items = add_texts(s, "ab", [f"q{i}" for i in range(120)], {m: [f"{m} {i}" for i in range(120)]
                                                              for m in ("base@1", "cand@1")})
    s.add([R.Rater(id="llm:j", kind="llm", name="j", model="j@1"), R.Rater(id="human:ann", kind="human", name="ann")])
    truth, judged = {}, []
    for k, it in enumerate(items):
        hard, sd = rng.normal(0, 1), 0.2 if k % 3 else 1.5
        for m in ("base@1", "cand@1"):
            rid = R.Response.make_id(it.id, m, 0)
            truth[rid] = hard + rng.normal(0, 0.5) + (0.5 if m == "cand@1" else 0.0)
            samples = [float(truth[rid] + 0.8 + rng.normal(0, sd)) for _ in range(3)]
            judged.append(R.Judgment(response_id=rid, rater_id="llm:j", rubric="ab@1", dimension="quality",
                                     value=float(np.median(samples)), detail={"samples": samples}))
    s.add(judged)
    s.close()
    assert main(["--db", url, "campaign", "create", "act", "--dataset", "ab", "--rubric", "ab@1", "--select",
                 "active", "--judge", "j", "--budget", "40", "--seed", "2"]) == 0
    with Store(url) as s:
        camp = s.list(R.Campaign, name="act")[0]
        drawn = {i for i, (_, chosen) in A.frame(s, "act").items() if chosen}
        s.add([R.Judgment(response_id=R.Response.make_id(i, m, 0), rater_id="human:ann", rubric="ab@1",
                          dimension="quality", value=truth[R.Response.make_id(i, m, 0)], campaign_id=camp.id)
               for i in sorted(drawn) for m in ("base@1", "cand@1")])
    return url, camp.id, drawn, truth


def test_an_active_campaign_feeds_the_judge_assisted_ab_test(tmp_path):
    """End to end: the A/B figure is ``ppi.active_paired_difference`` on arrays built here by hand from
    the store: one entry per item of the frame, labelled where people scored both answers, with
    the probabilities ``inclusion_probabilities`` returns."""
    import pandas as pd

    from assay.analysis.assisted import Assist, assisted_report
    from assay.analysis.options import Selection
    from assay.stats import ppi

    url, cid, drawn, truth = _ab_campaign(tmp_path)
    with Store(url) as s:
        pi = A.inclusion_probabilities(s, "act")
        rep = assisted_report(s, "base@1", "cand@1", judges=["llm:j"], humans=["human:ann"],
                              select=Selection(rubric="ab@1", campaign=cid), assist=Assist(weights=pd.Series(pi)))
        judge = {j.response_id: j.value for j in s.iter(R.Judgment, rater_id="llm:j")}
    sec = rep["dimensions"][0]
    assert sec["sampling"] == "active" and sec["n"] == len(drawn)
    frame_items = sorted(pi)
    lab = np.array([i in drawn for i in frame_items])

    def col(table, model):  # noqa: ANN001, ANN202
        return np.array([table.get(R.Response.make_id(i, model, 0), np.nan) for i in frame_items])

    ref = ppi.active_paired_difference(np.where(lab, col(truth, "cand@1"), np.nan),
                                       np.where(lab, col(truth, "base@1"), np.nan), col(judge, "cand@1"),
                                       col(judge, "base@1"), lab, np.array([pi[i] for i in frame_items]))
    assert sec["estimate"] == pytest.approx(ref.estimate, abs=1e-12)
    assert (sec["ci_low"], sec["ci_high"]) == pytest.approx(ref.interval, abs=1e-12)
    assert sec["N"] == 120 - len(drawn)


def test_abtest_with_an_active_campaign_weights_the_labels(tmp_path, capsys):
    url, cid, _, _ = _ab_campaign(tmp_path)
    capsys.readouterr()
    assert main(["--db", url, "abtest", "base@1", "cand@1", "--rubric", "ab@1", "--judge", "llm:j",
                 "--campaign", cid]) == 0
    out = capsys.readouterr().out
    assert "inverse-probability weights" in out
    # the judge's own table is the judge's verdicts on every prompt: the campaign narrows people's side only
    assert "no rubric dimension has scores" not in out and "the judge's verdicts alone" in out
    # prompt pairing by text still keys the weights by item
    assert main(["--db", url, "abtest", "base@1", "cand@1", "--rubric", "ab@1", "--judge", "llm:j",
                 "--campaign", cid, "--pair-by", "prompt", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert all(d["sampling"] == "active" and "error" not in d for d in rep["judge_assisted"]["dimensions"])
