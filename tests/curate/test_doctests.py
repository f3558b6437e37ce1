"""The curation modules' docstring examples run."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["assay.curate", "assay.curate.steps", "assay.curate.text", "assay.curate.pii",
                                    "assay.curate.minhash", "assay.curate.shingles",
                                    "assay.curate.contamination"])
def test_doctests(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
