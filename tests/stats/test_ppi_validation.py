"""Coverage of the PPI++ intervals on real published judge verdicts, and the small-sample interval.

The full human labels of PandaLM (majority of three annotators, GPT-3.5's published verdicts as
the judge) and HANNA (mean of three workers, ChatGPT's published ratings) are the truth; each
repetition labels n units drawn at random and leaves the judge alone on the rest. A coverage
check fails when the count of covering intervals is below the 0.1% quantile of Binomial(reps,
0.95), 927 of 1,000: a correct interval fails one seed in a thousand, one that covers 92% fails
77% of seeds, 91% 97%, 90% (the PandaLM tie rate at n = 50) 99.8%.
The full tables (n = 50 ... 400, 1,000 repetitions) come from ``benchmarks/validate_ppi.py``.
"""

from __future__ import annotations

import ast
import collections
import csv
import io
import json
from importlib import resources

import numpy as np
import pytest
from scipy import stats

from assay.stats import ppi


def _text(*parts: str) -> str:
    return resources.files("assay.data").joinpath(*parts).read_text(encoding="utf-8")


def pandalm_first_wins() -> tuple[np.ndarray, np.ndarray]:
    """Per pair: 1 if the annotators' majority prefers response 1, 0.5 a tie, 0 response 2; GPT-3.5's likewise."""
    rows = json.loads(_text("pandalm", "testset-v1.json"))
    verdicts = json.loads(_text("pandalm", "gpt-3.5-turbo-testset-v1.json"))
    gpt = {r["idx"]: str(r["gpt_result"]).lower() for r in verdicts}
    y = [{0: 0.5, 1: 1.0, 2: 0.0}[collections.Counter(r[f"annotator{i}"] for i in (1, 2, 3)).most_common(1)[0][0]]
         for r in rows]
    f = [{"1": 1.0, "2": 0.0}.get(gpt[r["idx"]], 0.5) for r in rows]  # "Tie" and unreadable answers: 0.5
    return np.array(y), np.array(f)


def hanna_coherence() -> tuple[np.ndarray, np.ndarray]:
    """Per story: the mean of three workers' coherence ratings, and ChatGPT's (prompt 1), 1,056 stories."""
    csv.field_size_limit(1 << 30)
    table = list(csv.DictReader(io.StringIO(_text("hanna", "hanna_metric_scores_llm.csv"))))
    col = lambda name: np.concatenate([ast.literal_eval(r[name]) for r in table]).astype(float)  # noqa: E731
    return col("Coherence"), col("ChatGPT CH 1")


def covered(y_all, f_all, n: int, reps: int, seed: int, *, small_sample: bool = True, iid: bool = False):
    """Intervals (of ``reps``) covering the full-data mean, and their mean width over the human-only one."""
    rng = np.random.default_rng(seed)
    truth, m = y_all.mean(), len(y_all)
    hits, ratio = 0, []
    for _ in range(reps):
        idx = rng.integers(0, m, m) if iid else rng.permutation(m)
        y, f = y_all[idx], f_all[idx]
        r = ppi.mean(y[:n], f[:n], f[n:], small_sample=small_sample)
        hits += r.low <= truth <= r.high
        ratio.append((r.high - r.low) / (r.classical_high - r.classical_low))
    return hits, float(np.mean(ratio))


def lowest_acceptable(reps: int, level: float = 0.95) -> int:
    return int(stats.binom.ppf(0.001, reps, level))


@pytest.mark.parametrize(("data", "iid"), [(pandalm_first_wins, False), (pandalm_first_wins, True),
                                            (hanna_coherence, False)])
def test_ppi_covers_the_full_data_value_with_50_human_labels(data, iid):
    y, f = data()
    reps = 1000
    hits, ratio = covered(y, f, 50, reps, seed=50, iid=iid)
    assert hits >= lowest_acceptable(reps), f"coverage {hits / reps:.3f}"
    assert ratio < 0.9  # the published judge is worth using: PPI++ is narrower than 50 human labels alone


def test_the_small_sample_interval_is_what_keeps_coverage_at_20_labels():
    """The normal interval (ppi_py's) covers about 91-93% at n = 20 on HANNA coherence; the small-sample one 94-95%."""
    y, f = hanna_coherence()
    reps = 1000
    t_hits, _ = covered(y, f, 20, reps, seed=20)
    z_hits, _ = covered(y, f, 20, reps, seed=20, small_sample=False)  # the same draws
    assert t_hits >= lowest_acceptable(reps), f"coverage {t_hits / reps:.3f}"
    # on the same draws the normal interval misses in at least 1.5% more repetitions (2.5% with this seed)
    assert t_hits - z_hits >= 15 and z_hits / reps < 0.94


def test_a_useless_judge_costs_at_most_a_degree_of_freedom():
    """Pure noise for a judge: coverage holds and PPI++ is at most about 1% wider than human-only at n = 50.

    When the tuned lam is above 0, the small-sample interval gives the labelled variance n - 2
    degrees of freedom instead of n - 1 (lam was estimated): a width factor of at most
    sqrt(49/48) * t(48)/t(49), 1.011, at n = 50; with lam = 0 it is the human-only interval.
    """
    rng = np.random.default_rng(51)
    reps, n, big_n, hits, ratios = 1000, 50, 1000, 0, []
    bound = np.sqrt(49 / 48) * stats.t.ppf(0.975, 48) / stats.t.ppf(0.975, 49)
    for _ in range(reps):
        y = rng.normal(3, 1, n + big_n)
        f = rng.normal(3.5, 1, n + big_n)
        r = ppi.mean(y[:n], f[:n], f[n:])
        hits += r.low <= 3 <= r.high
        ratios.append((r.high - r.low) / (r.classical_high - r.classical_low))
    assert hits >= lowest_acceptable(reps)
    assert max(ratios) <= bound + 1e-3
    assert np.mean(ratios) < 1.005


def test_small_sample_interval_with_lam_zero_is_students_t():
    rng = np.random.default_rng(52)
    y, f, fu = rng.normal(2, 1, 30), rng.normal(0, 1, 30), rng.normal(0, 1, 500)
    r = ppi.mean(y, f, fu, lam=0)
    ref = stats.t.interval(0.95, 29, loc=y.mean(), scale=stats.sem(y))
    assert r.interval == pytest.approx(ref, abs=1e-12) and r.classical_interval == pytest.approx(ref, abs=1e-12)
    assert r.df == 29
    z = ppi.mean(y, f, fu, lam=0, small_sample=False)
    assert np.isinf(z.df) and z.high - z.low < r.high - r.low


@pytest.mark.parametrize("alt", ["two-sided", "larger", "smaller"])
def test_small_sample_p_value_inverts_the_interval(alt):
    rng = np.random.default_rng(53)
    y = rng.normal(3, 1, 25)
    f = 0.8 * y + rng.normal(0, 0.5, 25)
    fu = 0.8 * rng.normal(3, 1, 400) + rng.normal(0, 0.5, 400)
    r = ppi.mean(y, f, fu, alpha=0.1, alternative=alt)
    # Welch-Satterthwaite: n - 2 = 23 degrees of freedom for the labelled part (lam tuned), 399 for the other
    a, b = np.var(y - r.lam * f, ddof=2) / 25, np.var(r.lam * fu, ddof=1) / 400
    assert r.lam > 0 and r.df == pytest.approx((a + b) ** 2 / (a**2 / 23 + b**2 / 399), rel=1e-12)
    assert r.se == pytest.approx(np.sqrt(a + b), rel=1e-12)
    limit = r.high if alt == "smaller" else r.low
    assert r.p_value(limit) == pytest.approx(0.1, abs=1e-9)
