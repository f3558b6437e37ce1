"""Test models offline: a scripted local server that speaks the OpenAI chat completions API.

Use it to test judges, generation and anything else that calls a model, without a network:

    from assay.testing import ScriptedServer, Reply, Faults

    with ScriptedServer(models=["judge"], api_key="k") as srv:
        srv.enqueue("4", Reply.rate_limited(retry_after=0.1), Reply(text="5", top_logprobs=[{"5": -0.1, "4": -2.4}]))
        ...  # call srv.base_url (http://127.0.0.1:PORT/v1) with model "judge" and key "k"
        assert srv.chat_requests[0].last_user == "..."

In pytest, add ``pytest_plugins = ["assay.testing.pytest_plugin"]`` to your root
``conftest.py`` and take the ``model_server`` fixture (a started ScriptedServer).
From a shell: ``python -m assay.testing --latency 0.05`` serves until killed.
``assay.testing.redteam.PlantedRedTeam`` is a handler that answers as a target with a planted
weakness, an attacker and a judge, for validating red-team attacks.
"""

from assay.testing._server import Faults, Reply, ScriptedServer, ServedRequest, ServerConfig, ServerOptions

__all__ = ["Faults", "Reply", "ScriptedServer", "ServedRequest", "ServerConfig", "ServerOptions"]
