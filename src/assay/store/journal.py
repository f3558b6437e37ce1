"""Model answers appended to a local file the moment they arrive, so a killed process loses none.

A run commits its answers to the store's request cache in batches (every quarter of a
second or so, with the units they finished). Between two batches, each answer is also a
line in this process's journal: one ``write`` to a file of its own, which the operating
system keeps when the process is killed (``kill -9``, out of memory), though not when the
machine itself stops. The next process to open a run on the same store (or to take over
units of a process that died) replays the journals of dead processes into the cache, so
a rerun finds every answer the dead one had received and repeats only the calls that
were in flight.

Each process's journal is a series of files (segments) under the store's journal folder:
beside a SQLite file (``<db>.answers/``), in the user's cache folder for PostgreSQL. A
segment is locked (``flock``) while its process lives, so a replay takes only those of
processes that are gone; a segment whose answers are all committed is deleted.

    journal = Journal.open(store)           # None where answers cannot outlive the process
    journal.append(row)                     # a cache row: digest, model, request, response, run_id
    journal.rotate(); ...commit...; journal.committed()
    journal.close()                         # everything committed: its files are gone
    replay(store)                           # the dead processes' answers, into the cache
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    import fcntl

    HAVE_FLOCK = True
except ImportError:  # pragma: no cover - not POSIX: no journal, answers wait for the next batch
    HAVE_FLOCK = False

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from assay.store import Store

SUFFIX = ".jsonl"
SEGMENT_BYTES = 8 << 20  # a segment this large is closed at the next commit, and deleted once committed


def journal_dir(store: Store) -> Path | None:
    """Where journals of ``store`` live: beside its SQLite file, or per database in the user's cache folder."""
    if not HAVE_FLOCK:
        return None
    u = make_url(store.url)
    if store.backend == "sqlite":
        if not u.database or u.database == ":memory:" or u.database.startswith("file:"):
            return None  # an in-memory store ends with its process anyway
        db = Path(u.database).resolve()
        return db.with_name(db.name + ".answers")
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha256(u.render_as_string(hide_password=True).encode()).hexdigest()[:16]
    return root / "assay" / "answers" / key


class Journal:
    """This process's answers to one store since their last commit (see the module's docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._fd: int | None = None
        self._path: Path | None = None
        self._size = 0
        self._closed: list[tuple[int, Path]] = []  # segments rotated out, deleted once their answers are committed
        self._name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._seq = 0
        self._open_segment()

    @classmethod
    def open(cls, store: Store) -> Journal | None:
        """A new journal for ``store``, or None where it has no place (an in-memory store; no file locks)."""
        folder = journal_dir(store)
        if folder is None:
            return None
        try:
            return cls(folder)
        except OSError:
            return None  # a folder that cannot be written: answers are durable at each batch, as without one

    def _open_segment(self) -> None:
        self._seq += 1
        name = f"{self._name}-{self._seq:06d}"  # sorted, a process's segments come in the order written
        tmp = self.folder / f".{name}.tmp"  # locked before it gets a name a replay looks at
        for last in (False, True):  # the folder is removed by a journal closing when empty: make it again
            self.folder.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
                break
            except FileNotFoundError:
                if last:
                    raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            path = self.folder / f"{name}{SUFFIX}"
            os.rename(tmp, path)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._fd, self._path, self._size = fd, path, 0

    def append(self, row: dict[str, Any]) -> None:
        """Write one answer (a cache row) as a line; it is on the system's side once this returns."""
        self._write({"d": row["digest"], "m": row["model"], "q": row["request"], "r": row["response"],
                     "run": row.get("run_id")})

    def discard(self, digest: str, run_id: str | None) -> None:
        """Note that this run's answer to ``digest`` was taken out of the cache again (a replay leaves it out)."""
        self._write({"discard": digest, "run": run_id})

    def _write(self, line: dict[str, Any]) -> None:
        if self._fd is None:
            raise RuntimeError("the answer journal is closed")
        data = (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]
        self._size += len(data)

    def rotate(self) -> None:
        """Before taking answers to commit: a large segment is closed (its answers are all among them)."""
        if self._size >= SEGMENT_BYTES and self._fd is not None and self._path is not None:
            self._closed.append((self._fd, self._path))
            self._open_segment()

    def committed(self) -> None:
        """The answers taken after the last ``rotate`` are committed: the segments closed then go."""
        closed, self._closed = self._closed, []
        for fd, path in closed:
            with contextlib.suppress(OSError):
                os.unlink(path)
            os.close(fd)

    def close(self, *, keep: bool = False) -> None:
        """Every answer is committed (delete the files), or, with ``keep``, not: leave them to a replay."""
        segments = [*self._closed, *([(self._fd, self._path)] if self._fd is not None else [])]
        self._closed, self._fd, self._path = [], None, None
        for fd, path in segments:
            if not keep:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            os.close(fd)  # the lock goes with it
        if not keep:
            with contextlib.suppress(OSError):
                self.folder.rmdir()  # only if no other process has a journal there


def replay(store: Store) -> int:
    """Put the answers in the journals of processes that are gone into ``store``'s request cache; how many."""
    from assay.store.ledger import Ledger

    folder = journal_dir(store)
    if folder is None or not folder.is_dir():
        return 0
    # one replay at a time: a process that finds a dead process's segment locked by another
    # replayer waits until those answers are committed, instead of asking their calls again
    try:
        gate = os.open(folder / ".replay.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except FileNotFoundError:
        return 0  # the folder went with the last journal: nothing to replay
    held: list[tuple[int, Path]] = []
    try:
        fcntl.flock(gate, fcntl.LOCK_EX)
        for path in sorted(folder.glob(f"*{SUFFIX}")):  # a process's segments in the order it wrote them
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue  # replayed by another process meanwhile
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if os.fstat(fd).st_ino != os.stat(path).st_ino:
                    raise FileNotFoundError(path)
            except (BlockingIOError, FileNotFoundError):  # its process is alive, or it was replayed already
                os.close(fd)
                continue
            held.append((fd, path))
        rows: dict[str, dict[str, Any]] = {}
        for fd, _ in held:
            with os.fdopen(os.dup(fd), "rb") as f:
                _read(f.read(), rows)
        by_run: dict[str | None, list[dict[str, Any]]] = {}
        for row in rows.values():
            by_run.setdefault(row["run_id"], []).append(row)
        ledger = Ledger(store)
        for run_id, some in by_run.items():
            ledger.cache_put_many(some, run_id=run_id)
        for _, path in held:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        return len(rows)
    finally:
        for fd, _ in held:
            os.close(fd)
        os.close(gate)  # and its lock


def _read(data: bytes, rows: dict[str, dict[str, Any]]) -> None:
    """Add the answers a journal holds to ``rows``, by digest (a line cut short by the kill, and answers discarded, left out)."""
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            continue  # the last line, half written when the process died
        if not isinstance(line, dict):
            continue
        if "discard" in line:
            rows.pop(line["discard"], None)
        elif "d" in line:
            rows[line["d"]] = {"digest": line["d"], "model": line["m"], "request": line["q"], "response": line["r"],
                               "run_id": line.get("run")}
