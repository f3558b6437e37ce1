"""`assay users` and `assay campaign` on both stores."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from assay.cli import app
from assay.server import accounts as ACC
from assay.store import Store
from tests.server.conftest import add_texts


def _run(url: str, *args: str, input: str | None = None):  # noqa: A002, ANN202
    res = CliRunner().invoke(app, ["--db", url, *args], input=input)
    assert res.exit_code == 0, (res.output, res.exception)
    return res


def test_users_and_campaign_commands(store_url, tmp_path):
    _run(store_url, "users", "add", "lena", "--role", "lead", "--password-stdin", input="lena's password\n")
    _run(store_url, "users", "add", "raj", "--password-stdin", input="raj's password!\n")
    bad = CliRunner().invoke(app, ["--db", store_url, "users", "add", "raj", "--password-stdin"], input="whatever1\n")
    assert bad.exit_code != 0
    users = json.loads(_run(store_url, "users", "list", "--json").output)
    assert [(u["name"], u["role"]) for u in users] == [("lena", "lead"), ("raj", "rater")]
    assert all("password_hash" not in u for u in users)
    with Store(store_url) as s:
        assert ACC.authenticate(s, "raj", "raj's password!") is not None
        assert ACC.authenticate(s, "raj", "wrong password") is None
        add_texts(s, "cli", ["q1", "q2"], {"a@1": ["x", "y"], "b@1": ["z", "w"], "c@1": ["u", "v"]})
        r0 = s.list("responses", model="a@1")[0]
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"response_id": r0.id, "values": {"safety": 5}, "explanation": "harmless"}) + "\n")
    out = _run(store_url, "campaign", "create", "pairs", "--dataset", "cli", "--kind", "compare", "--overlap", "2",
               "--dimensions", "factuality", "--lead", "lena", "--raters", "raj", "--json").output
    assert json.loads(out)["units"] == 6  # 3 pairs per item
    _run(store_url, "campaign", "create", "safety", "--dataset", "cli", "--models", "a@1,b@1", "--dimensions",
         "safety", "--gold", str(gold), "--gold-share", "0.5", "--calibration", "--deadline", "2099-01-01",
         "--min-justification", "15")
    listed = {c["name"]: c for c in json.loads(_run(store_url, "campaign", "list", "--json").output)}
    assert listed["pairs"]["units"] == 6 and listed["pairs"]["created_by"] == "lena"
    assert listed["safety"]["gold_units"] == 1 and listed["safety"]["calibration"] is True
    assert listed["safety"]["min_justification"] == 15 and listed["safety"]["deadline"].startswith("2099-01-01")
    # rate one pair through the library, then export it
    from assay import annotate as A

    with Store(store_url) as s:
        camp = A.get_campaign(s, "pairs")
        asg = A.next_assignment(s, camp, "human:raj")
        A.submit(s, camp, asg, A.Answer(justification="first is right", choice=asg.shown_order[0], strength=1))
    path = tmp_path / "out.jsonl"
    _run(store_url, "campaign", "export", "pairs", "--format", "jsonl", "-o", str(path))
    (row,) = [json.loads(x) for x in path.read_text().splitlines()]
    assert row["winner"] == asg.shown_order[0] and row["rater_id"] == "human:raj" and len(row["models"]) == 2
    _run(store_url, "campaign", "close", "pairs")
    with Store(store_url) as s:
        assert A.get_campaign(s, "pairs").status == "closed"


def test_users_add_without_a_terminal_says_to_pipe_the_password(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "assay", "--db", str(tmp_path / "a.db"), "users", "add", "ada", "--role", "admin"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "--password-stdin" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    with Store(f"sqlite:///{tmp_path / 'a.db'}") as s:
        assert ACC.list_users(s) == []
