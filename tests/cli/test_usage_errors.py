"""Every command, walked from the real command tree, answers a usage mistake with click's usage error and exit 2.

The tree is the click group behind the Typer app, so a new command is covered without
editing this file. Bad values are chosen from each option's annotation: a number option
gets a word, an option with a minimum gets a value below it.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import typing
from pathlib import Path
from types import NoneType, UnionType

import pytest
import typer
import typer.main

from assay.cli import app, main


def _commands(cmd, path: tuple[str, ...] = ()):
    yield path, cmd
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))
IDS = [" ".join(p) or "assay" for p, _ in COMMANDS]


def _hints(cmd) -> dict[str, typing.Any]:
    if cmd.callback is None:
        return {}
    return typing.get_type_hints(inspect.unwrap(cmd.callback), include_extras=True)


def _base(hint) -> tuple[type | None, typing.Any]:
    """(the Python type, the typer Option/Argument info) of an annotated parameter."""
    info = None
    if typing.get_origin(hint) is typing.Annotated:
        hint, *meta = typing.get_args(hint)
        info = next((m for m in meta if hasattr(m, "min")), None)
    if isinstance(hint, UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not NoneType]
        hint = args[0] if len(args) == 1 else None
    return (hint if isinstance(hint, type) else None), info


def _dummy(param, hint) -> list[str]:
    """A valid value for a required parameter, so that only the mistake under test is one."""
    base, _ = _base(hint)
    value = "1" if base in (int, float) else "x"
    if param.param_type_name == "argument":
        return [value] * (param.nargs if param.nargs > 0 else 1)
    return [param.opts[0], value]


def _cases():
    """(id, argv, text expected in the error) for every command."""
    for (path, cmd), name in zip(COMMANDS, IDS):
        argv = list(path)
        yield f"{name}: unknown option", [*argv, "--no-such-option"], "No such option"
        hints = _hints(cmd)
        required = [p for p in cmd.params if p.required]
        if required:
            yield f"{name}: missing required", argv, "Missing"
        numeric = [(p, *_base(hints.get(p.name))) for p in cmd.params
                   if p.param_type_name == "option" and p.opts[0].startswith("--")]
        numeric = [(p, base, info) for p, base, info in numeric if base in (int, float) and not p.multiple]
        fill = [x for p in required for x in _dummy(p, hints.get(p.name))]
        if numeric:
            p, _, _ = numeric[0]
            yield f"{name}: word for a number ({p.opts[0]})", [*argv, *fill, p.opts[0], "abc"], p.opts[0]
        for p in cmd.params:  # an endpoint that is not a URL is refused before any work, not at the first call
            if p.name.endswith("base_url"):
                yield f"{name}: not a URL ({p.opts[0]})", [*argv, *fill, p.opts[0], "..."], p.opts[0]
        for p in cmd.params:  # a confidence level that is no level (NaN, infinity, above 1) before any data is read
            if p.name == "confidence":
                for bad in ("nan", "inf", "2", "0.3"):
                    yield f"{name}: confidence {bad}", [*argv, *fill, p.opts[0], bad], p.opts[0]
        ranged = [(p, base, info) for p, base, info in numeric if info is not None and info.min is not None]
        if ranged:
            p, base, info = ranged[0]
            yield (f"{name}: below the minimum ({p.opts[0]})", [*argv, *fill, p.opts[0], str(base(info.min) - 1)],
                   p.opts[0])


CASES = list(_cases())


def test_the_walk_covers_the_commands_named_in_the_issue():
    names = {c[0] for c in CASES}
    assert "assay: unknown option" in names and "generate: missing required" in names
    assert "generate: below the minimum (--samples)" in names
    assert {"judge: not a URL (--base-url)", "generate: not a URL (--base-url)", "demo: not a URL (--base-url)",
            "redteam run: not a URL (--base-url)", "library check: not a URL (--judge-base-url)"} <= names
    assert any(n.startswith("generate: word for a number") for n in names)
    assert sum(n.endswith("unknown option") for n in names) == len(COMMANDS) > 60
    # every command with a confidence level refuses NaN, infinity and levels out of range
    assert {"abtest compare: confidence nan", "redteam asr: confidence inf", "redteam insecure: confidence 2",
            "rank: confidence 0.3", "agreement: confidence nan", "redteam bias results: confidence inf"} <= names


@pytest.mark.parametrize(("argv", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_usage_mistake_exits_2_with_one_error_line(capsys, tmp_path, monkeypatch, argv, expected):
    monkeypatch.chdir(tmp_path)  # a command that ran by mistake would leave its store here
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (argv, out, err)
    assert "Traceback" not in out + err
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and expected in errors[0], err
    assert err.lstrip().startswith("Usage: ")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=IDS)
def test_dash_h_is_help_everywhere(capsys, path):
    assert main([*path, "-h"]) == 0
    out, err = capsys.readouterr()
    assert "Usage: " in out and "-h" in out and err == ""


def test_did_you_mean(capsys):
    assert main(["ls", "--jso"]) == 2
    assert "--json" in capsys.readouterr().err.splitlines()[-1]
    assert main(["improt"]) == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert "No such command 'improt'" in last
    if "suggest_commands" in inspect.signature(typer.Typer).parameters:  # typer >= 0.20 suggests commands
        assert "Did you mean 'import'?" in last


def test_version(capsys):
    from importlib.metadata import version

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"assay {version('assay')}\n"


def _assay() -> list[str]:
    """The `assay` console script of this environment (else `python -m assay`)."""
    script = Path(sys.executable).parent / "assay"
    return [str(script)] if script.exists() else [sys.executable, "-m", "assay"]


@pytest.mark.parametrize(("args", "code", "stream", "expected"), [
    (["--bogus"], 2, "stderr", "--bogus"),
    (["generate", "--samples", "0", "--model", "m@1", "--dataset", "d"], 2, "stderr", "'--samples'"),
    (["generate", "--concurrency", "abc"], 2, "stderr", "'--concurrency'"),
    (["judge-report"], 2, "stderr", "Missing option '--judge'"),
    (["-h"], 0, "stdout", "Usage: assay"),
    (["--version"], 0, "stdout", "assay "),
])
def test_console_script_end_to_end(tmp_path, args, code, stream, expected):
    proc = subprocess.run([*_assay(), *args], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "ASSAY_DEBUG": ""})
    assert proc.returncode == code, proc.stderr
    assert expected in getattr(proc, stream)
    assert "Traceback" not in proc.stdout + proc.stderr


def test_judge_tune_and_calibrate_are_also_two_words(capsys, tmp_path):
    """`assay judge tune` (the issue's spelling) is `assay judge-tune`, with or without global options first."""
    from assay.cli import _two_words, main

    assert _two_words(["--db", "x.db", "judge", "tune", "--rubric", "r"]) == ["--db", "x.db", "judge-tune", "--rubric", "r"]
    assert _two_words(["judge", "calibrate", "--judge", "j"]) == ["judge-calibrate", "--judge", "j"]
    # a model called "tune" after another argument is left alone, as is anything else
    assert _two_words(["judge", "a@1", "tune"]) == ["judge", "a@1", "tune"]
    assert _two_words(["--db", "judge", "tune"]) == ["--db", "judge", "tune"]
    db = str(tmp_path / "s.db")
    for words in (["judge", "tune"], ["judge-tune"]):
        code = main(["--db", db, *words, "--rubric", "nosuch", "--judge", "j@1"])
        assert code == 1 and "no rubric 'nosuch'" in capsys.readouterr().err
