"""PAVA and the isotonic map against scikit-learn's IsotonicRegression and a published example."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from assay.stats import isotonic
from assay.stats.isotonic import fit_isotonic, isotonic_regression
from tests.conftest import require_module


def test_docstring_examples():
    result = doctest.testmod(isotonic)
    assert result.attempted >= 4 and result.failed == 0


def test_known_example_and_its_properties():
    # Barlow et al. (1972)-style example: every violation pooled into its block's mean
    y = [1, 3, 2, 4, 3.5, 5]
    fit = isotonic_regression(y)
    assert fit.tolist() == [1.0, 2.5, 2.5, 3.75, 3.75, 5.0]
    assert np.all(np.diff(fit) >= 0) and fit.sum() == pytest.approx(sum(y))  # monotone, mean kept
    assert isotonic_regression([3, 1, 2], increasing=False).tolist() == [3.0, 1.5, 1.5]
    assert isotonic_regression([1, 2, 3]).tolist() == [1.0, 2.0, 3.0]  # already monotone: unchanged


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_equals_sklearn_on_random_data_with_weights_ties_and_clipping(seed):
    sk = require_module("sklearn.isotonic")
    rng = np.random.default_rng(seed)
    n = 200
    x = rng.integers(0, 25, n).astype(float)  # many ties in x
    y = np.sqrt(x) + rng.normal(0, 1.5, n)
    w = rng.uniform(0.2, 3, n)
    ours = fit_isotonic(x, y, weights=w)
    ref = sk.IsotonicRegression(out_of_bounds="clip").fit(x, y, sample_weight=w)
    grid = np.linspace(-3, 28, 97)
    assert np.allclose(ours(grid), ref.predict(grid), atol=1e-9)
    assert np.allclose(ours(x), ref.predict(x), atol=1e-9)
    dec = fit_isotonic(x, -y, weights=w, increasing=False)
    ref_dec = sk.IsotonicRegression(increasing=False, out_of_bounds="clip").fit(x, -y, sample_weight=w)
    assert np.allclose(dec(grid), ref_dec.predict(grid), atol=1e-9)
    plain = isotonic_regression(y)  # no x: the sequence as given
    assert np.allclose(plain, sk.isotonic_regression(y), atol=1e-9)


def test_bad_inputs_say_why():
    with pytest.raises(ValueError, match="positive"):
        isotonic_regression([1, 2], weights=[1, 0])
    with pytest.raises(ValueError, match="length"):
        isotonic_regression([1, 2], weights=[1])
    with pytest.raises(ValueError, match="no \\(score, target\\) pairs"):
        fit_isotonic([], [])
    with pytest.raises(ValueError, match="finite"):
        fit_isotonic([1, np.nan], [1, 2])


def test_map_round_trips_and_a_single_score_maps_to_its_mean():
    m = fit_isotonic([2, 2, 2], [1, 2, 6])
    assert m([0, 2, 5]).tolist() == [3.0, 3.0, 3.0]
    assert isotonic.IsotonicMap.from_dict(m.to_dict()) == m
