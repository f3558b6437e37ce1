"""Under CI=true, a test session that skipped anything not on the allow-list fails.

A skip hides a test that did not run; on a developer's machine that is a convenience (no
PostgreSQL, no Chromium), in CI it is a hole. Every skipped test and every skipped module is
matched against ``tests/skip_allowlist.txt``: one entry a line, ``<node id glob>  # why it may
skip in CI``; an entry without its reason is itself an error. Locally nothing changes.

Loaded by ``tests/conftest.py``; with xdist only the controller judges (workers forward their
reports to it).
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ALLOWLIST = Path(__file__).with_name("skip_allowlist.txt")
ENV_ALLOWLIST = "ASSAY_SKIP_ALLOWLIST"  # another file, for the guard's own tests


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def read_allowlist(path: Path) -> list[str]:
    """The node id globs of the allow-list; a UsageError for an entry that does not say why."""
    globs = []
    if not path.exists():
        return globs
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        entry, _, why = line.partition("#")
        if not entry.strip():
            continue
        if not why.strip():
            raise pytest.UsageError(f"{path}:{n}: allowed skip {entry.strip()!r} needs its reason after '#'")
        globs.append(entry.strip())
    return globs


def _reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return text.removeprefix("Skipped: ")


@dataclass(eq=False)  # registered as a plugin: hashed by identity
class SkipGuard:
    allowlist: Path
    skipped: dict[str, str] = field(default_factory=dict)  # node id -> reason

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):  # an xfail is reported as skipped too
            self.skipped.setdefault(report.nodeid, _reason(report))

    @pytest.hookimpl
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.skipped:  # a whole module skipped at import
            self.skipped.setdefault(report.nodeid, _reason(report))

    def unallowed(self) -> dict[str, str]:
        globs = read_allowlist(self.allowlist)
        return {nodeid: why for nodeid, why in self.skipped.items()
                if not any(fnmatch.fnmatchcase(nodeid, g) for g in globs)}

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if in_ci() and self.unallowed() and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        bad = self.unallowed() if in_ci() else {}
        if not bad:
            return
        terminalreporter.section("skips not allowed under CI=true", red=True)
        for nodeid, why in sorted(bad.items()):
            terminalreporter.line(f"{nodeid}: {why}")
        terminalreporter.line(f"{len(bad)} skip(s) not on {self.allowlist}: make the test run, or add it there "
                              "with the reason it may skip in CI", red=True)


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: the controller sees every report
        return
    path = Path(os.environ.get(ENV_ALLOWLIST) or ALLOWLIST)
    read_allowlist(path)  # a malformed list stops the run before any test
    config.pluginmanager.register(SkipGuard(path), "assay-skipguard")
