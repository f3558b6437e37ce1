"""The answer journal: what a killed process received reaches the cache of the next one, and nothing else.

The kill -9 round trips through the real commands are in tests/runs/test_durable.py;
here each piece of the journal is checked on its own: a dead process's segments are
replayed and deleted, a live one's are left alone, a torn last line and a discarded
answer stay out, full segments go once committed, and a clean close leaves no file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from assay.store import Store
from assay.store import journal as J
from assay.store.ledger import Ledger


def row(i: int, run: str = "run-1") -> dict:
    return {"digest": f"d{i:04d}", "model": "m@1", "request": {"messages": [{"role": "user", "content": f"q{i}"}]},
            "response": {"body": {"text": f"answer {i} \u00e9\u0000"}}, "run_id": run}


def segments(store: Store) -> list[str]:
    folder = J.journal_dir(store)
    if folder is None or not folder.is_dir():
        return []
    return sorted(p.name for p in folder.glob("*") if p.name != ".replay.lock")  # the replayers' lock stays


def killed_writer(store_url: str, rows: int, tail: bytes = b"") -> None:
    """A process that journals ``rows`` answers (and ``tail`` raw bytes) and is then SIGKILLed."""
    code = (
        "import os, sys, signal\n"
        "from assay.store import Store\nfrom assay.store.journal import Journal\n"
        "from tests.store.test_journal import row\n"
        f"j = Journal.open(Store({store_url!r}))\n"
        f"for i in range({rows}): j.append(row(i))\n"
        f"os.write(j._fd, {tail!r})\n"
        "print('ready', flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert out.returncode == -signal.SIGKILL, out.stderr
    assert out.stdout.strip() == "ready"


def test_a_killed_process_answers_are_replayed_into_the_cache_once(store_url, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # PostgreSQL stores journal there
    with Store(store_url) as store:
        killed_writer(store_url, 50, tail=b'{"d":"d9999","m":"m@1","q":{},"r":{"bo')  # cut short by the kill
        assert len(segments(store)) == 1
        assert J.replay(store) == 50
        got = Ledger(store).cache_get_many([f"d{i:04d}" for i in range(50)] + ["d9999"], run_id="run-1")
        assert sorted(got) == [f"d{i:04d}" for i in range(50)]
        assert got["d0007"] == row(7)["response"]  # text with NUL and accents comes back as written
        assert segments(store) == []
        assert J.replay(store) == 0  # replayed once


def test_a_live_process_journal_is_left_alone(store, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    live = J.Journal.open(store)
    assert live is not None
    live.append(row(1))
    assert J.replay(store) == 0  # its process (this one) holds the lock
    assert Ledger(store).cache_get_many(["d0001"]) == {}
    live.close(keep=True)  # given up without committing: now a replay takes it
    assert J.replay(store) == 1
    assert list(Ledger(store).cache_get_many(["d0001"])) == ["d0001"]


def test_a_discarded_answer_is_not_replayed_but_one_asked_again_is(store, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    j = J.Journal.open(store)
    j.append(row(1))
    j.append(row(2))
    j.discard("d0001", "run-1")
    j.discard("d0002", "run-1")
    again = {**row(2), "response": {"body": {"text": "asked again"}}}
    j.append(again)
    j.close(keep=True)
    assert J.replay(store) == 1
    assert Ledger(store).cache_get_many(["d0001", "d0002"]) == {"d0002": again["response"]}


def test_segments_rotate_and_go_once_committed(store, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(J, "SEGMENT_BYTES", 1000)
    j = J.Journal.open(store)
    for i in range(20):
        j.append(row(i))
    first = segments(store)
    j.rotate()  # past the size: a new segment takes the next answers
    j.append(row(20))
    assert len(segments(store)) == 2
    j.committed()  # the first segment's answers were taken before the rotation's commit
    assert len(segments(store)) == 1 and segments(store) != first
    j.close()
    assert segments(store) == []
    assert not J.journal_dir(store).exists()  # an empty folder goes too


def test_lines_are_whole_json(store, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    j = J.Journal.open(store)
    j.append(row(3))
    (path,) = J.journal_dir(store).glob("*.jsonl")
    line = json.loads(path.read_text().splitlines()[0])
    assert line == {"d": "d0003", "m": "m@1", "q": row(3)["request"], "r": row(3)["response"], "run": "run-1"}
    j.close()


def test_where_journals_live(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with Store(f"sqlite:///{tmp_path / 'a.db'}") as s:
        assert J.journal_dir(s) == (tmp_path / "a.db.answers").resolve()
    with Store("sqlite://") as s:
        assert J.journal_dir(s) is None and J.Journal.open(s) is None  # in memory: it dies with its process


def test_postgres_journals_are_per_database_without_the_password(pg_store_url, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with Store(pg_store_url) as s:
        folder = J.journal_dir(s)
    assert folder.parent == tmp_path / "cache" / "assay" / "answers"
    other = pg_store_url.replace("schema=", "schema=x")
    assert J.journal_dir(type("S", (), {"url": other, "backend": "postgresql"})()) != folder


@pytest.mark.parametrize("garbage", [b"[1,2]\n", b"42\n", b"\xff\xfe\n", b'{"x":1}\n'])
def test_lines_that_are_not_answers_are_skipped(store, tmp_path, monkeypatch, garbage):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    j = J.Journal.open(store)
    os.write(j._fd, garbage)
    j.append(row(5))
    j.close(keep=True)
    assert J.replay(store) == 1


def test_a_replay_waits_for_another_replay_of_the_same_journals(store, tmp_path, monkeypatch):
    """Two processes taking over a dead one's units at once: the second must not go on while the
    first is still committing those answers (it would ask their calls again)."""
    import threading

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    j = J.Journal.open(store)
    for i in range(30):
        j.append(row(i))
    j.close(keep=True)
    gate = os.open(J.journal_dir(store) / ".replay.lock", os.O_RDWR | os.O_CREAT)
    import fcntl

    fcntl.flock(gate, fcntl.LOCK_EX)  # a replay under way elsewhere
    done: list[int] = []
    t = threading.Thread(target=lambda: done.append(J.replay(store)))
    t.start()
    t.join(0.5)
    assert t.is_alive() and not done  # waiting, not skipping ahead with the answers uncommitted
    fcntl.flock(gate, fcntl.LOCK_UN)
    os.close(gate)
    t.join(10)
    assert done == [30]
    assert len(Ledger(store).cache_get_many([f"d{i:04d}" for i in range(30)])) == 30
