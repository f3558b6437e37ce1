"""Rating app under load: sustained submissions per second and latency, 100 concurrent raters, PostgreSQL.

    python benchmarks/bench_app.py [--raters 100] [--workers 2] [--seconds 10] [--runs 5]

The server (`assay serve --workers N`) runs in its own processes; the load comes from a
separate process speaking HTTP/1.1 over loopback with keep-alive (a small client of its
own, so the load generator costs little CPU). Each simulated rater asks for an assignment
once (GET /c/{id}/next), then loops: submit a rating of all five rubric dimensions with a
justification (POST /a/{id}); the answer names the next assignment, claimed in the same
request. With ``--page`` each rater then also loads that assignment's HTML page, as a browser
does after the redirect (its latency is reported apart; the CPU figures then include it).
``--rate R`` paces the raters to R submissions/s in all (open loop: a late answer does not
delay the next submission), for latency at a given load; without it they submit as fast as
answered, for the most the server sustains. Sessions are made directly in the store, so argon2
at login is not part of the figures. A throw-away PostgreSQL schema holds the store
(``ASSAY_BENCH_PG_URL``, default the test database). After the runs every acknowledged
submission is checked to be stored exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

PG_URL = os.environ.get("ASSAY_BENCH_PG_URL", os.environ.get("ASSAY_TEST_PG_URL",
                                                             "postgresql://postgres@127.0.0.1:5432/test"))
DIMS = ["factuality", "coherence", "safety", "instruction-following", "creativity"]


# ---- a small HTTP/1.1 keep-alive client --------------------------------------------------------


class Conn:
    def __init__(self, host: str, port: int, cookie: str, csrf: str) -> None:
        self.host, self.port = host, port
        self.extra = f"Cookie: assay_session={cookie}\r\nX-CSRF-Token: {csrf}\r\n".encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"", accept: str = "application/json"
                      ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAccept: {accept}\r\n".encode()
                + self.extra)
        if body:
            head += (f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n").encode()
        self.writer.write(head + b"\r\n" + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        data = await self.reader.readexactly(length) if length else b""
        return status, data


# ---- the load process -------------------------------------------------------------------------


async def _rater(k: int, conn: Conn, cid: str, t_start: float, t_end: float, out: dict,
                 interval: float = 0.0, page: bool = False) -> None:
    n = 0
    status, data = await conn.request("GET", f"/c/{cid}/next")
    aid = json.loads(data)["assignment"] if status == 200 else None
    if interval:  # paced raters start spread over one interval
        await asyncio.sleep(interval * k / max(1, out["raters"]))
    due = time.perf_counter()
    while aid is not None and time.perf_counter() < t_end:
        if interval:
            due += interval
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
        body = urlencode({**{f"dim:{d}": str(1 + (k + n) % 5) for d in DIMS},
                          "justification": f"rater {k}, item {n}: clear and correct"}).encode()
        t1 = time.perf_counter()
        status, data = await conn.request("POST", f"/a/{aid}", body)
        t2 = time.perf_counter()
        n += 1
        if status != 201:
            out["errors"].append(f"submit: {status} {data[:200]!r}")
            return
        out["acked"].append(aid)
        aid = json.loads(data)["next"]  # the submit hands out the next item
        if t_start <= t2 <= t_end:
            out["submit_ms"].append((t2 - t1) * 1000)
            out["in_window"] += 1
        if page and aid is not None:  # what a browser does next: load the item's page
            status, data = await conn.request("GET", f"/a/{aid}", accept="text/html")
            t3 = time.perf_counter()
            if status != 200 or b"<form" not in data:
                out["errors"].append(f"page: {status} {data[:200]!r}")
                return
            if t_start <= t3 <= t_end:
                out["page_ms"].append((t3 - t2) * 1000)
    if aid is None:
        out["errors"].append("queue ran dry")


def load(base: str, cid: str, sessions: list[tuple[str, str]], warmup: float, seconds: float, q: mp.Queue,
         rate: float = 0.0, page: bool = False) -> None:
    host, port = base.split("//")[1].split(":")
    out: dict = {"acked": [], "submit_ms": [], "page_ms": [], "in_window": 0, "errors": [], "raters": len(sessions)}
    interval = len(sessions) / rate if rate else 0.0

    async def main() -> None:
        t_start = time.perf_counter() + warmup
        t_end = t_start + seconds
        conns = [Conn(host, int(port), tok, csrf) for tok, csrf in sessions]
        await asyncio.gather(*[_rater(k, c, cid, t_start, t_end, out, interval, page) for k, c in enumerate(conns)])
        for c in conns:
            if c.writer:
                c.writer.close()

    cpu0 = time.process_time()
    asyncio.run(main())
    out["load_cpu_s"] = time.process_time() - cpu0
    q.put(out)


# ---- set-up and report ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _setup(url: str, raters: int, units: int):
    from assay import annotate as A
    from assay import records as R
    from assay.rubrics import get_rubric
    from assay.server import accounts as ACC
    from assay.store import Store

    with Store(url) as s:
        get_rubric(s, "default")
        items = [R.Item(id=R.Item.make_id("bench", str(i), None, None), dataset="bench", external_id=str(i),
                        prompt=f"Question {i}: explain why the sky is blue in two sentences.") for i in range(units)]
        resp = [R.Response(id=R.Response.make_id(it.id, "m@1", 0), item_id=it.id, model="m@1", text=_answer_text(i))
                for i, it in enumerate(items)]
        s.add([R.Dataset(name="bench"), R.Model(id="m@1"), *items, *resp])
        h = ACC.hash_password("bench password")
        names = [f"rater{i:03d}" for i in range(raters)]
        for n in names:
            ACC.create_user(s, n, role="rater", password_hash=h)
        camp = A.create_campaign(s, "bench", rubric="default@1", units=[[r.id] for r in resp],
                                 spec=A.CampaignSpec(overlap=3))
        sessions = [ACC.start_session(s, ACC.User(name=n, role="rater", rater_id=f"human:{n}")) for n in names]
    return camp.id, sessions


def _answer_text(i: int) -> str:
    """A distinct answer of about 800 characters with some Markdown, as models write them (each
    text differs, so the pages' Markdown cache does not flatter the figures)."""
    return (f"Short answer {i}: sunlight is scattered by the molecules of the air, and **blue light** "
            f"(shorter wavelengths) is scattered about {4 + i % 5} times more than red.\n\n"
            "Why this happens:\n\n"
            f"1. Rayleigh scattering grows as the inverse fourth power of the wavelength (case {i}).\n"
            "2. Our eyes are more sensitive to blue than to violet, and some violet is absorbed high up.\n"
            "3. Near sunset the light crosses more air, so the blue is scattered away and reds remain.\n\n"
            f"> In short: the sky is blue for the same reason a glass of milky water looks blue ({i}).\n\n"
            "A quick check you can run:\n\n"
            f"```python\nfor wavelength in (450, 550, 650):\n    print(wavelength, (550 / wavelength) ** 4 * {i % 7 + 1})\n```\n\n"
            "See also *Tyndall scattering*, which explains why clouds are white rather than blue, since their "
            f"droplets are much larger than the wavelength of light (note {i}).")


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children, from /proc (Linux); NaN elsewhere."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        total = 0
        for p in [pid, *map(int, children)]:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / tick
    except (OSError, ValueError, IndexError):
        return float("nan")


def _postgres_cpu_seconds() -> float:
    """CPU time of every process named postgres on this machine (the database under test is local;
    its backends live as long as the server's pooled connections), from /proc; NaN elsewhere."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0
    try:
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    stat = (d / "stat").read_text()
                except OSError:
                    continue
                name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat.rsplit(")", 1)[1].split()
                if name.startswith("postgres"):
                    total += int(rest[11]) + int(rest[12])
    except OSError:
        return float("nan")
    return total / tick


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))] if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raters", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10.0, help="measured window per run")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--pool", type=int, default=8, help="database connections per worker (and as many overflow)")
    ap.add_argument("--rate", type=float, default=0.0,
                    help="pace the raters to this many submissions/s in all (default: as fast as answered)")
    ap.add_argument("--page", action="store_true",
                    help="after each submission also load the next item's HTML page, as a browser does")
    args = ap.parse_args()

    import psycopg

    schema = f"assay_bench_{uuid.uuid4().hex[:10]}"
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}"
    units = max(2000, int(args.runs * (args.seconds + args.warmup + 2) * 1500 / 3))  # room for 1,500/s
    t = time.perf_counter()
    cid, sessions = _setup(url, args.raters, units)
    print(f"set-up: {units} units x overlap 3, {args.raters} raters, {time.perf_counter() - t:.1f} s; "
          f"{args.workers} server worker(s); " + (f"paced to {args.rate:.0f}/s" if args.rate else "unpaced"), flush=True)
    port = _free_port()
    env = {**os.environ, "ASSAY_DB_POOL": str(args.pool)}
    server = subprocess.Popen([sys.executable, "-m", "assay", "--db", url, "serve", "--port", str(port),
                               "--workers", str(args.workers), "--no-access-log"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for _ in range(300):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        results, acked = [], []
        ctx = mp.get_context("spawn")
        for run in range(args.runs):
            q = ctx.Queue()
            cpu0, db0 = _cpu_seconds(server.pid), _postgres_cpu_seconds()
            p = ctx.Process(target=load, args=(base, cid, sessions, args.warmup, args.seconds, q, args.rate,
                                                      args.page))
            p.start()
            out = q.get()
            p.join()
            acked += out["acked"]
            server_cpu_ms = (_cpu_seconds(server.pid) - cpu0) * 1000 / max(1, len(out["acked"]))
            db_cpu_ms = (_postgres_cpu_seconds() - db0) * 1000 / max(1, len(out["acked"]))
            rate = out["in_window"] / args.seconds
            results.append({"rate": rate, "p50": _pct(out["submit_ms"], 50), "p99": _pct(out["submit_ms"], 99),
                            "page_p50": _pct(out["page_ms"], 50), "page_p99": _pct(out["page_ms"], 99),
                            "errors": len(out["errors"]), "load_cpu": out["load_cpu_s"], "cpu": server_cpu_ms,
                            "db_cpu": db_cpu_ms})
            r = results[-1]
            print(f"run {run + 1}: {rate:.0f} submissions/s; submit p50 {r['p50']:.0f} ms p99 {r['p99']:.0f} ms; "
                  + (f"page p50 {r['page_p50']:.0f} ms p99 {r['page_p99']:.0f} ms; " if args.page else "")
                  + f"CPU a submission: server {r['cpu']:.2f} ms, PostgreSQL {r['db_cpu']:.2f} ms; errors {r['errors']}; "
                  f"load process CPU {r['load_cpu']:.1f} s" + (f" e.g. {out['errors'][0]}" if out["errors"] else ""),
                  flush=True)
    finally:
        server.terminate()
        server.wait(timeout=20)
    from assay.store import Store

    with Store(url, create=False) as s:
        stored = s.count("judgments", campaign_id=cid)
        distinct = len({j.assignment_id for j in s.iter("judgments", campaign_id=cid)})
    ok = stored == len(acked) * len(DIMS) and distinct == len(set(acked)) == len(acked)
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    med = {k: statistics.median(r[k] for r in results) for k in ("rate", "p50", "p99")}
    print(f"check: {len(acked)} acknowledged submissions, {stored} judgments stored "
          f"({'exactly once each' if ok else 'MISMATCH'})")
    print(f"median of {args.runs} runs: {med['rate']:.0f} submissions/s, submit p50 {med['p50']:.0f} ms, "
          f"p99 {med['p99']:.0f} ms (each submit stores five judgments and hands out the next item)")
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
