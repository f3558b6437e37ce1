"""`assay agreement` says which raters each figure covers, so two runs over different raters can't be confused."""

from __future__ import annotations

import re

import pytest

from assay.cli import main


@pytest.fixture(scope="module")
def pandalm_db(tmp_path_factory):
    db = str(tmp_path_factory.mktemp("pandalm") / "p.db")
    assert main(["--db", db, "load", "pandalm"]) == 0
    return db


def _flat(text: str) -> str:
    """Console output on one line (rich wraps a table's title to the table's width)."""
    return re.sub(r"\s+", " ", text)


def test_agreement_names_the_raters_of_each_figure(capsys, pandalm_db):
    capsys.readouterr()
    assert main(["--db", pandalm_db, "agreement", "--comparisons", "--rounds", "50"]) == 0
    out = _flat(capsys.readouterr().out)
    assert ("999 units rated twice or more of 999, 3971 ratings by 4 raters: pandalm-annotator1, pandalm-annotator2, "
            "pandalm-annotator3 (human); gpt-3.5-turbo (llm)") in out
    assert "0.679" in out  # GPT-3.5 as a fourth rater lowers alpha from the annotators' 0.864

    assert main(["--db", pandalm_db, "agreement", "--comparisons", "--kind", "human", "--rounds", "50"]) == 0
    out = _flat(capsys.readouterr().out)
    assert ("2997 ratings by 3 raters: pandalm-annotator1, pandalm-annotator2, pandalm-annotator3 (human) " in out
            and "gpt-3.5-turbo" not in out)
    assert "0.864" in out  # the demo's figure for the three annotators
