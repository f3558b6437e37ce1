"""A newcomer's walk: every command in the README's shell blocks, copied as written, in order.

Each command runs in one fresh folder, the way someone following the README on a fresh
clone would run it. Many name files the reader has not made yet or an endpoint that is
not running; those must fail with one line saying so, never with a traceback, and a
command that succeeds must say what it did.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"

# Commands the walk cannot run as written, and why.
NOT_RUN = {
    "./scripts/test": "the test suite itself",
    "assay serve": "serves until stopped",
}


def readme_commands() -> list[str]:
    """The shell commands of the README's ```bash blocks, continuation lines joined."""
    commands: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.S):
        pending = ""
        for line in block.splitlines():
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            command = (pending + line).strip()
            pending = ""
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def _steps(command: str) -> list[str]:
    """The parts of a command line joined by && (pip installs are the reader's set-up, not assay)."""
    parts = [p.strip() for p in command.split("&&")]
    return [p for p in parts if not p.startswith("pip ")]


def _strip_comment(command: str) -> str:
    """The command without its trailing ``# comment`` (a '#' after whitespace, outside quotes)."""
    quote = None
    for i, ch in enumerate(command):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and i > 0 and command[i - 1].isspace():
            return command[:i].rstrip()
    return command


def test_the_readme_lists_the_tour():
    commands = readme_commands()
    assert any(c.startswith("assay init") for c in commands)
    assert sum(c.startswith("assay") for c in commands) > 30


@pytest.mark.slow
def test_every_readme_command_answers_in_one_line_or_does_something(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    env.pop("OPENAI_API_KEY", None)
    env["COLUMNS"] = "200"
    bindir = Path(sys.executable).parent
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    problems: list[str] = []
    ran = 0
    for command in readme_commands():
        for step in _steps(_strip_comment(command)):
            if any(step.startswith(prefix) for prefix in NOT_RUN):
                continue
            if step.startswith("export "):
                name, _, value = step[len("export "):].partition("=")
                env[name] = value
                continue
            proc = subprocess.run(
                ["bash", "-c", step], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                capture_output=True, text=True, timeout=300,
            )
            ran += 1
            out = proc.stdout + proc.stderr
            # click's usage error is "Usage: ...", "Try ... -h", then one "Error:" line; a run prints its plan first
            err_lines = [line for line in proc.stderr.splitlines() if line.strip()
                         and not line.startswith(("Usage: ", "Try '", "plan: "))]
            if "Traceback" in out:
                problems.append(f"{step!r}: traceback\n{out[-1500:]}")
            elif proc.returncode not in (0, 1, 2):
                problems.append(f"{step!r}: exit {proc.returncode}\n{out[-800:]}")
            elif proc.returncode and len(err_lines) != 1:
                problems.append(f"{step!r}: exit {proc.returncode} with {len(err_lines)} lines:\n{proc.stderr[-800:]}")
            elif proc.returncode == 0 and not out.strip():
                problems.append(f"{step!r}: succeeded and printed nothing")
    assert ran > 30
    assert not problems, "\n\n".join(problems)
