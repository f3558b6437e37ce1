"""``python -m assay.testing``: serve the scripted model server until killed; prints its base URL."""

from __future__ import annotations

import argparse
import asyncio
import sys

from assay.testing._server import Faults, ScriptedServer, _loop_factory


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m assay.testing", description=__doc__)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    p.add_argument("--model", action="append", dest="models", help="served model (repeat); default: any")
    p.add_argument("--api-key", default=None)
    p.add_argument("--rate-429", type=float, default=0.0)
    p.add_argument("--rate-500", type=float, default=0.0)
    p.add_argument("--rate-timeout", type=float, default=0.0)
    p.add_argument("--rate-malformed", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-record", action="store_true", help="keep no request log (long benchmarks)")
    a = p.parse_args(argv)
    faults = Faults(a.rate_429, a.rate_500, a.rate_timeout, a.rate_malformed, seed=a.seed)
    srv = ScriptedServer(models=a.models, api_key=a.api_key, latency=a.latency, faults=faults, record=not a.no_record, port=a.port)
    sock = srv._socket()  # bind first so the printed port is final
    sock.close()
    print(srv.base_url, flush=True)
    factory = _loop_factory()
    with asyncio.Runner(loop_factory=factory) as runner:
        try:
            runner.run(srv.serve())
        except KeyboardInterrupt:
            pass
    sys.exit(0)


if __name__ == "__main__":
    main()
