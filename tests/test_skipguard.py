"""The CI skip guard (tests/skipguard.py) on small pytest sessions of its own, run by pytester."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]

SUITE = {
    "test_a.py": """
        import pytest

        def test_runs():
            pass

        def test_needs_a_gpu():
            pytest.skip("no GPU here")

        @pytest.mark.xfail(reason="a known bug", strict=True)
        def test_known_bug():
            assert False
    """,
    "test_b.py": """
        import pytest

        pytest.skip("the whole module needs a service", allow_module_level=True)

        def test_service():
            pass
    """,
}


@pytest.fixture
def session(pytester, monkeypatch):
    """Run the small suite with the guard loaded as the real suite loads it; ``ci`` sets CI."""
    pytester.makepyfile(**SUITE)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))

    def run(*args: str, ci: bool, allow: str | None = None) -> pytest.RunResult:
        monkeypatch.setenv("CI", "true") if ci else monkeypatch.delenv("CI", raising=False)
        if allow is None:
            monkeypatch.delenv("ASSAY_SKIP_ALLOWLIST", raising=False)
        else:
            path = pytester.path / "allow.txt"
            path.write_text(allow)
            monkeypatch.setenv("ASSAY_SKIP_ALLOWLIST", str(path))
        return pytester.runpytest("-p", "tests.skipguard", "-p", "no:cacheprovider", *args)

    return run


def test_locally_a_skip_is_only_reported(session):
    result = session(ci=False)
    result.assert_outcomes(passed=1, skipped=2, xfailed=1)
    assert result.ret == pytest.ExitCode.OK
    assert "not allowed under CI" not in result.stdout.str()


def test_under_ci_a_skip_not_on_the_list_fails_the_session(session):
    result = session(ci=True)
    result.assert_outcomes(passed=1, skipped=2, xfailed=1)  # every test passed or skipped, yet:
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "test_a.py::test_needs_a_gpu: no GPU here" in out
    assert "test_b.py: the whole module needs a service" in out  # a module skipped at import counts too
    assert "test_known_bug" not in out.split("skips not allowed under CI=true")[1]  # an xfail is not a skip
    assert "2 skip(s) not on" in out and "skip_allowlist.txt" in out


def test_under_ci_skips_on_the_list_pass(session):
    allow = "# why each may skip\ntest_a.py::test_needs_a_*  # CI has no GPU\ntest_b.py  # the service is not in CI\n"
    result = session(ci=True, allow=allow)
    assert result.ret == pytest.ExitCode.OK
    assert "not allowed under CI" not in result.stdout.str()
    partly = session(ci=True, allow="test_b.py  # the service is not in CI\n")
    assert partly.ret == pytest.ExitCode.TESTS_FAILED
    assert "1 skip(s) not on" in partly.stdout.str() and "test_needs_a_gpu" in partly.stdout.str()


def test_an_allowed_skip_must_say_why(session):
    result = session(ci=True, allow="test_a.py::test_needs_a_gpu\n")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "allow.txt:1: allowed skip 'test_a.py::test_needs_a_gpu' needs its reason after '#'" in result.stderr.str()


def test_under_ci_with_xdist_workers_the_controller_fails_the_session(session):
    result = session("-n", "2", ci=True)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "test_a.py::test_needs_a_gpu: no GPU here" in result.stdout.str()


def test_the_suites_allowlist_is_well_formed_and_short():
    from tests.skipguard import ALLOWLIST, read_allowlist

    assert len(read_allowlist(ALLOWLIST)) <= 5  # "short" (issue #12): a test CI cannot run is a test nobody runs


def test_a_missing_need_skips_here_and_fails_under_ci(pytester, monkeypatch):
    """require_module / require_path (tests/conftest.py), as the browser and validation tests use them."""
    pytester.makepyfile(test_needs="""
        from pathlib import Path

        from tests.conftest import require_module, require_path

        def test_needs_a_package():
            require_module("assay_no_such_package")

        def test_needs_data():
            require_path(Path("/nonexistent/validation"), "published values")
    """)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv("CI", raising=False)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(skipped=2)
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*CI=true but assay_no_such_package is not installed*",
                                 "*CI=true but published values not found at /nonexistent/validation*"])
