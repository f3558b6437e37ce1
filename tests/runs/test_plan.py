"""The plan printed before the first call: calls left (ledger, cache), estimated tokens, cost; --dry-run, --yes, asking.

Counts are checked against what the following real run sends to the ScriptedServer.
"""

from __future__ import annotations

import json
import math
import os
import pty
import subprocess
import sys

import pytest

from assay.cli import main
from assay.store import Store
from assay.store.ledger import Ledger
from assay.testing import Reply, ScriptedServer
from tests.judges.scripted_judges import nonce_of, store_responses
from tests.redteam.test_attacks import GOALS, behaviors

from .conftest import make_dataset

N = 20


def tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def plan_of(capsys, *args: str) -> dict:
    assert main([*args, "--dry-run", "--json"]) == 0
    return json.loads(capsys.readouterr().out)["plan"]


def _odd_fails(body: dict) -> str | Reply:
    number = int(body["messages"][-1]["content"].split()[-1])
    return Reply(status=400, body={"error": {"message": "no"}}) if number % 2 else "fine"


def test_generate_plan_counts_what_is_left_and_dry_run_sends_nothing(store, store_url, capsys):
    make_dataset(store, "qa", N)
    with ScriptedServer(models=["m"], handler=_odd_fails) as srv:
        gen = ["--db", store_url, "generate", "--model", "m@1", "--dataset", "qa", "--base-url", srv.base_url,
               "--max-tokens", "50", "--max-retries", "0"]
        plan = plan_of(capsys, *gen)
        assert srv.requests == [] and Ledger(store).runs() == [] and store.find("models", "m@1") is None
        assert (plan["units"], plan["done"], plan["calls"], plan["cached"]) == (N, 0, N, 0)
        assert plan["prompt_tokens"] == sum(tokens(f"question {i}") for i in range(N))
        assert plan["completion_tokens"] == 50 * N  # --max-tokens per call
        assert (plan["cost_usd"], plan["unpriced"]) == (None, ["m@1"])

        assert main([*gen, "--price-in", "2", "--price-out", "4"]) == 1  # the odd questions fail
        capsys.readouterr()
        assert len(srv.chat_requests) == N

        # the ledger holds 10 done: only the 10 failed are left; the price is now the model's
        left = plan_of(capsys, *gen)
        assert (left["units"], left["done"], left["calls"], left["cached"]) == (N, N // 2, N // 2, 0)
        odd = sum(tokens(f"question {i}") for i in range(1, N, 2))
        assert left["prompt_tokens"] == odd
        assert left["cost_usd"] == pytest.approx((odd * 2 + 50 * (N // 2) * 4) / 1e6) and left["unpriced"] == []

        # two samples are another run: sample 0 of the answered items comes from the cache
        two = plan_of(capsys, *gen, "--samples", "2")
        assert (two["units"], two["done"], two["calls"], two["cached"]) == (2 * N, 0, 2 * N - N // 2, N // 2)
        assert len(srv.chat_requests) == N  # no dry run sent anything

        # the printed plan, on stderr, before the first call
        assert main([*gen, "--dry-run"]) == 0
        err = capsys.readouterr().err.splitlines()
        assert err == [
            f"plan: 10 calls to m@1 (10 of {N} units already done)",
            f"plan: about {odd:,} prompt + 500 completion tokens (prompt characters / 4; completions at max_tokens, "
            f"else 256 each); about $0.00",
        ]


def _verdict(body: dict) -> str:
    return f"ok\nVERDICT {nonce_of(body)} factuality: 4"


def test_judge_plan_for_samples_panels_and_pairs_then_nothing_left(store, store_url, capsys):
    store_responses(store, {"a@1": ["A0", "A1", "A2"], "b@1": ["B0", "B1", "B2"]})
    with ScriptedServer(handler=_verdict) as srv:
        judge = ["--db", store_url, "judge", "--base-url", srv.base_url]
        rubric = [*judge, "--rubric", "default", "--dimensions", "factuality", "--no-logprobs"]
        one = plan_of(capsys, *rubric, "--judge", "j@1")
        assert (one["units"], one["calls"], one["completion_tokens"]) == (6, 6, 6 * 256)
        assert one["prompt_tokens"] > 6 * 100  # the rubric template, prompt and answer of each response
        assert plan_of(capsys, *rubric, "--judge", "j@1", "--samples", "3")["calls"] == 18
        panel = plan_of(capsys, *rubric, "--panel", "j@1,k@1")
        assert panel["calls"] == 12 and sorted(panel["models"]) == ["j@1", "k@1"]
        pairs = [*judge, "--pairwise", "a@1", "b@1", "--judge", "j@1"]
        assert plan_of(capsys, *pairs)["calls"] == 6  # 3 pairs, both orders
        assert plan_of(capsys, *pairs, "--one-order")["calls"] == 3
        assert srv.requests == [] and Ledger(store).runs() == []

        assert main([*rubric, "--judge", "j@1", "--price-in", "1", "--price-out", "1"]) == 0
        capsys.readouterr()
        assert len(srv.chat_requests) == one["calls"]
        again = plan_of(capsys, *rubric, "--judge", "j@1")
        assert (again["units"], again["done"], again["calls"]) == (6, 6, 0)
        # the same calls in another run (one model's responses only) are answered from the cache
        cached = plan_of(capsys, *rubric, "--judge", "j@1", "--models", "a@1")
        assert (cached["units"], cached["done"], cached["calls"], cached["cached"]) == (3, 0, 0, 3)


def test_judge_plan_knows_the_structured_request_is_the_one_cached(store, store_url, capsys):
    from tests.judges.test_verdict_format import schema_nonce

    store_responses(store, {"a@1": ["A0", "A1", "A2"], "b@1": ["B0", "B1", "B2"]})

    def handler(body: dict) -> str:
        return json.dumps({"code": schema_nonce(body), "factuality": {"reasoning": "checked", "value": 4}})

    with ScriptedServer(handler=handler, response_format="honour") as srv:
        rubric = ["--db", store_url, "judge", "--base-url", srv.base_url, "--rubric", "default", "--dimensions",
                  "factuality", "--no-logprobs", "--judge", "j@1"]
        assert main([*rubric, "--structured", "on"]) == 0
        capsys.readouterr()
        assert len(srv.chat_requests) == 6 and all("response_format" in r.body for r in srv.chat_requests)
        asked_so = plan_of(capsys, *rubric, "--structured", "on", "--models", "a@1")
        assert (asked_so["calls"], asked_so["cached"]) == (0, 3)
        by_default = plan_of(capsys, *rubric, "--models", "a@1")  # auto asks the same structured request
        assert (by_default["calls"], by_default["cached"]) == (0, 3)
        asked_plainly = plan_of(capsys, *rubric, "--structured", "off", "--models", "a@1")  # another request
        assert (asked_plainly["calls"], asked_plainly["cached"]) == (3, 0)


def test_redteam_plan_covers_every_attack_and_stores_nothing(store, store_url, capsys):
    behaviors(store)
    with ScriptedServer() as srv:
        run = ["--db", store_url, "redteam", "run", "--behaviors", "beh", "--model", "target@1", "--base-url",
               srv.base_url]
        plan = plan_of(capsys, *run, "--attack", "direct", "--attack", "base64")
        assert (plan["calls"], plan["at_most"]) == (2 * len(GOALS), False)
        assert plan["prompt_tokens"] > sum(tokens(g) for g in GOALS) * 2  # base64 prompts are longer
        it = plan_of(capsys, *run, "--iterative", "--attacker", "attacker@1", "--scorer", "judge@1", "--streams", "2",
                     "--turns", "3")
        assert (it["calls"], it["at_most"]) == (len(GOALS) * 2 * 3 * 3, True)  # attacker, target, scorer per round
        assert sorted(it["models"]) == ["attacker@1", "judge@1", "target@1"]
        assert srv.requests == [] and Ledger(store).runs() == []
        assert [d.name for d in store.list("datasets")] == ["beh"]  # no attack's prompts stored

        assert main([*run, "--attack", "direct", "--attack", "base64"]) == 0
        capsys.readouterr()
        assert len(srv.chat_requests) == plan["calls"]
        assert plan_of(capsys, *run, "--attack", "direct", "--attack", "base64")["calls"] == 0


def _assay(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys\nfrom assay.cli import main\nsys.exit(main(sys.argv[1:]))", *args]


def test_a_terminal_is_asked_before_a_large_run_and_a_pipe_never_waits(tmp_path):
    """Asking is the CLI's (the store plays no part): on SQLite only."""
    store_url = f"sqlite:///{tmp_path / 'a.db'}"
    with Store(store_url) as store:
        make_dataset(store, "qa", N)
    env = {**os.environ, "ASSAY_CONFIRM_CALLS": "10"}
    with ScriptedServer(models=["m"]) as srv:
        cmd = _assay("--db", store_url, "generate", "--model", "m@1", "--dataset", "qa", "--base-url", srv.base_url)

        def on_a_terminal(answer: bytes, *extra: str, calls: str = "10") -> subprocess.CompletedProcess:
            master, slave = pty.openpty()
            try:
                os.write(master, answer)  # typed ahead; read when the question is asked
                return subprocess.run([*cmd, *extra], stdin=slave, capture_output=True, text=True, timeout=120,
                                      env={**env, "ASSAY_CONFIRM_CALLS": calls})
            finally:
                os.close(slave)
                os.close(master)

        no = on_a_terminal(b"n\n")
        assert no.returncode == 1 and "start it? [y/N]" in no.stderr and "not started: nothing was sent" in no.stderr
        assert srv.chat_requests == [] and Store(store_url).count("responses") == 0

        below = on_a_terminal(b"", calls="1000")
        assert below.returncode == 0 and "start it?" not in below.stderr  # under the threshold: not asked
        assert len(srv.chat_requests) == N

        yes = on_a_terminal(b"", "--samples", "2", "--yes")
        assert yes.returncode == 0 and "start it?" not in yes.stderr
        assert len(srv.chat_requests) == 2 * N  # sample 1 only: sample 0 comes from the cache

        piped = subprocess.run([*cmd, "--samples", "3"], capture_output=True, text=True, timeout=120, input="",
                               env=env)
        assert piped.returncode == 0 and "start it?" not in piped.stderr  # not a terminal: never waits
        assert len(srv.chat_requests) == 3 * N


def test_a_price_above_the_dollar_threshold_asks_too(tmp_path):
    store_url = f"sqlite:///{tmp_path / 'a.db'}"
    with Store(store_url) as store:
        make_dataset(store, "qa", 3)
    with ScriptedServer(models=["m"]) as srv:
        cmd = _assay("--db", store_url, "generate", "--model", "m@1", "--dataset", "qa", "--base-url", srv.base_url,
                     "--price-in", "100", "--price-out", "100")
        master, slave = pty.openpty()
        os.write(master, b"y\n")
        done = subprocess.run(cmd, stdin=slave, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "ASSAY_CONFIRM_USD": "0.01"})
        os.close(slave)
        os.close(master)
        assert done.returncode == 0 and "start it? [y/N]" in done.stderr and "about $0.08" in done.stderr
        assert len(srv.chat_requests) == 3
