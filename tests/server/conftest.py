"""A real `assay serve` (uvicorn, subprocess) on loopback over a seeded store, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field

import httpx
import pytest

from assay import annotate as A
from assay import records as R
from assay.server import accounts as ACC
from assay.store import Store
from tests.conftest import PG_URL, require_postgres

PASSWORD = "correct horse battery"
STARTUP_LIMIT_S = 300
_HASH: list[str] = []


def password_hash() -> str:
    """A real argon2id hash of PASSWORD, made once and with light parameters (verifying reads the
    parameters from the hash), so the many logins of the tests stay fast; the app's own hashes
    use argon2-cffi's defaults."""
    if not _HASH:
        from argon2 import PasswordHasher

        _HASH.append(PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD))
    return _HASH[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    store_url: str
    proc: subprocess.Popen
    ids: dict = field(default_factory=dict)

    def store(self) -> Store:
        return Store(self.store_url, create=False)


def start_server(store_url: str, *, workers: int = 1, extra: tuple[str, ...] = ()) -> tuple[str, subprocess.Popen]:
    port = free_port()
    env = {**os.environ, "ASSAY_DB_POOL": "4"}
    env.pop("ASSAY_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "assay", "--db", store_url, "serve", "--port", str(port), "--workers", str(workers),
         "--no-access-log", *extra],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    # a readiness wait, not a speed check: on a loaded 2-core machine importing the app can take
    # well over 30 s, so wait for the server to answer or to exit, with only a last-resort limit
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"assay serve exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=5).status_code == 200:
                return url, proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"assay serve did not answer /healthz in {STARTUP_LIMIT_S} s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend_url(request, tmp_path_factory):
    """A fresh store URL per test module, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('srv') / 'assay.db'}"
        return
    require_postgres()
    import psycopg

    schema = f"assay_test_{uuid.uuid4().hex[:12]}"
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}schema={schema}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def add_texts(store: Store, dataset: str, prompts: list[str], answers: dict[str, list[str]]) -> list[R.Item]:
    """A dataset of items answered by models: answers maps model -> one text per prompt."""
    items = [R.Item(id=R.Item.make_id(dataset, str(i), None, None), dataset=dataset, external_id=str(i), prompt=p)
             for i, p in enumerate(prompts)]
    recs: list[R.Record] = [R.Dataset(name=dataset), *items]
    for model, texts in answers.items():
        recs.append(R.Model(id=model))
        recs += [R.Response(id=R.Response.make_id(it.id, model, 0), item_id=it.id, model=model, text=t)
                 for it, t in zip(items, texts)]
    store.add(recs)
    return items


def add_users(store: Store, spec: dict[str, str]) -> None:
    for name, role in spec.items():
        ACC.create_user(store, name, role=role, password_hash=password_hash())


def rid(name: str) -> str:
    return R.Rater.make_id("human", name)


def seed_basic(store: Store) -> dict:
    """Users of every role, a small dataset and campaigns of every kind; returns their ids."""
    from assay.rubrics import get_rubric

    get_rubric(store, "default")
    add_users(store, {"ann": "rater", "bob": "rater", "carl": "rater", "lee": "lead", "lou": "lead", "ada": "admin"})
    prompts = [f"Question {i}: what is {i} + {i}?" for i in range(4)]
    add_texts(store, "basic", prompts, {
        "alpha@1": [f"It is {2 * i}." for i in range(4)],
        "beta@1": [f"The answer is {2 * i + 1}." for i in range(4)],
        "gamma@1": [f"{2 * i}, I think." for i in range(4)],
    })
    ids = {}
    units = A.units_from_dataset(store, "basic", kind="rate")
    ids["rate"] = A.create_campaign(store, "rate", rubric="default@1", units=units,
                                    spec=A.CampaignSpec(overlap=2, min_justification=10,
                                                        raters=[rid("ann"), rid("bob")]),
                                    created_by="lee").id
    ids["compare"] = A.create_campaign(store, "compare", rubric="default@1",
                                       units=A.units_from_dataset(store, "basic", kind="compare"),
                                       spec=A.CampaignSpec(overlap=2, dimensions=["factuality"], kind="compare"),
                                       created_by="lee").id
    ids["rank"] = A.create_campaign(store, "rank", rubric="default@1",
                                    units=A.units_from_dataset(store, "basic", kind="rank"),
                                    spec=A.CampaignSpec(overlap=1, kind="rank"), created_by="lee").id
    ids["restricted"] = A.create_campaign(store, "carl-only", rubric="default@1", units=units[:3],
                                          spec=A.CampaignSpec(overlap=1, raters=[rid("carl")]), created_by="lou").id
    gold_resp = units[0][0]
    ids["calibration"] = A.create_campaign(
        store, "calibration", rubric="default@1", units=[], spec=A.CampaignSpec(calibration=True), created_by="lee",
        gold=[A.Gold(response_ids=(gold_resp,), explanation="Exactly right: 0 + 0 is 0.",
                     values={"factuality": 5, "coherence": 5, "safety": 5, "instruction-following": 5,
                             "creativity": 2})]).id
    return ids


class Rater:
    """An httpx client logged in through the real login form (from ``address``, a loopback address
    such as 127.0.0.7, when given: the server sees each as a different client)."""

    def __init__(self, base: str, name: str, password: str = PASSWORD, address: str | None = None) -> None:
        transport = httpx.HTTPTransport(local_address=address) if address else None
        self.client = httpx.Client(base_url=base, timeout=30, transport=transport)
        self.name = name
        page = self.client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        self.login_response = self.client.post("/login", data={"csrf_token": token, "name": name,
                                                               "password": password})
        self.csrf = ""
        if self.login_response.status_code == 303:
            home = self.client.get("/")
            self.csrf = re.search(r'name="csrf-token" content="([^"]+)"', home.text).group(1)

    def next(self, cid: str) -> str | None:
        r = self.client.get(f"/c/{cid}/next", headers={"accept": "application/json"})
        assert r.status_code == 200, r.text
        return r.json()["assignment"]

    def post(self, path: str, data: dict, **kw) -> httpx.Response:
        return self.client.post(path, data={"csrf_token": self.csrf, **data}, **kw)

    def close(self) -> None:
        self.client.close()


DIMS = ["factuality", "coherence", "safety", "instruction-following", "creativity"]


def rating(level: int = 4, justification: str = "Correct and clearly stated.", **extra) -> dict:
    return {**{f"dim:{d}": str(level) for d in DIMS}, "justification": justification, "started": "0", **extra}


@pytest.fixture(scope="module")
def server(backend_url):
    """`assay serve` with two workers over a seeded store (both workers must agree on every rule)."""
    with Store(backend_url) as s:
        ids = seed_basic(s)
    url, proc = start_server(backend_url, workers=2)
    yield Server(url=url, store_url=backend_url, proc=proc, ids=ids)
    stop_server(proc)


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium through Playwright (a skip here, a failure under CI=true, when missing)."""
    from tests.server.chromium import ARGS, CHROMIUM, sync_api

    with sync_api().sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()
