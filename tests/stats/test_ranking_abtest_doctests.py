"""The worked examples in the ranking and A/B-test docstrings run and give the values they print."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "assay.stats.ranking",
    "assay.stats._style",
    "assay.stats.abtest",
    "assay.stats._abtest_tables",
    "assay.stats.power",
    "assay.stats.sequential",
    "assay.stats._pair",
    "assay.stats.noninferiority",
    "assay.stats._paired",
    "assay.stats._pairwise",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
