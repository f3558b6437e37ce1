"""The session layer: Endpoint and Execution records, Session.model / client / run, the public ask and Usage."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest

from assay import records as R
from assay.errors import BadInput
from assay.runs import GenerateTask, run_id_for
from assay.session import Endpoint, Execution, JudgeParseError, Session, Usage, ask
from assay.testing import ScriptedServer


def test_endpoint_and_execution_are_frozen_and_replace_sorts_settings_by_record(store):
    s = Session(store, Endpoint(base_url="http://127.0.0.1:9/v1"), Execution(concurrency=3))
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.endpoint.rpm = 10  # type: ignore[misc]
    t = s.replace(rpm=60.0, on_start=print)
    assert (t.endpoint.rpm, t.endpoint.base_url, t.execution.concurrency, t.execution.on_start) == \
        (60.0, "http://127.0.0.1:9/v1", 3, print)
    assert s.endpoint.rpm is None and s.execution.on_start is None  # the original is unchanged
    with pytest.raises(TypeError, match="no session setting colour"):
        s.replace(colour="red")
    assert s.concurrency(8) == 3 and Session(store).concurrency(8) == 8
    assert Endpoint(cache="own-run").no_cache and not Endpoint().no_cache


def test_model_takes_the_endpoints_overrides_over_the_stored_model(store):
    store.add([R.Model(id="judge@1", base_url="http://stored/v1", api_key_env="STORED_KEY",
                       price_input_per_mtok=1.0)])
    plain = Session(store).model("judge@1")
    assert (plain.base_url, plain.api_key_env, plain.price_input_per_mtok) == ("http://stored/v1", "STORED_KEY", 1.0)
    e = Endpoint(base_url="http://given/v1", api_key_env="GIVEN_KEY", price_in=3.0)
    given = Session(store, e).model("judge@1")
    assert (given.base_url, given.api_key_env, given.price_input_per_mtok) == ("http://given/v1", "GIVEN_KEY", 3.0)
    assert Session(store, e).model("judge@1", prices=False).price_input_per_mtok == 1.0
    # a fallback base URL replaces the stored one only when the endpoint gives none
    assert Session(store).model("judge@1", base_url="http://fallback/v1").base_url == "http://fallback/v1"
    assert Session(store, e).model("judge@1", base_url="http://fallback/v1").base_url == "http://given/v1"
    with pytest.raises(BadInput, match="no base URL"):
        Session(store).model("new@1")
    with pytest.raises(BadInput) as bad:
        Session(store).model("no-version", param="model")
    assert bad.value.param == "model"


def test_run_assigns_the_configs_run_id_and_reports_plan_and_start_before_any_call(store):
    store.add([R.Dataset(name="qa"), *[R.Item(id=f"q{i}", dataset="qa", prompt=f"question {i}") for i in range(5)]])
    seen: list[tuple[str, object]] = []
    with ScriptedServer(models=["m"]) as srv:
        model = R.Model(id="m@1", base_url=srv.base_url)

        def stop(plan: object) -> None:
            seen.append(("plan", plan))
            raise KeyboardInterrupt

        s = Session(store, execution=Execution(concurrency=2, on_plan=stop, on_start=lambda r, n: seen.append((r, n))))
        client = s.client(model, concurrency=16)
        assert client.concurrency == 2 and client.cache is not None
        task = GenerateTask(client, store.list(R.Item, dataset="qa"), dataset="qa")
        assert task.run_id == run_id_for(task.kind, task.config()) == s.run_id(task)
        with pytest.raises(KeyboardInterrupt):
            s.run(task, concurrency=4, models=[model], calls=task.planned_calls)
        assert [k for k, _ in seen] == ["plan"] and not srv.chat_requests and store.find(R.Model, "m@1") is None

        seen.clear()
        run = s.replace(on_plan=None).run(task, concurrency=4, models=[model], calls=task.planned_calls)
        assert run.id == task.run_id and seen == [(task.run_id, 5)] and run.succeeded == 5
        assert store.find(R.Model, "m@1").base_url == srv.base_url  # remembered once the run had answers


def test_ask_repairs_an_unreadable_answer_and_usage_counts_every_call(store):
    answers = iter(["no json here", json.dumps({"n": 4})])
    with ScriptedServer(handler=lambda req: next(answers)) as srv:
        client = Session(store).client(R.Model(id="m@1", base_url=srv.base_url), concurrency=1)

        def parse(c: object) -> int:
            try:
                return int(json.loads(c.text)["n"])  # type: ignore[attr-defined]
            except ValueError:
                raise JudgeParseError("not JSON") from None

        usage = Usage()

        async def go() -> object:
            try:
                return await ask(client, [{"role": "user", "content": "2+2 as JSON"}], parse, usage,
                                 sample_index=0, params={}, max_parse_retries=1)
            finally:
                await client.aclose()

        asked = asyncio.run(go())
    assert asked.parsed == 4 and asked.attempts == 2 and asked.errors == ["not JSON"]  # type: ignore[attr-defined]
    assert usage.calls == 2 and usage.cached_calls == 0
    repair = srv.chat_requests[1].messages
    assert repair[1] == {"role": "assistant", "content": "no json here"} and "not JSON" in repair[2]["content"]
    out = usage.outcome("x", [])
    assert (out.result_id, out.cached, out.prompt_tokens) == ("x", False, usage.prompt_tokens)
