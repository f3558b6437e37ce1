"""Bodies the server must not read: 800 MB posted without logging in, with a forged cookie, over the
limit with a real session, as forms and as multipart uploads, streamed and declared. A real
`assay serve` (one worker, so its memory is one process's) on both stores; the bodies are made
on the fly and never held by the test."""

from __future__ import annotations

import json
import re
import select
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest

from assay.store import Store
from tests.server.conftest import Rater, rating, seed_basic, start_server, stop_server
from tests.server.test_lead_gold import error_of, form, gold_file, response

MB = 1024 * 1024
ATTACK = 800 * MB
MAX_RISE = 50 * MB  # the server's memory may grow by less than this over an attack
MAX_READ = 50 * MB  # and the attacker may push less than this before the server stops reading


def rss(pid: int) -> int:
    """Resident memory of a process, from /proc (bytes)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@dataclass
class Attack:
    status: int | None  # the server's answer, when it could be read before the connection ended
    head: bytes  # its status line and headers
    body: bytes
    sent: int  # body bytes the server let the test push
    peak_rise: int  # the server's largest memory rise seen during the attack
    seconds: float


def stream_post(base: str, path: str, pid: int, *, content_type: str, headers: dict[str, str] | None = None,
                total: int = ATTACK, declare: bool = False, prefix: bytes = b"", fill: bytes = b"x") -> Attack:
    """POST ``total`` bytes made on the fly (chunked, or with a declared Content-Length), sending
    while the server reads and reading its answer meanwhile; stops early when the server's memory
    rises past MAX_RISE (a server that buffers the body fails here, fast, not after 800 MB)."""
    u = urlsplit(base)
    sock = socket.create_connection((u.hostname, u.port), timeout=10)
    head = [f"POST {path} HTTP/1.1", f"Host: {u.hostname}:{u.port}", f"Content-Type: {content_type}"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    head.append(f"Content-Length: {total}" if declare else "Transfer-Encoding: chunked")
    blocks = (prefix + fill * (MB - len(prefix)), fill * MB)  # the first block, every later one
    base_rss, peak = rss(pid), 0
    answer, sent, t0 = b"", 0, time.perf_counter()
    out = ("\r\n".join(head) + "\r\n\r\n").encode()
    try:
        while True:
            readable, writable, _ = select.select([sock], [sock] if out or sent < total else [], [], 5)
            if readable:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
                if _complete(answer):
                    break
                continue
            if not writable:
                break  # the server neither reads nor answers
            if not out:
                piece = blocks[sent > 0][: total - sent]
                sent += len(piece)
                out = piece if declare else b"%x\r\n%s\r\n" % (len(piece), piece)
                if sent >= total and not declare:
                    out += b"0\r\n\r\n"
                if sent % (16 * MB) == 0:  # now and then: has the server's memory grown?
                    peak = max(peak, rss(pid) - base_rss)
                    if peak > MAX_RISE:
                        break
            out = out[sock.send(out[:256 * 1024]):]
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        pass
    try:  # what the server said before closing, if it is still there to read
        sock.settimeout(2)
        while not _complete(answer):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    except OSError:
        pass
    sock.close()
    peak = max(peak, rss(pid) - base_rss)
    seconds = time.perf_counter() - t0
    m = re.match(rb"HTTP/1\.1 (\d{3})", answer)
    head_part, _, body = answer.partition(b"\r\n\r\n")
    return Attack(int(m.group(1)) if m else None, head_part, body, max(sent - len(out), 0), peak, seconds)


def _complete(answer: bytes) -> bool:
    head, sep, body = answer.partition(b"\r\n\r\n")
    if not sep:
        return False
    m = re.search(rb"(?i)content-length: (\d+)", head)
    return m is not None and len(body) >= int(m.group(1))


@pytest.fixture(scope="module")
def one_worker(backend_url):
    """`assay serve` with one worker (its memory is that of one process) over a seeded store."""
    with Store(backend_url) as s:
        ids = seed_basic(s)
    url, proc = start_server(backend_url, workers=1)
    yield url, proc, ids
    stop_server(proc)


FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data; boundary=XyZ"
FILE_PART = b'--XyZ\r\nContent-Disposition: form-data; name="gold"; filename="gold.jsonl"\r\n\r\n'


def _session(base: str, name: str) -> dict[str, str]:
    r = Rater(base, name)
    assert r.login_response.status_code == 303
    return {"Cookie": f"assay_session={r.client.cookies['assay_session']}", "X-CSRF-Token": r.csrf,
            "Accept": "application/json"}


def _assert_held(a: Attack, status: int, *, read_at_most: int = MAX_READ) -> None:
    assert a.peak_rise < MAX_RISE, f"server memory rose by {a.peak_rise / MB:.0f} MB"
    assert a.sent < read_at_most, f"the server let {a.sent / MB:.0f} MB in before refusing"
    assert a.status in (status, None), (a.status, a.head)
    print(f"answer {a.status}, {a.sent / MB:.1f} MB let in, memory +{a.peak_rise / MB:.1f} MB, {a.seconds:.2f} s")


@pytest.mark.parametrize("content_type,prefix", [(FORM, b"a="), (MULTIPART, FILE_PART)], ids=["form", "multipart"])
@pytest.mark.parametrize("path", ["/a/whatever", "/lead/new", "/logout"])
def test_an_unauthenticated_800_mb_post_is_refused_before_it_is_read(one_worker, content_type, prefix, path):
    base, proc, _ = one_worker
    a = stream_post(base, path, proc.pid, content_type=content_type, prefix=prefix)
    _assert_held(a, 401)
    forged = stream_post(base, path, proc.pid, content_type=content_type, prefix=prefix,
                         headers={"Cookie": "assay_session=" + "f" * 43})
    _assert_held(forged, 401)
    declared = stream_post(base, path, proc.pid, content_type=content_type, prefix=prefix, declare=True)
    _assert_held(declared, 401)
    # nothing was read: the refusal came at once, not after the upload
    assert min(a.seconds, forged.seconds, declared.seconds) < 5
    assert httpx.get(base + "/healthz").status_code == 200


def test_the_first_refusal_is_readable_and_says_why(one_worker):
    base, proc, _ = one_worker
    a = stream_post(base, "/a/whatever", proc.pid, content_type=FORM, prefix=b"a=", total=4 * 1024)
    assert a.status == 401 and b"login required" in a.body
    assert rss(proc.pid) < 400 * MB


def test_a_signed_in_rater_cannot_post_800_mb_either(one_worker):
    base, proc, ids = one_worker
    headers = _session(base, "ann")
    for content_type, prefix in ((FORM, b"a="), (MULTIPART, FILE_PART)):
        streamed = stream_post(base, "/a/whatever", proc.pid, content_type=content_type, prefix=prefix,
                               headers=headers)
        _assert_held(streamed, 413)
        declared = stream_post(base, "/a/whatever", proc.pid, content_type=content_type, prefix=prefix,
                               headers=headers, declare=True)
        _assert_held(declared, 413)
        assert declared.sent < 8 * MB  # refused on the header: only what the socket buffers took
    # the upload page: a rater is refused without it being read, a lead gets the gold file's limit (21 MiB)
    rater_upload = stream_post(base, "/lead/new", proc.pid, content_type=MULTIPART, prefix=FILE_PART,
                               headers=headers)
    _assert_held(rater_upload, 403, read_at_most=8 * MB)
    lead_upload = stream_post(base, "/lead/new", proc.pid, content_type=MULTIPART, prefix=FILE_PART,
                              headers=_session(base, "lee"))
    _assert_held(lead_upload, 413)
    login = stream_post(base, "/login", proc.pid, content_type=FORM, prefix=b"name=")
    _assert_held(login, 413)
    assert httpx.get(base + "/healthz").status_code == 200


def test_a_5_mb_form_gets_413_with_a_message(one_worker):
    base, _, ids = one_worker
    ann = Rater(base, "ann")
    aid = ann.next(ids["rate"])
    big = rating(justification="x" * (5 * MB))
    r = ann.post(f"/a/{aid}", big)
    assert r.status_code == 413
    assert re.search(r'id="error">the request is larger than 1 MiB', r.text)
    r = ann.post(f"/a/{aid}", big, headers={"accept": "application/json"})
    assert r.status_code == 413 and "larger than 1 MiB" in r.json()["error"]
    # the same rater, the same assignment, a normal answer: accepted
    assert ann.post(f"/a/{aid}", rating()).status_code == 303
    ann.close()


def test_a_lead_still_uploads_a_gold_file_of_a_few_mb(one_worker):
    base, _, _ = one_worker
    lee = Rater(base, "lee")
    line = {"response_id": response(0, "alpha@1"), "values": {"factuality": 5}, "explanation": "right"}
    gold = gold_file(*[line] * (5 * MB // len(json.dumps(line))))
    assert len(gold["gold"][1]) > 5 * MB
    r = lee.post("/lead/new", form("with a big gold file"), files=gold)
    # read whole and checked line by line, not refused for its size
    assert r.status_code == 400 and "a second gold answer for the same unit" in error_of(r.text)
    lee.close()
