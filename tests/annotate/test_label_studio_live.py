"""The Label Studio round trip against a real Label Studio: the project is created through its
REST API with the config assay generated, the tasks imported, three annotators' answers
created through its API, the project exported (a snapshot with the annotators' e-mails, and
the plain export with user ids plus its user list), the export imported into assay, and
assay's agreement run on it.

Label Studio runs from its own virtualenv (scripts/install-label-studio; its pins clash with
assay's), started once for this module on a free local port with a data folder of its own.
Where it is not installed the tests skip, and fail under CI=true.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from assay.cli import main
from tests.annotate.test_label_studio import plan
from tests.annotate.tools_helpers import campaign, preference_results, seed
from tests.conftest import require_module, skip_or_fail

pytestmark = pytest.mark.xdist_group("label-studio")  # one worker, so one Label Studio starts

VENV = Path(os.environ.get("ASSAY_LABEL_STUDIO_VENV") or Path.home() / ".cache" / "assay-tests" / "label-studio")
HERE = Path(__file__).parent


@dataclass
class LabelStudio:
    url: str
    api: httpx.Client
    python: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory):
    exe = VENV / "bin" / "label-studio"
    if not exe.exists():
        skip_or_fail(f"Label Studio is not installed in {VENV}: run scripts/install-label-studio")
    data = tmp_path_factory.mktemp("label-studio")
    port, token = _free_port(), secrets.token_hex(20)
    env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(data), "LATEST_VERSION_CHECK": "false"}
    env.pop("CI", None)  # Label Studio reads CI itself; the suite's flag is not for it
    log = open(data / "server.log", "w")
    proc = subprocess.Popen(
        [str(exe), "start", "--no-browser", "--data-dir", str(data), "--port", str(port), "--internal-host",
         "127.0.0.1", "--host", f"http://127.0.0.1:{port}", "--username", "lead@example.com", "--password",
         secrets.token_hex(8), "--user-token", token, "--enable-legacy-api-token"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    api = httpx.Client(base_url=url, headers={"Authorization": f"Token {token}"}, timeout=60)
    try:
        deadline = time.monotonic() + 240
        while True:
            if proc.poll() is not None:
                pytest.fail(f"Label Studio exited with {proc.returncode}:\n{(data / 'server.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"Label Studio did not answer in 240 s:\n{(data / 'server.log').read_text()[-3000:]}")
            time.sleep(1)
        yield LabelStudio(url, api, VENV / "bin" / "python")
    finally:
        api.close()
        os.killpg(proc.pid, signal.SIGTERM)  # its own process group: the server and its workers
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()


def _ok(r: httpx.Response) -> dict | list:
    assert r.status_code < 300, f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:500]}"
    return r.json()


def _users(ls: LabelStudio, tag: str) -> list[dict]:
    return [_ok(ls.api.post("/api/users/", json={"email": f"{name}-{tag}@example.com", "username": f"{name}-{tag}",
                                                 "first_name": name}))
            for name in ("ann", "bo", "cy")]


def _project(ls: LabelStudio, folder: Path) -> tuple[int, list[dict]]:
    """A project made from assay's project.json, its tasks imported from tasks.json."""
    pid = _ok(ls.api.post("/api/projects", json=json.loads((folder / "project.json").read_text())))["id"]
    done = _ok(ls.api.post(f"/api/projects/{pid}/import", json=json.loads((folder / "tasks.json").read_text())))
    assert done["task_count"] == len(json.loads((folder / "tasks.json").read_text()))
    tasks = _ok(ls.api.get("/api/tasks", params={"project": pid, "page_size": 1000}))
    tasks = sorted(tasks["tasks"] if isinstance(tasks, dict) else tasks, key=lambda t: t["id"])
    return pid, tasks


def _snapshot(ls: LabelStudio, pid: int, out: Path) -> Path:
    """An export snapshot (annotators with their e-mails), downloaded as Label Studio's JSON."""
    snap = _ok(ls.api.post(f"/api/projects/{pid}/exports", json={
        "title": "assay", "serialization_options": {"annotations__completed_by": {"only_id": False}}}))
    for _ in range(120):
        if snap["status"] in ("completed", "failed"):
            break
        time.sleep(0.5)
        snap = _ok(ls.api.get(f"/api/projects/{pid}/exports/{snap['id']}"))
    assert snap["status"] == "completed"
    r = ls.api.get(f"/api/projects/{pid}/exports/{snap['id']}/download", params={"exportType": "JSON"})
    assert r.status_code == 200
    out.write_bytes(r.content)
    return out


def _valid_for_label_studio(ls: LabelStudio, config: Path, export: Path) -> None:
    """Label Studio's own SDK agrees that the config is valid and every annotation fits it."""
    done = subprocess.run([str(ls.python), str(HERE / "ls_validate.py"), str(config), str(export)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def _cli(capsys, *args: str) -> dict:
    capsys.readouterr()
    code = main([*args, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def test_rating_round_trip_through_label_studio(label_studio, store, store_url, tmp_path, capsys):
    krippendorff = require_module("krippendorff")
    ls = label_studio
    seed(store)
    camp = campaign(store, "ls-rate")
    _cli(capsys, "--db", store_url, "campaign", "export", "ls-rate", "--format", "label-studio", "--out",
         str(tmp_path / "out"))
    pid, tasks = _project(ls, tmp_path / "out")
    users = _users(ls, tmp_path.name[-12:])
    by_key = {t["data"]["assay"]["task"]: i for i, t in
              enumerate(json.loads((tmp_path / "out" / "tasks.json").read_text()))}
    planned = {}
    for task in tasks:
        t = by_key[task["data"]["assay"]["task"]]
        for k, u in enumerate(users):
            results, lead = plan(t, {"id": 2 + k})
            body = {"result": results or [], "lead_time": lead, "completed_by": u["id"]}
            if results is None:
                body["was_cancelled"] = True  # Cy skips the first task
            _ok(ls.api.post(f"/api/tasks/{task['id']}/annotations/", json=body))
            planned[(task["data"]["assay"]["task"], u["email"])] = results
    export = _snapshot(ls, pid, tmp_path / "export.json")
    _valid_for_label_studio(ls, tmp_path / "out" / "config.xml", export)

    s = _cli(capsys, "--db", store_url, "import", "--from", "label-studio", str(export), "--campaign", "ls-rate")
    assert (s["tasks"], s["added"], s["not_submitted"], s["rejected"]) == (4, 11, 1, 0)
    assert s["raters"] == sorted(f"human:{u['email']}" for u in users)
    js = store.list("judgments", campaign_id=camp.id)
    assert len(js) == 44 and {j.guideline_version for j in js} == {1}
    assert sorted({j.time_spent_s for j in js}) == [10.0, 11.0, 12.0, 13.0]  # Label Studio's lead_time
    assert len(store.list("edge_cases", campaign_id=camp.id)) == 1  # Bo's flag

    # the plain export names annotators by id only: the user list maps them to the same raters
    plain = tmp_path / "plain.json"
    plain.write_bytes(ls.api.get(f"/api/projects/{pid}/export", params={"exportType": "JSON"}).content)
    (tmp_path / "users.json").write_text(json.dumps(_ok(ls.api.get("/api/users/"))))
    again = _cli(capsys, "--db", store_url, "import", "--from", "label-studio", str(plain), "--campaign", "ls-rate",
                 "--annotators", str(tmp_path / "users.json"))
    assert (again["added"], again["duplicates"]) == (0, 11)

    # assay's agreement on the imported ratings equals Krippendorff's alpha on the planned ones
    report = _cli(capsys, "--db", store_url, "agreement", "--campaign", camp.id, "--rounds", "50")
    quality = next(sec for sec in report["sections"] if sec["dimension"] == "quality")
    alpha = next(c for c in quality["coefficients"] if c["coefficient"].startswith("Krippendorff"))
    units = sorted(by_key)
    matrix = [[planned[(key, u["email"])][0]["value"]["rating"] if planned[(key, u["email"])] else float("nan")
               for key in units] for u in users]
    want = krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal")
    assert alpha["estimate"] == pytest.approx(want, abs=1e-9)


def test_comparison_round_trip_through_label_studio(label_studio, store, store_url, tmp_path, capsys):
    ls = label_studio
    seed(store, n_items=2)
    camp = campaign(store, "ls-pairs", kind="compare")
    _cli(capsys, "--db", store_url, "campaign", "export", "ls-pairs", "--format", "label-studio", "--out",
         str(tmp_path / "out"))
    pid, tasks = _project(ls, tmp_path / "out")
    users = _users(ls, tmp_path.name[-12:])
    for n, task in enumerate(tasks):
        for k, u in enumerate(users):
            pick = "A>>B" if k < 2 else ["tie", "B>A", "both_bad"][n % 3]
            _ok(ls.api.post(f"/api/tasks/{task['id']}/annotations/",
                            json={"result": preference_results(pick, f"{u['first_name']} picked {pick}"),
                                  "lead_time": 4.5, "completed_by": u["id"]}))
    export = _snapshot(ls, pid, tmp_path / "export.json")
    _valid_for_label_studio(ls, tmp_path / "out" / "config.xml", export)
    s = _cli(capsys, "--db", store_url, "import", "--from", "label-studio", str(export), "--campaign", "ls-pairs")
    assert (s["added"], s["records_added"]) == (18, 18)
    cs = store.list("comparisons", campaign_id=camp.id)
    for c in cs:
        if c.justification.endswith("A>>B"):  # A as Label Studio showed it is the first of the shown order
            assert (c.outcome, c.winner, c.strength) == ("win", c.shown_order[0], 2)
    assert {c.outcome for c in cs} == {"win", "tie", "both_bad"}
    report = _cli(capsys, "--db", store_url, "agreement", "--campaign", camp.id, "--comparisons", "--rounds", "50")
    assert report["sections"] and report["sections"][0]["raters"] == 3
