"""Library errors name the library's parameters; the CLI shows the flag that sets each one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import assay
from assay.cli import main
from assay.errors import BadInput
from assay.library import select_failures
from assay.redteam.asr import asr
from assay.store import Store

SRC = Path(assay.__file__).parent


def _flag_fields(path: Path) -> list[str]:
    """``field=`` and ``param=`` arguments of the module's calls that hold a text starting with "--"."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg in ("field", "param") and any(isinstance(c, ast.Constant) and str(c.value).startswith("--")
                                             for c in ast.walk(kw.value)):
                    found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    return found


def test_no_library_module_names_a_cli_flag_as_the_field_at_fault():
    library = [p for p in SRC.rglob("*.py") if p.relative_to(SRC).parts[0] not in ("cli", "testing")]
    assert [hit for p in sorted(library) for hit in _flag_fields(p)] == []


def test_the_library_names_its_parameter(tmp_path):
    with Store(str(tmp_path / "a.db")) as store:
        with pytest.raises(BadInput) as e:
            select_failures(store, rubric="default")
        assert e.value.param == "dimension" and str(e.value).startswith("parameter 'dimension': ")
        with pytest.raises(BadInput) as e:
            asr(store, per="sometimes")
        assert e.value.param == "per" and str(e.value) == "parameter 'per': per must be 'behavior' or 'attempt', got 'sometimes'"


@pytest.mark.parametrize(("argv", "shown"), [
    (["redteam", "asr", "--per", "sometimes"], "error: field '--per': per must be 'behavior' or 'attempt', got 'sometimes'"),
    (["redteam", "asr", "--by", "nothing"], "error: field '--by': group by some of model, attack, category, got nothing"),
    # the parameter (models) is set by another flag in this command: the command says which
    (["judge", "--pairwise", "a@1", "--judge", "j@1", "--base-url", "http://127.0.0.1:9/v1"],
     "error: field '--pairwise': pairwise judging needs at least two models"),
])
def test_the_cli_shows_the_flag(capsys, tmp_path, argv, shown):
    assert main(["--db", str(tmp_path / "a.db"), *argv]) == 2
    assert capsys.readouterr().err.strip() == shown
