"""Ctrl-C (a real SIGINT) during a run: one line saying what is saved, exit 130; the same command finishes the rest.

Each test starts the real command in a subprocess against a slow ScriptedServer (or a slow
program verifier), waits until the run's ledger holds finished units, sends SIGINT, and
checks the line's count against the store; then runs the same command again.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

from assay import records as R
from assay.store import Store
from assay.store.ledger import Ledger
from assay.testing import ScriptedServer
from tests.judges.scripted_judges import fenced, nonce_of, store_responses

from .conftest import make_dataset

LAUNCH = "import sys\nfrom assay.cli import main\n{before}sys.exit(main(sys.argv[1:]))"
LINE = re.compile(r"interrupted: (\d+) of (\d+) units are finished and saved; run the same command again to finish the rest")


def assay(*args: str, before: str = "") -> list[str]:
    """The real command line, after ``before`` (code run once assay's CLI is imported)."""
    return [sys.executable, "-c", LAUNCH.format(before=before), *args]


def done_units(store: Store, kind: str) -> set[str]:
    runs = Ledger(store).runs(kind=kind)
    return {f"{r.id}/{k}" for r in runs for k in Ledger(store).done_keys(r.id)}


def interrupt(cmd: list[str], ready) -> tuple[int, str]:
    """Start ``cmd``, SIGINT it once ``ready()``; its exit code and stderr."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, f"finished before the interrupt: {proc.communicate()}"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def the_line(err: str) -> tuple[int, int]:
    """The one line besides the plan, and its counts (finished, of)."""
    lines = [x for x in err.splitlines() if x.strip() and not x.startswith("plan:")]
    assert len(lines) == 1, err
    m = LINE.fullmatch(lines[0])
    assert m, lines[0]
    return int(m.group(1)), int(m.group(2))


def test_generate(store_url):
    n = 300
    with Store(store_url) as store:
        items = make_dataset(store, "qa", n)
        prompt_of = {f"{it.id}:0": it.prompt for it in items}
        with ScriptedServer(models=["m"], latency=0.05) as srv:
            cmd = assay("--db", store_url, "generate", "--model", "m@1", "--dataset", "qa", "--base-url", srv.base_url,
                        "--concurrency", "4")
            code, err = interrupt(cmd, lambda: done_units(store, "generate"))
            assert code == 130, err
            (run,) = Ledger(store).runs()
            done_first = Ledger(store).done_keys(run.id)
            assert the_line(err) == (len(done_first), n) and 0 < len(done_first) < n
            assert store.get("runs", run.id).status == "interrupted"
            first_phase = len(srv.requests)

            again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            assert again.returncode == 0, again.stderr
            second = {r.last_user for r in srv.chat_requests[first_phase:]}
        assert not second & {prompt_of[k] for k in done_first}  # no finished unit was asked again
        units = Ledger(store).units(run.id)
        assert len(units) == n and {u["status"] for u in units} == {"done"}
        assert all(u["attempts"] == 1 for u in units if u["unit_key"] in done_first)
        assert store.count("responses") == n


def _verdict(body: dict) -> str:
    return f"Checked.\nVERDICT {nonce_of(body)} factuality: 4"


def test_judge(store_url):
    n = 200
    with Store(store_url) as store:
        store_responses(store, {"m@1": [f"answer {i}" for i in range(n)]})
        with ScriptedServer(models=["judge"], handler=_verdict, latency=0.05) as srv:
            cmd = assay("--db", store_url, "judge", "--rubric", "default", "--judge", "judge@1", "--base-url",
                        srv.base_url, "--dimensions", "factuality", "--concurrency", "2", "--no-logprobs")
            code, err = interrupt(cmd, lambda: done_units(store, "judge"))
            assert code == 130, err
            (run,) = Ledger(store).runs()
            done_first = Ledger(store).done_keys(run.id)
            assert the_line(err) == (len(done_first), n) and 0 < len(done_first) < n
            first_phase = len(srv.requests)
            again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            assert again.returncode == 0, again.stderr
            judged_again = {fenced(r.body, "ANSWER") for r in srv.chat_requests[first_phase:]}
        texts = {r.id: r.text for r in store.list("responses")}
        assert not judged_again & {texts[k] for k in done_first}
        units = Ledger(store).units(run.id)
        assert len(units) == n and {u["status"] for u in units} == {"done"}
        assert all(u["attempts"] == 1 for u in units if u["unit_key"] in done_first)


def test_redteam_run(store_url):
    n = 150
    with Store(store_url) as store:
        items = [R.Item(id=R.Item.make_id("beh", str(i), None, None), dataset="beh", external_id=str(i),
                        prompt=f"behaviour {i}") for i in range(n)]
        store.add([R.Dataset(name="beh"), *items])
        with ScriptedServer(models=["target"], latency=0.05) as srv:
            cmd = assay("--db", store_url, "redteam", "run", "--behaviors", "beh", "--model", "target@1", "--base-url",
                        srv.base_url, "--attack", "direct", "--attack", "base64", "--concurrency", "2")
            code, err = interrupt(cmd, lambda: done_units(store, "generate"))
            assert code == 130, err
            (run,) = Ledger(store).runs()  # the first attack's run; the second had not started
            done_first = Ledger(store).done_keys(run.id)
            assert the_line(err) == (len(done_first), n) and 0 < len(done_first) < n
            again = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
            assert again.returncode == 0, again.stderr
        first = store.get("runs", run.id)
        assert (first.succeeded, first.failed) == (n, 0) and len(Ledger(store).runs()) == 2
        units = Ledger(store).units(run.id)
        assert all(u["attempts"] == 1 for u in units if u["unit_key"] in done_first)
        assert store.count("attempts") == 2 * n


SLOW_VERIFIER = """\
import time
from assay.judges.registry import Verdict, program

@program("slow", version="1")
def slow():
    def check(response, target):
        time.sleep(0.01)
        return Verdict(True, 1.0, "checked slowly")
    return check

"""


def test_verify(store_url):
    """A program verifier never awaits: the run still sees the Ctrl-C between units and saves what finished."""
    n = 400
    with Store(store_url) as store:
        store_responses(store, {"m@1": [f"answer {i}" for i in range(n)]})
        cmd = assay("--db", store_url, "verify", "--verifier", "slow", before=SLOW_VERIFIER)
        code, err = interrupt(cmd, lambda: done_units(store, "verify"))
        assert code == 130, err
        (run,) = Ledger(store).runs()
        done_first = Ledger(store).done_keys(run.id)
        assert the_line(err) == (len(done_first), n) and 0 < len(done_first) < n
        assert store.count("judgments") == len(done_first)
        again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        units = Ledger(store).units(run.id)
        assert len(units) == n and all(u["attempts"] == 1 for u in units)
        assert store.count("judgments") == n


def test_curate_run(tmp_path):
    """A curation is one transaction: the line says nothing was changed, and the same command starts it over."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    n = 20_000
    with Store(url) as store:
        words = [f"w{k}" for k in range(400)]
        items = [R.Item(id=R.Item.make_id("big", str(i), None, None), dataset="big", external_id=str(i),
                        prompt=" ".join(words[(i * 7 + j * 13) % 400] for j in range(30))) for i in range(n)]
        store.add([R.Dataset(name="big"), *items])
        # "ready" once the curation itself has begun (the imports before it take seconds on a loaded machine)
        started = ("import assay.curate as _c\n_run = _c.curate\n"
                   "def _started(*a, **k):\n    print('ready', flush=True)\n    return _run(*a, **k)\n"
                   "_c.curate = _started\n")
        cmd = assay("--db", url, "curate", "run", "--source", "big", "--target", "clean", "--step", "near-dup",
                    before=started)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        assert proc.poll() is None, "the curation finished before the interrupt"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert err.strip() == ("interrupted: nothing was changed (clean is written in one transaction); "
                               "run the same command again to start it over")
        assert store.find("datasets", "clean") is None and store.count("curation_log") == 0
        assert [r for r in store.iter("runs") if r.kind == "curate"] == []
