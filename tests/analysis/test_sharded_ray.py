"""`assay abtest --executor ray`: per-dataset summaries made on Ray workers (a local Ray, 2 CPUs), merged
on the driver, give the one-pass report, on both stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from assay.analysis.abtest import ABSettings, compare_models
from assay.analysis.options import Options
from assay.analysis.sharded import Sharding, compare_models_sharded
from assay.cli import main
from tests.analysis.test_sharded_abtest import A, B, build_shards
from tests.conftest import IN_CI

try:
    import ray
except ImportError:
    if IN_CI:
        raise  # under CI=true the ray extra is installed (scripts/test): its absence is a failure
    pytest.skip("the Ray tests need the ray extra: pip install -e '.[ray]'", allow_module_level=True)

pytestmark = pytest.mark.xdist_group("ray")  # one xdist worker, so one Ray instance


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray with 2 CPUs (or the one this worker's session already started)."""
    if ray.is_initialized():
        yield
        return
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             object_store_memory=256 * 2**20)
    yield
    ray.shutdown()


@pytest.mark.parametrize("method", ["t", "bootstrap"])
def test_ray_shards_equal_the_one_pass_report(store, local_ray, method):
    build_shards(store, seed=5, datasets=4, n=20)
    options = Options(random_state=7)
    local = compare_models(store, A, B, options=options, method=method)
    on_ray = compare_models_sharded(store, A, B, options=options, test=ABSettings(method=method),
                                    sharding=Sharding(executor="ray"))
    assert on_ray.pop("shards") == {"by": "dataset", "executor": "ray", "count": 4}
    assert on_ray == local
    assert ray.is_initialized()  # a Ray the caller started is left running


def test_cli_executor_ray_prints_the_local_figures(store_url, local_ray, capsys, tmp_path):
    from assay.store import Store

    with Store(store_url) as s:
        build_shards(s, seed=6, datasets=3, n=12)
    reports = {}
    for executor in ("local", "ray", "partitioned"):
        assert main(["--db", store_url, "abtest", A, B, "--method", "permutation", "--seed", "4",
                     "--executor", executor, "--json"]) == 0
        reports[executor] = json.loads(capsys.readouterr().out)
    for executor in ("ray", "partitioned"):
        assert reports[executor].pop("shards")["executor"] == executor
        assert reports[executor] == reports["local"]
    assert reports["local"]["dimensions"][0]["n"] == 12 + 9 + 6
    assert main(["--db", store_url, "abtest", A, B, "--executor", "spark"]) == 2


def test_cli_starts_and_stops_its_own_ray(tmp_path):
    """Without a Ray in the process (a fresh CLI process, no RAY_ADDRESS): it starts one and shuts it down."""
    from assay.store import Store

    url = f"sqlite:///{tmp_path / 'own.db'}"
    with Store(url) as s:
        build_shards(s, seed=8, datasets=2, n=8)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    outs = {}
    for executor in ("local", "ray"):
        done = subprocess.run([sys.executable, "-m", "assay", "--db", url, "abtest", A, B, "--method", "bootstrap",
                               "--executor", executor, "--workers", "1", "--json"],
                              capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        outs[executor] = json.loads(done.stdout)
    assert outs["ray"].pop("shards") == {"by": "dataset", "executor": "ray", "count": 2}
    assert outs["ray"] == outs["local"]
