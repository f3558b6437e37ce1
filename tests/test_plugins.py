"""The plug-in registry: one registry keyed by kind, and packages that add to it through entry points.

The plug-in tests build real packages in ``tmp_path``, install them with pip into a folder of
their own (``--target``, so the shared interpreter is not changed) and run the ``assay`` command
in a subprocess with that folder on ``PYTHONPATH``, where ``importlib.metadata`` finds their
entry points.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from assay import plugins
from assay import records as R
from assay.store import Store

# ---- the registry in this process ---------------------------------------------------------------


def test_every_kind_has_its_built_ins_and_one_registration_type():
    expected = {"verifier": "length", "metric": "rouge_l", "converter": "rot13", "curation-step": "exact-dup",
                "provider": "openai", "executor": "ray", "unit-work": "generate", "label-preset": "mt-bench",
                "attack-scorer": "no-refusal", "probe": "reference", "suite-probe": "manyshot-sweep"}
    assert set(expected) == set(plugins.KINDS)
    for kind, name in expected.items():
        reg = plugins.get(kind, name)
        assert isinstance(reg, plugins.Registration) and (reg.kind, reg.name, reg.plugin) == (kind, name, None)
        assert name in plugins.names(kind)


def test_unknown_names_and_kinds_are_refused_with_what_exists():
    with pytest.raises(ValueError, match=r"no converter named 'nope'; known: .*rot13"):
        plugins.get("converter", "nope")
    with pytest.raises(ValueError, match=r"no plug-in kind 'judge-ish'; kinds: verifier, metric"):
        plugins.names("judge-ish")


def test_the_decorator_records_arguments_so_a_spec_rebuilds_the_component():
    from assay.curate import steps
    from assay.judges import registry

    judge = plugins.create("verifier", "length", unit="chars", max=3)
    assert judge.spec() == {"name": "length", "version": "1", "args": {"unit": "chars", "min": None, "max": 3}}
    assert registry.from_spec(judge.spec())("abcd").passed is False
    step = plugins.create("curation-step", "length", min=2)
    assert steps.from_spec(step.spec()).label() == step.label() == "length(min=2)"


def test_a_second_factory_under_a_taken_name_is_refused():
    with pytest.raises(ValueError, match="a program judge named 'bleu' is already registered"):
        @plugins.register("verifier", "bleu")  # verifier and metric share their names
        def other() -> None:
            """Not BLEU."""


def test_internal_tables_are_constants_matching_their_users():
    from assay.gate.checks import CHECKERS
    from assay.gate.config import CHECKS
    from assay.judges.ifeval import INSTRUCTION_IDS

    assert set(CHECKERS) == set(CHECKS)
    assert len(INSTRUCTION_IDS) == 25 and INSTRUCTION_IDS[0] == "keywords:existence"


def test_an_executor_name_goes_through_the_registry(tmp_path):
    from assay.errors import AssayError
    from assay.runs import LocalExecutor, executors, make_executor

    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        assert isinstance(make_executor("local", store, concurrency=2), LocalExecutor)
        with pytest.raises(AssayError, match=r"unknown executor 'nope': use one of local, ray"):
            make_executor("nope", store)
        assert executors() == ["local", "ray"]
    finally:
        store.close()


# ---- plug-ins installed from other packages ----------------------------------------------------

GOOD = '''
"""A plug-in for assay: a verifier, a curation step, a converter and an executor."""
import os

from assay import plugins
from assay.curate.steps import Decision, Work
from assay.judges.registry import Verdict
from assay.runs import LocalExecutor


@plugins.register("verifier", "shouting", version="2")
def shouting(min_share: float = 0.5):
    """Most of the response's letters are capitals."""
    if not 0 <= min_share <= 1:
        raise ValueError(f"min_share must lie in [0, 1], not {min_share!r}")

    def check(response, target):
        letters = [c for c in response if c.isalpha()]
        share = sum(c.isupper() for c in letters) / len(letters) if letters else 0.0
        return Verdict(share >= min_share, share, f"{share:.0%} capitals")

    return check


@plugins.register("curation-step", "no-digits")
def no_digits():
    """Remove items whose prompt has a digit."""

    def apply(items, progress):
        progress(len(items))
        return [Decision(it.id, "removed", "the prompt has a digit") for it in items
                if any(c.isdigit() for c in it.prompt_text())]

    return Work(apply)


def setup():
    """Registers when called: the form ``module:callable`` of an entry point."""
    from assay.redteam.converters import Transform

    @plugins.register("converter", "upper", version="1")
    def upper():
        """The request in capitals."""
        return Transform(str.upper)


@plugins.register("executor", "noted")
def noted(store, **options):
    """The local executor, noting in $NOTED_LOG that it was used."""
    with open(os.environ["NOTED_LOG"], "a") as f:
        f.write("noted\\n")
    return LocalExecutor(store, **options)
'''


def _install(tmp_path: Path, dist: str, modules: dict[str, str], entry_points: dict[str, str]) -> Path:
    """Build the package ``dist`` (``modules``: name -> source) and pip-install it into a folder; that folder."""
    src = tmp_path / "src" / dist
    src.mkdir(parents=True)
    eps = "\n".join(f'{name} = "{value}"' for name, value in entry_points.items())
    (src / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{dist}"
        version = "0.1"

        [tool.setuptools]
        py-modules = {json.dumps(sorted(modules))}

        [project.entry-points."assay.plugins"]
        """) + eps + "\n")
    for name, code in modules.items():
        (src / f"{name}.py").write_text(code)
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(site), str(src)], check=True, capture_output=True, timeout=300)
    return site


def _assay(site: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(site)) if p)
    env["NOTED_LOG"] = str(tmp_path / "noted.log")
    return subprocess.run([sys.executable, "-m", "assay", "--db", str(tmp_path / "a.db"), *args],
                          capture_output=True, text=True, env=env, timeout=300)


def _store_with_answers(site: Path, tmp_path: Path) -> None:
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in (
        {"id": "1", "prompt": "Shout hello", "response": "HELLO THERE", "model": "m@1"},
        {"id": "2", "prompt": "Whisper 2 words", "response": "hello there", "model": "m@1"},
        {"id": "3", "prompt": "Mixed", "response": "HELLO there you", "model": "m@1"},
    )))
    proc = _assay(site, tmp_path, "import", str(data), "--json")
    assert proc.returncode == 0, proc.stderr


def test_a_plugin_package_adds_a_verifier_a_curation_step_a_converter_and_an_executor_to_the_cli(tmp_path):
    site = _install(tmp_path, "assay-shouting", {"assay_shouting": GOOD},
                    {"shouting": "assay_shouting", "shouting-setup": "assay_shouting:setup"})
    _store_with_answers(site, tmp_path)

    proc = _assay(site, tmp_path, "redteam", "attacks", "--json")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    (upper,) = [r for r in json.loads(proc.stdout) if r["name"] == "upper"]
    assert (upper["kind"], upper["description"]) == ("converter", "The request in capitals.")

    proc = _assay(site, tmp_path, "verify", "--verifier", "shouting", "--arg", "min_share=0.6",
                  "--executor", "noted", "--json")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "noted.log").read_text() == "noted\n"  # the run went through the plug-in's executor
    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        (rater,) = [r for r in store.list(R.Rater) if r.name == "shouting"]
        assert (rater.kind, rater.program_version, rater.config) == ("program", "2", {"min_share": 0.6})
        texts = {r.id: r.text for r in store.list(R.Response)}
        verdicts = {texts[j.response_id]: (j.dimension, j.value) for j in store.list(R.Judgment, rater_id=rater.id)}
        assert verdicts == {"HELLO THERE": ("shouting", 1.0), "hello there": ("shouting", 0.0),
                            "HELLO there you": ("shouting", 0.0)}  # 5 of 13 letters are capitals
        (run,) = [r for r in store.list(R.Run) if r.kind == "verify"]
        assert run.config["spec"] == {"name": "shouting", "version": "2", "args": {"min_share": 0.6}}
    finally:
        store.close()

    proc = _assay(site, tmp_path, "curate", "run", "--source", "qa", "--target", "clean", "--step", "no-digits",
                  "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    proc = _assay(site, tmp_path, "curate", "log", summary["run_id"], "--json")
    assert proc.returncode == 0, proc.stderr
    (removed,) = json.loads(proc.stdout)
    assert (removed["step"], removed["reason"]) == ("no-digits", "the prompt has a digit")

    # a factory's own refusal reaches the command line as a bad input (exit 2), naming the argument
    proc = _assay(site, tmp_path, "verify", "--verifier", "shouting", "--arg", "min_share=3")
    assert proc.returncode == 2 and "min_share must lie in [0, 1], not 3" in proc.stderr


BROKEN = '''
"""A plug-in whose import fails after registering one verifier."""
from assay import plugins


@plugins.register("verifier", "half-made")
def half_made():
    """Registered before the failure."""
    return lambda response, target: None


import assay_missing_dependency  # noqa: E402, F401
'''

CLASHING = '''
"""A plug-in that takes the name of one of assay's own verifiers."""
from assay import plugins


@plugins.register("converter", "sparkle")
def sparkle():
    """Sparkles around the prompt."""
    raise NotImplementedError


@plugins.register("verifier", "length")
def my_length():
    """Not assay's length."""
    raise NotImplementedError
'''


def test_a_broken_or_clashing_plugin_is_skipped_with_one_line_and_the_others_work(tmp_path):
    site = _install(tmp_path, "assay-shouting", {"assay_shouting": GOOD}, {"shouting": "assay_shouting"})
    _install(tmp_path, "assay-broken", {"assay_broken": BROKEN, "assay_clashing": CLASHING},
             {"broken": "assay_broken", "clashing": "assay_clashing"})
    _store_with_answers(site, tmp_path)

    proc = _assay(site, tmp_path, "ls", "--json")  # looks no plug-in up, so loads none
    assert proc.returncode == 0 and proc.stderr == ""

    proc = _assay(site, tmp_path, "verify", "--verifier", "shouting", "--json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 2, proc.stderr
    assert lines[0] == ("assay: plug-in 'broken' (assay_broken) did not load and is skipped: "
                        "ModuleNotFoundError: No module named 'assay_missing_dependency'")
    assert lines[1] == ("assay: plug-in 'clashing' (assay_clashing) did not load and is skipped: "
                        "ValueError: program judge 'length' is already registered by assay; "
                        "a plug-in may not replace it")

    # what a failed plug-in registered before failing is withdrawn; asking for it says why it is missing
    proc = _assay(site, tmp_path, "verify", "--verifier", "half-made")
    assert proc.returncode == 2
    assert "no program judge named 'half-made'" in proc.stderr
    assert "(plug-ins that did not load: broken, clashing)" in proc.stderr
    proc = _assay(site, tmp_path, "redteam", "attacks", "--json")
    assert proc.returncode == 0, proc.stderr
    listed = {r["name"] for r in json.loads(proc.stdout) if r["kind"] == "converter"}
    assert "rot13" in listed and "sparkle" not in listed

    # assay's own 'length' is untouched
    proc = _assay(site, tmp_path, "verify", "--verifier", "length", "--arg", "max=2", "--json")
    assert proc.returncode == 0, proc.stderr
    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        (rater,) = [r for r in store.list(R.Rater) if r.name == "length"]
        assert sorted(j.value for j in store.list(R.Judgment, rater_id=rater.id)) == [0.0, 1.0, 1.0]
    finally:
        store.close()
