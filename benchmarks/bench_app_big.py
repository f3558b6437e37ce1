"""The lead's pages on a big store: dashboard and campaign export with 1,000,000 judgments in one campaign.

    python benchmarks/bench_app_big.py --db sqlite:////tmp/webbig.db [--judgments 1000000] [--runs 5]
    python benchmarks/bench_app_big.py --db 'postgresql://postgres@127.0.0.1:5432/test?schema=webbig'
    options: --build-only, --no-build (time a store built before), --drop (delete it afterwards)

Builds, seeded, a store shaped the way the rating app leaves it: a rating campaign ("big") over
``--judgments / 5`` done assignments of the default rubric's five dimensions (one judgment per
dimension, with a level, its label, a short justification and the time spent), regular units
given to ``--overlap`` raters each and gold units to every rater, about 5% of the claims skipped
(with a reason; the slot went back to the queue), one assignment pending per rater, units still
unclaimed at the end of the queue, and the bookkeeping the app keeps (unit claims, submissions,
skips, gold answers). Around it, two other campaigns (one of another lead) of ``--other`` judgments
each. Rows go through the store's bulk path (``Store.add_rows``), so building is quick and flat in memory.

Then a real ``assay serve`` (uvicorn, one worker) is started on the store and, as the campaign's
lead (a session made in the store: argon2 at login is not timed), it times over HTTP: the first
request of the dashboard on the fresh server (nothing cached), then the median of ``--runs``;
the htmx fragments the dashboard loads, the same way; the lead's home page; each export format
(CSV, JSONL) end to end (the whole body read), and ``assay campaign export`` for each format
(a process of its own, so its figure includes Python's start-up and imports).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import resource
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import numpy as np

DIMS = ["factuality", "coherence", "safety", "instruction-following", "creativity"]
CHUNK = 20_000  # assignments per transaction (x5 judgments)
REASONS = ["I cannot tell without the source.", "The answer is in a language I do not read.", "Too long to judge."]


def _assignment_id(key: str, cid: str, unit: str, rater: str) -> str:
    # the recipe of assay.annotate.queue.assignment_id, inlined: it runs for every row built
    return hashlib.sha256("".join(p + "\x1f" for p in ("assignment", key, cid, unit, rater)).encode()).hexdigest()[:32]


def _campaign(store, name: str, lead: str, *, judgments: int, raters: list[str], overlap: int, gold_units: int,
              rng: np.random.Generator, now: datetime, key: str) -> str:
    """One rating campaign with its units, claims, assignments, submissions, skips and judgments."""
    from assay import records as R
    from assay.rubrics import default_rubric

    levels = {d.name: [lv.label for lv in d.scale.levels] for d in default_rubric().dimensions}
    n_raters = len(raters)
    done_target = judgments // len(DIMS)
    gold_units = max(1, min(gold_units, done_target // (20 * n_raters)))  # gold about 5% of the work at most
    n_gold_asg = gold_units * n_raters
    regular_done = max(0, done_target - n_gold_asg)
    full_units = regular_done // overlap
    n_units = int(full_units * 1.15) + gold_units + n_raters + 10  # a queue not yet used up
    cid = f"c-{name}"[:16]
    camp = R.Campaign(id=cid, name=name, kind="rate", rubric="default@1", guideline_version=1, dimensions=[],
                      overlap=overlap, gold_share=gold_units * n_raters / max(1, done_target), calibration=False,
                      blind=True, min_justification=0, created_by=lead, created_at=now)
    store.add([camp])
    store.add_rows("campaign_members", [{"campaign_id": cid, "rater_id": r} for r in raters])
    # items with one response each of two models; a unit is one response
    n_items = (n_units + 1) // 2
    items = [f"{name}-i{i:07d}" for i in range(n_items)]
    for s in range(0, n_items, 50_000):
        store.add_rows("items", [{"id": i, "dataset": "bigapp", "external_id": i, "prompt": f"Question {i}?",
                                  "tags": [], "metadata": {}} for i in items[s:s + 50_000]])
    resp = [(f"{name}-r{u:07d}", items[u // 2], "m@1" if u % 2 == 0 else "m@2") for u in range(n_units)]
    for s in range(0, n_units, 50_000):
        store.add_rows("responses", [{"id": r, "item_id": i, "model": m, "sample_index": 0,
                                      "text": "An answer of some length. " * 8, "metadata": {}, "created_at": now}
                                     for r, i, m in resp[s:s + 50_000]])
    order = rng.permutation(n_units)  # queue position of each unit
    gold = set(range(gold_units))  # units 0..gold_units-1 are gold
    quality = rng.normal(3.2, 0.9, size=n_units)
    bias = rng.normal(0.0, 0.35, size=n_raters)
    claims = np.zeros(n_units, dtype=np.int64)  # live claims (done + pending), for n_claims / has_room
    gold_rows = [{"campaign_id": cid, "unit_id": resp[u][0], "dimension": d, "value": float(v), "label": levels[d][v - 1],
                  "outcome": None, "winner": None, "ranking": None, "explanation": "Known answer.", "created_at": now}
                 for u in sorted(gold) for d, v in zip(DIMS, np.clip(np.rint(quality[u] + rng.normal(0, 0.3, 5)), 1, 5)
                                                     .astype(int).tolist())]
    store.add_rows("gold_answers", gold_rows)

    # the work, in queue order: each regular unit to `overlap` raters, gold units to every rater
    by_pos = np.argsort(order)  # unit at each position
    regular = [int(u) for u in by_pos if int(u) not in gold]
    work: list[tuple[int, int, str]] = []  # (unit, rater index, status)
    for u in regular[:full_units]:
        who = rng.choice(n_raters, size=overlap, replace=False)
        for r in who.tolist():
            work.append((u, r, "done"))
    for u in sorted(gold):
        for r in range(n_raters):
            work.append((u, r, "done"))
    work = [work[i] for i in rng.permutation(len(work)).tolist()]
    work = work[:done_target]
    # about 5% skipped: another rater's claim that was given back (the unit's count goes down again)
    extra = regular[full_units:]
    skipped = [(regular[int(rng.integers(0, full_units))] if full_units else extra[0], int(rng.integers(0, n_raters)),
                "skipped") for _ in range(len(work) // 20)]
    pending = [(extra[k % len(extra)], k, "pending") for k in range(n_raters)]
    seen: set[tuple[int, int]] = set()
    all_work = []
    for w in work + skipped + pending:
        if (w[0], w[1]) not in seen:  # a rater is given a unit at most once
            seen.add((w[0], w[1]))
            all_work.append(w)
    t0 = now - timedelta(days=20)
    span = 20 * 86400 / max(1, len(all_work))
    n_judg = 0
    for s in range(0, len(all_work), CHUNK):
        asg, cl, sub, sk, jr = [], [], [], [], []
        for k, (u, r, status) in enumerate(all_work[s:s + CHUNK], start=s):
            unit, rater = resp[u][0], raters[r]
            aid = _assignment_id(key, cid, unit, rater)
            at = t0 + timedelta(seconds=k * span)
            is_gold = u in gold
            asg.append({"id": aid, "campaign_id": cid, "rater_id": rater, "response_ids": [unit], "shown_order": [unit],
                        "is_gold": is_gold, "status": status, "created_at": at,
                        "submitted_at": at + timedelta(seconds=30) if status == "done" else None})
            cl.append({"campaign_id": cid, "unit_id": unit, "rater_id": rater, "assignment_id": aid, "created_at": at})
            if status != "skipped":
                claims[u] += 1
            if status == "skipped":
                sub.append({"assignment_id": aid, "campaign_id": cid, "rater_id": rater, "kind": "skip",
                            "record_ids": [], "created_at": at})
                sk.append({"assignment_id": aid, "campaign_id": cid, "rater_id": rater, "unit_id": unit,
                           "reason": REASONS[k % 3], "created_at": at})
            elif status == "done":
                spent = float(np.round(20 + 40 * rng.random() + 5 * r % 30, 1))
                vals = np.clip(np.rint(quality[u] + bias[r] + rng.normal(0, 0.6, size=len(DIMS))), 1, 5).astype(int)
                ids = []
                for d, v in zip(DIMS, vals.tolist()):
                    jid = hashlib.blake2b(f"judgment\x1f{aid}\x1f{d}\x1f".encode(), digest_size=16).hexdigest()
                    ids.append(jid)
                    jr.append({"id": jid, "response_id": unit, "rater_id": rater, "rubric": "default@1",
                               "dimension": d, "value": float(v), "label": levels[d][v - 1],
                               "justification": f"Level {v}: see the {d} anchor." if k % 7 else "",
                               "flags": [], "flag_note": None, "time_spent_s": spent, "guideline_version": 1,
                               "campaign_id": cid, "assignment_id": aid, "detail": {},
                               "created_at": at + timedelta(seconds=30)})
                sub.append({"assignment_id": aid, "campaign_id": cid, "rater_id": rater, "kind": "rate",
                            "record_ids": ids, "created_at": at + timedelta(seconds=30)})
        with store.transaction() as c:
            store.add_rows("assignments", asg, conn=c)
            store.add_rows("unit_claims", cl, conn=c)
            store.add_rows("submissions", sub, conn=c)
            store.add_rows("skips", sk, conn=c)
            store.add_rows("judgments", jr, conn=c)
        n_judg += len(jr)
        print(f"\r  {name}: {n_judg:,} judgments", end="", flush=True)
    print()
    units = [{"campaign_id": cid, "unit_id": resp[u][0], "item_id": resp[u][1], "response_ids": [resp[u][0]],
              "is_gold": u in gold, "position": int(order[u]), "n_claims": int(claims[u]),
              "has_room": bool(u in gold or claims[u] < overlap)} for u in range(n_units)]
    for s in range(0, n_units, 50_000):
        store.add_rows("campaign_units", units[s:s + 50_000])
    return cid


def build(url: str, *, judgments: int, raters: int, overlap: int, other: int, seed: int) -> None:
    from assay import records as R
    from assay.rubrics import get_rubric
    from assay.server import accounts as ACC
    from assay.store import Store
    from assay.store import rating as S

    rng = np.random.default_rng(seed)
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    t = time.perf_counter()
    with Store(url) as store:
        get_rubric(store, "default")
        key = S.app_secret(store)
        h = ACC.hash_password("bench password")
        ACC.create_user(store, "lead", role="lead", password_hash=h)
        ACC.create_user(store, "lead2", role="lead", password_hash=h)
        names = [f"rater{i:03d}" for i in range(raters)]
        store.add_rows("raters", [{"id": R.Rater.make_id("human", n), "kind": "human", "name": n, "config": {}}
                                  for n in names])
        store.add([R.Dataset(name="bigapp"), R.Model(id="m@1"), R.Model(id="m@2")])
        rids = [R.Rater.make_id("human", n) for n in names]
        _campaign(store, "big", "lead", judgments=judgments, raters=rids, overlap=overlap, gold_units=200, rng=rng,
                  now=now, key=key)
        if other:
            _campaign(store, "side", "lead", judgments=other, raters=rids[: raters // 2], overlap=2, gold_units=20,
                      rng=rng, now=now - timedelta(days=40), key=key)
            _campaign(store, "other-lead", "lead2", judgments=other, raters=rids[raters // 2:], overlap=2,
                      gold_units=20, rng=rng, now=now - timedelta(days=60), key=key)
        S.refresh_queue_stats(store)
        if store.backend == "postgresql":
            with store.engine.connect() as c:
                c.exec_driver_sql("ANALYZE")
                c.commit()
        print(f"built in {time.perf_counter() - t:.0f} s: {store.count('judgments'):,} judgments, "
              f"{store.count('judgments', campaign_id='c-big'):,} in campaign big")


# ---- timing over HTTP -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVER: list[int] = []  # the pid of the server whose CPU time is read


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children, from /proc: the load of the machine
    stretches the wall time of a request, much less the CPU it takes."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open(f"/proc/{d}/stat").read()
            except OSError:
                continue
            rest = stat.rsplit(")", 1)[1].split()
            if int(d) == pid or int(rest[1]) == pid:
                total += int(rest[11]) + int(rest[12])
    return total / tick


def _get(client, path: str, limit: float) -> tuple[float, int, bytes]:
    t = time.perf_counter()
    with client.stream("GET", path, timeout=limit) as r:
        body = b"".join(r.iter_bytes())
    return time.perf_counter() - t, r.status_code, body


def _get_cpu(client, path: str, limit: float) -> tuple[float, int, bytes, float]:
    c = _cpu(SERVER[0])
    took, status, body = _get(client, path, limit)
    return took, status, body, _cpu(SERVER[0]) - c


def _time(client, path: str, runs: int, limit: float) -> dict:
    """First request, then the median of ``runs`` more (none after a first slower than ``limit``/3)."""
    try:
        first, status, body, cpu = _get_cpu(client, path, limit)
    except Exception as e:  # noqa: BLE001 - a timeout is a figure
        return {"first": float("inf"), "median": float("inf"), "status": type(e).__name__, "bytes": 0, "body": b"",
                "cpu": float("nan")}
    times, cpus = [], [cpu]
    if first < limit / 3:
        for _ in range(runs):
            took, _, _, c = _get_cpu(client, path, limit)
            times.append(took)
            cpus.append(c)
    return {"first": first, "median": statistics.median(times) if times else first, "status": status,
            "bytes": len(body), "body": body, "n": len(times), "cpu": statistics.median(cpus)}


def _row(name: str, r: dict) -> None:
    size = f"{r['bytes'] / 1e6:.1f} MB" if r["bytes"] else ""
    if "rows" in r:
        size += f" {r['rows']:,} rows"
    first = "> limit" if r["first"] == float("inf") else f"{r['first']:.3f}"
    median = "> limit" if r["median"] == float("inf") else f"{r['median']:.3f}"
    print(f"| {name} | {first} | {median} | {r.get('cpu', float('nan')):.2f} | {r['status']} | {size} | "
          f"{os.getloadavg()[0]:.1f} |", flush=True)


def measure(url: str, runs: int, limit: float) -> None:
    import httpx
    from sqlalchemy import inspect

    from assay.server import accounts as ACC
    from assay.store import Store

    t = time.perf_counter()
    with Store(url) as s:  # opening migrates the store to this code's schema (timed: indexes may be built)
        pass
    print(f"store opened (and migrated when behind) in {time.perf_counter() - t:.1f} s", flush=True)
    with Store(url, create=False) as s:
        if "campaign_stats" in inspect(s.engine).get_table_names():  # the statistics kept by a run before
            with s.engine.begin() as c:
                c.exec_driver_sql("DELETE FROM campaign_stats")
        token, csrf = ACC.start_session(s, ACC.User(name="lead", role="lead", rater_id="human:lead"))
        n = s.count("judgments", campaign_id="c-big")
    env = {**os.environ}
    env.pop("ASSAY_DATABASE_URL", None)
    print(f"campaign big: {n:,} judgments; load average before: {os.getloadavg()[0]:.2f}", flush=True)
    print("| request | first (s) | median (s) | server CPU, median (s) | status | size / rows | load (1 min) |")
    print("| --- | --- | --- | --- | --- | --- | --- |", flush=True)

    def serve():
        port = _free_port()
        proc = subprocess.Popen([sys.executable, "-m", "assay", "--db", url, "serve", "--port", str(port),
                                 "--workers", "1", "--no-access-log"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        SERVER[:] = [proc.pid]
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        return proc, httpx.Client(base_url=base, cookies={"assay_session": token})

    def stop(proc, client) -> None:
        client.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # still working on a request that timed out here
            proc.kill()
            proc.wait()

    # the dashboard on a fresh server: nothing cached in the process
    proc, client = serve()
    try:
        t0 = time.perf_counter()
        first = _time(client, "/lead/c/c-big", 0, limit)
        # the part the page loads again while its statistics are recomputed (none before migration 0014):
        # polled as the page's script does, until the statistics are current
        frag = _time(client, "/lead/c/c-big/quality", 0, limit)
        if frag["status"] == 200:
            while b"data-refreshing" in frag["body"] and time.perf_counter() - t0 < limit:
                time.sleep(1.0)
                frag["body"] = _get(client, "/lead/c/c-big/quality", limit)[2]
            state = re.search(rb'id="stats-state"[^>]*>([^<]*)', frag["body"])
            print(f"statistics current {time.perf_counter() - t0:.1f} s after the first view; "
                  f"{state.group(1).decode() if state else 'shown: current'}", flush=True)
        r = _time(client, "/lead/c/c-big", runs, limit) if first["first"] < limit else first
        r["first"] = first["first"]
        _row("dashboard /lead/c/c-big", r)
        if frag["status"] == 200:
            r = _time(client, "/lead/c/c-big/quality", runs, limit)
            r["first"] = frag["first"]
            _row("fragment /lead/c/c-big/quality", r)
    finally:
        stop(proc, client)
    proc, client = serve()
    try:
        _row("lead home /lead", _time(client, "/lead", runs, limit))
        for fmt in ("csv", "jsonl"):
            r = _time(client, f"/lead/c/c-big/export.{fmt}", max(1, runs // 2), limit)
            r["rows"] = r["body"].count(b"\n") - (fmt == "csv")
            r["body"] = b""
            _row(f"export.{fmt} over HTTP", r)
    finally:
        stop(proc, client)
    for fmt in ("csv", "jsonl"):
        path = f"/tmp/bench-app-big-{os.getpid()}.{fmt}"
        t = time.perf_counter()
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            p = subprocess.run([sys.executable, "-m", "assay", "--db", url, "campaign", "export", "big", "--format",
                                fmt, "--out", path], env=env, capture_output=True, timeout=limit)
            took = time.perf_counter() - t
            status = p.returncode
            rows = sum(1 for _ in open(path, "rb")) - (fmt == "csv") if p.returncode == 0 else 0
        except subprocess.TimeoutExpired:
            took, status, rows = float("inf"), "timeout", 0
        if os.path.exists(path):
            os.remove(path)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - ru.ru_utime - ru.ru_stime
        _row(f"assay campaign export --format {fmt}", {"first": took, "median": took, "status": status, "bytes": 0,
                                                       "rows": rows, "cpu": cpu})
        print(f"  (its process: {cpu:.1f} s CPU, peak memory {after.ru_maxrss / 1e6:.2f} GB of the largest child so far)",
              flush=True)
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def drop(url: str) -> None:
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        return
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    schema = u.query["schema"]
    with psycopg.connect(u.difference_update_query(["schema"]).set(drivername="postgresql")
                         .render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", required=True)
    p.add_argument("--judgments", type=int, default=1_000_000)
    p.add_argument("--raters", type=int, default=60)
    p.add_argument("--overlap", type=int, default=3)
    p.add_argument("--other", type=int, default=150_000, help="judgments in each of the two other campaigns")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--limit", type=float, default=600.0, help="give up on a request after this many seconds")
    p.add_argument("--build-only", action="store_true")
    p.add_argument("--no-build", action="store_true")
    p.add_argument("--drop", action="store_true", help="delete the store (file or schema) at the end")
    a = p.parse_args()
    if not a.no_build:
        build(a.db, judgments=a.judgments, raters=a.raters, overlap=a.overlap, other=a.other, seed=a.seed)
    if not a.build_only:
        measure(a.db, a.runs, a.limit)
    if a.drop:
        drop(a.db)


if __name__ == "__main__":
    main()
