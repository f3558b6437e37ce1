"""Calls lost to a kill -9, and what making every answer durable costs, with a server that counts calls.

    python benchmarks/bench_durable.py kill [--command generate|judge] [--store sqlite|postgres]
        [--units 2000] [--concurrency 32] [--latency 0.05] [--at 0.4] [--rounds 3]
    python benchmarks/bench_durable.py speed [--calls 10000] [--concurrency 64] [--latency 0.05] [--rounds 5]
        [--store sqlite|postgres] [--cache on|off]

``kill``: starts the real ``assay generate`` (or ``assay judge``) in a subprocess against a
ScriptedServer answering after ``latency`` seconds, SIGKILLs it once the server has
answered ``at`` of the units, runs the same command again to the end, and prints how many
calls the server saw beyond one per unit: the calls repeated because of the kill.

``speed``: ``assay.runs.generate`` of ``calls`` units at ``concurrency`` requests in flight
into a fresh store (ledger, Response records, request cache unless ``--cache off``),
against a server in its own process; prints each round's wall time and its ratio to the
ideal ``calls x latency / concurrency``, then the median.

``--against SRC`` runs every round twice, alternating, each in a subprocess: once with
the assay found at ``SRC`` (e.g. a checkout of main: ``../main/src``) and once with this
one, and prints both medians (the machine's load then weighs on both alike).
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

PG_URL = os.environ.get("ASSAY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
LAUNCH = "import sys\nfrom assay.cli import main\nsys.exit(main(sys.argv[1:]))"


class _Store:
    """A fresh store URL (a SQLite file, or a PostgreSQL schema of its own), removed afterwards."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._dir = tempfile.TemporaryDirectory()
        if kind == "sqlite":
            self.url = f"sqlite:///{os.path.join(self._dir.name, 'bench.db')}"
        else:
            self.schema = f"bench_{uuid.uuid4().hex[:12]}"
            self.url = f"{PG_URL}?schema={self.schema}"

    def close(self) -> None:
        if self.kind == "postgres":
            import psycopg

            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        self._dir.cleanup()


def _verdict(body: dict) -> str:
    import re

    # the call's code, from the instructions in either form (verdict lines, or the JSON asked for): the last one
    prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
    nonce = "".join(re.findall(r'VERDICT (\w+)(?: <dimension>|: <verdict>)|\{"code": "(\w+)"', prompt)[-1])
    return f"Checked.\nVERDICT {nonce} factuality: 4"


def _fill(url: str, command: str, n: int) -> None:
    from assay import records as R
    from assay.store import Store

    with Store(url) as store:
        items = [R.Item(id=R.Item.make_id("qa", str(i), None, None), dataset="qa", external_id=str(i),
                        prompt=f"question {i}") for i in range(n)]
        store.add([R.Dataset(name="qa"), *items])
        if command == "judge":
            store.add([R.Model(id="m@1", provider="none")])
            store.add([R.Response(id=R.Response.make_id(it.id, "m@1", 0), item_id=it.id, model="m@1",
                                  text=f"answer {i}") for i, it in enumerate(items)])


def _command(url: str, command: str, base: str, concurrency: int) -> list[str]:
    common = ["--db", url]
    if command == "generate":
        args = ["generate", "--model", "m@1", "--dataset", "qa", "--base-url", base, "--concurrency", str(concurrency)]
    else:
        args = ["judge", "--rubric", "default", "--judge", "judge@1", "--base-url", base, "--dimensions",
                "factuality", "--concurrency", str(concurrency), "--no-logprobs"]
    return [sys.executable, "-c", LAUNCH, *common, *args, "--yes"]


def kill_round(a: argparse.Namespace) -> tuple[int, int, float]:
    """One kill -9 and rerun: (calls repeated, calls answered before the kill, seconds to the kill)."""
    from assay.testing import ScriptedServer

    st = _Store(a.store)
    try:
        _fill(st.url, a.command, a.units)
        models = ["m"] if a.command == "generate" else ["judge"]
        handler = None if a.command == "generate" else _verdict
        with ScriptedServer(models=models, handler=handler, latency=a.latency) as srv:
            cmd = _command(st.url, a.command, srv.base_url, a.concurrency)
            err = tempfile.TemporaryFile("w+")  # not a pipe: a full pipe would stall the command
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, text=True)
            t0 = time.perf_counter()
            target = int(a.units * a.at)
            while len(srv.answered()) < target and proc.poll() is None:
                time.sleep(0.002)
            if proc.poll() is not None:
                err.seek(0)
                raise RuntimeError(f"the run ended before the kill: {err.read()[-2000:]}")
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            took = time.perf_counter() - t0
            time.sleep(2 * a.latency)  # requests in flight at the kill are counted when they arrived
            answered = len(srv.answered())
            again = subprocess.run(cmd, capture_output=True, text=True)
            if again.returncode != 0:
                raise RuntimeError(f"the rerun failed: {again.stderr}")
            total = len(srv.chat_requests)
        return total - a.units, answered, took
    finally:
        st.close()


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "assay.testing", "--latency", str(latency), "--no-record",
                             "--model", "bench"], stdout=subprocess.PIPE, text=True)
    base = proc.stdout.readline().strip()  # type: ignore[union-attr]
    import httpx

    for _ in range(200):
        try:
            httpx.get(base + "/models", timeout=1)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("the benchmark server did not start")


def speed_round(a: argparse.Namespace, base: str, n: int) -> tuple[float, list[str]]:
    from assay import records as R
    from assay.runs import generate
    from assay.session import Endpoint, Execution, Session
    from assay.store import Store

    st = _Store(a.store)
    try:
        with Store(st.url) as store:
            items = [R.Item(id=R.Item.make_id("bench", str(i), None, None), dataset="bench", external_id=str(i),
                            messages=[{"role": "user", "content": f"question number {i}"}]) for i in range(n)]
            store.add([R.Dataset(name="bench"), *items])
            t0 = time.perf_counter()
            run = generate(Session(store, Endpoint(timeout=30, cache="own-run" if a.cache == "off" else "on"),
                                   Execution(concurrency=a.concurrency)), R.Model(id="bench@1", base_url=base), "bench")
            wall = time.perf_counter() - t0
            assert run.succeeded == n, run
            texts = {r.item_id: r.text for r in store.iter("responses")}
            return wall, [texts[it.id] for it in items]
    finally:
        st.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["kill", "speed"])
    p.add_argument("--command", choices=["generate", "judge"], default="generate")
    p.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--units", type=int, default=2000)
    p.add_argument("--calls", type=int, default=10_000)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--latency", type=float, default=0.05)
    p.add_argument("--at", type=float, default=0.4, help="kill once this share of the units is answered")
    p.add_argument("--cache", choices=["on", "off"], default="on")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--against", metavar="SRC", help="also run each round with the assay at SRC, alternating")
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # one round, its figure on the last line
    a = p.parse_args()
    if a.against:
        compare(a)
        return
    if a.one:
        got = kill_round(a)[0] if a.what == "kill" else one_speed_round(a)
        print(got)
        return
    print(f"{platform.python_version()} on {os.cpu_count()} cores; assay from {__import__('assay').__file__}")
    if a.what == "kill":
        got = []
        for r in range(a.rounds):
            repeated, answered, took = kill_round(a)
            got.append(repeated)
            print(f"round {r + 1}: killed after {took:.2f} s with {answered} calls answered; "
                  f"the rerun repeated {repeated} calls", flush=True)
        print(f"\n{a.command} on {a.store}, {a.units} units, concurrency {a.concurrency}, latency "
              f"{a.latency * 1000:g} ms: repeated calls per kill -9 {got}, median {statistics.median(got):g}")
        return
    ideal = a.calls * a.latency / a.concurrency
    proc, base = start_server(a.latency)
    try:
        _, out = speed_round(a, base, 200)  # the same answers as the server's echo, before timing
        assert out == [f"echo: question number {i}" for i in range(200)], "answers differ from the echo"
        walls = []
        for r in range(a.rounds):
            wall, _ = speed_round(a, base, a.calls)
            walls.append(wall)
            print(f"round {r + 1}: wall {wall:.2f} s ({wall / ideal:.2f}x ideal)", flush=True)
    finally:
        proc.terminate()
        proc.wait(10)
    med = statistics.median(walls)
    print(f"\ngenerate of {a.calls:,} calls into {a.store} (cache {a.cache}), concurrency {a.concurrency}, latency "
          f"{a.latency * 1000:g} ms: ideal {ideal:.2f} s, median wall {med:.2f} s = {med / ideal:.2f}x ideal; "
          f"rounds {', '.join(f'{w:.2f}' for w in walls)}")


def one_speed_round(a: argparse.Namespace) -> float:
    proc, base = start_server(a.latency)
    try:
        return speed_round(a, base, a.calls)[0]
    finally:
        proc.terminate()
        proc.wait(10)


def compare(a: argparse.Namespace) -> None:
    """Each round with the assay at ``a.against``, then with this one, each in a fresh subprocess."""
    here = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    trees = {"against": os.path.abspath(a.against), "this": here}
    args = [x for x in sys.argv[1:] if x != "--against" and x != a.against]
    got: dict[str, list[float]] = {k: [] for k in trees}
    for r in range(a.rounds):
        for name, src in trees.items():
            env = {**os.environ, "PYTHONPATH": src}
            out = subprocess.run([sys.executable, os.path.abspath(__file__), *args, "--one"], env=env,
                                 capture_output=True, text=True)
            if out.returncode != 0:
                raise RuntimeError(f"{name} round failed: {out.stderr[-2000:]}")
            got[name].append(float(out.stdout.split()[-1]))
            print(f"round {r + 1} {name} ({src}): {got[name][-1]:g}", flush=True)
    unit = "repeated calls" if a.what == "kill" else "s wall"
    for name, vals in got.items():
        med = statistics.median(vals)
        extra = "" if a.what == "kill" else f" = {med / (a.calls * a.latency / a.concurrency):.2f}x ideal"
        print(f"{name}: median {med:g} {unit}{extra}; rounds {', '.join(f'{v:g}' for v in vals)}")


if __name__ == "__main__":
    main()
