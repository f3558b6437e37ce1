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
import re
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
    email: str
    password: str


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
    port, token, password = _free_port(), secrets.token_hex(20), secrets.token_hex(8)
    env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(data), "LATEST_VERSION_CHECK": "false"}
    env.pop("CI", None)  # Label Studio reads CI itself; the suite's flag is not for it
    log = open(data / "server.log", "w")
    proc = subprocess.Popen(
        [str(exe), "start", "--no-browser", "--data-dir", str(data), "--port", str(port), "--internal-host",
         "127.0.0.1", "--host", f"http://127.0.0.1:{port}", "--username", "lead@example.com", "--password",
         password, "--user-token", token, "--enable-legacy-api-token"],
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
        yield LabelStudio(url, api, VENV / "bin" / "python", "lead@example.com", password)
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
    users = _users(ls, secrets.token_hex(4))
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
    users = _users(ls, secrets.token_hex(4))
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


@pytest.fixture(scope="module")
def browser():
    from tests.server.chromium import ARGS, CHROMIUM, sync_api

    with sync_api().sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def test_answers_made_in_label_studios_own_editor_import(label_studio, browser, store, store_url, tmp_path, capsys):
    """A person's answers, clicked in Label Studio's labelling editor in Chromium, import as meant:
    the stored form of stars, choices (their aliases), a number, a ranking and a justification is
    Label Studio's, not the test's."""
    from tests.server.chromium import WAIT_MS

    ls = label_studio
    seed(store, n_items=1)
    camps = {"rate": campaign(store, "ui-rate", overlap=1), "compare": campaign(store, "ui-pairs", kind="compare"),
             "rank": campaign(store, "ui-ranks", kind="rank")}
    ctx = browser.new_context(base_url=ls.url, viewport={"width": 1400, "height": 1800})
    ctx.set_default_timeout(WAIT_MS)
    page = ctx.new_page()
    page.goto("/user/login")
    page.fill("input[name=email]", ls.email)
    page.fill("input[name=password]", ls.password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")

    def choice(text: str):  # noqa: ANN202 - a Choice's label, which ends in its hotkey ("yes[1]")
        return page.locator("label").filter(has_text=re.compile(rf"^{re.escape(text)}(\[\d+\])?$"))

    for kind, camp in camps.items():
        _cli(capsys, "--db", store_url, "campaign", "export", camp.name, "--format", "label-studio", "--out",
             str(tmp_path / kind))
        pid, tasks = _project(ls, tmp_path / kind)
        page.goto(f"/projects/{pid}/data?tab=0&task={tasks[0]['id']}")
        page.locator("textarea").first.wait_for()
        if kind == "rate":
            page.locator("li.ant-rate-star").nth(2).click()  # the third of four stars
            choice("yes").click()
            choice("casual").click()
            page.locator("input[type=number]").fill("0.7")
        elif kind == "compare":
            choice("B is much better").click()
        justification = page.locator("textarea").first
        justification.click()
        justification.press_sequentially(f"clicked in the editor: {kind}")
        page.get_by_role("button", name="Add").first.click()  # a TextArea's text counts once added
        page.get_by_text(f"clicked in the editor: {kind}", exact=True).wait_for()  # shown as added
        submit = page.get_by_role("button", name="Submit")
        try:
            submit.click(timeout=60_000)
        except Exception:
            page.screenshot(path=str(tmp_path / f"{kind}.png"), full_page=True)
            raise AssertionError(f"Submit stayed disabled for the {kind} task: see {tmp_path / kind}.png") from None
        deadline = time.monotonic() + 60
        while not _ok(ls.api.get(f"/api/tasks/{tasks[0]['id']}/annotations/")):
            assert time.monotonic() < deadline, f"Label Studio stored no annotation for the {kind} task"
            time.sleep(0.5)
        export = _snapshot(ls, pid, tmp_path / f"{kind}.json")
        s = _cli(capsys, "--db", store_url, "import", "--from", "label-studio", str(export), "--campaign", camp.name)
        assert (s["added"], s["raters"]) == (1, [f"human:{ls.email}"]), (kind, s)
    ctx.close()
    j = {x.dimension: x for x in store.iter("judgments", campaign_id=camps["rate"].id)}
    assert (j["quality"].value, j["safe"].value, j["tone"].label) == (3.0, 1.0, "casual")
    assert j["confidence"].value == pytest.approx(0.7) and j["quality"].time_spent_s > 0
    assert j["quality"].justification == "clicked in the editor: rate"
    c = next(store.iter("comparisons", campaign_id=camps["compare"].id))
    assert (c.outcome, c.winner, c.strength) == ("win", c.shown_order[1], 2)  # B, as shown
    r = next(store.iter("comparisons", campaign_id=camps["rank"].id))
    assert r.ranking == r.shown_order  # the editor's order, untouched
