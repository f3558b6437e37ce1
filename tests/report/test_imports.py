"""The report reads stored verdicts through analysis/: no report module imports judge or annotation code."""

from __future__ import annotations

import ast
from pathlib import Path

import assay.report

FORBIDDEN = ("assay.judges", "assay.annotate", "assay.runs")


def _imports(path: Path) -> list[str]:
    """Every module an import statement of ``path`` names, at any depth (lazy imports too)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    return out


def test_no_report_module_imports_judges_annotate_or_runs():
    folder = Path(assay.report.__file__).parent
    found = {f"{p.name}: {m}" for p in sorted(folder.glob("*.py")) for m in _imports(p)
             if m.startswith(FORBIDDEN) or (m.startswith("assay.") and m.split(".")[-1] in ("judges", "annotate"))}
    assert found == set()
