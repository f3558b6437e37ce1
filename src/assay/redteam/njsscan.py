"""JavaScript and TypeScript code scanned with njsscan: many blocks, one run of the analyser.

njsscan (PyPI, by OpenSecurity) runs semgrep with the rules for JavaScript and Node.js
that ship in its package, offline. It brings semgrep and about 40 packages whose versions
clash with assay's, so it lives in a virtualenv of its own (``scripts/install-njsscan``)
and runs as a program: ``find_njsscan()`` looks for it in ``$ASSAY_NJSSCAN`` (the njsscan
executable), then ``$ASSAY_NJSSCAN_VENV/bin/njsscan`` (default
``~/.cache/assay/njsscan``), then ``PATH``.

``scan_javascript(codes)`` writes every block as a file of one temporary folder, runs
njsscan once on the folder with ``--json -o`` and maps each finding back to its block,
line and column, with the CWE id and severity of njsscan's rule. The code is parsed by
semgrep, never run. TypeScript is written as ``.js``: njsscan reads only ``.js`` files and
semgrep's JavaScript parser accepts type annotations.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assay.errors import AssayError

LANGUAGES = ("javascript", "typescript")
INSTALL = "run scripts/install-njsscan"
SEVERITY = {"INFO": "low", "WARNING": "medium", "ERROR": "high"}
"""njsscan's (semgrep's) severities as bandit's words."""
# njsscan skips every file whose path contains one of these (its settings.IGNORE_PATHS)
_IGNORED_IN_PATHS = ("__MACOSX", "node_modules", "bower_components", "fixtures", "jquery", "spec", "example",
                     ".min.js", ".git", ".svn")
_CWE = re.compile(r"(?i)^\s*cwe-(\d+)")


class NjsscanFailed(AssayError):
    """njsscan is installed but a scan did not produce its report."""


def default_venv() -> Path:
    """Where scripts/install-njsscan puts njsscan's virtualenv: ``$ASSAY_NJSSCAN_VENV``, else
    ``~/.cache/assay/njsscan``."""
    return Path(os.environ.get("ASSAY_NJSSCAN_VENV") or Path.home() / ".cache" / "assay" / "njsscan")


def find_njsscan() -> tuple[str | None, str]:
    """The njsscan executable to run, or None; and where it was looked for (or why it is absent), one line."""
    given = os.environ.get("ASSAY_NJSSCAN")
    if given:
        if os.access(given, os.X_OK) and Path(given).is_file():
            return given, given
        return None, f"njsscan not found at ASSAY_NJSSCAN={given}: {INSTALL} or fix the variable"
    exe = default_venv() / "bin" / "njsscan"
    if os.access(exe, os.X_OK):
        return str(exe), str(exe)
    on_path = shutil.which("njsscan")
    if on_path:
        return on_path, on_path
    return None, f"njsscan not installed: {INSTALL}"


def _env(exe: str) -> dict[str, str]:
    # njsscan runs `semgrep` by name: its virtualenv's bin must come first on PATH
    folder = str(Path(exe).parent)
    return {**os.environ, "PATH": folder + os.pathsep + os.environ.get("PATH", ""), "SEMGREP_SEND_METRICS": "off",
            "SEMGREP_ENABLE_VERSION_CHECK": "0"}


@functools.lru_cache(maxsize=8)
def _version_of(exe: str) -> str:
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=120, env=_env(exe))
    m = re.search(r"v(\d+(?:\.\d+)+)", out.stdout + out.stderr)
    if not m:
        raise NjsscanFailed(f"{exe} --version printed no version (exit {out.returncode}): "
                            f"{(out.stderr or out.stdout).strip()[-300:]}")
    return m.group(1)


def njsscan_version() -> str | None:
    """The version of the njsscan ``find_njsscan()`` finds; None when there is none."""
    exe, _ = find_njsscan()
    return _version_of(exe) if exe else None


def _folder() -> str:
    folder = tempfile.mkdtemp(prefix="assay-js-")
    bad = [p for p in _IGNORED_IN_PATHS if p in Path(folder).as_posix()]
    if bad:
        shutil.rmtree(folder, ignore_errors=True)
        raise NjsscanFailed(f"njsscan skips files whose path contains {bad[0]!r}, and the temporary folder is "
                            f"{folder}: set TMPDIR to another folder")
    return folder


BATCH = 5000
"""Blocks per run of njsscan: one run for a scan of up to this many, so a huge scan never builds one huge folder."""


def scan_javascript(codes: Sequence[str], *, timeout: float = 1800, batch: int = BATCH) -> list[dict[str, Any]]:
    """njsscan's findings on each of ``codes`` (JavaScript or TypeScript), from one run of njsscan per ``batch``.

    One dict per code, in order: ``findings`` (each: rule, name, cwe, severity, confidence
    None, line, column (0-based), end_line, message), and ``error`` (semgrep could not parse
    the block; what it could parse is still scanned) or None. ``NjsscanFailed`` when njsscan
    is absent or gives no report.
    """
    if not codes:
        return []
    exe, where = find_njsscan()
    if exe is None:
        raise NjsscanFailed(where)
    return [r for k in range(0, len(codes), batch) for r in _run(exe, codes[k:k + batch], timeout)]


def _run(exe: str, codes: Sequence[str], timeout: float) -> list[dict[str, Any]]:
    folder = _folder()
    try:
        names = [f"b{k:06d}.js" for k in range(len(codes))]
        for name, code in zip(names, codes):
            with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
                f.write(code if code.endswith("\n") else code + "\n")
        report = os.path.join(folder, "report.json")  # not a .js file: njsscan does not read it
        try:
            proc = subprocess.run([exe, "--json", "-o", report, folder], capture_output=True, text=True,
                                  timeout=timeout, env=_env(exe), cwd=folder)
        except subprocess.TimeoutExpired:
            raise NjsscanFailed(f"njsscan took longer than {timeout:g} s on {len(codes)} blocks") from None
        try:
            with open(report, encoding="utf-8") as f:
                out = json.load(f)
        except (OSError, ValueError):
            raise NjsscanFailed(f"njsscan wrote no report (exit {proc.returncode}): "
                                f"{(proc.stderr or proc.stdout).strip()[-300:]}") from None
        return _parse(out, folder, names)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _parse(out: dict[str, Any], folder: str, names: list[str]) -> list[dict[str, Any]]:
    index = {name: k for k, name in enumerate(names)}
    results: list[dict[str, Any]] = [{"findings": [], "error": None} for _ in names]

    def block_of(path: str) -> int | None:
        same = os.path.realpath(os.path.dirname(os.path.abspath(path))) == os.path.realpath(folder)
        return index.get(os.path.basename(path)) if same else None

    for err in out.get("errors") or []:
        k = block_of(err.get("path", "")) if isinstance(err, dict) else None
        if k is None:  # not about one block: the scan as a whole is not to be trusted
            raise NjsscanFailed(f"njsscan reported an error: {str(err)[:300]}")
        kind = err.get("type") or "error"
        kind = str(kind[0] if isinstance(kind, list) and kind else kind)  # semgrep gives ["PartialParsing", [...]]
        msg = " ".join(str(err.get("message") or kind).split())
        results[k]["error"] = f"{kind}: {msg}"[:200]
    for rule, entry in (out.get("nodejs") or {}).items():
        meta = entry.get("metadata") or {}
        m = _CWE.match(str(meta.get("cwe") or ""))
        severity = SEVERITY.get(str(meta.get("severity", "")).upper(), "medium")
        for hit in entry.get("files") or []:
            k = block_of(hit.get("file_path", ""))
            if k is None:
                continue
            start, end = (list(hit.get("match_lines") or [1, 1]) + [None])[:2]
            col = (hit.get("match_position") or [1])[0]
            results[k]["findings"].append({
                "rule": rule, "name": rule, "cwe": f"CWE-{m.group(1)}" if m else None, "severity": severity,
                "confidence": None, "line": int(start), "end_line": int(end or start), "column": max(int(col) - 1, 0),
                "message": " ".join(str(meta.get("description") or "").split())})
    for r in results:
        r["findings"].sort(key=lambda f: (f["line"], f["column"], f["rule"]))
    return results
