"""RunOptions: the settings the red-team families share, and the ones a family refuses."""

from __future__ import annotations

import pytest

from assay import records as R
from assay.errors import BadInput
from assay.redteam.bias import run_bias
from assay.redteam.injection import run_injection
from assay.redteam.leakage import run_leakage
from assay.redteam.options import RunOptions


def test_a_family_names_the_field_it_cannot_honour(store):
    from assay.session import Session

    session, model = Session(store), R.Model(id="m@1", base_url="http://127.0.0.1:9")
    with pytest.raises(BadInput, match="does not use samples") as e:
        run_injection(session, model, options=RunOptions(samples=3))
    assert e.value.param == "samples"
    with pytest.raises(BadInput, match="does not use judge"):
        run_leakage(session, model, options=RunOptions(judge=object()))
    with pytest.raises(BadInput, match="does not use repeats"):
        run_bias(session, model, options=RunOptions(repeats=5))
    with pytest.raises(BadInput, match="at least 1") as e:
        run_leakage(session, model, options=RunOptions(repeats=0))
    assert e.value.param == "repeats"
    assert store.list(R.Dataset) == []  # refused before anything was stored


def test_callbacks_are_labelled():
    seen = []
    opts = RunOptions(on_start=lambda *a: seen.append(("start", *a)), on_progress=lambda *a: seen.append(("p", *a)))
    hooks = opts.labelled("inject:encoded")
    hooks["on_start"]("run1", 7)
    hooks["on_progress"]("half")
    assert seen == [("start", "inject:encoded", "run1", 7), ("p", "inject:encoded", "half")]
    assert RunOptions().labelled("x") == {}
